/* layerctl diff CONTAINER [--json] | diff IMAGE1 IMAGE2 [--json] */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "container_changes.h"
#include "ctl_common.h"
#include "image_diff.h"
#include "json.h"
#include "strbuf.h"

static const char diff_usage[] =
"Usage: layerctl diff [--json] CONTAINER|IMAGE\n"
"       layerctl diff [--json] IMAGE1 IMAGE2\n"
"\n"
"List what changed, one line per path, sorted, as podman diff prints it:\n"
"A added, C changed (content, mode, owner, xattrs, mtime; a directory also\n"
"when something inside it changed), D deleted.  A container is compared with\n"
"its image (only its writable layer is read).  Images are compared by their\n"
"layers' records: IMAGE1 as a change of IMAGE2, one IMAGE as a change of\n"
"its layers below the top one.\n"
"\n"
"      --json    {\"added\": [...], \"changed\": [...], \"deleted\": [...]}\n"
"      --help    this text\n";

int diff_print(const struct diff_line *v, size_t n, bool json)
{
	if (!json) {
		for (size_t k = 0; k < n; k++)
			printf("%c /%s\n", v[k].kind, v[k].path);
		return fflush(stdout) == 0 ? 0 : ctl_fail("cannot write: %s", strerror(errno));
	}
	_cleanup_json_ struct json *o = json_new_object();
	static const struct { const char *key; char kind; } keys[] = {
		{ "added", 'A' }, { "changed", 'C' }, { "deleted", 'D' },
	};
	for (size_t j = 0; o && j < ARRAY_SIZE(keys); j++) {
		struct json *a = json_new_array();
		for (size_t k = 0; a && k < n; k++) {
			if (v[k].kind != keys[j].kind)
				continue;
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "/%s", v[k].path) < 0 || json_array_push(a, json_new_string(p)) < 0) {
				json_free(a);
				a = NULL;
			}
		}
		if (!a || json_object_set(o, keys[j].key, a) < 0)
			return ctl_fail("out of memory");
	}
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if (!o || json_write(o, 2, &sb) < 0 || sb_putc(&sb, '\n') < 0)
		return ctl_fail("out of memory");
	fputs(sb.s, stdout);
	return fflush(stdout) == 0 ? 0 : ctl_fail("cannot write: %s", strerror(errno));
}

static int diff_container(const char *root, const char *ref, bool json)
{
	_cleanup_free_ char *cdir = NULL;
	if (ctl_find_container(root, ref, &cdir))
		return 1;
	struct container_record rec = { 0 };
	int r = container_read_record(cdir, &rec);
	if (r < 0)
		return ctl_fail("cannot read the record of container '%s': %s", ref, strerror(-r));
	struct change_set cs;
	struct errmsg e = { { 0 } };
	r = container_changes(cdir, &rec, false, false, &cs, &e);
	container_record_free(&rec);
	if (r < 0)
		return ctl_fail("cannot diff container '%s': %s", ref, err_text(&e, r));
	_cleanup_free_ struct diff_line *v = calloc(cs.n + 1, sizeof(*v));
	if (!v) {
		change_set_free(&cs);
		return ctl_fail("out of memory");
	}
	for (size_t k = 0; k < cs.n; k++)
		v[k] = (struct diff_line){ cs.v[k].kind, cs.v[k].path };
	int rc = diff_print(v, cs.n, json);
	change_set_free(&cs);
	return rc;
}

/* IMAGE1 as a change of IMAGE2, or with B NULL what A's top layer changes
 * (podman diff IMAGE). */
int diff_images(const char *a, const char *b, bool json)
{
	struct cli_session cs;
	if (cli_session_open(&cs, LOCK_SH, false, "compare images"))
		return 1;
	struct errmsg e = { { 0 } };
	int ia = image_find(&cs.images, a, &e);
	int ib = ia < 0 || !b ? ia : image_find(&cs.images, b, &e);
	struct diff_line *v = NULL;
	size_t n = 0;
	int r = ia < 0 ? ia : ib < 0 ? ib
		: b ? image_diff(cs.s, &cs.images.v[ib], &cs.images.v[ia], &v, &n, &e)
		    : image_diff_top(cs.s, &cs.images.v[ia], &v, &n, &e);
	cli_session_close(&cs);
	if (r < 0 && !b)
		return ia < 0 ? ctl_fail("no container or image '%s'", a)
			      : ctl_fail("cannot diff '%s': %s", a, err_text(&e, r));
	if (r < 0)
		return ctl_fail("cannot compare '%s' and '%s': %s", a, b, err_text(&e, r));
	int rc = diff_print(v, n, json);
	diff_lines_free(v, n);
	return rc;
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	bool json = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h')
			return fputs(diff_usage, stdout), 0;
		else
			return ctl_usage("diff", "unknown option '%s'", argv[optind - 1]);
	}
	int n = argc - optind;
	if (n < 1 || n > 2)
		return ctl_usage("diff", "expects CONTAINER, or IMAGE1 IMAGE2");
	_cleanup_free_ char *root = NULL;
	if (ctl_store_root(&root))
		return 1;
	if (n == 1) {
		_cleanup_free_ char *cdir = NULL;
		struct msgbuf m = { { 0 } };
		if (container_find(root, argv[optind], &cdir, &m) < 0)
			return diff_images(argv[optind], NULL, json);
		return diff_container(root, argv[optind], json);
	}
	return diff_images(argv[optind], argv[optind + 1], json);
}
