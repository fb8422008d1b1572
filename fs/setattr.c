/* setattr: chmod, chown, truncate, utimens.
 *
 * Metadata changes to a lower file copy up its metadata only; truncate to
 * zero copies nothing; other sizes copy the data. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"
#include "override_stat.h"
#include "whiteout.h"

/* Where the upper file of I can be reached by *at calls: DIRFD + NAME. */
struct target {
	int dirfd;
	char name[PATH_MAX];
};

static int target_of(struct inode *i, struct target *t)
{
	if (i->stale && i->anchor_fd >= 0) {
		proc_fd_path(t->name, sizeof(t->name), i->anchor_fd, NULL);
		t->dirfd = AT_FDCWD;
		return 0;
	}
	t->dirfd = lfs->layers[LAYER_UPPER].fd;
	return path_upper(i, t->name, sizeof(t->name));
}

static int do_truncate(struct inode *i, off_t size, struct fuse_file_info *fi)
{
	if (fi && fi->fh)
		return ftruncate(fh_fd(fi), size) < 0 ? -errno : 0;
	int r = copyup(i, size == 0 ? CU_EMPTY : CU_DATA);
	if (r < 0)
		return r;
	NS_READ;
	struct target t;
	if ((r = target_of(i, &t)) < 0)
		return r;
	int fd = t.dirfd == AT_FDCWD ? open(t.name, O_WRONLY | O_CLOEXEC)
				      : layer_open(LAYER_UPPER, t.name, O_WRONLY);
	if (fd < 0)
		return fd == -1 ? -errno : fd;
	r = ftruncate(fd, size) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* With the override xattr present, mode and owner changes go there. */
static int update_override(const struct target *t, const struct stat *cur, int to_set,
			   const struct stat *attr, bool *done)
{
	char v[96], p[PATH_MAX + 32];
	struct override_stat o;
	*done = false;
	if (t->dirfd == AT_FDCWD)
		snprintf(p, sizeof(p), "%s", t->name);
	else if (proc_fd_path(p, sizeof(p), t->dirfd, t->name) < 0)
		return -ENAMETOOLONG;
	ssize_t n = lgetxattr(p, XATTR_OVERRIDE_STAT, v, sizeof(v));
	if (n <= 0 || ovs_parse(v, (size_t)n, &o) < 0)
		return 0;
	if (to_set & FUSE_SET_ATTR_MODE)
		o.mode = (o.mode & S_IFMT) | (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		o.uid = (uid_t)id_to_disk(true, attr->st_uid);
	if (to_set & FUSE_SET_ATTR_GID)
		o.gid = (gid_t)id_to_disk(false, attr->st_gid);
	if (!o.has_type) {
		o.mode |= cur->st_mode & S_IFMT;
		o.has_type = 1;
	}
	if ((n = ovs_format(&o, v, sizeof(v))) < 0)
		return (int)n;
	*done = true;
	return lsetxattr(p, XATTR_OVERRIDE_STAT, v, (size_t)n, 0) < 0 ? -errno : 0;
}

static int do_owner_mode(struct inode *i, const struct target *t, int to_set,
			 const struct stat *attr)
{
	struct stat cur;
	int flags = t->dirfd == AT_FDCWD ? 0 : AT_SYMLINK_NOFOLLOW;
	if (fstatat(t->dirfd, t->name, &cur, flags) < 0)
		return -errno;
	bool done = false;
	int r;
	if (lfs->override_stat && !S_ISLNK(cur.st_mode) &&
	    (r = update_override(t, &cur, to_set, attr, &done)) < 0)
		return r;
	if (done)
		return 0;
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		int64_t uid = (to_set & FUSE_SET_ATTR_UID) ? id_to_disk(true, attr->st_uid) : -1;
		int64_t gid = (to_set & FUSE_SET_ATTR_GID) ? id_to_disk(false, attr->st_gid) : -1;
		if (((to_set & FUSE_SET_ATTR_UID) && uid < 0) ||
		    ((to_set & FUSE_SET_ATTR_GID) && gid < 0))
			return -EINVAL;
		mode_t m = (cur.st_mode & S_IFMT) |
			   ((to_set & FUSE_SET_ATTR_MODE) ? attr->st_mode & 07777 : cur.st_mode & 07777);
		r = set_owner(t->dirfd, t->name, uid < 0 ? cur.st_uid : (uid_t)uid,
			      gid < 0 ? cur.st_gid : (gid_t)gid, m, S_ISLNK(cur.st_mode));
		if (r < 0)
			return r;
	}
	if ((to_set & FUSE_SET_ATTR_MODE) &&
	    fchmodat(t->dirfd, t->name, attr->st_mode & 07777, 0) < 0)
		return -errno;
	return 0;
}

static int do_times(const struct target *t, int to_set, const struct stat *attr)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
	int flags = t->dirfd == AT_FDCWD ? 0 : AT_SYMLINK_NOFOLLOW;
	return utimensat(t->dirfd, t->name, ts, flags) < 0 ? -errno : 0;
}

#define META_BITS (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | \
		   FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | \
		   FUSE_SET_ATTR_MTIME_NOW)

static int do_setattr(struct inode *i, struct stat *attr, int to_set,
		      struct fuse_file_info *fi)
{
	int r;
	if (!lfs->has_upper)
		return -EROFS;
	if ((to_set & FUSE_SET_ATTR_SIZE) && (r = do_truncate(i, attr->st_size, fi)) < 0)
		return r;
	if (!(to_set & META_BITS))
		return 0;
	if (i->layer != LAYER_UPPER && (r = copyup(i, CU_META)) < 0)
		return r;
	NS_READ;
	struct target t;
	if ((r = target_of(i, &t)) < 0)
		return r;
	if ((to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    (r = do_owner_mode(i, &t, to_set, attr)) < 0)
		return r;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		      FUSE_SET_ATTR_MTIME_NOW))
		return do_times(&t, to_set, attr);
	return 0;
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	struct inode *i = inode_get(ino);
	reply_attr_of(req, i, do_setattr(i, attr, to_set, fi));
}
