/* Becoming the container's command (see launch_exec.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_exec.h"
#include "launch_mount.h"

extern char **environ;

/* The capabilities a container's root keeps (those podman grants by
 * default); all others leave the bounding set.  They count only inside
 * the user namespace in any case. */
static const int default_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL,
	CAP_NET_BIND_SERVICE, CAP_SETFCAP, CAP_SETGID, CAP_SETPCAP, CAP_SETUID,
	CAP_SYS_CHROOT,
};

/* Field 0 of a passwd/group line equals NAME, or field 2 equals the id. */
static bool find_entry(const char *file, const char *name, unsigned long id, char **fields,
		       size_t nf, char *line, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	if (!f)
		return false;
	while (fgets(line, (int)len, f)) {
		line[strcspn(line, "\n")] = 0;
		size_t n = 0;
		for (char *p = line; p && n < nf; n++) {
			fields[n] = p;
			if ((p = strchr(p, ':')))
				*p++ = 0;
		}
		for (size_t k = n; k < nf; k++)
			fields[k] = NULL;
		if (n < 3)
			continue;
		char *end;
		unsigned long v = strtoul(fields[2], &end, 10);
		if (name ? !strcmp(fields[0], name) : (!*end && v == id))
			return true;
	}
	return false;
}

static bool parse_id(const char *s, unsigned long *id)
{
	char *end;
	errno = 0;
	*id = strtoul(s, &end, 10);
	return *s && !*end && !errno && *id < 0xffffffffUL;
}

int user_resolve(const char *spec, uid_t *uid, gid_t *gid, char **home, struct msgbuf *m)
{
	_cleanup_free_ char *u = strdup(spec ? spec : "0");
	if (!u)
		return -ENOMEM;
	char *g = strchr(u, ':');
	if (g)
		*g++ = 0;
	char line[2048], *f[7];
	unsigned long id, gid_v = 0;
	bool numeric = parse_id(u, &id);
	const char *h = "/";
	if (find_entry("/etc/passwd", numeric ? NULL : u, id, f, 7, line, sizeof(line))) {
		id = strtoul(f[2], NULL, 10);
		gid_v = strtoul(f[3], NULL, 10);
		h = f[5] && *f[5] ? f[5] : "/";
	} else if (!numeric) {
		return msg_fail(m, -ENOENT, "user '%s' is not in the image's /etc/passwd", u);
	}
	_cleanup_free_ char *hd = strdup(h);
	if (!hd)
		return -ENOMEM;
	if (g) {
		char gl[2048], *gf[4];
		if (!parse_id(g, &gid_v)) {
			if (!find_entry("/etc/group", g, 0, gf, 4, gl, sizeof(gl)))
				return msg_fail(m, -ENOENT, "group '%s' is not in the image's /etc/group", g);
			gid_v = strtoul(gf[2], NULL, 10);
		}
	}
	*uid = (uid_t)id;
	*gid = (gid_t)gid_v;
	*home = TAKE_PTR(hd);
	return 0;
}

static int limit_caps(uid_t uid)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		bool keep = false;
		for (size_t k = 0; k < ARRAY_SIZE(default_caps); k++)
			keep |= default_caps[k] == c;
		if (!keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	if (uid != 0)
		return 0;  /* setresuid to non-root clears them all */
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };
	for (size_t k = 0; k < ARRAY_SIZE(default_caps); k++) {
		d[default_caps[k] / 32].effective |= 1u << (default_caps[k] % 32);
		d[default_caps[k] / 32].permitted |= 1u << (default_caps[k] % 32);
	}
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

static int set_env(const struct launch_spec *s, const char *home)
{
	clearenv();
	for (char **e = s->env; e && *e; e++)
		if (strchr(*e, '=') && putenv(*e) != 0)
			return -ENOMEM;
	if (!getenv("PATH") &&
	    setenv("PATH", DEFAULT_PATH, 1) < 0)
		return -errno;
	if ((!getenv("HOME") && setenv("HOME", home, 1) < 0) ||
	    (!getenv("HOSTNAME") && s->hostname && setenv("HOSTNAME", s->hostname, 1) < 0) ||
	    (s->tty && !getenv("TERM") && setenv("TERM", "xterm", 1) < 0))
		return -errno;
	return 0;
}

static int enter_workdir(const char *dir, struct msgbuf *m)
{
	if (!dir)
		dir = "/";
	_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;
	if (rootfd < 0)
		return -errno;
	/* A missing working directory is made, as other engines do. */
	int r = root_mkpath(rootfd, dir, false, &fd);
	if (r < 0 || fchdir(fd) < 0)
		return msg_fail(m, r < 0 ? r : -errno, "cannot enter working directory '%s': %s",
				dir, strerror(r < 0 ? -r : errno));
	return 0;
}

static int close_other_fds(int keep)
{
	if (keep > 3 && syscall(SYS_close_range, 3, keep - 1, 0) < 0)
		return -errno;
	return syscall(SYS_close_range, keep < 3 ? 3 : keep + 1, ~0U, 0) < 0 ? -errno : 0;
}

static int become(const struct launch_spec *s, uid_t uid, gid_t gid, struct msgbuf *m)
{
	if (setsid() < 0)
		return msg_fail(m, -errno, "setsid failed: %s", strerror(errno));
	if (s->tty && ioctl(0, TIOCSCTTY, 0) < 0)
		return msg_fail(m, -errno, "cannot take the terminal: %s", strerror(errno));
	int r = limit_caps(uid);
	if (r < 0)
		return msg_fail(m, r, "cannot limit capabilities: %s", strerror(-r));
	if (s->ids.ranges && setgroups(0, NULL) < 0)
		return msg_fail(m, -errno, "setgroups failed: %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return msg_fail(m, -errno, "cannot become user %u:%u: %s (ids outside the "
				"container's map?)", (unsigned)uid, (unsigned)gid, strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return msg_fail(m, -errno, "cannot set no_new_privs: %s", strerror(errno));
	return 0;
}

int exec_command(const struct launch_spec *s, int keep_fd, int *status, struct msgbuf *m)
{
	uid_t uid;
	gid_t gid;
	_cleanup_free_ char *home = NULL;
	*status = 125;
	int r = user_resolve(s->user, &uid, &gid, &home, m);
	if (r < 0 || (r = set_env(s, home)) < 0 || (r = enter_workdir(s->workdir, m)) < 0 ||
	    (r = become(s, uid, gid, m)) < 0)
		return r;
	if ((r = close_other_fds(keep_fd)) < 0)
		return msg_fail(m, r, "cannot close file descriptors: %s", strerror(-r));
	execvp(s->argv[0], s->argv);
	r = -errno;
	*status = r == -ENOENT ? 127 : 126;
	return msg_fail(m, r, "cannot run '%s': %s", s->argv[0], strerror(-r));
}
