/* libFuzzer harness: mount option strings as a user or podman passes them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mountopts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct mount_opts o;
	char err[256];
	mount_opts_init(&o);
	if (mount_opts_parse(&o, s, err, sizeof(err)) == 0) {
		/* Whatever parsed must be self-consistent. */
		for (size_t k = 0; k < o.nlowers; k++)
			if (!o.lowers[k] || !o.lowers[k][0])
				abort();
		for (size_t k = 0; k < o.uidmap.n; k++)
			if (o.uidmap.r[k].count == 0)
				abort();
	} else if (!err[0]) {
		abort(); /* every refusal says why */
	}
	mount_opts_free(&o);
	free(s);
	return 0;
}
