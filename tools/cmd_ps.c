/* layerctl ps: list containers; layerctl rm: remove them. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "ctl_common.h"
#include "fsutil.h"

static const char ps_usage[] =
"Usage: layerctl ps [-a] [-q]\n"
"\n"
"List containers: running ones, with -a all (exited and created too).\n"
"\n"
"  -a, --all     all containers\n"
"  -q, --quiet   ids only\n"
"      --help    this text\n";

static const char rm_usage[] =
"Usage: layerctl rm [-f] CONTAINER...\n"
"\n"
"Remove containers (by id, id prefix or name) with their writable layer.\n"
"\n"
"  -f, --force   stop running containers first (SIGKILL)\n"
"      --help    this text\n";

static void age(int64_t created, char *buf, size_t len)
{
	int64_t d = (int64_t)time(NULL) - created;
	if (d < 60)
		snprintf(buf, len, "%lld seconds ago", (long long)d);
	else if (d < 3600)
		snprintf(buf, len, "%lld minutes ago", (long long)d / 60);
	else if (d < 86400)
		snprintf(buf, len, "%lld hours ago", (long long)d / 3600);
	else
		snprintf(buf, len, "%lld days ago", (long long)d / 86400);
}

static void command_text(char **argv, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (char **p = argv; p && *p && n + 1 < len; p++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", p == argv ? "" : " ", *p);
	if (n >= 24)
		strcpy(buf + 21, "...");
}

static void print_one(const char *cdir, bool all, bool quiet)
{
	struct container_record c = { 0 };
	if (container_read_record(cdir, &c) < 0)
		return;
	int code = 0;
	pid_t mon = 0, init = 0;
	int st = container_state(cdir, &code, &mon, &init);
	char status[32], created[48], cmd[64], image[40];
	if (st == CONTAINER_RUNNING)
		snprintf(status, sizeof(status), "running");
	else if (st == CONTAINER_EXITED)
		snprintf(status, sizeof(status), "exited (%d)", code);
	else
		snprintf(status, sizeof(status), "created");
	if (all || st == CONTAINER_RUNNING) {
		age(c.created, created, sizeof(created));
		command_text(c.command, cmd, sizeof(cmd));
		snprintf(image, sizeof(image), "%.39s", c.image_name ? c.image_name
			 : c.rootfs ? c.rootfs : "-");
		if (quiet)
			printf("%.12s\n", c.id);
		else
			printf("%-12.12s  %-20s  %-24s  %-16s  %-12s  %s\n", c.id, image, cmd, created,
			       status, c.name ? c.name : "");
	}
	container_record_free(&c);
}

int cmd_ps(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	bool all = false, quiet = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "aq", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c == 'q')
			quiet = true;
		else if (c == 'h')
			return fputs(ps_usage, stdout), 0;
		else
			return ctl_usage("ps", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return ctl_usage("ps", "unexpected argument '%s'", argv[optind]);
	_cleanup_free_ char *root = NULL, *dir = NULL;
	if (ctl_store_root(&root))
		return 1;
	if (asprintf(&dir, "%s/containers", root) < 0)
		return ctl_fail("out of memory");
	if (!quiet)
		printf("%-12s  %-20s  %-24s  %-16s  %-12s  %s\n", "CONTAINER ID", "IMAGE", "COMMAND",
		       "CREATED", "STATUS", "NAMES");
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d && errno != ENOENT)
		return ctl_fail("cannot read '%s': %s", dir, strerror(errno));
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			return ctl_fail("out of memory");
		print_one(p, all, quiet);
	}
	return 0;
}

static int remove_one(const char *root, const char *ref, bool force, const struct id_plan *ids)
{
	_cleanup_free_ char *cdir = NULL;
	if (ctl_find_container(root, ref, &cdir))
		return 1;
	int code;
	pid_t mon = 0, init = 0;
	if (container_state(cdir, &code, &mon, &init) == CONTAINER_RUNNING) {
		if (!force)
			return ctl_fail("container '%s' is running (stop it, or use --force)", ref);
		if (init > 0)
			kill(init, SIGKILL);
		/* The monitor leaves (and unlocks) once the container is gone. */
		for (int k = 0; k < 100 && container_state(cdir, &code, &mon, &init) ==
		     CONTAINER_RUNNING; k++)
			usleep(50000);
	}
	/* A root filesystem mounted by 'layerctl mount' goes first. */
	_cleanup_free_ char *mnt = NULL;
	struct stat a, b;
	if (asprintf(&mnt, "%s/merged", cdir) > 0 && stat(cdir, &a) == 0 && stat(mnt, &b) == 0 &&
	    a.st_dev != b.st_dev && umount2(mnt, MNT_DETACH) < 0)
		return ctl_fail("cannot remove container '%s': '%s' is mounted: %s (layerctl umount)",
				ref, mnt, strerror(errno));
	struct container_record rec = { 0 };
	container_read_record(cdir, &rec);
	uint64_t bytes = 0;
	du_at(AT_FDCWD, cdir, &bytes);
	struct msgbuf m = { { 0 } };
	int r = container_remove(cdir, ids, &m);
	if (r < 0) {
		container_record_free(&rec);
		return ctl_fail("cannot remove container '%s': %s", ref, msg_text(&m, r));
	}
	printf("removed container %.12s%s%s%s and its writable layer (%llu bytes on disk)\n",
	       rec.id ? rec.id : ref, rec.name ? " (" : "", rec.name ? rec.name : "",
	       rec.name ? ")" : "", (unsigned long long)bytes);
	container_record_free(&rec);
	return 0;
}

int cmd_rm_containers(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	bool force = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (c == 'f')
			force = true;
		else if (c == 'h')
			return fputs(rm_usage, stdout), 0;
		else
			return ctl_usage("rm", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind >= argc)
		return ctl_usage("rm", "no container given");
	_cleanup_free_ char *root = NULL;
	if (ctl_store_root(&root))
		return 1;
	struct id_plan ids;
	id_plan_load(&ids);
	int rc = 0;
	for (int k = optind; k < argc; k++)
		rc |= remove_one(root, argv[k], force, &ids);
	return rc;
}
