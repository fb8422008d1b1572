/* Resource limits through cgroups: v2 where the controller is available
 * and delegated, else the v1 hierarchy of the controller; where neither
 * is writable the limit is reported and skipped. */
#ifndef LAYERFS_LAUNCH_CGROUP_H
#define LAYERFS_LAUNCH_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "msgbuf.h"

struct cgroup_limits {
	int64_t memory;        /* bytes; 0: none */
	int64_t cpu_millis;    /* thousandths of a CPU; 0: none */
	int64_t pids;          /* 0: none */
};

#define CGROUP_MAX_DIRS 4

struct cgroup_plan {
	size_t n;
	char *dirs[CGROUP_MAX_DIRS];   /* the groups made for the container */
};

/* Make groups named NAME below the caller's own, with the limits set.
 * Limits that no hierarchy can take are named in WARN (returns 0 all the
 * same); -errno only for an unexpected failure. */
int cgroup_setup(const char *name, const struct cgroup_limits *lim,
		 struct cgroup_plan *out, struct msgbuf *warn);
/* Move the calling process into every group of P. */
int cgroup_join(const struct cgroup_plan *p, struct msgbuf *m);
/* Remove the groups (once empty) and free P. */
void cgroup_cleanup(struct cgroup_plan *p);
/* Free P, leaving the groups (to the process that will clean them up). */
void cgroup_forget(struct cgroup_plan *p);

#endif
