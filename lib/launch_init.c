/* The container's PID 1 (see launch_init.h).  A PID 1 without handlers
 * ignores SIGTERM and friends, and orphans are reparented to it: without
 * this loop `sleep` would not stop on SIGTERM and zombies would pile up. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "cleanup.h"
#include "launch_init.h"

const int forwarded_signals[6] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

void init_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t k = 0; k < ARRAY_SIZE(forwarded_signals); k++)
		sigaddset(set, forwarded_signals[k]);
}

int wait_status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* Reap every exited child; true once CHILD was among them. */
static bool reap(pid_t child, int *code)
{
	bool done = false;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return done;
		if (p == child) {
			*code = wait_status_code(st);
			done = true;
		}
	}
}

int init_loop(pid_t child)
{
	sigset_t set;
	init_sigset(&set);
	int code = 255;
	if (reap(child, &code))
		return code;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			return 255;
		}
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		/* Once the command is gone, PID 1 leaves and the kernel ends
		 * every other process of the namespace. */
		if (reap(child, &code))
			return code;
	}
}
