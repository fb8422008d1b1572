/* Comparing images by their layer records (see image_diff.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "image_diff.h"
#include "json.h"
#include "whiteout.h"

/* qsort that accepts an empty (NULL) array. */
static void qsort0(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(v, n, size, cmp);
}

struct item {
	char *path;
	const struct json *e;
};

struct items {
	struct item *v;
	size_t n, cap;
};

static int items_push(struct items *s, char *path, const struct json *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct item *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct item){ path, e };
	return 0;
}

static void items_free(struct items *s)
{
	for (size_t k = 0; k < s->n; k++)
		free(s->v[k].path);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->path, ((const struct item *)b)->path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool in_set(char **set, size_t n, const char *p)
{
	return n && bsearch(&p, set, n, sizeof(*set), cmp_str);
}

/* Is P, or (with STRICT only) an ancestor of P, in the sorted SET? */
static bool under(char **set, size_t n, const char *p, bool strict)
{
	if (!n)
		return false;
	char buf[4096];
	size_t l = strlen(p);
	if (l >= sizeof(buf))
		return false;
	memcpy(buf, p, l + 1);
	if (!strict && in_set(set, n, buf))
		return true;
	for (char *s = strrchr(buf, '/'); s; s = strrchr(buf, '/')) {
		*s = 0;
		if (in_set(set, n, buf))
			return true;
	}
	return false;
}

static void strs_free(char **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

static int strs_push(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	return (nv[(*n)++] = strndup(s, len)) ? 0 : -ENOMEM;
}

/* Apply one layer's entries to the sorted state CUR. */
static int apply_layer(struct items *cur, const struct json *entries)
{
	char **gone = NULL, **hidden = NULL;     /* whiteouts; non-dirs and opaque dirs */
	size_t ngone = 0, nhidden = 0;
	struct items add = { 0 };
	int r = 0;
	for (size_t k = 0; r == 0 && entries && k < entries->n; k++) {
		const struct json *e = entries->items[k];
		const char *p = json_get_str(e, "path"), *type = json_get_str(e, "type");
		if (!p || !type)
			continue;
		const char *base = strrchr(p, '/');
		size_t dl = base ? (size_t)(base - p) : 0;
		base = base ? base + 1 : p;
		if (wh_is_opaque_marker(base)) {
			r = strs_push(&hidden, &nhidden, p, dl);
			continue;
		}
		const char *t = wh_oci_target(base);
		if (t) {
			_cleanup_free_ char *full = NULL;
			if (asprintf(&full, "%.*s%s%s", (int)dl, p, dl ? "/" : "", t) < 0)
				r = -ENOMEM;
			else
				r = strs_push(&gone, &ngone, full, strlen(full));
			continue;
		}
		if (strcmp(type, "dir") && (r = strs_push(&hidden, &nhidden, p, strlen(p))) < 0)
			break;
		char *dup = strdup(p);
		if (!dup || (r = items_push(&add, dup, e)) < 0) {
			free(dup);
			r = -ENOMEM;
		}
	}
	if (r == 0) {
		qsort0(gone, ngone, sizeof(*gone), cmp_str);
		qsort0(hidden, nhidden, sizeof(*hidden), cmp_str);
		qsort0(add.v, add.n, sizeof(*add.v), cmp_item);
		/* Drop what the layer deletes or replaces, then merge. */
		struct items out = { 0 };
		size_t i = 0, j = 0;
		while (r == 0 && (i < cur->n || j < add.n)) {
			int c = i >= cur->n ? 1 : j >= add.n ? -1 : strcmp(cur->v[i].path, add.v[j].path);
			if (c < 0) {
				struct item *it = &cur->v[i++];
				if (under(gone, ngone, it->path, false) || under(hidden, nhidden, it->path, true)) {
					free(it->path);
					continue;
				}
				r = items_push(&out, it->path, it->e);
			} else {
				if (c == 0)
					free(cur->v[i++].path);
				/* The later of duplicate paths in one layer wins. */
				while (j + 1 < add.n && !strcmp(add.v[j].path, add.v[j + 1].path))
					free(add.v[j++].path);
				r = items_push(&out, add.v[j].path, add.v[j].e);
				j++;
			}
		}
		free(cur->v);
		free(add.v);
		memset(&add, 0, sizeof(add));
		*cur = out;
	}
	items_free(&add);
	strs_free(gone, ngone);
	strs_free(hidden, nhidden);
	return r;
}

void merged_view_free(struct merged_view *v)
{
	strs_free(v->paths, v->n);
	free(v->entries);
	for (size_t k = 0; k < v->nrecs; k++)
		json_free(v->recs[k]);
	free(v->recs);
	memset(v, 0, sizeof(*v));
}

int merged_view_load(struct store *s, const struct image_info *i, size_t nlayers,
		     struct merged_view *out, struct errmsg *e)
{
	memset(out, 0, sizeof(*out));
	if (i->broken)
		return err_set(e, -EINVAL, "image '%s' cannot be read: %s", i->manifest_digest, i->broken);
	out->recs = calloc(i->nlayers + 1, sizeof(*out->recs));
	if (!out->recs)
		return -ENOMEM;
	struct items cur = { 0 };
	int r = 0;
	for (size_t k = 0; r == 0 && k < nlayers && k < i->nlayers; k++) {
		r = store_read_layer_record(s, i->layers[k].diff_id, &out->recs[out->nrecs], e);
		if (r < 0)
			break;
		r = apply_layer(&cur, json_get_array(out->recs[out->nrecs++], "entries"));
	}
	if (r == 0) {
		out->paths = calloc(cur.n + 1, sizeof(*out->paths));
		out->entries = calloc(cur.n + 1, sizeof(*out->entries));
		r = out->paths && out->entries ? 0 : -ENOMEM;
	}
	if (r < 0) {
		items_free(&cur);
		merged_view_free(out);
		return err_sys(e, r, "cannot read the layers of '%s'", i->manifest_digest);
	}
	for (size_t k = 0; k < cur.n; k++) {
		out->paths[k] = cur.v[k].path;
		out->entries[k] = cur.v[k].e;
	}
	out->n = cur.n;
	free(cur.v);
	return 0;
}

static bool field_differs(const struct json *a, const struct json *b, const char *key)
{
	const struct json *x = json_get(a, key), *y = json_get(b, key);
	if (!x || !y)
		return x != y;
	if (x->type != y->type)
		return true;
	if (x->type == JSON_STRING)
		return strcmp(x->s, y->s) != 0;
	if (x->type == JSON_NUMBER)
		return x->i != y->i || x->d != y->d;
	return x->type == JSON_BOOL && x->b != y->b;
}

static bool entry_differs(const struct json *a, const struct json *b)
{
	static const char *const all[] = { "type", "mode", "uid", "gid", "major", "minor" };
	static const char *const nondir[] = { "size", "mtime", "digest" };
	for (size_t k = 0; k < ARRAY_SIZE(all); k++)
		if (field_differs(a, b, all[k]))
			return true;
	const char *t = json_get_str(a, "type");
	/* "link" of a hardlink names its partner: no property of the file. */
	if (t && !strcmp(t, "symlink") && field_differs(a, b, "link"))
		return true;
	for (size_t k = 0; t && strcmp(t, "dir") && k < ARRAY_SIZE(nondir); k++)
		if (field_differs(a, b, nondir[k]))
			return true;
	return false;
}

void diff_lines_free(struct diff_line *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k].path);
	free(v);
}

static int line_push(struct diff_line **v, size_t *n, char kind, const char *path)
{
	struct diff_line *nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n].kind = kind;
	return (nv[(*n)++].path = strdup(path)) ? 0 : -ENOMEM;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct diff_line *)a)->path, ((const struct diff_line *)b)->path);
}

static const struct json *view_get(const struct merged_view *v, const char *p)
{
	char **hit = v->n ? bsearch(&p, v->paths, v->n, sizeof(*v->paths), cmp_str) : NULL;
	return hit ? v->entries[hit - v->paths] : NULL;
}

static bool is_dir(const struct json *e)
{
	const char *t = json_get_str(e, "type");
	return t && !strcmp(t, "dir");
}

/* Every directory above a change that is itself unchanged becomes C. */
static int mark_parents(struct diff_line **v, size_t *n, const struct merged_view *a)
{
	size_t orig = *n;
	qsort0(*v, orig, sizeof(**v), cmp_line);
	char **cand = NULL;
	size_t nc = 0;
	int r = 0;
	for (size_t k = 0; r == 0 && k < orig; k++) {
		const char *p = (*v)[k].path;
		for (const char *s = strchr(p, '/'); r == 0 && s; s = strchr(s + 1, '/'))
			r = strs_push(&cand, &nc, p, (size_t)(s - p));
	}
	if (nc)
		qsort0(cand, nc, sizeof(*cand), cmp_str);
	for (size_t k = 0; r == 0 && k < nc; k++) {
		if (k && !strcmp(cand[k], cand[k - 1]))
			continue;
		struct diff_line key = { 0, cand[k] };
		if (!bsearch(&key, *v, orig, sizeof(key), cmp_line) && is_dir(view_get(a, cand[k])))
			r = line_push(v, n, 'C', cand[k]);
	}
	strs_free(cand, nc);
	return r;
}

static int views_diff(struct merged_view *va, struct merged_view *vb, struct diff_line **out,
		      size_t *n, struct errmsg *e);

int image_diff(struct store *s, const struct image_info *a, const struct image_info *b,
	       struct diff_line **out, size_t *n, struct errmsg *e)
{
	struct merged_view va, vb;
	int r = merged_view_load(s, a, a->nlayers, &va, e);
	if (r < 0)
		return r;
	if ((r = merged_view_load(s, b, b->nlayers, &vb, e)) < 0) {
		merged_view_free(&va);
		return r;
	}
	return views_diff(&va, &vb, out, n, e);
}

int image_diff_top(struct store *s, const struct image_info *i, struct diff_line **out,
		   size_t *n, struct errmsg *e)
{
	struct merged_view va, vb;
	int r = merged_view_load(s, i, i->nlayers ? i->nlayers - 1 : 0, &va, e);
	if (r < 0)
		return r;
	if ((r = merged_view_load(s, i, i->nlayers, &vb, e)) < 0) {
		merged_view_free(&va);
		return r;
	}
	return views_diff(&va, &vb, out, n, e);
}

/* Frees VA and VB. */
static int views_diff(struct merged_view *va, struct merged_view *vb, struct diff_line **out,
		      size_t *n, struct errmsg *e)
{
	*out = NULL;
	*n = 0;
	int r = 0;
	size_t i = 0, j = 0;
	while (r == 0 && (i < va->n || j < vb->n)) {
		int c = i >= va->n ? 1 : j >= vb->n ? -1 : strcmp(va->paths[i], vb->paths[j]);
		if (c < 0) {
			/* Only the top of a deleted tree is listed. */
			const char *p = va->paths[i++], *sl = strrchr(p, '/');
			_cleanup_free_ char *parent = sl ? strndup(p, (size_t)(sl - p)) : NULL;
			if (!sl || view_get(vb, parent))
				r = line_push(out, n, 'D', p);
		} else if (c > 0) {
			r = line_push(out, n, 'A', vb->paths[j++]);
		} else {
			if (entry_differs(va->entries[i], vb->entries[j]))
				r = line_push(out, n, 'C', vb->paths[j]);
			i++;
			j++;
		}
	}
	if (r == 0)
		r = mark_parents(out, n, va);
	if (r == 0)
		qsort0(*out, *n, sizeof(**out), cmp_line);
	merged_view_free(va);
	merged_view_free(vb);
	if (r < 0) {
		diff_lines_free(*out, *n);
		*out = NULL;
		*n = 0;
		return err_sys(e, r, "cannot compare the images");
	}
	return 0;
}
