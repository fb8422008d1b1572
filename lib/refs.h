/* Image names: NAME:TAG validation and the version-tag rule. */
#ifndef LAYERFS_REFS_H
#define LAYERFS_REFS_H

#include <stdbool.h>

#include "errmsg.h"

/* Check IN ("name[:tag]", docker reference grammar without digests) and
 * return "name:tag" in *OUT.  A missing tag becomes "latest" and sets
 * *IMPLICIT.  A tag that looks like a version must be valid semver. */
int ref_normalize(const char *in, char **out, bool *implicit, struct errmsg *e);

/* The tag part of a normalised reference. */
const char *ref_tag(const char *ref);

/* "1.2", "v3", "2.0.0-rc1": a digit (after an optional v) then a dot, or
 * v and digits only. */
bool tag_looks_like_version(const char *tag);
/* Semantic Versioning 2.0.0 (optional leading "v"; "+build" cannot occur in
 * a tag). */
bool semver_valid(const char *tag);

#endif
