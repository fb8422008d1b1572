/* Disk usage of layer trees (see disk_usage.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "cleanup.h"
#include "disk_usage.h"
#include "fsutil.h"

void inoset_free(struct inoset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static size_t slot(const struct inoset *s, uint64_t ino)
{
	size_t mask = s->cap - 1, k = (size_t)XXH3_64bits(&ino, sizeof(ino)) & mask;
	while (s->v[k] && s->v[k] != ino)
		k = (k + 1) & mask;
	return k;
}

/* 1 when INO was new (and is now in), 0 when seen, or -ENOMEM. */
static int inoset_add(struct inoset *s, uint64_t ino)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct inoset g = { calloc(s->cap ? s->cap * 2 : 1024, sizeof(uint64_t)), 0,
				    s->cap ? s->cap * 2 : 1024 };
		if (!g.v)
			return -ENOMEM;
		for (size_t k = 0; k < s->cap; k++)
			if (s->v[k])
				g.v[slot(&g, s->v[k])] = s->v[k], g.n++;
		free(s->v);
		*s = g;
	}
	size_t k = slot(s, ino);
	if (s->v[k])
		return 0;
	s->v[k] = ino;
	s->n++;
	return 1;
}

struct du {
	struct inoset *seen;
	struct inoset own;     /* this layer's inodes, for its apparent size */
	uint64_t disk, apparent;
};

static int walk(struct du *d, int dirfd, int depth)
{
	if (depth > 4096)
		return -ELOOP;
	_cleanup_closedir_ DIR *dir = NULL;
	int r = opendir_at(dirfd, &dir);
	if (r < 0)
		return r;
	struct dirent *de;
	while ((de = readdir(dir))) {
		const char *n = de->d_name;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		struct stat st;
		if (fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		/* A store is one filesystem: the inode number names the file. */
		uint64_t key = (uint64_t)st.st_ino ? (uint64_t)st.st_ino : UINT64_MAX;
		r = inoset_add(d->seen, key);
		if (r > 0)
			d->disk += (uint64_t)st.st_blocks * 512;
		if (r >= 0 && S_ISREG(st.st_mode)) {
			r = inoset_add(&d->own, key);
			if (r > 0)
				d->apparent += (uint64_t)st.st_size;
		}
		if (r >= 0 && S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dirfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = sub < 0 ? -errno : walk(d, sub, depth + 1);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int layer_disk_usage(struct store *s, const char *diff_id, struct inoset *seen,
		     uint64_t *disk, uint64_t *apparent)
{
	struct errmsg e = { { 0 } };
	_cleanup_close_ int tree = store_open_layer_tree(s, diff_id, &e);
	if (tree < 0)
		return tree;
	struct du d = { .seen = seen };
	int r = walk(&d, tree, 0);
	inoset_free(&d.own);
	if (r < 0)
		return r;
	*disk += d.disk;
	*apparent += d.apparent;
	return 0;
}
