/* libFuzzer harness: extracting one layer (lib/extract.c) straight from an
 * in-memory archive, any compression libarchive detects, into a fresh
 * directory on tmpfs: the hot path of an import without the store around
 * it, so many more inputs per second than import_fuzz.  Nothing may land
 * outside the directory, and no fd may leak. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>

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
	if (archive_read_open_memory(a, data, size) == ARCHIVE_OK) {
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
