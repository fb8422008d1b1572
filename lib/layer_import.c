/* One-pass layer import: hash, keep, decompress, hash, extract
 * (see layer_import.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "cleanup.h"
#include "extract.h"
#include "fsutil.h"
#include "layer_import.h"
#include "store.h"
#include "stream_pipe.h"

#define CHUNK (1u << 20)

/* " 'LABEL'" in messages, or nothing for an unnamed layer. */
#define Q(label) *(label) ? " '" : "", (label), *(label) ? "'" : ""

/* Stage 1: raw blob bytes, hashed and written to the temp blob. */
struct raw_stage {
	struct byte_source *src;
	struct hasher h;
	int blobfd;
	unsigned char prefix[512];
	size_t prefix_len, prefix_off;
	const void *pending;      /* rest of the chunk that overflowed prefix */
	size_t pending_len;
	bool eof;
	int err;
	struct errmsg *e;
};

const char *sniff_compression(const unsigned char *p, size_t len)
{
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return "gzip";
	if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return "zstd";
	if (len >= 3 && !memcmp(p, "BZh", 3))
		return "bzip2";
	if (len >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6))
		return "xz";
	return NULL;
}

bool sniff_tar_header(const unsigned char *p, size_t len)
{
	if (len < 512)
		return false;
	if (!memcmp(p + 257, "ustar", 5))
		return true;
	/* v7 header: check its checksum; an all-zero block is an empty tar. */
	unsigned sum = 0, zero = 1;
	for (size_t k = 0; k < 512; k++) {
		sum += (k >= 148 && k < 156) ? ' ' : p[k];
		zero &= p[k] == 0;
	}
	if (zero)
		return true;
	unsigned want = 0;
	for (size_t k = 148; k < 156 && p[k] >= '0' && p[k] <= '7'; k++)
		want = want * 8 + (unsigned)(p[k] - '0');
	return want == sum;
}

void archive_support_filters(struct archive *a, bool image_archive)
{
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	if (image_archive) {
		archive_read_support_filter_bzip2(a);
		archive_read_support_filter_xz(a);
	}
}

static int raw_pull(struct raw_stage *r, const void **buf, size_t *len)
{
	if (r->prefix_off < r->prefix_len) {
		*buf = r->prefix + r->prefix_off;
		*len = r->prefix_len - r->prefix_off;
		r->prefix_off = r->prefix_len;
	} else if (r->pending_len) {
		*buf = r->pending;
		*len = r->pending_len;
		r->pending_len = 0;
	} else if (r->eof) {
		*len = 0;
		return 0;
	} else {
		int rc = r->src->next(r->src->ctx, buf, len, r->e);
		if (rc < 0)
			return rc;
	}
	if (*len == 0) {
		r->eof = true;
		return 0;
	}
	hasher_update(&r->h, *buf, *len);
	if (r->blobfd >= 0) {
		int w = write_all(r->blobfd, *buf, *len);
		if (w < 0)
			return err_sys(r->e, w, "cannot write temp blob");
	}
	return 0;
}

static la_ssize_t raw_read_cb(struct archive *a, void *ctx, const void **buf)
{
	struct raw_stage *r = ctx;
	size_t len = 0;
	int rc = raw_pull(r, buf, &len);
	if (rc < 0) {
		r->err = rc;
		archive_set_error(a, -rc, "%s", err_text(r->e, rc));
		return -1;
	}
	return (la_ssize_t)len;
}

static void cleanup_archive(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}
#define _cleanup_archive_ __attribute__((cleanup(cleanup_archive)))

/* Fill the sniffing prefix (up to 16 bytes are enough for any magic);
 * the source's buffer stays valid until its next call, so the rest of an
 * overflowing chunk is delivered from there. */
static int fill_prefix(struct raw_stage *r)
{
	while (r->prefix_len < 16) {
		const void *buf;
		size_t len = 0;
		int rc = r->src->next(r->src->ctx, &buf, &len, r->e);
		if (rc < 0)
			return rc;
		if (len == 0) {
			r->eof = true;
			break;
		}
		size_t take = sizeof(r->prefix) - r->prefix_len;
		if (take > len)
			take = len;
		memcpy(r->prefix + r->prefix_len, buf, take);
		r->prefix_len += take;
		if (take < len) {
			r->pending = (const char *)buf + take;
			r->pending_len = len - take;
			break;
		}
	}
	return 0;
}

static int open_stage(struct archive *a, void *ctx, archive_read_callback *cb,
		      const char *label, struct errmsg *e)
{
	if (archive_read_open(a, ctx, NULL, cb, NULL) != ARCHIVE_OK)
		return err_set(e, -EIO, "cannot read layer%s%s%s: %s", Q(label),
			       archive_error_string(a));
	return 0;
}

/* The helper thread's side: raw bytes (hashed and kept on the way) or,
 * for a compressed blob, decompressed bytes hashed for the DiffID. */
struct producer {
	struct raw_stage *raw;
	struct archive *dec;        /* NULL for a plain tar */
	struct hasher tarh;
	const void *rest;           /* plain tar: unread part of a raw chunk */
	size_t rest_len;
	const char *label;
};

static ssize_t produce(void *ctx, char *buf, size_t cap, struct errmsg *e)
{
	struct producer *p = ctx;
	p->raw->e = e;
	if (p->dec) {
		la_ssize_t n = archive_read_data(p->dec, buf, cap);
		if (n < 0)
			return err_set(e, -EIO, "cannot read layer%s%s%s: %s", Q(p->label),
				       archive_error_string(p->dec));
		if (n > 0) {
			hasher_update(&p->tarh, buf, (size_t)n);
			return n;
		}
		/* Past the compressed stream: any bytes left still belong to
		 * the blob and its digest. */
		p->rest_len = 0;
	}
	if (!p->rest_len) {
		int r = raw_pull(p->raw, &p->rest, &p->rest_len);
		if (r < 0)
			return r;
		if (p->dec) {
			/* Drain only: nothing more for the tar reader. */
			while (p->rest_len && (r = raw_pull(p->raw, &p->rest, &p->rest_len)) == 0)
				;
			return r < 0 ? r : 0;
		}
		if (!p->rest_len)
			return 0;
	}
	size_t n = p->rest_len < cap ? p->rest_len : cap;
	memcpy(buf, p->rest, n);
	p->rest = (const char *)p->rest + n;
	p->rest_len -= n;
	return (ssize_t)n;
}

struct consumer {
	struct stream_pipe *pipe;
	struct errmsg *e;
};

static la_ssize_t pipe_read_cb(struct archive *a, void *ctx, const void **buf)
{
	struct consumer *c = ctx;
	size_t len = 0;
	int r = spipe_next(c->pipe, buf, &len, c->e);
	if (r < 0) {
		archive_set_error(a, -r, "%s", err_text(c->e, r));
		return -1;
	}
	return (la_ssize_t)len;
}

static int extract_into(struct archive *tar, int tmpfd, struct layer_result *res,
			struct layer_manifest *m, const char *label, struct errmsg *e,
			struct extract_stats *st)
{
	if (mkdirat(tmpfd, res->dir, 0700) < 0)
		return err_sys(e, -errno, "cannot create temp layer directory");
	char tree[48];
	snprintf(tree, sizeof(tree), "%s/tree", res->dir);
	if (mkdirat(tmpfd, tree, 0755) < 0)
		return err_sys(e, -errno, "cannot create temp layer tree");
	_cleanup_close_ int treefd = openat(tmpfd, tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (treefd < 0)
		return err_sys(e, -errno, "cannot open temp layer tree");
	int r = extract_layer(tar, treefd, m, st, e);
	if (r < 0 && e && e->msg[0] && *label) {
		char inner[sizeof(e->msg)];
		snprintf(inner, sizeof(inner), "%s", e->msg);
		e->msg[0] = '\0';
		err_set(e, r, "layer '%s': %s", label, inner);
	}
	return r;
}

static char *now_rfc3339(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int layer_record_new(const struct layer_result *res, struct json *entries, struct json **out)
{
	struct json *rec = json_new_object();
	struct json *blobs = json_new_array();
	struct json *blob = json_new_object();
	char when[32];
	int r = rec && blobs && blob ? 0 : -ENOMEM;
	if (!r) r = json_set_str(blob, "digest", res->blob_digest);
	if (!r) r = json_set_str(blob, "mediaType", res->media_type);
	if (!r) r = json_set_int(blob, "size", (int64_t)res->blob_size);
	if (!r) { r = json_array_push(blobs, blob); blob = NULL; }
	if (!r) r = json_set_str(rec, "diff_id", res->diff_id);
	if (!r) r = json_set_int(rec, "size", (int64_t)res->tar_size);
	if (!r) r = json_set_int(rec, "files", (int64_t)res->files);
	if (!r) r = json_set_int(rec, "bytes", (int64_t)res->bytes);
	if (!r) r = json_set_str(rec, "created", now_rfc3339(when));
	if (!r) { r = json_object_set(rec, "blobs", blobs); blobs = NULL; }
	if (!r) r = json_object_set(rec, "entries", entries);
	else json_free(entries);
	json_free(blob);
	json_free(blobs);
	if (r < 0) {
		json_free(rec);
		return r;
	}
	*out = rec;
	return 0;
}

static int write_record(int tmpfd, const struct layer_result *res,
			const struct layer_manifest *m, struct errmsg *e)
{
	struct json *entries;
	int r = lm_to_json(m, &entries);
	if (r < 0)
		return r;
	_cleanup_json_ struct json *rec = NULL;
	r = layer_record_new(res, entries, &rec);
	if (r < 0)
		return r;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	r = json_write(rec, 0, &sb);
	if (r < 0)
		return r;
	char path[48];
	snprintf(path, sizeof(path), "%s/layer.json", res->dir);
	_cleanup_close_ int fd = openat(tmpfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_sys(e, -errno, "cannot write layer record");
	r = write_all(fd, sb.s, sb.len);
	if (r < 0)
		return err_sys(e, r, "cannot write layer record");
	return 0;
}

static void raw_stage_done(struct raw_stage *r) { hasher_free(&r->h); }
static void producer_done(struct producer *p) { hasher_free(&p->tarh); }
static void cleanup_lm(struct layer_manifest *m) { lm_free(m); }

/* Stream the sniffed blob through a helper thread into the tar reader and
 * extract it into TMPFD/OUT->dir. */
static int run_pipeline(struct producer *prod, int tmpfd,
			struct layer_result *out, struct layer_manifest *m, const char *label,
			struct errmsg *e)
{
	_cleanup_archive_ struct archive *ta = archive_read_new();
	if (!ta)
		return -ENOMEM;
	archive_read_support_format_tar(ta);
	struct stream_pipe *pipe;
	int r = spipe_start(produce, prod, &pipe);
	if (r < 0)
		return err_sys(e, r, "cannot start reading layer%s%s%s", Q(label));
	struct consumer cons = { pipe, e };
	struct extract_stats st = { 0 };
	if (archive_read_open(ta, &cons, NULL, pipe_read_cb, NULL) != ARCHIVE_OK)
		r = err_set(e, -EIO, "cannot read layer%s%s%s: %s", Q(label), archive_error_string(ta));
	if (r == 0)
		r = extract_into(ta, tmpfd, out, m, label, e, &st);
	int pr = spipe_finish(pipe, r < 0, e);
	return r < 0 ? r : pr;
}

/* Sniff the blob's compression and, for gzip or zstd, open the decompressor
 * PROD reads through. */
static int open_blob(struct raw_stage *raw, struct producer *prod, struct archive **dec,
		     struct layer_result *out, const char *label, struct errmsg *e)
{
	int r = fill_prefix(raw);
	if (r < 0)
		return r;
	const char *comp = sniff_compression(raw->prefix, raw->prefix_len);
	if (comp && strcmp(comp, "gzip") && strcmp(comp, "zstd"))
		return err_set(e, -ENOTSUP, "layer '%s' is compressed with %s, which oci layers do not use",
			       label, comp);
	out->media_type = !comp ? MT_OCI_LAYER : !strcmp(comp, "gzip") ? MT_OCI_LAYER "+gzip"
									 : MT_OCI_LAYER "+zstd";
	if (!comp)
		return 0;
	/* Decompression in the helper thread: filters, no format. */
	*dec = archive_read_new();
	if (!*dec || hasher_init(&prod->tarh) < 0)
		return -ENOMEM;
	archive_support_filters(*dec, false);
	archive_read_support_format_raw(*dec);
	r = open_stage(*dec, raw, raw_read_cb, label, e);
	if (r < 0)
		return r;
	struct archive_entry *ae;
	if (archive_read_next_header(*dec, &ae) != ARCHIVE_OK)
		return err_set(e, -EIO, "cannot read layer%s%s%s: %s", Q(label),
			       archive_error_string(*dec));
	prod->dec = *dec;
	return 0;
}

static int open_temp_blob(int tmpfd, const char *name, const char *label, struct errmsg *e)
{
	int fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	return fd < 0 ? err_sys(e, -errno, "cannot create temp blob for '%s'", label) : fd;
}

/* The digests once the stream is through. */
static void finish_digests(struct raw_stage *raw, struct producer *prod, struct layer_result *out)
{
	hasher_final(&raw->h, out->blob_digest);
	out->blob_size = raw->h.bytes;
	if (prod->dec) {
		hasher_final(&prod->tarh, out->diff_id);
		out->tar_size = prod->tarh.bytes;
	} else {
		memcpy(out->diff_id, out->blob_digest, sizeof(out->diff_id));
		out->tar_size = out->blob_size;
	}
}

int layer_import(struct byte_source *src, int tmpfd, const char *label, unsigned seq,
		 struct layer_result *res, struct errmsg *e)
{
	struct layer_result out = { 0 };
	snprintf(out.dir, sizeof(out.dir), "layer-%u", seq);
	snprintf(out.blob, sizeof(out.blob), "blob-%u", seq);
	_cleanup_(raw_stage_done) struct raw_stage raw = { .src = src, .blobfd = -1, .e = e };
	_cleanup_(producer_done) struct producer prod = { .raw = &raw, .label = label };
	_cleanup_(cleanup_lm) struct layer_manifest m = { 0 };
	int r = hasher_init(&raw.h);
	if (r < 0)
		return r;
	_cleanup_close_ int blobfd = open_temp_blob(tmpfd, out.blob, label, e);
	if (blobfd < 0)
		return blobfd;
	raw.blobfd = blobfd;
	_cleanup_archive_ struct archive *dec = NULL;
	r = open_blob(&raw, &prod, &dec, &out, label, e);
	if (r < 0)
		return r;
	r = run_pipeline(&prod, tmpfd, &out, &m, label, e);
	if (r < 0)
		return r;
	finish_digests(&raw, &prod, &out);
	out.files = lm_count(&m);
	out.bytes = lm_bytes(&m);
	r = write_record(tmpfd, &out, &m, e);
	if (r < 0)
		return r;
	*res = out;
	return 0;
}

int layer_hash_only(struct byte_source *src, int tmpfd, const char *label, unsigned seq,
		    bool keep_blob, struct layer_result *res, struct errmsg *e)
{
	struct layer_result out = { 0 };
	_cleanup_(raw_stage_done) struct raw_stage raw = { .src = src, .blobfd = -1, .e = e };
	_cleanup_(producer_done) struct producer prod = { .raw = &raw, .label = label };
	int r = hasher_init(&raw.h);
	if (r < 0)
		return r;
	_cleanup_close_ int blobfd = -1;
	if (keep_blob) {
		snprintf(out.blob, sizeof(out.blob), "blob-%u", seq);
		if ((blobfd = open_temp_blob(tmpfd, out.blob, label, e)) < 0)
			return blobfd;
		raw.blobfd = blobfd;
	}
	_cleanup_archive_ struct archive *dec = NULL;
	r = open_blob(&raw, &prod, &dec, &out, label, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	ssize_t n;
	while ((n = produce(&prod, buf, CHUNK, e)) > 0)
		;
	if (n < 0)
		return (int)n;
	finish_digests(&raw, &prod, &out);
	*res = out;
	return 0;
}
