/* layerctl run: create a container and run its command, in the
 * foreground (our stdio, or a pty with -t) or detached (-d: a monitor
 * process in its own session, output to the container's log). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "ctl_common.h"
#include "launch_cgroup.h"
#include "launch_trace.h"
#include "launch_tty.h"
#include "run_io.h"
#include "run_spec.h"

/* Start the container and supervise it to its end.  NOTIFY (detached
 * mode) learns when it runs.  Returns the exit status; *M explains a
 * failure to start. */
static int supervise(struct run_ctx *c, int notify, struct msgbuf *m)
{
	struct run_io io = { .master = -1, .in_fd = -1, .out_fd = 1, .size_fd = -1, .sigfd = -1 };
	_cleanup_close_ int lock = -1, null = -1, sock = -1;
	int r = container_lock(c->cdir, &lock);
	if (r < 0)
		return msg_fail(m, r, "cannot lock '%s': %s", c->cdir, strerror(-r)), 1;
	if ((r = run_io_signals(&io)) < 0)
		return msg_fail(m, r, "cannot set up signals: %s", strerror(-r)), 1;
	if (c->o.tty) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			run_io_close(&io);
			return msg_fail(m, -errno, "cannot make a socket: %s", strerror(errno)), 1;
		}
		sock = sv[0];
		c->spec.tty_sock = sv[1];
		run_io_tty_prepare(&io, c->o.interactive && !c->o.detach ? 0 : -1, 1, &c->spec.ws);
	}
	if (!c->o.interactive) {
		null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		c->spec.stdio[0] = null;
	}
	struct launch l = { 0 };
	r = launch_start(&c->spec, &l, m);
	if (c->o.tty)
		close(c->spec.tty_sock);
	int master = -1;
	if (r == 0 && c->o.tty && (r = tty_recv_master(sock, &master)) < 0) {
		msg_fail(m, r, "no pseudo-terminal from the container: %s", strerror(-r));
		kill(l.init, SIGKILL);
		launch_finish(&l);
	}
	if (r < 0) {
		run_io_close(&io);
		return l.exit_code ? l.exit_code : 1;
	}
	if (master >= 0)
		run_io_tty_attach(&io, master);
	char pids[64];
	snprintf(pids, sizeof(pids), "%d %d\n", (int)getpid(), (int)l.init);
	container_write_text(c->cdir, "pid", pids);
	if (notify >= 0)
		sync_post(notify, 0);
	if (c->o.interactive && c->o.tty && !c->o.detach)
		run_io_raw(&io);
	int code = run_io_supervise(&io, &l);
	run_io_close(&io);
	return code;
}

static int finish(struct run_ctx *c, int code)
{
	cgroup_cleanup(&c->spec.cg);
	if (c->o.rm) {
		struct msgbuf m = { { 0 } };
		int r = container_remove(c->cdir, &c->spec.ids, &m);
		if (r < 0)
			ctl_warn("%s", msg_text(&m, r));
	}
	trace_mark("caller", "done");
	return code;
}

/* The detached monitor: stdio to the log, its own session; tells the
 * caller through NOTIFY that the container runs, or why it does not. */
static int monitor_main(struct run_ctx *c, int notify)
{
	char log[4300];
	snprintf(log, sizeof(log), "%s/log", c->cdir);
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		return 1;
	setsid();
	struct msgbuf m = { { 0 } };
	int code = supervise(c, notify, &m);
	if (m.text[0]) {
		sync_post(notify, code ? code : 1);
		if (write(notify, m.text, strlen(m.text)) < 0)
			code = 1;
	}
	return finish(c, code);
}

static int run_detached(struct run_ctx *c)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return ctl_fail("cannot make a pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(monitor_main(c, p[1]));
	}
	close(p[1]);
	/* The monitor owns the container's cgroups now. */
	cgroup_forget(&c->spec.cg);
	_cleanup_close_ int rd = p[0];
	if (pid < 0)
		return ctl_fail("fork failed: %s", strerror(errno));
	int v = -1;
	if (sync_wait(rd, &v) < 0)
		return ctl_fail("the container monitor failed (see '%s/log')", c->cdir);
	if (v != 0) {
		char buf[1024];
		ssize_t n = read(rd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		ctl_fail("%s", buf[0] ? buf : "the container failed to start");
		return v;
	}
	printf("%s\n", c->id);
	return 0;
}

static int run_foreground(struct run_ctx *c)
{
	struct msgbuf m = { { 0 } };
	int code = supervise(c, -1, &m);
	if (m.text[0])
		ctl_fail("%s", m.text);
	return finish(c, code);
}

static int setup_cgroups(struct run_ctx *c)
{
	struct msgbuf warn = { { 0 } };
	char name[32];
	snprintf(name, sizeof(name), "layerctl-%.12s", c->id);
	int r = cgroup_setup(name, &c->o.limits, &c->spec.cg, &warn);
	if (r < 0)
		return ctl_fail("cannot set up cgroups: %s", strerror(-r));
	if (warn.text[0])
		ctl_warn("no writable cgroup (v2 with the controller delegated, or a v1 hierarchy) "
			 "for %s: running without that limit", warn.text);
	return -1;
}

/* LAYERCTL_TRACE=1: phase times on a copy of stderr (the container's
 * processes redirect their own stderr). */
static void start_trace(void)
{
	const char *t = getenv("LAYERCTL_TRACE");
	if (t && *t && strcmp(t, "0"))
		trace_start(fcntl(2, F_DUPFD_CLOEXEC, 3));
}

int cmd_run(int argc, char **argv)
{
	struct run_ctx c = { 0 };
	start_trace();
	int r = run_opts_parse(argc, argv, &c.o);
	if (r < 0 && (r = run_ctx_resolve(&c)) < 0 && (r = run_ctx_check_host(&c)) < 0 &&
	    (r = run_ctx_create(&c)) < 0 && (r = setup_cgroups(&c)) < 0) {
		trace_mark("caller", "container created");
		r = c.o.detach ? run_detached(&c) : run_foreground(&c);
	}
	else if (c.cdir && c.o.rm)
		r = finish(&c, r);
	run_ctx_free(&c);
	return r;
}
