/* Hard links across copy-up.
 *
 * Two names of one lower inode must stay one file after either is written.
 * When such a file is copied up, every other name of it in the same layer
 * that the merged view still shows is linked to the new upper copy too,
 * so the link holds in the upper itself and survives any remount. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

struct alias_search {
	ino_t ino;
	const char *self;
	size_t want;
	char **found;
	size_t n;
};

static int walk(struct alias_search *s, int dfd, char *path, size_t len, int depth)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	struct dirent *de;
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d)) && s->n < s->want) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t l = strlen(de->d_name);
		if (len + l + 2 > PATH_MAX)
			continue;
		char *end = path + len;
		if (len)
			*end++ = '/';
		memcpy(end, de->d_name, l + 1);
		size_t nlen = (size_t)(end - path) + l;
		if (de->d_type == DT_DIR && depth < 256) {
			int fd = openat(dirfd(d), de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				int r = walk(s, fd, path, nlen, depth + 1);
				if (r == -ENOMEM)
					return r;
			}
		} else if (de->d_ino == s->ino && strcmp(path, s->self) != 0) {
			char *p = strdup(path);
			if (!p)
				return -ENOMEM;
			s->found[s->n++] = p;
		}
		path[len] = '\0';
	}
	return 0;
}

void aliases_free(char **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

/* The other names (up to NLINK-1) of inode INO in LAYER, SELF excluded. */
int aliases_find(uint16_t layer, ino_t ino, nlink_t nlink, const char *self,
		 char ***out, size_t *n)
{
	struct alias_search s = { .ino = ino, .self = self, .want = nlink - 1 };
	char path[PATH_MAX] = "";
	s.found = calloc(s.want ? s.want : 1, sizeof(char *));
	if (!s.found)
		return -ENOMEM;
	int fd = layer_open_dir(layer, ".");
	int r = fd < 0 ? fd : walk(&s, fd, path, 0, 0);
	if (r < 0) {
		aliases_free(s.found, s.n);
		return r;
	}
	*out = s.found;
	*n = s.n;
	return 0;
}

/* Walk the merged view to the directory holding PATH's last component,
 * taking references on the inodes passed (released by the caller). */
static struct inode *merged_parent(const char *path, const char **base,
				   struct inode **held, size_t *nheld, size_t maxheld)
{
	struct inode *dir = lfs->root;
	char comp[NAME_MAX + 1];
	const char *p = path, *slash;

	while ((slash = strchr(p, '/'))) {
		size_t l = (size_t)(slash - p);
		if (l == 0 || l > NAME_MAX || *nheld == maxheld)
			return NULL;
		memcpy(comp, p, l);
		comp[l] = '\0';
		if (dir_ensure(dir) < 0)
			return NULL;
		struct dentry *d = dir_find(dir, comp);
		struct fuse_entry_param e;
		if (!d || !dentry_visible(d) || d->type != DT_DIR || entry_of(dir, comp, &e) < 0)
			return NULL;
		dir = inode_get(e.ino);
		held[(*nheld)++] = dir;
		p = slash + 1;
	}
	*base = p;
	return dir_ensure(dir) == 0 ? dir : NULL;
}

/* Link the upper copy of I at the merged place of lower name ALIAS, if the
 * merged view there still shows that same lower file.  Returns 1 when the
 * name cannot be reached by its lower path (a directory above it was
 * renamed): the index then links it when it is looked up.  Caller holds
 * ns_lock exclusively. */
int alias_link_locked(struct inode *i, uint16_t layer, const char *alias)
{
	struct inode *held[PATH_MAX / 2];
	size_t nheld = 0;
	const char *base;
	int r = 0;

	struct inode *dir = merged_parent(alias, &base, held, &nheld, ARRAY_SIZE(held));
	struct dentry *d = dir ? dir_find(dir, base) : NULL;
	char lp[PATH_MAX], up[PATH_MAX];
	if (!dir)
		r = 1; /* a directory on the way is gone from its lower path */
	else if (d && dentry_visible(d) && d->layer == layer && d->ino == i->ino &&
	    path_lower_child(dir, base, lp, sizeof(lp)) == 0 && strcmp(lp, alias) == 0 &&
	    (r = copyup_dir_locked(dir)) == 0 && (r = path_upper(i, up, sizeof(up))) == 0) {
		_cleanup_close_ int pfd = upper_dir_fd(dir);
		struct stat pst;
		if (pfd < 0)
			r = pfd;
		else if (fstat(pfd, &pst) < 0 ||
			 linkat(lfs->layers[LAYER_UPPER].fd, up, pfd, base, 0) < 0)
			r = -errno;
		else
			restore_dir_times(pfd, &pst);
		if (r == 0) {
			d->layer = LAYER_UPPER;
			d->flags |= DE_LOWER;
			mark_impure_locked(dir);
		}
	}
	while (nheld)
		inode_forget(held[--nheld], 1);
	return r;
}

/* The index: when a copied-up lower hard link has a name the merged view
 * cannot reach by its lower path, the upper copy is also linked here under
 * its inode number, and a later lookup of such a name links it into place
 * (kernel overlayfs's index=on, for this one case).  The entry goes once
 * every lower name has its upper link. */
static void index_name(uint64_t ino, char *buf, size_t size)
{
	snprintf(buf, size, "%016" PRIx64, ino);
}

bool index_has(uint64_t ino)
{
	char name[32];
	struct stat st;
	/* Nearly always empty: spare getattr and lookup the probe. */
	if (lfs->indexfd < 0 || !atomic_load(&lfs->index_used))
		return false;
	index_name(ino, name, sizeof(name));
	return fstatat(lfs->indexfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool index_joins(uint64_t ino, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink > 1 && lfs->has_upper && index_has(ino);
}

int index_add_locked(struct inode *i)
{
	char name[32], up[PATH_MAX];
	int r = path_upper(i, up, sizeof(up));
	if (r < 0)
		return r;
	index_name(i->ino, name, sizeof(name));
	atomic_store(&lfs->index_used, true);
	if (linkat(lfs->layers[LAYER_UPPER].fd, up, lfs->indexfd, name, 0) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int index_link_locked(struct inode *dir, struct dentry *d, nlink_t lower_nlink)
{
	char name[32];
	struct stat pst, st;
	int r = copyup_dir_locked(dir);
	if (r < 0)
		return r;
	_cleanup_close_ int pfd = upper_dir_fd(dir);
	if (pfd < 0)
		return pfd;
	index_name(d->ino, name, sizeof(name));
	if (fstat(pfd, &pst) < 0 || linkat(lfs->indexfd, name, pfd, d->name, 0) < 0)
		return -errno;
	restore_dir_times(pfd, &pst);
	d->layer = LAYER_UPPER;
	d->flags |= DE_LOWER;
	mark_impure_locked(dir);
	/* Every lower name linked (upper names + the index entry)? */
	if (fstatat(lfs->indexfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_nlink > lower_nlink)
		unlinkat(lfs->indexfd, name, 0);
	return 0;
}
