/* Store opening, locking, temp area, index and blob access (see store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "fsutil.h"
#include "store.h"

static const char OCI_LAYOUT[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

int store_default_root(const char *opt, char **out)
{
	char *r = NULL;
	const char *env = getenv("LAYERCTL_ROOT");
	const char *xdg = getenv("XDG_DATA_HOME");
	if (opt && *opt)
		r = strdup(opt);
	else if (env && *env)
		r = strdup(env);
	else if (geteuid() == 0)
		r = strdup("/var/lib/layerctl");
	else if (xdg && *xdg == '/') {
		if (asprintf(&r, "%s/layerctl", xdg) < 0)
			r = NULL;
	} else {
		const char *home = getenv("HOME");
		struct passwd *pw = NULL;
		if (!home || *home != '/') {
			pw = getpwuid(geteuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (!home)
			return -ENOENT;
		if (asprintf(&r, "%s/.local/share/layerctl", home) < 0)
			r = NULL;
	}
	if (!r)
		return -ENOMEM;
	*out = r;
	return 0;
}

/* mkdir -p for the store root itself (its parents may not exist). */
static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int ensure_dir(int dirfd, const char *name, bool create)
{
	if (create && mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	int fd = open_dir_beneath(dirfd, name, O_RDONLY);
	return fd;
}

static int ensure_layout_files(struct store *s)
{
	if (faccessat(s->rootfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		int r = write_file_atomic(s->rootfd, "oci-layout", s->tmpfd,
					  OCI_LAYOUT, sizeof(OCI_LAYOUT) - 1);
		if (r < 0)
			return r;
	}
	if (faccessat(s->rootfd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		static const char empty[] = "{\"schemaVersion\":2,\"manifests\":[]}";
		int r = write_file_atomic(s->rootfd, "index.json", s->tmpfd, empty, sizeof(empty) - 1);
		if (r < 0)
			return r;
	}
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	int fds[] = { s->rootfd, s->blobsfd, s->layersfd, s->tmpfd, s->lockfd };
	for (size_t k = 0; k < ARRAY_SIZE(fds); k++)
		if (fds[k] >= 0)
			close(fds[k]);
	free(s->root);
	free(s);
}

int store_open(const char *root, bool create, struct store **out, struct errmsg *e)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->rootfd = s->blobsfd = s->layersfd = s->tmpfd = s->lockfd = -1;
	_cleanup_store_ struct store *guard = s;
	s->root = strdup(root);
	if (!s->root)
		return -ENOMEM;
	if (create) {
		int r = mkdir_parents(root);
		if (r < 0)
			return err_sys(e, r, "cannot create store '%s'", root);
	}
	s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		return err_sys(e, -errno, "cannot open store '%s'", root);
	if (!create && faccessat(s->rootfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(e, -ENOENT, "'%s' is not a layerctl store (no oci-layout)", root);
	s->lockfd = openat(s->rootfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (s->lockfd < 0 && errno == EROFS)
		s->lockfd = openat(s->rootfd, "lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->lockfd < 0)
		return err_sys(e, -errno, "cannot open lock of store '%s'", root);
	int fd = ensure_dir(s->rootfd, "blobs", create);
	if (fd < 0)
		return err_sys(e, fd, "cannot open '%s/blobs'", root);
	close(fd);
	struct { const char *name; int *fd; } dirs[] = {
		{ "blobs/sha256", &s->blobsfd }, { "layers", &s->layersfd }, { "tmp", &s->tmpfd },
	};
	for (size_t k = 0; k < ARRAY_SIZE(dirs); k++) {
		/* A store made by another tool may lack our directories. */
		*dirs[k].fd = ensure_dir(s->rootfd, dirs[k].name, true);
		if (*dirs[k].fd < 0)
			return err_sys(e, *dirs[k].fd, "cannot open '%s/%s'", root, dirs[k].name);
	}
	if (create) {
		/* Under the lock: temp files of other commands are only ever
		 * cleaned under it too. */
		int r = store_lock(s, LOCK_EX, e);
		if (r < 0)
			return r;
		r = ensure_layout_files(s);
		store_unlock(s);
		if (r < 0)
			return err_sys(e, r, "cannot initialise store '%s'", root);
	}
	*out = TAKE_PTR(guard);
	return 0;
}

int store_lock(struct store *s, int how, struct errmsg *e)
{
	if (RETRY_EINTR(flock(s->lockfd, how)) < 0)
		return err_sys(e, -errno, "cannot lock store '%s'", s->root);
	s->locked = how;
	return 0;
}

void store_unlock(struct store *s)
{
	if (s->locked)
		flock(s->lockfd, LOCK_UN);
	s->locked = 0;
}

int store_mktemp(struct store *s, const char *prefix, char **name, int *fdp, struct errmsg *e)
{
	char hex[17];
	random_hex(hex);
	_cleanup_free_ char *n = NULL;
	if (asprintf(&n, "%s-%d-%s", prefix, (int)getpid(), hex) < 0)
		return -ENOMEM;
	if (mkdirat(s->tmpfd, n, 0700) < 0)
		return err_sys(e, -errno, "cannot create temp directory '%s/tmp/%s'", s->root, n);
	int fd = openat(s->tmpfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		unlinkat(s->tmpfd, n, AT_REMOVEDIR);
		return err_sys(e, r, "cannot hold temp directory '%s/tmp/%s'", s->root, n);
	}
	*name = TAKE_PTR(n);
	*fdp = fd;
	return 0;
}

int store_clean_temp(struct store *s, bool dry_run, uint64_t *freed, uint64_t *count)
{
	_cleanup_closedir_ DIR *d = NULL;
	int r = opendir_at(s->tmpfd, &d);
	if (r < 0)
		return r;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_close_ int fd = openat(s->tmpfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		/* A directory still flock'ed belongs to a running command. */
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
			continue;
		uint64_t bytes = 0;
		r = dry_run ? du_at(s->tmpfd, de->d_name, &bytes)
				: rm_rf_at(s->tmpfd, de->d_name, &bytes);
		if (r < 0)
			return r;
		if (freed)
			*freed += bytes;
		if (count)
			(*count)++;
	}
	return 0;
}

int store_discard(struct store *s, int dirfd, const char *name, uint64_t *freed)
{
	char hex[17];
	random_hex(hex);
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "discard-%d-%s", (int)getpid(), hex) < 0)
		return -ENOMEM;
	if (renameat(dirfd, name, s->tmpfd, tmp) < 0)
		return errno == ENOENT ? 0 : -errno;
	return rm_rf_at(s->tmpfd, tmp, freed);
}

int store_read_index(struct store *s, struct json **out, struct errmsg *e)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_file_at(s->rootfd, "index.json", STORE_JSON_MAX, &data, &len);
	if (r == -ENOENT) {
		struct json *idx = json_new_object();
		if (!idx || json_set_int(idx, "schemaVersion", 2) < 0 ||
		    json_object_set(idx, "manifests", json_new_array()) < 0) {
			json_free(idx);
			return -ENOMEM;
		}
		*out = idx;
		return 0;
	}
	if (r < 0)
		return err_sys(e, r, "cannot read '%s/index.json'", s->root);
	char why[128];
	struct json *idx = NULL;
	r = json_parse(data, len, &idx, why, sizeof(why));
	if (r < 0)
		return err_set(e, r, "'%s/index.json' is not valid json: %s", s->root, why);
	if (idx->type != JSON_OBJECT || !json_get_array(idx, "manifests")) {
		json_free(idx);
		return err_set(e, -EINVAL, "'%s/index.json' has no manifests list", s->root);
	}
	*out = idx;
	return 0;
}

int store_write_index(struct store *s, const struct json *index, struct errmsg *e)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = json_write(index, 0, &sb);
	if (r < 0)
		return r;
	r = write_file_atomic(s->rootfd, "index.json", s->tmpfd, sb.s, sb.len);
	if (r < 0)
		return err_sys(e, r, "cannot write '%s/index.json'", s->root);
	return 0;
}

bool store_has_blob(struct store *s, const char *digest)
{
	return digest_valid(digest) &&
	       faccessat(s->blobsfd, digest_hex(digest), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int store_read_blob(struct store *s, const char *digest, char **data, size_t *len, struct errmsg *e)
{
	if (!digest_valid(digest))
		return err_set(e, -EINVAL, "'%s' is not a sha256 digest", digest ? digest : "");
	int r = read_file_at(s->blobsfd, digest_hex(digest), STORE_JSON_MAX, data, len);
	if (r < 0)
		return err_sys(e, r, "cannot read blob '%s'", digest);
	return 0;
}

int store_read_blob_json(struct store *s, const char *digest, struct json **out, struct errmsg *e)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = store_read_blob(s, digest, &data, &len, e);
	if (r < 0)
		return r;
	char why[128];
	r = json_parse(data, len, out, why, sizeof(why));
	if (r < 0)
		return err_set(e, r, "blob '%s' is not valid json: %s", digest, why);
	return 0;
}

int store_put_blob(struct store *s, const char *digest, const void *data, size_t len, struct errmsg *e)
{
	if (store_has_blob(s, digest))
		return 0;
	int r = write_file_atomic(s->blobsfd, digest_hex(digest), s->tmpfd, data, len);
	if (r < 0)
		return err_sys(e, r, "cannot store blob '%s'", digest);
	return 0;
}

bool store_has_layer(struct store *s, const char *diff_id)
{
	return digest_valid(diff_id) &&
	       faccessat(s->layersfd, digest_hex(diff_id), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int store_read_layer_record(struct store *s, const char *diff_id, struct json **out, struct errmsg *e)
{
	if (!digest_valid(diff_id))
		return err_set(e, -EINVAL, "'%s' is not a sha256 digest", diff_id);
	char path[DIGEST_HEX_LEN + 16];
	snprintf(path, sizeof(path), "%s/layer.json", digest_hex(diff_id));
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_file_at(s->layersfd, path, 1u << 30, &data, &len);
	if (r < 0)
		return err_sys(e, r, "cannot read record of layer '%s'", diff_id);
	char why[128];
	r = json_parse(data, len, out, why, sizeof(why));
	if (r < 0)
		return err_set(e, r, "record of layer '%s' is not valid json: %s", diff_id, why);
	return 0;
}

int store_open_layer_tree(struct store *s, const char *diff_id, struct errmsg *e)
{
	char path[DIGEST_HEX_LEN + 16];
	snprintf(path, sizeof(path), "%s/tree", digest_hex(diff_id));
	int fd = open_dir_beneath(s->layersfd, path, O_RDONLY);
	if (fd < 0)
		return err_sys(e, fd, "cannot open tree of layer '%s'", diff_id);
	return fd;
}

int store_image_in_use(struct store *s, const char *config_digest,
		       const char *manifest_digest, char **who)
{
	int cfd = open_dir_beneath(s->rootfd, "containers", O_RDONLY);
	if (cfd == -ENOENT)
		return 0;
	if (cfd < 0)
		return cfd;
	_cleanup_closedir_ DIR *d = fdopendir(cfd);
	if (!d) {
		close(cfd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/config.json", de->d_name);
		_cleanup_free_ char *data = NULL;
		size_t len;
		if (read_file_at(dirfd(d), path, STORE_JSON_MAX, &data, &len) < 0)
			continue;
		_cleanup_json_ struct json *c = NULL;
		if (json_parse(data, len, &c, NULL, 0) < 0)
			continue;
		const char *img = json_get_str(c, "image");
		const char *iid = json_get_str(c, "image_id");
		if ((img && manifest_digest && !strcmp(img, manifest_digest)) ||
		    (iid && config_digest && !strcmp(iid, config_digest))) {
			*who = strdup(de->d_name);
			return *who ? 1 : -ENOMEM;
		}
	}
	return 0;
}
