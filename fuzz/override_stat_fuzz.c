/* libFuzzer harness: user.containers.override_stat values read from layers
 * (untrusted: they come with downloaded images). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "override_stat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct override_stat o, back;
	char buf[96];
	if (ovs_parse((const char *)data, size, &o) < 0)
		return 0;
	/* What parses formats, and parses back to the same thing. */
	int n = ovs_format(&o, buf, sizeof(buf));
	if (n < 0 || ovs_parse(buf, (size_t)n, &back) < 0)
		abort();
	if (back.uid != o.uid || back.gid != o.gid || (back.mode & 07777) != (o.mode & 07777))
		abort();
	return 0;
}
