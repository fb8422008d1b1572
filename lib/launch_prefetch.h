/* Reading the command's executable ahead, through the container's fresh
 * root filesystem, while PID 1 is still making its mounts.
 *
 * Each container's layerfs mount starts with an empty page cache, so the
 * page faults of the command's first run are FUSE round trips, one after
 * the other (a static busybox: about 20 of them, several ms).  A thread
 * of the holder reads the file first, in parallel with the rest of the
 * launch; the command then finds its pages in memory. */
#ifndef LAYERFS_LAUNCH_PREFETCH_H
#define LAYERFS_LAUNCH_PREFETCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "launch.h"

struct prefetch {
	pthread_t thread;
	bool started;
	atomic_bool stop;      /* set by prefetch_end: read no further */
	const struct launch_spec *spec;
};

/* Start reading, in a thread, the file SPEC's command names inside the
 * mounted root (CDIR/merged), as execvp would find it with the command's
 * PATH; and its ELF interpreter, if any.  Best effort: nothing fails. */
void prefetch_start(struct prefetch *p, const struct launch_spec *spec);
/* Stop the thread and wait for it (it holds files of the root open until
 * it ends).  P must stay in place until then. */
void prefetch_end(struct prefetch *p);

#endif
