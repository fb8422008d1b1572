/* fsx: a data-integrity exerciser for a mounted filesystem.
 *
 *   fsx [-N ops] [-S seed] [-l maxlen] [-m model-out] [-q] FILE [ALIAS]
 *
 * Runs a seeded random sequence of reads, writes, truncates, fallocates,
 * mmap reads and writes, close/reopen, fsync, renames away and back, and
 * (with ALIAS, a second hard link to FILE) accesses through the other
 * name, checking every byte read against an in-memory model of what the
 * file must hold.  FILE may start as a lower file: its first write is a
 * copy-up.  The model starts as FILE's content.  On a mismatch it prints
 * the seed, the operation and the first bad offset, and exits 1.  With -m
 * it writes the final model out, so a caller can compare the file after a
 * remount. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct fsx {
	const char *path, *alias;
	char *tmpname;          /* FILE renamed away, and back */
	int fd;
	uint8_t *model;
	size_t size, maxlen;
	uint64_t rng, op, nops;
	bool quiet;
	char last[8][96];       /* the last operations, for the report */
};

static uint64_t rnd(struct fsx *f)
{
	/* xorshift64*: fast, seedable, good enough to pick operations. */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * UINT64_C(2685821657736338717);
}

static size_t below(struct fsx *f, size_t n) { return n ? rnd(f) % n : 0; }

__attribute__((format(printf, 2, 3)))
static void note(struct fsx *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->last[f->op % 8], sizeof(f->last[0]), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3), noreturn))
static void fail(struct fsx *f, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "fsx: %s: operation %" PRIu64 ": ", f->path, f->op);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfsx: last operations:\n");
	for (uint64_t k = f->op > 7 ? f->op - 7 : 0; k <= f->op; k++)
		fprintf(stderr, "  %" PRIu64 ": %s\n", k, f->last[k % 8]);
	exit(1);
}

static void check(struct fsx *f, const uint8_t *got, size_t off, size_t len, const char *how)
{
	for (size_t k = 0; k < len; k++)
		if (got[k] != f->model[off + k])
			fail(f, "%s: byte %zu is 0x%02x, expected 0x%02x", how, off + k, got[k],
			     f->model[off + k]);
}

static void reopen(struct fsx *f)
{
	if (f->fd >= 0)
		close(f->fd);
	const char *p = f->alias && (rnd(f) & 1) ? f->alias : f->path;
	f->fd = open(p, O_RDWR);
	if (f->fd < 0)
		fail(f, "open '%s': %s", p, strerror(errno));
	note(f, "open %s", p);
}

static void do_read(struct fsx *f)
{
	size_t off = below(f, f->size + 1), len = below(f, f->maxlen / 4 + 1);
	uint8_t *buf = malloc(len + 1);
	note(f, "read %zu+%zu (size %zu)", off, len, f->size);
	ssize_t n = pread(f->fd, buf, len, (off_t)off);
	size_t want = off >= f->size ? 0 : (f->size - off < len ? f->size - off : len);
	if (n < 0 || (size_t)n != want)
		fail(f, "pread returned %zd, expected %zu (%s)", n, want, n < 0 ? strerror(errno) : "");
	check(f, buf, off, want, "read");
	free(buf);
}

static void grow_model(struct fsx *f, size_t end)
{
	if (end > f->size)
		memset(f->model + f->size, 0, end - f->size);
}

static void do_write(struct fsx *f)
{
	size_t off = below(f, f->maxlen), len = below(f, f->maxlen / 8) + 1;
	if (off + len > f->maxlen)
		len = f->maxlen - off;
	uint8_t *buf = malloc(len);
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(f->op + k * 7);
	note(f, "write %zu+%zu (size %zu)", off, len, f->size);
	ssize_t n = pwrite(f->fd, buf, len, (off_t)off);
	if (n < 0 || (size_t)n != len)
		fail(f, "pwrite returned %zd (%s)", n, n < 0 ? strerror(errno) : "short");
	grow_model(f, off);
	memcpy(f->model + off, buf, len);
	if (off + len > f->size)
		f->size = off + len;
	free(buf);
}

static void do_truncate(struct fsx *f)
{
	size_t len = below(f, f->maxlen + 1);
	note(f, "truncate %zu (size %zu)", len, f->size);
	if (ftruncate(f->fd, (off_t)len) < 0)
		fail(f, "ftruncate: %s", strerror(errno));
	grow_model(f, len);
	f->size = len;
}

static void do_fallocate(struct fsx *f)
{
	size_t off = below(f, f->maxlen), len = below(f, f->maxlen / 8) + 1;
	if (off + len > f->maxlen)
		len = f->maxlen - off;
	int kind = (int)below(f, 3);
	static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE };
	note(f, "fallocate mode %d %zu+%zu (size %zu)", modes[kind], off, len, f->size);
	if (fallocate(f->fd, modes[kind], (off_t)off, (off_t)len) < 0) {
		if (errno == EOPNOTSUPP)
			return;
		fail(f, "fallocate: %s", strerror(errno));
	}
	if (kind == 2) {
		size_t end = off + len < f->size ? off + len : f->size;
		if (off < end)
			memset(f->model + off, 0, end - off);
	} else if (kind == 0 && off + len > f->size) {
		grow_model(f, off + len);
		f->size = off + len;
	}
}

static void do_mmap(struct fsx *f, bool write)
{
	if (f->size == 0)
		return;
	size_t off = below(f, f->size), len = below(f, f->size - off) + 1;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), base = off / pg * pg;
	note(f, "mmap %s %zu+%zu (size %zu)", write ? "write" : "read", off, len, f->size);
	uint8_t *m = mmap(NULL, off + len - base, PROT_READ | (write ? PROT_WRITE : 0),
			  MAP_SHARED, f->fd, (off_t)base);
	if (m == MAP_FAILED)
		fail(f, "mmap: %s", strerror(errno));
	if (write) {
		for (size_t k = 0; k < len; k++) {
			uint8_t b = (uint8_t)(f->op * 3 + k);
			m[off - base + k] = b;
			f->model[off + k] = b;
		}
		if (msync(m, off + len - base, MS_SYNC) < 0)
			fail(f, "msync: %s", strerror(errno));
	} else {
		check(f, m + (off - base), off, len, "mmap read");
	}
	munmap(m, off + len - base);
}

static void do_rename(struct fsx *f)
{
	note(f, "rename away and back");
	if (rename(f->path, f->tmpname) < 0 || rename(f->tmpname, f->path) < 0)
		fail(f, "rename: %s", strerror(errno));
}

static void do_verify(struct fsx *f)
{
	struct stat st;
	note(f, "stat and full read (size %zu)", f->size);
	if (fstat(f->fd, &st) < 0 || (size_t)st.st_size != f->size)
		fail(f, "size is %jd, expected %zu", (intmax_t)st.st_size, f->size);
	uint8_t *buf = malloc(f->size + 1);
	ssize_t n = pread(f->fd, buf, f->size, 0);
	if (n < 0 || (size_t)n != f->size)
		fail(f, "full read returned %zd", n);
	check(f, buf, 0, f->size, "full read");
	free(buf);
}

static void step(struct fsx *f)
{
	uint64_t r = below(f, 100);
	if (r < 30) do_read(f);
	else if (r < 55) do_write(f);
	else if (r < 62) do_truncate(f);
	else if (r < 68) do_fallocate(f);
	else if (r < 74) do_mmap(f, false);
	else if (r < 80) do_mmap(f, true);
	else if (r < 86) reopen(f);
	else if (r < 89) { note(f, "fsync"); if (fsync(f->fd) < 0) fail(f, "fsync: %s", strerror(errno)); }
	else if (r < 92) do_rename(f);
	else do_verify(f);
}

static int load_model(struct fsx *f)
{
	f->model = calloc(1, f->maxlen);
	int fd = open(f->path, O_RDONLY);
	if (!f->model || fd < 0)
		return -1;
	ssize_t n = read(fd, f->model, f->maxlen);
	close(fd);
	if (n < 0)
		return -1;
	f->size = (size_t)n;
	return 0;
}

int main(int argc, char **argv)
{
	struct fsx f = { .fd = -1, .nops = 10000, .maxlen = 256 * 1024, .rng = 1 };
	const char *model_out = NULL;
	int c;

	while ((c = getopt(argc, argv, "N:S:l:m:q")) != -1) {
		switch (c) {
		case 'N': f.nops = strtoull(optarg, NULL, 10); break;
		case 'S': f.rng = strtoull(optarg, NULL, 10) * 2 + 1; break;
		case 'l': f.maxlen = strtoull(optarg, NULL, 10); break;
		case 'm': model_out = optarg; break;
		case 'q': f.quiet = true; break;
		default:
			fprintf(stderr, "usage: fsx [-N ops] [-S seed] [-l maxlen] [-m model] [-q] FILE [ALIAS]\n");
			return 2;
		}
	}
	if (optind >= argc || argc - optind > 2 || f.maxlen == 0) {
		fprintf(stderr, "usage: fsx [-N ops] [-S seed] [-l maxlen] [-m model] [-q] FILE [ALIAS]\n");
		return 2;
	}
	f.path = argv[optind];
	f.alias = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (asprintf(&f.tmpname, "%s.fsx-moved", f.path) < 0 || load_model(&f) < 0) {
		fprintf(stderr, "fsx: cannot read '%s': %s\n", f.path, strerror(errno));
		return 1;
	}
	reopen(&f);
	for (f.op = 1; f.op <= f.nops; f.op++)
		step(&f);
	do_verify(&f);
	close(f.fd);
	if (model_out) {
		int fd = open(model_out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, f.model, f.size) != (ssize_t)f.size || close(fd) < 0) {
			fprintf(stderr, "fsx: cannot write '%s': %s\n", model_out, strerror(errno));
			return 1;
		}
	}
	if (!f.quiet)
		printf("fsx: %s: %" PRIu64 " operations, final size %zu, all bytes as expected\n",
		       f.path, f.nops, f.size);
	return 0;
}
