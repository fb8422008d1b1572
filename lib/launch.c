/* The launcher's process tree (see launch.h): the caller maps the ids;
 * the holder owns the namespaces and the layerfs daemon; PID 1 builds its
 * own mount namespace on the rootfs and runs or becomes the command.
 *
 * The holder is born in its user namespace, so the caller maps its ids at
 * once.  Pipes: GO says the maps are written; ERR carries a failure message
 * from any of them and reaches end-of-file when the command has been
 * exec'd (each process closes its copy once it has no more to say);
 * STATUS carries PID 1's host pid, then the container's exit status. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "fsutil.h"
#include "clock_ns.h"
#include "launch.h"
#include "launch_exec.h"
#include "launch_init.h"
#include "launch_prefetch.h"
#include "launch_rootfs.h"
#include "launch_trace.h"
#include "launch_tty.h"

struct chans {
	int go_r, err_w, status_w;
};

static void report(int err_w, const struct msgbuf *m, int r)
{
	const char *t = msg_text(m, r);
	if (write(err_w, t, strlen(t)) < 0) {
		/* the caller is gone: nobody to tell */
	}
}

/* The command's process under the tiny init, or PID 1 itself; TTY (or
 * -1) is the terminal to use as its stdio. */
static int command_main(const struct launch_spec *s, int err_w, int tty)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct msgbuf m = { { 0 } };
	for (int k = 0; tty >= 0 && k < 3; k++)
		if (dup2(tty, k) < 0) {
			report(err_w, &m, msg_fail(&m, -errno, "cannot use the terminal: %s",
						   strerror(errno)));
			return 1;
		}
	int status;
	trace_mark("cmd", "exec");
	int r = exec_command(s, err_w, &status, &m);
	report(err_w, &m, r);
	return status;
}

static int pid1_main(const struct launch_spec *s, int err_w, int code_w)
{
	struct msgbuf m = { { 0 } };
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	trace_mark("pid1", "started");
	/* Own mount namespace: pivot_root must not re-root the daemon. */
	int r = unshare(CLONE_NEWNS) < 0 ? msg_fail(&m, -errno, "cannot unshare the mount "
			"namespace: %s", strerror(errno)) : rootfs_enter(s, &m);
	_cleanup_close_ int tty = -1;
	if (r == 0 && s->tty && (r = tty_open_in_container(s->tty_sock, &s->ws, &tty)) < 0)
		msg_fail(&m, r, "cannot open a pseudo-terminal: %s", strerror(-r));
	if (r < 0) {
		report(err_w, &m, r);
		return 1;
	}
	if (!s->init)
		return command_main(s, err_w, tty);
	pid_t cmd = fork();
	if (cmd < 0) {
		report(err_w, &m, msg_fail(&m, -errno, "fork failed: %s", strerror(errno)));
		return 1;
	}
	if (cmd == 0)
		_exit(command_main(s, err_w, tty));
	close(err_w);
	close(TAKE_FD(tty));
	int rc = init_loop(cmd);
	trace_mark("pid1", "command reaped");
	/* The holder may start its teardown while this process and its
	 * namespaces are taken down (a millisecond or two). */
	sync_post(code_w, rc);
	return rc;
}

/* The namespaces other than the pid one.  A new user namespace grants all
 * capabilities in it at once, mapped or not: this overlaps the caller's
 * writing of the id maps. */
static int unshare_others(const struct launch_spec *s, struct msgbuf *m)
{
	int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (s->network_host ? 0 : CLONE_NEWNET);
	if (unshare(flags) < 0)
		return msg_fail(m, -errno, "cannot unshare namespaces: %s", strerror(errno));
	/* Nothing mounted from here on may propagate to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return msg_fail(m, -errno, "cannot make mounts private: %s", strerror(errno));
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		return msg_fail(m, -errno, "cannot set the hostname: %s", strerror(errno));
	int r;
	if (!s->network_host && (r = ns_loopback_up()) < 0)
		return msg_fail(m, r, "cannot bring up the loopback interface: %s", strerror(-r));
	return 0;
}

static int holder_setup(const struct launch_spec *s, struct chans *c, struct prefetch *pf,
			pid_t *daemon, struct msgbuf *m)
{
	trace_mark("holder", "started");
	int r, q = unshare_others(s, m);
	trace_mark("holder", "namespaces made");
	/* Wait for the maps even after a failure: the caller is writing them. */
	if (sync_wait(c->go_r, NULL) < 0)
		return q < 0 ? q : msg_fail(m, -EPIPE, "the id maps were not written");
	if (q < 0)
		return q;
	trace_mark("holder", "id maps written");
	if ((r = ns_become_root(&s->ids)) < 0)
		return msg_fail(m, r, "cannot become root of the user namespace: %s", strerror(-r));
	if ((r = rootfs_etc_files(s, m)) < 0 || (r = rootfs_mount(s, daemon, m)) < 0)
		return r;
	trace_mark("holder", "layerfs mounted");
	prefetch_start(pf, s);
	/* Only now: the daemon stays out of the container's cgroup. */
	if ((r = cgroup_join(&s->cg, m)) < 0)
		return r;
	if (unshare(CLONE_NEWPID | CLONE_NEWCGROUP) < 0)
		return msg_fail(m, -errno, "cannot unshare the pid namespace: %s", strerror(errno));
	trace_mark("holder", "cgroup joined, pid namespace made");
	return 0;
}

/* Wait (at most a few seconds) for the child PID to end. */
static void reap_within(pid_t pid)
{
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + 5 * NS_PER_SEC;
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now >= end)
			return;
		struct timespec ts = ns_timespec(end - now);
		sigtimedwait(&chld, NULL, &ts);
	}
}

/* Everything in CDIR but the holder's mount points (busy in its mount
 * namespace, they go with it): as root of the namespace, which may remove
 * what the container's other users made. */
static void remove_but_mounts(const char *cdir)
{
	_cleanup_closedir_ DIR *d = opendir(cdir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *n = de->d_name;
		if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "merged") && strcmp(n, "etc"))
			rm_rf_at(dirfd(d), n, NULL);
	}
}

/* After the container's end.  Nothing is unmounted here but the root of
 * a kept container: an unmount waits for an RCU grace period (about a
 * millisecond), and the mount namespace takes its mounts along when the
 * holder exits, all at once. */
static void holder_teardown(const struct launch_spec *s, pid_t daemon, int code)
{
	if (s->remove) {
		/* The layer is thrown away: the daemon need not end in order.
		 * Once it is killed, the upper and work directories are no
		 * one's; the caller removes the mount points after our exit. */
		kill(daemon, SIGKILL);
		remove_but_mounts(s->cdir);
		reap_within(daemon);
		trace_mark("holder", "container removed");
		return;
	}
	/* The daemon ends once unmounted, having written all back. */
	char merged[4200];
	snprintf(merged, sizeof(merged), "%s/merged", s->cdir);
	umount2(merged, MNT_DETACH);
	reap_within(daemon);
	trace_mark("holder", "layerfs gone");
	/* Here rather than in the caller: the state stays right even when
	 * the caller was killed. */
	char ex[16];
	snprintf(ex, sizeof(ex), "%d\n", code);
	container_write_text(s->cdir, "exit", ex);
}

/* A launch that failed after the daemon started: end it at once (its
 * mount would keep this namespace, and it, alive). */
static int holder_abort(struct chans *c, struct prefetch *pf, pid_t daemon, struct msgbuf *m,
			int r)
{
	prefetch_end(pf);
	if (daemon > 0) {
		kill(daemon, SIGKILL);
		reap_within(daemon);
	}
	report(c->err_w, m, r);
	return 1;
}

static int holder_main(const struct launch_spec *s, struct chans *c)
{
	struct msgbuf m = { { 0 } };
	for (int k = 0; k < 3; k++)
		if (s->stdio[k] != k && dup2(s->stdio[k], k) < 0)
			return 1;
	/* Out of the caller's session: signals from its terminal reach the
	 * caller alone, which passes them on to the command once. */
	setsid();
	struct prefetch pf = { 0 };
	pid_t daemon = -1;
	int r = holder_setup(s, c, &pf, &daemon, &m);
	if (r < 0)
		return holder_abort(c, &pf, daemon, &m, r);
	sigset_t set;
	init_sigset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int cp[2];
	if (pipe2(cp, O_CLOEXEC) < 0)
		return holder_abort(c, &pf, daemon, &m,
				    msg_fail(&m, -errno, "cannot make a pipe: %s", strerror(errno)));
	pid_t init = fork();
	if (init == 0) {
		close(cp[0]);
		_exit(pid1_main(s, c->err_w, cp[1]));
	}
	close(cp[1]);
	_cleanup_close_ int code_r = cp[0];
	if (init < 0)
		return holder_abort(c, &pf, daemon, &m,
				    msg_fail(&m, -errno, "fork failed: %s", strerror(errno)));
	close(c->err_w);
	sync_post(c->status_w, init);
	/* The tiny init says the command's status before it exits; without
	 * it (--init=false, or PID 1 killed) its own exit status is the
	 * answer. */
	int st = 0, code = 255;
	bool early = sync_wait(code_r, &code) == 0;
	if (!early && RETRY_EINTR(waitpid(init, &st, 0)) == init)
		code = wait_status_code(st);
	trace_mark("holder", "command's status known");
	prefetch_end(&pf);
	/* A kept container's root is unmounted only once nothing of the
	 * container can use it any more; a removed one's daemon is killed
	 * at once, while PID 1 and its namespaces are taken down. */
	if (early && !s->remove) {
		RETRY_EINTR(waitpid(init, &st, 0));
		early = false;
	}
	holder_teardown(s, daemon, code);
	if (early)
		RETRY_EINTR(waitpid(init, &st, 0));
	trace_mark("holder", "container ended");
	sync_post(c->status_w, code);
	return code;
}

static int make_pipes(int fds[3][2])
{
	for (int k = 0; k < 3; k++) {
		if (pipe2(fds[k], O_CLOEXEC) < 0) {
			int e = -errno;
			while (k-- > 0) {
				close(fds[k][0]);
				close(fds[k][1]);
			}
			return e;
		}
	}
	return 0;
}

/* Everything the failed children said on the ERR pipe. */
static void read_message(int fd, struct msgbuf *m)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = RETRY_EINTR(read(fd, m->text + n, sizeof(m->text) - 1 - n));
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof(m->text) - 1)
			break;
	}
	m->text[n] = 0;
}

static int reap_holder(pid_t pid)
{
	int st = 0;
	if (RETRY_EINTR(waitpid(pid, &st, 0)) < 0)
		return 255;
	return wait_status_code(st);
}

int launch_start(const struct launch_spec *s, struct launch *l, struct msgbuf *m)
{
	int p[3][2];  /* go, err, status */
	int r = make_pipes(p);
	if (r < 0)
		return msg_fail(m, r, "cannot make pipes: %s", strerror(-r));
	pid_t pid = ns_fork_user(m);
	if (pid == 0) {
		close(p[0][1]);
		close(p[1][0]);
		close(p[2][0]);
		struct chans c = { p[0][0], p[1][1], p[2][1] };
		_exit(holder_main(s, &c));
	}
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	_cleanup_close_ int go_w = p[0][1], err_r = p[1][0], status_r = p[2][0];
	if (pid < 0)
		return pid;
	trace_mark("caller", "holder forked");
	r = ns_write_maps(pid, &s->ids, m);
	trace_mark("caller", "id maps written");
	if (r == 0)
		sync_post(go_w, 0);
	close(TAKE_FD(go_w));
	struct msgbuf child = { { 0 } };
	read_message(err_r, &child);
	int init = 0;
	trace_mark("caller", "command started");
	if (r == 0 && !child.text[0] && sync_wait(status_r, &init) == 0) {
		*l = (struct launch){ pid, init, TAKE_FD(status_r), 0 };
		return 0;
	}
	/* Our own failure (the id maps) explains more than the holder's
	 * consequence of it. */
	if (r == 0 && child.text[0])
		*m = child;
	else if (r == 0)
		msg_fail(m, -EIO, "the container failed to start");
	/* PID 1 may still be running when only the exec failed: its status. */
	int code = reap_holder(pid);
	l->exit_code = code == 126 || code == 127 ? code : 1;
	return r < 0 ? r : -EIO;
}

int launch_finish(struct launch *l)
{
	int code = -1;
	if (sync_wait(l->status_fd, &code) < 0)
		code = -1;
	trace_mark("caller", "container ended");
	close(TAKE_FD(l->status_fd));
	int st = reap_holder(l->holder);
	trace_mark("caller", "holder reaped");
	return code >= 0 ? code : st;
}
