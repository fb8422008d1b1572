/* Mount helpers of the launcher, on the new mount API: every target is an
 * fd resolved inside the container's root, so no path is ever looked up
 * twice and no image symlink can lead a mount out of the root. */
#ifndef LAYERFS_LAUNCH_MOUNT_H
#define LAYERFS_LAUNCH_MOUNT_H

#include <stdbool.h>

/* Open PATH inside ROOTFD as if ROOTFD were "/" (O_PATH). */
int root_open(int rootfd, const char *path, int flags, int *out);
/* Like root_open, creating what is missing: directories, and the last
 * component as an empty file when LEAF_FILE. */
int root_mkpath(int rootfd, const char *path, bool leaf_file, int *out);
/* From now on root_mkpath writes each path it creates, one a line, to FD
 * (-1: stop): diff and commit leave such mount points out. */
void root_mkpath_log(int fd);
/* A new instance of filesystem TYPE with OPTS ("key=value" or "flag",
 * NULL-terminated) and mount attributes ATTRS, mounted on TARGET_FD. */
int mount_new_fs(const char *type, const char *const *opts, unsigned attrs, int target_fd);
/* Bind SRC (an absolute path of the caller's view) onto TARGET_FD. */
int bind_at(const char *src, int target_fd, bool recursive, bool ro);
/* Make the mount at FD read-only (only that mount). */
int mount_make_ro(int fd);

#endif
