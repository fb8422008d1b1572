/* The caller's side of a running container: signals passed on to its
 * PID 1, and with -t the pseudo-terminal relayed to ours. */
#ifndef LAYERCTL_RUN_IO_H
#define LAYERCTL_RUN_IO_H

#include <stdbool.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "launch.h"

struct run_io {
	int master;            /* pty master, or -1 */
	int in_fd;             /* our input for the pty (-1: none) */
	int out_fd;            /* where the pty's output goes */
	int size_fd;           /* our terminal, whose window size the pty takes */
	bool raw;              /* in_fd's terminal is in raw mode */
	struct termios saved;
	int sigfd;             /* signalfd of the signals we handle */
};

/* Block and take over the signals the supervisor handles. */
int run_io_signals(struct run_io *io);
/* Prepare relaying a pseudo-terminal between IN_FD/OUT_FD and the
 * container: *WS is our terminal's window size (zero without one). */
void run_io_tty_prepare(struct run_io *io, int in_fd, int out_fd, struct winsize *ws);
/* The pty's master, received from the container. */
void run_io_tty_attach(struct run_io *io, int master);
/* Put our terminal into raw mode (and back). */
void run_io_raw(struct run_io *io);
void run_io_restore(struct run_io *io);
/* Relay and forward until the container ends; its exit status. */
int run_io_supervise(struct run_io *io, struct launch *l);
void run_io_close(struct run_io *io);

#endif
