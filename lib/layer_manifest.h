/* The manifest of a layer: one record per path in the extracted tree, as
 * the tar described it (not as an unprivileged extraction could apply it).
 * Kept in layers/<hex>/layer.json so later commands need not re-read tars. */
#ifndef LAYERFS_LAYER_MANIFEST_H
#define LAYERFS_LAYER_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "json.h"

struct layer_entry {
	char *path;          /* normalised, relative, no trailing slash */
	mode_t mode;         /* type bits and permission bits (07777) */
	uid_t uid;
	gid_t gid;
	uint64_t size;       /* regular files */
	int64_t mtime;
	dev_t rdev;          /* devices */
	char *link;          /* symlink target, or hardlink target path */
	bool hardlink;
	bool removed;        /* replaced by a later entry of another kind */
	char digest[DIGEST_STR_LEN + 1];   /* regular files: sha256 of content */
};

struct layer_manifest {
	struct layer_entry *e;
	size_t n, cap;
	size_t *slots;       /* open-addressing index into e, SIZE_MAX = empty */
	size_t nslots;
};

void lm_free(struct layer_manifest *m);
/* Find a live entry by path. */
struct layer_entry *lm_find(struct layer_manifest *m, const char *path);
/* Add ENTRY (taking its strings) or replace the live entry of that path. */
int lm_put(struct layer_manifest *m, struct layer_entry *entry);
/* Mark PATH and everything under it removed. */
void lm_remove_tree(struct layer_manifest *m, const char *path);
size_t lm_count(const struct layer_manifest *m);
uint64_t lm_bytes(const struct layer_manifest *m);

/* The file type: "file", "dir", "symlink", "pipe", "socket", "char",
 * "block" (a hardlink has its target's type and "hardlink": true). */
const char *lm_type_name(const struct layer_entry *e);
int lm_type_parse(const char *name, mode_t *type);

/* JSON array of live entries, and back. */
int lm_to_json(const struct layer_manifest *m, struct json **out);
int lm_from_json(const struct json *arr, struct layer_manifest *m);

#endif
