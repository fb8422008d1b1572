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
	printf("removed %s\n", cli_short_id(i->config_digest[0] ? i->config_digest : i->manifest_digest, id));
	return 0;
}

static int run(int argc, char **argv)
{
	bool force = false;
	const struct cli_flag flags[] = { { "force", 'f', &force }, { NULL, 0, NULL } };
	int rc = cli_parse(&cmd_rm, argc, argv, flags);
	if (rc >= 0)
		return rc;
	if (argc - optind < 1)
		return cli_usage_error(&cmd_rm, "expects IMAGE...");
	struct cli_session cs;
	if (cli_session_open(&cs, LOCK_EX, true, "remove images"))
		return 1;
	rc = 0;
	for (int k = optind; k < argc; k++)
		rc |= remove_one(cs.s, &cs.images, cs.index, argv[k], force);
	struct errmsg e = { { 0 } };
	if (store_write_index(cs.s, cs.index, &e) < 0) {
		cli_session_close(&cs);
		return cli_fail("cannot remove images: %s", e.msg);
	}
	/* Layers and blobs no image uses any more go now. */
	struct gc_stats st;
	int r = gc_collect(cs.s, false, &st, &e);
	cli_session_close(&cs);
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
