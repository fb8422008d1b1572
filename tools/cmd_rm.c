/* layerctl rm [--force] IMAGE... */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "commands.h"
#include "gc.h"
#include "image_commit.h"
#include "images.h"

/* Drop every index entry of the manifest DIGEST. */
static void index_remove_image(struct json *index, const char *digest)
{
	struct json *ms = (struct json *)json_get_array(index, "manifests");
	for (size_t k = 0; ms && k < ms->n;) {
		const char *d = json_get_str(ms->items[k], "digest");
		if (d && !strcmp(d, digest)) {
			json_free(ms->items[k]);
			memmove(ms->items + k, ms->items + k + 1, (ms->n - k - 1) * sizeof(*ms->items));
			ms->n--;
			continue;
		}
		k++;
	}
}

static bool is_ref_of(const struct image_info *i, const char *q)
{
	for (size_t k = 0; k < i->nrefs; k++)
		if (!strcmp(i->refs[k], q))
			return true;
	return false;
}

static int remove_one(struct store *s, struct image_list *l, struct json *index, const char *q,
		      bool force)
{
	struct errmsg e = { { 0 } };
	int idx = image_find(l, q, &e);
	if (idx < 0)
		return cli_fail("cannot remove '%s': %s", q, err_text(&e, idx));
	const struct image_info *i = &l->v[idx];
	_cleanup_free_ char *who = NULL;
	int r = store_image_in_use(s, i->config_digest, i->manifest_digest, &who);
	if (r < 0)
		return cli_fail("cannot remove '%s': cannot read containers: %s", q, strerror(-r));
	if (r > 0 && !force)
		return cli_fail("cannot remove '%s': container '%s' uses it (--force removes anyway)", q, who);
	/* A name of an image that has others: only the name goes. */
	_cleanup_free_ char *withtag = NULL;
	const char *slash = strrchr(q, '/');
	if (!strchr(slash ? slash : q, ':') && asprintf(&withtag, "%s:latest", q) < 0)
		return cli_fail("out of memory");
	const char *name = is_ref_of(i, q) ? q : withtag && is_ref_of(i, withtag) ? withtag : NULL;
	if (name && i->nrefs > 1) {
		index_remove_ref(index, name);
		printf("untagged %s\n", name);
		return 0;
	}
	index_remove_image(index, i->manifest_digest);
	char id[16];
	printf("removed %s\n", cli_short_id(i->config_digest, id));
	return 0;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { "force", no_argument, NULL, 'f' },
					      { NULL, 0, NULL, 0 } };
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "+hqf", opts, NULL)) != -1) {
		if (c == 'f') {
			force = true;
			continue;
		}
		int r = cli_common_opt(&cmd_rm, c, optarg);
		if (r != -2)
			return r < 0 ? EXIT_USAGE : r;
	}
	if (argc - optind < 1)
		return cli_usage_error(&cmd_rm, "expects IMAGE...");
	_cleanup_store_ struct store *s = NULL;
	if (cli_open_store(true, &s))
		return 1;
	struct errmsg e = { { 0 } };
	struct image_list l = { 0 };
	_cleanup_json_ struct json *index = NULL;
	int r = store_lock(s, LOCK_EX, &e);
	if (r == 0)
		r = images_load(s, &l, &e);
	if (r == 0)
		r = store_read_index(s, &index, &e);
	if (r < 0)
		return cli_fail("cannot remove images: %s", err_text(&e, r));
	int rc = 0;
	for (int k = optind; k < argc; k++)
		rc |= remove_one(s, &l, index, argv[k], force);
	images_free(&l);
	if (store_write_index(s, index, &e) < 0)
		return cli_fail("cannot remove images: %s", e.msg);
	/* Layers and blobs no image uses any more go now. */
	struct gc_stats st;
	r = gc_collect(s, false, &st, &e);
	if (r < 0)
		return cli_fail("images removed, but %s", err_text(&e, r));
	char sz[32];
	if (!cli.quiet)
		printf("freed %s (%llu blobs, %llu layers)\n", cli_size(st.bytes, sz),
		       (unsigned long long)st.blobs, (unsigned long long)st.layers);
	return rc;
}

const struct command cmd_rm = {
	"rm", run, "remove images",
	"Usage: layerctl rm [--root DIR] [--force] IMAGE...\n\n"
	"Remove each image and then the blobs and layers no other image uses.\n"
	"Given a name of an image that has other names, only that name goes.\n"
	"An image a container uses (containers/<id>/config.json naming it) is\n"
	"kept unless --force.\n",
};
