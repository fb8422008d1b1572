/* File-system helpers (see fsutil.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"

/* Without openat2 (kernels before 5.6, valgrind): the same guarantee by
 * walking PATH one component at a time with O_NOFOLLOW; ".." and absolute
 * paths are refused outright, as no caller needs them. */
static int walk_dir_beneath(int dirfd, const char *path, int flags)
{
	if (path[0] == '/')
		return -EXDEV;
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int fd = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, ".."))
			return close(fd), -EXDEV;
		int last = !save || !*save || strspn(save, "/") == strlen(save);
		int next = openat(fd, c, (last ? flags : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int err = errno;
		close(fd);
		fd = next < 0 ? -1 : next;
		errno = err;
	}
	if (fd < 0)
		return errno == ELOOP ? -ELOOP : -errno;
	return fd;
}

int open_dir_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_DIRECTORY | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	if (!*path)
		path = ".";
	int fd = (int)RETRY_EINTR(syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
	if (fd < 0 && errno == ENOSYS)
		return walk_dir_beneath(dirfd, path, flags);
	return fd < 0 ? -errno : fd;
}

int opendir_at(int dirfd, DIR **out)
{
	int fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	/* The fd may have been read before: start from the top. */
	rewinddir(d);
	*out = d;
	return 0;
}

static bool dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* The contents of directory FD: removed (REMOVE) or only counted.  Bytes
 * of files are added to *BYTES (hardlinked ones shared out). */
static int tree_pass(int fd, bool remove, uint64_t *bytes, int depth)
{
	if (depth > 4096)
		return -ELOOP;
	_cleanup_closedir_ DIR *d = NULL;
	int r = opendir_at(fd, &d);
	if (r < 0)
		return r;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (dot_or_dotdot(de->d_name))
			continue;
		struct stat st;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (S_ISDIR(st.st_mode)) {
			if (remove && (st.st_mode & 0700) != 0700)
				fchmodat(fd, de->d_name, 0700, 0);
			_cleanup_close_ int sub = openat(fd, de->d_name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return -errno;
			r = tree_pass(sub, remove, bytes, depth + 1);
			if (r < 0)
				return r;
		}
		if (remove && unlinkat(fd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (bytes)
			*bytes += (uint64_t)st.st_blocks * 512 / (st.st_nlink ? st.st_nlink : 1);
	}
	return 0;
}

/* NAME itself and, for a directory, its contents. */
static int tree_at(int dirfd, const char *name, bool remove, uint64_t *bytes)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT && remove ? 0 : -errno;
	uint64_t total = (uint64_t)st.st_blocks * 512 / (st.st_nlink ? st.st_nlink : 1);
	if (S_ISDIR(st.st_mode)) {
		if (remove && (st.st_mode & 0700) != 0700)
			fchmodat(dirfd, name, 0700, 0);
		_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		int r = tree_pass(fd, remove, &total, 0);
		if (r < 0)
			return r;
	}
	if (remove && unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT)
		return -errno;
	if (bytes)
		*bytes += total;
	return 0;
}

int rm_rf_at(int dirfd, const char *name, uint64_t *freed)
{
	return tree_at(dirfd, name, true, freed);
}

int du_at(int dirfd, const char *name, uint64_t *bytes)
{
	uint64_t total = 0;
	int r = tree_at(dirfd, name, false, &total);
	if (r == 0)
		*bytes = total;
	return r;
}

int path_normalize(const char *in, bool resolve_dotdot, char **out)
{
	size_t len = strlen(in);
	_cleanup_free_ char *res = malloc(len + 1);
	if (!res)
		return -ENOMEM;
	size_t o = 0;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		const char *c = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (!resolve_dotdot)
				return -EINVAL;
			if (o == 0)
				return -EPERM;
			while (o > 0 && res[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (o)
			res[o++] = '/';
		memcpy(res + o, c, n);
		o += n;
	}
	res[o] = '\0';
	*out = TAKE_PTR(res);
	return 0;
}

int read_fd_all(int fd, size_t max, char **data, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = RETRY_EINTR(read(fd, buf + got, (size_t)st.st_size - got));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*data = TAKE_PTR(buf);
	*len = got;
	return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **data, size_t *len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return read_fd_all(fd, max, data, len);
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = RETRY_EINTR(write(fd, p, len));
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void random_hex(char out[17])
{
	unsigned char b[8];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		/* getrandom cannot fail for 8 bytes once the pool is up;
		 * fall back to something unique enough for a temp name. */
		unsigned long long v = (unsigned long long)getpid() << 32 ^ (unsigned long long)(uintptr_t)out;
		memcpy(b, &v, sizeof(b));
	}
	for (int k = 0; k < 8; k++)
		snprintf(out + 2 * k, 3, "%02x", b[k]);
}

int write_file_atomic(int dirfd, const char *name, int tmpfd,
		      const void *data, size_t len)
{
	char tmpname[32];
	char hex[17];
	random_hex(hex);
	snprintf(tmpname, sizeof(tmpname), "file-%s", hex);
	int fd = openat(tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(tmpfd, tmpname, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(tmpfd, tmpname, 0);
	return r;
}
