/* Creating names: create, mknod, mkdir, symlink, link.
 *
 * A new name goes straight into the upper directory, unless the upper holds
 * a whiteout there: then the new entry is built in the work directory and
 * renamed over the whiteout (a directory is swapped with it and made
 * opaque, so nothing of the deleted lower directory shows through). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "layerfs.h"
#include "whiteout.h"

struct newent {
	mode_t mode;          /* type and permission bits */
	dev_t rdev;
	const char *link;     /* symlink target */
	struct inode *src;    /* hard link source */
	int fd;               /* create: the opened file */
	int open_flags;
};

/* Make the object itself at DIRFD/NAME. */
static int make_object(int dirfd, const char *name, struct newent *n)
{
	switch (n->mode & S_IFMT) {
	case S_IFDIR:
		return mkdirat(dirfd, name, n->mode & 07777) < 0 ? -errno : 0;
	case S_IFLNK:
		return symlinkat(n->link, dirfd, name) < 0 ? -errno : 0;
	case S_IFREG:
		if (n->fd == -2) /* mknod of a regular file */
			return create_empty_at(dirfd, name, n->mode & 07777, true);
		n->fd = openat(dirfd, name,
			       (layer_open_flags(n->open_flags) & ~O_TRUNC) |
				       O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       n->mode & 07777);
		return n->fd < 0 ? -errno : 0;
	default:
		if (mknodat(dirfd, name, n->mode, n->rdev) == 0)
			return 0;
		if (errno == EPERM && (S_ISCHR(n->mode) || S_ISBLK(n->mode)) &&
		    lfs->override_stat && n->rdev != 0) {
			/* Unprivileged device: a placeholder file that the
			 * override xattr turns back into a device. */
			int r = create_empty_at(dirfd, name, 0600, true);
			return r < 0 ? r : 1;
		}
		return -errno;
	}
}

static int link_object(struct inode *src, int dirfd, const char *name)
{
	char path[PATH_MAX];
	int r = path_upper(src, path, sizeof(path));
	if (r < 0)
		return r;
	return linkat(lfs->layers[LAYER_UPPER].fd, path, dirfd, name, 0) < 0 ? -errno : 0;
}

/* Build the new entry at DIRFD/NAME with the caller's ownership. */
static int build_entry(fuse_req_t req, int dirfd, const char *name, struct newent *n,
		       const struct stat *pst)
{
	if (n->src)
		return link_object(n->src, dirfd, name);
	int r = make_object(dirfd, name, n);
	if (r < 0)
		return r;
	bool placeholder = r == 1;
	r = own_new(dirfd, name, req, n->mode, pst, S_ISLNK(n->mode));
	if (r == 0 && placeholder) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		struct stat want = { .st_uid = (uid_t)id_to_disk(true, ctx->uid),
				     .st_gid = (gid_t)id_to_disk(false, ctx->gid),
				     .st_mode = n->mode, .st_rdev = n->rdev };
		r = apply_override_stat(dirfd, name, &want);
	}
	return r;
}

static void undo_entry(int dirfd, const char *name, bool isdir)
{
	unlinkat(dirfd, name, isdir ? AT_REMOVEDIR : 0);
}

/* Replace the upper whiteout NAME by the new entry. */
static int over_whiteout(fuse_req_t req, int pfd, const char *name, struct dentry *d,
			 struct newent *n, const struct stat *pst)
{
	bool isdir = S_ISDIR(n->mode);
	int r;

	if (d->flags & DE_OCI_WH) {
		if ((r = build_entry(req, pfd, name, n, pst)) < 0)
			return r;
		if (isdir && (r = upper_set_opaque_at(pfd, name)) < 0) {
			undo_entry(pfd, name, true);
			return r;
		}
		return upper_remove_oci_whiteout(pfd, name);
	}
	char tmp[64];
	if ((r = upper_tmpname(tmp, sizeof(tmp))) < 0)
		return r;
	if ((r = build_entry(req, lfs->workfd, tmp, n, pst)) < 0)
		return r;
	if (isdir)
		r = upper_set_opaque_at(lfs->workfd, tmp);
	if (r == 0 && renameat2(lfs->workfd, tmp, pfd, name, isdir ? RENAME_EXCHANGE : 0) < 0)
		r = -errno;
	if (r < 0) {
		undo_entry(lfs->workfd, tmp, isdir);
		return r;
	}
	if (isdir)
		unlinkat(lfs->workfd, tmp, 0); /* the whiteout, swapped out */
	return 0;
}

/* Record the new name in the listing.  D is the whiteout it replaced. */
static int note_entry(struct inode *dir, const char *name, struct dentry *d, int pfd,
		      struct newent *n)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	uint64_t ino = n->src ? n->src->ino : ino_compose(LAYER_UPPER, st.st_ino);
	uint8_t type = mode_to_dt(n->src ? st.st_mode : n->mode);
	if (d) {
		d->flags &= (uint8_t)~(DE_NEG | DE_WHITEOUT | DE_OCI_WH);
		d->type = type;
		d->layer = LAYER_UPPER;
		d->ino = ino;
		dir->dir->visible++;
		dir_entry_changed(dir, d, true);
		return 0;
	}
	return dir_add(dir, name, type, LAYER_UPPER, ino, 0) ? 0 : -ENOMEM;
}

static int do_new(fuse_req_t req, struct inode *dir, const char *name, struct newent *n,
		  struct fuse_entry_param *e)
{
	if (!lfs->has_upper)
		return -EROFS;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	NS_WRITE;
	int r = dir_ensure(dir);
	if (r < 0)
		return r;
	struct dentry *d = dir_find(dir, name);
	if (d && dentry_visible(d))
		return -EEXIST;
	if (n->src && (n->src->layer != LAYER_UPPER || n->src->stale))
		return -ENOENT; /* deleted or replaced since op_link copied it up */
	if ((r = copyup_dir_locked(dir)) < 0)
		return r;
	_cleanup_close_ int pfd = upper_dir_fd(dir);
	if (pfd < 0)
		return pfd;
	struct stat pst;
	if (fstat(pfd, &pst) < 0)
		return -errno;
	r = d ? over_whiteout(req, pfd, name, d, n, &pst) : build_entry(req, pfd, name, n, &pst);
	if (r < 0)
		return r;
	if (n->src)
		mark_impure_locked(dir);
	if ((r = note_entry(dir, name, d, pfd, n)) < 0)
		return r;
	return entry_of(dir, name, e);
}

static void reply_new(fuse_req_t req, fuse_ino_t parent, const char *name, struct newent *n)
{
	struct fuse_entry_param e;
	int r = do_new(req, inode_get(parent), name, n, &e);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct newent n = { .mode = mode, .rdev = rdev, .fd = -2 };
	if (S_ISCHR(mode) && rdev == 0) {
		/* A 0/0 device would read back as a whiteout. */
		fuse_reply_err(req, EPERM);
		return;
	}
	reply_new(req, parent, name, &n);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct newent n = { .mode = (mode & 07777) | S_IFDIR, .fd = -1 };
	reply_new(req, parent, name, &n);
}

void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct newent n = { .mode = S_IFLNK | 0777, .link = link, .fd = -1 };
	reply_new(req, parent, name, &n);
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct inode *src = inode_get(ino);
	struct newent n = { .src = src, .fd = -1 };
	if (src->type == DT_DIR) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (src->metacopy || src->layer != LAYER_UPPER) {
		/* Both names must share one upper inode with its data. */
		int r = copyup(src, CU_DATA);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
	}
	reply_new(req, newparent, newname, &n);
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct newent n = { .mode = (mode & 07777) | S_IFREG, .fd = -1,
			    .open_flags = fi->flags };
	struct fuse_entry_param e = { 0 };
	int r = do_new(req, inode_get(parent), name, &n, &e);
	if (r < 0) {
		if (n.fd >= 0)
			close(n.fd);
		fuse_reply_err(req, -r);
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = lfs->upper_noflush;
	/* Open as from op_open: an unlink while open keeps it reachable. */
	struct inode *i = inode_get(e.ino);
	/* A new file has no other handle, so there is no mode to agree with. */
	(void)file_open_begin(i, n.fd, true, true, &fi->fh);
	r = fuse_reply_create(req, &e, fi);
	file_open_replied();
	if (r == -ENOENT) {
		close(n.fd);
		file_open_end(i, fi->fh);
	}
}
