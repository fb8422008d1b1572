/* Closing replaced files on a thread of their own.  The last close of a
 * duplicate whose names were all replaced frees its inode: the filesystem
 * truncates it and frees its blocks (with discard, the device is told),
 * which can take longer than everything else dedupe does for that file.  A
 * second thread pays that while the first joins the next group.  The queue
 * is bounded so the open files stay well below RLIMIT_NOFILE. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "dedupe_int.h"

#define CLOSER_MAX 128

struct dd_closer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fds[CLOSER_MAX];
	size_t head, n;
	bool done;
	pthread_t thread;
};

static void *closer_main(void *arg)
{
	struct dd_closer *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->n && !q->done)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->n)
			break;
		int fd = q->fds[q->head];
		q->head = (q->head + 1) % CLOSER_MAX;
		q->n--;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		close(fd);
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
	pthread_cond_init(&q->cv, NULL);
	if (pthread_create(&q->thread, NULL, closer_main, q)) {
		free(q);
		return 0;     /* closes stay on the caller's thread */
	}
	c->closer = q;
	return 0;
}

void dd_close_later(struct dd_ctx *c, int fd)
{
	struct dd_closer *q = c->closer;
	if (fd < 0)
		return;
	if (!q) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&q->mu);
	while (q->n == CLOSER_MAX)
		pthread_cond_wait(&q->cv, &q->mu);
	q->fds[(q->head + q->n) % CLOSER_MAX] = fd;
	q->n++;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void dd_closer_stop(struct dd_ctx *c)
{
	struct dd_closer *q = c->closer;
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->done = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
	c->closer = NULL;
}
