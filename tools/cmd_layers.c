/* layerctl layers [--json] */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "commands.h"
#include "disk_usage.h"
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
	bool json = false;
	const struct cli_flag flags[] = { { "json", 0, &json }, { NULL, 0, NULL } };
	int rc = cli_parse(&cmd_layers, argc, argv, flags);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return cli_usage_error(&cmd_layers, "takes no arguments");
	struct cli_session cs;
	if (cli_session_open(&cs, LOCK_SH, false, "list layers"))
		return 1;
	struct store *s = cs.s;
	const struct image_list l = cs.images;
	char **ids = NULL;
	size_t n = 0;
	int r = layers_list(s, &ids, &n);
	if (r < 0) {
		cli_session_close(&cs);
		return cli_fail("cannot list layers: %s", strerror(-r));
	}
	_cleanup_json_ struct json *arr = json ? json_new_array() : NULL;
	if (!json)
		printf("%-12s %10s %10s %10s %8s %6s  %s\n", "DIFF ID", "SIZE", "APPARENT", "DISK",
		       "FILES", "IMAGES", "CREATED");
	rc = 0;
	/* Each inode counts once, in the first layer listed that has it. */
	struct inoset seen = { 0 };
	for (size_t k = 0; k < n && rc == 0; k++) {
		struct layer_summary sum = { 0 };
		struct errmsg le = { { 0 } };
		if (layer_summary_load(s, ids[k], &sum, &le) < 0) {
			cli_warn("%s", le.msg);
			continue;
		}
		uint64_t disk = 0, apparent = 0;
		int dr = layer_disk_usage(s, ids[k], &seen, &disk, &apparent);
		if (dr < 0)
			cli_warn("cannot measure layer '%s': %s", ids[k], strerror(-dr));
		if (json) {
			struct json *o = json_new_object();
			int jr = o ? 0 : -1;
			if (!jr) jr = json_set_str(o, "diff_id", ids[k]);
			if (!jr) jr = json_set_int(o, "size", (int64_t)sum.size);
			if (!jr) jr = json_set_int(o, "files", (int64_t)sum.files);
			if (!jr) jr = json_set_int(o, "bytes", (int64_t)sum.bytes);
			if (!jr) jr = json_set_int(o, "apparent", (int64_t)apparent);
			if (!jr) jr = json_set_int(o, "disk", (int64_t)disk);
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
		char id[16], size[32], app[32], dsk[32];
		printf("%-12s %10s %10s %10s %8llu %6zu  %s\n", cli_short_id(ids[k], id),
		       cli_size(sum.size, size), cli_size(apparent, app), cli_size(disk, dsk),
		       (unsigned long long)sum.files, users(&l, ids[k]), sum.created);
	}
	if (json && rc == 0)
		rc = cli_print_json(arr) ? 1 : 0;
	inoset_free(&seen);
	strv_free_n(ids, n);
	cli_session_close(&cs);
	return rc;
}

const struct command cmd_layers = {
	"layers", run, "list extracted layers",
	"Usage: layerctl layers [--root DIR] [--json]\n\n"
	"List the extracted layers of the store, keyed by DiffID (sha256 of the\n"
	"uncompressed tar): size, apparent size (bytes of its files), size on\n"
	"disk (st_blocks; an inode shared by several layers, see 'layerctl\n"
	"dedupe', counts once, in the first layer listed), entry count, how many\n"
	"images use the layer and when it was imported.  --json prints an array of\n"
	"objects {diff_id, size, files, bytes, apparent, disk, images, created}.\n",
};
