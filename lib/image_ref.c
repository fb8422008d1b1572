/* Reading an image from the store: index.json (names) -> manifest ->
 * config (Entrypoint, Cmd, Env, WorkingDir, User; rootfs.diff_ids) ->
 * the extracted layer trees, layers/<diffid hex>/tree (docs/STORE.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "image_ref.h"
#include "fsutil.h"
#include "images.h"
#include "json.h"
#include "store.h"


void image_config_free(struct image_config *c)
{
	strv_free(c->entrypoint);
	strv_free(c->cmd);
	strv_free(c->env);
	free(c->workdir);
	free(c->user);
	memset(c, 0, sizeof(*c));
}

void image_ref_free(struct image_ref *r)
{
	for (size_t k = 0; k < r->n; k++)
		free(r->lowerdirs[k]);
	free(r->lowerdirs);
	image_config_free(&r->cfg);
	free(r->manifest_digest);
	free(r->config_digest);
	memset(r, 0, sizeof(*r));
}

static int read_config(const struct json *config, struct image_config *c)
{
	const struct json *cc = json_get(config, "config");
	int r;
	if ((r = strv_from_json(json_get(cc, "Entrypoint"), &c->entrypoint)) < 0 ||
	    (r = strv_from_json(json_get(cc, "Cmd"), &c->cmd)) < 0 ||
	    (r = strv_from_json(json_get(cc, "Env"), &c->env)) < 0)
		return r;
	const char *w = json_get_str(cc, "WorkingDir"), *u = json_get_str(cc, "User");
	if (w && *w && !(c->workdir = strdup(w)))
		return -ENOMEM;
	if (u && *u && !(c->user = strdup(u)))
		return -ENOMEM;
	return 0;
}

/* The extracted trees of I's layers, top (last) first. */
static int layer_dirs(const char *root, struct store *s, const struct image_info *i,
		      struct image_ref *ref, struct msgbuf *m)
{
	if (i->nlayers == 0)
		return msg_fail(m, -EINVAL, "image config lists no layers");
	ref->lowerdirs = calloc(i->nlayers, sizeof(char *));
	if (!ref->lowerdirs)
		return -ENOMEM;
	for (size_t k = 0; k < i->nlayers; k++) {
		const char *d = i->layers[i->nlayers - 1 - k].diff_id;
		if (!store_has_layer(s, d))
			return msg_fail(m, -ENOENT, "layer '%s' is not extracted in the store", d);
		if (asprintf(&ref->lowerdirs[k], "%s/layers/%s/tree", root, d + 7) < 0)
			return -ENOMEM;
		ref->n++;
	}
	return 0;
}

static int resolve(const char *root, struct store *s, const char *name, struct image_ref *ref,
		   struct msgbuf *m)
{
	struct errmsg e = { { 0 } };
	int r = store_lock(s, LOCK_SH, &e);
	if (r < 0)
		return msg_fail(m, r, "%s", err_text(&e, r));
	struct image_list l = { 0 };
	if ((r = images_load(s, &l, &e)) < 0)
		return msg_fail(m, r, "%s", err_text(&e, r));
	int idx = image_find(&l, name, &e);
	if (idx < 0) {
		images_free(&l);
		return msg_fail(m, idx, "%s", err_text(&e, idx));
	}
	const struct image_info *i = &l.v[idx];
	if (i->broken)
		r = msg_fail(m, -EINVAL, "image '%s' cannot be used: %s", name, i->broken);
	else if (!(ref->manifest_digest = strdup(i->manifest_digest)) ||
		 !(ref->config_digest = strdup(i->config_digest)))
		r = -ENOMEM;
	else if ((r = read_config(i->config, &ref->cfg)) == 0)
		r = layer_dirs(root, s, i, ref, m);
	images_free(&l);
	return r;
}

int image_resolve(const char *root, const char *name, struct image_ref *out,
		  struct msgbuf *m)
{
	struct errmsg e = { { 0 } };
	_cleanup_store_ struct store *s = NULL;
	int r = store_open(root, false, &s, &e);
	if (r < 0)
		return msg_fail(m, r, "%s", err_text(&e, r));
	struct image_ref ref = { 0 };
	r = resolve(root, s, name, &ref, m);
	store_unlock(s);
	if (r < 0) {
		image_ref_free(&ref);
		return r;
	}
	*out = ref;
	return 0;
}
