/* A new image on top of a stored one: its config (the base's, with the new
 * layer's DiffID and a history entry), its manifest and its name, moved
 * into the store with its new layer in one step. */
#ifndef LAYERFS_IMAGE_BUILD_H
#define LAYERFS_IMAGE_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "images.h"
#include "layer_import.h"

struct build_opts {
	const char *ref;          /* "name:tag" (normalised) */
	const char *message;      /* history comment, or NULL */
	const char *author;       /* or NULL */
	const char *created_by;   /* history created_by */
	int64_t created;          /* seconds since the epoch */
	size_t keep;              /* the base's layers kept below the new one */
};

/* LAYER (a temp layer of TMPFD, from layer_import) over the first
 * O->keep layers of BASE.  Everything is written into TMPFD first; then,
 * under the exclusive store lock, renamed into place, index.json last.  A
 * failure undoes the renames done: the store is as before. */
int image_build_commit(struct store *s, int tmpfd, const struct image_info *base,
		       const struct layer_result *layer, const struct build_opts *o,
		       char manifest_digest[DIGEST_STR_LEN + 1], struct errmsg *e);

/* "2026-01-01T00:00:00Z" */
void rfc3339(int64_t t, char buf[32]);

#endif
