/* Extended attributes.  The overlay's own (trusted.overlay.*,
 * user.overlay.*, *.layerfs.*) never show; with override xattrs in use,
 * user.containers.override_stat does not either, nor POSIX ACLs with noacl.  As in kernel overlayfs,
 * a user's own "<ns>.overlay.X" is stored escaped, as "<ns>.overlay.overlay.X"
 * (ns: the namespace this mount writes its own xattrs in). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>
#include <sys/xattr.h>

#include "layerfs.h"
#include "whiteout.h"

static bool hidden(const char *name)
{
	return wh_is_private_xattr(name) || !strncmp(name, "trusted.layerfs.", 16) ||
	       !strncmp(name, "user.layerfs.", 13) ||
	       (lfs->override_stat && !strcmp(name, XATTR_OVERRIDE_STAT)) ||
	       (lfs->opts.noacl && !strncmp(name, "system.posix_acl_", 17));
}

static size_t own_prefix(char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "%soverlay.", lfs->xattr_ns);
}

/* The name stored in the layer for the name a user asked for; NULL when
 * the user cannot reach it. */
static const char *stored_name(const char *name, char *buf, size_t size)
{
	char pre[32];
	size_t n = own_prefix(pre, sizeof(pre));
	if (!strncmp(name, pre, n)) {
		int r = snprintf(buf, size, "%soverlay.%s", pre, name + n);
		return r > 0 && (size_t)r < size ? buf : NULL;
	}
	return hidden(name) ? NULL : name;
}

/* The name a user sees for a stored name; NULL for the overlay's own. */
static const char *shown_name(const char *stored, char *buf, size_t size)
{
	char pre[32];
	size_t n = own_prefix(pre, sizeof(pre));
	if (!strncmp(stored, pre, n) && !strncmp(stored + n, "overlay.", 8)) {
		int r = snprintf(buf, size, "%s%s", pre, stored + n + 8);
		return r > 0 && (size_t)r < size ? buf : NULL;
	}
	return hidden(stored) ? NULL : stored;
}

/* "/proc/self/fd/LAYER/path" of I in its top layer. */
static int proc_path_of(struct inode *i, char *buf, size_t size)
{
	if (i->stale && i->anchor_fd >= 0) {
		return proc_fd_path(buf, size, i->anchor_fd, NULL);
	}
	char path[PATH_MAX];
	int r = path_in_layer(i, i->layer, path, sizeof(path));
	if (r < 0)
		return r;
	return proc_fd_path(buf, size, lfs->layers[i->layer].fd, path);
}

static void reply_sized(fuse_req_t req, const char *buf, ssize_t n, size_t size)
{
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

/* False if I's file (P its path) is known to have no xattrs at all.
 * `ls -l` asks every file for security.selinux, and each write() and
 * chown() asks for security.capability; the kernel caches no answer.
 * Files change only through this daemon, so one listxattr answers them
 * all, until the daemon sets or removes an xattr of the file (SOME from
 * then on) or copies it up (UNKNOWN, under ns_lock exclusive).  The
 * caller holds ns_lock shared.  NONE is only ever stored over UNKNOWN,
 * so a concurrent change, which stores SOME after it is made, wins. */
static bool may_have_xattrs(struct inode *i, const char *p)
{
	if (i->stale)
		return true;
	uint8_t known = atomic_load_explicit(&i->xattrs, memory_order_acquire);
	if (known != XATTRS_UNKNOWN)
		return known == XATTRS_SOME;
	ssize_t n = llistxattr(p, NULL, 0);
	if (n != 0)
		return true;
	atomic_compare_exchange_strong(&i->xattrs, &known, XATTRS_NONE);
	return known == XATTRS_SOME; /* UNKNOWN: the exchange was made */
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct inode *i = inode_get(ino);
	/* The common case, first: nothing to build, lock or allocate.  A
	 * copy-up that races with it is ordered after it. */
	if (atomic_load_explicit(&i->xattrs, memory_order_acquire) == XATTRS_NONE) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	char p[PATH_MAX + 32];
	_cleanup_free_ char *buf = size ? malloc(size) : NULL;
	char sname[XATTR_NAME_MAX + 16];
	ssize_t n;

	if (!(name = stored_name(name, sname, sizeof(sname)))) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	{
		NS_READ;
		int r = proc_path_of(i, p, sizeof(p));
		if (r == 0 && !may_have_xattrs(i, p))
			n = -ENODATA;
		else
			n = r < 0 ? r : lgetxattr(p, name, buf, size);
		if (n == -1)
			n = -errno;
	}
	reply_sized(req, buf, n, size);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct inode *i = inode_get(ino);
	char p[PATH_MAX + 32];
	ssize_t n;
	_cleanup_free_ char *all = NULL;
	{
		NS_READ;
		int r = proc_path_of(i, p, sizeof(p));
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		n = llistxattr(p, NULL, 0);
		if (n > 0 && (all = malloc((size_t)n)))
			n = llistxattr(p, all, (size_t)n);
		if (n < 0)
			n = -errno;
	}
	if (n > 0 && !all)
		n = -ENOMEM;
	if (n <= 0) {
		reply_sized(req, NULL, n, size);
		return;
	}
	/* Filter and unescape in place: a shown name is never longer. */
	ssize_t out = 0;
	for (char *k = all; k < all + n; k += strlen(k) + 1) {
		char b[XATTR_NAME_MAX + 16];
		const char *s = shown_name(k, b, sizeof(b));
		if (!s)
			continue;
		size_t len = strlen(s) + 1;
		memmove(all + out, s, len);
		out += (ssize_t)len;
	}
	reply_sized(req, all, out, size);
}

static int prepare_change(struct inode *i, const char **name, char *buf, size_t size)
{
	if (!lfs->has_upper)
		return -EROFS;
	if (!(*name = stored_name(*name, buf, size)))
		return -EOPNOTSUPP;
	return i->layer == LAYER_UPPER ? 0 : copyup(i, CU_META);
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	struct inode *i = inode_get(ino);
	char p[PATH_MAX + 32], sname[XATTR_NAME_MAX + 16];
	int r = prepare_change(i, &name, sname, sizeof(sname));
	if (r == 0) {
		NS_READ;
		if ((r = proc_path_of(i, p, sizeof(p))) == 0 &&
		    lsetxattr(p, name, value, size, flags) < 0)
			r = -errno;
		atomic_store_explicit(&i->xattrs, XATTRS_SOME, memory_order_release);
	}
	fuse_reply_err(req, -r);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct inode *i = inode_get(ino);
	char p[PATH_MAX + 32], sname[XATTR_NAME_MAX + 16];
	const char *stored = stored_name(name, sname, sizeof(sname));
	int r = 0;
	if (i->layer != LAYER_UPPER && stored) {
		/* Removing what is not there copies nothing up. */
		NS_READ;
		if ((r = proc_path_of(i, p, sizeof(p))) == 0 && lgetxattr(p, stored, NULL, 0) < 0)
			r = -errno;
	}
	if (r == 0)
		r = prepare_change(i, &name, sname, sizeof(sname));
	if (r == 0) {
		NS_READ;
		if ((r = proc_path_of(i, p, sizeof(p))) == 0 && lremovexattr(p, name) < 0)
			r = -errno;
		atomic_store_explicit(&i->xattrs, XATTRS_SOME, memory_order_release);
	}
	fuse_reply_err(req, -r);
}
