/* Joining files for dedupe: metadata and byte comparison, the atomic
 * replacement of a name by a hardlink, extent sharing, and the journal of
 * directory times that makes a killed run repairable. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include "cleanup.h"
#include "dedupe_int.h"
#include "fsutil.h"
#include "strbuf.h"

void dd_kill_point(const char *point)
{
	static long count;
	const char *env = getenv("LAYERCTL_DEDUPE_KILL");
	size_t n = strlen(point);
	if (!env || strncmp(env, point, n) || env[n] != ':')
		return;
	if (++count == strtol(env + n + 1, NULL, 10))
		raise(SIGKILL);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int put_xattrs(int fd, struct strbuf *sb, bool *marked)
{
	ssize_t len = flistxattr(fd, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? -errno : 0;
	_cleanup_free_ char *names = malloc((size_t)len);
	if (!names)
		return -ENOMEM;
	len = flistxattr(fd, names, (size_t)len);
	if (len < 0)
		return -errno;    /* changed meanwhile: the caller skips */
	size_t count = 0;
	for (ssize_t k = 0; k < len; k += (ssize_t)strlen(names + k) + 1)
		count++;
	_cleanup_free_ char **v = calloc(count + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	size_t m = 0;
	for (ssize_t k = 0; k < len; k += (ssize_t)strlen(names + k) + 1)
		if (strncmp(names + k, DEDUPE_XATTR_PREFIX, strlen(DEDUPE_XATTR_PREFIX)))
			v[m++] = names + k;
		else if (!strcmp(names + k, XATTR_DEDUPE))
			*marked = true;
	qsort(v, m, sizeof(char *), cmp_str);
	char small[512];
	for (size_t k = 0; k < m; k++) {
		ssize_t vl = fgetxattr(fd, v[k], small, sizeof(small));
		_cleanup_free_ char *big = NULL;
		const char *val = small;
		if (vl < 0 && errno == ERANGE) {
			vl = fgetxattr(fd, v[k], NULL, 0);
			big = vl >= 0 ? malloc((size_t)vl + 1) : NULL;
			vl = big ? fgetxattr(fd, v[k], big, (size_t)vl + 1) : -1;
			val = big;
		}
		if (vl < 0)
			return -errno ? -errno : -ENOMEM;
		int r = sb_printf(sb, "%s=%zd:", v[k], vl);
		if (r == 0)
			r = sb_append(sb, val, (size_t)vl);
		if (r == 0)
			r = sb_putc(sb, '\n');
		if (r < 0)
			return r;
	}
	return 0;
}

int dd_meta(int fd, char **out, size_t *len, bool *marked)
{
	*marked = false;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = sb_printf(&sb, "%o %u %u %lld.%09ld %lld\n", st.st_mode, st.st_uid, st.st_gid,
			  (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_size);
	if (r == 0)
		r = put_xattrs(fd, &sb, marked);
	if (r < 0)
		return r;
	*len = sb.len;
	*out = sb_detach(&sb);
	return *out ? 0 : -ENOMEM;
}

/* 1 when A and B hold the same LEN (at most DD_BUF) bytes at OFF, 0 when
 * not (or either shrank meanwhile), or -errno. */
static int same_range(struct dd_ctx *c, int a, int b, uint64_t off, size_t len)
{
	ssize_t na = RETRY_EINTR(pread(a, c->buf_a, len, (off_t)off));
	ssize_t nb = RETRY_EINTR(pread(b, c->buf_b, len, (off_t)off));
	if (na < 0 || nb < 0)
		return -errno;
	return na == (ssize_t)len && nb == (ssize_t)len && !memcmp(c->buf_a, c->buf_b, len);
}

/* 1 when A and B hold the same SIZE bytes, 0 when not, or -errno.  The
 * last block is compared first when it lies beyond the first read: files
 * that differ only at their end (an appended line) are told apart
 * without reading them whole. */
int dd_same_bytes(struct dd_ctx *c, int a, int b, uint64_t size)
{
	int r = 1;
	if (size > DD_BUF)
		r = same_range(c, a, b, size - DD_PARTIAL_BLOCK, DD_PARTIAL_BLOCK);
	for (uint64_t off = 0; r > 0 && off < size; off += DD_BUF)
		r = same_range(c, a, b, off, size - off < DD_BUF ? (size_t)(size - off) : DD_BUF);
	return r;
}

/* The directories joins change: their fd (the first DIR_FDS of them stay
 * open, or a sixteenth of the open-files limit if that is less: the readers
 * need the rest) and their times before this run changed them, which are
 * put back after each change and journaled first, so that a killed run's
 * next run can put them back.  An open-addressing table keyed
 * "layer/dir". */
#define DIR_FDS 512

struct dd_dir {
	char *key;
	int fd;
	struct timespec atime, mtime;
};

static uint64_t hash_key(const char *k)
{
	return XXH3_64bits(k, strlen(k));
}

static int dirs_grow(struct dd_ctx *c)
{
	size_t cap = c->capdirs ? c->capdirs * 2 : 256;
	struct dd_dir *t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t k = 0; k < c->capdirs; k++) {
		if (!c->dirs[k].key)
			continue;
		size_t i = hash_key(c->dirs[k].key) & (cap - 1);
		while (t[i].key)
			i = (i + 1) & (cap - 1);
		t[i] = c->dirs[k];
	}
	free(c->dirs);
	c->dirs = t;
	c->capdirs = cap;
	return 0;
}

/* The entry of DIR of layer HEX; a new one (KEY set, FD -1, no times) is
 * added when there is none.  *ISNEW says which. */
static int dir_entry(struct dd_ctx *c, const char *hex, const char *dir, struct dd_dir **out, bool *isnew)
{
	_cleanup_free_ char *key = NULL;
	if (asprintf(&key, "%s/%s", hex, dir) < 0)
		return -ENOMEM;
	if (2 * (c->ndirs + 1) > c->capdirs && dirs_grow(c) < 0)
		return -ENOMEM;
	size_t i = hash_key(key) & (c->capdirs - 1);
	for (; c->dirs[i].key; i = (i + 1) & (c->capdirs - 1))
		if (!strcmp(c->dirs[i].key, key)) {
			*out = &c->dirs[i];
			*isnew = false;
			return 0;
		}
	c->dirs[i] = (struct dd_dir){ .key = TAKE_PTR(key), .fd = -1 };
	c->ndirs++;
	*out = &c->dirs[i];
	*isnew = true;
	return 0;
}

/* Close the cached directory fds; their entries (and times) stay. */
static void close_cached_dirs(struct dd_ctx *c)
{
	for (size_t k = 0; k < c->capdirs; k++)
		if (c->dirs[k].fd >= 0) {
			close(c->dirs[k].fd);
			c->dirs[k].fd = -1;
		}
	c->dirfds = 0;
}

void dd_dirs_free(struct dd_ctx *c)
{
	for (size_t k = 0; k < c->capdirs; k++) {
		free(c->dirs[k].key);
		if (c->dirs[k].fd >= 0)
			close(c->dirs[k].fd);
	}
	free(c->dirs);
	c->dirs = NULL;
	c->ndirs = c->capdirs = c->dirfds = 0;
}

/* Record DIR's times before its entries change: a run killed between
 * a change and the restore leaves them here for the next run. */
static int journal_dir(struct dd_ctx *c, const char *hex, const char *dir, const struct dd_dir *d)
{
	if (c->journalfd < 0) {
		_cleanup_close_ int dd = dd_dir(c->s, true);
		if (dd < 0)
			return dd;
		c->journalfd = openat(dd, "journal", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (c->journalfd < 0)
			return -errno;
	}
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = sb_printf(&sb, "D %s %lld %ld %lld %ld ", hex, (long long)d->atime.tv_sec,
			  d->atime.tv_nsec, (long long)d->mtime.tv_sec, d->mtime.tv_nsec);
	if (r == 0)
		r = dd_put_path(&sb, dir);
	return r < 0 ? r : write_all(c->journalfd, sb.s, sb.len);
}

/* An fd of DIR of layer L (*OWNED when the caller must close it) and its
 * entry, journaled. */
static int open_dir(struct dd_ctx *c, const struct dd_layer *l, const char *dir, struct dd_dir **out,
		    int *owned)
{
	struct dd_dir *d;
	bool isnew;
	int r = dir_entry(c, l->hex, dir, &d, &isnew);
	if (r < 0)
		return r;
	*out = d;
	if (d->fd >= 0)
		return d->fd;
	int fd = open_dir_beneath(l->treefd, dir, O_RDONLY);
	/* Out of descriptors (the readers hold the rest): give back the
	 * cached directories, then wait for the others. */
	if (fd == -EMFILE || fd == -ENFILE) {
		close_cached_dirs(c);
		fd = open_dir_beneath(l->treefd, dir, O_RDONLY);
	}
	for (int waited = 0; fd < 0 && dd_fd_wait(-fd, &waited);)
		fd = open_dir_beneath(l->treefd, dir, O_RDONLY);
	if (fd < 0)
		return fd;
	if (isnew) {
		struct stat st;
		if (fstat(fd, &st) < 0 || (r = journal_dir(c, l->hex, dir, &(struct dd_dir){
				.atime = st.st_atim, .mtime = st.st_mtim })) < 0) {
			r = r < 0 ? r : -errno;
			close(fd);
			/* Not journaled: the next join here tries again. */
			d->key[0] = '\0';
			return r;
		}
		d->atime = st.st_atim;
		d->mtime = st.st_mtim;
	}
	if (c->dirfds < DIR_FDS && c->dirfds < c->fd_limit / 16) {
		d->fd = fd;
		c->dirfds++;
	} else {
		*owned = fd;
	}
	return fd;
}

/* A new name TMP in the temp area for the inode open as FD: by the fd
 * where the kernel allows it (CAP_DAC_READ_SEARCH, or Linux 6.10 and
 * later for a file the caller opened), else through /proc. */
static int link_fd(struct dd_ctx *c, int fd, const char *tmp)
{
	if (!c->no_empty_path) {
		if (linkat(fd, "", c->tmpfd, tmp, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno != ENOENT && errno != EPERM && errno != EINVAL)
			return -errno;
	}
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, c->tmpfd, tmp, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	c->no_empty_path = true;
	return 0;
}

int dd_link_over(struct dd_ctx *c, int keeperfd, uint64_t keeper_ino, const struct dd_file *dup)
{
	const struct dd_layer *l = &c->layers[dup->layer];
	_cleanup_free_ char *dir = strdup(dup->path);
	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dup->path;
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	_cleanup_close_ int owned = -1;
	struct dd_dir *d = NULL;
	int dirfd = open_dir(c, l, dir, &d, &owned);
	if (dirfd < 0)
		return dirfd;
	struct stat fst;
	if (fstatat(dirfd, base, &fst, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* Only the very file that was compared is replaced. */
	if ((uint64_t)fst.st_ino == keeper_ino)
		return 0;
	if ((uint64_t)fst.st_ino != dup->ino || !S_ISREG(fst.st_mode) || (uint64_t)fst.st_size != dup->size)
		return -ESTALE;
	char tmp[64];
	uint64_t seq = ++c->tmpseq;
	dd_tmp_name(tmp, sizeof(tmp), seq);
	int r = link_fd(c, keeperfd, tmp);
	if (r < 0)
		return r;
	dd_kill_point("link");
	/* Swapped, not renamed over: ext4 writes out the data of a file
	 * renamed over another (auto_da_alloc), which an exchange does not
	 * ask for; the old file, now the temp name, is removed by the closer. */
	bool swapped = renameat2(c->tmpfd, tmp, dirfd, base, RENAME_EXCHANGE) == 0;
	if (!swapped && (errno != EINVAL || renameat(c->tmpfd, tmp, dirfd, base) < 0)) {
		r = -errno;
		unlinkat(c->tmpfd, tmp, 0);
		return r;
	}
	if (swapped)
		dd_close_later(c, -1, seq);
	dd_kill_point("rename");
	/* A mount shows the directory's mtime: the change must not show. */
	const struct timespec times[2] = { d->atime, d->mtime };
	if (futimens(dirfd, times) < 0)
		return -errno;
	return 0;
}

void dd_tmp_name(char *buf, size_t len, uint64_t seq)
{
	snprintf(buf, len, "link-%" PRIu64, seq);
}

int dd_share_extents(struct dd_ctx *c, int srcfd, int dstfd, uint64_t size, uint64_t *shared)
{
	(void)c;
	const uint64_t chunk = 16u << 20;
	/* One destination: the range header and its one info record. */
	union {
		struct file_dedupe_range r;
		char bytes[sizeof(struct file_dedupe_range) + sizeof(struct file_dedupe_range_info)];
	} req;
	struct file_dedupe_range_info *info = &req.r.info[0];
	uint64_t off = 0;
	*shared = 0;
	while (off < size) {
		memset(&req, 0, sizeof(req));
		req.r.src_offset = off;
		req.r.src_length = size - off < chunk ? size - off : chunk;
		req.r.dest_count = 1;
		info->dest_fd = dstfd;
		info->dest_offset = off;
		if (ioctl(srcfd, FIDEDUPERANGE, &req) < 0)
			return -errno;
		if (info->status == FILE_DEDUPE_RANGE_DIFFERS)
			return -EILSEQ;
		if (info->status < 0)
			return info->status;
		if (!info->bytes_deduped)
			break;
		off += info->bytes_deduped;
		*shared += info->bytes_deduped;
	}
	return 0;
}

static struct dd_layer *layer_by_hex(struct dd_ctx *c, const char *hex)
{
	for (size_t k = 0; k < c->nlayers; k++)
		if (!strcmp(c->layers[k].hex, hex))
			return &c->layers[k];
	return NULL;
}

static void unescape_inplace(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*o++ = *s == 'n' ? '\n' : *s;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Put back the times of directories a killed run left changed.  The first
 * line of a directory holds its original times. */
int dd_journal_replay(struct dd_ctx *c)
{
	_cleanup_close_ int dd = dd_dir(c->s, false);
	if (dd < 0)
		return dd == -ENOENT ? 0 : dd;
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_file_at(dd, "journal", 1u << 30, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	/* Lines in reverse: the earliest record of a directory is applied
	 * last and wins. */
	char **lines = NULL;
	size_t n = 0;
	for (char *save = NULL, *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char **v = realloc(lines, (n + 1) * sizeof(*v));
		if (!v) {
			free(lines);
			return -ENOMEM;
		}
		lines = v;
		lines[n++] = l;
	}
	while (n-- > 0) {
		char hex[80];
		long long as, ms;
		long an, mn;
		int off = 0;
		if (sscanf(lines[n], "D %79s %lld %ld %lld %ld %n", hex, &as, &an, &ms, &mn, &off) != 5 || !off)
			continue;
		struct dd_layer *l = layer_by_hex(c, hex);
		if (!l)
			continue;
		char *dir = lines[n] + off;
		unescape_inplace(dir);
		_cleanup_close_ int fd = open_dir_beneath(l->treefd, dir, O_RDONLY);
		const struct timespec t[2] = { { as, an }, { ms, mn } };
		if (fd >= 0)
			futimens(fd, t);
	}
	free(lines);
	if (unlinkat(dd, "journal", 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

void dd_journal_done(struct dd_ctx *c)
{
	if (c->journalfd < 0)
		return;
	close(c->journalfd);
	c->journalfd = -1;
	_cleanup_close_ int dd = dd_dir(c->s, false);
	if (dd >= 0)
		unlinkat(dd, "journal", 0);
}
