/* layerctl: the command a user types.  A thin main: global options, then
 * dispatch to one subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "ctl_common.h"
#include "msgbuf.h"

/* Does REF name a container of the store? */
static bool names_container(const char *ref)
{
	_cleanup_free_ char *root = NULL, *cdir = NULL;
	struct msgbuf m = { { 0 } };
	return store_root(cli.root, &root) == 0 && container_find(root, ref, &cdir, &m) >= 0;
}

/* rm removes containers (as podman rm) and images: an operand naming a
 * container makes it the container command, else it removes images. */
static int rm_main(int argc, char **argv)
{
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
			/* Both forms' help: containers first, then images. */
			int r = cmd_rm_containers(argc, argv);
			fputc('\n', stdout);
			optind = 1;
			return r | cmd_rm.run(argc, argv);
		}
	}
	for (int k = 1; k < argc; k++)
		if (argv[k][0] != '-' && names_container(argv[k]))
			return cmd_rm_containers(argc, argv);
	return cmd_rm.run(argc, argv);
}

static const struct command cmd_run_entry = { "run", cmd_run, "run a command in a new container", NULL };
static const struct command cmd_ps_entry = { "ps", cmd_ps, "list containers", NULL };
static const struct command cmd_rm_entry = { "rm", rm_main, "remove containers or images", NULL };
static const struct command cmd_rmi_entry = { "rmi", NULL, "remove images (as rm IMAGE...)", NULL };
static const struct command cmd_logs_entry = { "logs", cmd_logs, "print the output of a detached container", NULL };
static const struct command cmd_stop_entry = { "stop", cmd_stop, "stop running containers", NULL };
static const struct command cmd_wait_entry = { "wait", cmd_wait, "wait for containers to end, print their exit status", NULL };

static const struct command cmd_create_entry = { "create", cmd_create, "make a container of an image, without running it", NULL };
static const struct command cmd_mount_entry = { "mount", cmd_mount, "mount a container's root filesystem, print where", NULL };
static const struct command cmd_umount_entry = { "umount", cmd_umount, "unmount a container's root filesystem", NULL };
static const struct command cmd_diff_entry = { "diff", cmd_diff, "list a container's (or an image's) changes", NULL };
static const struct command cmd_commit_entry = { "commit", cmd_commit, "store a container's changes as a new image", NULL };
static const struct command cmd_squash_entry = { "squash", cmd_squash, "merge an image's layers into one", NULL };

static const struct command *const commands[] = {
	&cmd_import, &cmd_images, &cmd_layers, &cmd_inspect, &cmd_tag,
	&cmd_untag, &cmd_rm_entry, &cmd_rmi_entry, &cmd_gc, &cmd_verify,
	&cmd_dedupe,
	&cmd_export,
	&cmd_run_entry, &cmd_ps_entry, &cmd_logs_entry, &cmd_stop_entry, &cmd_wait_entry,
	&cmd_create_entry, &cmd_mount_entry, &cmd_umount_entry, &cmd_diff_entry,
	&cmd_commit_entry, &cmd_squash_entry,
};

static void usage(FILE *f)
{
	fputs("Usage: layerctl [--root DIR] [--quiet] COMMAND [ARGS...]\n\n"
	      "Manage container images, their layers, and containers.\n\n"
	      "Commands:\n", f);
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		fprintf(f, "  %-9s %s\n", commands[k]->name, commands[k]->summary);
	fputs("\nOptions:\n"
	      "  --root DIR   store directory (else $LAYERCTL_ROOT, else\n"
	      "               $XDG_DATA_HOME/layerctl, /var/lib/layerctl for root)\n"
	      "  --quiet      no progress output\n"
	      "  --help       this text; 'layerctl COMMAND --help' for a command\n"
	      "  --version    print the version\n", f);
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			puts("layerctl 0.1");
			return 0;
		}
		if (!ctl_global_option(argc, argv, &i, &cli.root, &cli.quiet)) {
			fprintf(stderr, "layerctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	ctl_root_opt = cli.root;
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++) {
		if (!strcmp(argv[i], commands[k]->name)) {
			optind = 1;
			if (commands[k] == &cmd_rmi_entry)
				return cmd_rm.run(argc - i, argv + i);
			return commands[k]->run(argc - i, argv + i);
		}
	}
	fprintf(stderr, "layerctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
