/* The container's root filesystem: the layerfs mount, the standard
 * mounts inside it, and the switch into it. */
#ifndef LAYERFS_LAUNCH_ROOTFS_H
#define LAYERFS_LAUNCH_ROOTFS_H

#include "launch.h"

/* Mount the rootfs at CDIR/merged with the layerfs daemon, a child of
 * the caller (the holder), whose pid is left in *DAEMON. */
int rootfs_mount(const struct launch_spec *s, pid_t *daemon, struct msgbuf *m);
/* In the holder, once root of the namespace: a tmpfs on CDIR/etc (seen
 * by no other mount namespace) holding the /etc files of SPEC->etc, so
 * that they cost no inode on the store's disk. */
int rootfs_etc_files(const struct launch_spec *s, struct msgbuf *m);
/* In PID 1's own mount namespace: /proc, /dev, /sys, /tmp, the /etc
 * files, volumes, then pivot_root into CDIR/merged. */
int rootfs_enter(const struct launch_spec *s, struct msgbuf *m);

#endif
