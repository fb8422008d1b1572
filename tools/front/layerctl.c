/* layerctl, the program a user runs: a front end that carries out `run`
 * itself and hands every other command to layerctl-full.
 *
 * layerctl-full (tools/layerctl.c and every command) links libarchive,
 * libcrypto, zstd, zlib and xxhash, which bring in ICU, libxml2 and
 * libstdc++: loading them takes several milliseconds, and forking a
 * process that has them mapped costs more, which every container start
 * would pay.  `run` needs none of them, so this program holds only it and
 * links none of them (tests/run-launcher.t checks that).  Anything else
 * (another command, --help, --version, a bad option) is exec'd as it was
 * typed: the same process, arguments and environment, so exit statuses,
 * signals and pids are the same as if layerctl-full had been run. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../commands.h"
#include "../ctl_common.h"

/* layerctl-full, next to this program. */
static int exec_full(char **argv)
{
	char self[PATH_MAX], full[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "layerctl: cannot find where layerctl is: %s\n", strerror(errno));
		return 1;
	}
	self[n] = 0;
	snprintf(full, sizeof(full), "%s/layerctl-full", dirname(self));
	execv(full, argv);
	fprintf(stderr, "layerctl: cannot run '%s' (installed beside layerctl, it carries out "
		"every command but run): %s\n", full, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	const char *root = NULL;
	bool quiet = false;
	int i = 1;
	/* The global options as layerctl-full reads them; anything else
	 * before the command is its to answer. */
	for (; i < argc && argv[i][0] == '-'; i++)
		if (!ctl_global_option(argc, argv, &i, &root, &quiet))
			break;
	if (i < argc && !strcmp(argv[i], "run")) {
		ctl_root_opt = root;
		return cmd_run(argc - i, argv + i);
	}
	return exec_full(argv);
}
