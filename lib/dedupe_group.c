/* One group of files with identical content: which inodes become one
 * (hardlinks across trees, equal metadata), which share extents, and doing
 * it (or, dry, only counting it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "dedupe_int.h"

/* The names of one inode in the group. */
struct unit {
	struct dd_file **m;     /* members, sorted by layer */
	size_t n;
	uint64_t ino;
	bool linkable, fresh, dead;
	char *meta;             /* canonical metadata, NULL when unreadable */
	size_t metalen;
	struct unit *into;      /* the unit it is joined to */
	uint32_t *layers;       /* with its joined units' (targets only) */
	size_t nlayers;
	int fd;                 /* open since load_meta, or -1 */
	bool ok;                /* compared equal to the unit it is joined to */
	bool marked;            /* carries XATTR_DEDUPE (when its meta was read) */
	uint64_t blocks;        /* its disk bytes, when compared */
};

struct dd_job {
	struct unit *u;
	size_t nu;
};

static int cmp_member(const void *a, const void *b)
{
	const struct dd_file *x = *(struct dd_file *const *)a, *y = *(struct dd_file *const *)b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->layer < y->layer ? -1 : x->layer > y->layer;
}

static int cmp_unit(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;
	if (x->linkable != y->linkable)
		return x->linkable ? -1 : 1;
	if (x->meta && y->meta && (x->metalen != y->metalen || memcmp(x->meta, y->meta, x->metalen)))
		return x->metalen != y->metalen ? (x->metalen < y->metalen ? -1 : 1)
						: memcmp(x->meta, y->meta, x->metalen);
	/* The widest inode keeps its place; old ones before fresh ones, so
	 * layers read before change as little as possible. */
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	if (x->fresh != y->fresh)
		return x->fresh ? 1 : -1;
	return x->m[0]->layer < y->m[0]->layer ? -1 : x->m[0]->layer > y->m[0]->layer;
}

static bool same_meta(const struct unit *a, const struct unit *b)
{
	return a->meta && b->meta && a->metalen == b->metalen && !memcmp(a->meta, b->meta, a->metalen);
}

static bool disjoint(const struct unit *t, const struct unit *u)
{
	for (size_t i = 0; i < t->nlayers; i++)
		for (size_t j = 0; j < u->n; j++)
			if (t->layers[i] == u->m[j]->layer)
				return false;
	return true;
}

static int load_meta(struct dd_ctx *c, struct unit *u, bool keep)
{
	_cleanup_close_ int fd = dd_open_file(c, u->m[0]);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_ino != u->ino)
		return 0;     /* changed: neither joined nor a keeper */
	int r = dd_meta(fd, &u->meta, &u->metalen, &u->marked);
	if (r == 0 && keep)
		u->fd = TAKE_FD(fd);
	return r == -ENOMEM ? -ENOMEM : 0;
}

static int build_units(struct dd_ctx *c, struct dd_file **v, size_t n, struct unit **out, size_t *nu)
{
	qsort(v, n, sizeof(*v), cmp_member);
	struct unit *u = calloc(n, sizeof(*u));
	if (!u)
		return -ENOMEM;
	size_t k = 0, count = 0;
	while (k < n) {
		size_t j = k + 1;
		while (j < n && v[j]->ino == v[k]->ino)
			j++;
		struct unit *x = &u[count++];
		x->m = v + k;
		x->n = j - k;
		x->ino = v[k]->ino;
		x->fd = -1;
		x->linkable = true;
		for (size_t i = k; i < j; i++) {
			x->linkable &= (v[i]->flags & DDF_LINKABLE) && (i == k || v[i]->layer != v[i - 1]->layer);
			x->fresh |= (v[i]->flags & DDF_FRESH) != 0;
		}
		k = j;
	}
	for (size_t i = 0; i < count; i++) {
		int r = load_meta(c, &u[i], count <= c->keep_open);
		if (r < 0) {
			for (size_t j = 0; j < i; j++)
				if (u[j].fd >= 0)
					close(u[j].fd);
			free(u);
			return r;
		}
		if (!u[i].meta)
			u[i].linkable = false, u[i].dead = true;
	}
	*out = u;
	*nu = count;
	return 0;
}

/* Greedy: each linkable unit joins the first earlier target of equal
 * metadata whose layers it does not share, else becomes a target. */
static int plan_links(struct unit *u, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (!u[k].linkable)
			continue;
		struct unit *t = NULL;
		for (size_t j = 0; j < k && !t; j++)
			if (u[j].linkable && !u[j].into && same_meta(&u[j], &u[k]) && disjoint(&u[j], &u[k]))
				t = &u[j];
		struct unit *dst = t ? t : &u[k];
		uint32_t *l = realloc(dst->layers, (dst->nlayers + u[k].n) * sizeof(*l));
		if (!l)
			return -ENOMEM;
		dst->layers = l;
		for (size_t i = 0; i < u[k].n; i++)
			l[dst->nlayers++] = u[k].m[i]->layer;
		u[k].into = t;
	}
	return 0;
}

static void report_group(struct dd_ctx *c, const char *action, struct unit *u, size_t n,
			 struct unit *keeper, bool (*pick)(const struct unit *, const struct unit *))
{
	if (!c->o->group)
		return;
	size_t total = 0;
	for (size_t k = 0; k < n; k++)
		if (&u[k] == keeper || pick(&u[k], keeper))
			total += u[k].n;
	const char **paths = calloc(total + 1, sizeof(char *));
	char **own = calloc(total + 1, sizeof(char *));
	size_t m = 0;
	for (size_t pass = 0; paths && own && pass < 2; pass++)
		for (size_t k = 0; k < n; k++) {
			if ((pass == 0) != (&u[k] == keeper) || (pass && !pick(&u[k], keeper)))
				continue;
			for (size_t i = 0; i < u[k].n; i++) {
				const struct dd_file *f = u[k].m[i];
				if (asprintf(&own[m], "%s:%s", c->layers[f->layer].hex, f->path) < 0)
					own[m] = NULL;
				paths[m] = own[m] ? own[m] : "?";
				m++;
			}
		}
	if (paths && own && m)
		c->o->group(c->o->arg, action, keeper->m[0]->size, paths, m);
	for (size_t k = 0; own && k < m; k++)
		free(own[k]);
	free(own);
	free(paths);
}

static bool joined_to(const struct unit *u, const struct unit *t) { return u->into == t; }
static bool separate(const struct unit *u, const struct unit *t)
{
	return !u->into && !u->dead && u != t;
}

/* Keep an fd of the unit's inode in U->fd (opened again when load_meta
 * did not keep it). */
static int ensure_open(struct dd_ctx *c, struct unit *u)
{
	if (u->fd >= 0)
		return 0;
	int fd = dd_open_file(c, u->m[0]);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == u->ino) {
		u->fd = fd;
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return -ESTALE;
}

/* Is X's fd needed to join: compared equal to its target, or the target
 * of such a unit? */
static bool needed(const struct unit *u, size_t n, const struct unit *x)
{
	if (x->ok)
		return true;
	for (size_t k = 0; k < n; k++)
		if (u[k].into == x && u[k].ok)
			return true;
	return false;
}

static void drop_fd(struct unit *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

/* Compare unit U with its keeper (open as KEEPER->fd): equal ones are
 * marked ok; the others stay apart, not even sharing extents.  VERIFIED:
 * their full hashes were equal (so a difference is a collision). */
static void check_join(struct dd_ctx *c, struct unit *keeper, struct unit *u, bool verified, bool keep)
{
	struct dedupe_stats *st = c->st;
	if (ensure_open(c, u) < 0) {
		st->skipped += u->n;
		u->into = NULL;
		u->dead = true;
		return;
	}
	int same = dd_same_bytes(c, keeper->fd, u->fd, u->m[0]->size);
	struct stat sb;
	if (same > 0 && fstat(u->fd, &sb) == 0)
		u->blocks = (uint64_t)sb.st_blocks * 512;
	if (same <= 0) {
		if (same < 0)
			st->skipped += u->n;
		else if (verified)
			st->compare_differ++;
		u->into = NULL;     /* apart: not even extents are shared */
		u->dead = true;
	} else {
		u->ok = true;
	}
	/* A big group's names are checked again when joined (by inode
	 * number); its replaced files are then freed by their last unlink. */
	if (!keep || !u->ok)
		drop_fd(u);
}

/* The reading half of the joins: each target's units are compared with
 * it; returns whether any unit is left to join.  A dry run only counts. */
static bool check_joins(struct dd_ctx *c, struct unit *u, size_t n, bool verified)
{
	bool any_ok = false, keep = n <= c->keep_open;
	for (size_t k = 0; k < n; k++) {
		struct unit *t = &u[k];
		bool any = false;
		for (size_t j = k + 1; j < n && !any; j++)
			any = u[j].into == t;
		if (!any || t->into)
			continue;
		report_group(c, "link", u, n, t, joined_to);
		if (c->o->dry_run) {
			for (size_t j = k + 1; j < n; j++)
				if (u[j].into == t) {
					c->st->files_linked += u[j].n;
					c->st->bytes_saved += u[j].m[0]->size;
					c->st->disk_saved += u[j].m[0]->blocks;
				}
			continue;
		}
		if (ensure_open(c, t) < 0) {
			c->st->skipped += t->n;
			for (size_t j = k + 1; j < n; j++)
				if (u[j].into == t)
					u[j].into = NULL;   /* stays separate */
			continue;
		}
		for (size_t j = k + 1; j < n; j++)
			if (u[j].into == t) {
				check_join(c, t, &u[j], verified, keep);
				any_ok |= u[j].ok;
			}
		/* A big group may have as many targets as units (the same
		 * file twice in each of two trees): open again to join. */
		if (!keep)
			drop_fd(t);
	}
	return any_ok;
}

static int mark_keeper(struct dd_ctx *c, struct unit *t)
{
	if (t->marked)
		return 0;
	if (fsetxattr(t->fd, XATTR_DEDUPE, "1", 1, 0) < 0)
		return -errno;
	t->marked = true;
	dd_kill_point("xattr");
	return 0;
}

/* Join unit U, compared equal, to KEEPER: every name of U becomes a name
 * of the keeper's inode. */
static int join(struct dd_ctx *c, struct unit *keeper, struct unit *u)
{
	struct dedupe_stats *st = c->st;
	for (size_t i = 0; i < u->n; i++) {
		int r = dd_link_over(c, keeper->fd, keeper->ino, u->m[i]);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			st->skipped += u->n - i;
			return 0;     /* the inode lives on: nothing saved */
		}
		if (i + 1 == u->n)
			dd_close_later(c, TAKE_FD(u->fd), 0);
		u->m[i]->ino = keeper->ino;
		u->m[i]->blocks = keeper->m[0]->blocks;
		u->m[i]->flags |= DDF_LINKABLE;
		st->files_linked++;
	}
	st->bytes_saved += u->m[0]->size;
	st->disk_saved += u->blocks ? u->blocks : u->m[0]->blocks;
	return 0;
}

/* The writing half, on one thread: mark each keeper, then join. */
int dd_job_apply(struct dd_ctx *c, struct dd_job *j)
{
	struct unit *u = j->u;
	for (size_t k = 0; k < j->nu; k++) {
		struct unit *t = &u[k];
		bool any = false;
		for (size_t i = k + 1; i < j->nu && !any; i++)
			any = u[i].into == t && u[i].ok;
		if (!any || t->into)
			continue;
		/* A big group's targets were closed after reading. */
		bool reopened = t->fd < 0;
		if (reopened && ensure_open(c, t) < 0) {
			c->st->skipped += t->n;
			continue;
		}
		int r = mark_keeper(c, t);
		for (size_t i = k + 1; r == 0 && i < j->nu; i++) {
			if (u[i].into != t || !u[i].ok)
				continue;
			r = join(c, t, &u[i]);
			if (r < 0) {
				if (reopened)
					drop_fd(t);
				return r;
			}
		}
		if (r < 0)
			c->st->skipped += t->n;
		if (reopened)
			drop_fd(t);
	}
	return 0;
}

void dd_job_free(struct dd_job *j)
{
	if (!j)
		return;
	for (size_t k = 0; k < j->nu; k++) {
		if (j->u[k].fd >= 0)
			close(j->u[k].fd);
		free(j->u[k].meta);
		free(j->u[k].layers);
	}
	free(j->u);
	free(j);
}

size_t dd_job_fds(const struct dd_job *j)
{
	size_t n = 0;
	for (size_t k = 0; k < j->nu; k++)
		n += j->u[k].fd >= 0;
	return n;
}

static bool unsupported(int r)
{
	return r == -EOPNOTSUPP || r == -EINVAL || r == -ENOTTY || r == -EXDEV || r == -EPERM;
}

/* Inodes still separate share extents with the first of them. */
static int do_extents(struct dd_ctx *c, struct unit *u, size_t n)
{
	struct unit *src = NULL;
	size_t rest = 0;
	for (size_t k = 0; k < n; k++) {
		if (u[k].into || u[k].dead)
			continue;
		if (!src)
			src = &u[k];
		else
			rest++;
	}
	if (!rest)
		return 0;
	c->st->separate += rest;
	if (c->o->mode != DEDUPE_REFLINK)
		return 0;
	report_group(c, "extents", u, n, src, separate);
	if (!c->o->dry_run && !c->st->reflink_errno && ensure_open(c, src) < 0)
		return 0;
	for (size_t k = 0; k < n; k++) {
		if (!separate(&u[k], src))
			continue;
		if (c->o->dry_run) {
			c->st->files_reflinked++;
			c->st->bytes_reflinked += u[k].m[0]->size;
			continue;
		}
		if (c->st->reflink_errno) {
			c->st->reflink_unsupported++;
			continue;
		}
		if (ensure_open(c, &u[k]) < 0)
			continue;
		uint64_t shared = 0;
		int r = dd_share_extents(c, src->fd, u[k].fd, u[k].m[0]->size, &shared);
		if (!needed(u, n, &u[k]))
			drop_fd(&u[k]);
		if (r == 0) {
			c->st->files_reflinked++;
			c->st->bytes_reflinked += shared;
		} else if (r == -EILSEQ) {
			c->st->compare_differ++;
		} else if (unsupported(r)) {
			c->st->reflink_errno = -r;
			c->st->reflink_unsupported++;
		} else {
			c->st->skipped++;
		}
	}
	return 0;
}

int dd_group(struct dd_ctx *c, struct dd_file **v, size_t n, bool verified)
{
	struct dd_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	int r = build_units(c, v, n, &j->u, &j->nu);
	if (r < 0) {
		free(j);
		return r;
	}
	struct unit *u = j->u;
	size_t nu = j->nu;
	qsort(u, nu, sizeof(*u), cmp_unit);
	r = plan_links(u, nu);
	if (r == 0 && !verified && !(nu == 2 && u[1].into == &u[0]))
		r = 1;        /* not one plain join: the caller hashes first */
	bool join_any = false;
	if (r == 0) {
		if (verified)
			c->st->groups++;
		join_any = check_joins(c, u, nu, verified);
		/* An unhashed pair that differs is no group at all. */
		if (!verified && join_any)
			c->st->groups++;
		if (verified)
			r = do_extents(c, u, nu);
	}
	for (size_t k = 0; k < nu; k++) {
		free(u[k].meta);
		u[k].meta = NULL;
		if (!join_any || !needed(u, nu, &u[k]))
			drop_fd(&u[k]);
	}
	if (r == 0 && join_any)
		return dd_job_push(c, TAKE_PTR(j));
	dd_job_free(j);
	return r;
}
