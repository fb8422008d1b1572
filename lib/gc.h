/* Garbage collection: blobs and layers no image references, and temp
 * leftovers of killed commands. */
#ifndef LAYERFS_GC_H
#define LAYERFS_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct gc_stats {
	uint64_t blobs, layers, temps;
	uint64_t bytes;          /* freed (or that would be, with dry_run) */
};

/* Call with the exclusive store lock held. */
int gc_collect(struct store *s, bool dry_run, struct gc_stats *st, struct errmsg *e);

#endif
