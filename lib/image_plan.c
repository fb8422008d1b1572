/* Building import plans from docker-save and OCI metadata (see image_plan.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "cleanup.h"
#include "image_plan.h"
#include "store.h"

void plan_free(struct image_plan *p)
{
	free(p->config);
	free(p->manifest);
	free(p->layers);
	for (size_t k = 0; k < p->nrefs; k++)
		free(p->refs[k]);
	free(p->refs);
	memset(p, 0, sizeof(*p));
}

static int plan_add_ref(struct image_plan *p, const char *ref)
{
	for (size_t k = 0; k < p->nrefs; k++)
		if (!strcmp(p->refs[k], ref))
			return 0;
	char **refs = realloc(p->refs, (p->nrefs + 2) * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	p->refs = refs;
	refs[p->nrefs] = strdup(ref);
	if (!refs[p->nrefs])
		return -ENOMEM;
	refs[++p->nrefs] = NULL;
	return 0;
}

/* This machine in OCI platform words. */
static const char *host_arch(void)
{
	static struct utsname u;
	if (uname(&u) < 0)
		return "amd64";
	if (!strcmp(u.machine, "x86_64")) return "amd64";
	if (!strcmp(u.machine, "aarch64")) return "arm64";
	if (!strncmp(u.machine, "arm", 3)) return "arm";
	if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i386")) return "386";
	return u.machine;
}

static struct json *descriptor(const char *mt, const char *digest, uint64_t size)
{
	struct json *d = json_new_object();
	if (d && (json_set_str(d, "mediaType", mt) < 0 || json_set_str(d, "digest", digest) < 0 ||
		  json_set_int(d, "size", (int64_t)size) < 0)) {
		json_free(d);
		d = NULL;
	}
	return d;
}

/* An OCI manifest for P's config and layers (docker-save and single-layer
 * inputs have none of their own). */
static int build_manifest(struct image_plan *p)
{
	_cleanup_json_ struct json *m = json_new_object();
	struct json *layers = json_new_array();
	if (!m || !layers) {
		json_free(layers);
		return -ENOMEM;
	}
	int r = json_set_int(m, "schemaVersion", 2);
	if (!r) r = json_set_str(m, "mediaType", MT_OCI_MANIFEST);
	if (!r) r = json_object_set(m, "config", descriptor(MT_OCI_CONFIG, p->config_digest, p->config_len));
	for (size_t k = 0; !r && k < p->nlayers; k++)
		r = json_array_push(layers, descriptor(p->layers[k].media_type, p->layers[k].blob_digest,
						       p->layers[k].blob_size));
	if (!r)
		r = json_object_set(m, "layers", layers);
	else
		json_free(layers);
	if (r < 0)
		return r;
	struct strbuf sb = STRBUF_INIT;
	r = json_write(m, 0, &sb);
	if (r == 0)
		r = digest_buffer(sb.s, sb.len, p->manifest_digest);
	p->manifest_len = sb.len;
	p->manifest = sb_detach(&sb);
	return r < 0 ? r : p->manifest ? 0 : -ENOMEM;
}

/* Config rootfs.diff_ids must list exactly the layers' DiffIDs. */
static int check_diff_ids(struct image_source *src, struct image_plan *p, const struct json *cfg)
{
	const struct json *ids = json_get_array(json_get_object(cfg, "rootfs"), "diff_ids");
	if (!ids)
		return err_set(src->e, -EINVAL, "config '%s' has no rootfs.diff_ids", p->config_digest);
	if (ids->n != p->nlayers)
		return err_set(src->e, -EBADMSG, "config '%s' lists %zu diff_ids for %zu layers",
			       p->config_digest, ids->n, p->nlayers);
	for (size_t k = 0; k < ids->n; k++) {
		const struct json *id = ids->items[k];
		if (id->type != JSON_STRING || strcmp(id->s, p->layers[k].diff_id))
			return err_set(src->e, -EBADMSG,
				       "layer %zu (blob '%s') has diff_id %s but config '%s' says %s",
				       k + 1, p->layers[k].blob_digest, p->layers[k].diff_id,
				       p->config_digest, id->type == JSON_STRING ? id->s : "(not a string)");
	}
	return 0;
}

static int parse_doc(struct image_source *src, const char *what, const char *data, size_t len,
		     struct json **out)
{
	char why[128];
	int r = json_parse(data, len, out, why, sizeof(why));
	if (r < 0)
		return err_set(src->e, r, "%s is not valid json: %s", what, why);
	return 0;
}

static int load_config(struct image_source *src, struct image_plan *p, const char *path,
		       const char *want, struct json **cfg)
{
	int r = src->bp->json(src->c, path, want, &p->config, &p->config_len, p->config_digest);
	if (r < 0)
		return r;
	char what[DIGEST_STR_LEN + 16];
	snprintf(what, sizeof(what), "config '%s'", p->config_digest);
	return parse_doc(src, what, p->config, p->config_len, cfg);
}

static const char *diff_id_at(const struct json *cfg, size_t k)
{
	const struct json *ids = json_get_array(json_get_object(cfg, "rootfs"), "diff_ids");
	if (!ids || k >= ids->n || ids->items[k]->type != JSON_STRING || !digest_valid(ids->items[k]->s))
		return NULL;
	return ids->items[k]->s;
}

/* The digest a docker-save path implies: blobs/sha256/<hex>, <hex>.json,
 * <hex>.tar (skopeo).  <id>/layer.tar names no digest. */
static bool digest_from_path(const char *path, char out[DIGEST_STR_LEN + 1])
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t hex = strspn(base, "0123456789abcdef");
	if (hex != 64 || (base[64] && strcmp(base + 64, ".json") && strcmp(base + 64, ".tar")))
		return false;
	if (base != path && strcmp(path + (base - path) - strlen("sha256/"), "sha256/") &&
	    base[64] == '\0')
		return false;
	snprintf(out, DIGEST_STR_LEN + 1, "sha256:%.64s", base);
	return true;
}

static int docker_image(struct image_source *src, const struct json *desc, struct image_plan *p)
{
	const char *cfgpath = json_get_str(desc, "Config");
	const struct json *layers = json_get_array(desc, "Layers");
	if (!cfgpath || !layers)
		return err_set(src->e, -EINVAL, "manifest.json entry without Config or Layers");
	char want[DIGEST_STR_LEN + 1];
	_cleanup_json_ struct json *cfg = NULL;
	int r = load_config(src, p, cfgpath, digest_from_path(cfgpath, want) ? want : NULL, &cfg);
	if (r < 0)
		return r;
	p->layers = calloc(layers->n ? layers->n : 1, sizeof(*p->layers));
	if (!p->layers)
		return -ENOMEM;
	for (size_t k = 0; k < layers->n; k++) {
		const struct json *l = layers->items[k];
		if (l->type != JSON_STRING)
			return err_set(src->e, -EINVAL, "manifest.json lists a layer that is not a path");
		r = src->bp->layer(src->c, l->s, digest_from_path(l->s, want) ? want : NULL,
				   diff_id_at(cfg, k), &p->layers[k]);
		if (r < 0)
			return r;
		p->nlayers++;
	}
	r = check_diff_ids(src, p, cfg);
	if (r < 0)
		return r;
	const struct json *tags = json_get_array(desc, "RepoTags");
	for (size_t k = 0; tags && k < tags->n; k++) {
		if (tags->items[k]->type != JSON_STRING)
			continue;
		/* Docker Hub names read as docker shows them. */
		const char *t = tags->items[k]->s;
		if (!strncmp(t, "docker.io/library/", 18))
			t += 18;
		else if (!strncmp(t, "docker.io/", 10))
			t += 10;
		if ((r = plan_add_ref(p, t)) < 0)
			return r;
	}
	return build_manifest(p);
}

static int blob_path(struct image_source *src, const char *digest, char out[DIGEST_STR_LEN + 16])
{
	if (!digest_valid(digest))
		return err_set(src->e, -EINVAL, "'%s' is not a sha256 digest", digest ? digest : "(none)");
	snprintf(out, DIGEST_STR_LEN + 16, "blobs/sha256/%s", digest_hex(digest));
	return 0;
}

static int oci_image(struct image_source *src, const char *mdigest, const char *ref,
		     struct image_plan *p)
{
	char path[DIGEST_STR_LEN + 16];
	int r = blob_path(src, mdigest, path);
	if (r < 0)
		return r;
	r = src->bp->json(src->c, path, mdigest, &p->manifest, &p->manifest_len, p->manifest_digest);
	if (r < 0)
		return r;
	_cleanup_json_ struct json *m = NULL;
	char what[DIGEST_STR_LEN + 16];
	snprintf(what, sizeof(what), "manifest '%s'", mdigest);
	r = parse_doc(src, what, p->manifest, p->manifest_len, &m);
	if (r < 0)
		return r;
	const char *cdigest = json_get_str(json_get_object(m, "config"), "digest");
	int64_t csize = -1;
	json_get_int(json_get_object(m, "config"), "size", &csize);
	const struct json *layers = json_get_array(m, "layers");
	if (!cdigest || !layers)
		return err_set(src->e, -EINVAL, "manifest '%s' has no config or layers", mdigest);
	r = blob_path(src, cdigest, path);
	_cleanup_json_ struct json *cfg = NULL;
	if (r == 0)
		r = load_config(src, p, path, cdigest, &cfg);
	if (r < 0)
		return r;
	if (csize >= 0 && (uint64_t)csize != p->config_len)
		return err_set(src->e, -EBADMSG, "config '%s' has %zu bytes, manifest says %lld",
			       cdigest, p->config_len, (long long)csize);
	p->layers = calloc(layers->n ? layers->n : 1, sizeof(*p->layers));
	if (!p->layers)
		return -ENOMEM;
	for (size_t k = 0; k < layers->n; k++) {
		const char *ld = json_get_str(layers->items[k], "digest");
		int64_t size = -1;
		json_get_int(layers->items[k], "size", &size);
		r = blob_path(src, ld, path);
		if (r == 0)
			r = src->bp->layer(src->c, path, ld, diff_id_at(cfg, k), &p->layers[k]);
		if (r < 0)
			return r;
		if (p->layers[k].blob_size && size >= 0 && (uint64_t)size != p->layers[k].blob_size)
			return err_set(src->e, -EBADMSG, "layer blob '%s' has %llu bytes, manifest says %lld",
				       ld, (unsigned long long)p->layers[k].blob_size, (long long)size);
		p->nlayers++;
	}
	r = check_diff_ids(src, p, cfg);
	if (r == 0 && ref)
		r = plan_add_ref(p, ref);
	return r;
}

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST));
}

/* For an image index, the manifest for this machine (else the first). */
static int pick_platform(struct image_source *src, const char *idigest, char out[DIGEST_STR_LEN + 1])
{
	char path[DIGEST_STR_LEN + 16];
	_cleanup_free_ char *data = NULL;
	size_t len;
	char dg[DIGEST_STR_LEN + 1];
	int r = blob_path(src, idigest, path);
	if (r == 0)
		r = src->bp->json(src->c, path, idigest, &data, &len, dg);
	_cleanup_json_ struct json *idx = NULL;
	if (r == 0)
		r = parse_doc(src, "image index", data, len, &idx);
	if (r < 0)
		return r;
	const struct json *ms = json_get_array(idx, "manifests");
	if (!ms || !ms->n)
		return err_set(src->e, -EINVAL, "image index '%s' lists no manifests", idigest);
	const char *pick = NULL;
	for (size_t k = 0; k < ms->n && !pick; k++) {
		const struct json *pl = json_get_object(ms->items[k], "platform");
		const char *os = json_get_str(pl, "os"), *arch = json_get_str(pl, "architecture");
		if (os && arch && !strcmp(os, "linux") && !strcmp(arch, host_arch()))
			pick = json_get_str(ms->items[k], "digest");
	}
	if (!pick)
		pick = json_get_str(ms->items[0], "digest");
	if (!digest_valid(pick))
		return err_set(src->e, -EINVAL, "image index '%s' has no valid manifest digest", idigest);
	strcpy(out, pick);
	return 0;
}

/* An image from one element of manifest.json (docker) or index.json. */
typedef int (*plan_one_fn)(struct image_source *src, const struct json *item, size_t k,
			   struct image_plan *p);

static int docker_one(struct image_source *src, const struct json *item, size_t k,
		      struct image_plan *p)
{
	(void)k;
	return docker_image(src, item, p);
}

static int oci_one(struct image_source *src, const struct json *d, size_t k, struct image_plan *p)
{
	const char *dg = json_get_str(d, "digest");
	const char *ref = json_get_str(json_get_object(d, "annotations"), STORE_REF_ANNOTATION);
	char mdigest[DIGEST_STR_LEN + 1];
	if (!digest_valid(dg))
		return err_set(src->e, -EINVAL, "index.json entry %zu has no valid digest", k + 1);
	strcpy(mdigest, dg);
	bool nested = is_index_type(json_get_str(d, "mediaType"));
	int r = nested ? pick_platform(src, dg, mdigest) : 0;
	if (r == 0)
		r = oci_image(src, mdigest, ref, p);
	int64_t size = -1;
	if (r == 0 && !nested && json_get_int(d, "size", &size) && (uint64_t)size != p->manifest_len)
		r = err_set(src->e, -EBADMSG, "manifest '%s' has %zu bytes, index.json says %lld",
			    mdigest, p->manifest_len, (long long)size);
	return r;
}

/* Parse the list document DATA (WHAT names it; KEY is the member holding
 * the list, or NULL when the document is the list) and plan each image. */
static int plans_each(struct image_source *src, const char *what, const char *key,
		      const char *data, size_t len, plan_one_fn one,
		      struct image_plan **plans, size_t *n)
{
	_cleanup_json_ struct json *doc = NULL;
	int r = parse_doc(src, what, data, len, &doc);
	if (r < 0)
		return r;
	const struct json *list = key ? json_get_array(doc, key) : doc;
	if (!list || list->type != JSON_ARRAY || !list->n)
		return err_set(src->e, -EINVAL, "%s lists no images", what);
	for (size_t k = 0; k < list->n; k++) {
		struct image_plan p = { 0 };
		r = one(src, list->items[k], k, &p);
		struct image_plan *np = r < 0 ? NULL : realloc(*plans, (*n + 1) * sizeof(*np));
		if (r == 0 && !np)
			r = -ENOMEM;
		if (r < 0) {
			plan_free(&p);
			return r;
		}
		*plans = np;
		np[(*n)++] = p;
	}
	return 0;
}

int plans_from_image(struct image_source *src, const char *name,
		     struct image_plan **plans, size_t *n, const char **kind)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	char dg[DIGEST_STR_LEN + 1];
	/* docker-save's manifest.json first: it carries the names.  Its
	 * absence is no error: forget the message. */
	int r = src->bp->json(src->c, "manifest.json", NULL, &data, &len, dg);
	if (r < 0 && src->e)
		src->e->msg[0] = '\0';
	if (r == 0) {
		*kind = "docker-archive";
		r = plans_each(src, "manifest.json", NULL, data, len, docker_one, plans, n);
	} else {
		r = src->bp->json(src->c, "index.json", NULL, &data, &len, dg);
		if (r == -ENOENT && src->e)
			src->e->msg[0] = '\0';
		if (r == -ENOENT)
			return err_set(src->e, -ENOMSG, "an image archive needs manifest.json or index.json, "
				       "and this input has neither");
		if (r < 0)
			return r;
		*kind = "oci";
		r = plans_each(src, "index.json", "manifests", data, len, oci_one, plans, n);
	}
	if (r < 0)
		return r;
	if (name) {
		if (*n != 1)
			return err_set(src->e, -EINVAL, "input holds %zu images; a name fits only one", *n);
		for (size_t k = 0; k < (*plans)[0].nrefs; k++)
			free((*plans)[0].refs[k]);
		(*plans)[0].nrefs = 0;
		if ((*plans)[0].refs)
			(*plans)[0].refs[0] = NULL;
		return plan_add_ref(&(*plans)[0], name);
	}
	return 0;
}

int plan_for_single_layer(struct image_plan *p, const char *name)
{
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	_cleanup_json_ struct json *cfg = json_new_object();
	struct json *rootfs = json_new_object(), *ids = json_new_array();
	struct json *hist = json_new_array(), *h0 = json_new_object();
	int r = cfg && rootfs && ids && hist && h0 ? 0 : -ENOMEM;
	if (!r) r = json_set_str(cfg, "created", when);
	if (!r) r = json_set_str(cfg, "architecture", host_arch());
	if (!r) r = json_set_str(cfg, "os", "linux");
	if (!r) r = json_object_set(cfg, "config", json_new_object());
	if (!r) r = json_array_push(ids, json_new_string(p->single.diff_id));
	if (!r) r = json_set_str(rootfs, "type", "layers");
	if (!r) { r = json_object_set(rootfs, "diff_ids", ids); ids = NULL; }
	if (!r) { r = json_object_set(cfg, "rootfs", rootfs); rootfs = NULL; }
	if (!r) r = json_set_str(h0, "created", when);
	if (!r) r = json_set_str(h0, "created_by", "layerctl import");
	if (!r) { r = json_array_push(hist, h0); h0 = NULL; }
	if (!r) { r = json_object_set(cfg, "history", hist); hist = NULL; }
	json_free(rootfs);
	json_free(ids);
	json_free(hist);
	json_free(h0);
	if (r < 0)
		return r;
	struct strbuf sb = STRBUF_INIT;
	r = json_write(cfg, 0, &sb);
	if (r == 0)
		r = digest_buffer(sb.s, sb.len, p->config_digest);
	p->config_len = sb.len;
	p->config = sb_detach(&sb);
	if (r < 0 || !p->config)
		return r < 0 ? r : -ENOMEM;
	p->layers = malloc(sizeof(*p->layers));
	if (!p->layers)
		return -ENOMEM;
	p->layers[0] = p->single;
	p->nlayers = 1;
	if (name && (r = plan_add_ref(p, name)) < 0)
		return r;
	return build_manifest(p);
}
