/* A container's changes (see changes.h).
 *
 * Every directory is seen twice: as the container shows it now (the upper
 * directory over the lower layers, unless opaque; a renamed directory over
 * the lower place its redirect names) and as the image had it (the lower
 * layers at the same path).  When both rest on the same lower directory,
 * only the names of the upper directory can differ; otherwise the names
 * of both lower listings are compared too.  Directories are reported as
 * podman does: a change of mode, owner or xattrs, or any change inside
 * (the root excepted); their size and mtime alone are no change. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "changes.h"
#include "cleanup.h"
#include "override_stat.h"
#include "whiteout.h"

/* The lower directories at PATH: the layers that hold it as a directory,
 * top first, down to the first opaque one. */
/* qsort that accepts an empty (NULL) array. */
static void qsort0(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(v, n, size, cmp);
}

struct lview {
	char *path;
	size_t *layers;
	size_t n;
};

struct lentry {
	bool found;
	size_t layer;
	char *abs;
	struct stat st;
};

struct walk {
	const struct change_opts *o;
	struct change_set *set;
	size_t real;        /* A, C and D entries so far */
	struct errmsg *e;
};

/* Names of one directory level and where the new side has them. */
enum { UP_NONE, UP_ENTRY, UP_WHITEOUT };
struct name_item {
	char *name;
	int upper;
};
struct names {
	struct name_item *v;
	size_t n, cap;
};

static void lview_free(struct lview *v)
{
	free(v->path);
	free(v->layers);
	memset(v, 0, sizeof(*v));
}

static void lentry_free(struct lentry *l)
{
	free(l->abs);
	memset(l, 0, sizeof(*l));
}

static void names_free(struct names *n)
{
	for (size_t k = 0; k < n->n; k++)
		free(n->v[k].name);
	free(n->v);
}

static char *join(const char *a, const char *b)
{
	char *s = NULL;
	if (asprintf(&s, "%s%s%s", a, *a && *b ? "/" : "", b) < 0)
		return NULL;
	return s;
}

static char *lower_abs(const struct walk *w, size_t layer, const char *rel)
{
	return join(w->o->lowerdirs[layer], rel);
}

unsigned changes_map_id(const struct id_plan *ids, unsigned id, bool gid)
{
	if (!ids || ids->uid == 0)
		return id;
	unsigned self = gid ? ids->gid : ids->uid;
	uint32_t start = gid ? ids->subgid : ids->subuid, count = gid ? ids->nsubgid : ids->nsubuid;
	if (id == self)
		return 0;
	if (ids->ranges && id >= start && id - start < count)
		return id - start + 1;
	return 65534;
}

/* lstat ABS and make it the container's view of it. */
static int view_stat(const struct walk *w, const char *abs, struct stat *st)
{
	if (lstat(abs, st) < 0)
		return -errno;
	char v[128];
	ssize_t n = lgetxattr(abs, XATTR_OVERRIDE_STAT, v, sizeof(v));
	struct override_stat ovs;
	if (n > 0 && ovs_parse(v, (size_t)n, &ovs) == 0) {
		st->st_uid = ovs.uid;
		st->st_gid = ovs.gid;
		if (ovs.has_type) {
			st->st_mode = ovs.mode;
			st->st_rdev = ovs.rdev;
		} else {
			st->st_mode = (st->st_mode & S_IFMT) | (ovs.mode & 07777);
		}
		return 0;
	}
	st->st_uid = changes_map_id(w->o->ids, st->st_uid, false);
	st->st_gid = changes_map_id(w->o->ids, st->st_gid, true);
	return 0;
}

static bool xattr_is_y(const char *abs, const char *name)
{
	char v[8];
	ssize_t n = lgetxattr(abs, name, v, sizeof(v));
	return n > 0 && wh_opaque_value(v, n);
}

static bool dir_is_opaque(const char *abs)
{
	if (xattr_is_y(abs, XATTR_TRUSTED_OVL "opaque") || xattr_is_y(abs, XATTR_USER_OVL "opaque"))
		return true;
	_cleanup_free_ char *m = join(abs, WH_OPAQUE_NAME);
	struct stat st;
	return m && lstat(m, &st) == 0;
}

static bool has_xattr(const char *abs, const char *suffix)
{
	char name[64];
	snprintf(name, sizeof(name), XATTR_TRUSTED_OVL "%s", suffix);
	if (lgetxattr(abs, name, NULL, 0) >= 0)
		return true;
	snprintf(name, sizeof(name), XATTR_USER_OVL "%s", suffix);
	return lgetxattr(abs, name, NULL, 0) >= 0;
}

/* The overlay.redirect of ABS (trusted or user), or NULL. */
static char *read_redirect(const char *abs)
{
	static const char *const names[] = { XATTR_TRUSTED_OVL "redirect", XATTR_USER_OVL "redirect" };
	for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
		char v[4096];
		ssize_t n = lgetxattr(abs, names[k], v, sizeof(v) - 1);
		if (n > 0) {
			v[n] = 0;
			return strdup(v);
		}
	}
	return NULL;
}

static int push_layer(struct lview *v, size_t layer)
{
	size_t *l = realloc(v->layers, (v->n + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	v->layers = l;
	v->layers[v->n++] = layer;
	return 0;
}

/* NAME below view V: the top entry the lower layers show (*OUT), and when
 * CHILD is given, the view of NAME as a directory. */
static int lower_child(const struct walk *w, const struct lview *v, const char *name,
		       struct lentry *out, struct lview *child)
{
	memset(out, 0, sizeof(*out));
	_cleanup_free_ char *rel = join(v->path, name);
	_cleanup_free_ char *whname = NULL;
	if (!rel || asprintf(&whname, WH_PREFIX "%s", name) < 0)
		return -ENOMEM;
	_cleanup_free_ char *whrel = join(v->path, whname);
	if (!whrel)
		return -ENOMEM;
	if (child) {
		memset(child, 0, sizeof(*child));
		if (!(child->path = strdup(rel)))
			return -ENOMEM;
	}
	for (size_t k = 0; k < v->n; k++) {
		size_t L = v->layers[k];
		_cleanup_free_ char *abs = lower_abs(w, L, rel), *wh = lower_abs(w, L, whrel);
		if (!abs || !wh)
			return -ENOMEM;
		struct stat st, ws;
		bool wh_here = lstat(wh, &ws) == 0;
		if (lstat(abs, &st) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				return -errno;
			if (wh_here)
				break;
			continue;
		}
		if (wh_is_chardev_whiteout(&st))
			break;
		if (!out->found) {
			out->found = true;
			out->layer = L;
			out->st = st;
			out->abs = TAKE_PTR(abs);
		} else if (!S_ISDIR(st.st_mode)) {
			break;
		}
		if (!S_ISDIR(out->st.st_mode))
			break;
		if (child && push_layer(child, L) < 0)
			return -ENOMEM;
		_cleanup_free_ char *d = lower_abs(w, L, rel);
		if (!d)
			return -ENOMEM;
		if (wh_here || dir_is_opaque(d))
			break;
	}
	return 0;
}

static int root_view(const struct walk *w, size_t from, struct lview *v)
{
	memset(v, 0, sizeof(*v));
	if (!(v->path = strdup("")))
		return -ENOMEM;
	for (size_t L = from; L < w->o->nlower; L++) {
		if (push_layer(v, L) < 0)
			return -ENOMEM;
		if (dir_is_opaque(w->o->lowerdirs[L]))
			break;
	}
	return 0;
}

/* The view of lower PATH looked up from the root (a redirect's target). */
static int resolve_view(const struct walk *w, const char *path, struct lview *out)
{
	struct lview cur;
	int r = root_view(w, 0, &cur);
	_cleanup_free_ char *copy = strdup(path);
	if (r < 0 || !copy) {
		lview_free(&cur);
		return -ENOMEM;
	}
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		struct lview next;
		struct lentry le;
		r = lower_child(w, &cur, c, &le, &next);
		bool dir = le.found && S_ISDIR(le.st.st_mode);
		lentry_free(&le);
		lview_free(&cur);
		cur = next;
		if (r < 0)
			break;
		if (!dir)
			cur.n = 0;
	}
	*out = cur;
	return r;
}

static bool views_equal(const struct lview *a, const struct lview *b)
{
	if (a->n != b->n || strcmp(a->path, b->path))
		return false;
	return !a->n || !memcmp(a->layers, b->layers, a->n * sizeof(*a->layers));
}

static int names_add(struct names *ns, const char *name, int upper)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 16;
		struct name_item *v = realloc(ns->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	if (!(ns->v[ns->n].name = strdup(name)))
		return -ENOMEM;
	ns->v[ns->n++].upper = upper;
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct name_item *)a)->name, ((const struct name_item *)b)->name);
}

static struct name_item *names_find(struct names *ns, const char *name)
{
	struct name_item key = { (char *)name, 0 };
	return ns->n ? bsearch(&key, ns->v, ns->n, sizeof(key), cmp_item) : NULL;
}

/* The names of directory ABS: entries, and whiteouts as UP_WHITEOUT when
 * WHITEOUTS (else left out).  Sorted, the entry winning over a whiteout of
 * the same name. */
static int read_names(const char *abs, struct names *out)
{
	_cleanup_closedir_ DIR *d = opendir(abs);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	struct dirent *de;
	struct names tmp = { 0 };
	int r = 0;
	while (r == 0 && (errno = 0, de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") || wh_is_opaque_marker(n))
			continue;
		const char *t = wh_oci_target(n);
		if (t) {
			r = names_add(&tmp, t, UP_WHITEOUT);
			continue;
		}
		if (wh_is_hidden_name(n))
			continue;
		int kind = UP_ENTRY;
		if (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) {
			_cleanup_free_ char *p = join(abs, n);
			struct stat st;
			if (p && lstat(p, &st) == 0 && wh_is_chardev_whiteout(&st))
				kind = UP_WHITEOUT;
		}
		r = names_add(&tmp, n, kind);
	}
	if (r == 0 && errno)
		r = -errno;
	if (r < 0) {
		names_free(&tmp);
		return r;
	}
	qsort0(tmp.v, tmp.n, sizeof(*tmp.v), cmp_item);
	/* One item per name: an entry wins over ".wh.NAME" beside it. */
	size_t o = 0;
	for (size_t k = 0; k < tmp.n; k++) {
		if (o && !strcmp(tmp.v[o - 1].name, tmp.v[k].name)) {
			if (tmp.v[k].upper == UP_ENTRY)
				tmp.v[o - 1].upper = UP_ENTRY;
			free(tmp.v[k].name);
			continue;
		}
		tmp.v[o++] = tmp.v[k];
	}
	tmp.n = o;
	*out = tmp;
	return 0;
}

/* Move the names of ADD into NS and sort it. */
static int names_merge(struct names *ns, struct names *add)
{
	for (size_t k = 0; k < add->n; k++) {
		int r = names_add(ns, add->v[k].name, add->v[k].upper);
		if (r < 0)
			return r;
	}
	qsort0(ns->v, ns->n, sizeof(*ns->v), cmp_item);
	return 0;
}

/* Add to NS (sorted) the names view V shows, as UP_NONE.  Lookups go to
 * arrays sorted before each layer; a layer's own names are merged after. */
static int add_view_names(const struct walk *w, const struct lview *v, struct names *ns)
{
	struct names seen = { 0 };   /* names decided by a higher layer */
	int r = 0;
	for (size_t k = 0; r == 0 && k < v->n; k++) {
		_cleanup_free_ char *abs = lower_abs(w, v->layers[k], v->path);
		struct names level = { 0 }, decided = { 0 }, shown = { 0 };
		if (!abs)
			r = -ENOMEM;
		if (r == 0)
			r = read_names(abs, &level);
		for (size_t j = 0; r == 0 && j < level.n; j++) {
			if (names_find(&seen, level.v[j].name))
				continue;
			r = names_add(&decided, level.v[j].name, level.v[j].upper);
			if (r == 0 && level.v[j].upper == UP_ENTRY && !names_find(ns, level.v[j].name))
				r = names_add(&shown, level.v[j].name, UP_NONE);
		}
		if (r == 0)
			r = names_merge(&seen, &decided);
		if (r == 0)
			r = names_merge(ns, &shown);
		names_free(&level);
		names_free(&decided);
		names_free(&shown);
	}
	names_free(&seen);
	return r;
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct change_xattr *)a)->name, ((const struct change_xattr *)b)->name);
}

static bool private_xattr(const char *name)
{
	return wh_is_private_xattr(name) || !strncmp(name, "trusted.layerfs.", 16) ||
	       !strncmp(name, "user.layerfs.", 13) || !strcmp(name, XATTR_OVERRIDE_STAT);
}

void changes_free_xattrs(struct change_xattr *x, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		free(x[k].name);
		free(x[k].value);
	}
	free(x);
}

int changes_read_xattrs(const char *path, struct change_xattr **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	ssize_t len = llistxattr(path, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP && errno != ENOENT ? -errno : 0;
	_cleanup_free_ char *list = malloc((size_t)len);
	if (!list)
		return -ENOMEM;
	if ((len = llistxattr(path, list, (size_t)len)) < 0)
		return -errno;
	struct change_xattr *v = NULL;
	size_t cnt = 0;
	for (char *p = list; p < list + len; p += strlen(p) + 1) {
		if (private_xattr(p))
			continue;
		ssize_t vl = lgetxattr(path, p, NULL, 0);
		if (vl < 0)
			continue;
		struct change_xattr *nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv) {
			changes_free_xattrs(v, cnt);
			return -ENOMEM;
		}
		v = nv;
		struct change_xattr *x = &v[cnt++];
		x->name = strdup(p);
		x->value = malloc((size_t)vl + 1);
		x->len = 0;
		if (!x->name || !x->value) {
			changes_free_xattrs(v, cnt);
			return -ENOMEM;
		}
		vl = lgetxattr(path, p, x->value, (size_t)vl);
		x->len = vl > 0 ? (size_t)vl : 0;
	}
	if (cnt)
		qsort0(v, cnt, sizeof(*v), cmp_xattr);
	*out = v;
	*n = cnt;
	return 0;
}

static bool xattrs_equal(const struct change_xattr *a, size_t na, const struct change_xattr *b,
			 size_t nb)
{
	if (na != nb)
		return false;
	for (size_t k = 0; k < na; k++)
		if (strcmp(a[k].name, b[k].name) || a[k].len != b[k].len ||
		    memcmp(a[k].value, b[k].value, a[k].len))
			return false;
	return true;
}

/* podman's test: type, mode, owner, device; size and mtime for all but
 * directories. */
static bool stat_differs(const struct stat *a, const struct stat *b)
{
	if (a->st_mode != b->st_mode || a->st_uid != b->st_uid || a->st_gid != b->st_gid ||
	    a->st_rdev != b->st_rdev)
		return true;
	return !S_ISDIR(a->st_mode) &&
	       (a->st_size != b->st_size || a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
		a->st_mtim.tv_nsec != b->st_mtim.tv_nsec);
}

static struct change *emit(struct walk *w, const char *path, char kind)
{
	struct change_set *s = w->set;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct change *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	struct change *c = &s->v[s->n];
	memset(c, 0, sizeof(*c));
	if (!(c->path = strdup(path)))
		return NULL;
	c->kind = kind;
	s->n++;
	if (kind != CHG_KEEP)
		w->real++;
	return c;
}

static void change_free(struct change *c)
{
	free(c->path);
	free(c->src);
	free(c->link);
	free(c->hardlink);
	changes_free_xattrs(c->xattrs, c->nxattrs);
}

static void pop(struct walk *w)
{
	struct change *c = &w->set->v[--w->set->n];
	if (c->kind != CHG_KEEP)
		w->real--;
	change_free(c);
}

/* One side of a name: what the container shows now, or what the image had. */
struct side {
	bool exists;
	char *abs;          /* where it is */
	char *data;         /* where a metacopy file's data is */
	bool upper;
	bool opaque;
	struct stat st;     /* the container's view */
	struct lview view;  /* a directory's lower view */
	struct change_xattr *x;
	size_t nx;
};

static void side_free(struct side *s)
{
	free(s->abs);
	free(s->data);
	lview_free(&s->view);
	changes_free_xattrs(s->x, s->nx);
}

static int side_from_lower(const struct walk *w, const struct lview *v, const char *name,
			   struct side *s)
{
	struct lentry le;
	int r = lower_child(w, v, name, &le, &s->view);
	if (r < 0 || !le.found) {
		lentry_free(&le);
		return r;
	}
	s->exists = true;
	s->abs = TAKE_PTR(le.abs);
	if ((r = view_stat(w, s->abs, &s->st)) < 0)
		return r;
	return changes_read_xattrs(s->abs, &s->x, &s->nx);
}

/* Where a metacopy file's data lies: the lower file under the directory's
 * view (or its own redirect). */
static int metacopy_data(const struct walk *w, const struct lview *dirv, const char *name,
			 struct side *s)
{
	_cleanup_free_ char *redir = read_redirect(s->abs);
	struct lentry le = { 0 };
	int r;
	if (redir && redir[0] == '/') {
		struct lview pv;
		_cleanup_free_ char *dir = strdup(redir + 1);
		if (!dir)
			return -ENOMEM;
		char *slash = strrchr(dir, '/');
		const char *base = slash ? slash + 1 : dir;
		if (slash)
			*slash = 0;
		r = resolve_view(w, slash ? dir : "", &pv);
		if (r == 0)
			r = lower_child(w, &pv, base, &le, NULL);
		lview_free(&pv);
	} else {
		r = lower_child(w, dirv, redir ? redir : name, &le, NULL);
	}
	if (r == 0 && le.found && S_ISREG(le.st.st_mode)) {
		s->data = TAKE_PTR(le.abs);
		s->st.st_size = le.st.st_size;
		s->st.st_blocks = le.st.st_blocks;
	}
	lentry_free(&le);
	return r;
}

static int side_from_upper(const struct walk *w, const char *up, const char *name,
			   const struct lview *newv, bool parent_opaque, struct side *s)
{
	if (!(s->abs = join(up, name)))
		return -ENOMEM;
	s->exists = s->upper = true;
	int r = view_stat(w, s->abs, &s->st);
	if (r == 0)
		r = changes_read_xattrs(s->abs, &s->x, &s->nx);
	if (r < 0)
		return r;
	if (S_ISREG(s->st.st_mode) && !parent_opaque && has_xattr(s->abs, "metacopy"))
		return metacopy_data(w, newv, name, s);
	if (!S_ISDIR(s->st.st_mode))
		return 0;
	s->opaque = dir_is_opaque(s->abs);
	_cleanup_free_ char *redir = s->opaque ? NULL : read_redirect(s->abs);
	if (s->opaque || parent_opaque)
		return (s->view.path = join(newv->path, name)) ? 0 : -ENOMEM;
	if (redir) {
		_cleanup_free_ char *p = redir[0] == '/' ? strdup(redir + 1) : join(newv->path, redir);
		return p ? resolve_view(w, p, &s->view) : -ENOMEM;
	}
	struct lentry le;
	r = lower_child(w, newv, name, &le, &s->view);
	if (r == 0 && !(le.found && S_ISDIR(le.st.st_mode)))
		s->view.n = 0;
	lentry_free(&le);
	return r;
}

static bool ignored(const struct walk *w, const char *path)
{
	size_t lo = 0, hi = w->o->nignore;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *m = w->o->ignore[mid];
		int c = strcmp(m + (*m == '/'), path);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Fill C from the new side N. */
static int describe(struct change *c, struct side *n)
{
	c->st = n->st;
	c->opaque = n->opaque && S_ISDIR(n->st.st_mode);
	if (!(c->src = strdup(n->data ? n->data : n->abs)))
		return -ENOMEM;
	c->xattrs = TAKE_PTR(n->x);
	c->nxattrs = n->nx;
	n->nx = 0;
	if (S_ISLNK(n->st.st_mode)) {
		char t[4097];
		ssize_t l = readlink(n->abs, t, sizeof(t) - 1);
		if (l < 0)
			return -errno;
		t[l] = 0;
		if (!(c->link = strdup(t)))
			return -ENOMEM;
	}
	return 0;
}

static int walk_dir(struct walk *w, const char *path, const char *up, bool opaque,
		    const struct lview *newv, const struct lview *oldv);

static int walk_name(struct walk *w, const char *path, const char *up, bool opaque,
		     const struct lview *newv, const struct lview *oldv, const struct name_item *it)
{
	_cleanup_free_ char *cpath = join(path, it->name);
	if (!cpath)
		return -ENOMEM;
	struct side n = { 0 }, o = { 0 };
	int r = side_from_lower(w, oldv, it->name, &o);
	if (r == 0 && it->upper == UP_ENTRY)
		r = side_from_upper(w, up, it->name, newv, opaque, &n);
	else if (r == 0 && it->upper == UP_NONE && !opaque)
		r = side_from_lower(w, newv, it->name, &n);
	if (r < 0)
		goto out;
	if (!n.exists) {
		if (o.exists) {
			struct change *c = emit(w, cpath, CHG_DELETE);
			if (!c)
				r = -ENOMEM;
			else
				c->covered = opaque;
		}
		goto out;
	}
	/* The same lower object on both sides: nothing changed below. */
	if (!n.upper && o.exists && !strcmp(n.abs, o.abs) && views_equal(&n.view, &o.view))
		goto out;
	bool isdir = S_ISDIR(n.st.st_mode);
	char kind = 0;
	if (!o.exists)
		kind = CHG_ADD;
	else if (stat_differs(&n.st, &o.st) || !xattrs_equal(n.x, n.nx, o.x, o.nx))
		kind = CHG_MODIFY;
	else if (w->o->keep_links && n.upper && S_ISREG(n.st.st_mode) && n.st.st_nlink > 1)
		kind = CHG_KEEP;
	if (kind == CHG_ADD && ignored(w, cpath) && S_ISREG(n.st.st_mode) && n.st.st_size == 0)
		goto out;
	size_t at = w->set->n, real = w->real;
	if (kind) {
		struct change *c = emit(w, cpath, kind);
		if (!c || (r = describe(c, &n)) < 0) {
			r = r < 0 ? r : -ENOMEM;
			goto out;
		}
	}
	if (!isdir)
		goto out;
	struct lview none = { .path = cpath };
	r = walk_dir(w, cpath, n.upper ? n.abs : NULL, n.opaque,
		     &n.view, o.exists && S_ISDIR(o.st.st_mode) ? &o.view : &none);
	if (r < 0)
		goto out;
	if (kind == CHG_ADD && w->set->n == at + 1 && ignored(w, cpath)) {
		pop(w);   /* a mount point made by the launcher, still empty */
	} else if (!kind && w->real > real) {
		struct change *c = emit(w, cpath, CHG_MODIFY);
		if (!c || (r = describe(c, &n)) < 0)
			r = r < 0 ? r : -ENOMEM;
	}
out:
	side_free(&n);
	side_free(&o);
	return r;
}

static int walk_dir(struct walk *w, const char *path, const char *up, bool opaque,
		    const struct lview *newv, const struct lview *oldv)
{
	struct names ns = { 0 };
	int r = up ? read_names(up, &ns) : 0;
	if (r == 0 && (opaque || !up || !views_equal(newv, oldv))) {
		if (!opaque)
			r = add_view_names(w, newv, &ns);
		if (r == 0)
			r = add_view_names(w, oldv, &ns);
	}
	for (size_t k = 0; r == 0 && k < ns.n; k++)
		r = walk_name(w, path, up, opaque, newv, oldv, &ns.v[k]);
	names_free(&ns);
	return r;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->path, ((const struct change *)b)->path);
}

static int cmp_inode(const void *a, const void *b)
{
	const struct change *x = *(const struct change *const *)a, *y = *(const struct change *const *)b;
	if (x->st.st_dev != y->st.st_dev)
		return x->st.st_dev < y->st.st_dev ? -1 : 1;
	if (x->st.st_ino != y->st.st_ino)
		return x->st.st_ino < y->st.st_ino ? -1 : 1;
	return strcmp(x->path, y->path);
}

static bool linkable(const struct change *c)
{
	return c->kind != CHG_DELETE && S_ISREG(c->st.st_mode) && c->st.st_nlink > 1;
}

/* Files listed more than once become hardlinks of their first path; an
 * unchanged partner no listed change shares its inode with goes. */
static int link_pass(struct change_set *s)
{
	_cleanup_free_ struct change **v = calloc(s->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	for (size_t k = 0; k < s->n; k++)
		if (linkable(&s->v[k]))
			v[n++] = &s->v[k];
	qsort0(v, n, sizeof(*v), cmp_inode);
	for (size_t a = 0, b; a < n; a = b) {
		bool changed = false;
		for (b = a; b < n && v[b]->st.st_dev == v[a]->st.st_dev && v[b]->st.st_ino == v[a]->st.st_ino; b++)
			changed |= v[b]->kind != CHG_KEEP;
		for (size_t k = a; k < b; k++) {
			if (!changed || b - a == 1) {
				if (v[k]->kind == CHG_KEEP)
					v[k]->kind = 0;   /* dropped below */
			} else if (k > a && !(v[k]->hardlink = strdup(v[a]->path))) {
				return -ENOMEM;
			}
		}
	}
	size_t o = 0;
	for (size_t k = 0; k < s->n; k++) {
		if (s->v[k].kind)
			s->v[o++] = s->v[k];
		else
			change_free(&s->v[k]);
	}
	s->n = o;
	return 0;
}

int changes_collect(const struct change_opts *o, struct change_set *out, struct errmsg *e)
{
	struct walk w = { .o = o, .set = out, .e = e };
	memset(out, 0, sizeof(*out));
	struct stat st;
	if (o->upper && stat(o->upper, &st) < 0)
		return err_sys(e, -errno, "cannot read '%s'", o->upper);
	struct lview root, old;
	int r = root_view(&w, 0, &root), q = root_view(&w, o->old_from, &old);
	if (r == 0 && q == 0)
		r = walk_dir(&w, "", o->upper, o->upper && dir_is_opaque(o->upper), &root, &old);
	else
		r = -ENOMEM;
	lview_free(&root);
	lview_free(&old);
	if (r == 0) {
		qsort0(out->v, out->n, sizeof(*out->v), cmp_change);
		r = link_pass(out);
	}
	if (r == 0) {
		/* Hardlink targets come first in path order: sort again. */
		qsort0(out->v, out->n, sizeof(*out->v), cmp_change);
	}
	if (r < 0) {
		change_set_free(out);
		return err_sys(e, r, "cannot read the changes in '%s'", o->upper);
	}
	return 0;
}

void change_set_free(struct change_set *s)
{
	for (size_t k = 0; k < s->n; k++)
		change_free(&s->v[k]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
