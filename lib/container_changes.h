/* What diff and commit read from a container directory: its record's
 * lowers, its upper/, the mount points the launcher made there
 * (CDIR/mountpoints) and the caller's id mapping. */
#ifndef LAYERFS_CONTAINER_CHANGES_H
#define LAYERFS_CONTAINER_CHANGES_H

#include <stdbool.h>
#include <stddef.h>

#include "changes.h"
#include "container.h"

/* CDIR/mountpoints, sorted (none when missing). */
int container_mountpoints(const char *cdir, char ***out, size_t *n);
void mountpoints_free(char **v, size_t n);

/* WHOLE: the whole root filesystem as added (a squashed commit). */
int container_changes(const char *cdir, const struct container_record *rec, bool keep_links,
		      bool whole, struct change_set *out, struct errmsg *e);

#endif
