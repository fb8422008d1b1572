/* rename(2), with RENAME_NOREPLACE and RENAME_EXCHANGE.
 *
 * Both names are first copied up; the rename then happens in the upper.
 * A source name that a lower layer still holds is left as a whiteout.  A
 * directory that merges lower content keeps finding it after the move
 * through a redirect xattr naming its old lower path (kernel overlayfs's
 * redirect_dir); an upper-only directory moved over a place where a lower
 * directory shows is made opaque. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"
#include "whiteout.h"

/* Does a lower layer hold something at the place of dentry T? */
static bool place_has_lower(const struct dentry *t)
{
	return t && ((t->flags & DE_LOWER) || t->layer != LAYER_UPPER);
}

/* The inode behind a visible dentry, with a kernel reference taken. */
static struct inode *inode_of(struct inode *dir, struct dentry *d)
{
	struct fuse_entry_param e;
	if (entry_of(dir, d->name, &e) < 0)
		return NULL;
	return inode_get(e.ino);
}

/* Copy up the non-directories involved, before the namespace lock is
 * taken (a data copy must not block the whole namespace). */
static int copyup_files(struct inode *sdir, const char *sname, struct inode *ddir,
			const char *dname, unsigned flags)
{
	struct inode *s = NULL, *t = NULL;
	{
		NS_WRITE; /* resolving a name may link it from the index */
		int r = dir_ensure(sdir);
		if (r == 0)
			r = dir_ensure(ddir);
		if (r < 0)
			return r;
		struct dentry *sd = dir_find(sdir, sname), *td = dir_find(ddir, dname);
		if (sd && dentry_visible(sd) && sd->type != DT_DIR)
			s = inode_of(sdir, sd);
		if ((flags & RENAME_EXCHANGE) && td && dentry_visible(td) && td->type != DT_DIR)
			t = inode_of(ddir, td);
	}
	int r = 0;
	if (s) {
		r = copyup(s, CU_DATA);
		inode_forget(s, 1);
	}
	if (t) {
		if (r == 0)
			r = copyup(t, CU_DATA);
		inode_forget(t, 1);
	}
	return r;
}

static int set_redirect(int pfd, const char *name, const char *lpath)
{
	char v[PATH_MAX + 2];
	int n = snprintf(v, sizeof(v), "/%s", strcmp(lpath, ".") ? lpath : "");
	if (n < 0 || n >= (int)sizeof(v))
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd_setxattr_path(fd, lfs->redirect_xattr, v, (size_t)n, 0);
}

/* Prepare directory I, about to move to a place that HAS_LOWER, so that
 * it shows the same content there (and after a remount): a redirect to its
 * old lower path, or opacity.  Runs before the move (PFD/NAME: its current
 * upper place). */
static int prepare_moved_dir(struct inode *i, int pfd, const char *name, bool has_lower,
			     char **redirect)
{
	int r = dir_ensure(i);
	if (r < 0)
		return r;
	*redirect = NULL;
	if (i->nlows > 0) {
		if (!lfs->opts.redirect_dir)
			return -EXDEV;
		if (i->redirect)
			return 0;
		char lpath[PATH_MAX];
		if ((r = path_lower_dir(i, lpath, sizeof(lpath))) < 0 ||
		    (r = set_redirect(pfd, name, lpath)) < 0)
			return r;
		*redirect = strdup(lpath);
		return *redirect ? 0 : -ENOMEM;
	}
	return has_lower ? upper_set_opaque_at(pfd, name) : 0;
}

static void swap_dentries(struct dentry *a, struct dentry *b)
{
	struct dentry t = *a;
	a->ino = b->ino; a->dlayers = b->dlayers; a->ndlayers = b->ndlayers;
	a->type = b->type; a->layer = b->layer;
	b->ino = t.ino; b->dlayers = t.dlayers; b->ndlayers = t.ndlayers;
	b->type = t.type; b->layer = t.layer;
}

static void rename_inode(struct inode *i, struct inode *dir, const char *name,
			 char *redirect)
{
	if (!i)
		return;
	if (redirect) {
		free(i->redirect);
		i->redirect = redirect;
	}
	inode_set_name(i, dir, name);
}

static int do_exchange(struct inode *sdir, struct dentry *s, struct inode *ddir,
		       struct dentry *t, int spfd, int dpfd)
{
	struct inode *si = inode_peek(s->ino), *ti = inode_peek(t->ino);
	char *sredir = NULL, *tredir = NULL;
	int r = 0;

	if (s->type == DT_DIR && si)
		r = prepare_moved_dir(si, spfd, s->name, place_has_lower(t), &sredir);
	if (r == 0 && t->type == DT_DIR && ti)
		r = prepare_moved_dir(ti, dpfd, t->name, place_has_lower(s), &tredir);
	if (r == 0 && renameat2(spfd, s->name, dpfd, t->name, RENAME_EXCHANGE) < 0)
		r = -errno;
	if (r < 0) {
		free(sredir);
		free(tredir);
		return r;
	}
	mark_impure_locked(sdir);
	mark_impure_locked(ddir);
	swap_dentries(s, t);
	dir_entry_changed(sdir, s, true);
	dir_entry_changed(ddir, t, true);
	rename_inode(si, ddir, t->name, sredir);
	rename_inode(ti, sdir, s->name, tredir);
	return 0;
}

/* Move the upper entry S onto T's place (T may be absent or a whiteout). */
static int move_entry(struct dentry *s, struct dentry *t, const char *dname, int spfd,
		      int dpfd)
{
	bool t_upper = t && t->layer == LAYER_UPPER;
	if (t && !dentry_visible(t) && (t->flags & DE_OCI_WH)) {
		if (renameat2(spfd, s->name, dpfd, dname, RENAME_NOREPLACE) < 0)
			return -errno;
		return upper_remove_oci_whiteout(dpfd, dname);
	}
	if (t_upper && (s->type == DT_DIR || t->type == DT_DIR)) {
		/* Over a whiteout or a merged-empty directory (which may hold
		 * whiteouts): swap, then clear what was swapped out. */
		if (renameat2(spfd, s->name, dpfd, dname, RENAME_EXCHANGE) < 0)
			return -errno;
		return upper_purge_dir(spfd, s->name);
	}
	return renameat2(spfd, s->name, dpfd, dname, t_upper ? 0 : RENAME_NOREPLACE) < 0
		? -errno : 0;
}

static int do_move(struct inode *sdir, struct dentry *s, struct inode *ddir,
		   struct dentry *t, const char *dname, int spfd, int dpfd)
{
	struct inode *si = inode_peek(s->ino);
	bool s_wh = s->flags & DE_LOWER;
	bool t_lower = place_has_lower(t);
	char *redir = NULL;
	int r = 0;

	if (s->type == DT_DIR && si)
		r = prepare_moved_dir(si, spfd, s->name, t_lower, &redir);
	if (r == 0)
		r = move_entry(s, t, dname, spfd, dpfd);
	if (r == 0 && s_wh) {
		int form = upper_whiteout_at(spfd, s->name);
		if (form < 0)
			r = form;
		else
			s_wh = form + 1; /* remember the form below */
	}
	if (r < 0) {
		free(redir);
		return r;
	}
	/* The listing: T's place now shows S; S's place a whiteout or
	 * nothing. */
	if (t && dentry_visible(t))
		dentry_forget_name(ddir, t, true);
	uint16_t *dl = s->dlayers;
	uint16_t ndl = s->ndlayers;
	s->dlayers = NULL;
	s->ndlayers = 0;
	if (t)
		dir_remove(ddir, t);
	struct dentry *n = dir_add(ddir, dname, s->type, LAYER_UPPER, s->ino,
				   t_lower ? DE_LOWER : 0);
	if (!n) {
		free(dl);
		free(redir);
		return -ENOMEM;
	}
	n->dlayers = dl;
	n->ndlayers = ndl;
	if (s_wh)
		dentry_become_whiteout(sdir, s, s_wh - 1);
	else
		dir_remove(sdir, s);
	mark_impure_locked(ddir);
	rename_inode(si, ddir, dname, redir);
	return 0;
}

static int check_target(struct inode *ddir, struct dentry *s, struct dentry *t)
{
	if (!t || !dentry_visible(t))
		return 0;
	if (s->type == DT_DIR && t->type != DT_DIR)
		return -ENOTDIR;
	if (s->type != DT_DIR && t->type == DT_DIR)
		return -EISDIR;
	if (t->type == DT_DIR)
		return dir_check_empty(ddir, t);
	return 0;
}

static int do_rename(struct inode *sdir, const char *sname, struct inode *ddir,
		     const char *dname, unsigned flags)
{
	if (!lfs->has_upper)
		return -EROFS;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (strlen(dname) > NAME_MAX)
		return -ENAMETOOLONG;
	int r = copyup_files(sdir, sname, ddir, dname, flags);
	if (r < 0)
		return r;

	NS_WRITE;
	struct dentry *s = dir_find(sdir, sname), *t = dir_find(ddir, dname);
	if (!s || !dentry_visible(s))
		return -ENOENT;
	bool tvis = t && dentry_visible(t);
	if ((flags & RENAME_NOREPLACE) && tvis)
		return -EEXIST;
	if ((flags & RENAME_EXCHANGE) && !tvis)
		return -ENOENT;
	if (s == t)
		return 0;
	if (!(flags & RENAME_EXCHANGE) && (r = check_target(ddir, s, t)) < 0)
		return r;
	if (s->type != DT_DIR && s->layer != LAYER_UPPER)
		return -ESTALE; /* replaced between copy-up and now */
	struct inode *si = s->type == DT_DIR ? inode_peek(s->ino) : NULL;
	if (si && (r = copyup_dir_locked(si)) < 0)
		return r;
	if ((r = copyup_dir_locked(sdir)) < 0 || (r = copyup_dir_locked(ddir)) < 0)
		return r;
	if ((flags & RENAME_EXCHANGE) && t->type == DT_DIR) {
		struct inode *ti = inode_peek(t->ino);
		if (ti && (r = copyup_dir_locked(ti)) < 0)
			return r;
	}
	_cleanup_close_ int spfd = upper_dir_fd(sdir);
	_cleanup_close_ int dpfd = upper_dir_fd(ddir);
	if (spfd < 0 || dpfd < 0)
		return spfd < 0 ? spfd : dpfd;
	if (flags & RENAME_EXCHANGE)
		return do_exchange(sdir, s, ddir, t, spfd, dpfd);
	if (tvis)
		anchor_before_remove(ddir, t, dpfd, true);
	return do_move(sdir, s, ddir, t, dname, spfd, dpfd);
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req, -do_rename(inode_get(parent), name, inode_get(newparent),
				       newname, flags));
}
