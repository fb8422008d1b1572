/* Supervising a running container (see run_io.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_init.h"
#include "run_io.h"

int run_io_signals(struct run_io *io)
{
	sigset_t set;
	init_sigset(&set);   /* the forwarded ones and SIGCHLD */
	sigaddset(&set, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	io->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return io->sigfd < 0 ? -errno : 0;
}

static void copy_winsize(int from, int to)
{
	struct winsize ws;
	if (from >= 0 && ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

void run_io_tty_prepare(struct run_io *io, int in_fd, int out_fd, struct winsize *ws)
{
	io->in_fd = in_fd;
	io->out_fd = out_fd;
	io->size_fd = isatty(0) ? 0 : isatty(1) ? 1 : isatty(2) ? 2 : -1;
	memset(ws, 0, sizeof(*ws));
	if (io->size_fd >= 0)
		ioctl(io->size_fd, TIOCGWINSZ, ws);
}

void run_io_tty_attach(struct run_io *io, int master)
{
	io->master = master;
	/* The size may have changed since the container took it. */
	copy_winsize(io->size_fd, master);
}

void run_io_raw(struct run_io *io)
{
	if (io->in_fd < 0 || !isatty(io->in_fd) || tcgetattr(io->in_fd, &io->saved) < 0)
		return;
	struct termios t = io->saved;
	cfmakeraw(&t);
	if (tcsetattr(io->in_fd, TCSANOW, &t) == 0)
		io->raw = true;
}

void run_io_restore(struct run_io *io)
{
	if (io->raw)
		tcsetattr(io->in_fd, TCSANOW, &io->saved);
	io->raw = false;
}

/* Copy what FROM has now to TO; false at end of input. */
static bool pump(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return true;   /* output gone: keep draining */
		off += w;
	}
	return true;
}

static void handle_signals(struct run_io *io, struct launch *l)
{
	struct signalfd_siginfo si;
	while (read(io->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGWINCH && io->master >= 0)
			copy_winsize(io->size_fd, io->master);
		else if (si.ssi_signo != SIGCHLD && si.ssi_signo != SIGWINCH)
			kill(l->init, (int)si.ssi_signo);
	}
}

int run_io_supervise(struct run_io *io, struct launch *l)
{
	bool in_open = io->master >= 0 && io->in_fd >= 0, out_open = io->master >= 0;
	if (io->master >= 0)
		fcntl(io->master, F_SETFL, fcntl(io->master, F_GETFL) | O_NONBLOCK);
	for (;;) {
		struct pollfd p[4] = {
			{ io->sigfd, POLLIN, 0 }, { l->status_fd, POLLIN, 0 },
			{ out_open ? io->master : -1, POLLIN, 0 }, { in_open ? io->in_fd : -1, POLLIN, 0 },
		};
		if (poll(p, 4, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			handle_signals(io, l);
		if (p[2].revents && !pump(io->master, io->out_fd))
			out_open = false;
		if (p[3].revents && !pump(io->in_fd, io->master))
			in_open = false;
		if (p[1].revents)
			break;
	}
	int code = launch_finish(l);
	/* Whatever the command wrote last is still in the pty. */
	while (out_open && pump(io->master, io->out_fd)) {
		struct pollfd p = { io->master, POLLIN, 0 };
		if (poll(&p, 1, 50) <= 0)
			break;
	}
	return code;
}

void run_io_close(struct run_io *io)
{
	run_io_restore(io);
	if (io->master >= 0)
		close(io->master);
	if (io->sigfd >= 0)
		close(io->sigfd);
	io->master = io->sigfd = -1;
}
