/* New images over stored ones (see image_build.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "image_build.h"
#include "image_commit.h"

void rfc3339(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Docker media types of kept layers, as an OCI manifest names them. */
static const char *oci_layer_type(const char *mt)
{
	if (mt && !strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.gzip"))
		return MT_OCI_LAYER "+gzip";
	if (mt && !strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar"))
		return MT_OCI_LAYER;
	return mt ? mt : MT_OCI_LAYER;
}

static struct json *descriptor(const char *mt, const char *digest, int64_t size)
{
	struct json *d = json_new_object();
	if (d && (json_set_str(d, "mediaType", mt) < 0 || json_set_str(d, "digest", digest) < 0 ||
		  json_set_int(d, "size", size) < 0)) {
		json_free(d);
		return NULL;
	}
	return d;
}

/* The base's history entries up to its KEEP-th layer. */
static struct json *kept_history(const struct json *hist, size_t keep)
{
	struct json *out = json_new_array();
	size_t layers = 0;
	for (size_t k = 0; out && hist && k < hist->n && layers < keep; k++) {
		const struct json *el = json_get(hist->items[k], "empty_layer");
		if (!(el && el->type == JSON_BOOL && el->b))
			layers++;
		if (json_array_push(out, json_clone(hist->items[k])) < 0) {
			json_free(out);
			return NULL;
		}
	}
	return out;
}

static int build_config(const struct image_info *base, const struct layer_result *layer,
			const struct build_opts *o, struct strbuf *out)
{
	_cleanup_json_ struct json *cfg = json_clone(base->config);
	if (!cfg || cfg->type != JSON_OBJECT)
		return -EINVAL;
	char created[32];
	rfc3339(o->created, created);
	int r = json_set_str(cfg, "created", created);
	if (r == 0 && o->author)
		r = json_set_str(cfg, "author", o->author);
	struct json *ids = json_new_array();
	for (size_t k = 0; r == 0 && ids && k < o->keep; k++)
		r = json_array_push(ids, json_new_string(base->layers[k].diff_id));
	if (r == 0 && ids)
		r = json_array_push(ids, json_new_string(layer->diff_id));
	struct json *rootfs = json_new_object();
	if (r == 0 && (!ids || !rootfs))
		r = -ENOMEM;
	if (r == 0)
		r = json_set_str(rootfs, "type", "layers");
	if (r == 0) {
		r = json_object_set(rootfs, "diff_ids", ids);
		ids = NULL;
	}
	if (r == 0) {
		r = json_object_set(cfg, "rootfs", rootfs);
		rootfs = NULL;
	}
	json_free(ids);
	json_free(rootfs);
	struct json *hist = r == 0 ? kept_history(json_get_array(base->config, "history"), o->keep) : NULL;
	struct json *h = json_new_object();
	if (r == 0 && (!hist || !h))
		r = -ENOMEM;
	if (r == 0)
		r = json_set_str(h, "created", created);
	if (r == 0)
		r = json_set_str(h, "created_by", o->created_by);
	if (r == 0 && o->author)
		r = json_set_str(h, "author", o->author);
	if (r == 0 && o->message)
		r = json_set_str(h, "comment", o->message);
	if (r == 0) {
		r = json_array_push(hist, h);
		h = NULL;
	}
	if (r == 0) {
		r = json_object_set(cfg, "history", hist);
		hist = NULL;
	}
	json_free(h);
	json_free(hist);
	return r < 0 ? r : json_write(cfg, 0, out);
}

static int build_manifest(const struct image_info *base, const struct layer_result *layer,
			  const struct build_opts *o, const char *cfg_digest, size_t cfg_len,
			  struct strbuf *out)
{
	_cleanup_json_ struct json *m = json_new_object();
	struct json *layers = json_new_array();
	const struct json *bl = json_get_array(base->manifest, "layers");
	int r = m && layers ? 0 : -ENOMEM;
	for (size_t k = 0; r == 0 && k < o->keep; k++) {
		const struct json *d = bl && k < bl->n ? bl->items[k] : NULL;
		int64_t size = 0;
		json_get_int(d, "size", &size);
		r = json_array_push(layers, descriptor(oci_layer_type(json_get_str(d, "mediaType")),
						       base->layers[k].blob_digest, size));
	}
	if (r == 0)
		r = json_array_push(layers, descriptor(layer->media_type, layer->blob_digest,
						       (int64_t)layer->blob_size));
	if (r == 0)
		r = json_set_int(m, "schemaVersion", 2);
	if (r == 0)
		r = json_set_str(m, "mediaType", MT_OCI_MANIFEST);
	if (r == 0)
		r = json_object_set(m, "config", descriptor(MT_OCI_CONFIG, cfg_digest, (int64_t)cfg_len));
	if (r == 0) {
		r = json_object_set(m, "layers", layers);
		layers = NULL;
	}
	json_free(layers);
	return r < 0 ? r : json_write(m, 0, out);
}

static int write_tmp(int tmpfd, const char *name, const struct strbuf *sb)
{
	_cleanup_close_ int fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, sb->s, sb->len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	return r;
}

/* Renames done so far, undone on failure. */
struct moves {
	struct { int fromfd, tofd; const char *from; char to[80]; } v[5];
	size_t n;
};

static int move(struct moves *m, int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat(fromfd, from, tofd, to) < 0)
		return -errno;
	m->v[m->n].fromfd = fromfd;
	m->v[m->n].from = from;
	m->v[m->n].tofd = tofd;
	snprintf(m->v[m->n].to, sizeof(m->v[m->n].to), "%s", to);
	m->n++;
	return 0;
}

static void undo(struct moves *m)
{
	while (m->n--)
		renameat(m->v[m->n].tofd, m->v[m->n].to, m->v[m->n].fromfd, m->v[m->n].from);
}

static int move_all(struct store *s, int tmpfd, const struct layer_result *layer,
		    const char *cfg_digest, const char *mf_digest, struct errmsg *e)
{
	struct moves m = { .n = 0 };
	int r = 0;
	if (!store_has_blob(s, layer->blob_digest) &&
	    (r = move(&m, tmpfd, layer->blob, s->blobsfd, digest_hex(layer->blob_digest))) < 0)
		r = err_sys(e, r, "cannot store blob '%s'", layer->blob_digest);
	if (r == 0 && !store_has_layer(s, layer->diff_id) &&
	    (r = move(&m, tmpfd, layer->dir, s->layersfd, digest_hex(layer->diff_id))) < 0)
		r = err_sys(e, r, "cannot store layer '%s'", layer->diff_id);
	if (r == 0 && !store_has_blob(s, cfg_digest) &&
	    (r = move(&m, tmpfd, "config", s->blobsfd, digest_hex(cfg_digest))) < 0)
		r = err_sys(e, r, "cannot store blob '%s'", cfg_digest);
	if (r == 0 && !store_has_blob(s, mf_digest) &&
	    (r = move(&m, tmpfd, "manifest", s->blobsfd, digest_hex(mf_digest))) < 0)
		r = err_sys(e, r, "cannot store blob '%s'", mf_digest);
	if (r == 0 && renameat(tmpfd, "index.json", s->rootfd, "index.json") < 0)
		r = err_sys(e, -errno, "cannot replace '%s/index.json'", s->root);
	if (r < 0)
		undo(&m);
	return r;
}

int image_build_commit(struct store *s, int tmpfd, const struct image_info *base,
		       const struct layer_result *layer, const struct build_opts *o,
		       char manifest_digest[DIGEST_STR_LEN + 1], struct errmsg *e)
{
	_cleanup_strbuf_ struct strbuf cfg = STRBUF_INIT, mf = STRBUF_INIT, idx = STRBUF_INIT;
	char cfg_digest[DIGEST_STR_LEN + 1];
	int r = build_config(base, layer, o, &cfg);
	if (r < 0)
		return err_sys(e, r, "cannot make the image config");
	if ((r = digest_buffer(cfg.s, cfg.len, cfg_digest)) < 0 ||
	    (r = build_manifest(base, layer, o, cfg_digest, cfg.len, &mf)) < 0 ||
	    (r = digest_buffer(mf.s, mf.len, manifest_digest)) < 0)
		return err_sys(e, r, "cannot make the image manifest");
	if ((r = write_tmp(tmpfd, "config", &cfg)) < 0 || (r = write_tmp(tmpfd, "manifest", &mf)) < 0)
		return err_sys(e, r, "cannot write the image");
	if ((r = store_lock(s, LOCK_EX, e)) < 0)
		return r;
	_cleanup_json_ struct json *index = NULL;
	r = store_read_index(s, &index, e);
	if (r == 0 && (r = index_add_ref(index, o->ref, manifest_digest, MT_OCI_MANIFEST,
					 (int64_t)mf.len)) < 0)
		err_sys(e, r, "cannot name the image '%s'", o->ref);
	if (r == 0 && ((r = json_write(index, 0, &idx)) < 0 || (r = write_tmp(tmpfd, "index.json", &idx)) < 0))
		err_sys(e, r, "cannot write '%s/index.json'", s->root);
	if (r == 0)
		r = move_all(s, tmpfd, layer, cfg_digest, manifest_digest, e);
	store_unlock(s);
	return r;
}
