/* Loading and looking up the images of a store (see images.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fsutil.h"
#include "images.h"

static void info_free(struct image_info *i)
{
	strv_free_n(i->refs, i->nrefs);
	free(i->layers);
	free(i->created);
	free(i->broken);
	json_free(i->config);
	json_free(i->manifest);
}

void images_free(struct image_list *l)
{
	for (size_t k = 0; k < l->n; k++)
		info_free(&l->v[k]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int load_info(struct store *s, struct image_info *i, struct errmsg *e)
{
	int r = store_read_blob_json(s, i->manifest_digest, &i->manifest, e);
	if (r < 0)
		return r;
	const char *cd = json_get_str(json_get_object(i->manifest, "config"), "digest");
	const struct json *layers = json_get_array(i->manifest, "layers");
	if (!digest_valid(cd) || !layers)
		return err_set(e, -EINVAL, "manifest '%s' has no config or layers", i->manifest_digest);
	strcpy(i->config_digest, cd);
	r = store_read_blob_json(s, cd, &i->config, e);
	if (r < 0)
		return r;
	const struct json *ids = json_get_array(json_get_object(i->config, "rootfs"), "diff_ids");
	if (!ids || ids->n != layers->n)
		return err_set(e, -EINVAL, "config '%s' does not match its manifest's layers", cd);
	i->layers = calloc(layers->n ? layers->n : 1, sizeof(*i->layers));
	if (!i->layers)
		return -ENOMEM;
	for (size_t k = 0; k < layers->n; k++) {
		const char *ld = json_get_str(layers->items[k], "digest");
		int64_t size = 0;
		json_get_int(layers->items[k], "size", &size);
		if (!digest_valid(ld) || ids->items[k]->type != JSON_STRING || !digest_valid(ids->items[k]->s))
			return err_set(e, -EINVAL, "manifest '%s' has an invalid layer %zu",
				       i->manifest_digest, k + 1);
		strcpy(i->layers[k].blob_digest, ld);
		strcpy(i->layers[k].diff_id, ids->items[k]->s);
		i->layers[k].blob_size = (uint64_t)size;
		i->nlayers++;
	}
	const char *created = json_get_str(i->config, "created");
	if (created && !(i->created = strdup(created)))
		return -ENOMEM;
	return 0;
}

static int add_ref(struct image_info *i, const char *ref)
{
	char **v = realloc(i->refs, (i->nrefs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	i->refs = v;
	if (!(v[i->nrefs] = strdup(ref)))
		return -ENOMEM;
	i->nrefs++;
	return 0;
}

int images_load(struct store *s, struct image_list *out, struct errmsg *e)
{
	_cleanup_json_ struct json *index = NULL;
	int r = store_read_index(s, &index, e);
	if (r < 0)
		return r;
	const struct json *ms = json_get_array(index, "manifests");
	struct image_list l = { calloc(ms->n ? ms->n : 1, sizeof(*l.v)), 0 };
	if (!l.v)
		return -ENOMEM;
	for (size_t k = 0; k < ms->n; k++) {
		const char *d = json_get_str(ms->items[k], "digest");
		const char *ref = json_get_str(json_get_object(ms->items[k], "annotations"),
					       STORE_REF_ANNOTATION);
		if (!digest_valid(d)) {
			images_free(&l);
			return err_set(e, -EINVAL, "index.json entry %zu has no valid digest", k + 1);
		}
		struct image_info *i = NULL;
		for (size_t j = 0; j < l.n && !i; j++)
			if (!strcmp(l.v[j].manifest_digest, d))
				i = &l.v[j];
		if (!i) {
			i = &l.v[l.n++];
			strcpy(i->manifest_digest, d);
			struct errmsg why = { { 0 } };
			r = load_info(s, i, &why);
			if (r == -ENOMEM) {
				images_free(&l);
				return r;
			}
			if (r < 0 && !(i->broken = strdup(err_text(&why, r)))) {
				images_free(&l);
				return -ENOMEM;
			}
		}
		if (ref && (r = add_ref(i, ref)) < 0) {
			images_free(&l);
			return r;
		}
	}
	*out = l;
	return 0;
}

static bool hex_prefix(const char *q)
{
	size_t n = strlen(q);
	return n >= 4 && n <= 64 && strspn(q, "0123456789abcdef") == n;
}

int image_find(const struct image_list *l, const char *query, struct errmsg *e)
{
	_cleanup_free_ char *withtag = NULL;
	const char *slash = strrchr(query, '/');
	if (!strchr(slash ? slash : query, ':') && asprintf(&withtag, "%s:latest", query) < 0)
		return -ENOMEM;
	for (size_t k = 0; k < l->n; k++)
		for (size_t j = 0; j < l->v[k].nrefs; j++)
			if (!strcmp(l->v[k].refs[j], query) ||
			    (withtag && !strcmp(l->v[k].refs[j], withtag)))
				return (int)k;
	const char *q = !strncmp(query, "sha256:", 7) ? query + 7 : query;
	if (!hex_prefix(q))
		return err_set(e, -ENOENT, "no image '%s' in the store", query);
	int found = -1;
	for (size_t k = 0; k < l->n; k++) {
		/* A damaged image may have no config digest. */
		const char *cd = l->v[k].config_digest;
		if ((!cd[0] || strncmp(digest_hex(cd), q, strlen(q))) &&
		    strncmp(digest_hex(l->v[k].manifest_digest), q, strlen(q)))
			continue;
		if (found >= 0)
			return err_set(e, -EINVAL, "'%s' names more than one image; give more digits", query);
		found = (int)k;
	}
	if (found < 0)
		return err_set(e, -ENOENT, "no image '%s' in the store", query);
	return found;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int layers_list(struct store *s, char ***ids, size_t *n)
{
	_cleanup_closedir_ DIR *d = NULL;
	int r = opendir_at(s->layersfd, &d);
	if (r < 0)
		return r;
	char **v = NULL;
	size_t c = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strlen(de->d_name) != DIGEST_HEX_LEN || strspn(de->d_name, "0123456789abcdef") != DIGEST_HEX_LEN)
			continue;
		char **nv = realloc(v, (c + 1) * sizeof(*nv));
		if (!nv || asprintf(&nv[c], "sha256:%s", de->d_name) < 0) {
			strv_free_n(nv ? nv : v, c);
			return -ENOMEM;
		}
		v = nv;
		c++;
	}
	if (c)
		qsort(v, c, sizeof(*v), cmp_str);
	*ids = v;
	*n = c;
	return 0;
}

int layer_find(struct store *s, const struct image_list *l, const char *query,
	       char out[DIGEST_STR_LEN + 1], struct errmsg *e)
{
	const char *q = !strncmp(query, "sha256:", 7) ? query + 7 : query;
	if (!hex_prefix(q))
		return err_set(e, -ENOENT, "no layer '%s' in the store", query);
	for (size_t k = 0; l && k < l->n; k++)
		for (size_t j = 0; j < l->v[k].nlayers; j++)
			if (!strcmp(digest_hex(l->v[k].layers[j].blob_digest), q)) {
				strcpy(out, l->v[k].layers[j].diff_id);
				return 0;
			}
	char **ids;
	size_t n;
	int r = layers_list(s, &ids, &n);
	if (r < 0)
		return err_sys(e, r, "cannot list layers");
	int found = -1;
	for (size_t k = 0; k < n; k++) {
		if (strncmp(digest_hex(ids[k]), q, strlen(q)))
			continue;
		if (found >= 0) {
			strv_free_n(ids, n);
			return err_set(e, -EINVAL, "'%s' names more than one layer; give more digits", query);
		}
		found = (int)k;
	}
	if (found >= 0)
		strcpy(out, ids[found]);
	strv_free_n(ids, n);
	return found >= 0 ? 0 : err_set(e, -ENOENT, "no layer '%s' in the store", query);
}

int layer_summary_load(struct store *s, const char *diff_id, struct layer_summary *out,
		       struct errmsg *e)
{
	_cleanup_json_ struct json *rec = NULL;
	int r = store_read_layer_record(s, diff_id, &rec, e);
	if (r < 0)
		return r;
	struct layer_summary sum = { 0 };
	int64_t v;
	if (json_get_int(rec, "size", &v)) sum.size = (uint64_t)v;
	if (json_get_int(rec, "files", &v)) sum.files = (uint64_t)v;
	if (json_get_int(rec, "bytes", &v)) sum.bytes = (uint64_t)v;
	const char *c = json_get_str(rec, "created");
	snprintf(sum.created, sizeof(sum.created), "%s", c ? c : "");
	*out = sum;
	return 0;
}
