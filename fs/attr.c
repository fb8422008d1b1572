/* Attributes of merged files: stable inode numbers, ownership mapping and
 * the override xattr of rootless layers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"
#include "override_stat.h"
#include "whiteout.h"

uint8_t mode_to_dt(mode_t m)
{
	return (uint8_t)IFTODT(m);
}

uint64_t ino_compose(uint16_t layer, ino_t local)
{
	return ((uint64_t)layer << INO_LAYER_SHIFT) | ((uint64_t)local & INO_LOCAL_MASK);
}

static int parse_origin(const char *v, ssize_t n, uint64_t *ino)
{
	char buf[32];
	if (n <= 0 || n >= (ssize_t)sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, (size_t)n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	unsigned long long x = strtoull(buf, &end, 10);
	if (errno || *end || end == buf)
		return -EINVAL;
	*ino = x;
	return 0;
}

int read_origin(int fd, uint64_t *ino)
{
	char v[32];
	int n = fd_getxattr_path(fd, lfs->origin_xattr, v, sizeof(v));
	return n < 0 ? n : parse_origin(v, n, ino);
}

int read_origin_at(uint16_t layer, const char *path, uint64_t *ino)
{
	char v[32];
	ssize_t n = layer_getxattr(layer, path, lfs->origin_xattr, v, sizeof(v));
	return n < 0 ? (int)n : parse_origin(v, n, ino);
}

uint32_t id_from_disk(bool is_uid, uint32_t id)
{
	const struct mount_opts *o = &lfs->opts;
	if (o->squash_to_root)
		return 0;
	if (is_uid && o->squash_uid >= 0)
		return (uint32_t)o->squash_uid;
	if (!is_uid && o->squash_gid >= 0)
		return (uint32_t)o->squash_gid;
	return idmap_to_inner(is_uid ? &o->uidmap : &o->gidmap, id);
}

int64_t id_to_disk(bool is_uid, uint32_t id)
{
	return idmap_to_outer(is_uid ? &lfs->opts.uidmap : &lfs->opts.gidmap, id);
}

static void apply_override(struct stat *st, int fd, uint16_t layer, const char *path)
{
	char v[96];
	struct override_stat o;
	ssize_t n = fd >= 0 ? fd_getxattr_path(fd, XATTR_OVERRIDE_STAT, v, sizeof(v))
			    : layer_getxattr(layer, path, XATTR_OVERRIDE_STAT, v, sizeof(v));
	if (n <= 0 || ovs_parse(v, (size_t)n, &o) < 0)
		return;
	st->st_uid = o.uid;
	st->st_gid = o.gid;
	if (o.has_type) {
		st->st_mode = o.mode;
		if (S_ISCHR(o.mode) || S_ISBLK(o.mode))
			st->st_rdev = o.rdev;
	} else {
		st->st_mode = (st->st_mode & S_IFMT) | (o.mode & 07777);
	}
}

/* Turn a layer's stat of PATH into what the mount reports. */
void attr_fixup(struct stat *st, uint64_t ino, int fd, uint16_t layer, const char *path)
{
	st->st_ino = ino;
	if (lfs->override_stat && !S_ISLNK(st->st_mode) && (path || fd >= 0))
		apply_override(st, fd, layer, path);
	st->st_uid = id_from_disk(true, st->st_uid);
	st->st_gid = id_from_disk(false, st->st_gid);
	if (lfs->opts.static_nlink && S_ISDIR(st->st_mode))
		st->st_nlink = 1;
	/* The index's own link is not a name. */
	if (layer == LAYER_UPPER && S_ISREG(st->st_mode) && st->st_nlink > 1 && index_has(ino))
		st->st_nlink--;
}

/* A metacopy file takes its block count from the data below it. */
static void metacopy_blocks(struct stat *st, uint16_t datalayer, const char *lpath)
{
	struct stat ds;
	if (layer_stat(datalayer, lpath, &ds) == 0)
		st->st_blocks = ds.st_blocks;
}

int attr_of_dentry(struct inode *dir, struct dentry *d, struct stat *st)
{
	char path[PATH_MAX];
	int r = d->layer == LAYER_UPPER
		? path_upper_child(dir, d->name, path, sizeof(path))
		: path_lower_child(dir, d->name, path, sizeof(path));
	if (r < 0)
		return r;
	if ((r = layer_stat(d->layer, path, st)) < 0)
		return r;
	attr_fixup(st, d->ino, -1, d->layer, path);
	/* A merged directory's link count means nothing; report 1 as
	 * kernel overlayfs does (find(1) then skips its leaf optimisation). */
	if (d->type == DT_DIR && (d->ndlayers > 1 || (d->ndlayers && d->layer == LAYER_UPPER)))
		st->st_nlink = 1;
	return 0;
}

int attr_of_inode(struct inode *i, struct stat *st)
{
	char path[PATH_MAX];
	if (i->stale && i->anchor_fd >= 0) {
		if (fstat(i->anchor_fd, st) < 0)
			return -errno;
		if (i->layer != LAYER_UPPER && S_ISREG(st->st_mode) && st->st_nlink > 1 &&
		    fd_getxattr_path(i->anchor_fd, XATTR_DEDUPE, NULL, 0) >= 0)
			st->st_nlink = 1; /* as layer_stat() */
		attr_fixup(st, i->ino, i->anchor_fd, i->layer, NULL);
		return 0;
	}
	int r = path_in_layer(i, i->layer, path, sizeof(path));
	if (r < 0)
		return r;
	if ((r = layer_stat(i->layer, path, st)) < 0)
		return r;
	attr_fixup(st, i->ino, -1, i->layer, path);
	if (i->metacopy && path_in_layer(i, i->datalayer, path, sizeof(path)) == 0)
		metacopy_blocks(st, i->datalayer, path);
	if (i->type == DT_DIR && (i->nlows > 1 || (i->nlows && i->layer == LAYER_UPPER)))
		st->st_nlink = 1;
	return 0;
}
