/* The request loop: one leader thread answers requests that are quick
 * (lookups, attributes, listings, names, reads and writes) itself, and hands
 * those that may take long (syncs, and opens, truncates, links and renames
 * that may copy a file's data up) to a pool of workers.
 *
 * Why not libfuse's multi-threaded loop: it wakes the idle thread that has
 * waited longest, so a sequence of quick requests hops from thread to
 * thread and CPU to CPU; measured on untar and rm -rf workloads, a loop that
 * keeps quick requests on one hot thread answers them two to three times
 * faster, and the workers keep a long copy-up from stalling everyone. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs.h"

struct job {
	struct job *next;
	struct fuse_buf buf;
};

struct pool {
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct job *head, **tail;
	struct job *spare;        /* finished jobs, buffers kept */
	bool stop;
	int nworkers;
	pthread_t *workers;
};

/* May this request block for long?  Reads and writes mostly hit the page
 * cache and stay on the leader (a hand-off costs more than they do);
 * syncs, and whatever may copy a file's data up, go to a worker. */
static bool is_slow(const struct fuse_buf *b)
{
	const struct fuse_in_header *in = b->mem;
	const void *arg = in + 1;
	size_t argsize = b->size > sizeof(*in) ? b->size - sizeof(*in) : 0;
	if (b->size < sizeof(*in))
		return false;
	switch (in->opcode) {
	case FUSE_FSYNC: case FUSE_FSYNCDIR: case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE: case FUSE_LINK: case FUSE_RENAME: case FUSE_RENAME2:
		return true;
	case FUSE_OPEN: {
		const struct fuse_open_in *o = arg;
		return argsize < sizeof(*o) || (o->flags & O_ACCMODE) != O_RDONLY ||
		       (o->flags & O_TRUNC);
	}
	case FUSE_SETATTR: {
		const struct fuse_setattr_in *a = arg;
		return argsize < sizeof(*a) || (a->valid & FATTR_SIZE);
	}
	default:
		return false;
	}
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->more, &p->lock);
		if (p->stop)
			break;
		struct job *j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		fuse_session_process_buf(p->se, &j->buf);
		pthread_mutex_lock(&p->lock);
		j->next = p->spare;
		p->spare = j;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static struct job *take_job(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	struct job *j = p->spare;
	if (j)
		p->spare = j->next;
	pthread_mutex_unlock(&p->lock);
	if (!j)
		j = calloc(1, sizeof(*j));
	return j;
}

static void hand_off(struct pool *p, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->tail = j;
	p->tail = &j->next;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
}

static void free_jobs(struct job *j)
{
	while (j) {
		struct job *next = j->next;
		free(j->buf.mem);
		free(j);
		j = next;
	}
}

static int pool_start(struct pool *p, struct fuse_session *se, int n)
{
	memset(p, 0, sizeof(*p));
	p->se = se;
	p->tail = &p->head;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->more, NULL);
	p->workers = calloc((size_t)n, sizeof(*p->workers));
	if (!p->workers)
		return -ENOMEM;
	for (; p->nworkers < n; p->nworkers++)
		if (pthread_create(&p->workers[p->nworkers], NULL, worker, p) != 0)
			return -EAGAIN;
	return 0;
}

static void pool_stop(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->lock);
	for (int k = 0; k < p->nworkers; k++)
		pthread_join(p->workers[k], NULL);
	free(p->workers);
	free_jobs(p->head);
	free_jobs(p->spare);
}

/* Runs until the filesystem is unmounted.  NWORKERS 0: everything on the
 * calling thread. */
int serve_requests(struct fuse_session *se, int nworkers)
{
	struct pool p;
	int r = pool_start(&p, se, nworkers);
	struct job *j = NULL;

	while (r == 0 && !fuse_session_exited(se)) {
		if (!j && !(j = take_job(&p))) {
			r = -ENOMEM;
			break;
		}
		int n = fuse_session_receive_buf(se, &j->buf);
		if (n == -EINTR)
			continue;
		if (n <= 0) {
			r = n;
			break;
		}
		if (nworkers && is_slow(&j->buf)) {
			hand_off(&p, j);
			j = NULL;
		} else {
			fuse_session_process_buf(se, &j->buf);
		}
	}
	if (j) {
		free(j->buf.mem);
		free(j);
	}
	pool_stop(&p);
	fuse_session_reset(se);
	return r < 0 ? r : 0;
}
