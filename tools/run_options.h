/* The options of `layerctl run`, parsed. */
#ifndef LAYERCTL_RUN_OPTIONS_H
#define LAYERCTL_RUN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "launch.h"

struct run_opts {
	char **env;            /* -e/--env and --env-file, in order */
	size_t nenv;
	const char *workdir, *user, *hostname, *name, *network, *rootfs;
	char *entrypoint;      /* NULL: the image's; "": none */
	bool rm, interactive, tty, detach, read_only, init;
	struct cgroup_limits limits;
	struct volume *vols;
	size_t nvols;
	char **tmpfs;
	size_t ntmpfs;
	const char *image;     /* NULL with --rootfs */
	char **args;           /* the command and its arguments given */
	int nargs;
};

extern const char run_usage[];

/* Parse ARGV; returns -1 to go on, else the exit status to return now. */
int run_opts_parse(int argc, char **argv, struct run_opts *o);
void run_opts_free(struct run_opts *o);

#endif
