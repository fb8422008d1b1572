/* layerfs: shared state of the FUSE union filesystem daemon.
 *
 * Model.  Layer 0 is the upper directory (absent on a read-only mount),
 * layers 1..n the lower directories, top first.  Every merged file is an
 * `inode` (FUSE node id = its address), found by its stable st_ino in a
 * sharded hash.  A directory inode carries a merged listing (`dirlist`):
 * one `dentry` per visible name, built once from all its layers, since
 * lowers never change and the upper changes only through this daemon.
 *
 * Locking.  `ns_lock` is a writer-preferring rwlock over the namespace:
 * lookups, getattr, readdir and path building hold it shared; operations
 * that change names (create, unlink, rename, copy-up publish) hold it
 * exclusively.  Data copies and file I/O hold no namespace lock.  A
 * directory's listing is built under its inode mutex (several readers may
 * race to build it); once built it changes only under ns_lock exclusive.
 * Copy-ups of one inode are serialised by a mutex picked by its number
 * from a striped array (inode_cu_lock), as are listing builds
 * (inode_build_lock): per-inode mutexes would double an inode's size. */
#ifndef LAYERFS_FS_H
#define LAYERFS_FS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>

#include "cleanup.h"
#include "mountopts.h"

#define LAYERFS_VERSION "0.1.0"
#define LAYER_UPPER 0

/* Bits of st_ino above this hold the layer a number comes from, so that
 * numbers from different layers (and filesystems) never collide. */
#define INO_LAYER_SHIFT 48
#define INO_LOCAL_MASK ((UINT64_C(1) << INO_LAYER_SHIFT) - 1)

struct layer {
	int fd;          /* O_PATH directory fd of the layer root */
	dev_t dev;
	char *path;
	bool ino_exact;  /* its filesystem's d_ino is always st_ino (probe.c) */
};

struct dentry {
	struct dentry *hnext;
	uint64_t ino;            /* merged st_ino (for readdir's d_ino) */
	uint16_t *dlayers;       /* dirs: lower layers holding it as a dir */
	uint16_t ndlayers;
	uint16_t layer;          /* top layer holding the name */
	uint8_t type;            /* DT_* ; DT_UNKNOWN never stored */
	uint8_t flags;
	_Atomic uint8_t lean;    /* sent by READDIRPLUS without attributes */
	uint32_t hash;
	uint32_t cookie;         /* readdir offset: unique in its listing */
	char name[];
};

/* inode.xattrs: whether the file in its top layer has xattrs at all.
 * NONE is learnt by a listxattr; SOME once the daemon sets or removes one
 * (the file may then have any); UNKNOWN again after a copy-up. */
enum { XATTRS_UNKNOWN, XATTRS_NONE, XATTRS_SOME };

/* dentry flags */
#define DE_LOWER     0x01  /* a lower layer under the top one has the name:
			      deleting it must leave a whiteout */
#define DE_WHITEOUT  0x02  /* negative: the upper holds a whiteout here */
#define DE_OCI_WH    0x04  /* ... in the ".wh.NAME" form */
#define DE_NEG       0x08  /* negative entry (a whiteout) */
#define DE_BLOCKED   0x10  /* while building: lower layers cannot show it */
#define DE_DECIDED   0x20  /* while building: DE_LOWER is settled */

struct dirlist {
	struct dentry **buckets;
	uint32_t nbuckets;
	uint32_t count;          /* entries, negative ones included */
	uint32_t visible;        /* positive entries */
	uint32_t next_cookie;    /* 1 and 2 are "." and ".." */
	struct dirsnap *snap;    /* entries by cookie while being read */
};

struct inode {
	struct inode *hnext;         /* ino hash chain */
	uint64_t ino;
	/* Kernel lookups plus internal references (a child's parent
	 * pointer).  It only reaches zero under the inode's hash shard lock,
	 * so a lookup can never revive an inode being freed. */
	_Atomic uint64_t refs;
	struct inode *parent;        /* primary name: under ns_lock */
	char *name;
	uint16_t layer;              /* top layer holding it */
	uint8_t type;                /* DT_* */
	bool metacopy;               /* upper holds metadata, data below */
	bool impure;                 /* dirs: upper children carry origins */
	bool stale;                  /* its name was removed */
	bool hashed;                 /* findable by ino */
	_Atomic uint8_t xattrs;      /* XATTRS_*: whether its file has any (xattr.c) */
	uint16_t datalayer;          /* metacopy: layer holding the data */
	_Atomic int nopen;           /* open file handles */
	int32_t pt_id;               /* passthrough.c: backing id, 0 if none */
	uint32_t pt_count;           /* handles open in passthrough */
	bool pt_upper;               /* the backing file is the upper one */
	bool lows_partial;           /* dirs: lows found so far by a probe (probe.c) */
	int anchor_fd;               /* O_PATH fd kept when removed while open */
	uint16_t nlows;              /* dirs: lower layers merged in */
	uint16_t opq_known;          /* dirs: lows[0..opq_known) hide nothing below */
	uint16_t *lows;
	char *redirect;              /* dirs: lower path after a rename */
	struct dirlist *dir;         /* NULL until built */
};

struct lfs {
	struct mount_opts opts;
	struct layer *layers;        /* [0] upper (fd -1 if none), [1..] lowers */
	uint16_t nlayers;            /* including slot 0 */
	bool has_upper;
	int workfd;                  /* workdir/work: temp files */
	int indexfd;                 /* workdir/layerfs-index: see hardlink.c */
	_Atomic bool index_used;     /* it may hold entries: probe it */
	int workdir_fd;
	struct inode *root;
	pthread_rwlock_t ns_lock;
	_Atomic uint64_t tmp_counter;
	const char *xattr_ns;        /* "trusted." or "user." */
	bool privileged;             /* may chown/mknod freely */
	bool no_opendir;             /* the kernel reads directories unopened */
	bool writeback;              /* the kernel caches writes (writeback=1) */
	bool upper_noflush;          /* closing an upper file reports nothing */
	bool override_stat;          /* read/write user.containers.override_stat */
	_Atomic bool oci_whiteouts;  /* mknod of whiteouts refused: use .wh. */
	double timeout;
	struct fuse_session *se;
	char origin_xattr[64];
	char opaque_xattr[64];
	char redirect_xattr[64];
	char metacopy_xattr[64];
	char impure_xattr[64];
};

extern struct lfs *lfs;

/* ---- inode.c: the inode table ---- */
void inode_table_init(void);
struct inode *inode_get(fuse_ino_t nodeid);
struct inode *inode_find_or_add(uint64_t ino, uint8_t type, uint16_t layer,
				struct inode *parent, const char *name, bool *created);
void inode_ref(struct inode *i);
void inode_unref(struct inode *i);
void inode_forget(struct inode *i, uint64_t n);
int inode_set_name(struct inode *i, struct inode *parent, const char *name);
struct inode *inode_new_root(uint64_t ino);
struct inode *inode_peek(uint64_t ino);
pthread_mutex_t *inode_cu_lock(const struct inode *i);
pthread_mutex_t *inode_build_lock(const struct inode *i);
void inode_unhash(struct inode *i);
void inode_trim_memory(void);

/* ---- path.c: paths of merged files in their layers ---- */
/* Merged (= upper) path, relative, "." for the root.  Needs ns_lock. */
int path_upper(struct inode *i, char *buf, size_t size);
/* Path of directory I in the lower layers (follows redirects). */
int path_lower_dir(struct inode *i, char *buf, size_t size);
/* Path of child NAME of DIR in lower layers / in the upper. */
int path_lower_child(struct inode *dir, const char *name, char *buf, size_t size);
int path_upper_child(struct inode *dir, const char *name, char *buf, size_t size);
/* Path of inode I in the layer it lives in (its top layer). */
int path_in_layer(struct inode *i, uint16_t layer, char *buf, size_t size);

/* ---- layer.c: safe access to layers ---- */
int layer_open(uint16_t layer, const char *path, int flags);
int layer_open_dir(uint16_t layer, const char *path);
int layer_stat(uint16_t layer, const char *path, struct stat *st);
ssize_t layer_getxattr(uint16_t layer, const char *path, const char *name,
		       void *val, size_t size);
ssize_t layer_listxattr_size(uint16_t layer, const char *path);
int proc_fd_path(char *buf, size_t size, int fd, const char *name);
int create_empty_at(int dirfd, const char *name, mode_t mode, bool excl);
int fd_getxattr_path(int fd, const char *name, void *val, size_t size);
int fd_setxattr_path(int fd, const char *name, const void *val, size_t size, int flags);
int workdir_clean(int workfd);

/* ---- dir.c: merged listings ---- */
int dir_ensure(struct inode *dir);
struct dentry *dir_find(struct inode *dir, const char *name);
int dir_lookup(struct inode *dir, const char *name, struct dentry **out);
struct dentry *dir_add(struct inode *dir, const char *name, uint8_t type,
		       uint16_t layer, uint64_t ino, uint8_t flags);
void dir_remove(struct inode *dir, struct dentry *d);
void dir_free(struct dirlist *l);
bool dentry_visible(const struct dentry *d);
void dir_entry_changed(struct inode *dir, struct dentry *d, bool renamed);
/* Is the directory at PATH in layer L opaque?  Is NAME under PARENT
 * deleted there by an OCI whiteout? */
bool path_is_opaque(uint16_t L, const char *path);
bool path_is_whiteout(uint16_t L, const char *parent, const char *name);

/* What a name resolves to, from the listing or from a probe: its number,
 * top layer, attributes, and for a directory the lower layers it merges
 * (LOWS: the dentry's, or a probe's own LOWS_BUF). */
struct found {
	uint64_t ino;
	uint16_t layer;
	uint16_t datalayer;
	bool metacopy;
	bool lows_partial;
	uint16_t nlows;
	const uint16_t *lows;
	uint16_t lows_buf[2];
	struct stat st;
};

/* ---- probe.c: lookups without a listing ---- */
/* 1: DIR/NAME found without building DIR's listing (*OUT filled);
 * -ENOENT: it does not exist; 0: build the listing; other -errno. */
int probe_lookup(struct inode *dir, const char *name, struct found *out);
/* For DIR's listing build: its lows, completed if a probe found only the
 * first of them, copied (*N of them; NULL: -ENOMEM, or an error in *ERR);
 * then the set it keeps installed (LOWS taken over; CHECKED: none of them
 * hides a layer below it but the last), under the lock probes use. */
uint16_t *probe_copy_lows(struct inode *dir, uint16_t *n, int *err);
void probe_set_lows(struct inode *dir, uint16_t *lows, uint16_t n, bool checked);
void probe_layer_setup(struct layer *l);

/* ---- file.c ---- */
int layer_open_flags(int flags);
/* An open handle (fuse_file_info.fh): the layer file's descriptor, and
 * whether the kernel reads and writes it in passthrough. */
#define FH_PASSTHROUGH (UINT64_C(1) << 32)
static inline int fh_fd(const struct fuse_file_info *fi)
{
	return (int)(fi->fh & 0x7fffffff);
}

/* ---- loop.c ---- */
int loop_run(struct fuse_session *se);

/* ---- cpulatency.c: CPUs stay awake during bursts of requests ---- */
void cpulat_start(void);
void cpulat_note(void);
/* Requests are flowing: the receiver polls for the next one. */
bool cpulat_burst(void);
void cpulat_stop(void);

/* ---- passthrough.c ---- */
void passthrough_setup(struct fuse_session *se);
/* Count an open of I served by FD (its data in the upper layer or not,
 * CREATED by this open or not) and choose its mode; *FH gets the handle.  Then reply, then call
 * file_open_replied().  -ESTALE: I is bound to another file of its own;
 * detach it and let the kernel look the name up again (passthrough.c). */
int file_open_begin(struct inode *i, int fd, bool data_upper, bool created, uint64_t *fh);
void file_open_replied(void);
/* The handle FH of I is closed. */
void file_open_end(struct inode *i, uint64_t fh);
/* I is being freed: release its backing file. */
void passthrough_forget(struct inode *i);
void inode_detach(struct inode *i);

/* ---- readdir.c ---- */
void dir_snap_invalidate(struct dirlist *l);
/* Build one listing a walk will want next; false if none is waiting. */
bool dir_prefetch_one(void);
/* The kernel looks up a name READDIRPLUS sent without attributes. */
void readdir_lean_miss(void);

/* ---- attr.c: attributes ---- */
int attr_of_dentry(struct inode *dir, struct dentry *d, struct stat *st);
int attr_of_inode(struct inode *i, struct stat *st);
void attr_fixup(struct stat *st, uint64_t ino, int fd_or_minus1,
		uint16_t layer, const char *path);
uint64_t ino_compose(uint16_t layer, ino_t local);
int read_origin(int fd, uint64_t *ino);
int read_origin_at(uint16_t layer, const char *path, uint64_t *ino);
uint8_t mode_to_dt(mode_t m);

/* ---- copyup.c ---- */
#define CU_DATA  0   /* full copy */
#define CU_META  1   /* metadata only; data stays below (metacopy) */
#define CU_EMPTY 2   /* metadata, size 0: for O_TRUNC and truncate(0) */
int copyup(struct inode *i, int how);
int copyup_dir_locked(struct inode *dir);
int copy_xattrs(int src_fd, int dst_fd);
int mark_impure_locked(struct inode *dir);
int upper_dir_fd(struct inode *dir);
void restore_dir_times(int pfd, const struct stat *before);

/* ---- hardlink.c: keeping lower hard links linked after copy-up ---- */
int aliases_find(uint16_t layer, ino_t ino, nlink_t nlink, const char *self,
		 char ***out, size_t *n);
void aliases_free(char **v, size_t n);
int alias_link_locked(struct inode *i, uint16_t layer, const char *alias);
int index_add_locked(struct inode *i);
bool index_has(uint64_t ino);
/* Is ST, lower file number INO, a hard link another name of which was
 * copied up (the lookup joins it to that copy)? */
bool index_joins(uint64_t ino, const struct stat *st);
int index_link_locked(struct inode *dir, struct dentry *d, nlink_t lower_nlink);

/* ---- remove.c: shared with rename ---- */
void dentry_forget_name(struct inode *dir, struct dentry *d, bool gone);
void dentry_become_whiteout(struct inode *dir, struct dentry *d, int form);
int dir_check_empty(struct inode *dir, struct dentry *d);
void anchor_before_remove(struct inode *dir, struct dentry *d, int pfd, bool replaced);

/* ---- whiteout.c: writing deletions into the upper ---- */
int upper_whiteout_at(int parentfd, const char *name);
int upper_set_opaque(int dirfd);
int upper_set_opaque_at(int parentfd, const char *name);
int upper_purge_dir(int parentfd, const char *name);
int upper_tmpname(char *buf, size_t size);
int upper_replace_with_whiteout(int parentfd, const char *name, bool is_dir);
int upper_remove_oci_whiteout(int parentfd, const char *name);

/* ---- creds.c: ownership of new files ---- */
int own_new(int dirfd, const char *name, fuse_req_t req, mode_t mode,
	    const struct stat *parent_st, bool symlink);
int set_owner(int dirfd, const char *name, uid_t uid, gid_t gid,
	      mode_t mode_for_override, bool symlink);
int apply_override_stat(int dirfd, const char *name, const struct stat *want);
int64_t id_to_disk(bool is_uid, uint32_t id);
uint32_t id_from_disk(bool is_uid, uint32_t id);

/* ---- setup.c: mount-time checks and preparation ---- */
int setup_layers(char *err, size_t errlen);
void setup_privileges(void);
int setup_workdir(char *err, size_t errlen);
int setup_root(void);

/* ---- fuse ops, one file per family ---- */
extern const struct fuse_lowlevel_ops layerfs_ops;
void op_init(void *userdata, struct fuse_conn_info *conn);
void op_destroy(void *userdata);
void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);
void op_readlink(fuse_req_t req, fuse_ino_t ino);
void op_statfs(fuse_req_t req, fuse_ino_t ino);
void op_access(fuse_req_t req, fuse_ino_t ino, int mask);
void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags);
void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		  struct fuse_file_info *fi);
void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		  struct fuse_file_info *fi);
void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags);
void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- shared helpers for ops ---- */
void reply_attr_of(fuse_req_t req, struct inode *i, int r);
void reply_attr(fuse_req_t req, int r, const struct stat *st);
int entry_of(struct inode *dir, const char *name, struct fuse_entry_param *e);
int entry_of_shared(struct inode *dir, const char *name, struct fuse_entry_param *e);

static inline void ns_rdlock(void) { pthread_rwlock_rdlock(&lfs->ns_lock); }
static inline void ns_wrlock(void) { pthread_rwlock_wrlock(&lfs->ns_lock); }
static inline void ns_unlock(void) { pthread_rwlock_unlock(&lfs->ns_lock); }

static inline void cleanup_ns_unlock(bool *held) { if (*held) ns_unlock(); }
/* Declare `NS_READ;` or `NS_WRITE;` at the top of a scope: the lock is
 * released when the scope ends. */
#define NS_READ  _cleanup_(cleanup_ns_unlock) __attribute__((unused)) bool ns_held_ = (ns_rdlock(), true)
#define NS_WRITE _cleanup_(cleanup_ns_unlock) __attribute__((unused)) bool ns_held_ = (ns_wrlock(), true)

#define lfs_debug(...) do { if (lfs->opts.debug) fuse_log(FUSE_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
