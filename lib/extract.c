/* Safe layer extraction through directory fds (see extract.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "digest.h"
#include "extract.h"
#include "fsutil.h"
#include "override_stat.h"
#include "whiteout.h"

struct extractor {
	struct archive *a;
	int rootfd;
	struct layer_manifest *m;
	struct extract_stats *stats;
	struct errmsg *e;
	bool privileged;      /* chown and mknod work */
	uid_t euid;
	gid_t egid;
	char *cached_dir;     /* parent directory resolved last time */
	int cached_fd;
	EVP_MD_CTX *md;
	size_t *dirs;         /* manifest indexes of directories (mtimes) */
	size_t ndirs, capdirs;
	bool ended_early;     /* stream ended inside the last entry's padding */
};

int normalize_entry_path(const char *in, char **out)
{
	if (!in) /* libarchive gives no name for some broken headers */
		return -EINVAL;
	return path_normalize(in, false, out);
}

static void drop_cache(struct extractor *x)
{
	free(x->cached_dir);
	x->cached_dir = NULL;
	if (x->cached_fd >= 0)
		close(x->cached_fd);
	x->cached_fd = -1;
}

/* Resolve directory DIR (relative) beneath the root, creating missing
 * components as 0755 root-owned directories (tars often omit them). */
static int open_parent(struct extractor *x, const char *dir, const char *entry)
{
	if (x->cached_dir && !strcmp(x->cached_dir, dir))
		return x->cached_fd;
	drop_cache(x);
	int fd = open_dir_beneath(x->rootfd, dir, O_PATH);
	if (fd == -ENOENT) {
		/* Walk down, creating what is missing. */
		_cleanup_free_ char *p = strdup(dir);
		if (!p)
			return -ENOMEM;
		for (char *c = p;; c++) {
			if (*c && *c != '/')
				continue;
			char save = *c;
			*c = '\0';
			int r = open_dir_beneath(x->rootfd, p, O_PATH);
			if (r == -ENOENT) {
				if (mkdirat(x->rootfd, p, 0755) < 0 && errno != EEXIST)
					return err_sys(x->e, -errno, "cannot create directory '%s'", p);
				/* Not subject to the umask: the manifest says 0755. */
				if (fchmodat(x->rootfd, p, 0755, 0) < 0)
					return err_sys(x->e, -errno, "cannot chmod directory '%s'", p);
				struct layer_entry de = { .mode = S_IFDIR | 0755 };
				de.path = strdup(p);
				if (!de.path)
					return -ENOMEM;
				if (!x->privileged && (x->euid != 0 || x->egid != 0)) {
					struct override_stat o = { .uid = 0, .gid = 0, .mode = S_IFDIR | 0755 };
					char v[64];
					int n = ovs_format(&o, v, sizeof(v));
					_cleanup_close_ int dfd = open_dir_beneath(x->rootfd, p, O_RDONLY);
					if (n > 0 && dfd >= 0 && fsetxattr(dfd, XATTR_OVERRIDE_STAT, v, (size_t)n, 0) == 0)
						x->stats->used_override = true;
				}
				int rr = lm_put(x->m, &de);
				free(de.path);
				if (rr < 0)
					return rr;
			} else if (r < 0) {
				return err_set(x->e, r == -ELOOP || r == -ENOTDIR || r == -EXDEV ? -EPERM : r,
					       "entry '%s' goes through a symlink or non-directory '%s'",
					       entry, p);
			} else {
				close(r);
			}
			*c = save;
			if (!save)
				break;
		}
		fd = open_dir_beneath(x->rootfd, dir, O_PATH);
	}
	if (fd < 0) {
		if (fd == -ELOOP || fd == -ENOTDIR || fd == -EXDEV)
			return err_set(x->e, -EPERM,
				       "entry '%s' goes through a symlink or non-directory", entry);
		return err_sys(x->e, fd, "cannot open directory of entry '%s'", entry);
	}
	x->cached_dir = strdup(dir);
	if (!x->cached_dir) {
		close(fd);
		return -ENOMEM;
	}
	x->cached_fd = fd;
	return fd;
}

/* Make room for a new entry NAME in PFD: later entries win, but an
 * existing directory stays when the new entry is a directory too. */
static int clear_slot(struct extractor *x, int pfd, const char *name, const char *path,
		      mode_t newtype, bool *keep_dir)
{
	struct stat st;
	*keep_dir = false;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(x->e, -errno, "cannot stat '%s'", path);
	if (S_ISDIR(st.st_mode)) {
		if (newtype == S_IFDIR) {
			*keep_dir = true;
			return 0;
		}
		/* The cached directory may live inside the one going away (the
		 * parent PFD itself stays). */
		size_t plen = strlen(path);
		if (x->cached_dir && !strncmp(x->cached_dir, path, plen) &&
		    (x->cached_dir[plen] == '\0' || x->cached_dir[plen] == '/'))
			drop_cache(x);
		int r = rm_rf_at(pfd, name, NULL);
		if (r < 0)
			return err_sys(x->e, r, "cannot replace directory '%s'", path);
		lm_remove_tree(x->m, path);
		return 0;
	}
	if (unlinkat(pfd, name, 0) < 0)
		return err_sys(x->e, -errno, "cannot replace '%s'", path);
	return 0;
}

static int write_data(struct extractor *x, int fd, struct layer_entry *le)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	uint64_t pos = 0;
	static const char zeros[4096];
	EVP_DigestInit_ex(x->md, EVP_sha256(), NULL);
	for (;;) {
		int r = archive_read_data_block(x->a, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			/* Some writers (umoci 0.4.7) end the stream right after the
			 * last file's data, without padding or end marker.  With the
			 * content complete that is the end of the layer. */
			if (pos == le->size) {
				x->ended_early = true;
				break;
			}
			return err_set(x->e, -EIO, "cannot read data of '%s': %s", le->path,
				       archive_error_string(x->a));
		}
		if ((uint64_t)offset > pos) {
			/* Sparse hole: hash the zeros, leave a hole on disk. */
			for (uint64_t gap = (uint64_t)offset - pos; gap;) {
				size_t n = gap < sizeof(zeros) ? (size_t)gap : sizeof(zeros);
				EVP_DigestUpdate(x->md, zeros, n);
				gap -= n;
			}
			if (lseek(fd, offset, SEEK_SET) < 0)
				return err_sys(x->e, -errno, "cannot write '%s'", le->path);
			pos = (uint64_t)offset;
		}
		int w = write_all(fd, buf, size);
		if (w < 0)
			return err_sys(x->e, w, "cannot write '%s'", le->path);
		EVP_DigestUpdate(x->md, buf, size);
		pos += size;
	}
	if (pos < le->size) {
		for (uint64_t gap = le->size - pos; gap;) {
			size_t n = gap < sizeof(zeros) ? (size_t)gap : sizeof(zeros);
			EVP_DigestUpdate(x->md, zeros, n);
			gap -= n;
		}
		if (ftruncate(fd, (off_t)le->size) < 0)
			return err_sys(x->e, -errno, "cannot write '%s'", le->path);
		pos = le->size;
	}
	le->size = pos;
	unsigned char md[32];
	unsigned int n;
	EVP_DigestFinal_ex(x->md, md, &n);
	static const char hex[] = "0123456789abcdef";
	memcpy(le->digest, "sha256:", 7);
	for (int k = 0; k < 32; k++) {
		le->digest[7 + 2 * k] = hex[md[k] >> 4];
		le->digest[8 + 2 * k] = hex[md[k] & 15];
	}
	le->digest[DIGEST_STR_LEN] = '\0';
	return 0;
}

/* setxattr on an entry that may be a fifo or device (never opened for
 * I/O): through an O_PATH fd and its /proc/self/fd link. */
static int set_xattr_at(int pfd, const char *name, int fd, const char *key,
			const void *val, size_t len)
{
	if (fd >= 0)
		return fsetxattr(fd, key, val, len, 0) < 0 ? -errno : 0;
	_cleanup_close_ int pf = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pf < 0)
		return -errno;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pf);
	return setxattr(proc, key, val, len, 0) < 0 ? -errno : 0;
}

static int apply_xattrs(struct extractor *x, int pfd, const char *name, int fd,
			struct archive_entry *ae, const char *path)
{
	const char *key;
	const void *val;
	size_t len;
	archive_entry_xattr_reset(ae);
	while (archive_entry_xattr_next(ae, &key, &val, &len) == ARCHIVE_OK) {
		/* Ours is written from the tar's real metadata below. */
		if (!strcmp(key, XATTR_OVERRIDE_STAT))
			continue;
		int r = set_xattr_at(pfd, name, fd, key, val, len);
		if (r == -EPERM || r == -ENOTSUP || r == -EACCES) {
			/* trusted.* and security.* need privileges: an
			 * unprivileged store cannot keep them. */
			if (!x->privileged)
				continue;
		}
		if (r < 0)
			return err_sys(x->e, r, "cannot set xattr '%s' on '%s'", key, path);
	}
	return 0;
}

/* Owner, mode, xattrs and (for non-directories) mtime of a created entry.
 * ONDISK is the type actually created (a regular file stands in for a
 * device when mknod is not allowed). */
static int apply_meta(struct extractor *x, int pfd, const char *name, int fd,
		      struct archive_entry *ae, const struct layer_entry *le, mode_t ondisk)
{
	mode_t perm = le->mode & 07777;
	bool is_link = ondisk == S_IFLNK;
	bool override = false;
	if (x->privileged) {
		if (fchownat(pfd, name, le->uid, le->gid, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != EPERM && errno != EINVAL)
				return err_sys(x->e, -errno, "cannot chown '%s'", le->path);
			x->privileged = false;
		}
	}
	if (!x->privileged && (le->uid != x->euid || le->gid != x->egid))
		override = true;
	mode_t apply = perm;
	if (!x->privileged) {
		/* Keep the tree usable (and removable) by its owner. */
		apply |= ondisk == S_IFDIR ? 0700 : 0600;
		if (apply != perm)
			override = true;
	}
	if ((le->mode & S_IFMT) != ondisk)
		override = true;
	if (!is_link) {
		int r = fd >= 0 ? fchmod(fd, apply) : fchmodat(pfd, name, apply, 0);
		if (r < 0)
			return err_sys(x->e, -errno, "cannot chmod '%s'", le->path);
	}
	if (!is_link) {
		int r = apply_xattrs(x, pfd, name, fd, ae, le->path);
		if (r < 0)
			return r;
	}
	if (override && !is_link) {
		struct override_stat o = { .uid = le->uid, .gid = le->gid, .mode = le->mode,
					   .rdev = le->rdev };
		char v[64];
		int n = ovs_format(&o, v, sizeof(v));
		if (n < 0)
			return err_set(x->e, n, "cannot describe '%s'", le->path);
		int r = set_xattr_at(pfd, name, fd, XATTR_OVERRIDE_STAT, v, (size_t)n);
		if (r < 0)
			return err_sys(x->e, r, "cannot set '%s' on '%s'", XATTR_OVERRIDE_STAT, le->path);
		x->stats->used_override = true;
	}
	if (ondisk != S_IFDIR) {
		struct timespec ts[2] = { { le->mtime, 0 }, { le->mtime, 0 } };
		if (archive_entry_mtime_is_set(ae))
			ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(ae);
		int r = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return err_sys(x->e, -errno, "cannot set times of '%s'", le->path);
	}
	return 0;
}

static int extract_hardlink(struct extractor *x, struct layer_entry *le, const char *target_raw)
{
	_cleanup_free_ char *target = NULL;
	if (normalize_entry_path(target_raw, &target) < 0)
		return err_set(x->e, -EPERM, "hardlink '%s' points outside the layer ('%s')",
			       le->path, target_raw);
	struct layer_entry *t = lm_find(x->m, target);
	if (!t || S_ISDIR(t->mode) || !strcmp(target, le->path))
		return err_set(x->e, -EPERM, "hardlink '%s' points to '%s', which is not a file in the layer",
			       le->path, target_raw);
	char *tslash = strrchr(target, '/');
	const char *tbase = tslash ? tslash + 1 : target;
	if (tslash)
		*tslash = '\0';
	_cleanup_close_ int tpfd = open_dir_beneath(x->rootfd, tslash ? target : "", O_PATH);
	if (tslash)
		*tslash = '/';
	if (tpfd < 0)
		return err_sys(x->e, tpfd, "cannot resolve hardlink target '%s'", target);
	char *slash = strrchr(le->path, '/');
	const char *base = slash ? slash + 1 : le->path;
	_cleanup_free_ char *dir = strndup(le->path, slash ? (size_t)(slash - le->path) : 0);
	if (!dir)
		return -ENOMEM;
	int pfd = open_parent(x, dir, le->path);
	if (pfd < 0)
		return pfd;
	bool keep;
	int r = clear_slot(x, pfd, base, le->path, S_IFREG, &keep);
	if (r < 0)
		return r;
	if (linkat(tpfd, tbase, pfd, base, 0) < 0)
		return err_sys(x->e, -errno, "cannot link '%s' to '%s'", le->path, target);
	le->mode = t->mode;
	le->uid = t->uid;
	le->gid = t->gid;
	le->size = t->size;
	le->mtime = t->mtime;
	le->rdev = t->rdev;
	memcpy(le->digest, t->digest, sizeof(le->digest));
	le->hardlink = true;
	le->link = TAKE_PTR(target);
	return 0;
}

static int create_entry(struct extractor *x, int pfd, const char *base,
			struct archive_entry *ae, struct layer_entry *le)
{
	mode_t type = le->mode & S_IFMT;
	bool keep = false;
	int r = clear_slot(x, pfd, base, le->path, type, &keep);
	if (r < 0)
		return r;
	mode_t ondisk = type;
	_cleanup_close_ int fd = -1;
	switch (type) {
	case S_IFREG:
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return err_sys(x->e, -errno, "cannot create '%s'", le->path);
		r = write_data(x, fd, le);
		if (r < 0)
			return r;
		break;
	case S_IFDIR:
		if (!keep && mkdirat(pfd, base, 0700) < 0)
			return err_sys(x->e, -errno, "cannot create directory '%s'", le->path);
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return err_sys(x->e, -errno, "cannot open directory '%s'", le->path);
		break;
	case S_IFLNK: {
		const char *target = archive_entry_symlink(ae);
		if (!target)
			return err_set(x->e, -EINVAL, "symlink '%s' has no target", le->path);
		le->link = strdup(target);
		if (!le->link)
			return -ENOMEM;
		if (symlinkat(target, pfd, base) < 0)
			return err_sys(x->e, -errno, "cannot create symlink '%s'", le->path);
		break;
	}
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		if (x->privileged && mknodat(pfd, base, type | 0600, le->rdev) == 0)
			break;
		if (x->privileged && errno != EPERM)
			return err_sys(x->e, -errno, "cannot create node '%s'", le->path);
		if (type == S_IFIFO && mkfifoat(pfd, base, 0600) == 0)
			break;
		if (type == S_IFSOCK && mknodat(pfd, base, S_IFSOCK | 0600, 0) == 0)
			break;
		/* An unprivileged device is an empty file whose override
		 * xattr names the device. */
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return err_sys(x->e, -errno, "cannot create '%s'", le->path);
		ondisk = S_IFREG;
		break;
	default:
		return err_set(x->e, -EINVAL, "entry '%s' has an unknown file type", le->path);
	}
	return apply_meta(x, pfd, base, fd, ae, le, ondisk);
}

static int extract_entry(struct extractor *x, struct archive_entry *ae)
{
	const char *raw = archive_entry_pathname(ae);
	if (!raw)
		return err_set(x->e, -EINVAL, "entry without a name");
	struct layer_entry le = { 0 };
	int r = normalize_entry_path(raw, &le.path);
	if (r < 0)
		return err_set(x->e, r == -EINVAL ? -EPERM : r,
			       "entry '%s' has '..' in its name", raw);
	_cleanup_free_ char *path_owner = le.path;
	if (strlen(le.path) >= PATH_MAX)
		return err_set(x->e, -ENAMETOOLONG, "entry '%.60s...' has a name too long (%zu bytes)",
			       le.path, strlen(le.path));
	if (!*le.path)
		return 0;   /* "./": the tree root is ours, not the layer's */
	le.mode = archive_entry_filetype(ae) | (archive_entry_perm(ae) & 07777);
	le.uid = (uid_t)archive_entry_uid(ae);
	le.gid = (gid_t)archive_entry_gid(ae);
	le.mtime = archive_entry_mtime(ae);
	le.size = archive_entry_size_is_set(ae) ? (uint64_t)archive_entry_size(ae) : 0;
	le.rdev = archive_entry_rdev(ae);
	const char *hl = archive_entry_hardlink(ae);
	if (hl) {
		r = extract_hardlink(x, &le, hl);
	} else {
		char *slash = strrchr(le.path, '/');
		const char *base = slash ? slash + 1 : le.path;
		_cleanup_free_ char *dir = strndup(le.path, slash ? (size_t)(slash - le.path) : 0);
		if (!dir)
			return -ENOMEM;
		if (strlen(base) > NAME_MAX)
			return err_set(x->e, -ENAMETOOLONG, "entry '%.60s...' has a name component too long",
				       le.path);
		int pfd = open_parent(x, dir, le.path);
		if (pfd < 0)
			return pfd;
		r = create_entry(x, pfd, base, ae, &le);
	}
	if (r < 0) {
		free(le.link);
		return r;
	}
	path_owner = NULL;
	bool isdir = S_ISDIR(le.mode) && !le.hardlink;
	r = lm_put(x->m, &le);
	free(le.path);
	free(le.link);
	if (r < 0)
		return r;
	if (isdir) {
		if (x->ndirs == x->capdirs) {
			size_t cap = x->capdirs ? x->capdirs * 2 : 64;
			size_t *d = realloc(x->dirs, cap * sizeof(*d));
			if (!d)
				return -ENOMEM;
			x->dirs = d;
			x->capdirs = cap;
		}
		x->dirs[x->ndirs++] = x->m->n - 1;
	}
	x->stats->entries++;
	return 0;
}

/* Directory mtimes last: creating children changed them. */
static int finish_dirs(struct extractor *x)
{
	drop_cache(x);
	for (size_t k = x->ndirs; k-- > 0;) {
		const struct layer_entry *le = &x->m->e[x->dirs[k]];
		if (le->removed || !S_ISDIR(le->mode))
			continue;
		_cleanup_close_ int fd = open_dir_beneath(x->rootfd, le->path, O_RDONLY);
		if (fd < 0)
			continue;   /* replaced later by another entry */
		struct timespec ts[2] = { { le->mtime, 0 }, { le->mtime, 0 } };
		if (futimens(fd, ts) < 0)
			return err_sys(x->e, -errno, "cannot set times of '%s'", le->path);
	}
	return 0;
}

int extract_layer(struct archive *a, int rootfd, struct layer_manifest *m,
		  struct extract_stats *stats, struct errmsg *e)
{
	struct extractor x = {
		.a = a, .rootfd = rootfd, .m = m, .stats = stats, .e = e,
		.privileged = geteuid() == 0, .euid = geteuid(), .egid = getegid(),
		.cached_fd = -1,
	};
	x.md = EVP_MD_CTX_new();
	if (!x.md)
		return -ENOMEM;
	int r = 0;
	for (;;) {
		struct archive_entry *ae;
		int h = archive_read_next_header(a, &ae);
		if (h == ARCHIVE_EOF)
			break;
		if (h < ARCHIVE_WARN) {
			r = err_set(e, -EIO, "cannot read layer: %s", archive_error_string(a));
			break;
		}
		r = extract_entry(&x, ae);
		if (r < 0 || x.ended_early)
			break;
	}
	if (r == 0)
		r = finish_dirs(&x);
	drop_cache(&x);
	free(x.dirs);
	EVP_MD_CTX_free(x.md);
	return r;
}
