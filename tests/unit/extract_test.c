/* Safe extraction: name normalisation, and that a layer can never write
 * through a symlink or hardlink outside its tree. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "../../lib/extract.h"
#include "../../lib/fsutil.h"
#include "tap.h"

static const char *normalized(const char *in)
{
	static char *last;
	free(last);
	last = NULL;
	if (normalize_entry_path(in, &last) < 0)
		return "(refused)";
	return last;
}

struct ent { const char *name; int type; const char *data; const char *link; int hard; };

/* Build a tar in memory and extract it into a fresh directory. */
static int extract(const struct ent *ents, size_t n, int *rootfd, struct layer_manifest *m,
		   char *msg, size_t msglen)
{
	static char buf[1 << 16];
	size_t used = 0;
	struct archive *w = archive_write_new();
	archive_write_set_format_pax(w);
	archive_write_open_memory(w, buf, sizeof(buf), &used);
	for (size_t k = 0; k < n; k++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, ents[k].name);
		archive_entry_set_perm(ae, 0644);
		if (ents[k].hard) {
			archive_entry_set_hardlink(ae, ents[k].link);
		} else {
			archive_entry_set_filetype(ae, (unsigned)ents[k].type);
			if (ents[k].link)
				archive_entry_set_symlink(ae, ents[k].link);
			if (ents[k].data)
				archive_entry_set_size(ae, (la_int64_t)strlen(ents[k].data));
		}
		archive_write_header(w, ae);
		if (ents[k].data)
			archive_write_data(w, ents[k].data, strlen(ents[k].data));
		archive_entry_free(ae);
	}
	archive_write_close(w);
	archive_write_free(w);

	char tmpl[] = "/tmp/extract-test.XXXXXX";
	if (!mkdtemp(tmpl))
		return -errno;
	*rootfd = open(tmpl, O_RDONLY | O_DIRECTORY);
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_open_memory(a, buf, used);
	struct extract_stats st = { 0 };
	struct errmsg e = { { 0 } };
	int r = extract_layer(a, *rootfd, m, &st, &e);
	archive_read_free(a);
	snprintf(msg, msglen, "%s", e.msg);
	return r;
}

static void done(int rootfd, struct layer_manifest *m)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rootfd);
	char real[4096];
	ssize_t n = readlink(path, real, sizeof(real) - 1);
	if (n > 0) {
		real[n] = '\0';
		rm_rf_at(AT_FDCWD, real, NULL);
	}
	close(rootfd);
	lm_free(m);
}

int main(void)
{
	is_str(normalized("./a/b"), "a/b", "./ prefix");
	is_str(normalized("/a//b/"), "a/b", "absolute and doubled slashes");
	is_str(normalized("a/./b"), "a/b", "dot components");
	is_str(normalized("./"), "", "the root");
	is_str(normalized("../a"), "(refused)", "leading ..");
	is_str(normalized("a/../../b"), "(refused)", "inner ..");
	is_str(normalized("a/..b/c.."), "a/..b/c..", "dots inside names are names");

	int fd;
	char msg[1024];
	struct layer_manifest m = { 0 };
	const struct ent ok1[] = {
		{ "dir/", AE_IFDIR, NULL, NULL, 0 },
		{ "dir/file", AE_IFREG, "hello", NULL, 0 },
		{ "dir/link", AE_IFLNK, NULL, "/etc/passwd", 0 },
		{ "dir/hard", 0, NULL, "dir/file", 1 },
		{ "implicit/parent/file", AE_IFREG, "x", NULL, 0 },
	};
	is_int(extract(ok1, 5, &fd, &m, msg, sizeof(msg)), 0, "a plain layer extracts (%s)", msg);
	struct stat a, b;
	ok(fstatat(fd, "dir/file", &a, 0) == 0 && fstatat(fd, "dir/hard", &b, 0) == 0 &&
	   a.st_ino == b.st_ino, "hardlink inside the layer");
	struct layer_entry *le = lm_find(&m, "dir/file");
	is_str(le ? le->digest : NULL,
	       "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
	       "content digest recorded");
	ok(lm_find(&m, "implicit/parent") != NULL, "implicit parents are recorded");
	is_int(lm_count(&m), 7, "every entry is in the manifest");
	done(fd, &m);

	const struct ent esc[] = {
		{ "link", AE_IFLNK, NULL, "/tmp", 0 },
		{ "link/extract-test-escape", AE_IFREG, "pwned", NULL, 0 },
	};
	is_int(extract(esc, 2, &fd, &m, msg, sizeof(msg)), -EPERM, "a write through a symlink is refused: %s", msg);
	ok(access("/tmp/extract-test-escape", F_OK) != 0, "nothing was written outside");
	done(fd, &m);

	const struct ent hard[] = { { "h", 0, NULL, "/etc/passwd", 1 } };
	is_int(extract(hard, 1, &fd, &m, msg, sizeof(msg)), -EPERM, "a hardlink out of the layer is refused: %s", msg);
	done(fd, &m);

	const struct ent dup[] = {
		{ "a", AE_IFREG, "one", NULL, 0 },
		{ "a", AE_IFREG, "two", NULL, 0 },
		{ "d/", AE_IFDIR, NULL, NULL, 0 },
		{ "d/x", AE_IFREG, "x", NULL, 0 },
		{ "d", AE_IFREG, "file now", NULL, 0 },
	};
	is_int(extract(dup, 5, &fd, &m, msg, sizeof(msg)), 0, "duplicates extract (%s)", msg);
	char got[16] = "";
	int f = openat(fd, "a", O_RDONLY);
	ssize_t n = f >= 0 ? read(f, got, sizeof(got) - 1) : -1;
	ok(n == 3 && !strcmp(got, "two"), "the later entry wins");
	if (f >= 0)
		close(f);
	ok(lm_find(&m, "d/x") == NULL && lm_find(&m, "d") && S_ISREG(lm_find(&m, "d")->mode),
	   "a directory replaced by a file drops its children from the manifest");
	done(fd, &m);
	normalized("");
	return tap_done();
}
