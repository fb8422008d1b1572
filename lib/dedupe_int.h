/* Internals of dedupe shared by dedupe*.c (see dedupe.h). */
#ifndef LAYERFS_DEDUPE_INT_H
#define LAYERFS_DEDUPE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xxhash.h>

#include "dedupe.h"
#include "digest.h"

#define DD_PARTIAL_BLOCK 4096u

enum {
	DDF_LINKABLE = 1,      /* may become a hardlink of a file in another tree */
	DDF_PARTIAL = 2,       /* partial hash known */
	DDF_FULL = 4,          /* full hash known */
	DDF_FRESH = 8,         /* its layer is new to the index this run */
	DDF_SKIP = 16,         /* changed under us or unreadable: left alone */
};

struct dd_file {
	char *path;            /* relative to the layer tree */
	uint64_t size;
	int64_t mtime_ns;
	uint64_t ino;
	uint64_t blocks;       /* st_blocks * 512 */
	uint64_t partial;
	XXH128_hash_t full;
	uint32_t layer;        /* index into dd_ctx.layers */
	uint32_t flags;
};

struct dd_layer {
	char hex[DIGEST_HEX_LEN + 1];
	int treefd;
	bool fresh;            /* not in the index (or indexed by a weaker mode) */
	bool indexed;          /* its files come from the index */
	char mode;             /* 'h' or 'r': the mode it was last processed with */
	uint64_t tree_ino, rec_ino;
	int64_t rec_mtime_ns;
};

struct dd_ctx {
	struct store *s;
	const struct dedupe_opts *o;
	struct dedupe_stats *st;
	struct errmsg *e;
	struct dd_layer *layers;
	size_t nlayers;
	struct dd_file *files;
	size_t nfiles, capfiles;
	int tmpfd;             /* private temp dir under STORE/tmp, or -1 */
	int journalfd;         /* STORE/dedupe/journal, or -1 */
	uint64_t tmpseq;
	bool reflink_warned;
	char *buf_a, *buf_b;   /* read buffers */
	struct dd_closer *closer;   /* closes replaced files, or NULL */
	struct dd_dir *dirs;   /* directories joined into (dedupe_link.c) */
	size_t ndirs, capdirs, dirfds;
	bool no_empty_path;    /* linkat(AT_EMPTY_PATH) refused: use /proc */
	struct dd_pool *pool;  /* a worker's pool, or NULL: join in place */
	size_t fd_limit;       /* open files allowed: the queues and caches
				  that hold files open take shares of it */
	size_t keep_open;      /* groups of up to this many inodes stay open
				  from reading to joining (a share of fd_limit) */
};

#define DD_BUF (256u << 10)

/* The most inodes of a group kept open between reading and joining. */
#define KEEP_OPEN_MAX 32

/* V within [LO, HI]: a share of the open-files limit. */
static inline size_t dd_clamp(size_t v, size_t lo, size_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* How many inodes of a group a reader keeps open, when it may hold SHARE
 * files (two more are opened to compare). */
static inline size_t dd_keep_open(size_t share)
{
	return dd_clamp(share > 2 ? share - 2 : 0, 2, KEEP_OPEN_MAX);
}

/* dedupe_index.c */
struct strbuf;
/* Append P, '\n' and '\\' escaped, and a newline (index and journal lines). */
int dd_put_path(struct strbuf *sb, const char *p);
int dd_index_load(struct dd_ctx *c);
int dd_index_save(struct dd_ctx *c);
int dd_dir(struct store *s, bool create);
int dd_add_file(struct dd_ctx *c, const struct dd_file *f);

/* dedupe_scan.c */
int dd_scan_layer(struct dd_ctx *c, uint32_t layer);
int dd_open_file(struct dd_ctx *c, const struct dd_file *f);
/* An open failed with ERR: when that was for want of a descriptor, wait a
 * millisecond for the other threads (joins, closes) to give some back and
 * say to try again, for 2 s at most (*WAITED counts, from 0). */
bool dd_fd_wait(int err, int *waited);
int dd_hash_partial(struct dd_ctx *c, struct dd_file *f);
int dd_hash_full(struct dd_ctx *c, struct dd_file *f);

/* dedupe_group.c: one group of files with equal size and hashes.  The
 * reading (metadata, byte comparison, extents) is done here, on any
 * thread; the joins go to dd_job_push.  VERIFIED: their full hashes are
 * equal.  Else the group is two inodes of equal partial hash, joined when
 * their bytes are equal; 1 when they are not one plain join (metadata
 * differ): the caller hashes them first. */
int dd_group(struct dd_ctx *c, struct dd_file **v, size_t n, bool verified);
struct dd_job;
/* Mark the keepers and join (on the one thread that changes trees). */
int dd_job_apply(struct dd_ctx *c, struct dd_job *j);
void dd_job_free(struct dd_job *j);
size_t dd_job_fds(const struct dd_job *j);

/* dedupe_pool.c: groups read on several threads, joined on the caller's. */
/* Run BY_SIZE on every range V[START[k]..START[k+1]) of K < N, on worker
 * threads with their own buffers and stats; the joins they push are
 * applied on the calling thread, in the order they come. */
int dd_pool_run(struct dd_ctx *c, struct dd_file **v, const size_t *start, size_t n,
		int (*by_size)(struct dd_ctx *, struct dd_file **, size_t));
int dd_job_push(struct dd_ctx *c, struct dd_job *j);
/* Add N bytes hashed and report progress. */
void dd_progress(struct dd_ctx *c, uint64_t n);

/* dedupe_closer.c: close (and so free) replaced files on another thread. */
int dd_closer_start(struct dd_ctx *c);
/* Close FD (unless -1) after removing the temp name of SEQ (unless 0). */
void dd_close_later(struct dd_ctx *c, int fd, uint64_t seq);
void dd_closer_stop(struct dd_ctx *c);

/* dedupe_link.c */
/* Canonical metadata of an open file: mode, owner, mtime, size, sorted
 * xattrs without user.layerfs.*; malloc'd into *OUT, length *LEN.
 * *MARKED: it carries XATTR_DEDUPE. */
int dd_meta(int fd, char **out, size_t *len, bool *marked);
int dd_same_bytes(struct dd_ctx *c, int a, int b, uint64_t size);
/* Replace DUP's name by a name of the keeper (open as KEEPERFD, inode
 * KEEPER_INO): linked in the temp area, swapped with DUP (the temp name
 * then holds DUP, queued for removal).  -ESTALE when the name is no longer
 * DUP's inode. */
int dd_link_over(struct dd_ctx *c, int keeperfd, uint64_t keeper_ino, const struct dd_file *dup);
/* The temp name of a link: "link-SEQ". */
void dd_tmp_name(char *buf, size_t len, uint64_t seq);
int dd_share_extents(struct dd_ctx *c, int srcfd, int dstfd, uint64_t size, uint64_t *shared);
int dd_journal_replay(struct dd_ctx *c);
void dd_journal_done(struct dd_ctx *c);
void dd_dirs_free(struct dd_ctx *c);
/* The test hook: LAYERCTL_DEDUPE_KILL=POINT:N kills the process at POINT
 * ("xattr", "link", "rename") of the Nth join. */
void dd_kill_point(const char *point);

#endif
