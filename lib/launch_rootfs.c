/* The container's root filesystem (see launch_rootfs.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_mount.h"
#include "launch_rootfs.h"
#include "launch_trace.h"
#include "launch_volumes.h"

extern char **environ;

/* Append S to the option string, escaping ':' and '\' as layerfs's
 * lowerdir= syntax wants. */
static int opt_append(char **buf, size_t *len, const char *s, bool escape)
{
	size_t l = strlen(s);
	char *b = realloc(*buf, *len + 2 * l + 1);
	if (!b)
		return -ENOMEM;
	*buf = b;
	for (; *s; s++) {
		if (escape && (*s == ':' || *s == '\\'))
			b[(*len)++] = '\\';
		b[(*len)++] = *s;
	}
	b[*len] = 0;
	return 0;
}

static int layerfs_options(const struct launch_spec *s, char **out)
{
	_cleanup_free_ char *o = NULL;
	size_t len = 0;
	int r = opt_append(&o, &len, "lowerdir=", false);
	for (size_t k = 0; r == 0 && k < s->nlower; k++) {
		if (strchr(s->lowerdirs[k], ','))
			return -EINVAL;
		if (k)
			r = opt_append(&o, &len, ":", false);
		if (r == 0)
			r = opt_append(&o, &len, s->lowerdirs[k], true);
	}
	char tail[8300];
	/* A layer deleted on exit needs no syncing (kernel overlayfs and
	 * podman do the same for such containers). */
	snprintf(tail, sizeof(tail), ",upperdir=%s/upper,workdir=%s/work%s", s->cdir, s->cdir,
		 s->remove ? ",volatile" : "");
	if (r == 0)
		r = opt_append(&o, &len, tail, false);
	if (r < 0)
		return r;
	*out = TAKE_PTR(o);
	return 0;
}

/* Start the daemon in the foreground, in a session of its own: stdin and
 * stdout on /dev/null, stderr into ERR_W, READY_W as its descriptor 3
 * (--ready-fd=3), no signal blocked.  posix_spawn rather than fork: no
 * copy of this (large) process to make for an exec.  Returns its pid or
 * -errno. */
static pid_t spawn_layerfs(const struct launch_spec *s, const char *opts, const char *mnt,
			   int err_w, int ready_w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *argv[] = { (char *)s->layerfs, "--ready-fd=3", "-o", (char *)opts, (char *)mnt, NULL };
	sigset_t none;
	sigemptyset(&none);
	pid_t pid = -1;
	int e = posix_spawn_file_actions_init(&fa);
	if (e)
		return -e;
	if ((e = posix_spawnattr_init(&at)) == 0) {
		if (!(e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0)) &&
		    !(e = posix_spawn_file_actions_adddup2(&fa, 0, 1)) &&
		    !(e = posix_spawn_file_actions_adddup2(&fa, err_w, 2)) &&
		    !(e = posix_spawn_file_actions_adddup2(&fa, ready_w, 3)) &&
		    !(e = posix_spawnattr_setsigmask(&at, &none)) &&
		    !(e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID)))
			e = posix_spawn(&pid, s->layerfs, &fa, &at, argv, environ);
		posix_spawnattr_destroy(&at);
	}
	posix_spawn_file_actions_destroy(&fa);
	return e ? -e : pid;
}

/* Two pipes whose ends are all above 3, so that the daemon's descriptor
 * 3 can be made from any of them. */
static int make_pipes(int err[2], int ready[2])
{
	int p[4];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(p + 2, O_CLOEXEC) < 0) {
		int e = -errno;
		close(p[0]);
		close(p[1]);
		return e;
	}
	for (int k = 0; k < 4; k++) {
		if (p[k] > 3)
			continue;
		int d = fcntl(p[k], F_DUPFD_CLOEXEC, 4);
		if (d < 0) {
			int e = -errno;
			for (int j = 0; j < 4; j++)
				close(p[j]);
			return e;
		}
		close(p[k]);
		p[k] = d;
	}
	err[0] = p[0], err[1] = p[1], ready[0] = p[2], ready[1] = p[3];
	return 0;
}

int rootfs_mount(const struct launch_spec *s, pid_t *daemon, struct msgbuf *m)
{
	_cleanup_free_ char *opts = NULL;
	if (layerfs_options(s, &opts) < 0)
		return msg_fail(m, -EINVAL, "a layer path contains ','");
	char mnt[4200];
	snprintf(mnt, sizeof(mnt), "%s/merged", s->cdir);
	int err[2] = { -1, -1 }, ready[2] = { -1, -1 };
	int r = make_pipes(err, ready);
	if (r < 0)
		return msg_fail(m, r, "cannot make pipes: %s", strerror(-r));
	pid_t pid = spawn_layerfs(s, opts, mnt, err[1], ready[1]);
	close(err[1]);
	close(ready[1]);
	_cleanup_close_ int err_r = err[0], ready_r = ready[0];
	if (pid < 0)
		return msg_fail(m, pid, "cannot run '%s': %s", s->layerfs, strerror(-pid));
	/* A newline once mounted; end of file when it failed and exited. */
	char c;
	if (RETRY_EINTR(read(ready_r, &c, 1)) == 1) {
		*daemon = pid;
		return 0;
	}
	RETRY_EINTR(waitpid(pid, NULL, 0));
	char buf[512] = "";
	ssize_t n = read(err_r, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return msg_fail(m, -EIO, "cannot mount the root filesystem with '%s': %s", s->layerfs,
			*buf ? buf : "it failed");
}

/* Mount FSTYPE at PATH inside the root, creating PATH. */
static int mount_in_root(int rootfd, const char *path, const char *type,
			 const char *const *opts, unsigned attrs)
{
	_cleanup_close_ int fd = -1;
	int r = root_mkpath(rootfd, path, false, &fd);
	return r < 0 ? r : mount_new_fs(type, opts, attrs, fd);
}

static int bind_in_root(int rootfd, const char *src, const char *path, bool file,
			bool recursive, bool ro)
{
	_cleanup_close_ int fd = -1;
	int r = root_mkpath(rootfd, path, file, &fd);
	return r < 0 ? r : bind_at(src, fd, recursive, ro);
}

static int symlink_in_root(int rootfd, const char *dir, const char *name, const char *to)
{
	_cleanup_close_ int fd = -1;
	int r = root_open(rootfd, dir, O_PATH | O_DIRECTORY, &fd);
	if (r < 0)
		return r;
	return symlinkat(to, fd, name) < 0 && errno != EEXIST ? -errno : 0;
}

/* /dev: a tmpfs with the host's harmless devices bound in (a user
 * namespace cannot mknod), a private devpts and /dev/shm. */
static int setup_dev(int rootfd, struct msgbuf *m)
{
	static const char *const devopts[] = { "mode=0755", "size=65536k", NULL };
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const ptsopts[] = { "newinstance", "ptmxmode=0666", "mode=0620", NULL };
	static const char *const shmopts[] = { "mode=1777", "size=65536k", NULL };
	int r = mount_in_root(rootfd, "/dev", "tmpfs", devopts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	if (r < 0)
		return msg_fail(m, r, "cannot mount '/dev': %s", strerror(-r));
	for (size_t k = 0; k < ARRAY_SIZE(nodes); k++) {
		char src[64], dst[64];
		snprintf(src, sizeof(src), "/dev/%s", nodes[k]);
		snprintf(dst, sizeof(dst), "/dev/%s", nodes[k]);
		if ((r = bind_in_root(rootfd, src, dst, true, false, false)) < 0)
			return msg_fail(m, r, "cannot bind '%s': %s", src, strerror(-r));
	}
	if ((r = mount_in_root(rootfd, "/dev/pts", "devpts", ptsopts,
			       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)) < 0)
		return msg_fail(m, r, "cannot mount '/dev/pts': %s", strerror(-r));
	if ((r = mount_in_root(rootfd, "/dev/shm", "tmpfs", shmopts,
			       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) < 0)
		return msg_fail(m, r, "cannot mount '/dev/shm': %s", strerror(-r));
	static const char *const links[][2] = {
		{ "ptmx", "pts/ptmx" }, { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	};
	for (size_t k = 0; k < ARRAY_SIZE(links); k++)
		if ((r = symlink_in_root(rootfd, "/dev", links[k][0], links[k][1])) < 0)
			return msg_fail(m, r, "cannot make '/dev/%s': %s", links[k][0], strerror(-r));
	trace_mark("pid1", "/dev made");
	return 0;
}

/* /proc and /sys: fresh instances; where the kernel refuses (a /proc
 * partly hidden on the host, a shared network namespace for sysfs), the
 * host's, bound recursively (read-only for /sys). */
static int setup_proc_sys(int rootfd, struct msgbuf *m)
{
	const unsigned pattr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	int r = mount_in_root(rootfd, "/proc", "proc", NULL, pattr);
	if (r == -EPERM)
		r = bind_in_root(rootfd, "/proc", "/proc", false, true, false);
	if (r < 0)
		return msg_fail(m, r, "cannot mount '/proc': %s", strerror(-r));
	r = mount_in_root(rootfd, "/sys", "sysfs", NULL, pattr | MOUNT_ATTR_RDONLY);
	if (r == -EPERM)
		r = bind_in_root(rootfd, "/sys", "/sys", false, true, true);
	if (r < 0)
		return msg_fail(m, r, "cannot mount '/sys': %s", strerror(-r));
	trace_mark("pid1", "/proc, /sys mounted");
	return 0;
}

/* The files bound over the image's /etc ones, in the order of spec->etc. */
static const char *const etc_files[] = { "hostname", "hosts", "resolv.conf" };

int rootfs_etc_files(const struct launch_spec *s, struct msgbuf *m)
{
	static const char *const opts[] = { "mode=0755", "size=1m", NULL };
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/etc", s->cdir);
	_cleanup_close_ int under = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (under < 0)
		return msg_fail(m, -errno, "cannot open '%s': %s", dir, strerror(errno));
	int r = mount_new_fs("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			     under);
	if (r < 0)
		return msg_fail(m, r, "cannot mount a tmpfs on '%s': %s", dir, strerror(-r));
	_cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return msg_fail(m, -errno, "cannot open '%s': %s", dir, strerror(errno));
	for (size_t k = 0; k < ARRAY_SIZE(etc_files); k++) {
		const char *t = s->etc[k] ? s->etc[k] : "";
		_cleanup_close_ int f = openat(fd, etc_files[k], O_WRONLY | O_CREAT | O_EXCL |
					       O_NOFOLLOW | O_CLOEXEC, 0644);
		if (f < 0 || write(f, t, strlen(t)) != (ssize_t)strlen(t))
			return msg_fail(m, -EIO, "cannot write '%s/%s': %s", dir, etc_files[k],
					strerror(errno));
	}
	trace_mark("holder", "/etc files written");
	return 0;
}

/* /etc/hostname, /etc/hosts, /etc/resolv.conf: files of the holder's
 * tmpfs on CDIR/etc bound over the image's, so they never reach the
 * upper layer. */
static int setup_etc(const struct launch_spec *s, int rootfd, struct msgbuf *m)
{
	for (size_t k = 0; k < ARRAY_SIZE(etc_files); k++) {
		char src[4200], dst[64];
		snprintf(src, sizeof(src), "%s/etc/%s", s->cdir, etc_files[k]);
		snprintf(dst, sizeof(dst), "/etc/%s", etc_files[k]);
		int r = bind_in_root(rootfd, src, dst, true, false, s->read_only);
		if (r < 0)
			return msg_fail(m, r, "cannot bind '%s': %s", dst, strerror(-r));
	}
	trace_mark("pid1", "/tmp mounted, /etc files bound");
	return 0;
}

static int switch_root(const char *newroot, struct msgbuf *m)
{
	if (chdir(newroot) < 0)
		return msg_fail(m, -errno, "cannot enter '%s': %s", newroot, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return msg_fail(m, -errno, "pivot_root failed: %s", strerror(errno));
	/* The old root now lies under the new one at "/": detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return msg_fail(m, -errno, "cannot detach the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		return -errno;
	trace_mark("pid1", "root pivoted");
	return 0;
}

static int setup_mounts(const struct launch_spec *s, int rootfd, struct msgbuf *m)
{
	static const char *const tmpopts[] = { "mode=1777", NULL };
	int r;
	if ((r = setup_proc_sys(rootfd, m)) < 0 || (r = setup_dev(rootfd, m)) < 0)
		return r;
	if ((r = mount_in_root(rootfd, "/tmp", "tmpfs", tmpopts,
			       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) < 0)
		return msg_fail(m, r, "cannot mount '/tmp': %s", strerror(-r));
	if ((r = setup_etc(s, rootfd, m)) < 0 || (r = volumes_mount(s, rootfd, m)) < 0)
		return r;
	return 0;
}

int rootfs_enter(const struct launch_spec *s, struct msgbuf *m)
{
	/* Nothing done here may propagate back to the holder (whose mount
	 * namespace the daemon shares) or to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return msg_fail(m, -errno, "cannot make mounts private: %s", strerror(errno));
	char root[4200];
	snprintf(root, sizeof(root), "%s/merged", s->cdir);
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return msg_fail(m, -errno, "cannot open '%s': %s", root, strerror(errno));
	/* The mount points made in the root are listed for diff and commit. */
	char logp[4300];
	snprintf(logp, sizeof(logp), "%s/mountpoints", s->cdir);
	_cleanup_close_ int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	root_mkpath_log(logfd);
	int r = setup_mounts(s, rootfd, m);
	root_mkpath_log(-1);
	if (r < 0)
		return r;
	if (s->read_only && (r = mount_make_ro(rootfd)) < 0)
		return msg_fail(m, r, "cannot make the root read-only: %s", strerror(-r));
	return switch_root(root, m);
}
