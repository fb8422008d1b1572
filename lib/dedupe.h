/* Sharing the storage of identical files across the store's layer trees.
 *
 * Candidates: regular, non-empty files of the trees under layers/.  They are
 * grouped by size, then by a partial hash (XXH3-64 of the first and last
 * blocks), then by a full XXH3-128 hash; before two files are joined their
 * bytes are compared.  Files whose metadata (mode, owner, mtime in ns, size
 * and xattrs other than user.layerfs.*) are equal and which live in
 * different trees become one inode (hardlinks); the shared inode carries the
 * xattr XATTR_DEDUPE (whiteout.h) so layerfs shows it as a single-name file.  The rest
 * may share extents (FIDEDUPERANGE), each keeping its own inode.
 *
 * An index, STORE/dedupe/index, remembers every candidate (layer, path,
 * size, mtime, inode, hashes) so a later run reads only layers added since.
 * docs/STORE.md describes the contract with layerfs. */
#ifndef LAYERFS_DEDUPE_H
#define LAYERFS_DEDUPE_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "store.h"
#include "whiteout.h"

#define DEDUPE_XATTR_PREFIX "user.layerfs."

enum dedupe_mode {
	DEDUPE_HARDLINK,      /* link what may be linked, leave the rest */
	DEDUPE_REFLINK,       /* the same, and share extents of the rest */
};

struct dedupe_opts {
	enum dedupe_mode mode;
	bool dry_run;
	/* Called once per group of identical files (for --dry-run listings):
	 * ACTION is "link" or "extents", PATHS[0] is the keeper, each
	 * "LAYERHEX:path". */
	void (*group)(void *arg, const char *action, uint64_t size,
		      const char *const *paths, size_t n);
	void *arg;
	/* Progress: bytes hashed so far. */
	void (*progress)(void *arg, uint64_t bytes);
	void *progress_arg;
};

struct dedupe_stats {
	uint64_t layers, new_layers;       /* layers seen, layers read this run */
	uint64_t files;                    /* candidate files in the store */
	uint64_t files_scanned;            /* candidates stat'ed this run */
	uint64_t files_hashed, bytes_hashed;   /* full hashes computed */
	uint64_t partial_hashed;           /* partial hashes computed */
	uint64_t groups;                   /* groups of identical content */
	uint64_t files_linked;             /* paths now naming a shared inode */
	uint64_t bytes_saved, disk_saved;  /* freed inodes: st_size, st_blocks */
	uint64_t files_reflinked, bytes_reflinked;
	uint64_t separate;                 /* inodes left apart despite equal content
	                                      (metadata differ, same tree, hardlinks) */
	uint64_t reflink_unsupported;      /* extents not shared: fs refuses */
	uint64_t compare_differ;           /* equal hashes, different bytes */
	uint64_t skipped;                  /* changed under us, unreadable */
	int reflink_errno;                 /* why extents could not be shared */
};

/* Run a dedupe over the whole store.  Takes the exclusive store lock
 * (shared with DRY_RUN) itself; S must not be locked. */
int dedupe_run(struct store *s, const struct dedupe_opts *o, struct dedupe_stats *st,
	       struct errmsg *e);

#endif
