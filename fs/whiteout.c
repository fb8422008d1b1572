/* Writing deletions and opaque directories into the upper layer.
 *
 * The overlay form (char 0/0, opaque xattr) is used where the kernel lets
 * us; where it refuses (some unprivileged setups), the OCI form: an empty
 * ".wh.NAME" file and a ".wh..wh..opq" file.  Both read back the same. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"
#include "whiteout.h"

int upper_tmpname(char *buf, size_t size)
{
	uint64_t n = atomic_fetch_add(&lfs->tmp_counter, 1);
	int r = snprintf(buf, size, "#%x.%" PRIx64, (unsigned)getpid(), n);
	return r < 0 || (size_t)r >= size ? -ENAMETOOLONG : 0;
}

static int oci_name(const char *name, char *buf, size_t size)
{
	int r = snprintf(buf, size, WH_PREFIX "%s", name);
	return r < 0 || (size_t)r >= size ? -ENAMETOOLONG : 0;
}

static int make_oci_whiteout(int parentfd, const char *name)
{
	char wh[NAME_MAX + 8];
	int r = oci_name(name, wh, sizeof(wh));
	if (r < 0)
		return r;
	r = create_empty_at(parentfd, wh, 0, false);
	return r < 0 ? r : 1;
}

/* Create a whiteout for NAME under PARENTFD, where nothing exists yet.
 * Returns 0 for the overlay form, 1 for the OCI form. */
int upper_whiteout_at(int parentfd, const char *name)
{
	if (!atomic_load(&lfs->oci_whiteouts)) {
		if (mknodat(parentfd, name, S_IFCHR | 0, makedev(0, 0)) == 0)
			return 0;
		if (errno != EPERM && errno != EOPNOTSUPP && errno != EACCES)
			return -errno;
		atomic_store(&lfs->oci_whiteouts, true);
	}
	return make_oci_whiteout(parentfd, name);
}

/* Replace the upper entry NAME (a directory when IS_DIR, already emptied of
 * anything visible) by a whiteout, atomically in the overlay form: the
 * whiteout is made in the work directory and swapped in. */
int upper_replace_with_whiteout(int parentfd, const char *name, bool is_dir)
{
	char tmp[64];
	int r = upper_tmpname(tmp, sizeof(tmp));
	if (r < 0)
		return r;
	if (!atomic_load(&lfs->oci_whiteouts)) {
		if (mknodat(lfs->workfd, tmp, S_IFCHR | 0, makedev(0, 0)) == 0) {
			if (renameat2(lfs->workfd, tmp, parentfd, name,
				      is_dir ? RENAME_EXCHANGE : 0) < 0) {
				r = -errno;
				unlinkat(lfs->workfd, tmp, 0);
				return r;
			}
			if (is_dir)
				upper_purge_dir(lfs->workfd, tmp);
			return 0;
		}
		if (errno != EPERM && errno != EOPNOTSUPP && errno != EACCES)
			return -errno;
		atomic_store(&lfs->oci_whiteouts, true);
	}
	r = is_dir ? upper_purge_dir(parentfd, name)
		   : (unlinkat(parentfd, name, 0) < 0 ? -errno : 0);
	if (r < 0)
		return r;
	return make_oci_whiteout(parentfd, name);
}

int upper_remove_oci_whiteout(int parentfd, const char *name)
{
	char wh[NAME_MAX + 8];
	int r = oci_name(name, wh, sizeof(wh));
	if (r < 0)
		return r;
	return unlinkat(parentfd, wh, 0) < 0 && errno != ENOENT ? -errno : 0;
}

/* Mark a directory (given by any fd, O_PATH included) opaque. */
int upper_set_opaque(int dirfd)
{
	int r = fd_setxattr_path(dirfd, lfs->opaque_xattr, "y", 1, 0);
	if (r == 0)
		return 0;
	if (r != -EPERM && r != -ENOTSUP && r != -EACCES)
		return r;
	return create_empty_at(dirfd, WH_OPAQUE_NAME, 0, false);
}

int upper_set_opaque_at(int parentfd, const char *name)
{
	int fd = openat(parentfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = upper_set_opaque(fd);
	close(fd);
	return r;
}
