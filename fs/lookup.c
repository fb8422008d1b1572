/* Name lookup, attributes, symlinks, statfs: the read side of the tree. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

/* Does an upper regular file hold only metadata, its data in a lower? */
static bool find_metacopy_data(struct inode *dir, struct dentry *d, uint16_t *datalayer,
			       struct stat *st)
{
	char path[PATH_MAX];
	if (path_upper_child(dir, d->name, path, sizeof(path)) < 0 ||
	    layer_getxattr(LAYER_UPPER, path, lfs->metacopy_xattr, NULL, 0) < 0)
		return false;
	if (path_lower_child(dir, d->name, path, sizeof(path)) < 0)
		return false;
	for (uint16_t k = 0; k < dir->nlows; k++) {
		struct stat ls;
		if (layer_stat(dir->lows[k], path, &ls) == 0 && S_ISREG(ls.st_mode)) {
			*datalayer = dir->lows[k];
			st->st_blocks = ls.st_blocks;
			return true;
		}
	}
	return false;
}

static int copy_lows(struct inode *i, const struct found *f)
{
	if (!f->nlows)
		return 0;
	i->lows = malloc(sizeof(*i->lows) * f->nlows);
	if (!i->lows)
		return -ENOMEM;
	memcpy(i->lows, f->lows, sizeof(*i->lows) * f->nlows);
	i->nlows = f->nlows;
	i->lows_partial = f->lows_partial;
	return 0;
}

static int found_in_listing(struct inode *dir, const char *name, struct found *f, bool excl)
{
	struct dentry *d;
	int r = dir_lookup(dir, name, &d);
	if (r < 0)
		return r;
	if (atomic_exchange_explicit(&d->lean, 0, memory_order_relaxed))
		readdir_lean_miss();
	if ((r = attr_of_dentry(dir, d, &f->st)) < 0)
		return r;
	if (d->layer != LAYER_UPPER && index_joins(d->ino, &f->st)) {
		/* Another name of this file was copied up: join it. */
		if (!excl)
			return -EAGAIN;
		if ((r = index_link_locked(dir, d, f->st.st_nlink)) < 0 ||
		    (r = attr_of_dentry(dir, d, &f->st)) < 0)
			return r;
	}
	f->ino = d->ino;
	f->layer = d->layer;
	f->datalayer = 0;
	f->metacopy = d->layer == LAYER_UPPER && d->type == DT_REG && dir->impure &&
		      find_metacopy_data(dir, d, &f->datalayer, &f->st);
	f->lows_partial = false;
	f->nlows = d->type == DT_DIR ? d->ndlayers : 0;
	f->lows = d->dlayers;
	return 0;
}

/* Resolve DIR/NAME into a FUSE entry, taking one kernel reference on its
 * inode.  Caller holds ns_lock; EXCL says exclusively (then a stale inode
 * found by number is re-pointed at this name, else -EAGAIN asks for a retry
 * with the lock held exclusively). */
static int entry_of_locked(struct inode *dir, const char *name,
			   struct fuse_entry_param *e, bool excl)
{
	struct found f;
	int r = probe_lookup(dir, name, &f);
	if (r == 0)
		r = found_in_listing(dir, name, &f, excl);
	if (r < 0)
		return r;
	bool created;
	struct inode *i = inode_find_or_add(f.ino, mode_to_dt(f.st.st_mode), f.layer,
					    dir, name, &created);
	if (!i)
		return -ENOMEM;
	if (created) {
		i->metacopy = f.metacopy;
		i->datalayer = f.datalayer;
		if (S_ISDIR(f.st.st_mode) && (r = copy_lows(i, &f)) < 0) {
			inode_forget(i, 1);
			return r;
		}
	} else if (i->stale) {
		if (!excl) {
			inode_forget(i, 1);
			return -EAGAIN;
		}
		if ((r = inode_set_name(i, dir, name)) < 0) {
			inode_forget(i, 1);
			return r;
		}
		i->layer = f.layer;
		atomic_store(&i->xattrs, XATTRS_UNKNOWN);
	}
	memset(e, 0, sizeof(*e));
	e->ino = (uintptr_t)i;
	e->attr = f.st;
	e->attr_timeout = lfs->timeout;
	e->entry_timeout = lfs->timeout;
	return 0;
}

/* For callers holding ns_lock exclusively. */
int entry_of(struct inode *dir, const char *name, struct fuse_entry_param *e)
{
	return entry_of_locked(dir, name, e, true);
}

/* For callers holding ns_lock shared: -EAGAIN when only an exclusive
 * holder may resolve the name. */
int entry_of_shared(struct inode *dir, const char *name, struct fuse_entry_param *e)
{
	return entry_of_locked(dir, name, e, false);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *dir = inode_get(parent);
	struct fuse_entry_param e;
	int r;

	if (dir->type != DT_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	{
		NS_READ;
		r = entry_of_locked(dir, name, &e, false);
	}
	if (r == -EAGAIN) {
		NS_WRITE;
		r = entry_of_locked(dir, name, &e, true);
	}
	if (r == -ENOENT) {
		/* Negative entries are cached like positive ones: every
		 * change of the namespace goes through this daemon. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = lfs->timeout;
		fuse_reply_entry(req, &e);
	} else if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		fuse_reply_entry(req, &e);
	}
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(inode_get(ino), nlookup);
	fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t k = 0; k < count; k++)
		inode_forget(inode_get(forgets[k].ino), forgets[k].nlookup);
	inode_trim_memory();
	fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct inode *i = inode_get(ino);
	struct stat st;
	int r;

	if (fi && fi->fh && i->type == DT_REG && !i->metacopy) {
		int fd = fh_fd(fi);
		r = fstat(fd, &st) < 0 ? -errno : 0;
		if (r == 0)
			attr_fixup(&st, i->ino, fd, i->layer, NULL);
		reply_attr(req, r, &st);
		return;
	}
	reply_attr_of(req, i, 0);
}

/* Reply with I's attributes, or with error R. */
void reply_attr_of(fuse_req_t req, struct inode *i, int r)
{
	struct stat st;
	if (r == 0) {
		NS_READ;
		r = attr_of_inode(i, &st);
	}
	reply_attr(req, r, &st);
}

void reply_attr(fuse_req_t req, int r, const struct stat *st)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, st, lfs->timeout);
}

void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct inode *i = inode_get(ino);
	char path[PATH_MAX], target[PATH_MAX + 1];
	ssize_t n;
	{
		NS_READ;
		int r = path_in_layer(i, i->layer, path, sizeof(path));
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		n = readlinkat(lfs->layers[i->layer].fd, path, target, sizeof(target) - 1);
	}
	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	target[n] = '\0';
	fuse_reply_readlink(req, target);
}

void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int fd = lfs->has_upper ? lfs->layers[LAYER_UPPER].fd : lfs->layers[1].fd;
	if (fstatvfs(fd, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_statfs(req, &sv);
}

void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct inode *i = inode_get(ino);
	struct stat st;
	int r;
	{
		NS_READ;
		r = attr_of_inode(i, &st);
	}
	if (r == 0 && (mask & W_OK) && !lfs->has_upper)
		r = -EROFS;
	fuse_reply_err(req, -r);
}
