/* Checking a store: blobs against their digests, extracted layer trees
 * against their recorded manifests, images against what they reference. */
#ifndef LAYERFS_VERIFY_H
#define LAYERFS_VERIFY_H

#include <stdint.h>

#include "store.h"

struct verify_report {
	/* Called once per difference found; OBJECT names what is wrong. */
	void (*problem)(void *arg, const char *object, const char *what);
	void *arg;
	uint64_t problems;
	uint64_t checked;        /* blobs + entries looked at */
};

/* Each returns 0 when the check could run (problems are counted in R), or
 * -errno when it could not. */
int verify_blob(struct store *s, const char *digest, struct verify_report *r);
int verify_layer(struct store *s, const char *diff_id, struct verify_report *r);
/* Everything: every blob, every layer, and that every image's objects are
 * present. */
int verify_store(struct store *s, struct verify_report *r, struct errmsg *e);

#endif
