/* -t: the pseudo-terminal comes from the container's own devpts, so the
 * command sees a /dev/pts/N that exists inside; its master goes back to
 * the caller over a socket (SCM_RIGHTS). */
#ifndef LAYERFS_LAUNCH_TTY_H
#define LAYERFS_LAUNCH_TTY_H

#include <sys/ioctl.h>

/* In PID 1, after the switch into the root: open a pty on /dev/ptmx with
 * window size WS, send its master on SOCK, return the terminal in *SLAVE. */
int tty_open_in_container(int sock, const struct winsize *ws, int *slave);
/* In the caller: receive the master. */
int tty_recv_master(int sock, int *master);

#endif
