/* What an import will add: for each image its config, manifest, layers and
 * names, built from docker-save manifest.json, an OCI index, or a single
 * layer, with every digest checked. */
#ifndef LAYERFS_IMAGE_PLAN_H
#define LAYERFS_IMAGE_PLAN_H

#include <stddef.h>

#include "errmsg.h"
#include "layer_import.h"

struct import_ctx;

/* Where the documents and layers that manifests name come from. */
struct blob_provider {
	int (*json)(struct import_ctx *c, const char *path, const char *want,
		    char **data, size_t *len, char *digest);
	int (*layer)(struct import_ctx *c, const char *path, const char *want,
		     const char *want_diff, struct layer_result *out);
};

struct image_source {
	struct import_ctx *c;
	const struct blob_provider *bp;
	struct errmsg *e;
	int tmpfd;
};

struct image_plan {
	char *config;
	size_t config_len;
	char config_digest[DIGEST_STR_LEN + 1];
	char *manifest;
	size_t manifest_len;
	char manifest_digest[DIGEST_STR_LEN + 1];
	struct layer_result *layers;
	size_t nlayers;
	char **refs;                 /* NULL-terminated, may be empty */
	size_t nrefs;
	struct layer_result single;  /* input of plan_for_single_layer */
};

void plan_free(struct image_plan *p);

/* Read manifest.json (docker) or index.json (OCI) from SRC. NAME, when
 * given, names the one image the input must hold.  -ENOMSG when SRC has
 * neither. */
int plans_from_image(struct image_source *src, const char *name,
		     struct image_plan **plans, size_t *n, const char **kind);

/* An image of one layer (P->single), with a generated config. */
int plan_for_single_layer(struct image_plan *p, const char *name);

#endif
