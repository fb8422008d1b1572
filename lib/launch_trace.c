/* Phase timing (see launch_trace.h). */
#include <stdio.h>
#include <time.h>

#include "launch_trace.h"

static int trace_fd = -1;
static struct timespec trace_t0;

void trace_start(int fd)
{
	trace_fd = fd;
	clock_gettime(CLOCK_MONOTONIC, &trace_t0);
}

void trace_mark(const char *who, const char *phase)
{
	if (trace_fd < 0)
		return;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	double ms = (double)(t.tv_sec - trace_t0.tv_sec) * 1e3 +
		    (double)(t.tv_nsec - trace_t0.tv_nsec) / 1e6;
	/* One write per line: marks of concurrent processes stay whole. */
	dprintf(trace_fd, "layerctl-trace: %+9.3f %-6s %s\n", ms, who, phase);
}
