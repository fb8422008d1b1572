/* The user.containers.override_stat xattr: "uid:gid:mode[:type]".
 *
 * containers/storage and fuse-overlayfs keep the ownership, mode and file
 * type that an unprivileged user cannot apply in this xattr.  mode is octal
 * permission bits (with setuid/setgid/sticky); type is "file", "dir",
 * "symlink", "pipe", "socket", "block-MAJ-MIN" or "char-MAJ-MIN". */
#ifndef LAYERFS_OVERRIDE_STAT_H
#define LAYERFS_OVERRIDE_STAT_H

#include <stddef.h>
#include <sys/types.h>

struct override_stat {
	uid_t uid;
	gid_t gid;
	mode_t mode;   /* full st_mode: type bits set when the xattr names one */
	dev_t rdev;    /* for block/char types */
	int has_type;
};

/* Parse VAL (LEN bytes, not NUL-terminated).  Returns 0 or -EINVAL. */
int ovs_parse(const char *val, size_t len, struct override_stat *out);

/* Format into BUF (at least 64 bytes).  Returns the length, or -ERANGE. */
int ovs_format(const struct override_stat *ovs, char *buf, size_t size);

#endif
