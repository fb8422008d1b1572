/* libFuzzer harness: reading docker-save manifest.json, OCI index.json,
 * image indexes, manifests and configs (lib/image_plan.c), with the
 * documents served from memory.
 *
 * The input is a set of documents separated by lines "%%NAME\n"; the first
 * document, unnamed, is manifest.json, or index.json when it starts with
 * '{'.  A blob asked for by a name no document has gets the next unnamed
 * document.  Digests cannot be forged by mutation, so this provider
 * reports every blob as having the digest asked for: what is fuzzed is
 * the parsing and the cross-checks after the digests. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "image_plan.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DOCS 16

struct doc {
	const char *name;   /* NULL: unnamed */
	size_t name_len;
	const char *data;
	size_t len;
	int used;
};

struct import_ctx {
	struct doc d[MAX_DOCS];
	size_t n;
	struct errmsg *e;
};

static struct doc *find_doc(struct import_ctx *c, const char *path)
{
	for (size_t k = 0; k < c->n; k++)
		if (c->d[k].name && c->d[k].name_len == strlen(path) &&
		    !memcmp(c->d[k].name, path, c->d[k].name_len))
			return &c->d[k];
	for (size_t k = 1; k < c->n; k++)
		if (!c->d[k].name && !c->d[k].used) {
			c->d[k].used = 1;
			return &c->d[k];
		}
	return NULL;
}

static int mem_json(struct import_ctx *c, const char *path, const char *want,
		    char **data, size_t *len, char *digest)
{
	struct doc *d = find_doc(c, path);
	if (!d)
		return err_set(c->e, -ENOENT, "missing blob '%s'", path);
	*data = malloc(d->len + 1);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, d->data, d->len);
	(*data)[d->len] = '\0';
	*len = d->len;
	if (want && strlen(want) <= DIGEST_STR_LEN)
		strcpy(digest, want);
	else
		digest_buffer(d->data, d->len, digest);
	return 0;
}

static int mem_layer(struct import_ctx *c, const char *path, const char *want,
		     const char *want_diff, struct layer_result *out)
{
	struct doc *d = find_doc(c, path);
	if (!d)
		return err_set(c->e, -ENOENT, "missing layer blob '%s'", path);
	memset(out, 0, sizeof(*out));
	digest_buffer(d->data, d->len, out->blob_digest);
	strcpy(out->diff_id, out->blob_digest);
	if (want && strlen(want) <= DIGEST_STR_LEN)
		strcpy(out->blob_digest, want);
	/* A layer whose first byte is odd has the DiffID the config says. */
	if (want_diff && d->len && (d->data[0] & 1) && strlen(want_diff) <= DIGEST_STR_LEN)
		strcpy(out->diff_id, want_diff);
	out->blob_size = d->len;
	out->media_type = MT_OCI_LAYER;
	return 0;
}

static const struct blob_provider mem_provider = { mem_json, mem_layer };

static void split(struct import_ctx *c, const char *p, size_t size)
{
	const char *end = p + size, *name = NULL;
	size_t name_len = 0;
	while (c->n < MAX_DOCS) {
		const char *sep = memmem(p, (size_t)(end - p), "\n%%", 3);
		const char *stop = sep ? sep : end;
		c->d[c->n++] = (struct doc){ name, name_len, p, (size_t)(stop - p), 0 };
		if (!sep)
			break;
		name = sep + 3;
		const char *nl = memchr(name, '\n', (size_t)(end - name));
		name_len = (size_t)((nl ? nl : end) - name);
		if (!name_len)
			name = NULL;
		p = nl ? nl + 1 : end;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errmsg e = { { 0 } };
	struct import_ctx c = { .e = &e };
	split(&c, (const char *)data, size);
	/* The first document answers for manifest.json or index.json. */
	int oci = size && data[0] == '{';
	c.d[0].name = oci ? "index.json" : "manifest.json";
	c.d[0].name_len = strlen(c.d[0].name);
	struct image_source src = { &c, &mem_provider, &e, -1 };
	struct image_plan *plans = NULL;
	size_t n = 0;
	const char *kind = NULL;
	int r = plans_from_image(&src, (size & 2) ? "fuzz:v1.0.0" : NULL, &plans, &n, &kind);
	if (r < 0 && !e.msg[0] && r != -ENOMEM)
		abort();           /* every refusal says why */
	for (size_t k = 0; k < n; k++) {
		/* A plan holds what a commit needs. */
		if (r == 0 && (!plans[k].config || !plans[k].manifest || !digest_valid(plans[k].config_digest)))
			abort();
		plan_free(&plans[k]);
	}
	free(plans);
	return 0;
}
