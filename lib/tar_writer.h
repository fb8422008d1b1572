/* A minimal, deterministic ustar writer for image archives.
 *
 * Only what image archives need: regular files, directories and symlinks
 * with short names, every header with the same owner (0:0), empty user
 * and group names and one fixed mtime, so the same content always gives
 * the same bytes.  Sizes past the octal field's 8 GiB use the base-256
 * form GNU tar, Go's archive/tar and libarchive read.  File data can be
 * copied from an fd in the kernel (copy_file_range, sendfile). */
#ifndef LAYERFS_TAR_WRITER_H
#define LAYERFS_TAR_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct tar_writer {
	int fd;
	uint64_t off;        /* bytes written */
	uint64_t left;       /* data bytes the current entry still needs */
	uint64_t size;       /* data bytes of the current entry */
	int64_t mtime;
};

void tw_init(struct tar_writer *w, int fd, int64_t mtime);
/* Headers.  A file's header is followed by exactly SIZE data bytes
 * (tw_write / tw_copy_fd), then tw_end_entry pads it. */
int tw_file_header(struct tar_writer *w, const char *name, unsigned mode, uint64_t size);
int tw_dir(struct tar_writer *w, const char *name);
int tw_symlink(struct tar_writer *w, const char *name, const char *target);
int tw_write(struct tar_writer *w, const void *data, size_t len);
/* Copy LEN bytes of IN (from offset 0) as entry data. */
int tw_copy_fd(struct tar_writer *w, int in, uint64_t len);
int tw_end_entry(struct tar_writer *w);
/* A whole small file. */
int tw_file(struct tar_writer *w, const char *name, const void *data, size_t len);
/* The two zero blocks that end an archive. */
int tw_finish(struct tar_writer *w);

/* Copy LEN bytes from IN at *INOFF to OUT at its position: copy_file_range,
 * else sendfile, else read/write.  Advances *INOFF. */
int copy_fd_range(int in, uint64_t *inoff, int out, uint64_t len);
/* OUT becomes a copy of IN's LEN bytes: a reflink (FICLONE) where the file
 * system shares blocks, else copy_fd_range. */
int clone_or_copy_fd(int in, int out, uint64_t len);

#endif
