/* Store verification (see verify.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "dedupe.h"
#include "digest.h"
#include "fsutil.h"
#include "images.h"
#include "layer_manifest.h"
#include "override_stat.h"
#include "verify.h"
#include "whiteout.h"

static void report(struct verify_report *r, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(struct verify_report *r, const char *object, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	r->problems++;
	if (r->problem)
		r->problem(r->arg, object, what);
}

int verify_blob(struct store *s, const char *digest, struct verify_report *r)
{
	_cleanup_close_ int fd = openat(s->blobsfd, digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		report(r, digest, "blob is missing: %s", strerror(errno));
		return 0;
	}
	char got[DIGEST_STR_LEN + 1];
	int rc = digest_fd(fd, got, NULL);
	if (rc < 0)
		return rc;
	r->checked++;
	if (strcmp(got, digest))
		report(r, digest, "blob content has digest %s", got);
	return 0;
}

struct tree_check {
	struct layer_manifest m;
	bool *seen;
	ino_t *inos;           /* per entry, for hardlink checks */
	nlink_t *nlinks;       /* per entry: its inode's link count */
	bool *marked;          /* per entry: carries the dedupe mark */
	struct verify_report *r;
	const char *layer;
	char obj[DIGEST_STR_LEN + 4200];
};

static const char *obj_name(struct tree_check *t, const char *path)
{
	snprintf(t->obj, sizeof(t->obj), "%s:%s", t->layer, path);
	return t->obj;
}

static int hash_file(int dirfd, const char *name, char out[DIGEST_STR_LEN + 1])
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return digest_fd(fd, out, NULL);
}

/* What the entry is meant to be, from disk plus the override xattr. */
static void effective_stat(int dirfd, const char *name, struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return;
	char val[128], proc[64];
	_cleanup_close_ int pf = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pf < 0)
		return;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pf);
	ssize_t n = getxattr(proc, XATTR_OVERRIDE_STAT, val, sizeof(val));
	struct override_stat o;
	if (n <= 0 || ovs_parse(val, (size_t)n, &o) < 0)
		return;
	st->st_uid = o.uid;
	st->st_gid = o.gid;
	if (o.has_type) {
		st->st_mode = o.mode;
		st->st_rdev = o.rdev;
	} else {
		st->st_mode = (st->st_mode & S_IFMT) | (o.mode & 07777);
	}
}

/* Is the file an inode dedupe shares with other layers (dedupe.h)? */
static bool has_dedupe_mark(int dirfd, const char *name)
{
	char proc[64], v[8];
	_cleanup_close_ int pf = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pf < 0)
		return false;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pf);
	return getxattr(proc, XATTR_DEDUPE, v, sizeof(v)) > 0;
}

static void check_entry(struct tree_check *t, int dirfd, const char *name, const char *path,
			struct stat *st)
{
	struct layer_entry *le = lm_find(&t->m, path);
	if (!le) {
		report(t->r, obj_name(t, path), "not in the layer manifest");
		return;
	}
	size_t idx = (size_t)(le - t->m.e);
	t->seen[idx] = true;
	t->inos[idx] = st->st_ino;
	t->nlinks[idx] = st->st_nlink;
	if (S_ISREG(st->st_mode) && st->st_nlink > 1)
		t->marked[idx] = has_dedupe_mark(dirfd, name);
	t->r->checked++;
	bool ondisk_reg = S_ISREG(st->st_mode);
	effective_stat(dirfd, name, st);
	if ((st->st_mode & S_IFMT) != (le->mode & S_IFMT)) {
		report(t->r, obj_name(t, path), "is a %o, manifest says %o",
		       st->st_mode & S_IFMT, le->mode & S_IFMT);
		return;
	}
	if (!S_ISLNK(le->mode) && (st->st_mode & 07777) != (le->mode & 07777))
		report(t->r, obj_name(t, path), "mode %04o, manifest says %04o",
		       st->st_mode & 07777, le->mode & 07777);
	if (!S_ISLNK(le->mode) && (st->st_uid != le->uid || st->st_gid != le->gid))
		report(t->r, obj_name(t, path), "owner %u:%u, manifest says %u:%u",
		       st->st_uid, st->st_gid, le->uid, le->gid);
	/* Directories' times change with their contents; the rest keep the
	 * tar's. */
	if (!S_ISDIR(le->mode) && st->st_mtime != le->mtime)
		report(t->r, obj_name(t, path), "mtime %lld, manifest says %lld",
		       (long long)st->st_mtime, (long long)le->mtime);
	if ((S_ISCHR(le->mode) || S_ISBLK(le->mode)) && st->st_rdev != le->rdev)
		report(t->r, obj_name(t, path), "device %u:%u, manifest says %u:%u",
		       major(st->st_rdev), minor(st->st_rdev), major(le->rdev), minor(le->rdev));
	if (S_ISREG(le->mode) && ondisk_reg) {
		if ((uint64_t)st->st_size != le->size) {
			report(t->r, obj_name(t, path), "size %lld, manifest says %llu",
			       (long long)st->st_size, (unsigned long long)le->size);
		} else if (le->digest[0]) {
			char got[DIGEST_STR_LEN + 1];
			int rc = hash_file(dirfd, name, got);
			if (rc < 0)
				report(t->r, obj_name(t, path), "cannot read: %s", strerror(-rc));
			else if (strcmp(got, le->digest))
				report(t->r, obj_name(t, path), "content has digest %s, manifest says %s",
				       got, le->digest);
		}
	}
	if (S_ISLNK(le->mode) && !le->hardlink) {
		char buf[4097];
		ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);
		if (n < 0 || !le->link || (size_t)n != strlen(le->link) || memcmp(buf, le->link, (size_t)n))
			report(t->r, obj_name(t, path), "symlink target differs from the manifest");
	}
}

static int walk(struct tree_check *t, int dirfd, const char *prefix, int depth)
{
	if (depth > 4096)
		return -ELOOP;
	_cleanup_closedir_ DIR *d = NULL;
	int rc = opendir_at(dirfd, &d);
	if (rc < 0)
		return rc;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) < 0)
			return -ENOMEM;
		struct stat st;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		bool isdir = S_ISDIR(st.st_mode);
		check_entry(t, dirfd, de->d_name, path, &st);
		if (!isdir)
			continue;
		_cleanup_close_ int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			report(t->r, obj_name(t, path), "cannot open: %s", strerror(errno));
			continue;
		}
		rc = walk(t, sub, path, depth + 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cmp_entry_ino(const void *a, const void *b, void *arg)
{
	const struct tree_check *t = arg;
	ino_t x = t->inos[*(const size_t *)a], y = t->inos[*(const size_t *)b];
	return x < y ? -1 : x > y;
}

/* The names one inode has in the tree: a hardlink group of the manifest
 * (one entry and the entries declared its hardlinks), and no name outside
 * the tree unless dedupe shares the inode with other layers, which then
 * has this one name only here.  layerfs relies on both. */
static void check_inode(struct tree_check *t, const size_t *v, size_t n)
{
	size_t plain = 0;
	for (size_t k = 0; k < n; k++)
		plain += !t->m.e[v[k]].hardlink;
	const struct layer_entry *first = &t->m.e[v[0]];
	if (plain > 1)
		for (size_t k = 1; k < n; k++)
			if (!t->m.e[v[k]].hardlink)
				report(t->r, obj_name(t, t->m.e[v[k]].path),
				       "shares its inode with '%s' but the manifest has no hardlink between them",
				       first->path);
	if (t->nlinks[v[0]] <= n || !S_ISREG(first->mode))
		return;
	if (!t->marked[v[0]])
		report(t->r, obj_name(t, first->path),
		       "has %llu links, %zu in its layer, and no %s mark",
		       (unsigned long long)t->nlinks[v[0]], n, XATTR_DEDUPE);
	else if (n > 1)
		report(t->r, obj_name(t, first->path),
		       "is shared by dedupe (%s) but has %zu names in its layer", XATTR_DEDUPE, n);
}

static int check_inodes(struct tree_check *t)
{
	_cleanup_free_ size_t *v = malloc((t->m.n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	for (size_t k = 0; k < t->m.n; k++)
		if (t->seen[k] && !t->m.e[k].removed && !S_ISDIR(t->m.e[k].mode))
			v[n++] = k;
	qsort_r(v, n, sizeof(*v), cmp_entry_ino, t);
	for (size_t k = 0; k < n;) {
		size_t j = k + 1;
		while (j < n && t->inos[v[j]] == t->inos[v[k]])
			j++;
		check_inode(t, v + k, j - k);
		k = j;
	}
	return 0;
}

static void check_missing_and_links(struct tree_check *t)
{
	for (size_t k = 0; k < t->m.n; k++) {
		const struct layer_entry *le = &t->m.e[k];
		if (le->removed)
			continue;
		if (!t->seen[k]) {
			report(t->r, obj_name(t, le->path), "missing from the tree");
			continue;
		}
		if (!le->hardlink || !le->link)
			continue;
		const struct layer_entry *target = lm_find(&t->m, le->link);
		if (!target || !t->seen[target - t->m.e] || t->inos[target - t->m.e] != t->inos[k])
			report(t->r, obj_name(t, le->path), "is not a hardlink of '%s'", le->link);
	}
}

int verify_layer(struct store *s, const char *diff_id, struct verify_report *r)
{
	struct errmsg e = { { 0 } };
	_cleanup_json_ struct json *rec = NULL;
	if (store_read_layer_record(s, diff_id, &rec, &e) < 0) {
		report(r, diff_id, "%s", e.msg);
		return 0;
	}
	struct tree_check t = { .r = r, .layer = diff_id };
	if (lm_from_json(json_get_array(rec, "entries"), &t.m) < 0) {
		report(r, diff_id, "layer record has invalid entries");
		return 0;
	}
	_cleanup_close_ int tree = store_open_layer_tree(s, diff_id, &e);
	if (tree < 0) {
		lm_free(&t.m);
		report(r, diff_id, "%s", e.msg);
		return 0;
	}
	t.seen = calloc(t.m.n + 1, sizeof(*t.seen));
	t.inos = calloc(t.m.n + 1, sizeof(*t.inos));
	t.nlinks = calloc(t.m.n + 1, sizeof(*t.nlinks));
	t.marked = calloc(t.m.n + 1, sizeof(*t.marked));
	int rc = t.seen && t.inos && t.nlinks && t.marked ? walk(&t, tree, "", 0) : -ENOMEM;
	if (rc == 0)
		check_missing_and_links(&t);
	if (rc == 0)
		rc = check_inodes(&t);
	free(t.seen);
	free(t.inos);
	free(t.nlinks);
	free(t.marked);
	lm_free(&t.m);
	return rc;
}

static int verify_images(struct store *s, struct verify_report *r, struct errmsg *e)
{
	struct image_list l = { 0 };
	int rc = images_load(s, &l, e);
	if (rc < 0) {
		report(r, "index.json", "%s", e->msg);
		e->msg[0] = '\0';
		return 0;
	}
	for (size_t k = 0; k < l.n; k++) {
		const struct image_info *i = &l.v[k];
		if (i->broken)
			report(r, i->manifest_digest, "%s", i->broken);
		for (size_t j = 0; j < i->nlayers; j++) {
			if (!store_has_blob(s, i->layers[j].blob_digest))
				report(r, i->manifest_digest, "layer blob '%s' is missing",
				       i->layers[j].blob_digest);
			if (!store_has_layer(s, i->layers[j].diff_id))
				report(r, i->manifest_digest, "extracted layer '%s' is missing",
				       i->layers[j].diff_id);
		}
	}
	images_free(&l);
	return 0;
}

int verify_store(struct store *s, struct verify_report *r, struct errmsg *e)
{
	int rc = verify_images(s, r, e);
	_cleanup_closedir_ DIR *d = NULL;
	if (rc == 0)
		rc = opendir_at(s->blobsfd, &d);
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char dg[300];
		snprintf(dg, sizeof(dg), "sha256:%s", de->d_name);
		if (!digest_valid(dg)) {
			report(r, de->d_name, "blob name is not a sha256 digest");
			continue;
		}
		rc = verify_blob(s, dg, r);
	}
	char **ids = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = layers_list(s, &ids, &n);
	for (size_t k = 0; rc == 0 && k < n; k++)
		rc = verify_layer(s, ids[k], r);
	strv_free_n(ids, n);
	if (rc < 0)
		return err_sys(e, rc, "cannot verify store '%s'", s->root);
	return 0;
}
