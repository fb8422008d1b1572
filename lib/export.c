/* Image export: output handling, the OCI layout and oci-archive formats
 * (see export.h; docker-archive is in export_docker.c). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "export.h"
#include "fsutil.h"
#include "image_commit.h"
#include "tar_writer.h"

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"

int export_format_parse(const char *name, enum export_format *out)
{
	static const struct { const char *name; enum export_format f; } v[] = {
		{ "oci", EXPORT_OCI },
		{ "oci-archive", EXPORT_OCI_ARCHIVE },
		{ "docker-archive", EXPORT_DOCKER_ARCHIVE },
	};
	for (size_t k = 0; k < ARRAY_SIZE(v); k++)
		if (!strcmp(name, v[k].name)) {
			*out = v[k].f;
			return 0;
		}
	return -EINVAL;
}

int export_open_blob(struct store *s, const char *digest, uint64_t *size, struct errmsg *e)
{
	int fd = openat(s->blobsfd, digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, -errno, "cannot open blob '%s'", digest);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, -EINVAL, "blob '%s' is not a regular file", digest);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static const char *manifest_type(const struct image_info *img)
{
	const char *mt = json_get_str(img->manifest, "mediaType");
	return mt ? mt : MT_OCI_MANIFEST;
}

int export_oci_index(const struct image_info *img, int64_t manifest_size, char *const *refs,
		     struct strbuf *out)
{
	_cleanup_json_ struct json *idx = json_new_object();
	int r = idx ? 0 : -ENOMEM;
	if (!r) r = json_set_int(idx, "schemaVersion", 2);
	if (!r) r = json_set_str(idx, "mediaType", MT_OCI_INDEX);
	if (!r) r = json_object_set(idx, "manifests", json_new_array());
	for (size_t k = 0; r == 0 && refs && refs[k]; k++)
		r = index_add_ref(idx, refs[k], img->manifest_digest, manifest_type(img), manifest_size);
	if (r == 0 && (!refs || !refs[0]))
		r = index_add_ref(idx, NULL, img->manifest_digest, manifest_type(img), manifest_size);
	return r < 0 ? r : json_write(idx, 0, out);
}

/* ---- the image's blobs: manifest, config, layers; sorted, each once ---- */

struct blob_set {
	char (*v)[DIGEST_STR_LEN + 1];
	size_t n;
};

static int cmp_digest(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int blob_set_of(const struct image_info *img, struct blob_set *bs)
{
	bs->v = calloc(img->nlayers + 2, sizeof(*bs->v));
	if (!bs->v)
		return -ENOMEM;
	strcpy(bs->v[0], img->manifest_digest);
	strcpy(bs->v[1], img->config_digest);
	bs->n = 2;
	for (size_t k = 0; k < img->nlayers; k++)
		strcpy(bs->v[bs->n++], img->layers[k].blob_digest);
	qsort(bs->v, bs->n, sizeof(*bs->v), cmp_digest);
	size_t w = 0;
	for (size_t k = 0; k < bs->n; k++)
		if (!w || strcmp(bs->v[w - 1], bs->v[k]))
			memmove(bs->v[w++], bs->v[k], sizeof(*bs->v));
	bs->n = w;
	return 0;
}

static void blob_set_free(struct blob_set *bs) { free(bs->v); }

/* index.json for IMG: its manifest's descriptor under each name. */
static int index_for(struct store *s, const struct image_info *img, char *const *refs,
		     struct strbuf *out, struct errmsg *e)
{
	struct stat st;
	if (fstatat(s->blobsfd, digest_hex(img->manifest_digest), &st, 0) < 0)
		return err_sys(e, -errno, "cannot read manifest '%s'", img->manifest_digest);
	return export_oci_index(img, st.st_size, refs, out);
}

/* ---- oci: a layout directory ---- */

static int write_file_in(int dirfd, const char *name, const void *data, size_t len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	return r;
}

static int copy_blob_to(struct store *s, const char *digest, int blobsfd, struct errmsg *e)
{
	uint64_t size = 0;
	_cleanup_close_ int in = export_open_blob(s, digest, &size, e);
	if (in < 0)
		return in;
	_cleanup_close_ int out = openat(blobsfd, digest_hex(digest),
					 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0)
		return err_sys(e, -errno, "cannot create blob '%s'", digest);
	int r = clone_or_copy_fd(in, out, size);
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	return r < 0 ? err_sys(e, r, "cannot copy blob '%s'", digest) : 0;
}

static int write_oci_dir(struct store *s, const struct image_info *img, char *const *refs,
			 int dirfd, struct errmsg *e)
{
	_cleanup_strbuf_ struct strbuf idx = STRBUF_INIT;
	int r = index_for(s, img, refs, &idx, e);
	if (r < 0)
		return r;
	if (mkdirat(dirfd, "blobs", 0755) < 0 || mkdirat(dirfd, "blobs/sha256", 0755) < 0)
		return err_sys(e, -errno, "cannot create blobs/sha256");
	_cleanup_close_ int blobsfd = openat(dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (blobsfd < 0)
		return err_sys(e, -errno, "cannot open blobs/sha256");
	_cleanup_(blob_set_free) struct blob_set bs = { 0 };
	if ((r = blob_set_of(img, &bs)) < 0)
		return r;
	for (size_t k = 0; r == 0 && k < bs.n; k++)
		r = copy_blob_to(s, bs.v[k], blobsfd, e);
	if (r == 0 && (r = write_file_in(dirfd, "oci-layout", OCI_LAYOUT, strlen(OCI_LAYOUT))) < 0)
		err_sys(e, r, "cannot write oci-layout");
	if (r == 0 && (r = write_file_in(dirfd, "index.json", idx.s, idx.len)) < 0)
		err_sys(e, r, "cannot write index.json");
	if (r == 0 && (fsync(blobsfd) < 0 || fsync(dirfd) < 0))
		r = err_sys(e, -errno, "cannot sync the layout");
	return r;
}

/* ---- oci-archive: the same layout as a tar, entries sorted ---- */

static int tar_blob(struct store *s, const char *digest, const char *name,
		    struct tar_writer *w, struct errmsg *e)
{
	uint64_t size = 0;
	_cleanup_close_ int in = export_open_blob(s, digest, &size, e);
	if (in < 0)
		return in;
	int r = tw_file_header(w, name, 0644, size);
	if (r == 0)
		r = tw_copy_fd(w, in, size);
	if (r == 0)
		r = tw_end_entry(w);
	return r < 0 ? err_sys(e, r, "cannot write blob '%s'", digest) : 0;
}

static int write_oci_archive(struct store *s, const struct image_info *img, char *const *refs,
			     struct tar_writer *w, struct errmsg *e)
{
	_cleanup_strbuf_ struct strbuf idx = STRBUF_INIT;
	int r = index_for(s, img, refs, &idx, e);
	if (r < 0)
		return r;
	_cleanup_(blob_set_free) struct blob_set bs = { 0 };
	if ((r = blob_set_of(img, &bs)) < 0)
		return r;
	if ((r = tw_dir(w, "blobs/")) < 0 || (r = tw_dir(w, "blobs/sha256/")) < 0)
		return err_sys(e, r, "cannot write the archive");
	for (size_t k = 0; r == 0 && k < bs.n; k++) {
		char name[80];
		snprintf(name, sizeof(name), "blobs/sha256/%s", digest_hex(bs.v[k]));
		r = tar_blob(s, bs.v[k], name, w, e);
	}
	if (r == 0)
		r = tw_file(w, "index.json", idx.s, idx.len);
	if (r == 0)
		r = tw_file(w, "oci-layout", OCI_LAYOUT, strlen(OCI_LAYOUT));
	if (r == 0)
		r = tw_finish(w);
	return r < 0 ? err_sys(e, r, "cannot write the archive") : 0;
}

/* ---- output: a temp file or directory beside PATH, renamed at the end ---- */

struct output {
	int dirfd;                   /* PATH's directory */
	char *dir, *base;
	char tmp[NAME_MAX + 1];
	bool replace_empty_dir;      /* PATH is an empty directory (oci) */
	bool made;
};

static void output_free(struct output *o)
{
	if (o->made)
		rm_rf_at(o->dirfd, o->tmp, NULL);
	if (o->dirfd >= 0)
		close(o->dirfd);
	free(o->dir);
	free(o->base);
}

static bool dir_is_empty(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

static int output_begin(struct output *o, const char *path, bool as_dir, struct errmsg *e)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!as_dir || !S_ISDIR(st.st_mode) || !dir_is_empty(path))
			return err_set(e, -EEXIST, "'%s' exists (give a new path%s)", path,
				       as_dir ? " or an empty directory" : "");
		o->replace_empty_dir = true;
	} else if (errno != ENOENT) {
		return err_sys(e, -errno, "cannot check '%s'", path);
	}
	_cleanup_free_ char *d = strdup(path), *b = strdup(path);
	if (!d || !b)
		return -ENOMEM;
	o->dir = strdup(dirname(d));
	o->base = strdup(basename(b));
	if (!o->dir || !o->base)
		return -ENOMEM;
	if (!strcmp(o->base, "/") || !strcmp(o->base, ".") || !strcmp(o->base, ".."))
		return err_set(e, -EINVAL, "'%s' is not a usable output path", path);
	o->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dirfd < 0)
		return err_sys(e, -errno, "cannot open directory '%s'", o->dir);
	char hex[17];
	random_hex(hex);
	snprintf(o->tmp, sizeof(o->tmp), ".%.200s.tmp-%s", o->base, hex);
	int fd;
	if (as_dir) {
		if (mkdirat(o->dirfd, o->tmp, 0755) < 0)
			return err_sys(e, -errno, "cannot write in '%s'", o->dir);
		o->made = true;
		fd = openat(o->dirfd, o->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		fd = openat(o->dirfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return err_sys(e, -errno, "cannot write in '%s'", o->dir);
		o->made = true;
	}
	return fd < 0 ? err_sys(e, -errno, "cannot open '%s/%s'", o->dir, o->tmp) : fd;
}

static int output_commit(struct output *o, const char *path, struct errmsg *e)
{
	int r;
	if (o->replace_empty_dir)
		r = renameat(o->dirfd, o->tmp, o->dirfd, o->base);
	else
		r = renameat2(o->dirfd, o->tmp, o->dirfd, o->base, RENAME_NOREPLACE);
	if (r < 0 && (errno == EEXIST || errno == ENOTEMPTY || errno == ENOTDIR))
		return err_set(e, -EEXIST, "'%s' appeared while exporting; not replaced", path);
	if (r < 0)
		return err_sys(e, -errno, "cannot rename the export to '%s'", path);
	o->made = false;
	fsync(o->dirfd);
	return 0;
}

static int export_to_fd(struct store *s, const struct image_info *img,
			const struct export_opts *o, int fd, struct errmsg *e)
{
	struct tar_writer w;
	tw_init(&w, fd, 0);
	if (o->format == EXPORT_OCI_ARCHIVE)
		return write_oci_archive(s, img, o->refs, &w, e);
	return export_docker_archive(s, img, o->refs, &w, e);
}

int export_image(struct store *s, const struct image_info *img, const struct export_opts *o,
		 struct errmsg *e)
{
	if (img->broken)
		return err_set(e, -EINVAL, "image '%s' is damaged: %s", img->manifest_digest, img->broken);
	bool as_dir = o->format == EXPORT_OCI;
	if (!strcmp(o->path, "-")) {
		if (as_dir)
			return err_set(e, -EINVAL, "the oci format is a directory; give a path");
		return export_to_fd(s, img, o, STDOUT_FILENO, e);
	}
	_cleanup_(output_free) struct output out = { .dirfd = -1 };
	_cleanup_close_ int fd = output_begin(&out, o->path, as_dir, e);
	if (fd < 0)
		return fd;
	int r;
	if (as_dir) {
		r = write_oci_dir(s, img, o->refs, fd, e);
	} else {
		r = export_to_fd(s, img, o, fd, e);
		if (r == 0 && fsync(fd) < 0)
			r = err_sys(e, -errno, "cannot write '%s'", o->path);
	}
	return r < 0 ? r : output_commit(&out, o->path, e);
}
