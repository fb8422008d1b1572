/* Directory reading from the merged listing.
 *
 * Every visible name carries a cookie, given when it enters its
 * directory's listing and never reused there, and readdir's offsets are
 * cookies: "continue after this entry".  A reader therefore needs no state
 * of its own, so layerfs declines OPENDIR where the kernel allows it (no
 * OPENDIR/RELEASEDIR round trips; the kernel then caches listings by
 * default), and entries that did not change are returned exactly once
 * however the directory changes between two reads.
 *
 * The entries sorted by cookie are kept per directory (a snapshot) while
 * readers page through them; any change of the listing drops it, and so
 * does reading to the end, since the kernel then holds the listing in its
 * cache. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock_ns.h"
#include "layerfs.h"

struct dirsnap {
	_Atomic uint32_t refs;
	uint32_t n;
	struct dentry *e[]; /* visible entries by cookie; valid under ns_lock */
};

/* Guards the snapshot pointers of all listings: readers hold ns_lock
 * shared, so several may race to build or drop one. */
static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;

static void snap_put(struct dirsnap *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		free(s);
}

static int by_cookie(const void *a, const void *b)
{
	uint32_t x = (*(struct dentry *const *)a)->cookie;
	uint32_t y = (*(struct dentry *const *)b)->cookie;
	return x < y ? -1 : x > y;
}

static struct dirsnap *snap_build(struct dirlist *l)
{
	struct dirsnap *s = malloc(sizeof(*s) + sizeof(s->e[0]) * l->visible);
	if (!s)
		return NULL;
	uint32_t n = 0;
	for (uint32_t b = 0; b < l->nbuckets; b++)
		for (struct dentry *d = l->buckets[b]; d; d = d->hnext)
			if (dentry_visible(d) && n < l->visible)
				s->e[n++] = d;
	qsort(s->e, n, sizeof(s->e[0]), by_cookie);
	s->n = n;
	atomic_init(&s->refs, 1);
	return s;
}

/* The listing's snapshot with a reference for the caller.  Caller holds
 * ns_lock shared. */
static struct dirsnap *snap_get(struct dirlist *l)
{
	pthread_mutex_lock(&snap_lock);
	struct dirsnap *s = l->snap;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&snap_lock);
	if (s)
		return s;
	struct dirsnap *fresh = snap_build(l);
	if (!fresh)
		return NULL;
	pthread_mutex_lock(&snap_lock);
	if (!l->snap)
		l->snap = fresh;
	else
		snap_put(fresh);
	s = l->snap;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&snap_lock);
	return s;
}

/* Drop the listing's snapshot S (if it is still the current one). */
static void snap_drop(struct dirlist *l, struct dirsnap *s)
{
	pthread_mutex_lock(&snap_lock);
	if (l->snap == s)
		l->snap = NULL;
	else
		s = NULL;
	pthread_mutex_unlock(&snap_lock);
	snap_put(s);
}

/* The listing changed.  Caller holds ns_lock exclusively, so no reader
 * holds the snapshot. */
void dir_snap_invalidate(struct dirlist *l)
{
	snap_put(l->snap);
	l->snap = NULL;
}

/* Subdirectories a READDIRPLUS just handed to the kernel during a burst
 * of requests: a walk of the tree (find, du, ls -R, tar) reads them next,
 * so their listings are built while the receiver would otherwise only
 * poll for the next request (loop.c), and the READDIRPLUS that comes for
 * them finds the listing ready.  A fresh find of the rootfs: 72-104 ms,
 * median 90, against 95-148 ms, median 104.  The cost: an ls -l of a
 * large directory builds up to PREFETCH_MAX listings nobody reads, kept
 * until the kernel forgets those directories. */
#define PREFETCH_MAX 64
static struct {
	pthread_mutex_t lock;
	struct inode *q[PREFETCH_MAX];
	unsigned head;
	_Atomic unsigned n;     /* read without the lock by the polling loop */
} pf = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void prefetch_note(struct inode *i)
{
	pthread_mutex_lock(&pf.lock);
	if (pf.n < PREFETCH_MAX) {
		inode_ref(i);
		pf.q[(pf.head + pf.n++) % PREFETCH_MAX] = i;
	}
	pthread_mutex_unlock(&pf.lock);
}

bool dir_prefetch_one(void)
{
	if (!atomic_load_explicit(&pf.n, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&pf.lock);
	struct inode *i = pf.n ? pf.q[pf.head] : NULL;
	if (i) {
		pf.head = (pf.head + 1) % PREFETCH_MAX;
		pf.n--;
	}
	pthread_mutex_unlock(&pf.lock);
	if (!i)
		return false;
	{
		NS_READ;
		if (!i->stale) /* removed since: nothing to list */
			dir_ensure(i);
	}
	inode_unref(i);
	return true;
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (lfs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	/* The kernel may keep listings: every change goes through us, and it
	 * drops a directory's cached listing when it changes one. */
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

/* First snapshot index whose cookie is above OFF. */
static uint32_t snap_seek(const struct dirsnap *s, uint64_t off)
{
	uint32_t lo = 0, hi = s->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s->e[mid]->cookie <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* What READDIRPLUS hands the kernel.  Attributes with every entry spare
 * a caller that stats what it lists (ls -l, du, tar) a LOOKUP a name; a
 * caller that does not (find, ls, rm -r: names and types only) they cost
 * a stat of every file in the daemon and an inode in the kernel, a third
 * of a fresh find.  So READDIRPLUS starts lean, with attributes for
 * directories only (a walk enters them without a LOOKUP), and LEAN_MISSES
 * lookups of names it sent bare show a caller that stats: replies carry
 * every entry's attributes from then until RDPLUS_FULL_NS after the last
 * such sign.  A stating walk pays LOOKUPs for the files of one directory a
 * second.  Fresh mount of the rootfs, alternating runs: find 54 to 62 ms
 * against 87 to 108 ms; du -s, ls -lR and ls -l of large directories
 * within each other's spread. */
#define LEAN_MISSES 4
#define RDPLUS_FULL_NS NS_PER_SEC
static _Atomic uint64_t rdplus_full_until;
static _Atomic int lean_misses;

void readdir_lean_miss(void)
{
	if (atomic_fetch_add_explicit(&lean_misses, 1, memory_order_relaxed) + 1 < LEAN_MISSES)
		return;
	atomic_store_explicit(&lean_misses, 0, memory_order_relaxed);
	atomic_store_explicit(&rdplus_full_until,
			      clock_ns(CLOCK_MONOTONIC_COARSE) + RDPLUS_FULL_NS,
			      memory_order_relaxed);
}

/* What a reply carries: names and types (READDIR), and with READDIRPLUS
 * the attributes of every entry, or of directories only (lean). */
enum rd_mode { RD_NAMES, RD_PLUS, RD_PLUS_LEAN };

static enum rd_mode rdplus_mode(void)
{
	uint64_t until = atomic_load_explicit(&rdplus_full_until, memory_order_relaxed);
	return until && clock_ns(CLOCK_MONOTONIC_COARSE) < until ? RD_PLUS : RD_PLUS_LEAN;
}

/* Add one entry to BUF (D: its dentry, NULL for "." and ".."); false when
 * it does not fit. */
static bool add_entry(fuse_req_t req, struct inode *dir, char *buf, size_t size,
		      size_t *used, const char *name, uint64_t ino, uint8_t type,
		      uint64_t cookie, enum rd_mode mode, struct dentry *d)
{
	struct stat st = { .st_ino = ino, .st_mode = (mode_t)DTTOIF(type) };
	size_t len;
	if (mode == RD_NAMES) {
		len = fuse_add_direntry(req, buf + *used, size - *used, name, &st, (off_t)cookie);
	} else {
		struct fuse_entry_param e = { .attr = st };
		bool lean = d && type != DT_DIR && mode == RD_PLUS_LEAN;
		if (lean)
			atomic_store_explicit(&d->lean, 1, memory_order_relaxed);
		/* Lean, gone, or to be resolved by a lookup: the plain entry. */
		if (d && (lean || entry_of_shared(dir, name, &e) < 0)) {
			e.ino = 0;
			e.attr = st;
		}
		if (e.ino && d && S_ISDIR(e.attr.st_mode) && cpulat_burst())
			prefetch_note(inode_get(e.ino));
		len = fuse_add_direntry_plus(req, buf + *used, size - *used, name, &e,
					     (off_t)cookie);
		if (len > size - *used && e.ino)
			inode_forget(inode_get(e.ino), 1);
	}
	if (len > size - *used)
		return false;
	*used += len;
	return true;
}

static int fill(fuse_req_t req, struct inode *dir, char *buf, size_t size, uint64_t off,
		enum rd_mode mode, size_t *used)
{
	NS_READ;
	int r = dir_ensure(dir);
	if (r < 0)
		return r;
	struct dirlist *l = dir->dir;
	struct inode *parent = dir->parent ? dir->parent : dir;
	if (off < 1 && !add_entry(req, dir, buf, size, used, ".", dir->ino, DT_DIR, 1, mode, NULL))
		return 0;
	if (off < 2 && !add_entry(req, dir, buf, size, used, "..", parent->ino, DT_DIR, 2, mode, NULL))
		return 0;
	/* Nothing can lie past the newest cookie: no snapshot needed. */
	if (off + 1 >= l->next_cookie)
		return 0;
	struct dirsnap *s = snap_get(l);
	if (!s)
		return -ENOMEM;
	uint32_t k = snap_seek(s, off);
	for (; k < s->n; k++) {
		struct dentry *d = s->e[k];
		if (!add_entry(req, dir, buf, size, used, d->name, d->ino, d->type, d->cookie,
			       mode, d))
			break;
	}
	if (k == s->n)
		snap_drop(l, s); /* the kernel has it all now */
	snap_put(s);
	return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       enum rd_mode mode)
{
	_cleanup_free_ char *buf = malloc(size);
	size_t used = 0;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int r = fill(req, inode_get(ino), buf, size, off < 0 ? 0 : (uint64_t)off, mode, &used);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, buf, used);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, RD_NAMES);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, rdplus_mode());
}

void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int r = 0;
	if (lfs->has_upper && lfs->opts.fsync) {
		NS_READ;
		struct inode *dir = inode_get(ino);
		char path[PATH_MAX];
		if (dir->layer == LAYER_UPPER && path_upper(dir, path, sizeof(path)) == 0) {
			int fd = layer_open_dir(LAYER_UPPER, path);
			if (fd >= 0) {
				r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
				close(fd);
			}
		}
	}
	fuse_reply_err(req, -r);
}
