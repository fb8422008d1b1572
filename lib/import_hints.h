/* What an image archive says about its layers before they are read.
 *
 * A seekable, uncompressed archive is scanned once for its small JSON
 * documents only (layer data is skipped with lseek): docker's
 * manifest.json, or an OCI index with its manifests and configs.  They
 * map each layer file of the archive to the DiffID its config claims, so
 * the import can tell a layer the store holds before reading it.  A hint
 * is only a hint: the layer is still hashed and checked. */
#ifndef LAYERFS_IMPORT_HINTS_H
#define LAYERFS_IMPORT_HINTS_H

#include <stddef.h>

#include "digest.h"

struct layer_hint {
	char *path;                         /* normalised archive path */
	char diff_id[DIGEST_STR_LEN + 1];
};

struct layer_hints {
	struct layer_hint *v;
	size_t n;
};

/* Scan FD from its start; its offset is restored.  No hints (and 0) for
 * anything it cannot read: the import then proceeds without them. */
int hints_scan(int fd, struct layer_hints *out);
void hints_free(struct layer_hints *h);
/* The DiffID claimed for PATH, or NULL. */
const char *hints_lookup(const struct layer_hints *h, const char *path);

#endif
