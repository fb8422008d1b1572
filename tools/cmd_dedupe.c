/* layerctl dedupe [--hardlink|--reflink] [--dry-run] [--json] */
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "commands.h"
#include "dedupe.h"
#include "dedupe_cli.h"

static void print_group(void *arg, const char *action, uint64_t size, const char *const *paths, size_t n)
{
	(void)arg;
	char sz[32];
	printf("%s %s, %zu names:\n", action, cli_size(size, sz), n);
	for (size_t k = 0; k < n; k++)
		printf("  %s %s\n", k ? "=" : "*", paths[k]);
}

static int put(struct json *o, const char *k, uint64_t v)
{
	return json_set_int(o, k, (int64_t)v);
}

static int print_json(const struct dedupe_opts *o, const struct dedupe_stats *st)
{
	_cleanup_json_ struct json *j = json_new_object();
	int r = j ? 0 : -1;
	if (!r) r = json_object_set(j, "dry_run", json_new_bool(o->dry_run));
	if (!r) r = json_set_str(j, "mode", o->mode == DEDUPE_REFLINK ? "reflink" : "hardlink");
	if (!r) r = put(j, "layers", st->layers);
	if (!r) r = put(j, "new_layers", st->new_layers);
	if (!r) r = put(j, "files", st->files);
	if (!r) r = put(j, "files_scanned", st->files_scanned);
	if (!r) r = put(j, "partial_hashed", st->partial_hashed);
	if (!r) r = put(j, "files_hashed", st->files_hashed);
	if (!r) r = put(j, "bytes_hashed", st->bytes_hashed);
	if (!r) r = put(j, "groups", st->groups);
	if (!r) r = put(j, "files_linked", st->files_linked);
	if (!r) r = put(j, "bytes_saved", st->bytes_saved);
	if (!r) r = put(j, "disk_saved", st->disk_saved);
	if (!r) r = put(j, "separate", st->separate);
	if (!r) r = put(j, "files_reflinked", st->files_reflinked);
	if (!r) r = put(j, "bytes_reflinked", st->bytes_reflinked);
	if (!r) r = put(j, "reflink_unsupported", st->reflink_unsupported);
	if (!r) r = put(j, "compare_differ", st->compare_differ);
	if (!r) r = put(j, "skipped", st->skipped);
	if (r < 0)
		return cli_fail("out of memory");
	return cli_print_json(j) ? 1 : 0;
}

void dedupe_print_summary(const struct dedupe_opts *o, const struct dedupe_stats *st)
{
	char a[32], b[32];
	const char *would = o->dry_run ? "would " : "";
	printf("%slink %llu files in %llu groups: %ssave %s (%s on disk)\n", would,
	       (unsigned long long)st->files_linked, (unsigned long long)st->groups, would,
	       cli_size(st->bytes_saved, a), cli_size(st->disk_saved, b));
	if (o->mode == DEDUPE_REFLINK && (st->files_reflinked || o->dry_run))
		printf("%sshare extents of %llu files (%s)\n", would,
		       (unsigned long long)st->files_reflinked, cli_size(st->bytes_reflinked, a));
	else if (o->mode != DEDUPE_REFLINK && st->separate && !cli.quiet)
		printf("%llu files of equal content stay apart (their metadata differ, or they are "
		       "in one layer); --reflink shares their extents where the filesystem can\n",
		       (unsigned long long)st->separate);
	if (!cli.quiet)
		printf("read %llu of %llu files (%llu new layers of %llu), hashed %llu (%s)\n",
		       (unsigned long long)st->files_scanned, (unsigned long long)st->files,
		       (unsigned long long)st->new_layers, (unsigned long long)st->layers,
		       (unsigned long long)st->files_hashed, cli_size(st->bytes_hashed, a));
}

void dedupe_warn(const struct dedupe_stats *st, const char *root)
{
	if (st->reflink_unsupported)
		cli_warn("the filesystem of '%s' cannot share extents (FIDEDUPERANGE: %s): "
			 "%llu files of equal content but different metadata were not shared",
			 root, strerror(st->reflink_errno), (unsigned long long)st->reflink_unsupported);
	if (st->compare_differ)
		cli_warn("%llu files with equal hashes differ in content: left apart",
			 (unsigned long long)st->compare_differ);
	if (st->skipped)
		cli_warn("%llu files changed while read or could not be joined: left as they are",
			 (unsigned long long)st->skipped);
}

static int run(int argc, char **argv)
{
	bool json = false, dry = false, hardlink = false, reflink = false;
	const struct cli_flag flags[] = {
		{ "json", 0, &json }, { "dry-run", 'n', &dry },
		{ "hardlink", 0, &hardlink }, { "reflink", 0, &reflink }, { NULL, 0, NULL },
	};
	int rc = cli_parse(&cmd_dedupe, argc, argv, flags);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return cli_usage_error(&cmd_dedupe, "takes no arguments");
	if (hardlink && reflink)
		return cli_usage_error(&cmd_dedupe, "--hardlink and --reflink exclude each other");
	_cleanup_store_ struct store *s = NULL;
	if (cli_open_store(true, &s))
		return 1;
	struct cli_progress prog = { 0 };
	struct dedupe_opts o = {
		.mode = reflink ? DEDUPE_REFLINK : DEDUPE_HARDLINK, .dry_run = dry,
		.group = dry && !json ? print_group : NULL,
		.progress = cli_progress_update, .progress_arg = &prog,
	};
	struct dedupe_stats st;
	struct errmsg e = { { 0 } };
	int r = dedupe_run(s, &o, &st, &e);
	cli_progress_end(&prog);
	if (r < 0)
		return cli_fail("cannot dedupe '%s': %s", s->root, err_text(&e, r));
	dedupe_warn(&st, s->root);
	if (json)
		return print_json(&o, &st);
	dedupe_print_summary(&o, &st);
	return 0;
}

const struct command cmd_dedupe = {
	"dedupe", run, "share the storage of identical files across layers",
	"Usage: layerctl dedupe [--root DIR] [--hardlink|--reflink] [--dry-run] [--json]\n\n"
	"Find regular files of equal content in the store's layers (by size, a\n"
	"partial hash, a full XXH3-128 hash, then a byte comparison) and make them\n"
	"share storage.  --hardlink (the default) makes files of different layers\n"
	"whose mode, owner, mtime and xattrs are equal one inode; the rest stay\n"
	"apart.  --reflink does the same and makes the rest share extents\n"
	"(FIDEDUPERANGE: XFS with reflink, btrfs), each keeping its own metadata.\n"
	"An index (STORE/dedupe/index) makes a later run read only new layers.\n"
	"Containers' own files are never touched.\n\n"
	"--dry-run lists the groups it would join and the bytes it would save.\n"
	"--json prints {dry_run, mode, layers, new_layers, files, files_scanned,\n"
	"partial_hashed, files_hashed, bytes_hashed, groups, files_linked,\n"
	"bytes_saved, disk_saved, separate, files_reflinked, bytes_reflinked,\n"
	"reflink_unsupported, compare_differ, skipped}.\n",
};
