/* Safe access to the layer directories.
 *
 * Opens go through openat2 with RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS, so
 * a symlink inside a layer can never lead the daemon out of it.  Stats use
 * fstatat(AT_SYMLINK_NOFOLLOW) on paths whose every directory component the
 * merged listing has seen as a real directory in that layer (d_type), so
 * no component can be a symlink there either; lowers never change and the
 * upper changes only through this daemon. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"
#include "whiteout.h"

static int openat2_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

int layer_open(uint16_t layer, const char *path, int flags)
{
	if (flags & O_PATH)
		flags |= O_NOFOLLOW;
	return openat2_beneath(lfs->layers[layer].fd, path, flags);
}

int layer_open_dir(uint16_t layer, const char *path)
{
	return openat2_beneath(lfs->layers[layer].fd, path, O_RDONLY | O_DIRECTORY);
}

int layer_stat(uint16_t layer, const char *path, struct stat *st)
{
	int flags = AT_SYMLINK_NOFOLLOW;
	if (strcmp(path, ".") == 0)
		flags |= AT_EMPTY_PATH;
	if (fstatat(lfs->layers[layer].fd, path, st, flags) < 0)
		return -errno;
	if (layer != LAYER_UPPER && S_ISREG(st->st_mode) && st->st_nlink > 1 &&
	    layer_getxattr(layer, path, XATTR_DEDUPE, NULL, 0) >= 0)
		st->st_nlink = 1; /* storage shared by dedupe, not a hard link */
	return 0;
}

/* getxattrat and listxattrat (Linux 6.13) read an xattr of a name under a
 * directory fd in one path walk.  Before them the only way was a path
 * through the fd's /proc magic link, whose walk (/proc, self, fd, N) costs
 * more than the read itself: 5 us against 2 us a call here.  Where the
 * kernel lacks them (ENOSYS) or a seccomp filter refuses them (EPERM, which
 * these calls never return otherwise), the /proc path is used from then on. */
#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 466
#endif
struct xattrat_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};
static _Atomic bool no_xattrat;

static bool xattrat_missing(void)
{
	if (errno != ENOSYS && errno != EPERM)
		return false;
	atomic_store(&no_xattrat, true);
	return true;
}

/* An xattr read of PATH in LAYER: NAME's value, or (NAME NULL) the list
 * of names. */
static ssize_t xattr_read(uint16_t layer, const char *path, const char *name,
			  void *val, size_t size)
{
	int dfd = lfs->layers[layer].fd;
	if (!atomic_load_explicit(&no_xattrat, memory_order_relaxed) && size <= UINT32_MAX) {
		struct xattrat_args a = { .value = (uintptr_t)val, .size = (uint32_t)size };
		long n = name ? syscall(__NR_getxattrat, dfd, path, AT_SYMLINK_NOFOLLOW, name,
					&a, sizeof(a))
			      : syscall(__NR_listxattrat, dfd, path, AT_SYMLINK_NOFOLLOW, val, size);
		if (n >= 0)
			return n;
		if (!xattrat_missing())
			return -errno;
	}
	char p[PATH_MAX + 32];
	if (proc_fd_path(p, sizeof(p), dfd, path) < 0)
		return -ENAMETOOLONG;
	ssize_t n = name ? lgetxattr(p, name, val, size) : llistxattr(p, val, size);
	return n < 0 ? -errno : n;
}

ssize_t layer_getxattr(uint16_t layer, const char *path, const char *name,
		       void *val, size_t size)
{
	return xattr_read(layer, path, name, val, size);
}

/* The size of PATH's xattr name list in LAYER: 0 when it has none. */
ssize_t layer_listxattr_size(uint16_t layer, const char *path)
{
	return xattr_read(layer, path, NULL, NULL, 0);
}

/* "/proc/self/fd/FD" or "/proc/self/fd/FD/NAME": the path through which
 * path-only calls (xattrs, utimensat) reach an fd, or a name under a
 * directory fd, without following a symlink on the way. */
int proc_fd_path(char *buf, size_t size, int fd, const char *name)
{
	int n = name ? snprintf(buf, size, "/proc/self/fd/%d/%s", fd, name)
		     : snprintf(buf, size, "/proc/self/fd/%d", fd);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Create an empty regular file DIRFD/NAME. */
int create_empty_at(int dirfd, const char *name, mode_t mode, bool excl)
{
	int fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC |
			(excl ? O_EXCL : 0), mode);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* xattr calls on an O_PATH descriptor go through its /proc magic link. */
int fd_getxattr_path(int fd, const char *name, void *val, size_t size)
{
	char p[64];
	proc_fd_path(p, sizeof(p), fd, NULL);
	ssize_t n = getxattr(p, name, val, size);
	return n < 0 ? -errno : (int)n;
}

int fd_setxattr_path(int fd, const char *name, const void *val, size_t size, int flags)
{
	char p[64];
	proc_fd_path(p, sizeof(p), fd, NULL);
	return setxattr(p, name, val, size, flags) < 0 ? -errno : 0;
}

static int remove_tree_at(int dirfd, const char *name, int depth);

static int empty_dir(int fd, int depth)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = remove_tree_at(dirfd(d), de->d_name, depth + 1);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

/* Remove NAME under DIRFD and everything beneath it, never following a
 * symlink. */
static int remove_tree_at(int dirfd, const char *name, int depth)
{
	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return errno == ENOENT ? 0 : -errno;
	if (depth > 4096)
		return -ELOOP;
	int fd = openat2_beneath(dirfd, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	int r = empty_dir(fd, depth);
	if (r < 0)
		return r;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int workdir_clean(int workfd)
{
	int fd = openat2_beneath(workfd, ".", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	return empty_dir(fd, 0);
}

int upper_purge_dir(int parentfd, const char *name)
{
	return remove_tree_at(parentfd, name, 0);
}
