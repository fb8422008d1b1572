/* The dedupe index, STORE/dedupe/index: what earlier runs learnt about
 * every candidate file, so a run reads only the layers added since.
 *
 *   layerfs-dedupe-index 1
 *   L <layer hex> <h|r> <tree ino> <layer.json ino> <layer.json mtime ns>
 *   F <size> <mtime ns> <ino> <disk bytes> <flags> <partial|-> <full|-> <path>
 *
 * F lines belong to the L line above them.  A path escapes '\' and newline
 * as "\\" and "\n".  A layer whose tree or record is not the one indexed
 * (removed and imported again) is read afresh.  Written to tmp/ and renamed
 * into place, so a killed run leaves the previous index. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "dedupe_int.h"
#include "fsutil.h"
#include "strbuf.h"

#define INDEX_MAGIC "layerfs-dedupe-index 1"
#define INDEX_MAX (1ull << 32)

int dd_dir(struct store *s, bool create)
{
	if (create && mkdirat(s->rootfd, "dedupe", 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(s->rootfd, "dedupe", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int dd_add_file(struct dd_ctx *c, const struct dd_file *f)
{
	if (c->nfiles == c->capfiles) {
		size_t cap = c->capfiles ? c->capfiles * 2 : 4096;
		struct dd_file *v = realloc(c->files, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->files = v;
		c->capfiles = cap;
	}
	c->files[c->nfiles++] = *f;
	return 0;
}

static char *unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t k = 0; k < len; k++) {
		if (s[k] == '\\' && k + 1 < len) {
			k++;
			*o++ = s[k] == 'n' ? '\n' : s[k];
		} else {
			*o++ = s[k];
		}
	}
	*o = '\0';
	return out;
}

static struct dd_layer *find_layer(struct dd_ctx *c, const char *hex)
{
	size_t lo = 0, hi = c->nlayers;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(c->layers[mid].hex, hex);
		if (!cmp)
			return &c->layers[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int parse_hash128(const char *s, XXH128_hash_t *h)
{
	char hi[17], lo[17];
	if (strlen(s) != 32)
		return -EINVAL;
	memcpy(hi, s, 16); hi[16] = '\0';
	memcpy(lo, s + 16, 16); lo[16] = '\0';
	h->high64 = strtoull(hi, NULL, 16);
	h->low64 = strtoull(lo, NULL, 16);
	return 0;
}

/* One F line into the current layer. */
static int parse_file(struct dd_ctx *c, uint32_t layer, char *line)
{
	struct dd_file f = { .layer = layer };
	char partial[40], full[40];
	unsigned flags;
	int off = 0;
	if (sscanf(line, "F %" SCNu64 " %" SCNd64 " %" SCNu64 " %" SCNu64 " %u %39s %39s %n",
		   &f.size, &f.mtime_ns, &f.ino, &f.blocks, &flags, partial, full, &off) != 7 || !off)
		return -EINVAL;
	f.flags = flags & (DDF_LINKABLE | DDF_PARTIAL | DDF_FULL);
	if ((f.flags & DDF_PARTIAL) && strcmp(partial, "-"))
		f.partial = strtoull(partial, NULL, 16);
	else
		f.flags &= ~(unsigned)DDF_PARTIAL;
	if (!(f.flags & DDF_FULL) || !strcmp(full, "-") || parse_hash128(full, &f.full) < 0)
		f.flags &= ~(unsigned)DDF_FULL;
	if (c->layers[layer].fresh)
		f.flags |= DDF_FRESH;
	f.path = unescape(line + off, strlen(line + off));
	if (!f.path)
		return -ENOMEM;
	int r = dd_add_file(c, &f);
	if (r < 0)
		free(f.path);
	return r;
}

int dd_index_load(struct dd_ctx *c)
{
	_cleanup_close_ int dir = dd_dir(c->s, false);
	if (dir == -ENOENT)
		return 0;
	if (dir < 0)
		return dir;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = read_file_at(dir, "index", INDEX_MAX, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	char *save = NULL, *line = strtok_r(data, "\n", &save);
	if (!line || strcmp(line, INDEX_MAGIC))
		return 0;            /* unknown format: read everything afresh */
	struct dd_layer *cur = NULL;
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (line[0] == 'L') {
			char hex[80], mode;
			uint64_t tino, rino;
			int64_t rmt;
			cur = NULL;
			if (sscanf(line, "L %79s %c %" SCNu64 " %" SCNu64 " %" SCNd64,
				   hex, &mode, &tino, &rino, &rmt) != 5)
				continue;
			struct dd_layer *l = find_layer(c, hex);
			if (!l || l->indexed || l->tree_ino != tino || l->rec_ino != rino ||
			    l->rec_mtime_ns != rmt)
				continue;
			l->indexed = true;
			l->mode = mode;
			l->fresh = c->o->mode == DEDUPE_REFLINK && mode != 'r';
			cur = l;
		} else if (line[0] == 'F' && cur) {
			r = parse_file(c, (uint32_t)(cur - c->layers), line);
			if (r == -ENOMEM)
				return r;
		}
	}
	return 0;
}

int dd_put_path(struct strbuf *sb, const char *p)
{
	for (;;) {
		size_t run = strcspn(p, "\n\\");
		int r = sb_append(sb, p, run);
		if (r < 0 || !p[run])
			return r < 0 ? r : sb_putc(sb, '\n');
		p += run;
		r = sb_puts(sb, *p == '\n' ? "\\n" : "\\\\");
		if (r < 0)
			return r;
		p++;
	}
}

/* The index has a line per file of every layer: formatted by hand, for
 * printf took most of the time of writing it. */
static char *put_dec(char *o, uint64_t v)
{
	char t[20];
	size_t n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		*o++ = t[--n];
	*o++ = ' ';
	return o;
}

static char *put_sdec(char *o, int64_t v)
{
	if (v < 0)
		*o++ = '-';
	return put_dec(o, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

static char *put_hex(char *o, uint64_t v)
{
	for (int sh = 60; sh >= 0; sh -= 4)
		*o++ = "0123456789abcdef"[v >> sh & 15];
	return o;
}

/* "F SIZE MTIME INO BLOCKS FLAGS PARTIAL FULL " (the path follows). */
static int put_file_fields(struct strbuf *sb, const struct dd_file *f)
{
	char line[160], *o = line;
	*o++ = 'F';
	*o++ = ' ';
	o = put_dec(o, f->size);
	o = put_sdec(o, f->mtime_ns);
	o = put_dec(o, f->ino);
	o = put_dec(o, f->blocks);
	o = put_dec(o, f->flags & (DDF_LINKABLE | DDF_PARTIAL | DDF_FULL));
	if (f->flags & DDF_PARTIAL)
		o = put_hex(o, f->partial);
	else
		*o++ = '-';
	*o++ = ' ';
	if (f->flags & DDF_FULL) {
		o = put_hex(o, (uint64_t)f->full.high64);
		o = put_hex(o, (uint64_t)f->full.low64);
	} else {
		*o++ = '-';
	}
	*o++ = ' ';
	return sb_append(sb, line, (size_t)(o - line));
}

int dd_index_save(struct dd_ctx *c)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = sb_puts(&sb, INDEX_MAGIC "\n");
	char runmode = c->o->mode == DEDUPE_REFLINK ? 'r' : 'h';
	/* Files are grouped by layer in the order they were added; sort keys
	 * changed that, so emit layer by layer. */
	size_t *first = calloc(c->nlayers + 1, sizeof(size_t)), *next = malloc((c->nfiles + 1) * sizeof(size_t));
	if (!first || !next) {
		free(first);
		free(next);
		return -ENOMEM;
	}
	for (size_t k = 0; k <= c->nlayers; k++)
		first[k] = SIZE_MAX;
	for (size_t k = c->nfiles; k-- > 0;) {
		next[k] = first[c->files[k].layer];
		first[c->files[k].layer] = k;
	}
	for (size_t l = 0; r == 0 && l < c->nlayers; l++) {
		const struct dd_layer *ly = &c->layers[l];
		char mode = ly->fresh ? runmode : (ly->mode == 'r' || runmode == 'r') ? 'r' : 'h';
		r = sb_printf(&sb, "L %s %c %" PRIu64 " %" PRIu64 " %" PRId64 "\n", ly->hex, mode,
			      ly->tree_ino, ly->rec_ino, ly->rec_mtime_ns);
		for (size_t k = first[l]; r == 0 && k != SIZE_MAX; k = next[k]) {
			const struct dd_file *f = &c->files[k];
			r = put_file_fields(&sb, f);
			if (r == 0)
				r = dd_put_path(&sb, f->path);
		}
	}
	free(first);
	free(next);
	if (r < 0)
		return r;
	_cleanup_close_ int dir = dd_dir(c->s, true);
	if (dir < 0)
		return dir;
	return write_file_atomic(dir, "index", c->s->tmpfd, sb.s, sb.len);
}
