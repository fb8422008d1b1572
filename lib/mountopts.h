/* layerfs mount options: the kernel overlayfs / fuse-overlayfs syntax.
 *
 * Pure parsing, no side effects, so the parser can be unit-tested and
 * fuzzed.  Several -o strings accumulate into one struct. */
#ifndef LAYERFS_MOUNTOPTS_H
#define LAYERFS_MOUNTOPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "idmap.h"

struct mount_opts {
	char **lowers;        /* top first */
	size_t nlowers;
	char *upperdir;
	char *workdir;

	bool fsync;           /* fsync copy-ups and honour fsync(2); off: volatile */
	bool squash_to_root;
	long squash_uid;      /* -1: off */
	long squash_gid;
	bool static_nlink;
	bool noacl;
	bool debug;
	bool ro;
	bool redirect_dir;    /* rename of lower directories through redirects */
	bool metacopy;        /* metadata-only copy-up */
	int xattr_permissions;/* -1 auto, 0 off, 1/2: override_stat xattr */
	double timeout;       /* entry/attr cache seconds */
	int threaded;         /* 0: single-threaded loop */
	int writeback;        /* FUSE writeback cache */
	int passthrough;      /* PASSTHROUGH_*: FUSE passthrough of file I/O */
	int cpu_latency;      /* CPU_LATENCY_*: idle CPUs poll during bursts */

	struct idmap uidmap;
	struct idmap gidmap;

	/* Options handed to the kernel/libfuse as given (allow_other, ...):
	 * a comma-separated list, "" when none. */
	char *fuse_opts;
	bool allow_other;
	bool default_permissions_off;
};

/* Which open files the kernel reads and writes directly (fs/passthrough.c). */
enum { PASSTHROUGH_OFF, PASSTHROUGH_UPPER, PASSTHROUGH_ALL };
/* When the daemon keeps CPUs awake (fs/cpulatency.c): the receiving
 * thread polls during bursts of requests, and where permitted, the kernel
 * keeps idle CPUs polling.  POLL: the first only, as rootless mounts get. */
enum { CPU_LATENCY_OFF, CPU_LATENCY_AUTO, CPU_LATENCY_ON, CPU_LATENCY_POLL };

void mount_opts_init(struct mount_opts *o);
void mount_opts_free(struct mount_opts *o);

/* Parse one -o string.  On error returns -EINVAL (or -ENOMEM) and writes a
 * lowercase message naming the offending option into ERR. */
int mount_opts_parse(struct mount_opts *o, const char *optstr,
		     char *err, size_t errlen);

/* Split a lowerdir value ("a:b:c", "\:" escapes a colon) into O->lowers. */
int mount_opts_set_lowers(struct mount_opts *o, const char *val);

#endif
