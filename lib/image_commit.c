/* Committing an import into the store (see image_commit.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "fsutil.h"
#include "image_commit.h"

void import_result_free(struct import_result *r)
{
	for (size_t k = 0; k < r->n; k++) {
		for (char **p = r->img[k].refs; p && *p; p++)
			free(*p);
		free(r->img[k].refs);
	}
	free(r->img);
	memset(r, 0, sizeof(*r));
}

/* Remove the index entries MATCH accepts; returns how many. */
static int index_remove_if(struct json *index, bool (*match)(const struct json *d, const char *arg),
			   const char *arg)
{
	struct json *ms = (struct json *)json_get_array(index, "manifests");
	int removed = 0;
	for (size_t k = 0; ms && k < ms->n;) {
		if (match(ms->items[k], arg)) {
			json_remove_at(ms, k);
			removed++;
		} else {
			k++;
		}
	}
	return removed;
}

static bool has_ref(const struct json *d, const char *ref)
{
	const char *name = json_get_str(json_get_object(d, "annotations"), STORE_REF_ANNOTATION);
	return name && !strcmp(name, ref);
}

static bool has_digest(const struct json *d, const char *digest)
{
	const char *dg = json_get_str(d, "digest");
	return dg && !strcmp(dg, digest);
}

static bool untagged_digest(const struct json *d, const char *digest)
{
	return has_digest(d, digest) && !json_get_object(d, "annotations");
}

int index_remove_ref(struct json *index, const char *ref)
{
	return index_remove_if(index, has_ref, ref);
}

int index_remove_image(struct json *index, const char *manifest_digest)
{
	return index_remove_if(index, has_digest, manifest_digest);
}

/* REF NULL adds the image untagged, unless the index already has it. */
int index_add_ref(struct json *index, const char *ref, const char *manifest_digest,
		  const char *media_type, int64_t size)
{
	struct json *ms = (struct json *)json_get_array(index, "manifests");
	if (!ms)
		return -EINVAL;
	if (ref) {
		index_remove_ref(index, ref);
		/* An untagged entry of the same image is superseded by a name. */
		index_remove_if(index, untagged_digest, manifest_digest);
	} else {
		for (size_t k = 0; k < ms->n; k++)
			if (has_digest(ms->items[k], manifest_digest))
				return 0;
	}
	struct json *d = json_new_object();
	if (!d)
		return -ENOMEM;
	int r = json_set_str(d, "mediaType", media_type);
	if (!r) r = json_set_str(d, "digest", manifest_digest);
	if (!r) r = json_set_int(d, "size", size);
	if (!r && ref) {
		struct json *ann = json_new_object();
		r = ann ? json_set_str(ann, STORE_REF_ANNOTATION, ref) : -ENOMEM;
		if (!r)
			r = json_object_set(d, "annotations", ann);
		else
			json_free(ann);
	}
	if (r < 0) {
		json_free(d);
		return r;
	}
	return json_array_push(ms, d);
}

/* A layer already stored under another compression: list this blob too. */
static int record_add_blob(struct store *s, const struct layer_result *l, struct errmsg *e)
{
	_cleanup_json_ struct json *rec = NULL;
	int r = store_read_layer_record(s, l->diff_id, &rec, e);
	if (r < 0)
		return r;
	struct json *blobs = (struct json *)json_get_array(rec, "blobs");
	for (size_t k = 0; blobs && k < blobs->n; k++) {
		const char *d = json_get_str(blobs->items[k], "digest");
		if (d && !strcmp(d, l->blob_digest))
			return 0;
	}
	struct json *b = json_new_object();
	r = b ? 0 : -ENOMEM;
	if (!r) r = json_set_str(b, "digest", l->blob_digest);
	if (!r) r = json_set_str(b, "mediaType", l->media_type);
	if (!r) r = json_set_int(b, "size", (int64_t)l->blob_size);
	if (r < 0) {
		json_free(b);
		return r;
	}
	if (!blobs) {
		if ((r = json_object_set(rec, "blobs", json_new_array())) < 0) {
			json_free(b);
			return r;
		}
		blobs = (struct json *)json_get_array(rec, "blobs");
	}
	if ((r = json_array_push(blobs, b)) < 0)
		return r;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if ((r = json_write(rec, 0, &sb)) < 0)
		return r;
	char path[DIGEST_HEX_LEN + 16];
	snprintf(path, sizeof(path), "%s/layer.json", digest_hex(l->diff_id));
	r = write_file_atomic(s->layersfd, path, s->tmpfd, sb.s, sb.len);
	return r < 0 ? err_sys(e, r, "cannot update record of layer '%s'", l->diff_id) : 0;
}

static int commit_layer(struct store *s, int tmpfd, const struct layer_result *l,
			size_t *new_layers, struct errmsg *e)
{
	if (!l->dir[0] && !l->blob[0])
		return 0;   /* already in the store, not read again */
	if (l->blob[0] && !store_has_blob(s, l->blob_digest) &&
	    renameat(tmpfd, l->blob, s->blobsfd, digest_hex(l->blob_digest)) < 0 && errno != ENOENT)
		return err_sys(e, -errno, "cannot store blob '%s'", l->blob_digest);
	if (store_has_layer(s, l->diff_id))
		return record_add_blob(s, l, e);
	if (!l->dir[0])   /* hashed only, and gc removed it meanwhile */
		return err_set(e, -ENOENT, "layer '%s' was removed from the store during the import; "
			       "import again", l->diff_id);
	if (renameat(tmpfd, l->dir, s->layersfd, digest_hex(l->diff_id)) < 0)
		return err_sys(e, -errno, "cannot store layer '%s'", l->diff_id);
	(*new_layers)++;
	return 0;
}

static int commit_one(struct store *s, int tmpfd, struct image_plan *p, struct json *index,
		      struct imported_image *img, struct errmsg *e)
{
	int r = store_put_blob(s, p->config_digest, p->config, p->config_len, e);
	for (size_t k = 0; r == 0 && k < p->nlayers; k++)
		r = commit_layer(s, tmpfd, &p->layers[k], &img->new_layers, e);
	if (r == 0)
		r = store_put_blob(s, p->manifest_digest, p->manifest, p->manifest_len, e);
	if (r < 0)
		return r;
	_cleanup_json_ struct json *m = NULL;
	const char *mt = MT_OCI_MANIFEST;
	if (json_parse(p->manifest, p->manifest_len, &m, NULL, 0) == 0 && json_get_str(m, "mediaType"))
		mt = json_get_str(m, "mediaType");
	for (size_t k = 0; r == 0 && k < p->nrefs; k++)
		r = index_add_ref(index, p->refs[k], p->manifest_digest, mt, (int64_t)p->manifest_len);
	if (r == 0 && !p->nrefs)
		r = index_add_ref(index, NULL, p->manifest_digest, mt, (int64_t)p->manifest_len);
	if (r < 0)
		return r;
	strcpy(img->manifest_digest, p->manifest_digest);
	strcpy(img->config_digest, p->config_digest);
	img->nlayers = p->nlayers;
	img->refs = TAKE_PTR(p->refs);
	p->nrefs = 0;
	return 0;
}

int commit_plans(struct store *s, int tmpfd, struct image_plan *plans, size_t n,
		 struct import_result *res, struct errmsg *e)
{
	res->img = calloc(n ? n : 1, sizeof(*res->img));
	if (!res->img)
		return -ENOMEM;
	int r = store_lock(s, LOCK_EX, e);
	if (r < 0)
		return r;
	_cleanup_json_ struct json *index = NULL;
	r = store_read_index(s, &index, e);
	for (size_t k = 0; r == 0 && k < n; k++) {
		r = commit_one(s, tmpfd, &plans[k], index, &res->img[k], e);
		if (r == 0)
			res->n++;
	}
	if (r == 0)
		r = store_write_index(s, index, e);
	store_unlock(s);
	return r;
}
