/* layerctl logs, stop and wait: for containers started with -d. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "ctl_common.h"

static const char logs_usage[] =
"Usage: layerctl logs [-f] CONTAINER\n"
"\n"
"Print what a detached container wrote on its standard output and error.\n"
"\n"
"  -f, --follow  keep printing until the container ends\n"
"      --help    this text\n";

static const char stop_usage[] =
"Usage: layerctl stop [-t SECONDS] CONTAINER...\n"
"\n"
"Send SIGTERM to a container's command, then SIGKILL after a timeout.\n"
"\n"
"  -t, --time N  seconds to wait before SIGKILL (default 10)\n"
"      --help    this text\n";

static const char wait_usage[] =
"Usage: layerctl wait CONTAINER...\n"
"\n"
"Wait for containers to end; print each one's exit status.\n"
"\n"
"      --help    this text\n";

/* Parse the options of a command taking only --help and SHORT (with an
 * argument into *ARG when it has one). */
static int parse(int argc, char **argv, const char *cmd, const char *usage,
		 const struct option *opts, const char *shortopts, bool *flag, const char **arg)
{
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(usage, stdout), 0;
		if (c == '?' || c == ':')
			return ctl_usage(cmd, "bad option '%s'", argv[optind - 1]);
		if (flag)
			*flag = true;
		if (arg)
			*arg = optarg;
	}
	if (optind >= argc)
		return ctl_usage(cmd, "no container given");
	return -1;
}

static bool running(const char *cdir, pid_t *init)
{
	int code;
	pid_t mon = 0;
	*init = 0;
	return container_state(cdir, &code, &mon, init) == CONTAINER_RUNNING;
}

static off_t copy_log(int fd, off_t off)
{
	char buf[65536];
	ssize_t n;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		off += n;
	}
	fflush(stdout);
	return off;
}

int cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	bool follow = false;
	int r = parse(argc, argv, "logs", logs_usage, opts, "f", &follow, NULL);
	if (r >= 0)
		return r;
	_cleanup_free_ char *root = NULL, *cdir = NULL, *log = NULL;
	if (ctl_store_root(&root) || ctl_find_container(root, argv[optind], &cdir))
		return 1;
	if (asprintf(&log, "%s/log", cdir) < 0)
		return ctl_fail("out of memory");
	_cleanup_close_ int fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return ctl_fail("container '%s' has no log (it was not started with -d)", argv[optind]);
	if (fd < 0)
		return ctl_fail("cannot read '%s': %s", log, strerror(errno));
	off_t off = copy_log(fd, 0);
	pid_t init;
	while (follow && running(cdir, &init)) {
		usleep(100000);
		off = copy_log(fd, off);
	}
	copy_log(fd, off);
	return 0;
}

static int stop_one(const char *root, const char *ref, int timeout)
{
	_cleanup_free_ char *cdir = NULL;
	if (ctl_find_container(root, ref, &cdir))
		return 1;
	pid_t init;
	if (running(cdir, &init) && init > 0) {
		/* PID 1 passes SIGTERM on to the command. */
		kill(init, SIGTERM);
		for (int k = 0; k < timeout * 20 && running(cdir, &init); k++)
			usleep(50000);
		if (running(cdir, &init) && init > 0)
			kill(init, SIGKILL);
		for (int k = 0; k < 100 && running(cdir, &init); k++)
			usleep(50000);
	}
	printf("%s\n", ref);
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "time", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *t = NULL;
	int r = parse(argc, argv, "stop", stop_usage, opts, ":t:", NULL, &t);
	if (r >= 0)
		return r;
	char *end = NULL;
	long timeout = t ? strtol(t, &end, 10) : 10;
	if (t && (*end || timeout < 0 || timeout > 86400))
		return ctl_usage("stop", "bad timeout '%s'", t);
	_cleanup_free_ char *root = NULL;
	if (ctl_store_root(&root))
		return 1;
	int rc = 0;
	for (int k = optind; k < argc; k++)
		rc |= stop_one(root, argv[k], (int)timeout);
	return rc;
}

static int wait_one(const char *root, const char *ref)
{
	_cleanup_free_ char *cdir = NULL, *lock = NULL;
	if (ctl_find_container(root, ref, &cdir))
		return 1;
	if (asprintf(&lock, "%s/lock", cdir) < 0)
		return ctl_fail("out of memory");
	/* The monitor holds the lock exclusively for the container's life. */
	_cleanup_close_ int fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && RETRY_EINTR(flock(fd, LOCK_SH)) < 0)
		return ctl_fail("cannot wait for '%s': %s", ref, strerror(errno));
	int code = 0;
	pid_t mon, init;
	if (container_state(cdir, &code, &mon, &init) != CONTAINER_EXITED)
		return ctl_fail("container '%s' has no exit status", ref);
	printf("%d\n", code);
	return 0;
}

int cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int r = parse(argc, argv, "wait", wait_usage, opts, "", NULL, NULL);
	if (r >= 0)
		return r;
	_cleanup_free_ char *root = NULL;
	if (ctl_store_root(&root))
		return 1;
	int rc = 0;
	for (int k = optind; k < argc; k++)
		rc |= wait_one(root, argv[k]);
	return rc;
}
