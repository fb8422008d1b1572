/* The request loop: one thread receives every request and serves the
 * quick ones itself; requests that may wait on a disk or copy a file go to
 * a pool of workers.
 *
 * Why not libfuse's multi-threaded loop: there every thread reads the
 * device, and the kernel wakes the reader that has waited longest, so a
 * stream of requests from one process (untar, find) visits every thread
 * in turn.  The scheduler, seeing the process wake many tasks, stops
 * placing the daemon beside it, and each request pays a cross-CPU wakeup
 * of a cold thread.  With one receiver the same thread answers request
 * after request.  Measured under load on two cores (2,000-file untar,
 * find and ls -lR of the rootfs): 2 to 5 times faster, and no slower on a
 * quiet machine.  What one thread must not do is hold every other request
 * behind a copy-up of a large file, an fsync or a cold read, so those run
 * on workers, as many at once as there are workers.
 *
 * Requests are received into memory (no splice from the device: a spliced
 * request lives in the receiving thread's pipe) and copied for a worker. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock_ns.h"
#include "layerfs.h"

#define MAX_WORKERS 16

struct job {
	struct job *next;
	size_t size;
	char mem[];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct job *head, **tail;
	unsigned idle, workers;
	bool stop;
	pthread_t tids[MAX_WORKERS];
	struct fuse_session *se;
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.more = PTHREAD_COND_INITIALIZER,
};

/* Would the inode NODEID be copied up by a change? */
static bool needs_copyup(uint64_t nodeid)
{
	const struct inode *i = inode_get(nodeid);
	return i->layer != LAYER_UPPER || i->metacopy;
}

/* May this request wait on a disk or copy data? */
static bool is_slow(const struct fuse_in_header *h, size_t size)
{
	const void *arg = h + 1;
	size_t argsize = size - sizeof(*h);
	switch (h->opcode) {
	case FUSE_READ:
	case FUSE_WRITE:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE:
	case FUSE_LINK:
	case FUSE_RENAME:
	case FUSE_RENAME2:
		return true;
	case FUSE_OPEN: {
		const struct fuse_open_in *in = arg;
		return argsize < sizeof(*in) || (in->flags & O_ACCMODE) != O_RDONLY ||
		       (in->flags & O_TRUNC);
	}
	case FUSE_SETATTR: {
		const struct fuse_setattr_in *in = arg;
		return argsize < sizeof(*in) || (in->valid & FATTR_SIZE) ||
		       needs_copyup(h->nodeid);
	}
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
		return needs_copyup(h->nodeid);
	default:
		return false;
	}
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (!pool.head && !pool.stop) {
			pool.idle++;
			pthread_cond_wait(&pool.more, &pool.lock);
			pool.idle--;
		}
		if (!pool.head)
			break;
		struct job *j = pool.head;
		pool.head = j->next;
		if (!pool.head)
			pool.tail = &pool.head;
		pthread_mutex_unlock(&pool.lock);
		struct fuse_buf buf = { .mem = j->mem, .size = j->size };
		fuse_session_process_buf(pool.se, &buf);
		free(j);
		pthread_mutex_lock(&pool.lock);
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

/* Queue a copy of the request for a worker; 0, or -errno if none can take
 * it (then the receiver serves it). */
static int hand_off(const struct fuse_buf *buf)
{
	struct job *j = malloc(sizeof(*j) + buf->size);
	if (!j)
		return -ENOMEM;
	memcpy(j->mem, buf->mem, buf->size);
	j->size = buf->size;
	j->next = NULL;
	pthread_mutex_lock(&pool.lock);
	if (!pool.idle && pool.workers < MAX_WORKERS &&
	    pthread_create(&pool.tids[pool.workers], NULL, worker, NULL) == 0)
		pool.workers++;
	if (!pool.workers) {
		pthread_mutex_unlock(&pool.lock);
		free(j);
		return -EAGAIN;
	}
	*pool.tail = j;
	pool.tail = &j->next;
	pthread_cond_signal(&pool.more);
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/* How long the receiver polls the device for the next request, during a
 * burst of requests (cpulatency.c), before it sleeps in read. */
#define SPIN_NS 100000

/* During a burst the next request usually comes within microseconds, and
 * sleeping for it costs this thread a switch out and a wakeup; polling
 * (0.35 us a call here) does not.  An untar of 20,000 files: 4.3 to 4.9 s
 * against 6.0 to 6.4 s sleeping; rm -rf of them 1.3 to 1.7 s against 2.0
 * to 2.1 s. */
static void spin_for_request(int devfd)
{
	/* Between polls, one prefetched listing at a time (readdir.c). */
	struct pollfd p = { .fd = devfd, .events = POLLIN };
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + SPIN_NS;
	do {
		for (int k = 0; k < 16; k++) {
			if (poll(&p, 1, 0) != 0)
				return;
			if (dir_prefetch_one())
				break;
		}
	} while (clock_ns(CLOCK_MONOTONIC) < end);
}

int loop_run(struct fuse_session *se)
{
	struct fuse_buf buf = { .mem = NULL };
	int r = 0;
	pool.se = se;
	pool.tail = &pool.head;
	/* One worker from the start, so that the first copy-up does not also
	 * wait for a thread to be made. */
	if (pthread_create(&pool.tids[0], NULL, worker, NULL) == 0)
		pool.workers = 1;
	int devfd = fuse_session_fd(se);
	while (!fuse_session_exited(se)) {
		if (cpulat_burst())
			spin_for_request(devfd);
		r = fuse_session_receive_buf(se, &buf);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		cpulat_note();
		const struct fuse_in_header *h = buf.mem;
		if ((size_t)r < sizeof(*h) || !is_slow(h, (size_t)r)) {
			fuse_session_process_buf(se, &buf);
			continue;
		}
		struct fuse_buf req = { .mem = buf.mem, .size = (size_t)r };
		if (hand_off(&req) < 0)
			fuse_session_process_buf(se, &buf);
	}
	pthread_mutex_lock(&pool.lock);
	pool.stop = true;
	pthread_cond_broadcast(&pool.more);
	pthread_mutex_unlock(&pool.lock);
	for (unsigned k = 0; k < pool.workers; k++)
		pthread_join(pool.tids[k], NULL);
	free(buf.mem);
	fuse_session_reset(se);
	return r < 0 && r != -ENODEV ? r : 0;
}
