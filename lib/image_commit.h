/* Moving an import's temp files into the store, under its lock. */
#ifndef LAYERFS_IMAGE_COMMIT_H
#define LAYERFS_IMAGE_COMMIT_H

#include "image_plan.h"
#include "import.h"

/* Blobs and layers first (each a rename), index.json last: a command killed
 * half-way leaves at most unreferenced, complete objects for gc. */
int commit_plans(struct store *s, int tmpfd, struct image_plan *plans, size_t n,
		 struct import_result *res, struct errmsg *e);

/* index.json edits shared with tag/untag/rm. */
int index_add_ref(struct json *index, const char *ref, const char *manifest_digest,
		  const char *media_type, int64_t size);
/* Remove the entries naming REF; returns how many. */
int index_remove_ref(struct json *index, const char *ref);
/* Remove every entry of the manifest DIGEST (all its names). */
int index_remove_image(struct json *index, const char *manifest_digest);

#endif
