/* Paths of merged files inside their layers.
 *
 * The upper path of a file is its merged path.  In the lower layers a
 * directory renamed inside the mount is found under its old path (its
 * redirect), and so are its descendants.  Callers hold ns_lock. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "layerfs.h"

#define MAX_DEPTH (PATH_MAX / 2)

/* Append components from I up to the root (or to an inode with a redirect
 * when FOLLOW_REDIRECT), then NAME if given. */
static int build(struct inode *i, bool follow_redirect, const char *name,
		 char *buf, size_t size)
{
	const char *comp[MAX_DEPTH];
	size_t n = 0, len = 0;
	const char *base = NULL;

	for (; i && i != lfs->root; i = i->parent) {
		if (follow_redirect && i->redirect) {
			base = i->redirect;
			break;
		}
		if (n == MAX_DEPTH || i->stale)
			return -ESTALE;
		comp[n++] = i->name;
	}
	if (!i && !base)
		return -ESTALE;
	if (base) {
		len = strlen(base);
		if (len >= size)
			return -ENAMETOOLONG;
		memcpy(buf, base, len);
	}
	while (n--) {
		size_t l = strlen(comp[n]);
		if (len + l + 2 > size)
			return -ENAMETOOLONG;
		if (len)
			buf[len++] = '/';
		memcpy(buf + len, comp[n], l);
		len += l;
	}
	if (name) {
		size_t l = strlen(name);
		if (len + l + 2 > size)
			return -ENAMETOOLONG;
		if (len)
			buf[len++] = '/';
		memcpy(buf + len, name, l);
		len += l;
	}
	if (len == 0) {
		if (size < 2)
			return -ENAMETOOLONG;
		buf[len++] = '.';
	}
	buf[len] = '\0';
	return 0;
}

int path_upper(struct inode *i, char *buf, size_t size)
{
	return build(i, false, NULL, buf, size);
}

int path_lower_dir(struct inode *i, char *buf, size_t size)
{
	return build(i, true, NULL, buf, size);
}

int path_lower_child(struct inode *dir, const char *name, char *buf, size_t size)
{
	return build(dir, true, name, buf, size);
}

int path_upper_child(struct inode *dir, const char *name, char *buf, size_t size)
{
	return build(dir, false, name, buf, size);
}

int path_in_layer(struct inode *i, uint16_t layer, char *buf, size_t size)
{
	if (layer == LAYER_UPPER)
		return path_upper(i, buf, size);
	if (i->type == DT_DIR)
		return path_lower_dir(i, buf, size);
	/* Lower paths never change, so a removed name still reaches the
	 * lower file (open-then-unlink keeps working). */
	if (!i->parent)
		return -ESTALE;
	return path_lower_child(i->parent, i->name, buf, size);
}
