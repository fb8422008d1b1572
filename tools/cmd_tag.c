/* layerctl tag [--git] IMAGE NAME[:TAG]   and   layerctl untag NAME:TAG... */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "commands.h"
#include "image_commit.h"
#include "images.h"
#include "refs.h"

/* The current git commit (12 hex digits), "-dirty" when the work tree has
 * changes. */
static int git_tag(char out[64])
{
	FILE *p = popen("git rev-parse --short=12 HEAD 2>/dev/null", "r");
	if (!p)
		return -errno;
	char line[64] = "";
	bool got = fgets(line, sizeof(line), p) != NULL;
	if (pclose(p) != 0 || !got)
		return -ENOENT;
	line[strcspn(line, "\n")] = '\0';
	p = popen("git status --porcelain --untracked-files=no 2>/dev/null", "r");
	char dirty[8] = "";
	bool is_dirty = p && fgets(dirty, sizeof(dirty), p) != NULL;
	if (p)
		pclose(p);
	snprintf(out, 64, "%s%s", line, is_dirty ? "-dirty" : "");
	return 0;
}

static int manifest_size(struct store *s, const char *digest, int64_t *size)
{
	struct stat st;
	if (fstatat(s->blobsfd, digest_hex(digest), &st, 0) < 0)
		return -errno;
	*size = st.st_size;
	return 0;
}

static const char *manifest_type(const struct image_info *i)
{
	const char *mt = json_get_str(i->manifest, "mediaType");
	return mt ? mt : MT_OCI_MANIFEST;
}

static int tag_run(int argc, char **argv)
{
	bool git = false;
	const struct cli_flag flags[] = { { "git", 0, &git }, { NULL, 0, NULL } };
	int rc = cli_parse(&cmd_tag, argc, argv, flags);
	if (rc >= 0)
		return rc;
	if (argc - optind != 2)
		return cli_usage_error(&cmd_tag, "expects IMAGE and NAME:TAG");
	const char *image = argv[optind], *want = argv[optind + 1];
	_cleanup_free_ char *withgit = NULL, *ref = NULL;
	if (git) {
		const char *slash = strrchr(want, '/');
		if (strchr(slash ? slash : want, ':'))
			return cli_usage_error(&cmd_tag, "with --git give NAME without a tag");
		char tag[64];
		int r = git_tag(tag);
		if (r < 0)
			return cli_fail("cannot tag '%s' with --git: no git commit in '.'", image);
		if (asprintf(&withgit, "%s:%s", want, tag) < 0)
			return cli_fail("out of memory");
		want = withgit;
	}
	struct errmsg e = { { 0 } };
	bool implicit;
	if (ref_normalize(want, &ref, &implicit, &e) < 0)
		return cli_usage_error(&cmd_tag, "%s", e.msg);
	if (!strcmp(ref_tag(ref), "latest"))
		cli_warn("tagging '%s': 'latest' is a moving target; prefer a version or commit tag", ref);
	struct cli_session cs;
	if (cli_session_open(&cs, LOCK_EX, true, "tag"))
		return 1;
	int idx = image_find(&cs.images, image, &e);
	int64_t size = 0;
	int r = idx;
	if (idx >= 0)
		r = manifest_size(cs.s, cs.images.v[idx].manifest_digest, &size);
	if (r >= 0)
		r = index_add_ref(cs.index, ref, cs.images.v[idx].manifest_digest,
				  manifest_type(&cs.images.v[idx]), size);
	if (r >= 0)
		r = store_write_index(cs.s, cs.index, &e);
	cli_session_close(&cs);
	if (r < 0)
		return cli_fail("cannot tag '%s' as '%s': %s", image, ref, err_text(&e, r));
	return 0;
}

const struct command cmd_tag = {
	"tag", tag_run, "give an image a name",
	"Usage: layerctl tag [--root DIR] IMAGE NAME[:TAG]\n"
	"       layerctl tag [--root DIR] --git IMAGE NAME\n\n"
	"Name IMAGE NAME:TAG (the name moves from any other image).  A tag that\n"
	"looks like a version must be semver (MAJOR.MINOR.PATCH[-PRERELEASE], an\n"
	"optional leading v).  Without a tag, and for 'latest', layerctl warns that\n"
	"'latest' is a moving target.  --git tags with the current git commit\n"
	"(12 hex digits, '-dirty' when the work tree has changes).\n",
};

static int untag_run(int argc, char **argv)
{
	int rc = cli_parse(&cmd_untag, argc, argv, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind < 1)
		return cli_usage_error(&cmd_untag, "expects NAME:TAG...");
	struct cli_session cs;
	if (cli_session_open(&cs, LOCK_EX, true, "untag"))
		return 1;
	struct json *index = cs.index;
	struct image_list *l = &cs.images;
	struct errmsg e = { { 0 } };
	rc = 0;
	for (int k = optind; k < argc; k++) {
		const char *name = argv[k];
		_cleanup_free_ char *withtag = NULL;
		const char *slash = strrchr(name, '/');
		if (!strchr(slash ? slash : name, ':') && asprintf(&withtag, "%s:latest", name) >= 0)
			name = withtag;
		int idx = image_find(l, name, &e);
		e.msg[0] = '\0';
		if (idx < 0 || index_remove_ref(index, name) == 0) {
			rc = cli_fail("cannot untag '%s': no image has that name", argv[k]);
			continue;
		}
		/* The image stays, untagged, until rm or gc. */
		int64_t size = 0;
		manifest_size(cs.s, l->v[idx].manifest_digest, &size);
		int r = index_add_ref(index, NULL, l->v[idx].manifest_digest, manifest_type(&l->v[idx]), size);
		if (r < 0)
			rc = cli_fail("cannot untag '%s': %s", argv[k], strerror(-r));
	}
	if (store_write_index(cs.s, index, &e) < 0)
		rc = cli_fail("cannot untag: %s", e.msg);
	cli_session_close(&cs);
	return rc;
}

const struct command cmd_untag = {
	"untag", untag_run, "remove names from images",
	"Usage: layerctl untag [--root DIR] NAME:TAG...\n\n"
	"Remove each name.  An image left without names stays in the store as\n"
	"<none> until 'layerctl rm' removes it.\n",
};
