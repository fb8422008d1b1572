/* layerctl layers [--json] */
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "commands.h"
#include "images.h"

static size_t users(const struct image_list *l, const char *diff_id)
{
	size_t n = 0;
	for (size_t k = 0; k < l->n; k++)
		for (size_t j = 0; j < l->v[k].nlayers; j++)
			if (!strcmp(l->v[k].layers[j].diff_id, diff_id)) {
				n++;
				break;
			}
	return n;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { "json", no_argument, NULL, 'j' },
					      { NULL, 0, NULL, 0 } };
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "+hq", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
			continue;
		}
		int r = cli_common_opt(&cmd_layers, c, optarg);
		if (r != -2)
			return r < 0 ? EXIT_USAGE : r;
	}
	if (optind != argc)
		return cli_usage_error(&cmd_layers, "takes no arguments");
	_cleanup_store_ struct store *s = NULL;
	if (cli_open_store(true, &s))
		return 1;
	struct errmsg e = { { 0 } };
	struct image_list l = { 0 };
	char **ids = NULL;
	size_t n = 0;
	int r = store_lock(s, LOCK_SH, &e);
	if (r == 0)
		r = images_load(s, &l, &e);
	if (r == 0)
		r = layers_list(s, &ids, &n);
	if (r < 0)
		return cli_fail("cannot list layers: %s", err_text(&e, r));
	_cleanup_json_ struct json *arr = json ? json_new_array() : NULL;
	if (!json)
		printf("%-12s %10s %8s %6s  %s\n", "DIFF ID", "SIZE", "FILES", "IMAGES", "CREATED");
	int rc = 0;
	for (size_t k = 0; k < n && rc == 0; k++) {
		struct layer_summary sum = { 0 };
		struct errmsg le = { { 0 } };
		if (layer_summary_load(s, ids[k], &sum, &le) < 0) {
			cli_warn("%s", le.msg);
			continue;
		}
		if (json) {
			struct json *o = json_new_object();
			int jr = o ? 0 : -1;
			if (!jr) jr = json_set_str(o, "diff_id", ids[k]);
			if (!jr) jr = json_set_int(o, "size", (int64_t)sum.size);
			if (!jr) jr = json_set_int(o, "files", (int64_t)sum.files);
			if (!jr) jr = json_set_int(o, "bytes", (int64_t)sum.bytes);
			if (!jr) jr = json_set_int(o, "images", (int64_t)users(&l, ids[k]));
			if (!jr) jr = json_set_str(o, "created", sum.created);
			if (!jr)
				jr = json_array_push(arr, o);
			else
				json_free(o);
			if (jr < 0)
				rc = cli_fail("out of memory");
			continue;
		}
		char id[16], size[32];
		printf("%-12s %10s %8llu %6zu  %s\n", cli_short_id(ids[k], id), cli_size(sum.size, size),
		       (unsigned long long)sum.files, users(&l, ids[k]), sum.created);
	}
	if (json && rc == 0)
		rc = cli_print_json(arr) ? 1 : 0;
	strv_free(ids, n);
	images_free(&l);
	return rc;
}

const struct command cmd_layers = {
	"layers", run, "list extracted layers",
	"Usage: layerctl layers [--root DIR] [--json]\n\n"
	"List the extracted layers of the store, keyed by DiffID (sha256 of the\n"
	"uncompressed tar): size, entry count, how many images use the layer and\n"
	"when it was imported.  --json prints an array of objects {diff_id, size,\n"
	"files, bytes, images, created}.\n",
};
