#!/bin/bash
# stress-ng's filesystem stressors, with --verify, inside a layerfs mount
# whose lower layer holds files the stressors' directory shares a tree
# with (so copy-up paths run too).  One test point per stressor; a
# stressor stress-ng cannot run here (exit 3) is skipped, saying so.
# STRESSNG_SECONDS (default 1) per stressor; make stress runs them longer.
. "$(dirname "$0")/overlay-lib.sh"
ovl_begin -
ovl_tmpdir stressng
need_cmd stress-ng
SECS=${STRESSNG_SECONDS:-1}

# Left out, and why:
#   bind-mount binderfs procfs ioprio  exercise mounts, binder, /proc or I/O
#                      priorities, not the filesystem they run in
#   chattr inode-flags file-ioctl fiemap verity   ioctls FUSE does not pass
#                      on (FS_IOC_SETFLAGS, FIEMAP, fs-verity)
#   handle             name_to_handle_at needs an exportable filesystem
#   fanotify           marks whole mounts and filesystems (FAN_MARK_MOUNT)
#   io sync-file       io calls sync(2) on every filesystem of the machine
#   hdd                written apart, with bounded size, below
STRESSORS="access chdir chmod chown copy-file dentry dir dirdeep dirmany dnotify dup
eventfd fallocate fcntl filename flock fpunch fsize fstat getdent inotify iomix lease
link locka lockf lockofd mknod open rename symlink touch utime xattr"

mkdir -p "$T"/{l,u,w,m}
mkdir -p "$T/l/base"
for k in $(seq 1 50); do head -c 4096 /dev/urandom >"$T/l/base/f$k"; done
fs_mount "lowerdir=$T/l,upperdir=$T/u,workdir=$T/w" "$T/m" || tap_skip_all "cannot mount: $FS_MOUNT_ERR"
mkdir -p "$T/m/base/run"

run() { # NAME ARGS...: one stressor, one test point
	local name=$1 rc out; shift
	out=$(cd "$T/m/base/run" && timeout -k 10 $((SECS + 60)) stress-ng "$@" --timeout "${SECS}s" --verify \
		--seed 1 --temp-path "$T/m/base/run" --metrics-brief 2>&1)
	rc=$?
	case $rc in
	0) tap_ok "$name: $(printf '%s\n' "$out" | awk -v s="$name" '$2 == "metrc:" && $4 == s {print $5 " bogo ops"; exit}')" ;;
	3) tap_skip "$name" "stress-ng cannot run it here: $(printf '%s\n' "$out" | grep -m1 -i 'skip\|not implemented\|unsupported' | sed 's/^stress-ng: //')" ;;
	*)
		tap_not_ok "$name (exit $rc)" "$(printf '%s\n' "$out" | tail -15)" ;;
	esac
}
for s in $STRESSORS; do run "$s" "--$s" 1; done
run hdd --hdd 1 --hdd-bytes 16m --hdd-opts wr-rnd,rd-rnd
mountpoint -q "$T/m" && tap_ok "the mount is alive after every stressor" || tap_not_ok "the mount is alive"
is "$(find "$T/w/work" -mindepth 1 | wc -l)" 0 "nothing is left in the work directory"
ovl_unmount_safely "$T/m"
tap_done
