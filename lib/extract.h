/* Safe, faithful extraction of one layer tar into a directory.
 *
 * Every path is resolved beneath the root with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so no entry can write through a symlink or outside
 * the tree.  What an unprivileged process cannot apply (foreign owners,
 * device nodes, modes that would lock it out) is kept in the
 * user.containers.override_stat xattr. */
#ifndef LAYERFS_EXTRACT_H
#define LAYERFS_EXTRACT_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "layer_manifest.h"

struct archive;
struct archive_entry;

struct extract_stats {
	uint64_t entries;
	bool used_override;   /* some entry carries the override xattr */
};

/* Normalise a tar entry name: strip leading "/" and "./", drop "." and
 * empty components.  ".." anywhere is -EINVAL.  "" names the root. */
int normalize_entry_path(const char *in, char **out);

/* Extract every entry of A (positioned before its first header) into
 * ROOTFD, recording each in M.  Returns 0 or -errno with detail in E. */
int extract_layer(struct archive *a, int rootfd, struct layer_manifest *m,
		  struct extract_stats *stats, struct errmsg *e);

#endif
