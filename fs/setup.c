/* Mount-time setup: check and open the layers, decide what the daemon may
 * do (privileges, xattr namespace), prepare the work directory.
 *
 * Every check happens before anything is written or mounted; errors name
 * the culprit in one line. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

static int open_dir(const char *what, const char *path, struct layer *l,
		    char *err, size_t errlen)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot stat %s '%s': %s", what, path, strerror(e));
		return -e;
	}
	/* O_PATH needs no read permission: check that we can list it. */
	if (faccessat(fd, ".", R_OK | X_OK, AT_EACCESS) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(e));
		return -e;
	}
	l->fd = fd;
	l->dev = st.st_dev;
	probe_layer_setup(l);
	l->path = strdup(path);
	return l->path ? 0 : -ENOMEM;
}

/* Root of the initial user namespace may use trusted.* xattrs and mknod;
 * root of another user namespace may not. */
static bool in_initial_userns(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/uid_map", "re");
	unsigned long a, b, c;
	if (!f || fscanf(f, "%lu %lu %lu", &a, &b, &c) != 3)
		return false;
	return a == 0 && b == 0 && c == 4294967295UL;
}

/* Is resolved path A at or below resolved path B? */
static bool path_within(const char *a, const char *b)
{
	size_t n = strlen(b);
	return strncmp(a, b, n) == 0 && (a[n] == '/' || a[n] == '\0' || n == 1);
}

/* Does either directory contain the other?  Each is resolved once. */
static bool nested(const char *a, const char *b)
{
	_cleanup_free_ char *ra = realpath(a, NULL);
	_cleanup_free_ char *rb = realpath(b, NULL);
	return ra && rb && (path_within(ra, rb) || path_within(rb, ra));
}

static void set_xattr_names(void)
{
	const char *ns = lfs->privileged ? "trusted." : "user.";
	lfs->xattr_ns = ns;
	snprintf(lfs->origin_xattr, sizeof(lfs->origin_xattr), "%slayerfs.origin", ns);
	snprintf(lfs->opaque_xattr, sizeof(lfs->opaque_xattr), "%soverlay.opaque", ns);
	snprintf(lfs->redirect_xattr, sizeof(lfs->redirect_xattr), "%soverlay.redirect", ns);
	snprintf(lfs->metacopy_xattr, sizeof(lfs->metacopy_xattr), "%soverlay.metacopy", ns);
	snprintf(lfs->impure_xattr, sizeof(lfs->impure_xattr), "%soverlay.impure", ns);
}

/* Is FD on a filesystem whose files do nothing on close (no ->flush in
 * the kernel)?  Then a FLUSH request would only echo an empty close, and
 * open replies can tell the kernel not to send it.  Filesystems that do
 * report at close (NFS, CIFS, FUSE, f2fs, ...) keep getting FLUSH. */
static bool no_flush_fs(int fd)
{
	static const unsigned long types[] = {
		0xEF53,     /* ext2, ext3, ext4 */
		0x58465342, /* xfs */
		0x9123683E, /* btrfs */
		0x01021994, /* tmpfs */
	};
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return false;
	for (size_t k = 0; k < ARRAY_SIZE(types); k++)
		if ((unsigned long)sf.f_type == types[k])
			return true;
	return false;
}

int setup_layers(char *err, size_t errlen)
{
	const struct mount_opts *o = &lfs->opts;
	int r;

	if (o->nlowers == 0) {
		snprintf(err, errlen, "no lowerdir given (-o lowerdir=DIR[:DIR...])");
		return -EINVAL;
	}
	if (o->nlowers > 4096) {
		snprintf(err, errlen, "too many lower directories (%zu, at most 4096)", o->nlowers);
		return -EINVAL;
	}
	if (o->upperdir && !o->workdir) {
		snprintf(err, errlen, "upperdir '%s' given without workdir", o->upperdir);
		return -EINVAL;
	}
	if (o->workdir && !o->upperdir) {
		snprintf(err, errlen, "workdir '%s' given without upperdir", o->workdir);
		return -EINVAL;
	}
	lfs->nlayers = (uint16_t)(o->nlowers + 1);
	lfs->layers = calloc(lfs->nlayers, sizeof(*lfs->layers));
	if (!lfs->layers)
		return -ENOMEM;
	lfs->layers[0].fd = -1;
	for (size_t k = 0; k < o->nlowers; k++)
		if ((r = open_dir("lowerdir", o->lowers[k], &lfs->layers[k + 1], err, errlen)) < 0)
			return r;
	lfs->has_upper = o->upperdir && !o->ro;
	if (!o->upperdir)
		return 0;
	struct layer work;
	if ((r = open_dir("upperdir", o->upperdir, &lfs->layers[0], err, errlen)) < 0 ||
	    (r = open_dir("workdir", o->workdir, &work, err, errlen)) < 0)
		return r;
	lfs->workdir_fd = work.fd;
	free(work.path);
	if (work.dev != lfs->layers[0].dev) {
		snprintf(err, errlen, "workdir '%s' and upperdir '%s' are on different filesystems",
			 o->workdir, o->upperdir);
		return -EXDEV;
	}
	if (nested(o->workdir, o->upperdir)) {
		snprintf(err, errlen, "workdir '%s' and upperdir '%s' must be separate subtrees",
			 o->workdir, o->upperdir);
		return -EINVAL;
	}
	if (faccessat(lfs->layers[0].fd, ".", W_OK, AT_EACCESS) < 0 ||
	    faccessat(work.fd, ".", W_OK, AT_EACCESS) < 0) {
		snprintf(err, errlen, "upperdir '%s' or workdir '%s' is not writable: %s",
			 o->upperdir, o->workdir, strerror(errno));
		return -EACCES;
	}
	lfs->upper_noflush = no_flush_fs(lfs->layers[0].fd);
	return 0;
}

void setup_privileges(void)
{
	lfs->privileged = geteuid() == 0 && in_initial_userns();
	int xp = lfs->opts.xattr_permissions;
	lfs->override_stat = xp > 0 || (xp < 0 && !lfs->privileged);
	set_xattr_names();
	lfs->timeout = lfs->opts.timeout;
}

/* Does directory DFD (any fd, O_PATH included) hold no entry?  Unsure
 * counts as not empty. */
static bool dir_is_empty(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

/* Create workdir/work and clear what a previous run left there (copies
 * that never reached the upper). */
int setup_workdir(char *err, size_t errlen)
{
	if (!lfs->has_upper) {
		lfs->workfd = -1;
		lfs->indexfd = -1;
		return 0;
	}
	if (mkdirat(lfs->workdir_fd, "work", 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create '%s/work': %s", lfs->opts.workdir,
			 strerror(errno));
		return -errno;
	}
	lfs->workfd = openat(lfs->workdir_fd, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (lfs->workfd < 0) {
		snprintf(err, errlen, "cannot open '%s/work': %s", lfs->opts.workdir,
			 strerror(errno));
		return -errno;
	}
	if (mkdirat(lfs->workdir_fd, "layerfs-index", 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create '%s/layerfs-index': %s", lfs->opts.workdir,
			 strerror(errno));
		return -errno;
	}
	lfs->indexfd = openat(lfs->workdir_fd, "layerfs-index",
			      O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (lfs->indexfd < 0) {
		snprintf(err, errlen, "cannot open '%s/layerfs-index': %s", lfs->opts.workdir,
			 strerror(errno));
		return -errno;
	}
	lfs->index_used = !dir_is_empty(lfs->indexfd);
	int r = workdir_clean(lfs->workfd);
	if (r < 0) {
		snprintf(err, errlen, "cannot clean '%s/work': %s", lfs->opts.workdir,
			 strerror(-r));
		return r;
	}
	return 0;
}

/* The root inode: numbered after the topmost directory merged into it. */
int setup_root(void)
{
	uint16_t top = lfs->nlayers > 1 ? 1 : 0;
	struct stat st;
	if (fstat(lfs->layers[top].fd, &st) < 0)
		return -errno;
	lfs->root = inode_new_root(ino_compose(top, st.st_ino));
	if (!lfs->root)
		return -ENOMEM;
	struct inode *root = lfs->root;
	root->nlows = (uint16_t)(lfs->nlayers - 1);
	root->lows = malloc(sizeof(*root->lows) * (root->nlows ? root->nlows : 1));
	if (!root->lows)
		return -ENOMEM;
	for (uint16_t k = 0; k < root->nlows; k++)
		root->lows[k] = (uint16_t)(k + 1);
	return 0;
}
