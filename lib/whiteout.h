/* Overlay and OCI whiteout rules, shared by the filesystem and the tools.
 *
 * A deletion in a layer is either a character device 0/0 (overlay form) or
 * an empty file ".wh.NAME" (OCI form).  A directory whose lower contents are
 * hidden ("opaque") carries overlay.opaque = "y" in the trusted or user
 * xattr namespace, or holds a file ".wh..wh..opq" (OCI form). */
#ifndef LAYERFS_WHITEOUT_H
#define LAYERFS_WHITEOUT_H

#include <stdbool.h>
#include <sys/stat.h>

#define WH_PREFIX      ".wh."
#define WH_PREFIX_LEN  4
#define WH_OPAQUE_NAME ".wh..wh..opq"

/* xattrs: kernel overlayfs names (trusted.* when privileged, user.* with
 * userxattr), and the override xattr containers/storage uses rootless. */
#define XATTR_TRUSTED_OVL     "trusted.overlay."
#define XATTR_USER_OVL        "user.overlay."
#define XATTR_OVERRIDE_STAT   "user.containers.override_stat"
/* On a lower file whose inode `layerctl dedupe` shares between layer trees:
 * every name of it is a file of its own (one name per tree), not a hard
 * link, so a mount reports st_nlink 1 and looks for no aliases. */
#define XATTR_DEDUPE          "user.layerfs.dedupe"

/* True for the overlay whiteout form: a char device with rdev 0. */
static inline bool wh_is_chardev_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

/* ".wh..wh..opq" — the OCI opaque marker. */
bool wh_is_opaque_marker(const char *name);

/* For ".wh.NAME" (not the opaque marker) returns NAME, else NULL.  A bare
 * ".wh." names nothing and returns NULL (it is then an ordinary, hidden
 * entry: see wh_is_hidden_name). */
const char *wh_oci_target(const char *name);

/* Names that never show in a merged view: every ".wh."-prefixed entry. */
bool wh_is_hidden_name(const char *name);

/* True when an xattr value means "opaque" ("y"). */
bool wh_opaque_value(const char *val, long len);

/* True for xattr names private to the overlay machinery (hidden from users):
 * trusted.overlay.*, user.overlay.* */
bool wh_is_private_xattr(const char *name);

#endif
