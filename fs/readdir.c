/* Directory reading from the merged listing.
 *
 * The first readdir of a handle takes a snapshot of the listing (names,
 * types, inode numbers), so offsets stay meaningful while the directory
 * changes; reading from offset 0 again takes a fresh one, as rewinddir(3)
 * expects. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs.h"

struct snap_entry {
	uint64_t ino;
	uint8_t type;
	char *name;
};

struct dirhandle {
	pthread_mutex_t lock;
	struct snap_entry *e;
	size_t n;
	char *names;
};

static void snap_free(struct dirhandle *h)
{
	free(h->e);
	free(h->names);
	h->e = NULL;
	h->names = NULL;
	h->n = 0;
}

static int snap_take(struct inode *dir, struct dirhandle *h)
{
	NS_READ;
	int r = dir_ensure(dir);
	if (r < 0)
		return r;
	struct dirlist *l = dir->dir;
	size_t bytes = 5; /* ".", ".." */
	for (uint32_t b = 0; b < l->nbuckets; b++)
		for (struct dentry *d = l->buckets[b]; d; d = d->hnext)
			bytes += strlen(d->name) + 1;
	struct snap_entry *e = calloc(l->visible + 2, sizeof(*e));
	char *names = malloc(bytes);
	if (!e || !names) {
		free(e);
		free(names);
		return -ENOMEM;
	}
	size_t n = 0;
	char *p = names;
	struct inode *parent = dir->parent ? dir->parent : dir;
	e[n++] = (struct snap_entry){ dir->ino, DT_DIR, strcpy(p, ".") };
	p += 2;
	e[n++] = (struct snap_entry){ parent->ino, DT_DIR, strcpy(p, "..") };
	p += 3;
	for (uint32_t b = 0; b < l->nbuckets; b++) {
		for (struct dentry *d = l->buckets[b]; d; d = d->hnext) {
			if (!dentry_visible(d))
				continue;
			e[n++] = (struct snap_entry){ d->ino, d->type, strcpy(p, d->name) };
			p += strlen(d->name) + 1;
		}
	}
	snap_free(h);
	h->e = e;
	h->n = n;
	h->names = names;
	return 0;
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirhandle *h = calloc(1, sizeof(*h));
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&h->lock, NULL);
	/* The snapshot is taken by the first readdir: with the kernel
	 * caching listings, most opens never read. */
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 1;
	/* The kernel may keep listings: every change goes through us, and it
	 * drops a directory's cached listing when it changes one. */
	fi->cache_readdir = 1;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		snap_free(h);
		free(h);
	}
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct inode *dir = inode_get(ino);
	struct dirhandle *h = (struct dirhandle *)(uintptr_t)fi->fh;
	_cleanup_free_ char *buf = malloc(size);
	size_t used = 0;
	int r = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if ((off == 0 || !h->e) && (r = snap_take(dir, h)) < 0)
		goto out;
	for (size_t k = (size_t)off; k < h->n; k++) {
		struct snap_entry *s = &h->e[k];
		struct stat st = { .st_ino = s->ino, .st_mode = (mode_t)DTTOIF(s->type) };
		size_t len;
		if (!plus) {
			len = fuse_add_direntry(req, buf + used, size - used, s->name, &st,
						(off_t)k + 1);
			if (len > size - used)
				break;
			used += len;
			continue;
		}
		struct fuse_entry_param e = { .attr = st };
		bool dots = k < 2;
		if (!dots) {
			NS_READ;
			/* Gone since the snapshot, or to be resolved by a
			 * lookup: send the plain entry. */
			if (entry_of_shared(dir, s->name, &e) < 0) {
				e.ino = 0;
				e.attr = st;
			}
		}
		len = fuse_add_direntry_plus(req, buf + used, size - used, s->name, &e,
					     (off_t)k + 1);
		if (len > size - used) {
			if (e.ino)
				inode_forget(inode_get(e.ino), 1);
			break;
		}
		used += len;
	}
out:
	pthread_mutex_unlock(&h->lock);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, buf, used);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirhandle *h = (struct dirhandle *)(uintptr_t)fi->fh;
	snap_free(h);
	pthread_mutex_destroy(&h->lock);
	free(h);
	fuse_reply_err(req, 0);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int r = 0;
	if (lfs->has_upper && lfs->opts.fsync) {
		NS_READ;
		struct inode *dir = inode_get(ino);
		char path[PATH_MAX];
		if (dir->layer == LAYER_UPPER && path_upper(dir, path, sizeof(path)) == 0) {
			int fd = layer_open_dir(LAYER_UPPER, path);
			if (fd >= 0) {
				r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
				close(fd);
			}
		}
	}
	fuse_reply_err(req, -r);
}
