/* Reading groups on several threads.  Most of a dedupe is waiting: for the
 * disk when the trees are cold (many reads in flight keep it busy), for
 * copies out of the page cache when warm (two cores copy twice as fast).
 * Each size group is read whole by one worker (its files belong to no
 * other group); what changes the trees (the keeper's mark, the links,
 * the journal) stays on the calling thread, one join at a time, as when
 * there is no pool: a killed run is left exactly as before. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock_ns.h"
#include "dedupe_int.h"

/* Workers: enough reads in flight for a virtual disk, few enough to stay
 * light on memory (a worker holds two DD_BUF buffers). */
#define WORKERS_MIN 2
#define WORKERS_MAX 8
/* How far the prefetch thread reads ahead of the workers. */
#define PREFETCH_AHEAD (64ull << 20)
#define WARM_RUN 256
#define WARM_STRIDE 64
/* Joins waiting hold their files open: at most a quarter of the fds. */
#define QUEUE_MAX 1024
/* Joins queued before the applying thread is woken. */
#define APPLY_BATCH 32

struct worker {
	struct dd_pool *p;
	pthread_t thread;
	struct dedupe_stats st;
	struct errmsg e;
	char *buf_a, *buf_b;
	int err;
};

struct dd_pool {
	struct dd_ctx *main;
	struct dd_ctx tmpl;    /* what workers copy: main's, before it changes */
	struct dd_file **v;
	struct dd_file **pv;   /* the prefetch thread's copy of V */
	const size_t *start;
	size_t n;
	int (*by_size)(struct dd_ctx *, struct dd_file **, size_t);
	atomic_size_t next;
	atomic_bool stop;
	atomic_uint_fast64_t hashed;
	atomic_uint_fast64_t taken;     /* bytes of the groups workers took */
	pthread_mutex_t mu;
	pthread_cond_t pushed, popped;
	struct dd_job *q[QUEUE_MAX];
	size_t head, count, fds, maxfds, running, waiting;
};

int dd_job_push(struct dd_ctx *c, struct dd_job *j)
{
	struct dd_pool *p = c->pool;
	if (!p) {
		int r = dd_job_apply(c, j);
		dd_job_free(j);
		return r;
	}
	size_t fds = dd_job_fds(j);
	pthread_mutex_lock(&p->mu);
	while (p->count && (p->count == QUEUE_MAX || p->fds + fds > p->maxfds)) {
		if (!p->waiting++)
			pthread_cond_signal(&p->pushed);
		pthread_cond_wait(&p->popped, &p->mu);
		p->waiting--;
	}
	p->q[(p->head + p->count) % QUEUE_MAX] = j;
	p->count++;
	p->fds += fds;
	/* The applying thread sleeps until a batch is queued (or a pusher
	 * waits for room): a wakeup per join cost more than the join. */
	if (p->count == APPLY_BATCH || p->waiting)
		pthread_cond_signal(&p->pushed);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void dd_progress(struct dd_ctx *c, uint64_t n)
{
	if (c->pool)
		atomic_fetch_add(&c->pool->hashed, n);
	else if (c->o->progress)
		c->o->progress(c->o->progress_arg, c->st->bytes_hashed);
}

static uint64_t group_bytes(const struct dd_pool *p, size_t k)
{
	return (p->start[k + 1] - p->start[k]) * p->v[p->start[k]]->size;
}

/* Ahead of the workers, ask the kernel to read the files of the groups
 * they will take next (POSIX_FADV_WILLNEED starts the reads and returns):
 * a cold disk gets many reads at once without a thread per read.  Groups
 * the workers reached first are passed over, and once many files in a row
 * were found cached only one in WARM_STRIDE is looked at, so a warm run
 * pays little.  It walks its own copy of the groups' file pointers (the
 * workers sort theirs) and reads only fields no one changes (layer, path,
 * size). */
static void *prefetch_main(void *arg)
{
	struct dd_pool *p = arg;
	struct dd_ctx *c = &p->tmpl;
	uint64_t issued = 0;
	size_t cached = 0, seen = 0;
	for (size_t k = 0; k < p->n && !atomic_load(&p->stop); k++) {
		size_t next = atomic_load(&p->next);
		if (k < next) {
			k = next - 1;
			issued = atomic_load(&p->taken);
			continue;
		}
		while (issued > atomic_load(&p->taken) + PREFETCH_AHEAD && !atomic_load(&p->stop))
			nanosleep(&(struct timespec){ 0, NS_PER_MS }, NULL);
		for (size_t i = p->start[k]; i < p->start[k + 1]; i++) {
			if (cached >= WARM_RUN && seen++ % WARM_STRIDE)
				continue;
			const struct dd_file *f = p->pv[i];
			int fd = dd_open_file(c, f);
			if (fd < 0)
				continue;
			/* Its last byte cached (RWF_NOWAIT reads only the page
			 * cache): so is the rest, most likely. */
			char b;
			struct iovec iov = { &b, 1 };
			if (preadv2(fd, &iov, 1, (off_t)f->size - 1, RWF_NOWAIT) == 1) {
				cached++;
			} else {
				posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
				cached = 0;
			}
			close(fd);
		}
		issued += group_bytes(p, k);
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct dd_pool *p = w->p;
	struct dd_ctx c = p->tmpl;
	c.st = &w->st;
	c.e = &w->e;
	c.buf_a = w->buf_a;
	c.buf_b = w->buf_b;
	c.pool = p;
	while (!atomic_load(&p->stop)) {
		size_t k = atomic_fetch_add(&p->next, 1);
		if (k >= p->n)
			break;
		atomic_fetch_add(&p->taken, group_bytes(p, k));
		int r = p->by_size(&c, p->v + p->start[k], p->start[k + 1] - p->start[k]);
		if (r < 0) {
			w->err = r;
			atomic_store(&p->stop, true);
		}
	}
	pthread_mutex_lock(&p->mu);
	p->running--;
	pthread_cond_signal(&p->pushed);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void add_stats(struct dedupe_stats *to, const struct dedupe_stats *from)
{
#define ADD(f) to->f += from->f
	ADD(files_scanned); ADD(files_hashed); ADD(bytes_hashed); ADD(partial_hashed);
	ADD(groups); ADD(files_linked); ADD(bytes_saved); ADD(disk_saved);
	ADD(files_reflinked); ADD(bytes_reflinked); ADD(separate);
	ADD(reflink_unsupported); ADD(compare_differ); ADD(skipped);
#undef ADD
	if (!to->reflink_errno)
		to->reflink_errno = from->reflink_errno;
}

/* Workers: two per core, at most one per 32 files of the open-files
 * limit (their share of it is a quarter, see dd_pool_run); under 2 the
 * groups are read on the calling thread. */
static size_t worker_count(size_t groups, size_t fd_limit)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus > 0 ? 2 * (size_t)cpus : WORKERS_MIN;
	if (n < WORKERS_MIN)
		n = WORKERS_MIN;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	if (n > fd_limit / 32)
		n = fd_limit / 32;
	return n < groups ? n : groups;
}

/* Apply the joins the workers push until they are all done; after an
 * error only drop them. */
static int apply_all(struct dd_pool *p)
{
	struct dd_ctx *c = p->main;
	int r = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		/* A pusher waiting for room is waiting for this thread. */
		while (p->count < APPLY_BATCH && p->running && !(p->waiting && p->count)) {
			struct timespec t = ns_timespec(clock_ns(CLOCK_REALTIME) + 100 * NS_PER_MS);
			pthread_cond_timedwait(&p->pushed, &p->mu, &t);
			if (c->o->progress)
				c->o->progress(c->o->progress_arg,
					       c->st->bytes_hashed + atomic_load(&p->hashed));
		}
		if (!p->count && !p->running)
			break;
		/* Once awake, apply all that is queued. */
		while (p->count) {
			struct dd_job *j = p->q[p->head];
			p->head = (p->head + 1) % QUEUE_MAX;
			p->count--;
			p->fds -= dd_job_fds(j);
			/* Workers waiting to push go on once half the room is free. */
			if (p->waiting && 2 * p->count <= QUEUE_MAX && 2 * p->fds <= p->maxfds)
				pthread_cond_broadcast(&p->popped);
			pthread_mutex_unlock(&p->mu);
			if (r == 0 && (r = dd_job_apply(c, j)) < 0)
				atomic_store(&p->stop, true);
			dd_job_free(j);
			pthread_mutex_lock(&p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

int dd_pool_run(struct dd_ctx *c, struct dd_file **v, const size_t *start, size_t n,
		int (*by_size)(struct dd_ctx *, struct dd_file **, size_t))
{
	/* A dry run lists its groups in order: one thread. */
	size_t nw = c->o->dry_run ? 0 : worker_count(n, c->fd_limit);
	if (nw < 2) {
		for (size_t k = 0; k < n; k++) {
			int r = by_size(c, v + start[k], start[k + 1] - start[k]);
			if (r < 0)
				return r;
		}
		return 0;
	}
	struct dd_pool p = { .main = c, .tmpl = *c, .v = v, .start = start, .n = n, .by_size = by_size };
	/* Open files: a quarter of the limit for the queued joins, a
	 * quarter for the workers' groups (the closers and the cached
	 * directories take a sixteenth each, the trees and the store a few). */
	p.maxfds = c->fd_limit / 4;
	p.tmpl.keep_open = dd_keep_open(c->fd_limit / (4 * nw));
	struct worker *w = calloc(nw, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.pushed, NULL);
	pthread_cond_init(&p.popped, NULL);
	/* Copied before any worker sorts a group. */
	p.pv = malloc(start[n] * sizeof(*p.pv) + 1);
	if (p.pv)
		memcpy(p.pv, v, start[n] * sizeof(*p.pv));
	int r = 0;
	size_t started = 0;
	for (; started < nw; started++) {
		w[started].p = &p;
		w[started].buf_a = malloc(DD_BUF);
		w[started].buf_b = malloc(DD_BUF);
		if (!w[started].buf_a || !w[started].buf_b) {
			r = -ENOMEM;
			break;
		}
		pthread_mutex_lock(&p.mu);
		p.running++;
		pthread_mutex_unlock(&p.mu);
		if (pthread_create(&w[started].thread, NULL, worker_main, &w[started])) {
			pthread_mutex_lock(&p.mu);
			p.running--;
			pthread_mutex_unlock(&p.mu);
			break;
		}
	}
	if (r < 0)
		atomic_store(&p.stop, true);
	pthread_t pf;
	bool prefetching = started && p.pv && !pthread_create(&pf, NULL, prefetch_main, &p);
	int ar = started ? apply_all(&p) : 0;
	for (size_t k = 0; k < started; k++)
		pthread_join(w[k].thread, NULL);
	atomic_store(&p.stop, true);
	if (prefetching)
		pthread_join(pf, NULL);
	free(p.pv);
	/* Groups no worker took (none started): read here. */
	for (size_t k = atomic_load(&p.next); r == 0 && !started && k < n; k++)
		r = by_size(c, v + start[k], start[k + 1] - start[k]);
	for (size_t k = 0; k < nw; k++) {
		add_stats(c->st, &w[k].st);
		if (r == 0 && w[k].err < 0) {
			r = w[k].err;
			*c->e = w[k].e; /* the worker's words for it */
		}
		free(w[k].buf_a);
		free(w[k].buf_b);
	}
	if (r == 0)
		r = ar;
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.pushed);
	pthread_cond_destroy(&p.popped);
	free(w);
	return r;
}
