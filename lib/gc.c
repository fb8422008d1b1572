/* Store garbage collection (see gc.h). */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "gc.h"
#include "images.h"

static bool listed(char **v, size_t n, const char *s)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(v[k], s))
			return true;
	return false;
}

static int push(char ***v, size_t *n, const char *s)
{
	if (listed(*v, *n, s))
		return 0;
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

struct refset {
	char **blobs, **layers;
	size_t nblobs, nlayers;
};

static void refset_free(struct refset *r)
{
	strv_free_n(r->blobs, r->nblobs);
	strv_free_n(r->layers, r->nlayers);
}

static int collect_refs(const struct image_list *l, struct refset *rs)
{
	int r = 0;
	for (size_t k = 0; r == 0 && k < l->n; k++) {
		const struct image_info *i = &l->v[k];
		r = push(&rs->blobs, &rs->nblobs, digest_hex(i->manifest_digest));
		if (r == 0)
			r = push(&rs->blobs, &rs->nblobs, digest_hex(i->config_digest));
		for (size_t j = 0; r == 0 && j < i->nlayers; j++) {
			r = push(&rs->blobs, &rs->nblobs, digest_hex(i->layers[j].blob_digest));
			if (r == 0)
				r = push(&rs->layers, &rs->nlayers, digest_hex(i->layers[j].diff_id));
		}
	}
	return r;
}

/* Remove (or count) every entry of DIRFD whose name is not in KEEP. */
static int sweep(struct store *s, int dirfd, char **keep, size_t nkeep, bool dry_run,
		 uint64_t *count, uint64_t *bytes)
{
	_cleanup_closedir_ DIR *d = NULL;
	int r = opendir_at(dirfd, &d);
	if (r < 0)
		return r;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    listed(keep, nkeep, de->d_name))
			continue;
		uint64_t b = 0;
		/* Never half-removed in place: a kill would leave a layer whose
		 * tree lacks files its layer.json lists. */
		r = dry_run ? du_at(dirfd, de->d_name, &b) : store_discard(s, dirfd, de->d_name, &b);
		if (r < 0)
			return r;
		*bytes += b;
		(*count)++;
	}
	return 0;
}

int gc_collect(struct store *s, bool dry_run, struct gc_stats *st, struct errmsg *e)
{
	struct image_list l = { 0 };
	/* An unreadable image stops gc: its objects must not be taken for
	 * garbage. */
	int r = images_load(s, &l, e);
	if (r < 0)
		return r;
	for (size_t k = 0; k < l.n; k++) {
		if (!l.v[k].broken)
			continue;
		r = err_set(e, -EUCLEAN, "image '%s' is damaged (%s); gc would not know what it uses",
			    l.v[k].manifest_digest, l.v[k].broken);
		images_free(&l);
		return r;
	}
	struct refset rs = { 0 };
	r = collect_refs(&l, &rs);
	images_free(&l);
	struct gc_stats out = { 0 };
	if (r == 0)
		r = sweep(s, s->blobsfd, rs.blobs, rs.nblobs, dry_run, &out.blobs, &out.bytes);
	if (r == 0)
		r = sweep(s, s->layersfd, rs.layers, rs.nlayers, dry_run, &out.layers, &out.bytes);
	if (r == 0)
		r = store_clean_temp(s, dry_run, &out.bytes, &out.temps);
	refset_free(&rs);
	if (r < 0)
		return err_sys(e, r, "cannot collect garbage in '%s'", s->root);
	*st = out;
	return 0;
}
