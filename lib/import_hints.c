/* Reading ahead in an image archive for its layers' DiffIDs (see
 * import_hints.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "cleanup.h"
#include "extract.h"
#include "fsutil.h"
#include "import_hints.h"
#include "json.h"

#define DOC_MAX (4u << 20)
#define MAX_DOCS 4096

struct doc {
	char *path;
	char *alias;         /* a link: the normalised path it names */
	struct json *j;
};

struct docs {
	struct doc *v;
	size_t n;
};

static void docs_free(struct docs *d)
{
	for (size_t k = 0; k < d->n; k++) {
		free(d->v[k].path);
		free(d->v[k].alias);
		json_free(d->v[k].j);
	}
	free(d->v);
}

/* PATH normalised, with links followed to the entry holding the data. */
static char *resolve(const struct docs *d, const char *path)
{
	char *p = NULL;
	if (normalize_entry_path(path, &p) < 0)
		return NULL;
	for (int hops = 0; hops < 8; hops++) {
		const struct doc *found = NULL;
		for (size_t k = d->n; k-- > 0 && !found;)
			if (!strcmp(d->v[k].path, p))
				found = &d->v[k];
		if (!found || !found->alias)
			return p;
		free(p);
		if (!(p = strdup(found->alias)))
			return NULL;
	}
	free(p);
	return NULL;
}

static const struct doc *doc_find(const struct docs *d, const char *path)
{
	_cleanup_free_ char *p = resolve(d, path);
	for (size_t k = d->n; p && k-- > 0;)
		if (!strcmp(d->v[k].path, p))
			return &d->v[k];
	return NULL;
}

static const struct json *doc_json(const struct docs *d, const char *path)
{
	const struct doc *x = doc_find(d, path);
	return x ? x->j : NULL;
}

/* The path a link entry names, or NULL when it is not a link. */
static char *link_target(struct archive_entry *ae, const char *path)
{
	const char *hl = archive_entry_hardlink(ae);
	const char *sl = archive_entry_filetype(ae) == AE_IFLNK ? archive_entry_symlink(ae) : NULL;
	char *target = NULL, *norm = NULL;
	if (hl) {
		target = strdup(hl);
	} else if (sl) {
		const char *slash = strrchr(path, '/');
		if (asprintf(&target, "%.*s%s%s", slash ? (int)(slash - path) : 0, path,
			     slash && sl[0] != '/' ? "/" : "", sl) < 0)
			target = NULL;
	}
	if (target && path_normalize(target, true, &norm) < 0)
		norm = NULL;
	free(target);
	return norm;
}

static int read_doc(struct archive *a, struct archive_entry *ae, struct json **out)
{
	la_int64_t size = archive_entry_size(ae);
	if (size <= 1 || size > DOC_MAX)
		return 0;
	_cleanup_free_ char *buf = malloc((size_t)size);
	if (!buf)
		return -ENOMEM;
	la_ssize_t n = archive_read_data(a, buf, (size_t)size);
	if (n != size)
		return -EIO;
	size_t ws = strspn(buf, " \t\r\n");
	if (ws >= (size_t)n || (buf[ws] != '{' && buf[ws] != '['))
		return 0;
	json_parse(buf, (size_t)n, out, NULL, 0);
	return 0;
}

static int scan_docs(struct archive *a, struct docs *d)
{
	for (;;) {
		struct archive_entry *ae;
		int h = archive_read_next_header(a, &ae);
		if (h == ARCHIVE_EOF)
			return 0;
		if (h < ARCHIVE_WARN || d->n >= MAX_DOCS)
			return -EIO;
		_cleanup_free_ char *path = NULL;
		if (normalize_entry_path(archive_entry_pathname(ae), &path) < 0)
			return -EINVAL;
		char *alias = link_target(ae, path);
		struct json *j = NULL;
		if (!alias && archive_entry_filetype(ae) == AE_IFREG && read_doc(a, ae, &j) < 0)
			return -EIO;
		if (!alias && !j)
			continue;
		struct doc *v = realloc(d->v, (d->n + 1) * sizeof(*v));
		if (!v) {
			free(alias);
			json_free(j);
			return -ENOMEM;
		}
		d->v = v;
		v[d->n++] = (struct doc){ TAKE_PTR(path), alias, j };
	}
}

static int add_hint(struct layer_hints *h, const struct docs *d, const char *path, const char *diff)
{
	if (!digest_valid(diff))
		return 0;
	/* A link names the file whose data the import reads. */
	_cleanup_free_ char *p = resolve(d, path);
	if (!p)
		return 0;
	struct layer_hint *v = realloc(h->v, (h->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	v[h->n].path = TAKE_PTR(p);
	snprintf(v[h->n].diff_id, sizeof(v[h->n].diff_id), "%s", diff);
	h->n++;
	return 0;
}

static const char *diff_at(const struct json *cfg, size_t k)
{
	const struct json *ids = json_get_array(json_get_object(cfg, "rootfs"), "diff_ids");
	return ids && k < ids->n && ids->items[k]->type == JSON_STRING ? ids->items[k]->s : NULL;
}

static int docker_hints(const struct docs *d, const struct json *m, struct layer_hints *h)
{
	for (size_t k = 0; k < m->n; k++) {
		const char *cfgpath = json_get_str(m->items[k], "Config");
		const struct json *layers = json_get_array(m->items[k], "Layers");
		const struct json *cfg = cfgpath ? doc_json(d, cfgpath) : NULL;
		for (size_t j = 0; cfg && layers && j < layers->n; j++) {
			const char *diff = diff_at(cfg, j);
			int r = layers->items[j]->type == JSON_STRING && diff
				? add_hint(h, d, layers->items[j]->s, diff) : 0;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static const struct json *blob(const struct docs *d, const char *digest)
{
	char path[DIGEST_STR_LEN + 16];
	if (!digest_valid(digest))
		return NULL;
	snprintf(path, sizeof(path), "blobs/sha256/%s", digest_hex(digest));
	return doc_json(d, path);
}

static int oci_hints(const struct docs *d, const struct json *index, struct layer_hints *h, int depth)
{
	const struct json *ms = json_get_array(index, "manifests");
	for (size_t k = 0; ms && k < ms->n; k++) {
		const struct json *m = blob(d, json_get_str(ms->items[k], "digest"));
		if (!m)
			continue;
		if (json_get_array(m, "manifests") && depth < 2) {
			int r = oci_hints(d, m, h, depth + 1);
			if (r < 0)
				return r;
			continue;
		}
		const struct json *cfg = blob(d, json_get_str(json_get_object(m, "config"), "digest"));
		const struct json *layers = json_get_array(m, "layers");
		for (size_t j = 0; cfg && layers && j < layers->n; j++) {
			const char *ld = json_get_str(layers->items[j], "digest");
			const char *diff = diff_at(cfg, j);
			if (!digest_valid(ld) || !diff)
				continue;
			char path[DIGEST_STR_LEN + 16];
			snprintf(path, sizeof(path), "blobs/sha256/%s", digest_hex(ld));
			int r = add_hint(h, d, path, diff);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int hints_scan(int fd, struct layer_hints *out)
{
	memset(out, 0, sizeof(*out));
	struct stat st;
	off_t pos = lseek(fd, 0, SEEK_CUR);
	if (pos < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || lseek(fd, 0, SEEK_SET) < 0)
		return 0;   /* not seekable: no read-ahead */
	struct archive *a = archive_read_new();
	if (!a)
		return -ENOMEM;
	/* Plain tar only: a compressed archive cannot skip layer data. */
	archive_read_support_format_tar(a);
	struct docs d = { 0 };
	int r = archive_read_open_fd(a, fd, 64 << 10) == ARCHIVE_OK ? scan_docs(a, &d) : -EIO;
	archive_read_free(a);
	if (r == 0) {
		const struct json *m = doc_json(&d, "manifest.json");
		const struct json *idx = doc_json(&d, "index.json");
		if (m && m->type == JSON_ARRAY)
			r = docker_hints(&d, m, out);
		else if (idx)
			r = oci_hints(&d, idx, out, 0);
	}
	docs_free(&d);
	if (r == -ENOMEM) {
		hints_free(out);
		lseek(fd, pos, SEEK_SET);
		return r;
	}
	return lseek(fd, pos, SEEK_SET) < 0 ? -errno : 0;
}

void hints_free(struct layer_hints *h)
{
	for (size_t k = 0; k < h->n; k++)
		free(h->v[k].path);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

const char *hints_lookup(const struct layer_hints *h, const char *path)
{
	for (size_t k = 0; k < h->n; k++)
		if (!strcmp(h->v[k].path, path))
			return h->v[k].diff_id;
	return NULL;
}
