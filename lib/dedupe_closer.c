/* Closing replaced files on threads of their own.  The last close of a
 * duplicate whose names were all replaced frees its inode: the filesystem
 * truncates it and frees its blocks (with discard, the device is told),
 * which can take longer than everything else dedupe does for that file.
 * Closer threads pay that, and remove the temp names the replaced files
 * were swapped to, while the joining thread goes on.  The queue is
 * bounded so the open files stay well below RLIMIT_NOFILE. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "dedupe_int.h"

#define CLOSER_MAX 128
/* Items queued before a closer is woken: a wakeup per item cost more
 * than closing it when the files are cached (a warm run).  Queued items
 * hold files open, so under a low open-files limit fewer wait. */
#define CLOSER_BATCH 16
/* Freeing waits for the device (discard), not for a core: several
 * threads keep several frees in flight. */
#define CLOSER_THREADS 8

struct dd_closer {
	pthread_mutex_t mu;
	pthread_cond_t nonempty, nonfull;
	struct item {
		int fd;            /* to close, or -1 */
		uint64_t seq;      /* tmp name "link-SEQ" to remove first, or 0 */
	} q[CLOSER_MAX];
	int tmpfd;
	size_t head, n;
	size_t cap;            /* items queued at most: a sixteenth of the
				  open-files limit, CLOSER_MAX at most */
	size_t unsignaled;     /* items queued since a closer was woken */
	size_t batch;          /* ... before one is woken */
	bool done;
	pthread_t thread[CLOSER_THREADS];
	size_t nthreads;
};

static void done_item(int tmpfd, int fd, uint64_t seq)
{
	if (seq) {
		char name[64];
		dd_tmp_name(name, sizeof(name), seq);
		unlinkat(tmpfd, name, 0);
	}
	if (fd >= 0)
		close(fd);
}

static void *closer_main(void *arg)
{
	struct dd_closer *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->n && !q->done)
			pthread_cond_wait(&q->nonempty, &q->mu);
		if (!q->n)
			break;
		struct item it = q->q[q->head];
		q->head = (q->head + 1) % CLOSER_MAX;
		q->n--;
		if (q->n + 1 == q->cap)
			pthread_cond_signal(&q->nonfull);
		pthread_mutex_unlock(&q->mu);
		done_item(q->tmpfd, it.fd, it.seq);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int dd_closer_start(struct dd_ctx *c)
{
	struct dd_closer *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->nonempty, NULL);
	pthread_cond_init(&q->nonfull, NULL);
	q->tmpfd = c->tmpfd;
	q->cap = dd_clamp(c->fd_limit / 16, 1, CLOSER_MAX);
	q->batch = dd_clamp(c->fd_limit / 256, 1, CLOSER_BATCH);
	while (q->nthreads < CLOSER_THREADS && !pthread_create(&q->thread[q->nthreads], NULL, closer_main, q))
		q->nthreads++;
	if (!q->nthreads) {
		free(q);
		return 0;     /* closes stay on the caller's thread */
	}
	c->closer = q;
	return 0;
}

void dd_close_later(struct dd_ctx *c, int fd, uint64_t seq)
{
	struct dd_closer *q = c->closer;
	if (fd < 0 && !seq)
		return;
	if (!q) {
		done_item(c->tmpfd, fd, seq);
		return;
	}
	pthread_mutex_lock(&q->mu);
	while (q->n == q->cap) {
		pthread_cond_signal(&q->nonempty);
		pthread_cond_wait(&q->nonfull, &q->mu);
	}
	q->q[(q->head + q->n) % CLOSER_MAX] = (struct item){ fd, seq };
	q->n++;
	/* A woken closer empties the queue; slow frees keep the queue long
	 * and so wake more of them. */
	if (++q->unsignaled >= q->batch) {
		q->unsignaled = 0;
		pthread_cond_signal(&q->nonempty);
	}
	pthread_mutex_unlock(&q->mu);
}

void dd_closer_stop(struct dd_ctx *c)
{
	struct dd_closer *q = c->closer;
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->done = true;
	pthread_cond_broadcast(&q->nonempty);
	pthread_mutex_unlock(&q->mu);
	for (size_t k = 0; k < q->nthreads; k++)
		pthread_join(q->thread[k], NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->nonempty);
	pthread_cond_destroy(&q->nonfull);
	free(q);
	c->closer = NULL;
}
