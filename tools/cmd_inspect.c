/* layerctl inspect IMAGE|LAYER [--json] */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "commands.h"
#include "images.h"

static struct json *layer_json(struct store *s, const struct image_layer *il)
{
	struct layer_summary sum = { 0 };
	struct errmsg e = { { 0 } };
	bool have = layer_summary_load(s, il->diff_id, &sum, &e) == 0;
	struct json *o = json_new_object();
	int r = o ? 0 : -ENOMEM;
	if (!r) r = json_set_str(o, "diff_id", il->diff_id);
	if (!r) r = json_set_str(o, "digest", il->blob_digest);
	if (!r) r = json_set_int(o, "blob_size", (int64_t)il->blob_size);
	if (!r && have) r = json_set_int(o, "size", (int64_t)sum.size);
	if (!r && have) r = json_set_int(o, "files", (int64_t)sum.files);
	if (r < 0) {
		json_free(o);
		return NULL;
	}
	return o;
}

static struct json *copy_or_null(const struct json *j)
{
	return j ? json_clone(j) : json_new_null();
}

static struct json *image_json(struct store *s, const struct image_info *i)
{
	struct json *o = json_new_object(), *names = json_new_array(), *layers = json_new_array();
	int r = o && names && layers ? 0 : -ENOMEM;
	for (size_t k = 0; r == 0 && k < i->nrefs; k++)
		r = json_array_push(names, json_new_string(i->refs[k]));
	for (size_t k = 0; r == 0 && k < i->nlayers; k++)
		r = json_array_push(layers, layer_json(s, &i->layers[k]));
	if (!r) r = json_set_str(o, "id", i->config_digest);
	if (!r) r = json_set_str(o, "digest", i->manifest_digest);
	if (!r) { r = json_object_set(o, "names", names); names = NULL; }
	if (!r) r = json_object_set(o, "created", copy_or_null(json_get(i->config, "created")));
	if (!r) r = json_object_set(o, "architecture", copy_or_null(json_get(i->config, "architecture")));
	if (!r) r = json_object_set(o, "os", copy_or_null(json_get(i->config, "os")));
	if (!r) r = json_object_set(o, "config", copy_or_null(json_get(i->config, "config")));
	if (!r) r = json_object_set(o, "history", copy_or_null(json_get(i->config, "history")));
	if (!r) { r = json_object_set(o, "layers", layers); layers = NULL; }
	json_free(names);
	json_free(layers);
	if (r < 0) {
		json_free(o);
		return NULL;
	}
	return o;
}

static void print_strings(const char *label, const struct json *arr)
{
	if (!arr || arr->type != JSON_ARRAY || !arr->n)
		return;
	printf("%-12s", label);
	for (size_t k = 0; k < arr->n; k++)
		if (arr->items[k]->type == JSON_STRING)
			printf("%s%s", k ? " " : "", arr->items[k]->s);
	putchar('\n');
}

static void print_image(const struct json *o)
{
	printf("%-12s%s\n%-12s%s\n", "Id:", json_get_str(o, "id"), "Digest:", json_get_str(o, "digest"));
	print_strings("Names:", json_get_array(o, "names"));
	const char *v;
	if ((v = json_get_str(o, "created")))
		printf("%-12s%s\n", "Created:", v);
	printf("%-12s%s/%s\n", "Platform:", json_get_str(o, "os") ? json_get_str(o, "os") : "?",
	       json_get_str(o, "architecture") ? json_get_str(o, "architecture") : "?");
	const struct json *cfg = json_get_object(o, "config");
	print_strings("Entrypoint:", json_get_array(cfg, "Entrypoint"));
	print_strings("Cmd:", json_get_array(cfg, "Cmd"));
	print_strings("Env:", json_get_array(cfg, "Env"));
	if ((v = json_get_str(cfg, "WorkingDir")) && *v)
		printf("%-12s%s\n", "WorkingDir:", v);
	if ((v = json_get_str(cfg, "User")) && *v)
		printf("%-12s%s\n", "User:", v);
	const struct json *hist = json_get_array(o, "history");
	if (hist && hist->n) {
		puts("History:");
		for (size_t k = 0; k < hist->n; k++) {
			const char *by = json_get_str(hist->items[k], "created_by");
			const char *when = json_get_str(hist->items[k], "created");
			printf("  %-20.20s %s\n", when ? when : "-", by ? by : "");
		}
	}
	const struct json *layers = json_get_array(o, "layers");
	printf("Layers:\n  %-12s %-12s %10s %10s %8s\n", "DIFF ID", "BLOB", "BLOB SIZE", "SIZE", "FILES");
	for (size_t k = 0; layers && k < layers->n; k++) {
		const struct json *l = layers->items[k];
		char a[16], b[16], s1[32], s2[32];
		int64_t bs = 0, sz = 0, files = 0;
		json_get_int(l, "blob_size", &bs);
		json_get_int(l, "size", &sz);
		json_get_int(l, "files", &files);
		printf("  %-12s %-12s %10s %10s %8lld\n", cli_short_id(json_get_str(l, "diff_id"), a),
		       cli_short_id(json_get_str(l, "digest"), b), cli_size((uint64_t)bs, s1),
		       cli_size((uint64_t)sz, s2), (long long)files);
	}
}

static int inspect_layer(struct store *s, const struct image_list *l, const char *diff_id, bool json)
{
	struct errmsg e = { { 0 } };
	_cleanup_json_ struct json *rec = NULL;
	int r = store_read_layer_record(s, diff_id, &rec, &e);
	if (r < 0)
		return cli_fail("cannot inspect layer '%s': %s", diff_id, err_text(&e, r));
	json_object_del(rec, "entries");
	struct json *used = json_new_array();
	if (!used)
		return cli_fail("out of memory");
	for (size_t k = 0; k < l->n; k++)
		for (size_t j = 0; j < l->v[k].nlayers; j++)
			if (!strcmp(l->v[k].layers[j].diff_id, diff_id)) {
				json_array_push(used, json_new_string(l->v[k].config_digest));
				break;
			}
	if (json_object_set(rec, "images", used) < 0)
		return cli_fail("out of memory");
	if (json)
		return cli_print_json(rec) ? 1 : 0;
	int64_t v;
	char sz[32];
	printf("%-10s%s\n", "DiffID:", diff_id);
	if (json_get_int(rec, "size", &v))
		printf("%-10s%s\n", "Size:", cli_size((uint64_t)v, sz));
	if (json_get_int(rec, "files", &v))
		printf("%-10s%lld\n", "Files:", (long long)v);
	printf("%-10s%s\n", "Created:", json_get_str(rec, "created") ? json_get_str(rec, "created") : "-");
	const struct json *blobs = json_get_array(rec, "blobs");
	for (size_t k = 0; blobs && k < blobs->n; k++) {
		/* A record without a size shows 0, not the last size read. */
		if (!json_get_int(blobs->items[k], "size", &v))
			v = 0;
		printf("%-10s%s %s %s\n", "Blob:", json_get_str(blobs->items[k], "digest"),
		       json_get_str(blobs->items[k], "mediaType"), cli_size((uint64_t)v, sz));
	}
	for (size_t k = 0; k < used->n; k++)
		printf("%-10s%s\n", "Image:", used->items[k]->s);
	return 0;
}

static int run(int argc, char **argv)
{
	bool json = false;
	const struct cli_flag flags[] = { { "json", 0, &json }, { NULL, 0, NULL } };
	int rc = cli_parse(&cmd_inspect, argc, argv, flags);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage_error(&cmd_inspect, "expects one IMAGE or LAYER");
	const char *q = argv[optind];
	struct cli_session cs;
	if (cli_session_open(&cs, LOCK_SH, false, "inspect"))
		return 1;
	struct store *s = cs.s;
	const struct image_list l = cs.images;
	struct errmsg e = { { 0 } };
	int r;
	int idx = image_find(&l, q, &e);
	if (idx >= 0 && l.v[idx].broken) {
		rc = cli_fail("cannot inspect '%s': image is damaged: %s", q, l.v[idx].broken);
	} else if (idx >= 0) {
		_cleanup_json_ struct json *o = image_json(s, &l.v[idx]);
		if (!o)
			rc = cli_fail("out of memory");
		else if (json)
			rc = cli_print_json(o) ? 1 : 0;
		else {
			print_image(o);
			rc = 0;
		}
	} else {
		char diff[DIGEST_STR_LEN + 1];
		struct errmsg le = { { 0 } };
		r = layer_find(s, &l, q, diff, &le);
		if (r == 0)
			rc = inspect_layer(s, &l, diff, json);
		else if (idx == -ENOENT && r == -ENOENT)
			rc = cli_fail("cannot inspect '%s': no such image or layer", q);
		else
			rc = cli_fail("cannot inspect '%s': %s", q, idx != -ENOENT ? e.msg : le.msg);
	}
	cli_session_close(&cs);
	return rc;
}

const struct command cmd_inspect = {
	"inspect", run, "show an image or a layer",
	"Usage: layerctl inspect [--root DIR] [--json] IMAGE|LAYER\n\n"
	"IMAGE is a name (name:tag; a bare name means name:latest), an id (config\n"
	"digest or 4+ leading hex digits) or a manifest digest.  LAYER is a DiffID,\n"
	"a prefix of one, or a layer blob digest.  Shows the config, history and\n"
	"layers with sizes (or the layer record); --json prints it as json.\n",
};
