/* layerctl create IMAGE [--name NAME]; mount CONTAINER; umount CONTAINER */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "ctl_common.h"
#include "fsutil.h"
#include "image_ref.h"
#include "launch_rootfs.h"
#include "run_spec.h"
#include "strv.h"

static const char create_usage[] =
"Usage: layerctl create [--name NAME] IMAGE\n"
"\n"
"Make a container of IMAGE without running it: STORE/containers/<id>/ with\n"
"its record (config.json), an empty writable layer (upper/, work/) and a\n"
"mount point (merged/).  Prints the id.\n"
"\n"
"      --name NAME   a name other commands accept instead of the id\n"
"      --help        this text\n";

static const char mount_usage[] =
"Usage: layerctl mount CONTAINER\n"
"\n"
"Mount the container's root filesystem (its image's layers under its\n"
"writable layer) with layerfs at STORE/containers/<id>/merged and print\n"
"that path.  What is written there is the container's change.  As root\n"
"this is a mount of the host.  An ordinary user mounts through fusermount3\n"
"(/dev/fuse must be usable); files there show their host owners (what you\n"
"create is yours; diff and commit count it as the container's root's, as\n"
"run maps it).  Without fusermount3, mount inside a user namespace of your\n"
"own (unshare -rm): the mount lives as long as that namespace.\n"
"\n"
"      --help   this text\n";

static const char umount_usage[] =
"Usage: layerctl umount CONTAINER\n"
"\n"
"Unmount what 'layerctl mount' mounted.\n"
"\n"
"      --help   this text\n";

/* Parse --help (and --name for create); returns -1 to go on. */
static int parse(int argc, char **argv, const char *cmd, const char *usage, const char **name)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(usage, stdout), 0;
		if (c == 'n' && name)
			*name = optarg;
		else
			return ctl_usage(cmd, "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return ctl_usage(cmd, "expects one %s", name ? "IMAGE" : "CONTAINER");
	return -1;
}

int cmd_create(int argc, char **argv)
{
	const char *name = NULL;
	int rc = parse(argc, argv, "create", create_usage, &name);
	if (rc >= 0)
		return rc;
	const char *image = argv[optind];
	_cleanup_free_ char *root = NULL, *id = NULL, *cdir = NULL;
	if (ctl_store_root(&root))
		return 1;
	if (name && !*name)
		return ctl_usage("create", "--name must not be empty");
	if (name && container_name_taken(root, name))
		return ctl_fail("the name '%s' is already used by a container", name);
	struct image_ref img = { 0 };
	struct msgbuf m = { { 0 } };
	int r = image_resolve(root, image, &img, &m);
	if (r < 0)
		return ctl_fail("%s", msg_text(&m, r));
	char **cmd = NULL;
	size_t ncmd = 0;
	for (char **p = img.cfg.entrypoint; r == 0 && p && *p; p++)
		r = strv_push(&cmd, &ncmd, *p);
	for (char **p = img.cfg.cmd; r == 0 && p && *p; p++)
		r = strv_push(&cmd, &ncmd, *p);
	if (r == 0 && (r = container_create(root, &id, &cdir, &m)) < 0)
		ctl_fail("%s", msg_text(&m, r));
	else if (r < 0)
		ctl_fail("out of memory");
	/* The image's lowerdirs are counted, the record's NULL-terminated. */
	char **lower = r == 0 ? calloc(img.n + 1, sizeof(*lower)) : NULL;
	if (r == 0 && !lower)
		r = -ENOMEM;
	if (r == 0 && img.n)
		memcpy(lower, img.lowerdirs, img.n * sizeof(*lower));
	if (r == 0) {
		struct container_record rec = {
			.id = id, .name = (char *)name, .image = img.manifest_digest,
			.image_id = img.config_digest, .image_name = (char *)image,
			.lowerdirs = lower, .command = cmd, .created = (int64_t)time(NULL),
		};
		if ((r = container_write_record(cdir, &rec)) < 0)
			ctl_fail("cannot write the record of '%s': %s", cdir, strerror(-r));
	}
	if (r < 0 && cdir)
		rm_rf_at(AT_FDCWD, cdir, NULL);   /* no half-made container */
	free(lower);
	strv_free(cmd);
	image_ref_free(&img);
	if (r < 0)
		return 1;
	printf("%s\n", id);
	return 0;
}

/* Is CDIR/merged a mount point (another device than CDIR)? */
static bool mounted(const char *cdir)
{
	char p[4300];
	struct stat a, b;
	snprintf(p, sizeof(p), "%s/merged", cdir);
	return stat(cdir, &a) == 0 && stat(p, &b) == 0 && a.st_dev != b.st_dev;
}

int cmd_mount(int argc, char **argv)
{
	int rc = parse(argc, argv, "mount", mount_usage, NULL);
	if (rc >= 0)
		return rc;
	const char *ref = argv[optind];
	_cleanup_free_ char *root = NULL, *cdir = NULL, *layerfs = NULL;
	if (ctl_store_root(&root) || ctl_find_container(root, ref, &cdir))
		return 1;
	int code;
	pid_t mon = 0, init = 0;
	if (container_state(cdir, &code, &mon, &init) == CONTAINER_RUNNING)
		return ctl_fail("container '%s' is running: its root filesystem is mounted in its "
				"own namespace", ref);
	if (mounted(cdir)) {
		printf("%s/merged\n", cdir);
		return 0;
	}
	if (find_layerfs(&layerfs) < 0)
		return ctl_fail("cannot find 'layerfs' (next to layerctl, in $LAYERFS or on PATH)");
	struct container_record rec = { 0 };
	int r = container_read_record(cdir, &rec);
	if (r < 0)
		return ctl_fail("cannot read the record of container '%s': %s", ref, strerror(-r));
	struct launch_spec s = { .layerfs = layerfs, .lowerdirs = rec.lowerdirs, .cdir = cdir };
	while (rec.lowerdirs && rec.lowerdirs[s.nlower])
		s.nlower++;
	struct msgbuf m = { { 0 } };
	pid_t daemon;
	r = rootfs_mount(&s, &daemon, &m);
	container_record_free(&rec);
	if (r < 0) {
		ctl_fail("cannot mount container '%s': %s", ref, msg_text(&m, r));
		if (geteuid() != 0)
			fprintf(stderr, "layerctl: an ordinary user mounts through fusermount3 with a "
				"usable /dev/fuse, or inside a user namespace of its own (unshare -rm), "
				"where the mount lives as long as that namespace\n");
		return 1;
	}
	printf("%s/merged\n", cdir);
	return 0;
}

int cmd_umount(int argc, char **argv)
{
	int rc = parse(argc, argv, "umount", umount_usage, NULL);
	if (rc >= 0)
		return rc;
	const char *ref = argv[optind];
	_cleanup_free_ char *root = NULL, *cdir = NULL, *mnt = NULL;
	if (ctl_store_root(&root) || ctl_find_container(root, ref, &cdir))
		return 1;
	if (asprintf(&mnt, "%s/merged", cdir) < 0)
		return ctl_fail("out of memory");
	if (!mounted(cdir))
		return ctl_fail("container '%s' is not mounted", ref);
	if (umount2(mnt, 0) == 0)
		return 0;
	int err = errno;
	if (err == EPERM) {
		/* An ordinary user's FUSE mount: fusermount3 undoes it. */
		pid_t pid = fork();
		if (pid == 0) {
			execlp("fusermount3", "fusermount3", "-u", mnt, (char *)NULL);
			_exit(127);
		}
		int st;
		if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return 0;
	}
	return ctl_fail("cannot unmount '%s': %s", mnt, strerror(err));
}
