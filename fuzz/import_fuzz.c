/* libFuzzer harness: `layerctl import` of untrusted bytes, end to end.
 *
 * Each input is written to a file on tmpfs and imported, as a layer (tar,
 * gzip, zstd, found by content) or as an image archive (docker-save, OCI),
 * into a store on tmpfs.  Whatever happens, the import must leave no
 * temp directory behind and no fd open, and a store it changed must pass
 * verify.  The store is emptied after every input, so each run starts
 * alike and a crash replays alone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "import.h"
#include "store.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int open_fds(void)
{
	return count_entries("/proc/self/fd");
}

static void on_problem(void *arg, const char *object, const char *what)
{
	fprintf(stderr, "verify: %s: %s\n", object, what);
}

static void setup(void)
{
	if (base[0])
		return;
	const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(base, sizeof(base), "%s/import-fuzz.%d", shm, (int)getpid());
	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	char in[96], root[96], tmp[128];
	snprintf(in, sizeof(in), "%s/input", base);
	snprintf(root, sizeof(root), "%s/store", base);
	snprintf(tmp, sizeof(tmp), "%s/tmp", root);
	FILE *f = fopen(in, "we");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	int fds = open_fds();

	struct errmsg e = { { 0 } };
	struct store *s = NULL;
	if (store_open(root, true, &s, &e) < 0)
		abort();
	struct import_opts o = { .name = (size & 1) ? "fuzz:v1.0.0" : NULL };
	struct import_result res = { 0 };
	int r = import_path(s, in, &o, &res, &e);
	if (r < 0 && !e.msg[0])
		abort();           /* every failure says why */
	if (count_entries(tmp) != 0)
		abort();           /* nothing half-written left behind */
	if (r == 0) {
		struct verify_report rep = { on_problem, NULL, 0, 0 };
		if (verify_store(s, &rep, &e) < 0 || rep.problems)
			abort();
		import_result_free(&res);
	}
	store_close(s);
	if (open_fds() != fds)
		abort();           /* an fd leaked */
	int dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || rm_rf_at(dfd, "store", NULL) < 0)
		abort();
	close(dfd);
	return 0;
}
