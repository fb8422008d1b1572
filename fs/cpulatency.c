/* Keeping CPUs awake while requests come in bursts.
 *
 * A FUSE request is a round trip between two tasks: the caller sleeps
 * until the daemon answers, the daemon sleeps until the next request.
 * Between the two, a CPU with nothing else to do goes idle, and when the
 * idle state is a halt (a virtual machine without guest halt polling, or
 * a deep C-state on bare metal) the next wakeup costs tens of
 * microseconds more: on a two-vCPU guest with halt polling off, an untar
 * of 2,000 small files took 2.7 s, against 0.5 s with idle CPUs polling.
 * Kernel overlayfs makes no round trips and does not pay this.
 *
 * Two things keep the CPUs awake, and both cost power, so in the default
 * mode, auto, layerfs does them only during a burst of requests: from the
 * first BURST_MIN requests within a window until a window passes with
 * fewer than QUIET_MAX.  The receiving thread counts requests and starts
 * a burst; a watcher thread ends it.
 *  - The receiving thread polls the device for the next request before it
 *    sleeps (loop.c), so its own CPU does not go idle between requests.
 *  - The kernel's CPU latency QoS (/dev/cpu_dma_latency) lets a task ask
 *    that no CPU enter an idle state slower to leave than a given
 *    latency; asking for 0 leaves only polling, so the caller's CPU, idle
 *    while it waits for the reply, wakes fast too.  The request holds
 *    while the descriptor is open and ends with the process.
 * The device is root's alone: rootless mounts get the polling receiver
 * only, as does cpu_latency=poll.  2,000 fresh stats on this kind of
 * machine: 150 to 250 ms with neither, 60 to 100 ms polling, 35 to 45 ms
 * with both. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "clock_ns.h"
#include "layerfs.h"

#define WINDOW_NS (10 * NS_PER_MS)
#define BURST_MIN 32   /* requests in a window that start a hold */
#define QUIET_MAX 8    /* fewer in a window end it */
#define NO_LIMIT 2000000000 /* the kernel's default: any idle state */

static struct {
	int fd;                   /* the QoS device; -1: not asked or not permitted */
	bool watching;            /* the watcher thread runs */
	/* receiving thread only */
	uint64_t win_start;
	unsigned win_count;
	/* shared with the watcher */
	atomic_ulong requests;
	atomic_bool burst;        /* requests are flowing: keep CPUs awake */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_bool stop;
	pthread_t tid;
} cl = {
	.fd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};

/* Ask for LIMIT microseconds of wakeup latency at most, where the
 * device is open. */
static void set_limit(int32_t limit)
{
	if (cl.fd < 0)
		return;
	/* A 4-byte write is read as a binary value. */
	if (write(cl.fd, &limit, sizeof(limit)) != (ssize_t)sizeof(limit))
		lfs_debug("cpu latency request %d: %s\n", (int)limit, strerror(errno));
}

static void *watcher(void *arg)
{
	(void)arg;
	const struct timespec window = ns_timespec(WINDOW_NS);
	pthread_mutex_lock(&cl.lock);
	while (!atomic_load(&cl.stop)) {
		if (!atomic_load(&cl.burst)) {
			pthread_cond_wait(&cl.wake, &cl.lock);
			continue;
		}
		pthread_mutex_unlock(&cl.lock);
		unsigned long seen;
		do {
			unsigned long before = atomic_load_explicit(&cl.requests, memory_order_relaxed);
			nanosleep(&window, NULL);
			seen = atomic_load_explicit(&cl.requests, memory_order_relaxed) - before;
		} while (seen >= QUIET_MAX && !atomic_load(&cl.stop));
		set_limit(NO_LIMIT);
		lfs_debug("burst of requests over\n");
		pthread_mutex_lock(&cl.lock);
		atomic_store(&cl.burst, false);
	}
	pthread_mutex_unlock(&cl.lock);
	return NULL;
}

void cpulat_start(void)
{
	int mode = lfs->opts.cpu_latency;
	if (mode == CPU_LATENCY_OFF)
		return;
	if (mode != CPU_LATENCY_POLL) {
		cl.fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
		if (cl.fd < 0)
			lfs_debug("no CPU latency hold: /dev/cpu_dma_latency: %s\n",
				  strerror(errno));
	}
	/* A new QoS request starts at the default, no limit. */
	if (mode == CPU_LATENCY_ON) {
		set_limit(0);
		atomic_store(&cl.burst, true);
		return;
	}
	if (pthread_create(&cl.tid, NULL, watcher, NULL) == 0)
		cl.watching = true;
}

/* Called by the receiving thread for each request. */
void cpulat_note(void)
{
	if (!cl.watching)
		return;
	atomic_fetch_add_explicit(&cl.requests, 1, memory_order_relaxed);
	if (atomic_load_explicit(&cl.burst, memory_order_relaxed))
		return;
	uint64_t t = clock_ns(CLOCK_MONOTONIC_COARSE);
	if (t - cl.win_start >= WINDOW_NS) {
		cl.win_start = t;
		cl.win_count = 0;
	}
	if (++cl.win_count < BURST_MIN)
		return;
	cl.win_count = 0;
	set_limit(0);
	lfs_debug("burst of requests: the receiver polls for the next%s\n",
		  cl.fd >= 0 ? ", idle CPUs poll (cpu_dma_latency 0)" : "");
	pthread_mutex_lock(&cl.lock);
	atomic_store(&cl.burst, true);
	pthread_cond_signal(&cl.wake);
	pthread_mutex_unlock(&cl.lock);
}

bool cpulat_burst(void)
{
	return atomic_load_explicit(&cl.burst, memory_order_relaxed);
}

void cpulat_stop(void)
{
	if (cl.watching) {
		pthread_mutex_lock(&cl.lock);
		atomic_store(&cl.stop, true);
		pthread_cond_signal(&cl.wake);
		pthread_mutex_unlock(&cl.lock);
		pthread_join(cl.tid, NULL);
		cl.watching = false;
	}
	if (cl.fd >= 0)
		close(cl.fd);
	cl.fd = -1;
}
