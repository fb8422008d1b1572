/* layerctl gc [--dry-run] */
#include <stdio.h>
#include <sys/file.h>

#include "cleanup.h"
#include "commands.h"
#include "gc.h"

static int run(int argc, char **argv)
{
	bool dry = false;
	const struct cli_flag flags[] = { { "dry-run", 'n', &dry }, { NULL, 0, NULL } };
	int rc = cli_parse(&cmd_gc, argc, argv, flags);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return cli_usage_error(&cmd_gc, "takes no arguments");
	_cleanup_store_ struct store *s = NULL;
	if (cli_open_store(true, &s))
		return 1;
	struct errmsg e = { { 0 } };
	struct gc_stats st = { 0 };
	int r = store_lock(s, LOCK_EX, &e);
	if (r == 0)
		r = gc_collect(s, dry, &st, &e);
	if (r < 0)
		return cli_fail("%s", err_text(&e, r));
	char sz[32];
	printf("%s %llu blobs, %llu layers, %llu temp entries: %s %s\n",
	       dry ? "would remove" : "removed", (unsigned long long)st.blobs,
	       (unsigned long long)st.layers, (unsigned long long)st.temps,
	       dry ? "would free" : "freed", cli_size(st.bytes, sz));
	return 0;
}

const struct command cmd_gc = {
	"gc", run, "remove unused layers, blobs and temp leftovers",
	"Usage: layerctl gc [--root DIR] [--dry-run]\n\n"
	"Remove the blobs and extracted layers no image references, and what\n"
	"killed commands left in the temp area, and report the bytes freed.\n"
	"--dry-run only reports.\n",
};
