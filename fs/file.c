/* Open files: open, read, write, flush, release, fsync, fallocate,
 * copy_file_range, lseek.
 *
 * An open for writing (or with O_TRUNC) copies the file up first; with
 * O_TRUNC nothing but metadata is copied.  The handle is the real file's
 * descriptor: the kernel reads and writes it itself where it is passed
 * through (passthrough.c), and otherwise reads and writes splice straight
 * between it and the FUSE device. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "layerfs.h"

/* The flags to open a layer's file with for the kernel's open FLAGS.  The
 * kernel passes bits openat2 rejects (FMODE_EXEC for execve).  With the
 * writeback cache the kernel reads pages through a handle it opened for
 * writing and gives every write its own offset, appends included: the file
 * must be readable, and O_APPEND would put the data at the wrong place. */
int layer_open_flags(int flags)
{
	flags &= O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT |
		 O_LARGEFILE | O_NOATIME | O_TRUNC;
	if (lfs->writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

static int do_open(struct inode *i, struct fuse_file_info *fi)
{
	int flags = fi->flags;
	bool writes = (flags & O_ACCMODE) != O_RDONLY;
	int r;

	if ((writes || (flags & O_TRUNC)) && !lfs->has_upper)
		return -EROFS;
	if ((writes || (flags & O_TRUNC)) && (i->layer != LAYER_UPPER || i->metacopy) &&
	    (r = copyup(i, (flags & O_TRUNC) ? CU_EMPTY : CU_DATA)) < 0)
		return r;
	flags = layer_open_flags(flags);
	char path[PATH_MAX];
	int fd;
	{
		NS_READ;
		uint16_t layer = i->metacopy ? i->datalayer : i->layer;
		if (layer != LAYER_UPPER)
			flags &= ~O_TRUNC;
		if (i->stale && i->anchor_fd >= 0) {
			char p[64];
			proc_fd_path(p, sizeof(p), i->anchor_fd, NULL);
			fd = open(p, flags | O_CLOEXEC);
			fd = fd < 0 ? -errno : fd;
		} else if ((r = path_in_layer(i, layer, path, sizeof(path))) < 0) {
			return r;
		} else {
			fd = layer_open(layer, path, flags);
		}
	}
	if (fd < 0)
		return fd;
	bool data_upper = i->layer == LAYER_UPPER && !i->metacopy;
	if ((r = file_open_begin(i, fd, data_upper, false, &fi->fh)) < 0) {
		close(fd);
		if (r == -ESTALE)
			inode_detach(i);
		return r;
	}
	/* Lowers never change and the upper changes only through us. */
	fi->keep_cache = 1;
	/* Only a writer's close can report an error, and only on some upper
	 * filesystems. */
	fi->noflush = !writes || lfs->upper_noflush;
	return 0;
}

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct inode *i = inode_get(ino);
	int r = do_open(i, fi);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = fuse_reply_open(req, fi);
	file_open_replied();
	if (r == -ENOENT) {
		close(fh_fd(fi));
		file_open_end(i, fi->fh);
	}
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fh_fd(fi);
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
		  struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fh_fd(fi);
	out.buf[0].pos = off;
	ssize_t n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* close(dup()) reports delayed write errors of the underlying fs. */
	int fd = dup(fh_fd(fi));
	int r = fd < 0 ? errno : (close(fd) < 0 ? errno : 0);
	fuse_reply_err(req, r);
}

void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct inode *i = inode_get(ino);
	close(fh_fd(fi));
	file_open_end(i, fi->fh);
	fuse_reply_err(req, 0);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int r = 0;
	if (lfs->opts.fsync) {
		int fd = fh_fd(fi);
		r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? errno : 0;
	}
	fuse_reply_err(req, r);
}

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		  struct fuse_file_info *fi)
{
	int r = fallocate(fh_fd(fi), mode, offset, length) < 0 ? errno : 0;
	fuse_reply_err(req, r);
}

void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags)
{
	ssize_t n = copy_file_range(fh_fd(fi_in), &off_in, fh_fd(fi_out), &off_out,
				    len, (unsigned)flags);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	off_t r = lseek(fh_fd(fi), off, whence);
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}
