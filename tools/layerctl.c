/* layerctl: the command a user types.  A thin main: global options, then
 * dispatch to one subcommand. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "ctl_common.h"

static const struct command commands[] = {
	{ "run", cmd_run, "run a command in a new container" },
	{ "ps", cmd_ps, "list containers" },
	{ "rm", cmd_rm, "remove containers" },
	{ "logs", cmd_logs, "print the output of a detached container" },
	{ "stop", cmd_stop, "stop running containers" },
	{ "wait", cmd_wait, "wait for containers to end, print their exit status" },
};

static void usage(FILE *f)
{
	fputs("Usage: layerctl [--root DIR] COMMAND [ARGS...]\n\nCommands:\n", f);
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		fprintf(f, "  %-6s %s\n", commands[k].name, commands[k].summary);
	fputs("\nOptions:\n"
	      "  --root DIR  store directory (else $LAYERCTL_ROOT, else\n"
	      "              $XDG_DATA_HOME/layerctl, /var/lib/layerctl for root)\n"
	      "  --help      this text; 'layerctl COMMAND --help' for a command\n"
	      "  --version   print the version\n", f);
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
		if (!strcmp(argv[i], "--root") && i + 1 < argc) {
			ctl_root_opt = argv[++i];
		} else if (!strncmp(argv[i], "--root=", 7)) {
			ctl_root_opt = argv[i] + 7;
		} else {
			fprintf(stderr, "layerctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++) {
		if (!strcmp(argv[i], commands[k].name)) {
			optind = 1;
			return commands[k].run(argc - i, argv + i);
		}
	}
	fprintf(stderr, "layerctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
