/* A container's changes: its upper directory read against its lower
 * layers, as `podman diff` reports them and as a commit writes them.
 *
 * Only the upper directory is walked; a lower layer is looked at for the
 * names met in the upper (and, below a renamed or replaced directory, for
 * the contents that directory hides or brings), so the cost follows the
 * size of the change, not of the image.  Understood: both whiteout forms
 * (char 0/0, ".wh.NAME"), opaque directories (overlay.opaque "y" xattr or
 * ".wh..wh..opq"), renamed directories (overlay.redirect), metadata-only
 * copy-ups (overlay.metacopy: the data stays in the lower), the override
 * xattr (user.containers.override_stat), hardlinks among upper files.
 * Private xattrs (*.overlay.*, *.layerfs.*, the override) are never part
 * of an entry. */
#ifndef LAYERFS_CHANGES_H
#define LAYERFS_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "errmsg.h"
#include "launch_ns.h"

#define CHG_ADD    'A'
#define CHG_MODIFY 'C'
#define CHG_DELETE 'D'
#define CHG_KEEP   'K'   /* unchanged, kept as a hardlink partner (commit) */

struct change_xattr {
	char *name;
	char *value;
	size_t len;
};

struct change {
	char *path;             /* relative to the root, no leading '/' */
	char kind;              /* CHG_* */
	struct stat st;         /* the container's view: type, mode, owner, rdev,
				   size, mtime (override xattr applied, ids mapped) */
	char *src;              /* host path the content and xattrs are read from */
	char *link;             /* symlink target */
	char *hardlink;         /* an earlier path of the same file, or NULL */
	bool opaque;            /* a directory hiding what the image had inside */
	bool covered;           /* a deletion implied by an opaque parent */
	struct change_xattr *xattrs;
	size_t nxattrs;
};

struct change_set {
	struct change *v;       /* sorted by path */
	size_t n, cap;
};

struct change_opts {
	const char *upper;          /* the upper directory, or NULL: none */
	char *const *lowerdirs;     /* top first */
	size_t nlower;
	size_t old_from;            /* what the changes are against: lowerdirs from
				       this index on (0: all of them; NLOWER:
				       nothing, every entry is added) */
	char *const *ignore;        /* sorted container paths ("/proc") the launcher
				       made as mount points: left out when still empty */
	size_t nignore;
	const struct id_plan *ids;  /* how host ids map to the container's (NULL: same) */
	bool keep_links;            /* also list unchanged upper files that share
				       their inode with a listed one (CHG_KEEP) */
};

int changes_collect(const struct change_opts *o, struct change_set *out, struct errmsg *e);
void change_set_free(struct change_set *s);

/* The container's id for host id ID (uid when !GID). */
unsigned changes_map_id(const struct id_plan *ids, unsigned id, bool gid);

/* Content xattrs of PATH (not followed): private ones left out, sorted. */
int changes_read_xattrs(const char *path, struct change_xattr **out, size_t *n);
void changes_free_xattrs(struct change_xattr *x, size_t n);

#endif
