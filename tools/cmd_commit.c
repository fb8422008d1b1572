/* layerctl commit CONTAINER NAME:TAG; layerctl squash IMAGE NAME:TAG */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "changes.h"
#include "cleanup.h"
#include "commands.h"
#include "container_changes.h"
#include "container_freeze.h"
#include "ctl_common.h"
#include "fsutil.h"
#include "image_build.h"
#include "images.h"
#include "layer_tar.h"
#include "refs.h"
#include "stream_pipe.h"

static const char commit_usage[] =
"Usage: layerctl commit [OPTIONS] CONTAINER NAME[:TAG]\n"
"\n"
"Store the container's changes as one new layer over its image, and a new\n"
"image NAME:TAG: the image's config with the layer's DiffID and a history\n"
"entry added, a new manifest, the name in index.json.  A running container\n"
"is stopped (SIGSTOP) while its changes are read, then resumed.\n"
"\n"
"  -m, --message TEXT    the history entry's comment\n"
"  -a, --author TEXT     the image's author\n"
"      --compress ALG    gzip (default), zstd or none\n"
"      --timestamp T     clamp every time to T (seconds since the epoch;\n"
"                        default $SOURCE_DATE_EPOCH): the same changes then\n"
"                        give the same digests\n"
"      --squash          the whole root filesystem as the only layer\n"
"      --help            this text\n";

static const char squash_usage[] =
"Usage: layerctl squash [OPTIONS] IMAGE NAME[:TAG]\n"
"\n"
"Store IMAGE with its layers from the N-th (0 = the base) on merged into one\n"
"as NAME:TAG.\n"
"\n"
"      --from N          the first layer merged (default 0: all of them)\n"
"  -m, --message TEXT    the history entry's comment\n"
"  -a, --author TEXT     the image's author\n"
"      --compress ALG    gzip (default), zstd or none\n"
"      --timestamp T     clamp every time to T (default $SOURCE_DATE_EPOCH)\n"
"      --help            this text\n";

struct commit_args {
	const char *message, *author;
	struct tar_opts tar;
	bool squash;
	long from;
	char *ref;
};

static int parse_int(const char *s, long long min, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || !*s || *end || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse(int argc, char **argv, const char *cmd, const char *usage, struct commit_args *a)
{
	static const struct option opts[] = {
		{ "message", required_argument, NULL, 'm' }, { "author", required_argument, NULL, 'a' },
		{ "compress", required_argument, NULL, 'c' }, { "timestamp", required_argument, NULL, 't' },
		{ "squash", no_argument, NULL, 's' }, { "from", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *ts = getenv("SOURCE_DATE_EPOCH");
	bool is_commit = !strcmp(cmd, "commit");
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+m:a:", opts, NULL)) != -1) {
		long long v;
		if (c == 'h')
			return fputs(usage, stdout), 0;
		if (c == 'm')
			a->message = optarg;
		else if (c == 'a')
			a->author = optarg;
		else if (c == 'c' && tar_compress_parse(optarg, &a->tar.compress) < 0)
			return ctl_usage(cmd, "--compress takes gzip, zstd or none, not '%s'", optarg);
		else if (c == 't')
			ts = optarg;
		else if (c == 's' && is_commit)
			a->squash = true;
		else if (c == 'f' && !is_commit && parse_int(optarg, 0, &v) == 0)
			a->from = (long)v;
		else if (c == 'f' && !is_commit)
			return ctl_usage(cmd, "--from takes a layer number, not '%s'", optarg);
		else if (c != 'c')
			return ctl_usage(cmd, "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 2)
		return ctl_usage(cmd, "expects %s NAME[:TAG]", is_commit ? "CONTAINER" : "IMAGE");
	if (ts && *ts) {
		long long v;
		if (parse_int(ts, 0, &v) < 0)
			return ctl_usage(cmd, "the timestamp must be seconds since the epoch, not '%s'", ts);
		a->tar.clamp = true;
		a->tar.timestamp = v;
	}
	struct errmsg e = { { 0 } };
	bool implicit;
	if (ref_normalize(argv[optind + 1], &a->ref, &implicit, &e) < 0)
		return ctl_fail("bad image name '%s': %s", argv[optind + 1], e.msg);
	return -1;
}

/* What commit and squash share: a temp directory, the layer, the image. */
struct job {
	struct store *s;
	char *tmpname;
	int tmpfd;
	struct image_list images;
	const struct image_info *base;
};

static void job_end(struct job *j)
{
	if (j->tmpname)
		rm_rf_at(j->s->tmpfd, j->tmpname, NULL);
	free(j->tmpname);
	if (j->tmpfd >= 0)
		close(j->tmpfd);
	images_free(&j->images);
	store_close(j->s);
}

/* Open the store, take a temp directory and find the image BASE. */
static int job_start(struct job *j, const char *base, const char *what)
{
	memset(j, 0, sizeof(*j));
	j->tmpfd = -1;
	_cleanup_free_ char *root = NULL;
	struct errmsg e = { { 0 } };
	if (ctl_store_root(&root))
		return 1;
	int r = store_open(root, false, &j->s, &e);
	if (r < 0)
		return ctl_fail("cannot %s: %s", what, err_text(&e, r));
	if ((r = store_lock(j->s, LOCK_EX, &e)) < 0)
		return ctl_fail("cannot %s: %s", what, err_text(&e, r));
	store_clean_temp(j->s, false, NULL, NULL);
	r = store_mktemp(j->s, "commit", &j->tmpname, &j->tmpfd, &e);
	if (r == 0)
		r = images_load(j->s, &j->images, &e);
	int idx = r < 0 ? r : image_find(&j->images, base, &e);
	store_unlock(j->s);
	if (idx < 0)
		return ctl_fail("cannot %s: %s", what, err_text(&e, idx));
	j->base = &j->images.v[idx];
	if (j->base->broken)
		return ctl_fail("cannot %s: image '%s' cannot be read: %s", what, base, j->base->broken);
	return 0;
}

/* The layer of CS, through the import machinery into the temp directory. */
static int make_layer(struct job *j, const struct change_set *cs, const struct tar_opts *o,
		      struct layer_result *res, struct errmsg *e)
{
	struct tar_gen *g = NULL;
	struct stream_pipe *pipe = NULL;
	int r = tar_gen_new(cs, o, &g, e);
	if (r == 0 && (r = tar_gen_start(g, &pipe)) < 0)
		err_sys(e, r, "cannot start writing the layer");
	if (r == 0) {
		struct byte_source src = { tar_pipe_next, pipe };
		r = layer_import(&src, j->tmpfd, "the new layer", 0, res, e);
		int q = spipe_finish(pipe, r < 0, e);
		r = r < 0 ? r : q;
	}
	tar_gen_free(g);
	return r;
}

static int store_image(struct job *j, const struct layer_result *layer, const struct commit_args *a,
		       size_t keep, const char *created_by, const char *what)
{
	struct build_opts bo = {
		.ref = a->ref, .message = a->message, .author = a->author, .created_by = created_by,
		.created = a->tar.clamp ? a->tar.timestamp : (int64_t)time(NULL), .keep = keep,
	};
	char digest[DIGEST_STR_LEN + 1] = "";
	struct errmsg e = { { 0 } };
	int r = image_build_commit(j->s, j->tmpfd, j->base, layer, &bo, digest, &e);
	if (r < 0)
		return ctl_fail("cannot %s: %s", what, err_text(&e, r));
	if (!cli.quiet)
		fprintf(stderr, "layer %s (%llu bytes), image %s\n", layer->diff_id,
			(unsigned long long)layer->blob_size, a->ref);
	printf("%s\n", digest);
	return 0;
}

static int commit_container(const char *ref, struct commit_args *a)
{
	_cleanup_free_ char *root = NULL, *cdir = NULL, *what = NULL;
	if (asprintf(&what, "commit container '%s'", ref) < 0)
		return ctl_fail("out of memory");
	if (ctl_store_root(&root) || ctl_find_container(root, ref, &cdir))
		return 1;
	struct container_record rec = { 0 };
	int r = container_read_record(cdir, &rec);
	if (r < 0)
		return ctl_fail("cannot read the record of container '%s': %s", ref, strerror(-r));
	if (!rec.image) {
		container_record_free(&rec);
		return ctl_fail("cannot %s: it runs a directory (--rootfs), not an image", what);
	}
	struct job j;
	if (job_start(&j, rec.image, what)) {
		container_record_free(&rec);
		job_end(&j);
		return 1;
	}
	int code;
	pid_t mon = 0, init = 0;
	struct frozen fr = { 0 };
	if (container_state(cdir, &code, &mon, &init) == CONTAINER_RUNNING && init > 0 &&
	    (r = container_freeze(init, &fr)) < 0)
		ctl_warn("cannot stop container '%s' while reading it: %s", ref, strerror(-r));
	struct change_set cs = { 0 };
	struct layer_result layer = { 0 };
	struct errmsg e = { { 0 } };
	r = container_changes(cdir, &rec, true, a->squash, &cs, &e);
	if (r == 0)
		r = make_layer(&j, &cs, &a->tar, &layer, &e);
	container_thaw(&fr);
	change_set_free(&cs);
	container_record_free(&rec);
	int rc = r < 0 ? ctl_fail("cannot %s: %s", what, err_text(&e, r))
		       : store_image(&j, &layer, a, a->squash ? 0 : j.base->nlayers,
				     a->squash ? "layerctl commit --squash" : "layerctl commit", what);
	job_end(&j);
	return rc;
}

int cmd_commit(int argc, char **argv)
{
	struct commit_args a = { 0 };
	int rc = parse(argc, argv, "commit", commit_usage, &a);
	if (rc < 0)
		rc = commit_container(argv[optind], &a);
	free(a.ref);
	return rc;
}

static int squash_image(const char *image, struct commit_args *a)
{
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "squash '%s'", image) < 0)
		return ctl_fail("out of memory");
	struct job j;
	if (job_start(&j, image, what)) {
		job_end(&j);
		return 1;
	}
	size_t n = j.base->nlayers;
	if ((size_t)a->from >= n) {
		job_end(&j);
		return ctl_fail("cannot %s: it has %zu layers, --from must be below that", what, n);
	}
	/* Its layer trees, top first; the changes are those of layers
	 * FROM.. over the layers below them. */
	char **lowers = calloc(n + 1, sizeof(*lowers));
	int r = lowers ? 0 : -ENOMEM;
	for (size_t k = 0; r == 0 && k < n; k++)
		if (asprintf(&lowers[k], "%s/layers/%s/tree", j.s->root,
			     digest_hex(j.base->layers[n - 1 - k].diff_id)) < 0)
			r = -ENOMEM;
	struct change_opts o = {
		.lowerdirs = lowers, .nlower = n, .old_from = n - (size_t)a->from, .keep_links = true,
	};
	struct change_set cs = { 0 };
	struct layer_result layer = { 0 };
	struct errmsg e = { { 0 } };
	if (r == 0)
		r = changes_collect(&o, &cs, &e);
	if (r == 0)
		r = make_layer(&j, &cs, &a->tar, &layer, &e);
	change_set_free(&cs);
	strv_free(lowers);
	int rc = r < 0 ? ctl_fail("cannot %s: %s", what, err_text(&e, r))
		       : store_image(&j, &layer, a, (size_t)a->from, "layerctl squash", what);
	job_end(&j);
	return rc;
}

int cmd_squash(int argc, char **argv)
{
	struct commit_args a = { 0 };
	int rc = parse(argc, argv, "squash", squash_usage, &a);
	if (rc < 0)
		rc = squash_image(argv[optind], &a);
	free(a.ref);
	return rc;
}
