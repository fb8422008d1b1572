/* Reading an image from the store: index.json (names) -> manifest ->
 * config (Entrypoint, Cmd, Env, WorkingDir, User; rootfs.diff_ids) ->
 * the extracted layer trees, layers/<diffid hex>/tree (docs/STORE.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "image_ref.h"
#include "fsutil.h"
#include "json.h"

#define JSON_MAX (16u << 20)
#define REF_NAME "org.opencontainers.image.ref.name"

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

static bool valid_digest(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return false;
	return strspn(d + 7, "0123456789abcdef") == 64;
}

int json_load_at(int dirfd, const char *path, size_t max, struct json **out)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_file_at(dirfd, path, max, &data, &len);
	if (r < 0)
		return r;
	return json_parse(data, len, out, NULL, 0) < 0 ? -EINVAL : 0;
}

static int load_blob(int rootfd, const char *digest, struct json **out)
{
	if (!valid_digest(digest))
		return -EINVAL;
	char path[128];
	snprintf(path, sizeof(path), "blobs/sha256/%s", digest + 7);
	return json_load_at(rootfd, path, JSON_MAX, out);
}

static bool name_matches(const char *ref, const char *name)
{
	if (!strcmp(ref, name))
		return true;
	/* "busybox" means "busybox:latest" */
	size_t l = strlen(name);
	const char *slash = strrchr(name, '/');
	if (!strchr(slash ? slash : name, ':') && !strncmp(ref, name, l) &&
	    !strcmp(ref + l, ":latest"))
		return true;
	return false;
}

static bool digest_matches(const char *digest, const char *name)
{
	if (!strncmp(name, "sha256:", 7))
		name += 7;
	size_t l = strlen(name);
	return l >= 4 && l <= 64 && strspn(name, "0123456789abcdef") == l &&
	       !strncmp(digest + 7, name, l);
}

/* The manifest digest NAME stands for in index.json. */
static int find_manifest(const struct json *index, const char *name, const char **out,
			 struct msgbuf *m)
{
	const struct json *mf = json_get_array(index, "manifests");
	const char *found = NULL;
	bool ambiguous = false;
	for (size_t k = 0; mf && k < mf->n; k++) {
		const char *digest = json_get_str(mf->items[k], "digest");
		const char *ref = json_get_str(json_get(mf->items[k], "annotations"), REF_NAME);
		if (!valid_digest(digest))
			continue;
		if (ref && name_matches(ref, name)) {
			*out = digest;
			return 0;
		}
		if (digest_matches(digest, name)) {
			if (found && strcmp(found, digest))
				ambiguous = true;
			found = digest;
		}
	}
	if (ambiguous)
		return msg_fail(m, -EINVAL, "image '%s' is ambiguous", name);
	if (!found)
		return msg_fail(m, -ENOENT, "image '%s' is not in the store", name);
	*out = found;
	return 0;
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

/* The layer trees of CONFIG's rootfs.diff_ids, top (last) first. */
static int layer_dirs(const char *root, int rootfd, const struct json *config,
		      struct image_ref *ref, struct msgbuf *m)
{
	const struct json *ids = json_get_array(json_get(config, "rootfs"), "diff_ids");
	if (!ids || ids->n == 0)
		return msg_fail(m, -EINVAL, "image config lists no layers");
	ref->lowerdirs = calloc(ids->n, sizeof(char *));
	if (!ref->lowerdirs)
		return -ENOMEM;
	for (size_t k = 0; k < ids->n; k++) {
		const struct json *e = ids->items[ids->n - 1 - k];
		const char *d = e->type == JSON_STRING ? e->s : NULL;
		if (!valid_digest(d))
			return msg_fail(m, -EINVAL, "image config has a bad diff_id");
		char rel[128];
		snprintf(rel, sizeof(rel), "layers/%s/tree", d + 7);
		struct stat st;
		if (fstatat(rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return msg_fail(m, -ENOENT, "layer '%s' is not extracted in the store", d);
		if (asprintf(&ref->lowerdirs[k], "%s/%s", root, rel) < 0)
			return -ENOMEM;
		ref->n++;
	}
	return 0;
}

static int resolve(const char *root, int rootfd, const char *name, struct image_ref *ref,
		   struct msgbuf *m)
{
	_cleanup_json_ struct json *index = NULL, *manifest = NULL, *config = NULL;
	int r = json_load_at(rootfd, "index.json", JSON_MAX, &index);
	if (r == -ENOENT)
		return msg_fail(m, r, "image '%s' is not in the store (no images in '%s')", name, root);
	if (r < 0)
		return msg_fail(m, r, "cannot read '%s/index.json': %s", root, strerror(-r));
	const char *md = NULL;
	if ((r = find_manifest(index, name, &md, m)) < 0)
		return r;
	if (!(ref->manifest_digest = strdup(md)))
		return -ENOMEM;
	if ((r = load_blob(rootfd, md, &manifest)) < 0)
		return msg_fail(m, r, "cannot read manifest '%s': %s", md, strerror(-r));
	const char *cd = json_get_str(json_get(manifest, "config"), "digest");
	if (!cd || !(ref->config_digest = strdup(cd)))
		return msg_fail(m, -EINVAL, "manifest '%s' names no config", md);
	if ((r = load_blob(rootfd, cd, &config)) < 0)
		return msg_fail(m, r, "cannot read image config '%s': %s", cd, strerror(-r));
	if ((r = read_config(config, &ref->cfg)) < 0)
		return r;
	return layer_dirs(root, rootfd, config, ref, m);
}

int image_resolve(const char *root, const char *name, struct image_ref *out,
		  struct msgbuf *m)
{
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return msg_fail(m, -errno, "cannot open store '%s': %s", root, strerror(errno));
	struct image_ref ref = { 0 };
	int r = resolve(root, rootfd, name, &ref, m);
	if (r < 0) {
		image_ref_free(&ref);
		return r;
	}
	*out = ref;
	return 0;
}
