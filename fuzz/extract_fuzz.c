/* libFuzzer harness: extracting one layer (lib/extract.c) straight from an
 * in-memory archive into a fresh directory on tmpfs: the hot path of an
 * import without the store around it.  Nothing may land outside the
 * directory, and no fd may leak.
 *
 * A tar's header checksums defeat byte-level mutation, so an input whose
 * first byte is odd describes the entries instead, and the harness writes
 * the tar itself: per entry a type, mode, owner, name, link target and
 * data (see build_tar).  An even first byte: the rest is the archive as
 * is (tar, gzip, zstd). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "extract.h"
#include "fsutil.h"
#include "layer_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];
static int basefd = -1;

static int count_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static int open_fds(void)
{
	int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int n = count_dir(fd) - 1;   /* less the one counting */
	close(fd);
	return n;
}

struct reader {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct reader *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

/* Up to MAX bytes as a string: names and link targets, where '/', "..",
 * ".wh." and the like are what matter. */
static void take_str(struct reader *r, char *out, size_t max)
{
	size_t len = take(r) % max, k = 0;
	for (; k < len && r->n; k++)
		out[k] = (char)take(r);
	out[k] = '\0';
}

static const mode_t types[] = { AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFREG /* hardlink */,
				AE_IFIFO, AE_IFCHR, AE_IFBLK, AE_IFSOCK };

/* The tar the entries in R describe, in memory (pax or gnu format). */
static size_t build_tar(struct reader *r, char *buf, size_t cap)
{
	size_t used = 0;
	struct archive *w = archive_write_new();
	if (!w)
		abort();
	if (take(r) & 1)
		archive_write_set_format_gnutar(w);
	else
		archive_write_set_format_pax(w);
	archive_write_set_bytes_in_last_block(w, 1);
	if (archive_write_open_memory(w, buf, cap, &used) != ARCHIVE_OK)
		abort();
	for (int k = 0; k < 24 && r->n; k++) {
		unsigned t = take(r);
		char name[80], link[80];
		take_str(r, name, sizeof(name));
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, name);
		archive_entry_set_filetype(ae, types[t % 8]);
		archive_entry_set_perm(ae, (mode_t)((take(r) << 4) | take(r)) & 07777);
		archive_entry_set_uid(ae, t & 0x80 ? 1000 + take(r) : 0);
		archive_entry_set_gid(ae, take(r));
		archive_entry_set_mtime(ae, take(r) << 20, 0);
		if (types[t % 8] == AE_IFLNK || t % 8 == 3) {
			take_str(r, link, sizeof(link));
			if (t % 8 == 3)
				archive_entry_set_hardlink(ae, link);
			else
				archive_entry_set_symlink(ae, link);
		}
		if (types[t % 8] == AE_IFCHR || types[t % 8] == AE_IFBLK)
			archive_entry_set_rdev(ae, makedev(take(r), take(r)));
		if (t & 0x40) {
			char xname[32];
			snprintf(xname, sizeof(xname), "%s", (t & 0x20) ? "user.containers.override_stat" : "user.x");
			char xval[40];
			take_str(r, xval, sizeof(xval));
			archive_entry_xattr_add_entry(ae, xname, xval, strlen(xval));
		}
		size_t len = types[t % 8] == AE_IFREG && t % 8 != 3 ? take(r) % 64 : 0;
		if (len > r->n)
			len = r->n;
		archive_entry_set_size(ae, (la_int64_t)len);
		if (archive_write_header(w, ae) == ARCHIVE_OK && len)
			archive_write_data(w, r->p, len);
		r->p += len;
		r->n -= len;
		archive_entry_free(ae);
	}
	archive_write_close(w);
	archive_write_free(w);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (basefd < 0) {
		const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(base, sizeof(base), "%s/extract-fuzz.%d", shm, (int)getpid());
		if (mkdir(base, 0755) < 0 && errno != EEXIST)
			abort();
		basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (basefd < 0)
			abort();
	}
	int fds = open_fds();
	if (mkdirat(basefd, "root", 0755) < 0)
		abort();
	int rootfd = openat(basefd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct archive *a = archive_read_new();
	if (rootfd < 0 || !a)
		abort();
	archive_support_filters(a, false);
	archive_read_support_format_tar(a);
	static char tar[1 << 20];
	const void *in = data + (size > 0);
	size_t inlen = size ? size - 1 : 0;
	if (size && (data[0] & 1)) {
		struct reader rd = { data + 1, size - 1 };
		inlen = build_tar(&rd, tar, sizeof(tar));
		in = tar;
	}
	if (archive_read_open_memory(a, in, inlen) == ARCHIVE_OK) {
		struct layer_manifest m = { 0 };
		struct extract_stats st = { 0 };
		struct errmsg e = { { 0 } };
		int r = extract_layer(a, rootfd, &m, &st, &e);
		if (r < 0 && !e.msg[0] && r != -ENOMEM)
			abort();           /* every refusal says why */
		lm_free(&m);
	}
	archive_read_free(a);
	close(rootfd);
	/* The tree is the only thing in the base directory. */
	if (count_dir(basefd) != 1)
		abort();
	if (rm_rf_at(basefd, "root", NULL) < 0)
		abort();
	if (open_fds() != fds)
		abort();
	return 0;
}
