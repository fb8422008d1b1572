/* Extended attributes.  The overlay's own (trusted.overlay.*,
 * user.overlay.*, *.layerfs.*) never show; with override xattrs in use,
 * user.containers.override_stat does not either. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "layerfs.h"
#include "whiteout.h"

static bool hidden(const char *name)
{
	return wh_is_private_xattr(name) || !strncmp(name, "trusted.layerfs.", 16) ||
	       !strncmp(name, "user.layerfs.", 13) ||
	       (lfs->override_stat && !strcmp(name, XATTR_OVERRIDE_STAT));
}

/* "/proc/self/fd/LAYER/path" of I in its top layer. */
static int proc_path_of(struct inode *i, char *buf, size_t size)
{
	if (i->stale && i->anchor_fd >= 0) {
		snprintf(buf, size, "/proc/self/fd/%d", i->anchor_fd);
		return 0;
	}
	char path[PATH_MAX];
	int r = path_in_layer(i, i->layer, path, sizeof(path));
	if (r < 0)
		return r;
	int n = snprintf(buf, size, "/proc/self/fd/%d/%s", lfs->layers[i->layer].fd, path);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
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

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct inode *i = inode_get(ino);
	char p[PATH_MAX + 32];
	_cleanup_free_ char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (hidden(name)) {
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
	/* Filter in place. */
	ssize_t out = 0;
	for (char *k = all; k < all + n; k += strlen(k) + 1) {
		size_t len = strlen(k) + 1;
		if (hidden(k))
			continue;
		memmove(all + out, k, len);
		out += (ssize_t)len;
	}
	reply_sized(req, all, out, size);
}

static int prepare_change(struct inode *i, const char *name)
{
	if (!lfs->has_upper)
		return -EROFS;
	if (hidden(name))
		return -EOPNOTSUPP;
	return i->layer == LAYER_UPPER ? 0 : copyup(i, CU_META);
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	struct inode *i = inode_get(ino);
	char p[PATH_MAX + 32];
	int r = prepare_change(i, name);
	if (r == 0) {
		NS_READ;
		if ((r = proc_path_of(i, p, sizeof(p))) == 0 &&
		    lsetxattr(p, name, value, size, flags) < 0)
			r = -errno;
	}
	fuse_reply_err(req, -r);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct inode *i = inode_get(ino);
	char p[PATH_MAX + 32];
	int r = 0;
	if (i->layer != LAYER_UPPER && !hidden(name)) {
		/* Removing what is not there copies nothing up. */
		NS_READ;
		if ((r = proc_path_of(i, p, sizeof(p))) == 0 && lgetxattr(p, name, NULL, 0) < 0)
			r = -errno;
	}
	if (r == 0)
		r = prepare_change(i, name);
	if (r == 0) {
		NS_READ;
		if ((r = proc_path_of(i, p, sizeof(p))) == 0 && lremovexattr(p, name) < 0)
			r = -errno;
	}
	fuse_reply_err(req, -r);
}
