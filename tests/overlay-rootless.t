#!/bin/bash
# Unprivileged run: a user created for the test mounts the filesystem under
# test inside "unshare -Urm" and the core differential scenarios pass there,
# against kernel overlayfs mounted in the same namespace with userxattr
# (which rules out redirect_dir and index: no lower-directory renames, no
# hardlink copy-ups; and an unprivileged user has no chown to other ids,
# no devices and no trusted.* xattrs).
set -u
. "$(dirname "$0")/overlay-lib.sh"

ovl_begin -
need_cmd useradd userdel unshare runuser

user=lfst$$
ovl_tmpdir rootless
# /dev/fuse must be usable by the user; its mode is restored afterwards.
fuse_mode=$(stat -c %a /dev/fuse)
case $fuse_mode in
*66) ;;
*) chmod 0666 /dev/fuse || tap_skip_all "/dev/fuse is mode $fuse_mode and cannot be opened up"
   OVL_CLEANUP_HOOKS+=("chmod $fuse_mode /dev/fuse") ;;
esac
useradd -m "$user" >/dev/null 2>&1 || tap_skip_all "useradd failed"
OVL_CLEANUP_HOOKS+=("userdel -r $user >/dev/null 2>&1")

# Everything the user needs, in a directory the user owns.
mkdir -p "$T/bin" "$T/tests" "$T/run"
cp "$FS_BIN" "$T/bin/"
cp -r "$TESTS_DIR/lib.sh" "$TESTS_DIR/overlay-lib.sh" "$TESTS_DIR/overlay-rootless-run.sh" \
	"$TESTS_DIR/ovltest" "$T/tests/"
chown -R "$user:" "$T"

probe=$(runuser -u "$user" -- unshare -Urm sh -c 'mkdir -p '"$T"'/p/l '"$T"'/p/u '"$T"'/p/w '"$T"'/p/m &&
	mount -t overlay overlay -o lowerdir='"$T"'/p/l,upperdir='"$T"'/p/u,workdir='"$T"'/p/w,userxattr '"$T"'/p/m && echo ok' 2>&1)
[ "$probe" = ok ] || tap_skip_all "kernel overlayfs does not mount in a user namespace here: $probe"
rm -rf "$T/p"

runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="/home/$user" \
	T="$T/run" FS_UNDER_TEST="$FS_UNDER_TEST" ROOTLESS_FS_BIN="$T/bin/$(basename "$FS_BIN")" \
	LAYERFS_BUILD="$T/bin" PYTHON="$PYTHON" SEED="${SEED:-}" ONLY="${ONLY:-}" \
	unshare -Urm bash "$T/tests/overlay-rootless-run.sh"
