/* The images of a store, as index.json, manifests and configs describe
 * them, and the lookup of an image or layer by name, id or digest. */
#ifndef LAYERFS_IMAGES_H
#define LAYERFS_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "store.h"
#include "strv.h"

struct image_layer {
	char diff_id[DIGEST_STR_LEN + 1];
	char blob_digest[DIGEST_STR_LEN + 1];
	uint64_t blob_size;
};

struct image_info {
	char manifest_digest[DIGEST_STR_LEN + 1];
	char config_digest[DIGEST_STR_LEN + 1];
	char **refs;              /* its names in index.json */
	size_t nrefs;
	struct image_layer *layers;
	size_t nlayers;
	char *created;            /* config "created", may be NULL */
	struct json *config;      /* parsed config */
	struct json *manifest;    /* parsed manifest */
	char *broken;             /* why the image cannot be read, or NULL:
				     it is listed (so rm can remove it) but
				     has no config or layers */
};

struct image_list {
	struct image_info *v;
	size_t n;
};

/* Read every image of the index (several names of one manifest make one
 * image).  An image whose manifest or config cannot be read is kept with
 * BROKEN set.  Call with the store lock held (shared is enough). */
int images_load(struct store *s, struct image_list *out, struct errmsg *e);
void images_free(struct image_list *l);

/* By name ("name:tag", "name" meaning name:latest), id (config digest or a
 * unique hex prefix of at least 4), or manifest digest.  Returns the index
 * in L or -ENOENT / -EINVAL (ambiguous) with detail in E. */
int image_find(const struct image_list *l, const char *query, struct errmsg *e);

/* A stored layer by DiffID, hex prefix (4+), or a blob digest naming it. */
int layer_find(struct store *s, const struct image_list *l, const char *query,
	       char out[DIGEST_STR_LEN + 1], struct errmsg *e);

/* All DiffIDs in layers/ (sorted). */
int layers_list(struct store *s, char ***ids, size_t *n);



/* The head of a layer record (without its entries). */
struct layer_summary {
	uint64_t size;           /* uncompressed tar bytes */
	uint64_t files;          /* entries */
	uint64_t bytes;          /* regular file content */
	char created[32];
};
int layer_summary_load(struct store *s, const char *diff_id, struct layer_summary *out,
		       struct errmsg *e);

#endif
