/* docker-archive export: the classic `docker save` layout, which docker
 * load (every version), podman load and skopeo read:
 *
 *   <config hex>.json        the config, byte for byte
 *   <diffid hex>/VERSION     "1.0"
 *   <diffid hex>/json        a legacy layer record (id, parent, created)
 *   <diffid hex>/layer.tar   the layer, uncompressed
 *   manifest.json            [{"Config", "RepoTags", "Layers"}]
 *   repositories             {"name": {"tag": "<top layer id>"}}
 *
 * Layer directories are named by DiffID (unique per layer content, so a
 * layer repeated in one image is written once and named twice in Layers,
 * as docker save does), which lets `layerctl import` recognise a stored
 * layer before reading it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "cleanup.h"
#include "export.h"
#include "layer_import.h"
#include "tar_writer.h"

#define CHUNK (1u << 20)

static void cleanup_archive(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

/* Decompress blob FD (gzip or zstd) from its start: into W when given,
 * hashing into H; the uncompressed byte count in *BYTES. */
static int decompress(int fd, struct tar_writer *w, struct hasher *h, uint64_t *bytes,
		      const char *digest, struct errmsg *e)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return err_sys(e, -errno, "cannot read blob '%s'", digest);
	__attribute__((cleanup(cleanup_archive))) struct archive *a = archive_read_new();
	_cleanup_free_ char *buf = malloc(CHUNK);
	if (!a || !buf)
		return -ENOMEM;
	archive_support_filters(a, false); /* never an outside program */
	archive_read_support_format_raw(a);
	struct archive_entry *ae;
	if (archive_read_open_fd(a, fd, CHUNK) != ARCHIVE_OK ||
	    archive_read_next_header(a, &ae) != ARCHIVE_OK)
		return err_set(e, -EIO, "cannot decompress blob '%s': %s", digest,
			       archive_error_string(a));
	*bytes = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, CHUNK);
		if (n < 0)
			return err_set(e, -EIO, "cannot decompress blob '%s': %s", digest,
				       archive_error_string(a));
		if (n == 0)
			return 0;
		*bytes += (uint64_t)n;
		if (h)
			hasher_update(h, buf, (size_t)n);
		int r = w ? tw_write(w, buf, (size_t)n) : 0;
		if (r == -EFBIG)
			return err_set(e, -EBADMSG, "blob '%s' decompresses to more bytes than its "
				       "layer record says", digest);
		if (r < 0)
			return err_sys(e, r, "cannot write the archive");
	}
}

/* The uncompressed size of a layer: its record says, else count. */
static int layer_tar_size(struct store *s, const struct image_layer *l, int fd, uint64_t *size,
			  struct errmsg *e)
{
	struct layer_summary sum;
	struct errmsg ignore = { { 0 } };
	if (layer_summary_load(s, l->diff_id, &sum, &ignore) == 0 && sum.size) {
		*size = sum.size;
		return 0;
	}
	return decompress(fd, NULL, NULL, size, l->blob_digest, e);
}

static int tar_layer(struct store *s, const struct image_layer *l, const char *name,
		     struct tar_writer *w, struct errmsg *e)
{
	uint64_t size = 0;
	_cleanup_close_ int fd = export_open_blob(s, l->blob_digest, &size, e);
	if (fd < 0)
		return fd;
	unsigned char magic[16];
	ssize_t got = pread(fd, magic, sizeof(magic), 0);
	const char *comp = got > 0 ? sniff_compression(magic, (size_t)got) : NULL;
	int r;
	if (!comp) {
		/* Already a tar: its digest is the DiffID; copied as it is. */
		if ((r = tw_file_header(w, name, 0644, size)) == 0 &&
		    (r = tw_copy_fd(w, fd, size)) == 0)
			r = tw_end_entry(w);
		return r < 0 ? err_sys(e, r, "cannot write layer '%s'", l->diff_id) : 0;
	}
	if (strcmp(comp, "gzip") && strcmp(comp, "zstd"))
		return err_set(e, -ENOTSUP, "blob '%s' is compressed with %s", l->blob_digest, comp);
	uint64_t tsize = 0, bytes = 0;
	if ((r = layer_tar_size(s, l, fd, &tsize, e)) < 0)
		return r;
	if ((r = tw_file_header(w, name, 0644, tsize)) < 0)
		return err_sys(e, r, "cannot write the archive");
	_cleanup_hasher_ struct hasher h = { 0 };
	if ((r = hasher_init(&h)) < 0)
		return r;
	if ((r = decompress(fd, w, &h, &bytes, l->blob_digest, e)) < 0)
		return r;
	char diff[DIGEST_STR_LEN + 1];
	hasher_final(&h, diff);
	/* The config names the layers by these: a mismatch would make an
	 * archive no tool loads. */
	if (bytes != tsize || strcmp(diff, l->diff_id))
		return err_set(e, -EBADMSG, "blob '%s' decompresses to %s (%llu bytes), but the "
			       "image says %s (%llu bytes); run 'layerctl verify'", l->blob_digest,
			       diff, (unsigned long long)bytes, l->diff_id, (unsigned long long)tsize);
	r = tw_end_entry(w);
	return r < 0 ? err_sys(e, r, "cannot write the archive") : 0;
}

static int put_json(struct tar_writer *w, const char *name, const struct json *j)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = json_write(j, 0, &sb);
	return r < 0 ? r : tw_file(w, name, sb.s ? sb.s : "", sb.len);
}

static bool has_tag(const char *ref)
{
	const char *colon = strrchr(ref, ':'), *slash = strrchr(ref, '/');
	return colon && colon[1] && (!slash || colon > slash);
}

/* "name:tag" split at the tag's colon (a registry port has a '/' after). */
static int split_ref(const char *ref, char **name, const char **tag)
{
	if (!has_tag(ref))
		return -EINVAL;
	const char *colon = strrchr(ref, ':');
	*name = strndup(ref, (size_t)(colon - ref));
	*tag = colon + 1;
	return *name ? 0 : -ENOMEM;
}

static int manifest_json(const struct image_info *img, char *const *refs, struct json **out)
{
	_cleanup_json_ struct json *arr = json_new_array();
	struct json *m = json_new_object();
	struct json *tags = refs && refs[0] ? json_new_array() : json_new_null();
	struct json *layers = json_new_array();
	char cfg[DIGEST_HEX_LEN + 8];
	snprintf(cfg, sizeof(cfg), "%s.json", digest_hex(img->config_digest));
	int r = arr && m && tags && layers ? 0 : -ENOMEM;
	/* Only NAME:TAG: docker and podman refuse a bare OCI tag ("v2"). */
	for (size_t k = 0; r == 0 && refs && refs[k]; k++)
		if (has_tag(refs[k]))
			r = json_array_push(tags, json_new_string(refs[k]));
	if (r == 0 && tags->type == JSON_ARRAY && !tags->n) {
		json_free(tags);
		tags = json_new_null();
		r = tags ? 0 : -ENOMEM;
	}
	for (size_t k = 0; r == 0 && k < img->nlayers; k++) {
		char p[DIGEST_HEX_LEN + 16];
		snprintf(p, sizeof(p), "%s/layer.tar", digest_hex(img->layers[k].diff_id));
		r = json_array_push(layers, json_new_string(p));
	}
	if (!r) r = json_set_str(m, "Config", cfg);
	if (!r) { r = json_object_set(m, "RepoTags", tags); tags = NULL; }
	if (!r) { r = json_object_set(m, "Layers", layers); layers = NULL; }
	if (!r) { r = json_array_push(arr, m); m = NULL; }
	json_free(m);
	json_free(tags);
	json_free(layers);
	if (r == 0)
		*out = TAKE_PTR(arr);
	return r;
}

static int repositories_json(const struct image_info *img, char *const *refs, struct json **out)
{
	_cleanup_json_ struct json *repos = json_new_object();
	if (!repos)
		return -ENOMEM;
	const char *top = img->nlayers ? digest_hex(img->layers[img->nlayers - 1].diff_id) : "";
	for (size_t k = 0; refs && refs[k]; k++) {
		_cleanup_free_ char *name = NULL;
		const char *tag;
		if (split_ref(refs[k], &name, &tag) < 0)
			continue;
		struct json *tags = (struct json *)json_get_object(repos, name);
		if (!tags) {
			int r = json_object_set(repos, name, json_new_object());
			if (r < 0)
				return r;
			tags = (struct json *)json_get_object(repos, name);
		}
		int r = json_set_str(tags, tag, top);
		if (r < 0)
			return r;
	}
	*out = TAKE_PTR(repos);
	return 0;
}

/* The legacy per-layer record docker save writes beside each layer. */
static int legacy_json(const struct image_info *img, size_t k, struct json **out)
{
	struct json *j = json_new_object();
	const char *created = img->created ? img->created : "1970-01-01T00:00:00Z";
	int r = j ? 0 : -ENOMEM;
	if (!r) r = json_set_str(j, "id", digest_hex(img->layers[k].diff_id));
	/* The previous distinct layer: a repeated one must not be its own parent. */
	for (size_t p = k; r == 0 && p-- > 0;)
		if (strcmp(img->layers[p].diff_id, img->layers[k].diff_id)) {
			r = json_set_str(j, "parent", digest_hex(img->layers[p].diff_id));
			break;
		}
	if (!r) r = json_set_str(j, "created", created);
	if (!r) r = json_object_set(j, "container_config", json_new_object());
	if (r < 0) {
		json_free(j);
		return r;
	}
	*out = j;
	return 0;
}

static int tar_layer_dir(struct store *s, const struct image_info *img, size_t k,
			 struct tar_writer *w, struct errmsg *e)
{
	const char *hex = digest_hex(img->layers[k].diff_id);
	char name[DIGEST_HEX_LEN + 16];
	snprintf(name, sizeof(name), "%s/", hex);
	int r = tw_dir(w, name);
	snprintf(name, sizeof(name), "%s/VERSION", hex);
	if (r == 0)
		r = tw_file(w, name, "1.0", 3);
	_cleanup_json_ struct json *legacy = NULL;
	if (r == 0)
		r = legacy_json(img, k, &legacy);
	snprintf(name, sizeof(name), "%s/json", hex);
	if (r == 0)
		r = put_json(w, name, legacy);
	if (r < 0)
		return err_sys(e, r, "cannot write the archive");
	snprintf(name, sizeof(name), "%s/layer.tar", hex);
	return tar_layer(s, &img->layers[k], name, w, e);
}

static int tar_config(struct store *s, const struct image_info *img, struct tar_writer *w,
		      struct errmsg *e)
{
	uint64_t size = 0;
	_cleanup_close_ int fd = export_open_blob(s, img->config_digest, &size, e);
	if (fd < 0)
		return fd;
	char name[DIGEST_HEX_LEN + 8];
	snprintf(name, sizeof(name), "%s.json", digest_hex(img->config_digest));
	int r = tw_file_header(w, name, 0644, size);
	if (r == 0)
		r = tw_copy_fd(w, fd, size);
	if (r == 0)
		r = tw_end_entry(w);
	return r < 0 ? err_sys(e, r, "cannot write config '%s'", img->config_digest) : 0;
}

/* One top-level name of the archive: the config (LAYER < 0) or a layer. */
struct unit {
	const char *hex;
	long layer;
};

static int cmp_unit(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;
	int c = strcmp(x->hex, y->hex);
	/* Same hex: "<hex>.json" sorts before "<hex>/". */
	return c ? c : (x->layer >= 0) - (y->layer >= 0);
}

int export_docker_archive(struct store *s, const struct image_info *img, char *const *refs,
			  struct tar_writer *w, struct errmsg *e)
{
	_cleanup_free_ struct unit *u = calloc(img->nlayers + 1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	size_t n = 0;
	u[n++] = (struct unit){ digest_hex(img->config_digest), -1 };
	for (size_t k = 0; k < img->nlayers; k++) {
		bool seen = false;
		for (size_t j = 0; j < k && !seen; j++)
			seen = !strcmp(img->layers[j].diff_id, img->layers[k].diff_id);
		if (!seen)
			u[n++] = (struct unit){ digest_hex(img->layers[k].diff_id), (long)k };
	}
	qsort(u, n, sizeof(*u), cmp_unit);
	int r = 0;
	for (size_t k = 0; r == 0 && k < n; k++)
		r = u[k].layer < 0 ? tar_config(s, img, w, e)
				   : tar_layer_dir(s, img, (size_t)u[k].layer, w, e);
	if (r < 0)
		return r;
	_cleanup_json_ struct json *manifest = NULL, *repos = NULL;
	if ((r = manifest_json(img, refs, &manifest)) == 0 &&
	    (r = put_json(w, "manifest.json", manifest)) == 0 &&
	    (r = repositories_json(img, refs, &repos)) == 0 && repos->n)
		r = put_json(w, "repositories", repos);
	if (r == 0)
		r = tw_finish(w);
	return r < 0 ? err_sys(e, r, "cannot write the archive") : 0;
}
