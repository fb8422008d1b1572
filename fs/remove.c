/* Removing names: unlink and rmdir.
 *
 * A name that a lower layer still holds is replaced by a whiteout; a name
 * that lives only in the upper is simply removed, so `mkdir x; rmdir x`
 * leaves nothing behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

/* The file whose primary name this was has lost it. */
void dentry_forget_name(struct inode *dir, struct dentry *d, bool gone)
{
	struct inode *i = inode_peek(d->ino);
	if (!i || i->stale || i->parent != dir || strcmp(i->name, d->name) != 0)
		return;
	i->stale = true;
	if (gone)
		inode_unhash(i);
}

/* A file removed while open stays reachable for fstat and fchmod through
 * an O_PATH descriptor taken before its name goes.  So does one REPLACED
 * by a rename while the kernel knows it even if nobody has it open: a
 * path walk that found it just before may still open it, as on any local
 * filesystem (the old version; without the anchor that open would fail
 * with ESTALE whenever the kernel's one retry raced another rename). */
void anchor_before_remove(struct inode *dir, struct dentry *d, int pfd, bool replaced)
{
	struct inode *i = inode_peek(d->ino);
	if (!i || i->type == DT_DIR || i->anchor_fd >= 0 || d->layer != LAYER_UPPER ||
	    (!replaced && atomic_load(&i->nopen) == 0))
		return;
	i->anchor_fd = openat(pfd, d->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

/* Give I's name to a new inode.  I keeps the handles open on it, which
 * the kernel has bound to the file they opened (passthrough.c), and is
 * found no more: the next lookup of the name makes a new inode, as after
 * a rename over it.  Like a replaced file, I is reached through an anchor
 * on its file from then on. */
void inode_detach(struct inode *i)
{
	NS_WRITE;
	if (i->stale || i->type != DT_REG)
		return;
	char path[PATH_MAX];
	if (i->anchor_fd < 0 && path_in_layer(i, i->layer, path, sizeof(path)) == 0)
		i->anchor_fd = layer_open(i->layer, path, O_PATH | O_NOFOLLOW);
	i->stale = true;
	inode_unhash(i);
}

/* Is directory DIR/D empty in the merged view? */
int dir_check_empty(struct inode *dir, struct dentry *d)
{
	struct fuse_entry_param e;
	int r = entry_of(dir, d->name, &e);
	if (r < 0)
		return r;
	struct inode *child = inode_get(e.ino);
	r = dir_ensure(child);
	if (r == 0 && child->dir->visible > 0)
		r = -ENOTEMPTY;
	inode_forget(child, 1);
	return r;
}

/* Turn D into the negative entry of a whiteout of FORM (0 char, 1 OCI). */
void dentry_become_whiteout(struct inode *dir, struct dentry *d, int form)
{
	if (dentry_visible(d))
		dir->dir->visible--;
	d->flags |= DE_NEG | DE_WHITEOUT | DE_LOWER;
	d->flags &= (uint8_t)~DE_OCI_WH;
	if (form == 1)
		d->flags |= DE_OCI_WH;
	d->layer = LAYER_UPPER;
	free(d->dlayers);
	d->dlayers = NULL;
	d->ndlayers = 0;
	dir_entry_changed(dir, d, false);
}

static int do_remove(struct inode *dir, const char *name, bool isdir)
{
	if (!lfs->has_upper)
		return -EROFS;
	NS_WRITE;
	struct dentry *d;
	int r = dir_lookup(dir, name, &d);
	if (r < 0)
		return r;
	if (isdir && d->type != DT_DIR)
		return -ENOTDIR;
	if (!isdir && d->type == DT_DIR)
		return -EISDIR;
	if (isdir && (r = dir_check_empty(dir, d)) < 0)
		return r;
	bool needs_wh = d->layer != LAYER_UPPER || (d->flags & DE_LOWER);
	if ((r = copyup_dir_locked(dir)) < 0)
		return r;
	_cleanup_close_ int pfd = upper_dir_fd(dir);
	if (pfd < 0)
		return pfd;

	bool gone = true;
	int form = 0;
	anchor_before_remove(dir, d, pfd, false);
	if (d->layer == LAYER_UPPER) {
		struct stat st;
		if (!isdir && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink > 1)
			gone = false;
		if (needs_wh)
			form = r = upper_replace_with_whiteout(pfd, name, isdir);
		else if (isdir)
			r = upper_purge_dir(pfd, name);
		else
			r = unlinkat(pfd, name, 0) < 0 ? -errno : 0;
	} else {
		form = r = upper_whiteout_at(pfd, name);
	}
	if (r < 0)
		return r;
	dentry_forget_name(dir, d, gone);
	if (needs_wh)
		dentry_become_whiteout(dir, d, form);
	else
		dir_remove(dir, d);
	return 0;
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_remove(inode_get(parent), name, false));
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_remove(inode_get(parent), name, true));
}
