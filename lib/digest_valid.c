/* digest_valid (see digest.h), apart from the hashing in digest.c: a
 * program that only reads digests (layerctl's front end, see
 * tools/front/layerctl.c) then links no libcrypto. */
#include <string.h>

#include "digest.h"

bool digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != DIGEST_STR_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}
