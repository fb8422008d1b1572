/* FUSE passthrough: reads and writes of an open file go from the kernel
 * straight to the layer's file, with no request to the daemon.
 *
 * The kernel (6.9 and later, CONFIG_FUSE_PASSTHROUGH) offers this in INIT;
 * a file is registered with an ioctl on the FUSE device, which returns a
 * backing id, and an open reply names it.  libfuse 3.14 predates the
 * feature, so the daemon gives libfuse its own device I/O
 * (fuse_session_custom_io) and adds the two protocol fields there: the
 * passthrough flag and stack depth in the INIT reply, the flag and backing
 * id in an open or create reply.  Everything else passes through as is.
 *
 * The kernel's rules shape what is passed through.  Registering needs
 * CAP_SYS_ADMIN in the initial namespace.  All open files of one inode use
 * one backing file, or none does: an inode open through the page cache
 * cannot be opened in passthrough, and the reverse.  So each inode counts
 * its open handles and its passthrough ones, under a lock, and an open
 * takes the mode of the handles already open.  A file's data moves only by
 * copy-up (lower to upper), and the handles open before a copy-up keep
 * reading the lower file, as with kernel overlayfs; an open after it must
 * reach the upper file, which the inode, bound to the lower one, cannot
 * give it.  So that open fails with ESTALE, and the inode gives its name
 * to a new one (inode_detach): the kernel retries the path walk once with
 * revalidation, a lookup then returns the new inode, and the open is made
 * there.  passthrough=upper passes through only files whose data is in the
 * upper layer; passthrough=off none. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "layerfs.h"

/* The kernel ABI (include/uapi/linux/fuse.h), defined here because the
 * build's kernel headers may predate passthrough. */
enum { OP_INIT = 26 };
#define INIT_EXT (1u << 30)
#define INIT2_PASSTHROUGH (1u << 5) /* FUSE_PASSTHROUGH is bit 37 of the flags */
#define FOPEN_PASSTHROUGH_FLAG (1u << 7)
/* The only other open flags the kernel accepts with it: direct_io,
 * noflush, parallel_direct_writes (keep_cache is refused). */
#define FOPEN_PASSTHROUGH_MASK ((1u << 0) | (1u << 5) | (1u << 6))

struct abi_in_header {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
};
struct abi_init_in {
	uint32_t major, minor, max_readahead, flags, flags2;
};
struct abi_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};
struct abi_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
};
struct abi_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};
struct abi_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define IOC_BACKING_OPEN _IOW(229, 1, struct abi_backing_map)
#define IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)
_Static_assert(sizeof(struct abi_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct abi_init_out) == 40, "fuse_init_out up to max_stack_depth");
_Static_assert(sizeof(struct abi_open_out) == 16, "fuse_open_out");

/* Files from this size up are passed through when opened (see backing_for). */
#define PT_MIN_SIZE (256 * 1024)

static struct {
	_Atomic bool init_pending;    /* INIT read, not answered yet */
	_Atomic uint64_t init_unique;
	_Atomic bool offered;         /* the kernel offered passthrough */
	_Atomic bool on;              /* and it is in use */
	int devfd;                    /* for the backing ioctls */
	pthread_mutex_t locks[64];
} pt = { .devfd = -1 };

/* Set by an open or create handler around its reply: the backing id that
 * reply must carry.  The reply is written on the same thread, inside the
 * fuse_reply_* call. */
static __thread int32_t reply_backing_id;

static pthread_mutex_t *pt_lock(const struct inode *i)
{
	return &pt.locks[((uintptr_t)i >> 6) % ARRAY_SIZE(pt.locks)];
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	ssize_t n = read(fd, buf, len);
	if (n >= (ssize_t)(sizeof(struct abi_in_header) + sizeof(struct abi_init_in))) {
		const struct abi_in_header *h = buf;
		if (h->opcode == OP_INIT) {
			const struct abi_init_in *in = (const void *)(h + 1);
			pt.offered = (in->flags & INIT_EXT) && (in->flags2 & INIT2_PASSTHROUGH);
			pt.init_unique = h->unique;
			pt.init_pending = true;
		}
	}
	return n < 0 ? -1 : n;
}

/* The INIT reply, with passthrough asked for.  Stack depth 1: layers on
 * ordinary filesystems can be backing files, and layerfs itself can still
 * be a lower layer of an overlay mount. */
static bool patch_init(struct iovec *iov, int count, char *copy, size_t size)
{
	const struct abi_out_header *h = iov[0].iov_base;
	if (count != 2 || h->error || h->unique != pt.init_unique ||
	    iov[1].iov_len < sizeof(struct abi_init_out) || iov[1].iov_len > size)
		return false;
	pt.init_pending = false;
	if (!pt.offered || !pt.on) {
		pt.on = false;
		return false;
	}
	memcpy(copy, iov[1].iov_base, iov[1].iov_len);
	struct abi_init_out *out = (void *)copy;
	/* The kernel refuses passthrough beside its writeback cache. */
	if (out->flags & (1u << 16)) { /* FUSE_WRITEBACK_CACHE */
		pt.on = false;
		return false;
	}
	out->flags |= INIT_EXT;
	out->flags2 |= INIT2_PASSTHROUGH;
	out->max_stack_depth = 1;
	iov[1].iov_base = copy;
	return true;
}

/* An open or create reply: its fuse_open_out ends the argument. */
static bool patch_open(struct iovec *iov, int count, char *copy, size_t size)
{
	const struct abi_out_header *h = iov[0].iov_base;
	if (count != 2 || h->error || iov[1].iov_len < sizeof(struct abi_open_out) ||
	    iov[1].iov_len > size)
		return false;
	memcpy(copy, iov[1].iov_base, iov[1].iov_len);
	struct abi_open_out *o = (void *)(copy + iov[1].iov_len - sizeof(*o));
	o->open_flags = (o->open_flags & FOPEN_PASSTHROUGH_MASK) | FOPEN_PASSTHROUGH_FLAG;
	o->backing_id = reply_backing_id;
	iov[1].iov_base = copy;
	return true;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	char copy[256];
	struct iovec v[2];
	if (count == 2 && iov[0].iov_len == sizeof(struct abi_out_header)) {
		memcpy(v, iov, sizeof(v));
		if ((reply_backing_id > 0 && patch_open(v, count, copy, sizeof(copy))) ||
		    (pt.init_pending && patch_init(v, count, copy, sizeof(copy))))
			iov = v;
	}
	ssize_t n = writev(fd, iov, count);
	return n < 0 ? -1 : n;
}

static ssize_t io_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			 unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

void passthrough_setup(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = io_read, .writev = io_writev,
		.splice_receive = io_splice, .splice_send = io_splice,
	};
	for (size_t k = 0; k < ARRAY_SIZE(pt.locks); k++)
		pthread_mutex_init(&pt.locks[k], NULL);
	if (lfs->opts.passthrough == PASSTHROUGH_OFF || !lfs->privileged)
		return;
	pt.devfd = fuse_session_fd(se);
	if (fuse_session_custom_io(se, &io, pt.devfd) == 0)
		pt.on = true;
}

static int32_t backing_open(int fd)
{
	struct abi_backing_map map = { .fd = fd };
	int id = ioctl(pt.devfd, IOC_BACKING_OPEN, &map);
	if (id > 0)
		return id;
	/* Not allowed or not enabled: the same for every file, so stop
	 * asking.  Other errors (a backing file stacked too deep) are the
	 * file's own. */
	if (id < 0 && (errno == EPERM || errno == ENOTTY || errno == EINVAL))
		pt.on = false;
	return 0;
}

static void backing_close(struct inode *i)
{
	uint32_t id = (uint32_t)i->pt_id;
	if (id && ioctl(pt.devfd, IOC_BACKING_CLOSE, &id) < 0)
		fprintf(stderr, "layerfs: closing backing file %u: %s\n", id, strerror(errno));
	i->pt_id = 0;
}

/* The backing id for a passthrough open of I served by FD, 0 for none.
 * An inode keeps its backing file registered after its last handle
 * closes, until it is forgotten: opening a file again then costs no
 * ioctl.  Needs I's lock and no handle open. */
static int32_t backing_for(struct inode *i, int fd, bool data_upper, bool created)
{
	if (i->pt_id && i->pt_upper == data_upper)
		return i->pt_id;
	backing_close(i); /* its data moved up: register the new file */
	if (!pt.on || (!data_upper && lfs->opts.passthrough != PASSTHROUGH_ALL))
		return 0;
	/* A read in passthrough makes the kernel forget the file's atime, so
	 * the next stat asks the daemon; a small file is read in a request or
	 * two, and again from the page cache for nothing.  A file being
	 * created is passed through, to save its writes. */
	struct stat st;
	if (!created && (fstat(fd, &st) < 0 || st.st_size < PT_MIN_SIZE))
		return 0;
	i->pt_id = backing_open(fd);
	i->pt_upper = data_upper;
	return i->pt_id;
}

int file_open_begin(struct inode *i, int fd, bool data_upper, bool created, uint64_t *fh)
{
	int r = 0;
	*fh = (uint64_t)fd;
	reply_backing_id = 0;
	pthread_mutex_lock(pt_lock(i));
	if (i->pt_count) {
		if (i->pt_upper != data_upper) {
			r = -ESTALE; /* see the top of the file */
			goto out;
		}
		reply_backing_id = i->pt_id;
	} else if (!i->nopen) {
		reply_backing_id = backing_for(i, fd, data_upper, created);
	}
	if (reply_backing_id) {
		i->pt_count++;
		*fh |= FH_PASSTHROUGH;
	}
	atomic_fetch_add(&i->nopen, 1);
out:
	pthread_mutex_unlock(pt_lock(i));
	return r;
}

void file_open_replied(void)
{
	reply_backing_id = 0;
}

void file_open_end(struct inode *i, uint64_t fh)
{
	pthread_mutex_lock(pt_lock(i));
	if (fh & FH_PASSTHROUGH)
		i->pt_count--;
	atomic_fetch_sub(&i->nopen, 1);
	pthread_mutex_unlock(pt_lock(i));
}

void passthrough_forget(struct inode *i)
{
	if (i->pt_id)
		backing_close(i);
}
