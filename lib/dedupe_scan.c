/* Reading layers for dedupe: the candidate files of a tree, and their
 * partial and full hashes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock_ns.h"
#include "dedupe_int.h"
#include "fsutil.h"
#include "json.h"
#include "layer_manifest.h"

struct scan {
	struct dd_ctx *c;
	uint32_t layer;
	struct layer_manifest m;
	bool *in_group;        /* per manifest entry: part of a hardlink group */
	size_t first;          /* first file of this layer in c->files */
};

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Does the file carry the dedupe mark (its other names are in other
 * layers)? */
static bool has_mark(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	char v[8];
	return fd >= 0 && fgetxattr(fd, XATTR_DEDUPE, v, sizeof(v)) > 0;
}

static int add_candidate(struct scan *sc, int dirfd, const char *name, const char *path,
			 const struct stat *st)
{
	struct dd_file f = {
		.size = (uint64_t)st->st_size, .mtime_ns = ts_ns(&st->st_mtim),
		.ino = (uint64_t)st->st_ino, .blocks = (uint64_t)st->st_blocks * 512,
		.layer = sc->layer, .flags = DDF_FRESH,
	};
	const struct layer_entry *le = lm_find(&sc->m, path);
	/* Only a file the manifest knows as a plain file, with no other name
	 * in its own tree, may take a name of another tree's file. */
	bool alone = le && !sc->in_group[le - sc->m.e] && S_ISREG(le->mode);
	if (alone && (st->st_nlink == 1 || has_mark(dirfd, name)))
		f.flags |= DDF_LINKABLE;
	f.path = strdup(path);
	if (!f.path)
		return -ENOMEM;
	int r = dd_add_file(sc->c, &f);
	if (r < 0)
		free(f.path);
	sc->c->st->files_scanned++;
	return r;
}

static int walk(struct scan *sc, int dirfd, const char *prefix, int depth)
{
	if (depth > 4096)
		return -ELOOP;
	_cleanup_closedir_ DIR *d = NULL;
	int r = opendir_at(dirfd, &d);
	if (r < 0)
		return r;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		if (de->d_type != DT_UNKNOWN && de->d_type != DT_REG && de->d_type != DT_DIR)
			continue;
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", n) < 0)
			return -ENOMEM;
		struct stat st;
		if (de->d_type == DT_DIR) {
			st.st_mode = S_IFDIR;    /* no stat needed to descend */
		} else if (fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			return -errno;
		}
		if (S_ISREG(st.st_mode) && st.st_size > 0) {
			r = add_candidate(sc, dirfd, n, path, &st);
		} else if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dirfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = sub < 0 ? -errno : walk(sc, sub, path, depth + 1);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct dd_file *x = a, *y = b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Two names of one inode in a tree are a hardlink of the layer, whatever
 * the manifest says: neither may be joined to another tree. */
static void unmark_shared_in_tree(struct scan *sc)
{
	size_t n = sc->c->nfiles - sc->first;
	if (n < 2)
		return;     /* also: no files, no vector (a layer on a thread of its own) */
	struct dd_file *v = sc->c->files + sc->first;
	qsort(v, n, sizeof(*v), cmp_ino);
	for (size_t k = 0; k + 1 < n; k++)
		if (v[k].ino == v[k + 1].ino) {
			v[k].flags &= ~(uint32_t)DDF_LINKABLE;
			v[k + 1].flags &= ~(uint32_t)DDF_LINKABLE;
		}
}

int dd_scan_layer(struct dd_ctx *c, uint32_t layer)
{
	struct dd_layer *l = &c->layers[layer];
	struct scan sc = { .c = c, .layer = layer, .first = c->nfiles };
	char diff[DIGEST_STR_LEN + 1];
	snprintf(diff, sizeof(diff), "sha256:%s", l->hex);
	_cleanup_json_ struct json *rec = NULL;
	struct errmsg le = { { 0 } };
	int r = store_read_layer_record(c->s, diff, &rec, &le);
	if (r == 0 && lm_from_json(json_get_array(rec, "entries"), &sc.m) < 0)
		r = -EINVAL;
	if (r < 0)
		return err_sys(c->e, r, "cannot read the record of layer '%s'", diff);
	sc.in_group = calloc(sc.m.n + 1, sizeof(bool));
	if (!sc.in_group) {
		lm_free(&sc.m);
		return -ENOMEM;
	}
	for (size_t k = 0; k < sc.m.n; k++) {
		const struct layer_entry *e = &sc.m.e[k];
		if (e->removed || !e->hardlink)
			continue;
		sc.in_group[k] = true;
		struct layer_entry *t = e->link ? lm_find(&sc.m, e->link) : NULL;
		if (t)
			sc.in_group[t - sc.m.e] = true;
	}
	r = walk(&sc, l->treefd, "", 0);
	if (r == 0)
		unmark_shared_in_tree(&sc);
	free(sc.in_group);
	lm_free(&sc.m);
	if (r < 0)
		return err_sys(c->e, r, "cannot read layer tree '%s'", diff);
	return 0;
}

int dd_open_file(struct dd_ctx *c, const struct dd_file *f)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int dirfd = c->layers[f->layer].treefd;
	int fd, waited = 0;
	do {
		fd = (int)RETRY_EINTR(syscall(SYS_openat2, dirfd, f->path, &how, sizeof(how)));
		if (fd < 0 && errno == EPERM && (how.flags & O_NOATIME)) {
			how.flags &= ~(uint64_t)O_NOATIME;
			fd = (int)RETRY_EINTR(syscall(SYS_openat2, dirfd, f->path, &how, sizeof(how)));
		}
	} while (fd < 0 && dd_fd_wait(errno, &waited));
	return fd < 0 ? -errno : fd;
}

#define FD_WAIT_MS 2000

bool dd_fd_wait(int err, int *waited)
{
	if ((err != EMFILE && err != ENFILE) || *waited >= FD_WAIT_MS)
		return false;
	nanosleep(&(struct timespec){ 0, NS_PER_MS }, NULL);
	++*waited;
	return true;
}

/* Open F and check it is still the file the entry describes. */
static int open_checked(struct dd_ctx *c, struct dd_file *f)
{
	int fd = dd_open_file(c, f);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size ||
	    ts_ns(&st.st_mtim) != f->mtime_ns) {
		close(fd);
		return -ESTALE;
	}
	f->ino = (uint64_t)st.st_ino;
	return fd;
}

static int read_at(int fd, char *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = RETRY_EINTR(pread(fd, buf + got, len - got, (off_t)(off + got)));
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ESTALE;    /* shrank */
		got += (size_t)n;
	}
	return 0;
}

static void skip(struct dd_ctx *c, struct dd_file *f)
{
	f->flags |= DDF_SKIP;
	c->st->skipped++;
}

int dd_hash_partial(struct dd_ctx *c, struct dd_file *f)
{
	_cleanup_close_ int fd = open_checked(c, f);
	if (fd < 0) {
		skip(c, f);
		return 0;
	}
	int r;
	if (f->size <= 2 * DD_PARTIAL_BLOCK) {
		/* The partial hash saw every byte: the full one comes free. */
		r = read_at(fd, c->buf_a, f->size, 0);
		if (r == 0) {
			f->partial = XXH3_64bits(c->buf_a, f->size);
			f->full = XXH3_128bits(c->buf_a, f->size);
			f->flags |= DDF_PARTIAL | DDF_FULL;
			c->st->files_hashed++;
			c->st->bytes_hashed += f->size;
		}
	} else {
		r = read_at(fd, c->buf_a, DD_PARTIAL_BLOCK, 0);
		if (r == 0)
			r = read_at(fd, c->buf_a + DD_PARTIAL_BLOCK, DD_PARTIAL_BLOCK, f->size - DD_PARTIAL_BLOCK);
		if (r == 0) {
			f->partial = XXH3_64bits(c->buf_a, 2 * DD_PARTIAL_BLOCK);
			f->flags |= DDF_PARTIAL;
		}
	}
	if (r < 0)
		skip(c, f);
	else
		c->st->partial_hashed++;
	return 0;
}

int dd_hash_full(struct dd_ctx *c, struct dd_file *f)
{
	_cleanup_close_ int fd = open_checked(c, f);
	if (fd < 0) {
		skip(c, f);
		return 0;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	XXH3_state_t *h = XXH3_createState();
	if (!h)
		return -ENOMEM;
	XXH3_128bits_reset(h);
	uint64_t done = 0;
	int r = 0;
	while (done < f->size) {
		ssize_t n = RETRY_EINTR(read(fd, c->buf_a, DD_BUF));
		if (n <= 0) {
			r = n < 0 ? -errno : -ESTALE;
			break;
		}
		XXH3_128bits_update(h, c->buf_a, (size_t)n);
		done += (uint64_t)n;
		c->st->bytes_hashed += (uint64_t)n;
		dd_progress(c, (uint64_t)n);
	}
	if (r == 0 && done == f->size) {
		f->full = XXH3_128bits_digest(h);
		f->flags |= DDF_FULL;
		c->st->files_hashed++;
	} else {
		skip(c, f);
	}
	XXH3_freeState(h);
	return 0;
}
