/* User namespaces and id maps: the container's root is the calling user;
 * with a range in /etc/subuid and /etc/subgid (and newuidmap/newgidmap),
 * ids 1..N map onto that range as well. */
#ifndef LAYERFS_LAUNCH_NS_H
#define LAYERFS_LAUNCH_NS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "msgbuf.h"

struct id_plan {
	uid_t uid;
	gid_t gid;
	bool ranges;           /* use newuidmap/newgidmap with the ranges below */
	uint32_t subuid, nsubuid, subgid, nsubgid;
};

/* Decide the mapping for the calling user. */
int id_plan_load(struct id_plan *p);
/* fork(2) into a new user namespace: 0 in the child, its pid in the
 * parent, or -errno with a message naming the sysctl when the kernel
 * refuses.  The parent can write the maps at once. */
pid_t ns_fork_user(struct msgbuf *m);
/* Called by the parent: write PID's uid and gid maps. */
int ns_write_maps(pid_t pid, const struct id_plan *p, struct msgbuf *m);
/* In the new namespace, once mapped: become its root. */
int ns_become_root(const struct id_plan *p);
/* Run FN(ARG) as root of a fresh user namespace mapped by P (as the
 * launcher maps it), in a child; returns FN's result. */
int ns_run_as_root(const struct id_plan *p, int (*fn)(void *), void *arg, struct msgbuf *m);
/* Bring the loopback interface of the current network namespace up. */
int ns_loopback_up(void);

/* One-byte handshakes between processes over pipes. */
int sync_post(int fd, int value);
int sync_wait(int fd, int *value);

#endif
