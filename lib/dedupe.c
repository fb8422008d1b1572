/* layerctl dedupe: the run over the store (see dedupe.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "dedupe_int.h"
#include "fsutil.h"
#include "images.h"

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int open_layers(struct dd_ctx *c)
{
	char **ids = NULL;
	size_t n = 0;
	int r = layers_list(c->s, &ids, &n);
	if (r < 0)
		return err_sys(c->e, r, "cannot list the layers of '%s'", c->s->root);
	c->layers = calloc(n + 1, sizeof(*c->layers));
	if (!c->layers)
		r = -ENOMEM;
	for (size_t k = 0; r == 0 && k < n; k++) {
		struct dd_layer *l = &c->layers[c->nlayers];
		snprintf(l->hex, sizeof(l->hex), "%s", digest_hex(ids[k]));
		l->treefd = store_open_layer_tree(c->s, ids[k], c->e);
		struct stat st, rs;
		char rec[DIGEST_HEX_LEN + 16];
		snprintf(rec, sizeof(rec), "%s/layer.json", l->hex);
		if (l->treefd < 0 || fstat(l->treefd, &st) < 0 || fstatat(c->s->layersfd, rec, &rs, 0) < 0) {
			/* A layer being removed or damaged is not ours to judge
			 * (verify does): leave it out. */
			if (l->treefd >= 0)
				close(l->treefd);
			c->e->msg[0] = '\0';
			continue;
		}
		l->tree_ino = (uint64_t)st.st_ino;
		l->rec_ino = (uint64_t)rs.st_ino;
		l->rec_mtime_ns = ts_ns(&rs.st_mtim);
		l->fresh = true;
		l->mode = c->o->mode == DEDUPE_REFLINK ? 'r' : 'h';
		c->nlayers++;
	}
	strv_free_n(ids, n);
	return r;
}

static int cmp_size(const void *a, const void *b)
{
	const struct dd_file *x = *(struct dd_file *const *)a, *y = *(struct dd_file *const *)b;
	return x->size < y->size ? -1 : x->size > y->size;
}

static int cmp_partial(const void *a, const void *b)
{
	const struct dd_file *x = *(struct dd_file *const *)a, *y = *(struct dd_file *const *)b;
	bool sx = x->flags & DDF_SKIP, sy = y->flags & DDF_SKIP;
	if (sx != sy)
		return sx ? 1 : -1;
	return x->partial < y->partial ? -1 : x->partial > y->partial;
}

static int cmp_full(const void *a, const void *b)
{
	const struct dd_file *x = *(struct dd_file *const *)a, *y = *(struct dd_file *const *)b;
	bool sx = x->flags & DDF_SKIP, sy = y->flags & DDF_SKIP;
	if (sx != sy)
		return sx ? 1 : -1;
	if (x->full.high64 != y->full.high64)
		return x->full.high64 < y->full.high64 ? -1 : 1;
	return x->full.low64 < y->full.low64 ? -1 : x->full.low64 > y->full.low64;
}

/* Is the run V[0..N) worth looking at: two or more live files, one of
 * them new (else an earlier run has seen this group already)? */
static bool worth(struct dd_file **v, size_t n)
{
	size_t live = 0;
	bool fresh = false;
	for (size_t k = 0; k < n; k++)
		if (!(v[k]->flags & DDF_SKIP)) {
			live++;
			fresh |= (v[k]->flags & DDF_FRESH) != 0;
		}
	return live >= 2 && fresh;
}

typedef bool (*same_fn)(const struct dd_file *, const struct dd_file *);
static bool same_partial(const struct dd_file *a, const struct dd_file *b)
{
	return !(b->flags & DDF_SKIP) && a->partial == b->partial;
}
static bool same_full(const struct dd_file *a, const struct dd_file *b)
{
	return !(b->flags & DDF_SKIP) && XXH128_isEqual(a->full, b->full);
}

static size_t run_end(struct dd_file **v, size_t k, size_t n, same_fn same)
{
	size_t j = k + 1;
	while (j < n && same(v[k], v[j]))
		j++;
	return j;
}

/* Files of equal size and partial hash: full hashes, then groups. */
static int by_full(struct dd_ctx *c, struct dd_file **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!(v[k]->flags & (DDF_FULL | DDF_SKIP))) {
			int r = dd_hash_full(c, v[k]);
			if (r < 0)
				return r;
		}
	qsort(v, n, sizeof(*v), cmp_full);
	for (size_t k = 0; k < n && !(v[k]->flags & DDF_SKIP);) {
		size_t j = run_end(v, k, n, same_full);
		if (worth(v + k, j - k)) {
			int r = dd_group(c, v + k, j - k, true);
			if (r < 0)
				return r;
		}
		k = j;
	}
	return 0;
}

/* Live files of V[0..N) name two inodes, no more? */
static bool two_inodes(struct dd_file **v, size_t n)
{
	uint64_t a = 0, b = 0;
	bool ha = false, hb = false;
	for (size_t k = 0; k < n; k++) {
		if (v[k]->flags & DDF_SKIP)
			continue;
		uint64_t ino = v[k]->ino;
		if (!ha || ino == a) {
			a = ino, ha = true;
		} else if (!hb || ino == b) {
			b = ino, hb = true;
		} else {
			return false;
		}
	}
	return hb;
}

/* Files of equal size and partial hash.  Two inodes: their bytes are
 * compared when they may be joined (a full hash would read both once
 * more for nothing); else full hashes say which are equal.  A dry run
 * compares nothing: it hashes. */
static int by_content(struct dd_ctx *c, struct dd_file **v, size_t n)
{
	if (!c->o->dry_run && two_inodes(v, n)) {
		int r = dd_group(c, v, n, false);
		if (r <= 0)
			return r;
	}
	return by_full(c, v, n);
}

/* Every live file of V[0..N) was scanned this run (its inode number is
 * current, not the index's)? */
static bool all_fresh(struct dd_file **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!(v[k]->flags & (DDF_FRESH | DDF_SKIP)))
			return false;
	return true;
}

/* Files of equal size: partial hashes, then their content where those match. */
static int by_partial(struct dd_ctx *c, struct dd_file **v, size_t n)
{
	/* Two inodes: their bytes are compared at once, for a partial hash
	 * tells apart no more than the comparison's first and last blocks
	 * do (dd_same_bytes reads those first), and a small file would be
	 * read whole twice.  Metadata that differ need the hashes after all.
	 * Files from the index are hashed first: that also checks that the
	 * inode it recorded is still theirs. */
	if (!c->o->dry_run && all_fresh(v, n) && two_inodes(v, n))
		return by_content(c, v, n);
	for (size_t k = 0; k < n; k++)
		if (!(v[k]->flags & (DDF_PARTIAL | DDF_SKIP))) {
			int r = dd_hash_partial(c, v[k]);
			if (r < 0)
				return r;
		}
	qsort(v, n, sizeof(*v), cmp_partial);
	for (size_t k = 0; k < n && !(v[k]->flags & DDF_SKIP);) {
		size_t j = run_end(v, k, n, same_partial);
		if (worth(v + k, j - k)) {
			int r = by_content(c, v + k, j - k);
			if (r < 0)
				return r;
		}
		k = j;
	}
	return 0;
}

/* Groups of files of equal size, each worth reading, are read on the
 * pool's threads. */
static int find_groups(struct dd_ctx *c)
{
	struct dd_file **v = malloc((c->nfiles + 1) * sizeof(*v));
	size_t *start = malloc((c->nfiles + 1) * sizeof(*start));
	if (!v || !start) {
		free(v);
		free(start);
		return -ENOMEM;
	}
	for (size_t k = 0; k < c->nfiles; k++)
		v[k] = &c->files[k];
	qsort(v, c->nfiles, sizeof(*v), cmp_size);
	/* Worth-reading groups moved to the front, in size order. */
	size_t m = 0, ng = 0;
	for (size_t k = 0; k < c->nfiles;) {
		size_t j = k + 1;
		while (j < c->nfiles && v[j]->size == v[k]->size)
			j++;
		if (worth(v + k, j - k)) {
			start[ng++] = m;
			memmove(v + m, v + k, (j - k) * sizeof(*v));
			m += j - k;
		}
		k = j;
	}
	start[ng] = m;
	int r = dd_pool_run(c, v, start, ng, by_partial);
	free(v);
	free(start);
	return r;
}

/* Layers new to the index are read on threads of their own, one layer
 * each at a time (their stats and inode reads overlap), into vectors of
 * their own, joined in layer order. */
struct scan_all {
	struct dd_ctx *c;
	uint32_t *unseen;        /* new layers */
	size_t n;
	atomic_size_t next;
	struct scan_one {
		struct dd_file *files;
		size_t nfiles;
		uint64_t scanned;
		int r;
		struct errmsg e;
	} *out;
};

static void *scan_thread(void *arg)
{
	struct scan_all *a = arg;
	for (size_t k; (k = atomic_fetch_add(&a->next, 1)) < a->n;) {
		struct scan_one *o = &a->out[k];
		struct dedupe_stats st = { 0 };
		struct dd_ctx lc = *a->c;
		lc.files = NULL;
		lc.nfiles = lc.capfiles = 0;
		lc.st = &st;
		lc.e = &o->e;
		o->r = dd_scan_layer(&lc, a->unseen[k]);
		o->files = lc.files;
		o->nfiles = lc.nfiles;
		o->scanned = st.files_scanned;
		if (o->r < 0)
			break;
	}
	return NULL;
}

#define SCAN_THREADS 4

static int scan_new_layers(struct dd_ctx *c)
{
	struct scan_all a = { .c = c };
	a.unseen = calloc(c->nlayers + 1, sizeof(*a.unseen));
	a.out = calloc(c->nlayers + 1, sizeof(*a.out));
	int r = a.unseen && a.out ? 0 : -ENOMEM;
	for (size_t k = 0; r == 0 && k < c->nlayers; k++)
		if (!c->layers[k].indexed)
			a.unseen[a.n++] = (uint32_t)k;
	c->st->new_layers += a.n;
	pthread_t t[SCAN_THREADS];
	size_t nt = 0;
	/* A walk holds a directory open per level: under a low open-files
	 * limit, fewer walk at once. */
	while (r == 0 && nt < SCAN_THREADS && nt + 1 < a.n && nt < c->fd_limit / 64 &&
	       !pthread_create(&t[nt], NULL, scan_thread, &a))
		nt++;
	if (r == 0)
		scan_thread(&a);
	for (size_t k = 0; k < nt; k++)
		pthread_join(t[k], NULL);
	/* Joined in layer order; the first error (in that order) is said. */
	for (size_t k = 0; a.out && k < a.n; k++) {
		struct scan_one *o = &a.out[k];
		c->st->files_scanned += o->scanned;
		if (r == 0 && o->r < 0) {
			r = o->r;
			*c->e = o->e;
		}
		for (size_t i = 0; i < o->nfiles; i++) {
			if (r == 0)
				r = dd_add_file(c, &o->files[i]);
			if (r < 0)
				free(o->files[i].path);
		}
		free(o->files);
	}
	free(a.unseen);
	free(a.out);
	return r;
}

static void ctx_free(struct dd_ctx *c, char *tmpname)
{
	for (size_t k = 0; k < c->nfiles; k++)
		free(c->files[k].path);
	free(c->files);
	for (size_t k = 0; k < c->nlayers; k++)
		close(c->layers[k].treefd);
	free(c->layers);
	free(c->buf_a);
	free(c->buf_b);
	dd_dirs_free(c);
	if (c->journalfd >= 0)
		close(c->journalfd);
	if (c->tmpfd >= 0) {
		close(c->tmpfd);
		rm_rf_at(c->s->tmpfd, tmpname, NULL);
	}
}

static int run_locked(struct dd_ctx *c, char **tmpname)
{
	int r;
	if (!c->o->dry_run) {
		uint64_t freed, count;
		/* A killed run's temp names hold links: drop them first. */
		store_clean_temp(c->s, false, &freed, &count);
		r = store_mktemp(c->s, "dedupe", tmpname, &c->tmpfd, c->e);
		if (r == 0)
			r = dd_closer_start(c);
		if (r < 0)
			return r;
	}
	r = open_layers(c);
	if (r == 0 && !c->o->dry_run && (r = dd_journal_replay(c)) < 0)
		err_sys(c->e, r, "cannot restore directory times from '%s/dedupe/journal'", c->s->root);
	if (r == 0 && (r = dd_index_load(c)) < 0)
		err_sys(c->e, r, "cannot read '%s/dedupe/index'", c->s->root);
	if (r == 0)
		r = scan_new_layers(c);
	if (r == 0) {
		c->st->layers = c->nlayers;
		c->st->files = c->nfiles;
		r = find_groups(c);
		if (r < 0)
			err_sys(c->e, r, "cannot dedupe '%s'", c->s->root);
	}
	/* Every replaced file closed before the journal goes. */
	dd_closer_stop(c);
	if (r == 0 && !c->o->dry_run) {
		dd_journal_done(c);
		r = dd_index_save(c);
		if (r < 0)
			err_sys(c->e, r, "cannot write '%s/dedupe/index'", c->s->root);
	}
	return r;
}

/* Reading many files at once: as many fds as the hard limit allows.  The
 * open-files limit then in force (1024 if it cannot be read). */
static size_t raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return 1024;
	}
	return rl.rlim_cur == RLIM_INFINITY ? 1024 : (size_t)rl.rlim_cur;
}

int dedupe_run(struct store *s, const struct dedupe_opts *o, struct dedupe_stats *st,
	       struct errmsg *e)
{
	memset(st, 0, sizeof(*st));
	struct dd_ctx c = { .s = s, .o = o, .st = st, .e = e, .tmpfd = -1, .journalfd = -1 };
	c.buf_a = malloc(DD_BUF);
	c.buf_b = malloc(DD_BUF);
	if (!c.buf_a || !c.buf_b) {
		free(c.buf_a);
		free(c.buf_b);
		return -ENOMEM;
	}
	c.fd_limit = raise_fd_limit();
	c.keep_open = dd_keep_open(c.fd_limit / 4);
	int r = store_lock(s, o->dry_run ? LOCK_SH : LOCK_EX, e);
	_cleanup_free_ char *tmpname = NULL;
	if (r == 0)
		r = run_locked(&c, &tmpname);
	ctx_free(&c, tmpname);
	store_unlock(s);
	return r;
}
