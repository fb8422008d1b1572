/* Ownership of files the mount creates or changes.
 *
 * The daemon runs as root (of the host or of a user namespace), so a new
 * file is chowned to the caller.  Where the kernel refuses an owner (an id
 * outside the namespace) or a device node, what could not be applied goes
 * to the user.containers.override_stat xattr, which getattr reads back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"
#include "override_stat.h"
#include "whiteout.h"

int apply_override_stat(int dirfd, const char *name, const struct stat *want)
{
	struct override_stat o = {
		.uid = want->st_uid, .gid = want->st_gid, .mode = want->st_mode,
		.rdev = want->st_rdev, .has_type = 1,
	};
	char v[96], p[PATH_MAX + 32];
	int n = ovs_format(&o, v, sizeof(v));
	if (n < 0)
		return n;
	int r = proc_fd_path(p, sizeof(p), dirfd, name);
	if (r < 0)
		return r;
	return lsetxattr(p, XATTR_OVERRIDE_STAT, v, (size_t)n, 0) < 0 ? -errno : 0;
}

/* chown DIRFD/NAME to on-disk UID:GID; keep in the override xattr what
 * the kernel refuses.  MODE is the full st_mode to record then. */
int set_owner(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode, bool symlink)
{
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	int err = errno;
	if ((err != EPERM && err != EINVAL) || symlink || !lfs->override_stat)
		return -err;
	struct stat want = { .st_uid = uid, .st_gid = gid, .st_mode = mode };
	return apply_override_stat(dirfd, name, &want);
}

/* Give a just-created DIRFD/NAME the caller's ownership (setgid parent
 * directories pass on their group, as the kernel does). */
int own_new(int dirfd, const char *name, fuse_req_t req, mode_t mode,
	    const struct stat *parent_st, bool symlink)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int64_t uid = id_to_disk(true, ctx->uid);
	int64_t gid = id_to_disk(false, ctx->gid);

	if (uid < 0 || gid < 0)
		return -EOVERFLOW;
	if (parent_st && (parent_st->st_mode & S_ISGID))
		gid = parent_st->st_gid;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (st.st_uid == (uid_t)uid && st.st_gid == (gid_t)gid)
		return 0;
	return set_owner(dirfd, name, (uid_t)uid, (gid_t)gid, mode, symlink);
}
