/* Mount helpers on the new mount API (see launch_mount.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_mount.h"

int root_open(int rootfd, const char *path, int flags, int *out)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	int fd = (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
	if (fd < 0)
		return -errno;
	*out = fd;
	return 0;
}

/* Where root_mkpath lists the paths it creates, or -1. */
static int mkpath_log = -1;

void root_mkpath_log(int fd)
{
	mkpath_log = fd;
}

/* Create NAME in the directory DIRFD: a directory, or an empty file.
 * 1 when created, 0 when it was there. */
static int make_entry(int dirfd, const char *name, bool file)
{
	if (!file) {
		if (mkdirat(dirfd, name, 0755) == 0)
			return 1;
		return errno != EEXIST ? -errno : 0;
	}
	int fd = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	close(fd);
	return 1;
}

int root_mkpath(int rootfd, const char *path, bool leaf_file, int *out)
{
	char prefix[4096];
	size_t len = 0;
	_cleanup_close_ int cur = -1;
	int r = root_open(rootfd, "/", O_PATH | O_DIRECTORY, &cur);
	if (r < 0)
		return r;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		size_t l = strcspn(p, "/");
		if (l == 0)
			break;
		bool last = p[l + strspn(p + l, "/")] == 0;
		if (len + l + 2 >= sizeof(prefix))
			return -ENAMETOOLONG;
		prefix[len++] = '/';
		memcpy(prefix + len, p, l);
		prefix[len += l] = 0;
		char name[256];
		if (l >= sizeof(name))
			return -ENAMETOOLONG;
		memcpy(name, p, l);
		name[l] = 0;
		p += l;
		int fd;
		r = root_open(rootfd, prefix, O_PATH, &fd);
		if (r == -ENOENT) {
			/* NAME is a plain name in the resolved parent: creating it
			 * cannot follow a symlink (a dangling one gives EEXIST and
			 * the second lookup fails again). */
			if ((r = make_entry(cur, name, last && leaf_file)) < 0)
				return r;
			if (r == 1 && mkpath_log >= 0)
				dprintf(mkpath_log, "%s\n", prefix);
			r = root_open(rootfd, prefix, O_PATH, &fd);
		}
		if (r < 0)
			return r;
		close(cur);
		cur = fd;
	}
	*out = TAKE_FD(cur);
	return 0;
}

int mount_new_fs(const char *type, const char *const *opts, unsigned attrs, int target_fd)
{
	_cleanup_close_ int fs = fsopen(type, FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", type, 0) < 0)
		return -errno;
	for (; opts && *opts; opts++) {
		char key[64];
		const char *eq = strchr(*opts, '=');
		size_t kl = eq ? (size_t)(eq - *opts) : strlen(*opts);
		if (kl >= sizeof(key))
			return -EINVAL;
		memcpy(key, *opts, kl);
		key[kl] = 0;
		int r = eq ? fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0)
			   : fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0);
		if (r < 0)
			return -errno;
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	_cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return -errno;
	if (move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

int bind_at(const char *src, int target_fd, bool recursive, bool ro)
{
	_cleanup_close_ int t = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
					  (recursive ? AT_RECURSIVE : 0));
	if (t < 0)
		return -errno;
	if (ro) {
		struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
		if (mount_setattr(t, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
				  &a, sizeof(a)) < 0)
			return -errno;
	}
	if (move_mount(t, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

int mount_make_ro(int fd)
{
	struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
	return mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0 ? -errno : 0;
}
