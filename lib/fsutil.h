/* Small file-system helpers working relative to directory fds. */
#ifndef LAYERFS_FSUTIL_H
#define LAYERFS_FSUTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Remove NAME under DIRFD recursively (never following symlinks), adding
 * the bytes of the removed files to *FREED when FREED is not NULL.  Makes
 * directories writable first so unprivileged trees can be removed.
 * ENOENT is success. */
int rm_rf_at(int dirfd, const char *name, uint64_t *freed);
/* Bytes a tree would free (sum of st_blocks*512 of files, counted once). */
int du_at(int dirfd, const char *name, uint64_t *bytes);

/* A DIR stream over DIRFD's directory (from its start), DIRFD left open. */
int opendir_at(int dirfd, DIR **out);

/* Normalise a relative path: leading "/", "." and empty components go.
 * ".." is -EINVAL, or with RESOLVE_DOTDOT removes the previous component
 * (-EPERM when that would leave the top). */
int path_normalize(const char *in, bool resolve_dotdot, char **out);

/* Read a whole regular file (at most MAX bytes, else -EFBIG). */
int read_file_at(int dirfd, const char *path, size_t max, char **data, size_t *len);
int read_fd_all(int fd, size_t max, char **data, size_t *len);

/* Write DATA to DIRFD/NAME atomically: a temp file in TMPFD, fsync'd, then
 * renamed over NAME. */
int write_file_atomic(int dirfd, const char *name, int tmpfd,
		      const void *data, size_t len);

/* Write all of LEN bytes. */
int write_all(int fd, const void *data, size_t len);

/* Open a directory beneath DIRFD without following any symlink. */
int open_dir_beneath(int dirfd, const char *path, int flags);

/* Random lowercase hex suffix for temp names (16 chars + NUL). */
void random_hex(char out[17]);

#endif
