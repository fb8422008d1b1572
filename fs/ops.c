/* The FUSE operation table and session setup. */
#include <errno.h>

#include "layerfs.h"

void op_init(void *userdata, struct fuse_conn_info *conn)
{
	unsigned want = FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
			FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_READDIRPLUS |
			FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_CACHE_SYMLINKS |
			FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_ASYNC_READ | FUSE_CAP_ASYNC_DIO;
	if (lfs->opts.writeback && lfs->has_upper)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	/* loop.c hands requests to other threads: receive them into memory. */
	if (lfs->opts.threaded)
		want &= ~FUSE_CAP_SPLICE_READ;
	conn->want |= want & conn->capable;
	lfs->writeback = conn->want & FUSE_CAP_WRITEBACK_CACHE;
	/* The kernel enforces and caches ACLs (one GETXATTR per inode, not
	 * per ls -l); we store them, and the upper filesystem keeps modes and
	 * ACL masks in step.  Inside a user namespace the kernel grants a
	 * FUSE mount ACLs only this way. */
	if (!lfs->opts.noacl)
		conn->want |= FUSE_CAP_POSIX_ACL & conn->capable;
	/* Readdir needs no per-open state (readdir.c): spare the kernel an
	 * OPENDIR and a RELEASEDIR per directory read. */
	lfs->no_opendir = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
	/* POSIX and flock locks stay with the kernel, which is right for a
	 * filesystem only this host sees. */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	conn->time_gran = 1;
}

void op_destroy(void *userdata)
{
}

const struct fuse_lowlevel_ops layerfs_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write_buf = op_write_buf,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.create = op_create,
	.fallocate = op_fallocate,
	.copy_file_range = op_copy_file_range,
	.lseek = op_lseek,
};
