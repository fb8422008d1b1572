/* Holding a running container still while its writable layer is read:
 * every process of its PID namespace is stopped (SIGSTOP) and waited for
 * until it is stopped, so no write is under way; SIGCONT resumes them.
 * The layerfs daemon lives outside that namespace and keeps serving. */
#ifndef LAYERFS_CONTAINER_FREEZE_H
#define LAYERFS_CONTAINER_FREEZE_H

#include <stddef.h>
#include <sys/types.h>

struct frozen {
	pid_t *pids;
	size_t n;
};

/* Stop the processes sharing INIT's PID namespace (INIT: host pid). */
int container_freeze(pid_t init, struct frozen *f);
void container_thaw(struct frozen *f);

#endif
