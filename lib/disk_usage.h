/* Bytes layers take on disk, counting each inode once however many names
 * (hardlinks of a layer, or files dedupe shares between layers) it has. */
#ifndef LAYERFS_DISK_USAGE_H
#define LAYERFS_DISK_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The inodes counted so far. */
struct inoset {
	uint64_t *v;           /* open addressing; 0 = empty (ino 0 is never used) */
	size_t n, cap;
};

void inoset_free(struct inoset *s);

/* Add the st_blocks of every inode of layer DIFF_ID's tree not yet in SEEN
 * (then adding it) to *DISK, and the st_size of its regular files, each
 * inode once, to *APPARENT. */
int layer_disk_usage(struct store *s, const char *diff_id, struct inoset *seen,
		     uint64_t *disk, uint64_t *apparent);

#endif
