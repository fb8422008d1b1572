/* Image and layer import: input sniffing, docker and OCI archives and
 * layouts, digest checks, and the atomic commit (see import.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "cleanup.h"
#include "extract.h"
#include "fsutil.h"
#include "image_commit.h"
#include "import.h"
#include "image_plan.h"
#include "images.h"
#include "import_hints.h"

#define PROBE_MAX (1u << 20)

/* One file of an image archive, kept until manifest.json or index.json
 * (usually last) says what it is. */
struct item {
	char *path;
	char *alias;                 /* symlink or hardlink: archive path */
	char *json;                  /* small documents, kept whole */
	size_t json_len;
	char digest[DIGEST_STR_LEN + 1];
	bool is_layer;
	struct layer_result layer;
};

struct import_ctx {
	struct store *s;
	const struct import_opts *o;
	struct errmsg *e;
	int tmpfd;
	char *tmpname;
	unsigned seq;
	struct item *items;
	size_t n, cap;
	int dirfd;                   /* OCI layout directory input, else -1 */
	uint64_t done;               /* bytes read by finished layers (dir input) */
	struct image_plan *plans;
	size_t nplans;
	const char *kind;
	struct image_layer *known;   /* the stored images' layers: blob -> DiffID */
	size_t nknown;
	struct layer_hints hints;    /* the archive's own word on its layers */
};

static void ctx_free(struct import_ctx *c)
{
	for (size_t k = 0; k < c->n; k++) {
		free(c->items[k].path);
		free(c->items[k].alias);
		free(c->items[k].json);
	}
	free(c->items);
	for (size_t k = 0; k < c->nplans; k++)
		plan_free(&c->plans[k]);
	free(c->plans);
	if (c->tmpfd >= 0) {
		rm_rf_at(c->s->tmpfd, c->tmpname, NULL);
		close(c->tmpfd);
	}
	free(c->tmpname);
	free(c->known);
	hints_free(&c->hints);
	if (c->dirfd >= 0)
		close(c->dirfd);
}

static struct item *add_item(struct import_ctx *c, const char *path)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct item *it = realloc(c->items, cap * sizeof(*it));
		if (!it)
			return NULL;
		c->items = it;
		c->cap = cap;
	}
	struct item *it = &c->items[c->n];
	memset(it, 0, sizeof(*it));
	it->path = strdup(path);
	if (!it->path)
		return NULL;
	c->n++;
	return it;
}

static struct item *find_item(struct import_ctx *c, const char *path)
{
	_cleanup_free_ char *cur = NULL;
	if (normalize_entry_path(path, &cur) < 0)
		return NULL;
	for (int hops = 0; hops < 16; hops++) {
		struct item *found = NULL;
		/* The last entry of a name wins, as on extraction. */
		for (size_t k = c->n; k-- > 0;)
			if (!strcmp(c->items[k].path, cur)) {
				found = &c->items[k];
				break;
			}
		if (!found || !found->alias)
			return found;
		free(cur);
		cur = strdup(found->alias);
		if (!cur)
			return NULL;
	}
	return NULL;
}

/* Is NAME what an image archive (docker-save or oci-archive) starts with? */
static bool image_archive_name(const char *name)
{
	static const char *fixed[] = { "oci-layout", "index.json", "manifest.json",
				       "repositories", "blobs", "blobs/sha256", "blobs/sha256/" };
	while (!strncmp(name, "./", 2))
		name += 2;
	for (size_t k = 0; k < ARRAY_SIZE(fixed); k++)
		if (!strcmp(name, fixed[k]))
			return true;
	if (!strncmp(name, "blobs/", 6))
		return true;
	size_t hex = strspn(name, "0123456789abcdef");
	return hex == 64 && (!name[64] || name[64] == '/' || !strcmp(name + 64, ".json") ||
			     !strcmp(name + 64, ".tar"));
}

/* The first entry name of the (possibly compressed) tar in BUF, if any. */
static bool probe_image_archive(const void *buf, size_t len)
{
	struct archive *a = archive_read_new();
	if (!a)
		return false;
	archive_support_filters(a, true);
	archive_read_support_format_tar(a);
	bool img = false;
	struct archive_entry *ae;
	if (archive_read_open_memory(a, buf, len) == ARCHIVE_OK &&
	    archive_read_next_header(a, &ae) == ARCHIVE_OK && archive_entry_pathname(ae))
		img = image_archive_name(archive_entry_pathname(ae));
	archive_read_free(a);
	return img;
}

/* Entry data of the outer archive as a byte source.  Its first 512 bytes
 * are gathered first (blocks can be short at the outer read's chunk
 * boundaries) to tell a layer from a document. */
struct entry_source {
	struct archive *a;
	char peek[512];
	size_t peek_len;
	const void *pend;          /* rest of the block that filled peek */
	size_t pend_len;
	bool eof;
	const char *label;
};

static int entry_block(struct entry_source *es, const void **buf, size_t *len, struct errmsg *e)
{
	la_int64_t off;
	int h = archive_read_data_block(es->a, buf, len, &off);
	if (h == ARCHIVE_EOF) {
		es->eof = true;
		*len = 0;
		return 0;
	}
	if (h < ARCHIVE_WARN)
		return err_set(e, -EIO, "cannot read '%s' in the archive: %s", es->label,
			       archive_error_string(es->a));
	return 0;
}

static int entry_fill_peek(struct entry_source *es, struct errmsg *e)
{
	while (es->peek_len < sizeof(es->peek) && !es->eof) {
		const void *buf;
		size_t len;
		int r = entry_block(es, &buf, &len, e);
		if (r < 0)
			return r;
		size_t take = sizeof(es->peek) - es->peek_len;
		if (take > len)
			take = len;
		if (take)
			memcpy(es->peek + es->peek_len, buf, take);
		es->peek_len += take;
		if (take < len) {
			es->pend = (const char *)buf + take;
			es->pend_len = len - take;
		}
	}
	return 0;
}

static int entry_next(void *ctx, const void **buf, size_t *len, struct errmsg *e)
{
	struct entry_source *es = ctx;
	if (es->peek_len) {
		*buf = es->peek;
		*len = es->peek_len;
		es->peek_len = 0;
		return 0;
	}
	if (es->pend_len) {
		*buf = es->pend;
		*len = es->pend_len;
		es->pend_len = 0;
		return 0;
	}
	if (es->eof) {
		*len = 0;
		return 0;
	}
	return entry_block(es, buf, len, e);
}

/* Keep a small document of the archive in memory. */
static int read_json_item(struct import_ctx *c, struct entry_source *es, struct item *it)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	for (;;) {
		const void *buf;
		size_t len = 0;
		int r = entry_next(es, &buf, &len, c->e);
		if (r < 0)
			return r;
		if (!len)
			break;
		if (sb.len + len > STORE_JSON_MAX)
			return err_set(c->e, -EFBIG, "'%s' in the archive is too large", it->path);
		if ((r = sb_append(&sb, buf, len)) < 0)
			return r;
	}
	int r = digest_buffer(sb.s ? sb.s : "", sb.len, it->digest);
	it->json_len = sb.len;
	it->json = sb_detach(&sb);
	return r < 0 ? r : it->json ? 0 : -ENOMEM;
}

/* ---- layers the store already has: hashed, not extracted again ---- */

/* The digest an archive or layout path names: blobs/sha256/<hex>,
 * <hex>.tar (skopeo), <hex>/layer.tar (named by DiffID, as layerctl
 * export writes it; docker save's v1 ids never match a stored DiffID).
 * *IS_BLOB: the name is the blob's own digest, checked later; a directory
 * name promises nothing about the file's bytes. */
static bool path_digest(const char *path, char out[DIGEST_STR_LEN + 1], bool *is_blob)
{
	const char *base = strrchr(path, '/');
	const char *hex = base ? base + 1 : path;
	*is_blob = !base || strcmp(base, "/layer.tar");
	if (base && !strcmp(base, "/layer.tar")) {
		hex = base - 64 >= path ? base - 64 : NULL;
		if (!hex || (hex != path && hex[-1] != '/'))
			return false;
	}
	if (strspn(hex, "0123456789abcdef") != 64 ||
	    (hex[64] && hex[64] != '/' && strcmp(hex + 64, ".tar")))
		return false;
	snprintf(out, DIGEST_STR_LEN + 1, "sha256:%.64s", hex);
	return true;
}

/* Does PATH name a layer the store holds, by its DiffID or by a blob of
 * it?  Then *DIFF is the DiffID to expect and *HAVE_BLOB says whether the
 * blob itself is stored. */
static bool known_layer(struct import_ctx *c, const char *path, char diff[DIGEST_STR_LEN + 1],
			bool *have_blob)
{
	char d[DIGEST_STR_LEN + 1];
	bool is_blob;
	bool named = path_digest(path, d, &is_blob);
	*have_blob = named && is_blob && store_has_blob(c->s, d);
	const char *hint = hints_lookup(&c->hints, path);
	if (hint && store_has_layer(c->s, hint)) {
		strcpy(diff, hint);
		return true;
	}
	if (!named)
		return false;
	if (store_has_layer(c->s, d)) {
		strcpy(diff, d);
		return true;
	}
	for (size_t k = 0; k < c->nknown; k++)
		if (!strcmp(c->known[k].blob_digest, d) && store_has_layer(c->s, c->known[k].diff_id)) {
			strcpy(diff, c->known[k].diff_id);
			return true;
		}
	return false;
}

struct blob_source {
	int fd;
	char *buf;
};

static int blob_next(void *ctx, const void **buf, size_t *len, struct errmsg *e)
{
	struct blob_source *bs = ctx;
	ssize_t n = RETRY_EINTR(read(bs->fd, bs->buf, 1u << 20));
	if (n < 0)
		return err_sys(e, -errno, "cannot read temp blob");
	*buf = bs->buf;
	*len = (size_t)n;
	return 0;
}

/* Hash a layer expected to be the stored DIFF without extracting it.
 * Should it turn out to be another layer, extract it from the kept
 * blob after all. */
static int import_known_layer(struct import_ctx *c, struct byte_source *src, const char *path,
			      const char *diff, bool have_blob, struct layer_result *out)
{
	int r = layer_hash_only(src, c->tmpfd, path, c->seq++, !have_blob, out, c->e);
	if (r < 0)
		return r;
	/* Stored after all, if not as the hint said (the config's diff_ids
	 * are checked later); a blob not kept must be a stored one. */
	if ((!strcmp(out->diff_id, diff) || store_has_layer(c->s, out->diff_id)) &&
	    (out->blob[0] || store_has_blob(c->s, out->blob_digest)))
		return 0;
	if (!out->blob[0])
		return err_set(c->e, -EBADMSG, "layer blob '%s' has digest %s, not the one its name says",
			       path, out->blob_digest);
	_cleanup_close_ int fd = openat(c->tmpfd, out->blob, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = malloc(1u << 20);
	if (fd < 0)
		return err_sys(c->e, -errno, "cannot read temp blob of '%s'", path);
	if (!buf)
		return -ENOMEM;
	struct blob_source bs = { fd, buf };
	struct byte_source again = { blob_next, &bs };
	return layer_import(&again, c->tmpfd, path, c->seq++, out, c->e);
}

/* The stored images' layers, to recognise a blob by its digest. */
static void load_known(struct import_ctx *c)
{
	struct image_list l = { 0 };
	struct errmsg ignore = { { 0 } };
	if (images_load(c->s, &l, &ignore) < 0)
		return;
	size_t n = 0;
	for (size_t k = 0; k < l.n; k++)
		n += l.v[k].nlayers;
	c->known = n ? calloc(n, sizeof(*c->known)) : NULL;
	for (size_t k = 0; c->known && k < l.n; k++)
		for (size_t j = 0; j < l.v[k].nlayers; j++)
			c->known[c->nknown++] = l.v[k].layers[j];
	images_free(&l);
}

static int archive_entry_item(struct import_ctx *c, struct archive *a, struct archive_entry *ae)
{
	_cleanup_free_ char *path = NULL;
	const char *raw = archive_entry_pathname(ae);
	/* libarchive has no name for an entry whose header holds none. */
	if (!raw)
		return err_set(c->e, -EINVAL, "archive entry without a name");
	int r = normalize_entry_path(raw, &path);
	if (r < 0)
		return err_set(c->e, r == -EINVAL ? -EPERM : r,
			       "archive entry '%s' has '..' in its name", raw);
	const char *hl = archive_entry_hardlink(ae);
	mode_t type = archive_entry_filetype(ae);
	if (hl || type == AE_IFLNK) {
		struct item *it = add_item(c, path);
		if (!it)
			return -ENOMEM;
		_cleanup_free_ char *target = NULL;
		if (hl) {
			target = strdup(hl);
		} else {
			/* A symlink is relative to its own directory. */
			const char *slash = strrchr(path, '/');
			const char *t = archive_entry_symlink(ae);
			if (!t)
				return err_set(c->e, -EINVAL, "symlink '%s' has no target", path);
			if (asprintf(&target, "%.*s%s%s", slash ? (int)(slash - path) : 0, path,
				     slash && t[0] != '/' ? "/" : "", t) < 0)
				target = NULL;
		}
		if (!target || path_normalize(target, true, &it->alias) < 0)
			return err_set(c->e, -EPERM, "link '%s' in the archive points outside it", path);
		return 0;
	}
	if (type != AE_IFREG)
		return 0;
	struct item *it = add_item(c, path);
	if (!it)
		return -ENOMEM;
	struct entry_source es = { .a = a, .label = it->path };
	r = entry_fill_peek(&es, c->e);
	if (r < 0)
		return r;
	const unsigned char *p = (const unsigned char *)es.peek;
	size_t size = es.peek_len, ws = 0;
	while (ws < size && (p[ws] == ' ' || p[ws] == '\n' || p[ws] == '\t' || p[ws] == '\r'))
		ws++;
	if (ws < size && (p[ws] == '{' || p[ws] == '['))
		return read_json_item(c, &es, it);
	if (size == 0 || (!sniff_compression(p, size) && !sniff_tar_header(p, size)))
		return 0;   /* VERSION files and the like */
	struct byte_source src = { entry_next, &es };
	char diff[DIGEST_STR_LEN + 1];
	bool have_blob;
	if (known_layer(c, path, diff, &have_blob))
		r = import_known_layer(c, &src, path, diff, have_blob, &it->layer);
	else
		r = layer_import(&src, c->tmpfd, path, c->seq++, &it->layer, c->e);
	if (r < 0)
		return r;
	it->is_layer = true;
	return 0;
}

/* ---- blob providers: what manifests name, from an archive or a directory */

static int archive_json(struct import_ctx *c, const char *path, const char *want,
			char **data, size_t *len, char *digest)
{
	struct item *it = find_item(c, path);
	if (!it || (!it->json && !it->is_layer))
		return err_set(c->e, -ENOENT, "missing blob '%s'%s%s", path,
			       want ? " for " : "", want ? want : "");
	if (!it->json)
		return err_set(c->e, -EINVAL, "blob '%s' is not a json document", path);
	if (want && strcmp(it->digest, want))
		return err_set(c->e, -EBADMSG, "blob '%s' has digest %s, expected %s",
			       path, it->digest, want);
	*data = malloc(it->json_len + 1);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, it->json, it->json_len + 1);
	*len = it->json_len;
	strcpy(digest, it->digest);
	return 0;
}

static int archive_layer(struct import_ctx *c, const char *path, const char *want,
			 const char *want_diff, struct layer_result *out)
{
	(void)want_diff;
	struct item *it = find_item(c, path);
	if (!it)
		return err_set(c->e, -ENOENT, "missing layer blob '%s'%s%s", path,
			       want ? " for " : "", want ? want : "");
	if (!it->is_layer)
		return err_set(c->e, -EINVAL, "blob '%s' is not a layer", path);
	if (want && strcmp(it->layer.blob_digest, want))
		return err_set(c->e, -EBADMSG, "layer blob '%s' has digest %s, expected %s",
			       path, it->layer.blob_digest, want);
	*out = it->layer;
	return 0;
}

static int open_beneath(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)RETRY_EINTR(syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
	return fd < 0 ? -errno : fd;
}

static int dir_json(struct import_ctx *c, const char *path, const char *want,
		    char **data, size_t *len, char *digest)
{
	_cleanup_close_ int fd = open_beneath(c->dirfd, path);
	if (fd < 0)
		return err_sys(c->e, fd, "missing blob '%s'%s%s", path,
			       want ? " for " : "", want ? want : "");
	_cleanup_free_ char *buf = NULL;
	int r = read_fd_all(fd, STORE_JSON_MAX, &buf, len);
	if (r < 0)
		return err_sys(c->e, r, "cannot read blob '%s'", path);
	r = digest_buffer(buf, *len, digest);
	if (r < 0)
		return r;
	if (want && strcmp(digest, want))
		return err_set(c->e, -EBADMSG, "blob '%s' has digest %s, expected %s", path, digest, want);
	*data = TAKE_PTR(buf);
	return 0;
}

struct fd_source {
	int fd;
	char *buf;
	const char *pre;          /* bytes read before the source began */
	size_t pre_len;
	struct import_ctx *c;     /* progress: bytes read from every input */
};

static int fd_next(void *ctx, const void **buf, size_t *len, struct errmsg *e)
{
	struct fd_source *fs = ctx;
	if (fs->pre_len) {
		*buf = fs->pre;
		*len = fs->pre_len;
		fs->pre_len = 0;
		return 0;
	}
	ssize_t n = RETRY_EINTR(read(fs->fd, fs->buf, 1u << 20));
	if (n < 0)
		return err_sys(e, -errno, "cannot read input");
	fs->c->done += (uint64_t)n;
	if (fs->c->o->prog.fn)
		fs->c->o->prog.fn(fs->c->o->prog.arg, fs->c->done);
	*buf = fs->buf;
	*len = (size_t)n;
	return 0;
}

static int dir_layer(struct import_ctx *c, const char *path, const char *want,
		     const char *want_diff, struct layer_result *out)
{
	/* Random access: what the store has already need not be read. */
	if (want && want_diff && store_has_blob(c->s, want) && store_has_layer(c->s, want_diff)) {
		memset(out, 0, sizeof(*out));
		strcpy(out->blob_digest, want);
		strcpy(out->diff_id, want_diff);
		return 0;
	}
	_cleanup_close_ int fd = open_beneath(c->dirfd, path);
	if (fd < 0)
		return err_sys(c->e, fd, "missing layer blob '%s'%s%s", path,
			       want ? " for " : "", want ? want : "");
	_cleanup_free_ char *buf = malloc(1u << 20);
	if (!buf)
		return -ENOMEM;
	struct fd_source fs = { fd, buf, NULL, 0, c };
	struct byte_source src = { fd_next, &fs };
	int r;
	if (want_diff && digest_valid(want_diff) && store_has_layer(c->s, want_diff))
		r = import_known_layer(c, &src, path, want_diff, false, out);
	else
		r = layer_import(&src, c->tmpfd, path, c->seq++, out, c->e);
	if (r < 0)
		return r;
	if (want && strcmp(out->blob_digest, want))
		return err_set(c->e, -EBADMSG, "layer blob '%s' has digest %s, expected %s",
			       path, out->blob_digest, want);
	return 0;
}

static const struct blob_provider archive_provider = { archive_json, archive_layer };
static const struct blob_provider dir_provider = { dir_json, dir_layer };

static int ctx_begin(struct import_ctx *c, struct store *s, const struct import_opts *o,
		     struct errmsg *e)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->o = o;
	c->e = e;
	c->dirfd = -1;
	c->tmpfd = -1;
	/* Leftovers of killed commands go first (they hold no flock).  Our
	 * own temp directory is made under the lock too: between its mkdir
	 * and its flock, a cleaner beside us would take it for a leftover. */
	int r = store_lock(s, LOCK_EX, e);
	if (r < 0)
		return r;
	store_clean_temp(s, false, NULL, NULL);
	load_known(c);
	r = store_mktemp(s, "import", &c->tmpname, &c->tmpfd, e);
	store_unlock(s);
	return r;
}

static int finish(struct import_ctx *c, const struct blob_provider *bp, bool image,
		  struct import_result *res)
{
	struct image_source src = { c, bp, c->e, c->tmpfd };
	int r;
	if (image)
		r = plans_from_image(&src, c->o->name, &c->plans, &c->nplans, &c->kind);
	else
		r = -EINVAL;
	if (r < 0)
		return r;
	if (!strcmp(c->kind, "oci"))
		c->kind = c->dirfd >= 0 ? "oci-layout" : "oci-archive";
	res->kind = c->kind;
	return commit_plans(c->s, c->tmpfd, c->plans, c->nplans, res, c->e);
}

static int import_dir(struct import_ctx *c, const char *path, struct import_result *res)
{
	c->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return err_sys(c->e, -errno, "cannot open '%s'", path);
	if (faccessat(c->dirfd, "oci-layout", F_OK, 0) < 0)
		return err_set(c->e, -EINVAL, "'%s' is a directory but not an oci image layout", path);
	return finish(c, &dir_provider, true, res);
}

static int import_layer_stream(struct import_ctx *c, struct byte_source *src,
			       struct import_result *res)
{
	struct image_plan plan = { 0 };
	/* The input is the layer: messages need not name it twice. */
	int r = layer_import(src, c->tmpfd, "", c->seq++, &plan.single, c->e);
	if (r < 0)
		return r;
	r = plan_for_single_layer(&plan, c->o->name);
	if (r < 0) {
		plan_free(&plan);
		return r;
	}
	c->plans = malloc(sizeof(*c->plans));
	if (!c->plans) {
		plan_free(&plan);
		return -ENOMEM;
	}
	c->plans[0] = plan;
	c->nplans = 1;
	res->kind = "layer";
	return commit_plans(c->s, c->tmpfd, c->plans, c->nplans, res, c->e);
}

static la_ssize_t src_read_cb(struct archive *a, void *ctx, const void **buf)
{
	struct byte_source *src = ctx;
	size_t len = 0;
	struct errmsg e = { { 0 } };
	int r = src->next(src->ctx, buf, &len, &e);
	if (r < 0) {
		archive_set_error(a, -r, "%s", err_text(&e, r));
		return -1;
	}
	return (la_ssize_t)len;
}

static int import_image_archive(struct import_ctx *c, struct byte_source *src,
				const char *label, struct import_result *res)
{
	struct archive *a = archive_read_new();
	if (!a)
		return -ENOMEM;
	archive_support_filters(a, true);
	archive_read_support_format_tar(a);
	int r = 0;
	if (archive_read_open(a, src, NULL, src_read_cb, NULL) != ARCHIVE_OK)
		r = err_set(c->e, -EIO, "cannot read '%s': %s", label, archive_error_string(a));
	while (r == 0) {
		struct archive_entry *ae;
		int h = archive_read_next_header(a, &ae);
		if (h == ARCHIVE_EOF)
			break;
		if (h < ARCHIVE_WARN) {
			r = err_set(c->e, -EIO, "cannot read '%s': %s", label, archive_error_string(a));
			break;
		}
		r = archive_entry_item(c, a, ae);
	}
	archive_read_free(a);
	if (r < 0)
		return r;
	return finish(c, &archive_provider, true, res);
}

static int import_stream(struct import_ctx *c, int fd, const char *label,
			 struct import_result *res)
{
	_cleanup_free_ char *pre = malloc(PROBE_MAX);
	_cleanup_free_ char *buf = malloc(1u << 20);
	if (!pre || !buf)
		return -ENOMEM;
	size_t len = 0;
	while (len < PROBE_MAX) {
		ssize_t n = RETRY_EINTR(read(fd, pre + len, PROBE_MAX - len));
		if (n < 0)
			return err_sys(c->e, -errno, "cannot read '%s'", label);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0)
		return err_set(c->e, -EINVAL, "'%s' is empty", label);
	c->done = len;
	struct fd_source fs = { fd, buf, pre, len, c };
	struct byte_source src = { fd_next, &fs };
	if (!probe_image_archive(pre, len))
		return import_layer_stream(c, &src, res);
	/* A file can be read ahead for what it says about its layers. */
	int hr = hints_scan(fd, &c->hints);
	if (hr < 0)
		return hr;
	int r = import_image_archive(c, &src, label, res);
	/* A layer whose first entry merely looks like an image archive's
	 * ("blobs/", "manifest.json"): read it again as the layer it is,
	 * when the input can be read again. */
	if (r != -ENOMSG || lseek(fd, 0, SEEK_SET) != 0)
		return r;
	c->e->msg[0] = '\0';
	c->done = 0;
	fs.pre_len = 0;
	return import_layer_stream(c, &src, res);
}

int import_path(struct store *s, const char *path, const struct import_opts *o,
		struct import_result *res, struct errmsg *e)
{
	struct import_ctx c;
	int r = ctx_begin(&c, s, o, e);
	if (r < 0) {
		c.tmpfd = -1;
		ctx_free(&c);
		return r;
	}
	struct import_result out = { 0 };
	if (!strcmp(path, "-")) {
		r = import_stream(&c, STDIN_FILENO, "standard input", &out);
	} else {
		struct stat st;
		if (stat(path, &st) < 0) {
			r = err_sys(e, -errno, "cannot open '%s'", path);
		} else if (S_ISDIR(st.st_mode)) {
			r = import_dir(&c, path, &out);
		} else {
			_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
			r = fd < 0 ? err_sys(e, -errno, "cannot open '%s'", path)
				   : import_stream(&c, fd, path, &out);
		}
	}
	ctx_free(&c);
	if (r < 0) {
		import_result_free(&out);
		return r;
	}
	*res = out;
	return 0;
}
