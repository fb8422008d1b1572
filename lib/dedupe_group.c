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
};

/* Groups up to this many inodes keep them open between reading their
 * metadata and joining them. */
#define KEEP_OPEN 32

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
	int r = dd_meta(fd, &u->meta, &u->metalen);
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
		int r = load_meta(c, &u[i], count <= KEEP_OPEN);
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

/* An fd of the unit's inode for the caller to close. */
static int open_unit(struct dd_ctx *c, struct unit *u, int *fd)
{
	if (u->fd >= 0) {
		*fd = TAKE_FD(u->fd);
		return 0;
	}
	*fd = dd_open_file(c, u->m[0]);
	struct stat st;
	if (*fd >= 0 && fstat(*fd, &st) == 0 && (uint64_t)st.st_ino == u->ino)
		return 0;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return -ESTALE;
}

static int mark_keeper(struct dd_ctx *c, int fd)
{
	char v[8];
	if (fgetxattr(fd, XATTR_DEDUPE, v, sizeof(v)) > 0)
		return 0;
	if (fsetxattr(fd, XATTR_DEDUPE, "1", 1, 0) < 0)
		return -errno;
	dd_kill_point("xattr");
	return 0;
}

/* Join unit U to KEEPER (open as KFD): every name of U becomes a name of
 * the keeper's inode. */
static int join(struct dd_ctx *c, struct unit *keeper, int kfd, struct unit *u)
{
	struct dedupe_stats *st = c->st;
	uint64_t blocks = u->m[0]->blocks;
	if (!c->o->dry_run) {
		_cleanup_close_ int ufd = -1;
		if (open_unit(c, u, &ufd) < 0) {
			st->skipped += u->n;
			u->into = NULL;
			u->dead = true;
			return 0;
		}
		int same = dd_same_bytes(c, kfd, ufd, u->m[0]->size);
		if (same <= 0) {
			if (same == 0)
				st->compare_differ++;
			else
				st->skipped += u->n;
			u->into = NULL;     /* apart: not even extents are shared */
			u->dead = true;
			return 0;
		}
		struct stat sb;
		if (fstat(ufd, &sb) == 0)
			blocks = (uint64_t)sb.st_blocks * 512;
		for (size_t i = 0; i < u->n; i++) {
			int r = dd_link_over(c, kfd, keeper->ino, u->m[i]);
			if (r == -ENOMEM)
				return r;
			if (r < 0) {
				st->skipped += u->n - i;
				return 0;     /* the inode lives on: nothing saved */
			}
			if (i + 1 == u->n)
				dd_close_later(c, TAKE_FD(ufd), 0);
			u->m[i]->ino = keeper->ino;
			u->m[i]->blocks = keeper->m[0]->blocks;
			u->m[i]->flags |= DDF_LINKABLE;
			st->files_linked++;
		}
	} else {
		st->files_linked += u->n;
	}
	st->bytes_saved += u->m[0]->size;
	st->disk_saved += blocks;
	return 0;
}

static int do_links(struct dd_ctx *c, struct unit *u, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct unit *t = &u[k];
		bool any = false;
		for (size_t j = k + 1; j < n && !any; j++)
			any = u[j].into == t;
		if (!any || t->into)
			continue;
		report_group(c, "link", u, n, t, joined_to);
		_cleanup_close_ int kfd = -1;
		if (!c->o->dry_run) {
			int r = open_unit(c, t, &kfd);
			if (r == 0)
				r = mark_keeper(c, kfd);
			if (r < 0) {
				c->st->skipped += t->n;
				for (size_t j = k + 1; j < n; j++)
					if (u[j].into == t)
						u[j].into = NULL;   /* stays separate */
				continue;
			}
		}
		for (size_t j = k + 1; j < n; j++) {
			if (u[j].into != t)
				continue;
			int r = join(c, t, kfd, &u[j]);
			if (r < 0)
				return r;
		}
	}
	return 0;
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
	_cleanup_close_ int sfd = -1;
	if (!c->o->dry_run && !c->st->reflink_errno && open_unit(c, src, &sfd) < 0)
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
		_cleanup_close_ int dfd = -1;
		if (open_unit(c, &u[k], &dfd) < 0)
			continue;
		uint64_t shared = 0;
		int r = dd_share_extents(c, sfd, dfd, u[k].m[0]->size, &shared);
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

int dd_group(struct dd_ctx *c, struct dd_file **v, size_t n)
{
	struct unit *u = NULL;
	size_t nu = 0;
	int r = build_units(c, v, n, &u, &nu);
	if (r < 0)
		return r;
	c->st->groups++;
	qsort(u, nu, sizeof(*u), cmp_unit);
	r = plan_links(u, nu);
	if (r == 0)
		r = do_links(c, u, nu);
	if (r == 0)
		r = do_extents(c, u, nu);
	for (size_t k = 0; k < nu; k++) {
		if (u[k].fd >= 0)
			close(u[k].fd);
		free(u[k].meta);
		free(u[k].layers);
	}
	free(u);
	return r;
}
