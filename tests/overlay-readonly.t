#!/bin/bash
# Read-only mounts: without upperdir every kind of change fails with EROFS
# (and with what kernel overlayfs answers for the same call), reads still
# work and show the kernel's merged view, and the layers are left exactly
# as they were.
set -u
. "$(dirname "$0")/overlay-lib.sh"

ovl_begin
[ "$FS_UNDER_TEST" = fuse-overlayfs ] && tap_skip_all "fuse-overlayfs needs an upperdir"

ovl_tmpdir ro
tap_plan $(( $(ovl_py count readonly) + 2 ))
ovl_py build readonly "$T/src"
cp -a "$T/src" "$T/k"
cp -a "$T/src" "$T/f"
mkdir "$T/k/mnt" "$T/f/mnt"
before=$(ovl_py tree "$T/f/l0"; ovl_py tree "$T/f/l1")

kernel_mount "lowerdir=$T/k/l1:$T/k/l0" "$T/k/mnt" || tap_skip_all "kernel overlayfs refuses a lower-only mount"
ovl_py_timed run readonly "$T/k/mnt" "$T/k/ops.json"
umount "$T/k/mnt"

KERNEL_SELF_OPTS=
if fs_mount "lowerdir=$T/f/l1:$T/f/l0" "$T/f/mnt"; then
	tap_ok "mounts without upperdir"
	ovl_py_timed run readonly "$T/f/mnt" "$T/f/ops.json" || tap_diag "the operations did not complete"
	fs_unmount "$T/f/mnt"
else
	tap_not_ok "mounts without upperdir" "$FS_MOUNT_ERR"
fi
ovl_py judge readonly "$T/k" "$T/f" "$FS_UNDER_TEST" --expect-errno EROFS --expect-prefix ro-change- >"$T/verdicts"
tap_results "$T/verdicts"

after=$(ovl_py tree "$T/f/l0"; ovl_py tree "$T/f/l1")
if [ "$before" == "$after" ]; then
	tap_ok "the layers are unchanged"
else
	tap_not_ok "the layers are unchanged" "$(diff <(echo "$before") <(echo "$after"))"
fi
[ "$_tap_failed" -eq 0 ]
