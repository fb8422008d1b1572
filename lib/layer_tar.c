/* Layer tar generation (see layer_tar.h). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "cleanup.h"
#include "layer_tar.h"
#include "pgzip.h"
#include "stream_pipe.h"
#include "strbuf.h"
#include "whiteout.h"

#define CHUNK (256u << 10)

struct tar_gen {
	const struct change_set *cs;
	struct tar_opts o;
	struct archive *a;
	size_t next;             /* next change to write */
	bool opaque_pending;     /* the marker of the directory just written */
	int fd;                  /* the file whose data is being written */
	int64_t left;            /* its bytes still to write */
	const char *fdpath;
	bool closed, ended;
	struct pgzip *gz;
	ZSTD_CCtx *zs;
	struct strbuf out;       /* compressed bytes not handed out yet */
	bool handed;             /* OUT was handed out: empty it first */
	char *buf;
	const char *fp;          /* tar_gen_start: bytes not copied out yet */
	size_t flen;
	bool fend;
	int err;
	struct errmsg *e;
};

int tar_compress_parse(const char *s, enum tar_compress *out)
{
	if (!strcmp(s, "gzip"))
		*out = TAR_GZIP;
	else if (!strcmp(s, "zstd"))
		*out = TAR_ZSTD;
	else if (!strcmp(s, "none"))
		*out = TAR_NONE;
	else
		return -EINVAL;
	return 0;
}

/* Compress LEN bytes (END: and finish the stream) into G->out. */
static int tg_compress(struct tar_gen *g, const void *data, size_t len, bool end)
{
	if (g->o.compress == TAR_NONE)
		return len ? sb_append(&g->out, data, len) : 0;
	if (g->o.compress == TAR_ZSTD) {
		ZSTD_inBuffer in = { data, len, 0 };
		for (;;) {
			if (sb_grow(&g->out, ZSTD_CStreamOutSize()) < 0)
				return -ENOMEM;
			ZSTD_outBuffer ob = { g->out.s + g->out.len, g->out.cap - g->out.len - 1, 0 };
			size_t rem = ZSTD_compressStream2(g->zs, &ob, &in, end ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(rem))
				return -EIO;
			g->out.len += ob.pos;
			g->out.s[g->out.len] = 0;
			if (end ? rem == 0 : in.pos == in.size)
				return 0;
		}
	}
	int r = end ? pgzip_finish(g->gz, &g->out) : pgzip_write(g->gz, data, len, &g->out);
	return r;
}

static la_ssize_t write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct tar_gen *g = ctx;
	int r = tg_compress(g, buf, len, false);
	if (r < 0) {
		g->err = r;
		archive_set_error(a, -r, "cannot compress the layer");
		return -1;
	}
	return (la_ssize_t)len;
}

int tar_gen_new(const struct change_set *cs, const struct tar_opts *o, struct tar_gen **out,
		struct errmsg *e)
{
	struct tar_gen *g = calloc(1, sizeof(*g));
	if (!g || !(g->buf = malloc(CHUNK))) {
		free(g);
		return -ENOMEM;
	}
	g->cs = cs;
	g->o = *o;
	g->fd = -1;
	*out = g;
	if (o->compress == TAR_GZIP) {
		/* Level 6 (gzip's default) on every processor, the same bytes
		 * whatever their number. */
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned threads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned)ncpu;
		if (pgzip_new(6, threads, &g->gz) < 0)
			return err_set(e, -ENOMEM, "cannot start gzip");
	} else if (o->compress == TAR_ZSTD) {
		if (!(g->zs = ZSTD_createCCtx()))
			return err_set(e, -ENOMEM, "cannot start zstd");
		ZSTD_CCtx_setParameter(g->zs, ZSTD_c_compressionLevel, 3);
		ZSTD_CCtx_setParameter(g->zs, ZSTD_c_checksumFlag, 1);
	}
	if (!(g->a = archive_write_new()))
		return -ENOMEM;
	if (archive_write_set_format_pax_restricted(g->a) != ARCHIVE_OK ||
	    archive_write_set_format_option(g->a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
	    archive_write_open(g->a, g, NULL, write_cb, NULL) != ARCHIVE_OK)
		return err_set(e, -EIO, "cannot start the layer tar: %s", archive_error_string(g->a));
	return 0;
}

void tar_gen_free(struct tar_gen *g)
{
	if (!g)
		return;
	if (g->a)
		archive_write_free(g->a);
	if (g->fd >= 0)
		close(g->fd);
	pgzip_free(g->gz);
	ZSTD_freeCCtx(g->zs);
	sb_release(&g->out);
	free(g->buf);
	free(g);
}

static time_t clamp(const struct tar_gen *g, time_t t)
{
	return g->o.clamp && t > g->o.timestamp ? (time_t)g->o.timestamp : t;
}

static int put_header(struct tar_gen *g, struct archive_entry *ae, const char *what)
{
	if (archive_write_header(g->a, ae) == ARCHIVE_OK)
		return 0;
	if (g->err)
		return err_sys(g->e, g->err, "cannot write the layer");
	return err_set(g->e, -EIO, "cannot write '%s' to the layer: %s", what,
		       archive_error_string(g->a));
}

/* A marker file: ".wh.NAME" of a deletion, ".wh..wh..opq" of a directory. */
static int put_marker(struct tar_gen *g, const char *dir, const char *name, const char *prefix)
{
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s%s%s%s", dir, *dir ? "/" : "", prefix, name) < 0)
		return -ENOMEM;
	struct archive_entry *ae = archive_entry_new();
	if (!ae)
		return -ENOMEM;
	archive_entry_set_pathname(ae, p);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, 0);
	archive_entry_set_mtime(ae, 0, 0);
	int r = put_header(g, ae, p);
	archive_entry_free(ae);
	return r;
}

static int put_deletion(struct tar_gen *g, const struct change *c)
{
	_cleanup_free_ char *dir = strdup(c->path);
	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	if (slash)
		*slash = 0;
	return put_marker(g, slash ? dir : "", base, WH_PREFIX);
}

static int put_entry(struct tar_gen *g, const struct change *c)
{
	const struct stat *st = &c->st;
	if (S_ISSOCK(st->st_mode))
		return 0;
	struct archive_entry *ae = archive_entry_new();
	if (!ae)
		return -ENOMEM;
	archive_entry_set_pathname(ae, c->path);
	archive_entry_set_mode(ae, st->st_mode);
	archive_entry_set_uid(ae, st->st_uid);
	archive_entry_set_gid(ae, st->st_gid);
	time_t mt = clamp(g, st->st_mtim.tv_sec);
	archive_entry_set_mtime(ae, mt, mt == st->st_mtim.tv_sec ? st->st_mtim.tv_nsec : 0);
	for (size_t k = 0; k < c->nxattrs; k++)
		archive_entry_xattr_add_entry(ae, c->xattrs[k].name, c->xattrs[k].value,
					      c->xattrs[k].len);
	int r = 0;
	if (c->hardlink) {
		archive_entry_set_hardlink(ae, c->hardlink);
		archive_entry_set_size(ae, 0);
	} else if (S_ISLNK(st->st_mode)) {
		archive_entry_set_symlink(ae, c->link ? c->link : "");
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		archive_entry_set_rdev(ae, st->st_rdev);
	} else if (S_ISREG(st->st_mode)) {
		archive_entry_set_size(ae, st->st_size);
		g->fd = open(c->src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (g->fd < 0)
			r = err_sys(g->e, -errno, "cannot read '%s'", c->src);
		g->left = st->st_size;
		g->fdpath = c->src;
	}
	if (r == 0)
		r = put_header(g, ae, c->path);
	archive_entry_free(ae);
	if (r == 0 && S_ISDIR(st->st_mode) && c->opaque && c->kind != CHG_ADD)
		g->opaque_pending = true;
	return r;
}

/* Write the next piece of data of the current file: the file may shrink
 * while a running container is read, then zeros fill the size written. */
static int put_data(struct tar_gen *g)
{
	size_t want = g->left < (int64_t)CHUNK ? (size_t)g->left : CHUNK;
	ssize_t n = read(g->fd, g->buf, want);
	if (n < 0)
		return err_sys(g->e, -errno, "cannot read '%s'", g->fdpath);
	if (n == 0) {
		memset(g->buf, 0, want);
		n = (ssize_t)want;
	}
	if (archive_write_data(g->a, g->buf, (size_t)n) != n)
		return g->err ? err_sys(g->e, g->err, "cannot write the layer")
			      : err_set(g->e, -EIO, "cannot write the layer: %s", archive_error_string(g->a));
	g->left -= n;
	if (g->left == 0) {
		close(g->fd);
		g->fd = -1;
	}
	return 0;
}

static int step(struct tar_gen *g)
{
	if (g->fd >= 0)
		return put_data(g);
	if (g->opaque_pending) {
		g->opaque_pending = false;
		return put_marker(g, g->cs->v[g->next - 1].path, "", WH_OPAQUE_NAME);
	}
	if (g->next < g->cs->n) {
		const struct change *c = &g->cs->v[g->next++];
		if (c->kind == CHG_DELETE)
			return c->covered ? 0 : put_deletion(g, c);
		return put_entry(g, c);
	}
	if (!g->closed) {
		g->closed = true;
		if (archive_write_close(g->a) != ARCHIVE_OK)
			return g->err ? err_sys(g->e, g->err, "cannot write the layer")
				      : err_set(g->e, -EIO, "cannot end the layer: %s",
						archive_error_string(g->a));
		int r = tg_compress(g, NULL, 0, true);
		return r < 0 ? err_sys(g->e, r, "cannot compress the layer") : 0;
	}
	g->ended = true;
	return 0;
}

int tar_gen_next(void *gen, const void **buf, size_t *len, struct errmsg *e)
{
	struct tar_gen *g = gen;
	g->e = e;
	if (g->handed) {
		g->out.len = 0;
		g->handed = false;
	}
	while (g->out.len < CHUNK && !g->ended) {
		int r = step(g);
		if (r < 0)
			return r;
	}
	*buf = g->out.s;
	*len = g->out.len;
	g->handed = true;
	return 0;
}

/* Copy the generator's bytes into the pipe's slots. */
static ssize_t produce(void *ctx, char *buf, size_t cap, struct errmsg *e)
{
	struct tar_gen *g = ctx;
	size_t n = 0;
	while (n < cap) {
		if (!g->flen) {
			const void *p;
			if (g->fend)
				break;
			int r = tar_gen_next(g, &p, &g->flen, e);
			if (r < 0)
				return r;
			g->fp = p;
			if (!g->flen) {
				g->fend = true;
				break;
			}
		}
		size_t k = cap - n < g->flen ? cap - n : g->flen;
		memcpy(buf + n, g->fp, k);
		g->fp += k;
		g->flen -= k;
		n += k;
	}
	return (ssize_t)n;
}

int tar_gen_start(struct tar_gen *g, struct stream_pipe **out)
{
	return spipe_start(produce, g, out);
}

int tar_pipe_next(void *pipe, const void **buf, size_t *len, struct errmsg *e)
{
	return spipe_next(pipe, buf, len, e);
}
