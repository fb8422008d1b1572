/* Lookups without a listing.
 *
 * A directory's listing is built from every layer that holds it.  In a
 * lower directory of a deep stack that is a read of the directory in every
 * layer, where a lookup of one name (a stat, a path walk to an exec) needs
 * only the top layer that holds the name.  So a lookup in a lower-only
 * directory whose listing is not built yet first probes the name layer by
 * layer, top down, as kernel overlayfs does.  A probe gives up after
 * PROBE_LAYERS layers without an answer (a name deep down, or absent, in a
 * deep stack): the listing is then built and answers this lookup and all
 * later ones.  A probe that gives up has cost two system calls for each
 * layer it looked at (and an opacity check, once per layer of a
 * directory), so a lookup never costs much more than with the listing
 * alone, however deep the stack.
 *
 * A probe answers what the listing would: the top layer holding the name,
 * the same inode number (st_ino, on filesystems whose d_ino is st_ino),
 * the same link count, and for a directory the lower layers it merges
 * (dentry.dlayers).  Those are found as far as the second one, which is
 * all a stat needs (a directory merged from two layers reports one link);
 * the rest are probed when the directory's own listing is built or a name
 * in it is probed (complete_locked).
 *
 * The layers of an unbuilt directory (inode.lows) are read by probes and
 * changed by them (a layer found opaque hides those below it) under
 * lows_lock, which the listing build also takes to install its final set.
 * Lock order: a directory's build lock, then lows_lock. */
#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "layerfs.h"
#include "whiteout.h"

/* Layers a probe looks through for a name before it builds the listing
 * instead, and again below a directory for the next layer merging it. */
#define PROBE_LAYERS 4

static pthread_mutex_t lows_lock = PTHREAD_MUTEX_INITIALIZER;

static void unlock_lows(bool *held)
{
	if (*held)
		pthread_mutex_unlock(&lows_lock);
}
#define LOWS_LOCKED _cleanup_(unlock_lows) __attribute__((unused)) bool lows_held_ = \
	(pthread_mutex_lock(&lows_lock), true)

/* Filesystems whose readdir d_ino is the inode's st_ino: a probe's number
 * (from stat) and the listing's (from readdir) must agree, or one file
 * would show as two inodes.  Overlayfs and FUSE lowers do not promise it. */
void probe_layer_setup(struct layer *l)
{
	struct statfs sf;
	l->ino_exact = fstatfs(l->fd, &sf) == 0 &&
		       (sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC ||
			sf.f_type == TMPFS_MAGIC);
}

/* Does DIR's layer lows[K] hide nothing below it?  DPATH: DIR's lower
 * path.  Learnt once per layer; an opaque one cuts lows[] after it, as the
 * listing build would. */
static bool visible_below(struct inode *dir, uint16_t k, const char *dpath)
{
	while (dir->opq_known <= k && dir->opq_known < dir->nlows) {
		uint16_t j = dir->opq_known;
		if (path_is_opaque(dir->lows[j], dpath)) {
			dir->nlows = (uint16_t)(j + 1);
			return false;
		}
		dir->opq_known = (uint16_t)(j + 1);
	}
	return k < dir->opq_known;
}

/* What lows[J] of DIR holds at PATH, for merging a directory found above
 * it: BELOW_DIR, BELOW_NONE, BELOW_HIDES (a file or a whiteout hides the
 * layers below), or -errno. */
enum { BELOW_NONE, BELOW_DIR, BELOW_HIDES };

static int layer_below(struct inode *dir, uint16_t j, const char *path,
		       const char *dpath, const char *name)
{
	struct stat st;
	int r = layer_stat(dir->lows[j], path, &st);
	if (r == 0)
		return S_ISDIR(st.st_mode) ? BELOW_DIR : BELOW_HIDES;
	if (r != -ENOENT)
		return r;
	return path_is_whiteout(dir->lows[j], dpath, name) ? BELOW_HIDES : BELOW_NONE;
}

/* The rest of the lower layers of directory C, found by a probe as far as
 * its second one.  Caller holds lows_lock and ns_lock. */
static int complete_locked(struct inode *c)
{
	if (!c->lows_partial)
		return 0;
	struct inode *p = c->parent;
	char ppath[PATH_MAX], cpath[PATH_MAX];
	int r;
	if (!p || c->stale)
		return -ESTALE;
	if ((r = path_lower_dir(p, ppath, sizeof(ppath))) < 0 ||
	    (r = path_lower_child(p, c->name, cpath, sizeof(cpath))) < 0)
		return r;
	if (p->lows_partial && (r = complete_locked(p)) < 0)
		return r;
	uint16_t last = c->lows[c->nlows - 1], j = 0;
	while (j < p->nlows && p->lows[j] != last)
		j++;
	uint16_t *lows = malloc(sizeof(*lows) * (c->nlows + (size_t)p->nlows));
	if (!lows)
		return -ENOMEM;
	uint16_t n = c->nlows;
	memcpy(lows, c->lows, sizeof(*lows) * n);
	for (j++; j < p->nlows && visible_below(p, (uint16_t)(j - 1), ppath); j++) {
		r = layer_below(p, j, cpath, ppath, c->name);
		if (r < 0) {
			free(lows);
			return r;
		}
		if (r == BELOW_HIDES)
			break;
		if (r == BELOW_DIR)
			lows[n++] = p->lows[j];
	}
	free(c->lows);
	c->lows = lows;
	c->nlows = n;
	c->lows_partial = false;
	return 0;
}

void probe_set_lows(struct inode *dir, uint16_t *lows, uint16_t n, bool checked)
{
	LOWS_LOCKED;
	free(dir->lows);
	dir->lows = lows;
	dir->nlows = n;
	dir->opq_known = checked ? n : 0;
	dir->lows_partial = false;
}

uint16_t *probe_copy_lows(struct inode *dir, uint16_t *n, int *err)
{
	LOWS_LOCKED;
	if ((*err = complete_locked(dir)) < 0)
		return NULL;
	*err = -ENOMEM;
	*n = dir->nlows;
	uint16_t *v = malloc(sizeof(*v) * (*n ? *n : 1u));
	if (v && *n)
		memcpy(v, dir->lows, sizeof(*v) * *n);
	return v;
}

/* A directory found in DIR's lows[K]: the next layer merging it, within
 * PROBE_LAYERS.  0 when the probe should give way to the listing. */
static int probe_merge(struct inode *dir, uint16_t k, const char *path, const char *dpath,
		       const char *name, struct found *out)
{
	out->lows_buf[0] = dir->lows[k];
	out->nlows = 1;
	for (uint16_t j = (uint16_t)(k + 1); j < dir->nlows; j++) {
		if (!visible_below(dir, (uint16_t)(j - 1), dpath))
			return 1;
		if (j - k > PROBE_LAYERS)
			return 0;
		int r = layer_below(dir, j, path, dpath, name);
		if (r == BELOW_HIDES)
			return 1;
		if (r < 0)
			return 0;
		if (r == BELOW_DIR) {
			out->lows_buf[out->nlows++] = dir->lows[j];
			out->lows_partial = j + 1 < dir->nlows;
			return 1;
		}
	}
	return 1;
}

/* NAME found in DIR's lows[K] with ST: fill OUT. */
static int probe_found(struct inode *dir, uint16_t k, const char *path, const char *dpath,
		       const char *name, struct stat *st, struct found *out)
{
	uint16_t L = dir->lows[k];
	if (wh_is_chardev_whiteout(st))
		return -ENOENT;
	if (st->st_dev != lfs->layers[L].dev)
		return 0; /* a mount inside the layer: the listing's d_ino differs */
	*out = (struct found){ .layer = L, .ino = ino_compose(L, st->st_ino) };
	out->lows = out->lows_buf;
	/* Another name of this file was copied up: the listing joins it. */
	if (index_joins(out->ino, st))
		return 0;
	if (S_ISDIR(st->st_mode)) {
		int r = probe_merge(dir, k, path, dpath, name, out);
		if (r <= 0)
			return r;
	}
	out->st = *st;
	attr_fixup(&out->st, out->ino, -1, L, path);
	if (out->nlows > 1)
		out->st.st_nlink = 1; /* merged: as attr_of_dentry() */
	return 1;
}

int probe_lookup(struct inode *dir, const char *name, struct found *out)
{
	if (__atomic_load_n(&dir->dir, __ATOMIC_ACQUIRE) || dir->layer == LAYER_UPPER)
		return 0;
	if (wh_is_hidden_name(name))
		return -ENOENT; /* never shown */
	LOWS_LOCKED;
	if (complete_locked(dir) < 0)
		return 0;
	char dpath[PATH_MAX], path[PATH_MAX];
	if (!dir->nlows || path_lower_dir(dir, dpath, sizeof(dpath)) < 0 ||
	    path_lower_child(dir, name, path, sizeof(path)) < 0)
		return 0;
	for (uint16_t k = 0; k < dir->nlows; k++) {
		uint16_t L = dir->lows[k];
		struct stat st;
		if (k == PROBE_LAYERS || !lfs->layers[L].ino_exact)
			return 0;
		int r = layer_stat(L, path, &st);
		if (r == 0)
			return probe_found(dir, k, path, dpath, name, &st, out);
		if (r != -ENOENT)
			return 0; /* the listing decides, and reports */
		if (path_is_whiteout(L, dpath, name) ||
		    (k + 1 < dir->nlows && !visible_below(dir, k, dpath)))
			return -ENOENT;
	}
	return -ENOENT;
}
