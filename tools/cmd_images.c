/* layerctl images [--json] */
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "commands.h"
#include "disk_usage.h"
#include "images.h"

struct totals {
	uint64_t size, files, apparent, disk;
};

static void image_totals(struct store *s, const struct image_info *i, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	/* On disk: each inode of the image's layers once. */
	struct inoset seen = { 0 };
	for (size_t k = 0; k < i->nlayers; k++) {
		uint64_t app = 0;
		if (layer_disk_usage(s, i->layers[k].diff_id, &seen, &t->disk, &app) == 0)
			t->apparent += app;
		struct layer_summary sum;
		struct errmsg e = { { 0 } };
		if (layer_summary_load(s, i->layers[k].diff_id, &sum, &e) == 0) {
			t->size += sum.size;
			t->files += sum.files;
		}
	}
	inoset_free(&seen);
}

static int print_json(struct store *s, const struct image_list *l)
{
	_cleanup_json_ struct json *arr = json_new_array();
	if (!arr)
		return cli_fail("out of memory");
	for (size_t k = 0; k < l->n; k++) {
		const struct image_info *i = &l->v[k];
		struct totals t;
		image_totals(s, i, &t);
		struct json *o = json_new_object(), *names = json_new_array();
		int r = o && names ? 0 : -1;
		for (size_t j = 0; r == 0 && j < i->nrefs; j++)
			r = json_array_push(names, json_new_string(i->refs[j]));
		if (!r) { r = json_object_set(o, "names", names); names = NULL; }
		if (!r) r = json_set_str(o, "id", i->config_digest);
		if (!r) r = json_set_str(o, "digest", i->manifest_digest);
		if (!r) r = json_set_int(o, "layers", (int64_t)i->nlayers);
		if (!r) r = json_set_int(o, "size", (int64_t)t.size);
		if (!r) r = json_set_int(o, "files", (int64_t)t.files);
		if (!r) r = json_set_int(o, "apparent", (int64_t)t.apparent);
		if (!r) r = json_set_int(o, "disk", (int64_t)t.disk);
		if (!r) r = json_object_set(o, "created", i->created ? json_new_string(i->created) : json_new_null());
		json_free(names);
		if (!r)
			r = json_array_push(arr, o);
		else
			json_free(o);
		if (r < 0)
			return cli_fail("out of memory");
	}
	return cli_print_json(arr) ? 1 : 0;
}

static void print_row(const char *name, const struct image_info *i, const struct totals *t)
{
	char id[16], size[32], app[32], disk[32], created[32];
	snprintf(created, sizeof(created), "%.19s", i->broken ? "damaged" : i->created ? i->created : "-");
	for (char *c = created; *c; c++)
		if (*c == 'T')
			*c = ' ';
	printf("%-40s %-12s %6zu %10s %10s %10s %8llu  %s\n", name, cli_short_id(i->config_digest, id),
	       i->nlayers, cli_size(t->size, size), cli_size(t->apparent, app), cli_size(t->disk, disk),
	       (unsigned long long)t->files, created);
}

static int run(int argc, char **argv)
{
	bool json = false;
	const struct cli_flag flags[] = { { "json", 0, &json }, { NULL, 0, NULL } };
	int rc = cli_parse(&cmd_images, argc, argv, flags);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return cli_usage_error(&cmd_images, "takes no arguments");
	struct cli_session cs;
	if (cli_session_open(&cs, LOCK_SH, false, "list images"))
		return 1;
	struct store *s = cs.s;
	const struct image_list l = cs.images;
	rc = 0;
	if (json) {
		rc = print_json(s, &l);
	} else {
		printf("%-40s %-12s %6s %10s %10s %10s %8s  %s\n", "NAME:TAG", "ID", "LAYERS", "SIZE",
		       "APPARENT", "DISK", "FILES", "CREATED");
		for (size_t k = 0; k < l.n; k++) {
			struct totals t;
			image_totals(s, &l.v[k], &t);
			if (!l.v[k].nrefs)
				print_row("<none>", &l.v[k], &t);
			for (size_t j = 0; j < l.v[k].nrefs; j++)
				print_row(l.v[k].refs[j], &l.v[k], &t);
		}
	}
	cli_session_close(&cs);
	return rc;
}

const struct command cmd_images = {
	"images", run, "list images",
	"Usage: layerctl images [--root DIR] [--json]\n\n"
	"List the images of the store: name:tag, id (config digest), layer count,\n"
	"size (uncompressed layers), apparent size (bytes of the layers' files),\n"
	"size on disk (st_blocks of the layers' inodes, each inode once: files\n"
	"'layerctl dedupe' shares count once), file count and creation time.\n"
	"Sizes are human-readable on a terminal, bytes otherwise.  --json prints\n"
	"an array of objects {names, id, digest, layers, size, files, apparent,\n"
	"disk, created}.\n",
};
