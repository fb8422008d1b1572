/* layerctl verify [IMAGE|LAYER] */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "commands.h"
#include "images.h"
#include "verify.h"

static void print_problem(void *arg, const char *object, const char *what)
{
	(void)arg;
	fprintf(stderr, "layerctl: verify: '%s': %s\n", object, what);
}

static int verify_image(struct store *s, const struct image_info *i, struct verify_report *rep)
{
	if (i->broken && rep->problem) {
		rep->problems++;
		rep->problem(rep->arg, i->manifest_digest, i->broken);
	}
	int r = verify_blob(s, i->manifest_digest, rep);
	if (r == 0 && i->config_digest[0])
		r = verify_blob(s, i->config_digest, rep);
	for (size_t k = 0; r == 0 && k < i->nlayers; k++) {
		r = verify_blob(s, i->layers[k].blob_digest, rep);
		if (r == 0)
			r = verify_layer(s, i->layers[k].diff_id, rep);
	}
	return r;
}

static int verify_one(struct store *s, const char *q, struct verify_report *rep)
{
	struct errmsg e = { { 0 } };
	struct image_list l = { 0 };
	int r = images_load(s, &l, &e);
	if (r < 0)
		return cli_fail("cannot verify '%s': %s", q, err_text(&e, r));
	int idx = image_find(&l, q, &e);
	char diff[DIGEST_STR_LEN + 1];
	struct errmsg le = { { 0 } };
	if (idx >= 0)
		r = verify_image(s, &l.v[idx], rep);
	else if (layer_find(s, &l, q, diff, &le) == 0)
		r = verify_layer(s, diff, rep);
	else {
		cli_fail("cannot verify '%s': no such image or layer", q);
		r = -ENOENT;
	}
	images_free(&l);
	if (r == -ENOENT && idx < 0)
		return 1;
	if (r < 0)
		return cli_fail("cannot verify '%s': %s", q, strerror(-r));
	return 0;
}

static int run(int argc, char **argv)
{
	int rc = cli_parse(&cmd_verify, argc, argv, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage_error(&cmd_verify, "expects at most one IMAGE or LAYER");
	_cleanup_store_ struct store *s = NULL;
	if (cli_open_store(true, &s))
		return 1;
	struct errmsg e = { { 0 } };
	struct verify_report rep = { print_problem, NULL, 0, 0 };
	int r = store_lock(s, LOCK_SH, &e);
	if (r < 0)
		return cli_fail("%s", e.msg);
	if (optind < argc) {
		rc = verify_one(s, argv[optind], &rep);
		if (rc)
			return rc;
	} else if ((r = verify_store(s, &rep, &e)) < 0) {
		return cli_fail("%s", err_text(&e, r));
	}
	if (rep.problems)
		return cli_fail("verify found %llu problem%s in '%s'", (unsigned long long)rep.problems,
				rep.problems == 1 ? "" : "s", s->root);
	if (!cli.quiet)
		printf("ok: %llu objects checked\n", (unsigned long long)rep.checked);
	return 0;
}

const struct command cmd_verify = {
	"verify", run, "check blobs and extracted layers",
	"Usage: layerctl verify [--root DIR] [IMAGE|LAYER]\n\n"
	"Re-hash blobs against their digests and compare extracted layer trees\n"
	"with their recorded manifests (type, mode, owner, size, content, link\n"
	"target, device numbers, mtimes of non-directories; the override_stat\n"
	"xattr counts as the truth where present).  Without an argument, checks\n"
	"the whole store.  Every difference is reported on stderr; the exit\n"
	"status is 1 when there is any.\n",
};
