/* uid/gid mappings in the fuse-overlayfs form: "DISK:SHOWN:COUNT[:...]"
 * (podman writes a leading ':').
 *
 * A file owned on disk by DISK+k shows as SHOWN+k (k < COUNT), and a file
 * created by SHOWN+k is stored as DISK+k.  A file owned on disk by an
 * unmapped id shows as the overflow id (65534), as a user namespace shows
 * it. */
#ifndef LAYERFS_IDMAP_H
#define LAYERFS_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#define IDMAP_OVERFLOW_ID 65534u

struct idmap_range {
	uint32_t inner, outer, count;
};

struct idmap {
	size_t n;
	struct idmap_range *r;
};

/* Parse a mapping string into MAP (appends).  Returns 0 or -EINVAL. */
int idmap_parse(const char *s, struct idmap *map);
void idmap_free(struct idmap *map);

/* On-disk id to the id users see; identity for an empty map. */
uint32_t idmap_to_inner(const struct idmap *map, uint32_t outer);
/* User-visible id to the on-disk id; -ERANGE when unmapped. */
int64_t idmap_to_outer(const struct idmap *map, uint32_t inner);

#endif
