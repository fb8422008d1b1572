/* Copy-up: the first change to a lower file or directory copies it into
 * the upper layer.
 *
 * The copy is built in the work directory — data (FICLONE, then
 * copy_file_range, then read/write, holes kept), ownership, mode, xattrs,
 * times, and the origin xattr that keeps its inode number — and renamed
 * into place last, so a crash never shows a half-copied file.  Metadata-
 * only changes copy no data (metacopy): the upper file holds the metadata
 * and the data is read from below until the first data write. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"
#include "whiteout.h"

static bool is_private_xattr(const char *name)
{
	return wh_is_private_xattr(name) ||
	       !strncmp(name, "trusted.layerfs.", 16) || !strncmp(name, "user.layerfs.", 13);
}

/* Copy user-visible xattrs between two paths ("/proc/self/fd/N/..."),
 * without following a final symlink. */
static int copy_xattrs_path(const char *src, const char *dst)
{
	ssize_t n = llistxattr(src, NULL, 0);
	if (n <= 0)
		return n < 0 && errno != ENOTSUP ? -errno : 0;
	_cleanup_free_ char *names = malloc((size_t)n);
	if (!names)
		return -ENOMEM;
	if ((n = llistxattr(src, names, (size_t)n)) < 0)
		return -errno;
	for (char *k = names; k < names + n; k += strlen(k) + 1) {
		if (is_private_xattr(k))
			continue;
		ssize_t vn = lgetxattr(src, k, NULL, 0);
		if (vn < 0)
			continue;
		_cleanup_free_ char *v = malloc((size_t)vn + 1);
		if (!v)
			return -ENOMEM;
		if ((vn = lgetxattr(src, k, v, (size_t)vn)) < 0)
			continue;
		if (lsetxattr(dst, k, v, (size_t)vn, 0) < 0) {
			/* trusted.* and security.* need privileges we may lack. */
			if (errno == EPERM || errno == ENOTSUP || errno == EACCES)
				continue;
			return -errno;
		}
	}
	return 0;
}

/* How copy_data moves bytes, best first. */
enum copy_way { CW_RANGE, CW_SENDFILE, CW_RW };

/* Copy up to WANT bytes from SRC at *IN to DST at *OUT, advancing both:
 * the count, 0 at the source's end, or -errno.  A way that this pair of
 * files does not support gives -EXDEV-like errors: the caller steps down. */
static ssize_t copy_chunk(enum copy_way way, int src, off_t *in, int dst, off_t *out,
			  size_t want)
{
	ssize_t n;
	switch (way) {
	case CW_RANGE:
		n = copy_file_range(src, in, dst, out, want, 0);
		return n < 0 ? -errno : n;
	case CW_SENDFILE:
		/* In-kernel splice, as kernel overlayfs copies across filesystems. */
		if (lseek(dst, *out, SEEK_SET) < 0)
			return -errno;
		n = sendfile(dst, src, in, want);
		if (n > 0)
			*out += n;
		return n < 0 ? -errno : n;
	default: {
		char buf[1 << 16];
		n = pread(src, buf, want < sizeof(buf) ? want : sizeof(buf), *in);
		if (n <= 0)
			return n < 0 ? -errno : 0;
		ssize_t w = pwrite(dst, buf, (size_t)n, *out);
		if (w != n)
			return w < 0 ? -errno : -EIO;
		*in += n;
		*out += n;
		return n;
	}
	}
}

static bool way_unsupported(int err)
{
	return err == -EXDEV || err == -ENOSYS || err == -EINVAL || err == -EOPNOTSUPP;
}

/* A copy that will be synced starts writing back every WRITEBACK_CHUNK
 * bytes as soon as they are copied, so that the disk works while the rest
 * is copied and the final fsync waits for little.  1 GiB on a journaled
 * ext4, the two ways alternating: 0.7 to 1.0 s, against 1.0 to 1.4 s
 * copying all and then syncing. */
#define WRITEBACK_CHUNK (32 << 20)

/* Data: reflink, else copy_file_range over the data extents (same
 * filesystem), else sendfile, else a plain copy.  Holes stay holes.
 * SYNCED: the caller syncs the copy.  Returns 1 for a reflink, 0 for a
 * copy, or -errno. */
static int copy_data(int src, int dst, off_t size, bool synced)
{
	if (ioctl(dst, FICLONE, src) == 0)
		return 1;
	enum copy_way way = CW_RANGE;
	off_t pos = 0;
	while (pos < size) {
		off_t data = lseek(src, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole is left */
			data = pos;
		}
		off_t hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		off_t in = data, out = data, unsent = data;
		off_t step = synced ? WRITEBACK_CHUNK : 1 << 30;
		while (in < hole) {
			size_t want = (size_t)(hole - in > step ? step : hole - in);
			ssize_t n = copy_chunk(way, src, &in, dst, &out, want);
			if (n < 0 && way != CW_RW && way_unsupported((int)n)) {
				way++;
				continue;
			}
			if (n < 0)
				return (int)n;
			if (n == 0)
				break; /* file shrank: lowers should not change */
			if (synced && out - unsent >= WRITEBACK_CHUNK) {
				/* Only a hint: the fsync still decides. */
				sync_file_range(dst, unsent, out - unsent, SYNC_FILE_RANGE_WRITE);
				unsent = out;
			}
		}
		pos = hole;
	}
	return ftruncate(dst, size) < 0 ? -errno : 0;
}

static int set_origin(const char *tmp_proc, uint64_t ino)
{
	char v[32];
	int n = snprintf(v, sizeof(v), "%" PRIu64, ino);
	if (lsetxattr(tmp_proc, lfs->origin_xattr, v, (size_t)n, 0) < 0 &&
	    errno != EPERM && errno != ENOTSUP)
		return -errno;
	return 0;
}

/* Ownership, mode, xattrs, times of SRC (stat SRC_ST, xattrs at SRC_PROC)
 * onto work/TMP. */
static int copy_meta(const char *tmp, const struct stat *src_st, const char *src_proc,
		     uint64_t origin_ino)
{
	char dst[PATH_MAX + 32];
	bool lnk = S_ISLNK(src_st->st_mode);
	int r;

	proc_fd_path(dst, sizeof(dst), lfs->workfd, tmp);
	if ((r = copy_xattrs_path(src_proc, dst)) < 0)
		return r;
	if ((r = set_owner(lfs->workfd, tmp, src_st->st_uid, src_st->st_gid,
			   src_st->st_mode, lnk)) < 0 && !(lnk && r == -EPERM))
		return r;
	if (!lnk && fchmodat(lfs->workfd, tmp, src_st->st_mode & 07777, 0) < 0)
		return -errno;
	if ((r = set_origin(dst, origin_ino)) < 0)
		return r;
	struct timespec ts[2] = { src_st->st_atim, src_st->st_mtim };
	if (utimensat(lfs->workfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

int upper_dir_fd(struct inode *dir)
{
	char path[PATH_MAX];
	int r = path_upper(dir, path, sizeof(path));
	if (r < 0)
		return r;
	return layer_open(LAYER_UPPER, path, O_PATH | O_DIRECTORY);
}

/* A copy-up is not a change of its directory: put back the times the
 * upper directory had before the copy landed in it (as the kernel does). */
void restore_dir_times(int pfd, const struct stat *before)
{
	char p[64];
	struct timespec ts[2] = { before->st_atim, before->st_mtim };
	proc_fd_path(p, sizeof(p), pfd, NULL);
	utimensat(AT_FDCWD, p, ts, 0);
}

int mark_impure_locked(struct inode *dir)
{
	if (dir->impure)
		return 0;
	_cleanup_close_ int fd = upper_dir_fd(dir);
	if (fd < 0)
		return fd;
	int r = fd_setxattr_path(fd, lfs->impure_xattr, "y", 1, 0);
	if (r < 0 && r != -EPERM && r != -ENOTSUP)
		return r;
	dir->impure = true;
	return 0;
}

/* After a copy-up of PARENT/NAME, the listing shows it in the upper. */
static void dentry_now_upper(struct inode *parent, const char *name)
{
	struct dentry *d = dir_find(parent, name);
	if (d && d->layer != LAYER_UPPER) {
		d->layer = LAYER_UPPER;
		d->flags |= DE_LOWER;
	}
}

/* Copy directory DIR (and its ancestors) up: metadata only, its contents
 * stay merged from below.  Caller holds ns_lock exclusively. */
int copyup_dir_locked(struct inode *dir)
{
	if (!lfs->has_upper)
		return -EROFS;
	if (dir->layer == LAYER_UPPER)
		return 0;
	if (dir->stale || !dir->parent)
		return -ESTALE;
	int r = copyup_dir_locked(dir->parent);
	if (r < 0)
		return r;

	char lpath[PATH_MAX], tmp[64], src_proc[PATH_MAX + 32];
	struct stat st;
	if ((r = path_lower_dir(dir, lpath, sizeof(lpath))) < 0 ||
	    (r = layer_stat(dir->layer, lpath, &st)) < 0 ||
	    (r = upper_tmpname(tmp, sizeof(tmp))) < 0)
		return r;
	if (mkdirat(lfs->workfd, tmp, 0700) < 0)
		return -errno;
	proc_fd_path(src_proc, sizeof(src_proc), lfs->layers[dir->layer].fd, lpath);
	_cleanup_close_ int pfd = upper_dir_fd(dir->parent);
	struct stat pst;
	if (pfd < 0)
		r = pfd;
	else if (fstat(pfd, &pst) < 0)
		r = -errno;
	if (r == 0)
		r = copy_meta(tmp, &st, src_proc, dir->ino);
	if (r == 0 && renameat2(lfs->workfd, tmp, pfd, dir->name, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r == 0)
		restore_dir_times(pfd, &pst);
	if (r < 0) {
		unlinkat(lfs->workfd, tmp, AT_REMOVEDIR);
		return r;
	}
	mark_impure_locked(dir->parent);
	dentry_now_upper(dir->parent, dir->name);
	dir->layer = LAYER_UPPER;
	return 0;
}

/* What a copy-up of a non-directory needs from below, gathered under the
 * namespace lock. */
struct cu_src {
	uint16_t layer;
	char path[PATH_MAX];
	struct stat st;
	bool from_metacopy;   /* upper metacopy file: data below, meta above */
	char meta_path[PATH_MAX];
	struct stat meta_st;
	char **aliases;       /* other names of a multiply linked lower file */
	size_t naliases;
};

static int gather(struct inode *i, struct cu_src *s)
{
	NS_READ;
	if (i->stale)
		return -ESTALE;
	s->from_metacopy = i->layer == LAYER_UPPER && i->metacopy;
	s->layer = s->from_metacopy ? i->datalayer : i->layer;
	int r = path_in_layer(i, s->layer, s->path, sizeof(s->path));
	if (r == 0)
		r = layer_stat(s->layer, s->path, &s->st);
	if (r == 0 && s->from_metacopy) {
		r = path_upper(i, s->meta_path, sizeof(s->meta_path));
		if (r == 0)
			r = layer_stat(LAYER_UPPER, s->meta_path, &s->meta_st);
	}
	return r;
}

static int make_special(const char *tmp, const struct stat *st)
{
	if (mknodat(lfs->workfd, tmp, st->st_mode, st->st_rdev) == 0)
		return 0;
	if (errno != EPERM || !(S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) ||
	    !lfs->override_stat)
		return -errno;
	/* Unprivileged: an empty file standing for the device. */
	int r = create_empty_at(lfs->workfd, tmp, 0600, true);
	return r < 0 ? r : apply_override_stat(lfs->workfd, tmp, st);
}

static int build_regular(const char *tmp, const struct cu_src *s, int how)
{
	_cleanup_close_ int dst = openat(lfs->workfd, tmp,
					 O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (dst < 0)
		return -errno;
	if (how == CU_EMPTY)
		return 0;
	if (how == CU_META) {
		if (ftruncate(dst, s->st.st_size) < 0)
			return -errno;
		return fsetxattr(dst, lfs->metacopy_xattr, "", 0, 0) < 0 ? -errno : 0;
	}
	_cleanup_close_ int src = layer_open(s->layer, s->path, O_RDONLY);
	if (src < 0)
		return src;
	int r = copy_data(src, dst, s->st.st_size, lfs->opts.fsync);
	/* A reflink writes no data, only extent records, and the journal of
	 * the filesystems that can clone (XFS, btrfs) commits those before
	 * the rename that publishes the copy: no sync is needed for a crash
	 * to show either the old file or the whole copy.  Kernel overlayfs
	 * skips its sync after a clone for the same reason. */
	if (r == 0 && lfs->opts.fsync && fsync(dst) < 0)
		r = -errno;
	return r < 0 ? r : 0;
}

static int build_copy(struct inode *i, const char *tmp, const struct cu_src *s, int how)
{
	char src_proc[PATH_MAX + 32];
	const struct stat *meta = s->from_metacopy ? &s->meta_st : &s->st;
	int r;

	if (S_ISREG(s->st.st_mode)) {
		r = build_regular(tmp, s, how);
	} else if (S_ISLNK(s->st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(lfs->layers[s->layer].fd, s->path, target, PATH_MAX);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		r = symlinkat(target, lfs->workfd, tmp) < 0 ? -errno : 0;
	} else {
		r = make_special(tmp, &s->st);
	}
	if (r < 0)
		return r;
	if (s->from_metacopy)
		proc_fd_path(src_proc, sizeof(src_proc), lfs->layers[LAYER_UPPER].fd, s->meta_path);
	else
		proc_fd_path(src_proc, sizeof(src_proc), lfs->layers[s->layer].fd, s->path);
	return copy_meta(tmp, meta, src_proc, i->ino);
}

/* Rename the finished copy into place and update the in-memory view. */
static int publish(struct inode *i, const char *tmp, const struct cu_src *s, int how)
{
	NS_WRITE;
	if (i->stale)
		return -ESTALE;
	int r = copyup_dir_locked(i->parent);
	if (r < 0)
		return r;
	_cleanup_close_ int pfd = upper_dir_fd(i->parent);
	struct stat pst;
	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &pst) < 0)
		return -errno;
	/* A metacopy file is replaced; anything else must not exist yet. */
	if (renameat2(lfs->workfd, tmp, pfd, i->name,
		      s->from_metacopy ? 0 : RENAME_NOREPLACE) < 0)
		return -errno;
	restore_dir_times(pfd, &pst);
	if (!s->from_metacopy) {
		mark_impure_locked(i->parent);
		dentry_now_upper(i->parent, i->name);
	}
	i->layer = LAYER_UPPER;
	atomic_store(&i->xattrs, XATTRS_UNKNOWN);
	i->metacopy = how == CU_META;
	i->datalayer = s->layer;
	/* A failed alias link leaves that name on the lower copy: the data
	 * is safe, only the link is lost, as with kernel overlayfs. */
	bool unreachable = false;
	for (size_t k = 0; k < s->naliases; k++)
		if (alias_link_locked(i, s->layer, s->aliases[k]) == 1)
			unreachable = true;
	if (unreachable)
		index_add_locked(i);
	return 0;
}

int copyup(struct inode *i, int how)
{
	if (!lfs->has_upper)
		return -EROFS;
	if (i->type == DT_DIR) {
		NS_WRITE;
		return copyup_dir_locked(i);
	}
	pthread_mutex_lock(inode_cu_lock(i));
	int r = 0;
	if (i->layer == LAYER_UPPER && !(i->metacopy && how != CU_META))
		goto out;
	struct cu_src *s = calloc(1, sizeof(*s));
	char tmp[64];
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = gather(i, s)) == 0 && !s->from_metacopy && !S_ISDIR(s->st.st_mode) &&
	    s->st.st_nlink > 1)
		r = aliases_find(s->layer, s->st.st_ino, s->st.st_nlink, s->path,
				 &s->aliases, &s->naliases);
	if (r == 0 && (r = upper_tmpname(tmp, sizeof(tmp))) == 0) {
		/* Several names would each need the later data copy: copy now. */
		if (how == CU_META && (!S_ISREG(s->st.st_mode) || !lfs->opts.metacopy ||
				       s->st.st_size == 0 || s->st.st_nlink > 1))
			how = CU_DATA;
		r = build_copy(i, tmp, s, how);
		if (r == -ENOTSUP && how == CU_META) {
			/* No xattrs on the upper: copy the data after all. */
			unlinkat(lfs->workfd, tmp, 0);
			how = CU_DATA;
			r = build_copy(i, tmp, s, how);
		}
		if (r == 0)
			r = publish(i, tmp, s, how);
		if (r < 0)
			unlinkat(lfs->workfd, tmp, 0);
	}
	aliases_free(s->aliases, s->naliases);
	free(s);
out:
	pthread_mutex_unlock(inode_cu_lock(i));
	return r;
}
