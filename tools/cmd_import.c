/* layerctl import FILE|DIR|- [NAME:TAG] */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "commands.h"
#include "dedupe_cli.h"
#include "import.h"
#include "refs.h"

/* --dedupe: the new layers against the dedupe index. */
static int import_dedupe(struct store *s)
{
	struct dedupe_opts o = { .mode = DEDUPE_HARDLINK };
	struct dedupe_stats st;
	struct errmsg e = { { 0 } };
	int r = dedupe_run(s, &o, &st, &e);
	if (r < 0)
		return cli_fail("imported, but cannot dedupe: %s", err_text(&e, r));
	dedupe_warn(&st, s->root);
	if (!cli.quiet)
		dedupe_print_summary(&o, &st);
	return 0;
}

static int run(int argc, char **argv)
{
	bool dedupe = false;
	const struct cli_flag flags[] = { { "dedupe", 0, &dedupe }, { NULL, 0, NULL } };
	int rc = cli_parse(&cmd_import, argc, argv, flags);
	if (rc >= 0)
		return rc;
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_error(&cmd_import, "expects FILE|DIR|- and an optional NAME:TAG");
	const char *input = argv[optind];
	_cleanup_free_ char *name = NULL;
	struct errmsg e = { { 0 } };
	if (optind + 1 < argc) {
		bool implicit;
		int r = ref_normalize(argv[optind + 1], &name, &implicit, &e);
		if (r < 0)
			return cli_usage_error(&cmd_import, "%s", e.msg);
		if (implicit || !strcmp(ref_tag(name), "latest"))
			cli_warn("tagging '%s': 'latest' is a moving target; prefer a version or commit tag",
				 name);
	}
	_cleanup_store_ struct store *s = NULL;
	if (cli_open_store(true, &s))
		return 1;
	struct cli_progress prog = { 0 };
	struct stat st;
	if (strcmp(input, "-") && stat(input, &st) == 0 && S_ISREG(st.st_mode))
		prog.total = (uint64_t)st.st_size;
	struct import_opts o = { .name = name, .prog = { cli_progress_update, &prog } };
	struct import_result res = { 0 };
	int r = import_path(s, input, &o, &res, &e);
	cli_progress_end(&prog);
	if (r < 0)
		return cli_fail("cannot import '%s': %s", input, err_text(&e, r));
	for (size_t k = 0; k < res.n; k++) {
		char id[16];
		const struct imported_image *img = &res.img[k];
		printf("%s", cli_short_id(img->config_digest, id));
		for (char **p = img->refs; p && *p; p++)
			printf(" %s", *p);
		if (!cli.quiet)
			printf("  (%s, %zu layers, %zu new)", res.kind, img->nlayers, img->new_layers);
		putchar('\n');
	}
	import_result_free(&res);
	return dedupe ? import_dedupe(s) : 0;
}

const struct command cmd_import = {
	"import", run, "import an image or a layer into the store",
	"Usage: layerctl import [--root DIR] [--quiet] [--dedupe] FILE|DIR|- [NAME:TAG]\n\n"
	"Import by content: a layer (tar, tar+gzip, tar+zstd), a docker-save archive,\n"
	"an OCI image layout directory or an oci-archive tar.  '-' reads standard\n"
	"input.  Every digest the input gives is checked while reading.  NAME:TAG\n"
	"names the image (the input must then hold one image).  --dedupe then\n"
	"shares the storage of the new layers' files with identical files of the\n"
	"store (as 'layerctl dedupe', reading only layers it has not read before).\n\n"
	"Prints the image id and names.  Exit 0 on success, 1 on failure, 2 on\n"
	"bad usage.\n",
};
