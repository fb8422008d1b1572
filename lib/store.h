/* The image store: an OCI image layout plus extracted layers.
 *
 *   ROOT/oci-layout, ROOT/index.json, ROOT/blobs/sha256/<hex>   (OCI layout)
 *   ROOT/layers/<diffid hex>/tree/        extracted layer
 *   ROOT/layers/<diffid hex>/layer.json   layer record and entry manifest
 *   ROOT/containers/<id>/config.json      containers (names their image)
 *   ROOT/tmp/                             work area, renamed into place
 *   ROOT/lock                             flock(2): shared to read,
 *                                         exclusive to change
 * docs/STORE.md describes the layout in full. */
#ifndef LAYERFS_STORE_H
#define LAYERFS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "json.h"

#define STORE_REF_ANNOTATION "org.opencontainers.image.ref.name"
#define MT_OCI_INDEX    "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG   "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER    "application/vnd.oci.image.layer.v1.tar"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST  "application/vnd.docker.distribution.manifest.list.v2+json"

/* Largest JSON document (manifest, config, index, record) read whole. */
#define STORE_JSON_MAX (64u << 20)

struct store {
	char *root;
	int rootfd;
	int blobsfd;    /* blobs/sha256 */
	int layersfd;
	int tmpfd;
	int lockfd;
	int locked;     /* 0, LOCK_SH or LOCK_EX */
};

/* The root a command should use: OPT, else $LAYERCTL_ROOT, else
 * $XDG_DATA_HOME/layerctl (~/.local/share/layerctl), or /var/lib/layerctl
 * for root. */
int store_default_root(const char *opt, char **out);

/* Open (creating when CREATE) the store at ROOT. */
int store_open(const char *root, bool create, struct store **out, struct errmsg *e);
void store_close(struct store *s);
static inline void cleanup_store(struct store **s) { store_close(*s); }
#define _cleanup_store_ __attribute__((cleanup(cleanup_store)))

/* flock the store: LOCK_SH to read, LOCK_EX to change.  Blocks. */
int store_lock(struct store *s, int how, struct errmsg *e);
void store_unlock(struct store *s);

/* A private temp directory tmp/NAME-XXXX, held by flock on *FD for as long
 * as the fd is open, so a concurrent gc leaves it alone.  Call with the
 * exclusive store lock held (cleaners run under it). */
int store_mktemp(struct store *s, const char *prefix, char **name, int *fd, struct errmsg *e);
/* Remove temp leftovers no live process holds; adds freed bytes.  With
 * DRY_RUN only counts.  Call with the exclusive lock held. */
int store_clean_temp(struct store *s, bool dry_run, uint64_t *freed, uint64_t *count);

/* Remove DIRFD/NAME (a blob or a layer directory) so that no reader sees
 * it half gone: it is renamed into tmp/ first, then deleted there; a kill
 * part-way leaves a temp leftover, which the next cleaner removes.  Adds
 * the bytes freed.  Call with the exclusive lock held. */
int store_discard(struct store *s, int dirfd, const char *name, uint64_t *freed);

/* index.json: read (an empty index when missing) and replace atomically. */
int store_read_index(struct store *s, struct json **out, struct errmsg *e);
int store_write_index(struct store *s, const struct json *index, struct errmsg *e);

/* Blobs. */
bool store_has_blob(struct store *s, const char *digest);
int store_read_blob(struct store *s, const char *digest, char **data, size_t *len, struct errmsg *e);
int store_read_blob_json(struct store *s, const char *digest, struct json **out, struct errmsg *e);
/* Store DATA as a blob (no-op when present). */
int store_put_blob(struct store *s, const char *digest, const void *data, size_t len, struct errmsg *e);

/* Layers. */
bool store_has_layer(struct store *s, const char *diff_id);
int store_read_layer_record(struct store *s, const char *diff_id, struct json **out, struct errmsg *e);
/* Open layers/<hex>/tree as a directory fd. */
int store_open_layer_tree(struct store *s, const char *diff_id, struct errmsg *e);

/* Containers: is any container recorded as using IMAGE_ID (a config
 * digest) or MANIFEST digest?  Returns 1 and its id in *WHO, 0, or -errno. */
int store_image_in_use(struct store *s, const char *config_digest,
		       const char *manifest_digest, char **who);

#endif
