/* Overlay and OCI whiteout rules (see whiteout.h). */
#include <string.h>

#include "whiteout.h"

bool wh_is_opaque_marker(const char *name)
{
	return strcmp(name, WH_OPAQUE_NAME) == 0;
}

const char *wh_oci_target(const char *name)
{
	if (strncmp(name, WH_PREFIX, WH_PREFIX_LEN) != 0)
		return NULL;
	if (wh_is_opaque_marker(name) || name[WH_PREFIX_LEN] == '\0')
		return NULL;
	return name + WH_PREFIX_LEN;
}

bool wh_is_hidden_name(const char *name)
{
	return strncmp(name, WH_PREFIX, WH_PREFIX_LEN) == 0;
}

bool wh_opaque_value(const char *val, long len)
{
	return len == 1 && val[0] == 'y';
}

bool wh_is_private_xattr(const char *name)
{
	return strncmp(name, XATTR_TRUSTED_OVL, sizeof(XATTR_TRUSTED_OVL) - 1) == 0 ||
	       strncmp(name, XATTR_USER_OVL, sizeof(XATTR_USER_OVL) - 1) == 0;
}
