/* Two images compared by their layers' records (layer.json entries), as
 * `podman diff IMAGE1 IMAGE2` reports them: no tree is read. */
#ifndef LAYERFS_IMAGE_DIFF_H
#define LAYERFS_IMAGE_DIFF_H

#include <stddef.h>

#include "images.h"

struct diff_line {
	char kind;        /* 'A', 'C', 'D' */
	char *path;       /* relative, no leading '/' */
};

/* The merged view of image I's first NLAYERS layers: their entries
 * (layer.json objects, owned by *RECS) by path, sorted, whiteouts
 * applied. */
struct merged_view {
	char **paths;
	const struct json **entries;
	size_t n;
	struct json **recs;     /* the layer records the entries live in */
	size_t nrecs;
};
int merged_view_load(struct store *s, const struct image_info *i, size_t nlayers,
		     struct merged_view *out, struct errmsg *e);
void merged_view_free(struct merged_view *v);

/* What changed from A to B, sorted by path. */
int image_diff(struct store *s, const struct image_info *a, const struct image_info *b,
	       struct diff_line **out, size_t *n, struct errmsg *e);
/* What the top layer of I changes (podman diff IMAGE). */
int image_diff_top(struct store *s, const struct image_info *i, struct diff_line **out,
		   size_t *n, struct errmsg *e);
void diff_lines_free(struct diff_line *v, size_t n);

#endif
