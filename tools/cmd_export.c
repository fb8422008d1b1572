/* layerctl export IMAGE --format oci|oci-archive|docker-archive -o PATH */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "export.h"

/* The names to record: the one IMAGE was given by, else all the image's. */
static char **export_refs(const struct image_info *img, const char *query)
{
	char **v = calloc(img->nrefs + 1, sizeof(*v));
	if (!v)
		return NULL;
	_cleanup_free_ char *withtag = NULL;
	const char *slash = strrchr(query, '/');
	if (!strchr(slash ? slash : query, ':') && asprintf(&withtag, "%s:latest", query) < 0)
		withtag = NULL;
	for (size_t k = 0; k < img->nrefs; k++)
		if (!strcmp(img->refs[k], query) || (withtag && !strcmp(img->refs[k], withtag))) {
			v[0] = img->refs[k];
			return v;
		}
	for (size_t k = 0; k < img->nrefs; k++)
		v[k] = img->refs[k];
	return v;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "root", required_argument, NULL, 'R' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = NULL, *path = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'o': path = optarg; break;
		case 'R': cli.root = optarg; break;
		case 'q': cli.quiet = true; break;
		case 'h': fputs(cmd_export.usage, stdout); return 0;
		default:
			fprintf(stderr, "Try 'layerctl export --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_export, "expects one IMAGE");
	if (!format)
		return cli_usage_error(&cmd_export, "give --format oci, oci-archive or docker-archive");
	struct export_opts o = { .path = path };
	if (export_format_parse(format, &o.format) < 0)
		return cli_usage_error(&cmd_export, "unknown format '%s' (oci, oci-archive or "
				       "docker-archive)", format);
	if (!path || !path[0])
		return cli_usage_error(&cmd_export, "give the output path with -o PATH ('-' for "
				       "standard output)");
	if (!strcmp(path, "-") && o.format == EXPORT_OCI)
		return cli_usage_error(&cmd_export, "the oci format is a directory; '-o -' needs "
				       "oci-archive or docker-archive");
	if (!strcmp(path, "-") && isatty(STDOUT_FILENO))
		return cli_fail("not writing an archive to a terminal; redirect standard output");
	const char *image = argv[optind];
	struct cli_session cs;
	/* The shared lock for the whole export: no rm or gc removes a blob
	 * while it is being copied. */
	if (cli_session_open(&cs, LOCK_SH, false, "export"))
		return 1;
	struct errmsg e = { { 0 } };
	int idx = image_find(&cs.images, image, &e);
	int r = idx;
	_cleanup_free_ char **refs = NULL;
	if (idx >= 0) {
		refs = export_refs(&cs.images.v[idx], image);
		o.refs = refs;
		r = refs ? export_image(cs.s, &cs.images.v[idx], &o, &e) : -ENOMEM;
	}
	cli_session_close(&cs);
	if (r < 0)
		return cli_fail("cannot export '%s': %s", image, err_text(&e, r));
	return 0;
}

const struct command cmd_export = {
	"export", run, "write an image as an oci layout, oci-archive or docker-archive",
	"Usage: layerctl export [--root DIR] IMAGE --format FORMAT -o PATH\n\n"
	"Write IMAGE (name:tag, id or digest prefix) for other tools:\n"
	"  oci             an OCI image layout directory (skopeo oci:, umoci)\n"
	"  oci-archive     the same as a tar (skopeo oci-archive:, podman load)\n"
	"  docker-archive  a docker save archive, layers uncompressed (docker load,\n"
	"                  podman load, skopeo docker-archive:)\n"
	"The image is named as IMAGE names it, else by all its names.  Blobs are\n"
	"copied unchanged; the same image always gives the same bytes.  PATH must\n"
	"not exist (for oci it may be an empty directory); the output is written\n"
	"beside it and renamed into place when complete.  '-o -' writes an archive\n"
	"to standard output.\n\n"
	"Exit 0 on success, 1 on failure, 2 on bad usage.\n",
};
