/* The container's PID 1: a tiny init that reaps every zombie and passes
 * the usual termination signals on to the command. */
#ifndef LAYERFS_LAUNCH_INIT_H
#define LAYERFS_LAUNCH_INIT_H

#include <signal.h>
#include <sys/types.h>

/* The signals PID 1 forwards (and the caller forwards to PID 1). */
extern const int forwarded_signals[6];
/* Fill SET with the forwarded signals and SIGCHLD. */
void init_sigset(sigset_t *set);
/* Wait for CHILD (the command), forwarding signals to it and reaping
 * everything else; the signals of init_sigset() must be blocked.  Returns
 * the command's exit status, or 128+N when a signal N ended it. */
int init_loop(pid_t child);
/* The exit status of a wait(2) status. */
int wait_status_code(int status);

#endif
