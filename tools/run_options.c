/* Option parsing of `layerctl run`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl_common.h"
#include "launch_volumes.h"
#include "run_options.h"
#include "strv.h"

const char run_usage[] =
"Usage: layerctl run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
"       layerctl run [OPTIONS] --rootfs DIR COMMAND [ARG...]\n"
"\n"
"Run a command in a new container: the image's layers (or DIR) as the\n"
"read-only layers of a layerfs mount, with the container's own writable\n"
"layer on top, in new user, mount, pid, network, uts, ipc and cgroup\n"
"namespaces.\n"
"\n"
"Options:\n"
"  -e, --env KEY[=VALUE]    set a variable (KEY alone: from this environment)\n"
"      --env-file FILE      variables from FILE, one KEY=VALUE a line\n"
"  -w, --workdir DIR        working directory inside the container\n"
"  -u, --user USER[:GROUP]  user (name or id) to run the command as\n"
"      --entrypoint CMD     replace the image's entrypoint ('' for none)\n"
"      --hostname NAME      the container's host name (default: its short id)\n"
"      --name NAME          a name for the container\n"
"      --rm                 remove the container when it exits\n"
"  -i, --interactive        keep standard input attached\n"
"  -t, --tty                a pseudo-terminal for the command\n"
"  -d, --detach             run in the background, print the container id\n"
"      --network none|host  loopback only (default), or the host's network\n"
"      --memory SIZE        memory limit (bytes, or with k, m, g)\n"
"      --cpus N             CPU limit (may be fractional)\n"
"      --pids-limit N       process count limit\n"
"  -v, --volume HOST:CONTAINER[:ro]  bind a host file or directory\n"
"      --read-only          mount the root filesystem read-only\n"
"      --tmpfs PATH         mount a tmpfs at PATH\n"
"      --init[=true|false]  a tiny init as PID 1 (default true)\n"
"      --rootfs DIR         DIR as the container's only read-only layer\n"
"      --help               this text\n";

enum {
	OPT_ENV_FILE = 256, OPT_ENTRYPOINT, OPT_HOSTNAME, OPT_NAME, OPT_RM, OPT_NETWORK,
	OPT_MEMORY, OPT_CPUS, OPT_PIDS, OPT_READ_ONLY, OPT_TMPFS, OPT_INIT, OPT_ROOTFS, OPT_HELP,
};

static const struct option longopts[] = {
	{ "env", required_argument, NULL, 'e' },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "workdir", required_argument, NULL, 'w' },
	{ "user", required_argument, NULL, 'u' },
	{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "rm", no_argument, NULL, OPT_RM },
	{ "interactive", no_argument, NULL, 'i' },
	{ "tty", no_argument, NULL, 't' },
	{ "detach", no_argument, NULL, 'd' },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "net", required_argument, NULL, OPT_NETWORK },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "pids-limit", required_argument, NULL, OPT_PIDS },
	{ "volume", required_argument, NULL, 'v' },
	{ "read-only", no_argument, NULL, OPT_READ_ONLY },
	{ "tmpfs", required_argument, NULL, OPT_TMPFS },
	{ "init", optional_argument, NULL, OPT_INIT },
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

/* KEY=VALUE as given; KEY alone takes this process's value (or is
 * dropped when unset, as docker does). */
static int add_env(struct run_opts *o, const char *kv)
{
	if (strchr(kv, '='))
		return strv_push(&o->env, &o->nenv, kv);
	const char *v = getenv(kv);
	if (!v)
		return 0;
	_cleanup_free_ char *s = NULL;
	if (asprintf(&s, "%s=%s", kv, v) < 0)
		return -ENOMEM;
	return strv_push(&o->env, &o->nenv, s);
}

static int read_env_file(struct run_opts *o, const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return ctl_fail("cannot read env file '%s': %s", path, strerror(errno));
	char line[8192];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		const char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		if (add_env(o, p) < 0)
			return ctl_fail("out of memory");
	}
	return 0;
}

static int parse_size(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v > 9e18 || v < 4096)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int parse_positive(const char *s, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_one(int c, const char *arg, struct run_opts *o)
{
	struct msgbuf m = { { 0 } };
	double d;
	switch (c) {
	case 'e': return add_env(o, arg) < 0 ? ctl_fail("out of memory") : -1;
	case OPT_ENV_FILE: return read_env_file(o, arg) ? 1 : -1;
	case 'w': o->workdir = arg; return -1;
	case 'u': o->user = arg; return -1;
	case OPT_ENTRYPOINT:
		free(o->entrypoint);
		return (o->entrypoint = strdup(arg)) ? -1 : ctl_fail("out of memory");
	case OPT_HOSTNAME: o->hostname = arg; return -1;
	case OPT_NAME: o->name = arg; return -1;
	case OPT_RM: o->rm = true; return -1;
	case 'i': o->interactive = true; return -1;
	case 't': o->tty = true; return -1;
	case 'd': o->detach = true; return -1;
	case OPT_NETWORK:
		if (strcmp(arg, "none") && strcmp(arg, "host"))
			return ctl_usage("run", "--network takes 'none' or 'host', not '%s'", arg);
		o->network = arg;
		return -1;
	case OPT_MEMORY:
		return parse_size(arg, &o->limits.memory) < 0
		       ? ctl_usage("run", "bad --memory '%s' (at least 4k)", arg) : -1;
	case OPT_CPUS:
		if (parse_positive(arg, 1024, &d) < 0 || d < 0.01)
			return ctl_usage("run", "bad --cpus '%s'", arg);
		o->limits.cpu_millis = (int64_t)(d * 1000 + 0.5);
		return -1;
	case OPT_PIDS:
		if (parse_positive(arg, 4194304, &d) < 0 || d != (int64_t)d)
			return ctl_usage("run", "bad --pids-limit '%s'", arg);
		o->limits.pids = (int64_t)d;
		return -1;
	case 'v': {
		struct volume *nv = realloc(o->vols, (o->nvols + 1) * sizeof(*nv));
		if (!nv)
			return ctl_fail("out of memory");
		o->vols = nv;
		int r = volume_parse(arg, &o->vols[o->nvols], &m);
		if (r < 0)
			return r == -EINVAL ? ctl_usage("run", "%s", msg_text(&m, r))
					    : ctl_fail("%s", msg_text(&m, r));
		o->nvols++;
		return -1;
	}
	case OPT_READ_ONLY: o->read_only = true; return -1;
	case OPT_TMPFS:
		if (arg[0] != '/')
			return ctl_usage("run", "--tmpfs takes an absolute path, not '%s'", arg);
		return strv_push(&o->tmpfs, &o->ntmpfs, arg) < 0 ? ctl_fail("out of memory") : -1;
	case OPT_INIT:
		if (!arg || !strcmp(arg, "true"))
			o->init = true;
		else if (!strcmp(arg, "false"))
			o->init = false;
		else
			return ctl_usage("run", "--init takes 'true' or 'false', not '%s'", arg);
		return -1;
	case OPT_ROOTFS: o->rootfs = arg; return -1;
	case OPT_HELP: fputs(run_usage, stdout); return 0;
	default: return ctl_usage("run", "bad option");
	}
}

int run_opts_parse(int argc, char **argv, struct run_opts *o)
{
	*o = (struct run_opts){ .init = true, .network = "none" };
	int c;
	opterr = 0;
	/* "+": options end at the image (the command's options are its own). */
	while ((c = getopt_long(argc, argv, "+:e:w:u:itdv:", longopts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return ctl_usage("run", c == ':' ? "option '%s' needs a value"
					 : "unknown option '%s'", argv[optind - 1]);
		int r = parse_one(c, optarg, o);
		if (r >= 0)
			return r;
	}
	if (!o->rootfs) {
		if (optind >= argc)
			return ctl_usage("run", "no image given");
		o->image = argv[optind++];
	} else if (optind >= argc && !o->entrypoint) {
		return ctl_usage("run", "--rootfs needs a command");
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return -1;
}

void run_opts_free(struct run_opts *o)
{
	for (size_t k = 0; k < o->nenv; k++)
		free(o->env[k]);
	free(o->env);
	for (size_t k = 0; k < o->nvols; k++)
		volume_free(&o->vols[k]);
	free(o->vols);
	for (size_t k = 0; k < o->ntmpfs; k++)
		free(o->tmpfs[k]);
	free(o->tmpfs);
	free(o->entrypoint);
}
