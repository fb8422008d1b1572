/* Stopping a container's processes (see container_freeze.h). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "container_freeze.h"

static int pidns_of(pid_t pid, char *buf, size_t size)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)pid);
	ssize_t n = readlink(p, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* 'T' (stopped), 't', or the process is gone. */
static bool is_stopped(pid_t pid)
{
	char p[64], buf[512];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(p, "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		return true;
	const char *s = strrchr(buf, ')');
	return !s || s[1] != ' ' || s[2] == 'T' || s[2] == 't' || s[2] == 'Z' || s[2] == 'X';
}

static bool listed(const struct frozen *f, pid_t pid)
{
	for (size_t k = 0; k < f->n; k++)
		if (f->pids[k] == pid)
			return true;
	return false;
}

/* One pass over /proc: stop what is not stopped yet.  Returns how many
 * new processes it stopped. */
static int stop_pass(const char *ns, struct frozen *f)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	int added = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		char other[64];
		if (*end || pid <= 0 || listed(f, (pid_t)pid) ||
		    pidns_of((pid_t)pid, other, sizeof(other)) < 0 || strcmp(other, ns))
			continue;
		pid_t *v = realloc(f->pids, (f->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->pids = v;
		if (kill((pid_t)pid, SIGSTOP) == 0) {
			f->pids[f->n++] = (pid_t)pid;
			added++;
		}
	}
	return added;
}

int container_freeze(pid_t init, struct frozen *f)
{
	memset(f, 0, sizeof(*f));
	char ns[64];
	int r = pidns_of(init, ns, sizeof(ns));
	if (r < 0)
		return r;
	/* Again until a pass finds nothing new: a fork may race a pass. */
	for (int pass = 0; pass < 10 && (r = stop_pass(ns, f)) > 0; pass++)
		;
	if (r < 0) {
		container_thaw(f);
		return r;
	}
	for (int k = 0; k < 200; k++) {
		bool all = true;
		for (size_t j = 0; j < f->n && all; j++)
			all = is_stopped(f->pids[j]);
		if (all)
			return 0;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	container_thaw(f);
	return -ETIMEDOUT;
}

void container_thaw(struct frozen *f)
{
	for (size_t k = 0; k < f->n; k++)
		kill(f->pids[k], SIGCONT);
	free(f->pids);
	memset(f, 0, sizeof(*f));
}
