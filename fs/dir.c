/* Merged directory listings.
 *
 * A directory's listing is built once, from the upper down through every
 * lower layer that holds the directory, applying whiteouts (char 0/0 and
 * ".wh.NAME"), opaque markers (xattr and ".wh..wh..opq") and redirects.
 * Lookups and readdir then answer from memory: a lookup never probes the
 * layers one by one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "layerfs.h"
#include "whiteout.h"

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static int list_grow(struct dirlist *l)
{
	uint32_t n = l->nbuckets ? l->nbuckets * 2 : 16;
	struct dentry **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (uint32_t i = 0; i < l->nbuckets; i++) {
		struct dentry *d = l->buckets[i], *next;
		for (; d; d = next) {
			next = d->hnext;
			d->hnext = b[d->hash & (n - 1)];
			b[d->hash & (n - 1)] = d;
		}
	}
	free(l->buckets);
	l->buckets = b;
	l->nbuckets = n;
	return 0;
}

static struct dentry *list_find(struct dirlist *l, const char *name)
{
	if (!l->nbuckets)
		return NULL;
	uint32_t h = name_hash(name);
	for (struct dentry *d = l->buckets[h & (l->nbuckets - 1)]; d; d = d->hnext)
		if (d->hash == h && strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

/* Cookies grow with each name entering the listing.  After 2^32 of them
 * in one directory they start again, which a reader paging through the
 * directory at that moment may notice as repeated names. */
static uint32_t next_cookie(struct dirlist *l)
{
	if (l->next_cookie < 3 || l->next_cookie == UINT32_MAX)
		l->next_cookie = 3;
	return l->next_cookie++;
}

static struct dentry *list_add(struct dirlist *l, const char *name, uint8_t type,
			       uint16_t layer, uint64_t ino, uint8_t flags)
{
	if (l->count >= l->nbuckets && list_grow(l) < 0)
		return NULL;
	size_t len = strlen(name);
	struct dentry *d = calloc(1, sizeof(*d) + len + 1);
	if (!d)
		return NULL;
	memcpy(d->name, name, len + 1);
	d->hash = name_hash(name);
	d->type = type;
	d->layer = layer;
	d->ino = ino;
	d->flags = flags;
	d->cookie = next_cookie(l);
	d->hnext = l->buckets[d->hash & (l->nbuckets - 1)];
	l->buckets[d->hash & (l->nbuckets - 1)] = d;
	l->count++;
	if (!(flags & DE_NEG))
		l->visible++;
	return d;
}

static void dentry_free(struct dentry *d)
{
	free(d->dlayers);
	free(d);
}

static void list_unlink(struct dirlist *l, struct dentry *d)
{
	struct dentry **pp = &l->buckets[d->hash & (l->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == d) {
			*pp = d->hnext;
			l->count--;
			if (!(d->flags & DE_NEG))
				l->visible--;
			return;
		}
	}
}

void dir_free(struct dirlist *l)
{
	for (uint32_t i = 0; i < l->nbuckets; i++) {
		struct dentry *d = l->buckets[i], *next;
		for (; d; d = next) {
			next = d->hnext;
			dentry_free(d);
		}
	}
	free(l->buckets);
	dir_snap_invalidate(l);
	free(l);
}

bool dentry_visible(const struct dentry *d)
{
	return !(d->flags & DE_NEG);
}

static int dlayers_append(struct dentry *d, uint16_t layer)
{
	uint16_t *n = realloc(d->dlayers, sizeof(*n) * (d->ndlayers + 1u));
	if (!n)
		return -ENOMEM;
	n[d->ndlayers++] = layer;
	d->dlayers = n;
	return 0;
}

/* What one directory entry of one layer is, for merging. */
struct layer_entry {
	const char *name;   /* the name it speaks for */
	uint8_t type;
	bool whiteout;
	ino_t ino;
};

/* Merge one entry of LAYER into the listing being built. */
static int merge_entry(struct dirlist *l, const struct layer_entry *e, uint16_t layer,
		       uint64_t ino)
{
	struct dentry *d = list_find(l, e->name);

	if (!d) {
		/* A whiteout stays open to the layers below only to learn
		 * whether it hides anything (DE_LOWER); a directory to merge
		 * them; anything else hides them. */
		uint8_t flags = 0;
		if (e->whiteout)
			flags |= DE_NEG | (layer == LAYER_UPPER ? DE_WHITEOUT : 0);
		else if (e->type != DT_DIR)
			flags |= DE_BLOCKED;
		d = list_add(l, e->name, e->whiteout ? DT_UNKNOWN : e->type, layer, ino, flags);
		if (!d)
			return -ENOMEM;
		if (e->type == DT_DIR && !e->whiteout && layer != LAYER_UPPER)
			return dlayers_append(d, layer);
		return 0;
	}
	if (d->layer == layer) {
		/* ".wh.NAME" and NAME in one layer: the whiteout hides only
		 * the layers below, so NAME itself shows. */
		if ((d->flags & DE_NEG) && !e->whiteout) {
			d->flags &= (uint8_t)~(DE_NEG | DE_WHITEOUT | DE_OCI_WH);
			d->type = e->type;
			d->ino = ino;
			l->visible++;
			if (e->type == DT_DIR && layer != LAYER_UPPER)
				return dlayers_append(d, layer);
		}
		return 0;
	}
	/* The first layer below the top decides whether removing the name
	 * would uncover something (whiteouts count as nothing). */
	if (!(d->flags & DE_DECIDED)) {
		if (!e->whiteout)
			d->flags |= DE_LOWER;
		d->flags |= DE_DECIDED;
	}
	if (d->flags & (DE_BLOCKED | DE_NEG)) {
		d->flags |= DE_BLOCKED;
		return 0;
	}
	if (!e->whiteout && d->type == DT_DIR && e->type == DT_DIR)
		return dlayers_append(d, layer);
	d->flags |= DE_BLOCKED;
	return 0;
}

static bool fd_is_opaque(int fd)
{
	char v[4];
	ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));
	if (n > 0 && wh_opaque_value(v, n))
		return true;
	n = fgetxattr(fd, "user.overlay.opaque", v, sizeof(v));
	return n > 0 && wh_opaque_value(v, n);
}

/* Read one layer's directory into the listing.  Sets *OPAQUE when the
 * layer's directory hides everything below it. */
static int merge_layer(struct dirlist *l, int fd, uint16_t layer, bool impure,
		       const char *dirpath, bool *opaque)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return -errno;
	}
	errno = 0;
	while ((de = readdir(d))) {
		struct layer_entry e = { .name = de->d_name, .type = de->d_type,
					 .ino = de->d_ino };
		const char *target = NULL;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (wh_is_opaque_marker(de->d_name)) {
			*opaque = true;
			continue;
		}
		if ((target = wh_oci_target(de->d_name))) {
			e.name = target;
			e.whiteout = true;
		} else if (wh_is_hidden_name(de->d_name)) {
			continue;
		} else if (e.type == DT_UNKNOWN || e.type == DT_CHR) {
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue; /* vanished: nothing to merge */
			e.type = mode_to_dt(st.st_mode);
			e.whiteout = wh_is_chardev_whiteout(&st);
		}
		uint64_t ino = ino_compose(layer, e.ino);
		if (impure && layer == LAYER_UPPER && !e.whiteout) {
			char p[PATH_MAX];
			uint64_t o;
			if (snprintf(p, sizeof(p), "%s/%s", dirpath, de->d_name) < (int)sizeof(p) &&
			    read_origin_at(LAYER_UPPER, p, &o) == 0)
				ino = o;
		}
		int r = merge_entry(l, &e, layer, ino);
		if (r < 0)
			return r;
		if (target && layer == LAYER_UPPER) {
			struct dentry *x = list_find(l, e.name);
			if (x && x->layer == layer && (x->flags & DE_NEG))
				x->flags |= DE_OCI_WH;
		}
		errno = 0;
	}
	return errno ? -errno : 0;
}

bool path_is_opaque(uint16_t L, const char *path)
{
	char v[4], m[PATH_MAX + 32];
	struct stat st;
	/* Most directories have no xattrs at all: one call tells. */
	for (int k = layer_listxattr_size(L, path) == 0 ? 2 : 0; k < 2; k++) {
		ssize_t n = layer_getxattr(L, path, k ? "user.overlay.opaque" : "trusted.overlay.opaque",
					   v, sizeof(v));
		if (n > 0 && wh_opaque_value(v, n))
			return true;
	}
	snprintf(m, sizeof(m), "%s/" WH_OPAQUE_NAME, path);
	return layer_stat(L, m, &st) == 0;
}

/* Is NAME under PARENT (a path in layer L) deleted there? */
bool path_is_whiteout(uint16_t L, const char *parent, const char *name)
{
	char p[PATH_MAX + NAME_MAX + 8];
	struct stat ws;
	int n = snprintf(p, sizeof(p), "%s%s" WH_PREFIX "%s", parent, *parent ? "/" : "", name);
	return n > 0 && (size_t)n < sizeof(p) && layer_stat(L, p, &ws) == 0;
}

/* Follow the old path of a redirected directory down layer L, as a lookup
 * from the root would: 1 when L holds it as a directory, 0 when L has
 * nothing there, -1 when L hides it from every layer below (a whiteout or
 * a non-directory on the way).  *STOP: an opaque directory on the way hides
 * the layers below L. */
static int probe_old_path(uint16_t L, const char *path, bool *stop)
{
	char cur[PATH_MAX] = "";
	const char *p = path;
	size_t len = 0;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);
		if (len + l + 2 > sizeof(cur))
			return -1;
		char name[NAME_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)l, p);
		char parent[PATH_MAX];
		memcpy(parent, cur, len + 1);
		if (len)
			cur[len++] = '/';
		memcpy(cur + len, p, l);
		len += l;
		cur[len] = '\0';
		struct stat st;
		if (layer_stat(L, cur, &st) < 0)
			return path_is_whiteout(L, parent, name) ? -1 : 0;
		if (!S_ISDIR(st.st_mode))
			return -1; /* a file, or a char 0/0 whiteout */
		if (path_is_opaque(L, cur))
			*stop = true;
		p += l;
		while (*p == '/')
			p++;
	}
	return 1;
}

/* An upper directory renamed from a lower one names its old place in a
 * redirect xattr: absolute ("/a/b") or relative to the parent. */
static int read_redirect(struct inode *dir, int upfd)
{
	char v[PATH_MAX];
	ssize_t n = fgetxattr(upfd, lfs->redirect_xattr, v, sizeof(v) - 1);
	if (n <= 0)
		return 0;
	v[n] = '\0';
	char p[PATH_MAX];
	if (v[0] == '/') {
		const char *s = v;
		while (*s == '/')
			s++;
		snprintf(p, sizeof(p), "%s", *s ? s : ".");
	} else if (path_lower_child(dir->parent, v, p, sizeof(p)) < 0) {
		return 0;
	}
	char *r = strdup(p);
	if (!r)
		return -ENOMEM;
	free(dir->redirect);
	dir->redirect = r;
	/* The lower layers holding the old path become this dir's lows. */
	uint16_t n_l = 0;
	uint16_t *lows = calloc(lfs->nlayers, sizeof(*lows));
	if (!lows)
		return -ENOMEM;
	for (uint16_t L = 1; L < lfs->nlayers; L++) {
		bool stop = false;
		int found = probe_old_path(L, r, &stop);
		if (found > 0)
			lows[n_l++] = L;
		if (found < 0 || stop)
			break;
	}
	probe_set_lows(dir, lows, n_l, false);
	return 0;
}

/* Drop lower-layer negatives (only upper whiteouts matter from now on)
 * and the build-only flag. */
static void list_settle(struct dirlist *l)
{
	for (uint32_t i = 0; i < l->nbuckets; i++) {
		struct dentry **pp = &l->buckets[i];
		while (*pp) {
			struct dentry *d = *pp;
			d->flags &= (uint8_t)~(DE_BLOCKED | DE_DECIDED);
			if ((d->flags & DE_NEG) && d->layer != LAYER_UPPER) {
				*pp = d->hnext;
				l->count--;
				dentry_free(d);
				continue;
			}
			pp = &d->hnext;
		}
	}
}

static int build_upper(struct inode *dir, struct dirlist *l, bool *opaque)
{
	char path[PATH_MAX];
	int r = path_upper(dir, path, sizeof(path));
	if (r < 0)
		return r;
	int fd = layer_open_dir(LAYER_UPPER, path);
	if (fd < 0)
		return fd;
	char v[4];
	ssize_t n = fgetxattr(fd, lfs->impure_xattr, v, sizeof(v));
	dir->impure = n > 0;
	if (fd_is_opaque(fd))
		*opaque = true;
	else if (dir != lfs->root && lfs->opts.redirect_dir && !dir->redirect &&
		 (r = read_redirect(dir, fd)) < 0) {
		close(fd);
		return r;
	}
	return merge_layer(l, fd, LAYER_UPPER, dir->impure, path, opaque);
}

static int build(struct inode *dir, struct dirlist *l)
{
	bool opaque = false;
	int r;

	if (dir->layer == LAYER_UPPER && (r = build_upper(dir, l, &opaque)) < 0)
		return r;
	/* Probes read dir->lows until the listing is published: work on a
	 * copy and install it at the end. */
	uint16_t n, keep = 0;
	uint16_t *lows = probe_copy_lows(dir, &n, &r);
	if (!lows)
		return r;
	char path[PATH_MAX];
	if (n && !opaque && (r = path_lower_dir(dir, path, sizeof(path))) < 0)
		goto fail;
	for (uint16_t k = 0; k < n && !opaque; k++) {
		uint16_t L = lows[k];
		int fd = layer_open_dir(L, path);
		if (fd < 0) {
			if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
				continue;
			r = fd;
			goto fail;
		}
		if (k + 1 < n && fd_is_opaque(fd))
			opaque = true;
		lows[keep++] = L;
		if ((r = merge_layer(l, fd, L, false, path, &opaque)) < 0)
			goto fail;
	}
	probe_set_lows(dir, lows, keep, true);
	list_settle(l);
	return 0;
fail:
	free(lows);
	return r;
}

int dir_ensure(struct inode *dir)
{
	if (__atomic_load_n(&dir->dir, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(inode_build_lock(dir));
	int r = 0;
	if (!dir->dir) {
		struct dirlist *l = calloc(1, sizeof(*l));
		if (!l) {
			r = -ENOMEM;
		} else if ((r = build(dir, l)) < 0) {
			dir_free(l);
		} else {
			__atomic_store_n(&dir->dir, l, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(inode_build_lock(dir));
	return r;
}

/* The visible entry NAME of DIR, its listing built if need be. */
int dir_lookup(struct inode *dir, const char *name, struct dentry **out)
{
	int r = dir_ensure(dir);
	if (r < 0)
		return r;
	struct dentry *d = dir_find(dir, name);
	if (!d || !dentry_visible(d))
		return -ENOENT;
	*out = d;
	return 0;
}

struct dentry *dir_find(struct inode *dir, const char *name)
{
	return dir->dir ? list_find(dir->dir, name) : NULL;
}

struct dentry *dir_add(struct inode *dir, const char *name, uint8_t type,
		       uint16_t layer, uint64_t ino, uint8_t flags)
{
	dir_snap_invalidate(dir->dir);
	return list_add(dir->dir, name, type, layer, ino, flags);
}

void dir_remove(struct inode *dir, struct dentry *d)
{
	dir_snap_invalidate(dir->dir);
	list_unlink(dir->dir, d);
	dentry_free(d);
}

/* D changed in place: shown or hidden, or (RENAMED) now another file.  A
 * name that shows again counts as new for readers paging through. */
void dir_entry_changed(struct inode *dir, struct dentry *d, bool renamed)
{
	dir_snap_invalidate(dir->dir);
	if (renamed)
		d->cookie = next_cookie(dir->dir);
}
