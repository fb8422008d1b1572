/* Turning `layerctl run` options and an image into a launch_spec. */
#ifndef LAYERCTL_RUN_SPEC_H
#define LAYERCTL_RUN_SPEC_H

#include "container.h"
#include "image_ref.h"
#include "launch.h"
#include "run_options.h"

struct run_ctx {
	struct run_opts o;
	char *root;                /* the store */
	struct image_ref img;      /* for --rootfs: one lowerdir, empty config */
	char *layerfs;
	char *id, *cdir;
	char **argv, **env;        /* the command and its environment */
	size_t nargv, nenv;
	char hostname[65];
	char etc_hostname[80], etc_hosts[512], etc_resolv[8192];  /* /etc files */
	struct launch_spec spec;
};

/* Image (or --rootfs), command, environment: prints its errors; returns
 * -1 to go on, else the exit status. */
int run_ctx_resolve(struct run_ctx *c);
/* Checks the machine can run it (layerfs, /dev/fuse); same returns. */
int run_ctx_check_host(struct run_ctx *c);
/* Make the container directory, its record and /etc files; fill SPEC. */
int run_ctx_create(struct run_ctx *c);
void run_ctx_free(struct run_ctx *c);
/* layerfs next to this binary, else $LAYERFS, else on PATH. */
int find_layerfs(char **out);

#endif
