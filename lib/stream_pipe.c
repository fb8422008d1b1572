/* Producer thread and chunk ring (see stream_pipe.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "stream_pipe.h"

#define NSLOTS 4
#define SLOT_SIZE (1u << 20)

struct stream_pipe {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	spipe_produce_fn produce;
	void *ctx;
	char *slot[NSLOTS];
	size_t len[NSLOTS];
	unsigned head;       /* next slot for the consumer */
	unsigned filled;     /* slots ready, not yet taken */
	bool held;           /* the consumer still reads slot head - 1 */
	bool eof, cancel;
	int err;
	struct errmsg e;     /* the producer's */
};

static void *producer_main(void *arg)
{
	struct stream_pipe *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->filled + p->held == NSLOTS && !p->cancel)
			pthread_cond_wait(&p->cv, &p->mu);
		unsigned idx = (p->head + p->filled) % NSLOTS;
		bool cancel = p->cancel;
		pthread_mutex_unlock(&p->mu);
		if (cancel)
			break;
		ssize_t n = p->produce(p->ctx, p->slot[idx], SLOT_SIZE, &p->e);
		pthread_mutex_lock(&p->mu);
		if (n <= 0) {
			p->err = n < 0 ? (int)n : 0;
			p->eof = true;
		} else {
			p->len[idx] = (size_t)n;
			p->filled++;
		}
		bool done = p->eof;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (done)
			break;
	}
	return NULL;
}

static void pipe_free(struct stream_pipe *p)
{
	for (unsigned k = 0; k < NSLOTS; k++)
		free(p->slot[k]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int spipe_start(spipe_produce_fn produce, void *ctx, struct stream_pipe **out)
{
	struct stream_pipe *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->produce = produce;
	p->ctx = ctx;
	for (unsigned k = 0; k < NSLOTS; k++) {
		if (!(p->slot[k] = malloc(SLOT_SIZE))) {
			pipe_free(p);
			return -ENOMEM;
		}
	}
	int r = pthread_create(&p->thread, NULL, producer_main, p);
	if (r) {
		pipe_free(p);
		return -r;
	}
	*out = p;
	return 0;
}

int spipe_next(struct stream_pipe *p, const void **buf, size_t *len, struct errmsg *e)
{
	pthread_mutex_lock(&p->mu);
	if (p->held) {
		p->held = false;
		pthread_cond_broadcast(&p->cv);
	}
	while (!p->filled && !p->eof)
		pthread_cond_wait(&p->cv, &p->mu);
	int r = 0;
	if (p->filled) {
		unsigned idx = p->head;
		p->head = (p->head + 1) % NSLOTS;
		p->filled--;
		p->held = true;
		*buf = p->slot[idx];
		*len = p->len[idx];
		pthread_cond_broadcast(&p->cv);
	} else if (p->err) {
		r = err_set(e, p->err, "%s", err_text(&p->e, p->err));
	} else {
		*len = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

int spipe_finish(struct stream_pipe *p, bool cancel, struct errmsg *e)
{
	/* Not cancelled: the producer runs to the end of its stream, the
	 * rest of which nobody reads any more. */
	while (!cancel) {
		const void *buf;
		size_t len = 0;
		if (spipe_next(p, &buf, &len, e) < 0 || len == 0)
			break;
	}
	pthread_mutex_lock(&p->mu);
	if (cancel)
		p->cancel = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	int r = p->err;
	if (r < 0)
		err_set(e, r, "%s", err_text(&p->e, r));
	pipe_free(p);
	return r;
}
