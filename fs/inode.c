/* The inode table: merged files by stable st_ino, with reference counts.
 *
 * The table is sharded so lookups of different files do not contend.  An
 * inode lives while the kernel holds lookups on it or the daemon holds a
 * reference (a child's parent pointer). */
#include <errno.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

#define SHARDS 64

struct shard {
	pthread_mutex_t lock;
	struct inode **buckets;
	size_t nbuckets;
	size_t count;
};

static struct shard shards[SHARDS];

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return x;
}

#define STRIPES 256
static pthread_mutex_t cu_locks[STRIPES];
static pthread_mutex_t build_locks[STRIPES];

pthread_mutex_t *inode_cu_lock(const struct inode *i)
{
	return &cu_locks[mix(i->ino) % STRIPES];
}

pthread_mutex_t *inode_build_lock(const struct inode *i)
{
	return &build_locks[mix(i->ino ^ 0x9e3779b97f4a7c15u) % STRIPES];
}


void inode_table_init(void)
{
	for (int s = 0; s < STRIPES; s++) {
		pthread_mutex_init(&cu_locks[s], NULL);
		pthread_mutex_init(&build_locks[s], NULL);
	}
	for (int s = 0; s < SHARDS; s++) {
		pthread_mutex_init(&shards[s].lock, NULL);
		shards[s].nbuckets = 0;
	}
}

struct inode *inode_get(fuse_ino_t nodeid)
{
	if (nodeid == FUSE_ROOT_ID)
		return lfs->root;
	return (struct inode *)(uintptr_t)nodeid;
}

static struct shard *shard_of(uint64_t ino, uint64_t *h)
{
	*h = mix(ino);
	return &shards[*h % SHARDS];
}

static int shard_grow(struct shard *s)
{
	size_t n = s->nbuckets ? s->nbuckets * 2 : 256;
	struct inode **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct inode *e = s->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			size_t k = (mix(e->ino) / SHARDS) % n;
			e->hnext = b[k];
			b[k] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
	return 0;
}

static struct inode *inode_alloc(uint64_t ino, uint8_t type, uint16_t layer)
{
	struct inode *i = calloc(1, sizeof(*i));
	if (!i)
		return NULL;
	i->ino = ino;
	i->type = type;
	i->layer = layer;
	i->anchor_fd = -1;
	return i;
}

struct inode *inode_new_root(uint64_t ino)
{
	struct inode *i = inode_alloc(ino, DT_DIR, lfs->has_upper ? LAYER_UPPER : 1);
	if (!i)
		return NULL;
	i->name = strdup("");
	atomic_store(&i->refs, 1);
	return i;
}

/* Find the inode numbered INO and take a kernel reference on it, or make
 * one.  A new inode names PARENT/NAME as its primary path. */
struct inode *inode_find_or_add(uint64_t ino, uint8_t type, uint16_t layer,
				struct inode *parent, const char *name, bool *created)
{
	uint64_t h;
	struct shard *s = shard_of(ino, &h);
	struct inode *i;

	*created = false;
	pthread_mutex_lock(&s->lock);
	if (s->nbuckets) {
		for (i = s->buckets[(h / SHARDS) % s->nbuckets]; i; i = i->hnext) {
			if (i->ino == ino) {
				atomic_fetch_add(&i->refs, 1);
				pthread_mutex_unlock(&s->lock);
				return i;
			}
		}
	}
	if (s->count >= s->nbuckets && shard_grow(s) < 0) {
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	i = inode_alloc(ino, type, layer);
	if (!i || !(i->name = strdup(name))) {
		free(i);
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	i->parent = parent;
	inode_ref(parent);
	i->hashed = true;
	atomic_store(&i->refs, 1);
	size_t k = (h / SHARDS) % s->nbuckets;
	i->hnext = s->buckets[k];
	s->buckets[k] = i;
	s->count++;
	pthread_mutex_unlock(&s->lock);
	*created = true;
	return i;
}

void inode_ref(struct inode *i)
{
	if (i)
		atomic_fetch_add(&i->refs, 1);
}

/* Freed inodes since memory was last handed back to the system. */
static _Atomic uint64_t freed_since_trim;

/* After the kernel forgets many inodes, give their memory back: glibc
 * keeps freed small blocks otherwise, and the daemon's RSS would stay at
 * its peak after a walk of a large tree. */
void inode_trim_memory(void)
{
	if (atomic_load(&freed_since_trim) < 16384)
		return;
	atomic_store(&freed_since_trim, 0);
	malloc_trim(0);
}

static void inode_destroy(struct inode *i)
{
	atomic_fetch_add(&freed_since_trim, 1);
	struct inode *parent = i->parent;
	if (i->dir)
		dir_free(i->dir);
	if (i->anchor_fd >= 0)
		close(i->anchor_fd);
	passthrough_forget(i);
	free(i->lows);
	free(i->redirect);
	free(i->name);
	free(i);
	if (parent)
		inode_unref(parent);
}

static void unhash_locked(struct shard *s, uint64_t h, struct inode *i)
{
	struct inode **pp = &s->buckets[(h / SHARDS) % s->nbuckets];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == i) {
			*pp = i->hnext;
			s->count--;
			break;
		}
	}
	i->hashed = false;
}

/* Drop N references.  The drop to zero happens under the shard lock,
 * together with the unhashing, so no lookup can find the inode after. */
static void inode_put(struct inode *i, uint64_t n)
{
	uint64_t c = atomic_load(&i->refs);
	while (c > n)
		if (atomic_compare_exchange_weak(&i->refs, &c, c - n))
			return;
	uint64_t h;
	struct shard *s = shard_of(i->ino, &h);
	pthread_mutex_lock(&s->lock);
	bool last = atomic_fetch_sub(&i->refs, n) == n;
	if (last && i->hashed)
		unhash_locked(s, h, i);
	pthread_mutex_unlock(&s->lock);
	if (last && i != lfs->root)
		inode_destroy(i);
}

/* The inode found by INO, without taking a reference: for callers holding
 * ns_lock exclusively, which keeps kernel references from changing it. */
struct inode *inode_peek(uint64_t ino)
{
	uint64_t h;
	struct shard *s = shard_of(ino, &h);
	struct inode *i = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->nbuckets)
		for (i = s->buckets[(h / SHARDS) % s->nbuckets]; i; i = i->hnext)
			if (i->ino == ino)
				break;
	pthread_mutex_unlock(&s->lock);
	return i;
}

/* Make I unfindable (its file is gone); it lives on until forgotten, and
 * a new file that reuses the number gets a new inode. */
void inode_unhash(struct inode *i)
{
	uint64_t h;
	struct shard *s = shard_of(i->ino, &h);

	pthread_mutex_lock(&s->lock);
	if (i->hashed)
		unhash_locked(s, h, i);
	pthread_mutex_unlock(&s->lock);
}

void inode_unref(struct inode *i)
{
	if (i)
		inode_put(i, 1);
}

void inode_forget(struct inode *i, uint64_t n)
{
	inode_put(i, n);
}

/* Point I's primary name at PARENT/NAME (rename, or a hardlink found by
 * another name).  Needs ns_lock exclusive, or shared when I is stale. */
int inode_set_name(struct inode *i, struct inode *parent, const char *name)
{
	char *n = strdup(name);
	if (!n)
		return -ENOMEM;
	struct inode *old = i->parent;
	inode_ref(parent);
	free(i->name);
	i->name = n;
	i->parent = parent;
	i->stale = false;
	if (old)
		inode_unref(old);
	return 0;
}
