/* What the container commands share: messages, exit codes, the store
 * root given by the global --root option. */
#ifndef LAYERCTL_CTL_COMMON_H
#define LAYERCTL_CTL_COMMON_H

#include <stdbool.h>

#define EXIT_USAGE 2

extern const char *ctl_root_opt;   /* the global --root, or NULL */

/* If ARGV[*I] is a global option (--root DIR, --root=DIR, --quiet, -q),
 * take it, and its value (*I moves past it), and return true.  Both
 * layerctl programs read them alike (tools/layerctl.c, tools/front/). */
bool ctl_global_option(int argc, char **argv, int *i, const char **root, bool *quiet);

/* One lowercase line on stderr ("layerctl: ..."); returns 1. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error of COMMAND: the line, a hint to --help; returns 2. */
int ctl_usage(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The store root (prints the error itself; returns 1 on failure). */
int ctl_store_root(char **out);
/* The container REF's directory (prints the error; returns 1 on failure). */
int ctl_find_container(const char *root, const char *ref, char **cdir);

#endif
