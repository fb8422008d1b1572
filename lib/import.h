/* `layerctl import`: read an image or a layer, by content, into the store.
 *
 * Accepted inputs: a single layer (tar, tar+gzip, tar+zstd), a docker-save
 * archive (classic manifest.json + <id>/layer.tar, skopeo's variant with
 * symlinked layers, Docker 25+ with blobs/sha256), an OCI image layout
 * directory, and an oci-archive tar.  Streams are read once: every digest
 * given (blob names and descriptors, config rootfs.diff_ids) is checked on
 * the way and a mismatch fails the import, naming the blob. */
#ifndef LAYERFS_IMPORT_H
#define LAYERFS_IMPORT_H

#include <stddef.h>

#include "errmsg.h"
#include "layer_import.h"
#include "store.h"

struct import_opts {
	const char *name;       /* NAME:TAG for the image, or NULL */
	struct progress prog;
};

struct imported_image {
	char manifest_digest[DIGEST_STR_LEN + 1];
	char config_digest[DIGEST_STR_LEN + 1];
	char **refs;            /* NULL-terminated */
	size_t nlayers;
	size_t new_layers;      /* layers that were not in the store before */
};

struct import_result {
	const char *kind;       /* "layer", "docker-archive", "oci-archive", "oci-layout" */
	struct imported_image *img;
	size_t n;
};

void import_result_free(struct import_result *r);

/* PATH "-" reads standard input. */
int import_path(struct store *s, const char *path, const struct import_opts *o,
		struct import_result *res, struct errmsg *e);

#endif
