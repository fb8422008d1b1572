/* User namespace creation and id maps (see launch_ns.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_ns.h"

extern char **environ;

int sync_post(int fd, int value)
{
	return RETRY_EINTR(write(fd, &value, sizeof(value))) == sizeof(value) ? 0 : -EPIPE;
}

int sync_wait(int fd, int *value)
{
	int v = 0;
	ssize_t n = RETRY_EINTR(read(fd, &v, sizeof(v)));
	if (n != sizeof(v))
		return -EPIPE;
	if (value)
		*value = v;
	return 0;
}

/* The first "NAME:START:COUNT" line of FILE for the user (by name or id). */
static bool subid_range(const char *file, const char *name, unsigned long id,
			uint32_t *start, uint32_t *count)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	if (!f)
		return false;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char who[256];
		unsigned long s, c;
		if (sscanf(line, "%255[^:]:%lu:%lu", who, &s, &c) != 3 || c == 0 ||
		    s > UINT32_MAX || c > UINT32_MAX - s)
			continue;
		char *end;
		unsigned long n = strtoul(who, &end, 10);
		if ((name && !strcmp(who, name)) || (!*end && n == id)) {
			*start = (uint32_t)s;
			*count = (uint32_t)c;
			return true;
		}
	}
	return false;
}

static bool have_helper(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = strdup(path && *path ? path : "/usr/bin:/bin");
	if (!dirs)
		return false;
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", d, name);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

int id_plan_load(struct id_plan *p)
{
	struct id_plan q = { .uid = geteuid(), .gid = getegid() };
	char buf[4096];
	struct passwd pw, *res = NULL;
	getpwuid_r(q.uid, &pw, buf, sizeof(buf), &res);
	const char *name = res ? res->pw_name : NULL;
	/* newuidmap only matters for an ordinary user: root maps itself. */
	if (q.uid != 0 &&
	    subid_range("/etc/subuid", name, q.uid, &q.subuid, &q.nsubuid) &&
	    subid_range("/etc/subgid", name, q.uid, &q.subgid, &q.nsubgid) &&
	    have_helper("newuidmap") && have_helper("newgidmap"))
		q.ranges = true;
	*p = q;
	return 0;
}

static bool sysctl_is(const char *path, const char *value)
{
	char buf[32] = "";
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	return f && fgets(buf, sizeof(buf), f) && !strncmp(buf, value, strlen(value));
}

/* Why the kernel refused a user namespace with errno E. */
static int userns_refused(int e, struct msgbuf *m)
{
	if (e == EINVAL)
		return msg_fail(m, -e, "cannot create a user namespace: this kernel has no user "
				"namespaces (CONFIG_USER_NS)");
	if (e == ENOSPC || sysctl_is("/proc/sys/user/max_user_namespaces", "0"))
		return msg_fail(m, -e, "cannot create a user namespace: the limit is reached "
				"(sysctl user.max_user_namespaces)");
	if (sysctl_is("/proc/sys/kernel/unprivileged_userns_clone", "0"))
		return msg_fail(m, -e, "cannot create a user namespace: unprivileged user "
				"namespaces are disabled (sysctl kernel.unprivileged_userns_clone=1 "
				"enables them)");
	if (sysctl_is("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"))
		return msg_fail(m, -e, "cannot create a user namespace: AppArmor restricts them "
				"(sysctl kernel.apparmor_restrict_unprivileged_userns=0 lifts it)");
	return msg_fail(m, -e, "cannot create a user namespace: %s (sysctl "
			"user.max_user_namespaces, kernel.unprivileged_userns_clone)", strerror(e));
}

pid_t ns_fork_user(struct msgbuf *m)
{
	/* The raw system call, as fork(2) with one more flag: glibc's
	 * wrapper wants a new stack, and the process is single-threaded. */
	long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, 0UL);
	if (pid < 0)
		return userns_refused(errno, m);
	return (pid_t)pid;
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	return n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
}

/* Start HELPER PID 0 ID 1 1 START COUNT (newuidmap/newgidmap). */
static pid_t start_map_helper(const char *helper, pid_t pid, unsigned long id,
			      uint32_t start, uint32_t count)
{
	char spid[16], sid[24], sstart[16], scount[16];
	snprintf(spid, sizeof(spid), "%d", (int)pid);
	snprintf(sid, sizeof(sid), "%lu", id);
	snprintf(sstart, sizeof(sstart), "%u", start);
	snprintf(scount, sizeof(scount), "%u", count);
	char *argv[] = { (char *)helper, spid, "0", sid, "1", "1", sstart, scount, NULL };
	/* posix_spawn: no copy of this (large) process to make for an exec. */
	pid_t c;
	return posix_spawnp(&c, helper, NULL, NULL, argv, environ) == 0 ? c : -1;
}

static int wait_helper(pid_t c)
{
	int st;
	if (c < 0 || RETRY_EINTR(waitpid(c, &st, 0)) < 0)
		return -ECHILD;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPERM;
}

int ns_write_maps(pid_t pid, const struct id_plan *p, struct msgbuf *m)
{
	int r;
	if (p->ranges) {
		/* Both helpers at once: each is a setuid exec of a few ms. */
		pid_t u = start_map_helper("newuidmap", pid, p->uid, p->subuid, p->nsubuid);
		pid_t g = start_map_helper("newgidmap", pid, p->gid, p->subgid, p->nsubgid);
		int ru = wait_helper(u), rg = wait_helper(g);
		if (ru < 0)
			return msg_fail(m, ru, "'newuidmap' failed to map uids %u-%u for uid %u",
					p->subuid, p->subuid + p->nsubuid - 1, (unsigned)p->uid);
		if (rg < 0)
			return msg_fail(m, rg, "'newgidmap' failed to map gids %u-%u for gid %u",
					p->subgid, p->subgid + p->nsubgid - 1, (unsigned)p->gid);
		return 0;
	}
	char map[64];
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)p->uid);
	if ((r = write_proc(pid, "uid_map", map)) < 0)
		return msg_fail(m, r, "cannot write the uid map: %s", strerror(-r));
	/* An unprivileged gid map needs setgroups(2) denied first. */
	if ((r = write_proc(pid, "setgroups", "deny")) < 0 && r != -ENOENT)
		return msg_fail(m, r, "cannot deny setgroups: %s", strerror(-r));
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)p->gid);
	if ((r = write_proc(pid, "gid_map", map)) < 0)
		return msg_fail(m, r, "cannot write the gid map: %s", strerror(-r));
	return 0;
}

int ns_become_root(const struct id_plan *p)
{
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -errno;
	if (p->ranges && setgroups(0, NULL) < 0)
		return -errno;
	return 0;
}

/* The child of ns_run_as_root, born in its user namespace: its return
 * value is its exit status. */
static int run_child_main(const struct id_plan *p, int (*fn)(void *), void *arg, int go_r)
{
	if (sync_wait(go_r, NULL) < 0)
		return 125;
	if (ns_become_root(p) < 0)
		return 125;
	return fn(arg) < 0 ? 1 : 0;
}

int ns_run_as_root(const struct id_plan *p, int (*fn)(void *), void *arg, struct msgbuf *m)
{
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_close_ int go_w = go[1];
	pid_t pid = ns_fork_user(m);
	if (pid == 0) {
		close(go[1]);
		_exit(run_child_main(p, fn, arg, go[0]));
	}
	close(go[0]);
	if (pid < 0)
		return pid;
	int r = ns_write_maps(pid, p, m);
	if (r == 0)
		r = sync_post(go_w, 0);
	close(TAKE_FD(go_w));
	int st;
	if (RETRY_EINTR(waitpid(pid, &st, 0)) < 0)
		return -errno;
	if (r < 0)
		return r;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int ns_loopback_up(void)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}
