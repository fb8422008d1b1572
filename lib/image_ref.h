/* What the launcher needs from an image: its layer trees and its config.
 * image_resolve() is the one place that reads the store for it. */
#ifndef LAYERFS_IMAGE_REF_H
#define LAYERFS_IMAGE_REF_H

#include <stddef.h>

#include "msgbuf.h"
#include "strv.h"

struct image_config {
	char **entrypoint;     /* NULL-terminated, or NULL */
	char **cmd;
	char **env;
	char *workdir;
	char *user;
};

struct image_ref {
	char **lowerdirs;      /* absolute layer trees, top first */
	size_t n;
	struct image_config cfg;
	char *manifest_digest; /* "sha256:..." */
	char *config_digest;
};

/* Resolve NAME (as the store's image_find() takes it: name:tag, id or
 * digest prefix) in the store at ROOT (docs/STORE.md; extracted layers
 * are ROOT/layers/<hex>/tree), under the store's shared lock. */
int image_resolve(const char *root, const char *name, struct image_ref *out,
		  struct msgbuf *m);
void image_ref_free(struct image_ref *r);

void image_config_free(struct image_config *c);

#endif
