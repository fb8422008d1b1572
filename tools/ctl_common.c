/* Shared plumbing of the container commands (see ctl_common.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "ctl_common.h"

const char *ctl_root_opt;

bool ctl_global_option(int argc, char **argv, int *i, const char **root, bool *quiet)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
		*quiet = true;
	else if (!strcmp(a, "--root") && *i + 1 < argc)
		*root = argv[++*i];
	else if (!strncmp(a, "--root=", 7))
		*root = a + 7;
	else
		return false;
	return true;
}

__attribute__((format(printf, 2, 0)))
static void say(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("layerctl: ", fmt, ap);
	va_end(ap);
	return 1;
}

void ctl_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("layerctl: warning: ", fmt, ap);
	va_end(ap);
}

int ctl_usage(const char *command, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "layerctl %s: ", command);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'layerctl %s --help'.\n", command);
	va_end(ap);
	return EXIT_USAGE;
}

int ctl_store_root(char **out)
{
	int r = store_root(ctl_root_opt, out);
	if (r < 0)
		return ctl_fail("cannot tell the store directory: %s (use --root or LAYERCTL_ROOT)",
				strerror(-r));
	return 0;
}

int ctl_find_container(const char *root, const char *ref, char **cdir)
{
	struct msgbuf m = { { 0 } };
	int r = container_find(root, ref, cdir, &m);
	return r < 0 ? ctl_fail("%s", msg_text(&m, r)) : 0;
}
