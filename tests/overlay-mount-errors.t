#!/bin/bash
# Mount-time errors: each bad invocation exits non-zero with exactly one
# clear line on stderr naming the culprit; nothing gets mounted and nothing
# in the lower, upper or work directories changes.  Also: --version and
# --help answer, and empty options (",,") are accepted.
set -u
. "$(dirname "$0")/overlay-lib.sh"

ovl_begin -
need_cmd setpriv timeout
[ "$FS_UNDER_TEST" = kernel ] && tap_skip_all "this suite checks the messages of a FUSE daemon"

ovl_tmpdir merr
mkdir -p "$T/l/d" "$T/u" "$T/w" "$T/m" "$T/tmpfs" "$T/locked"
echo base >"$T/l/f"
echo up >"$T/u/g"
chmod 000 "$T/locked"
: >"$T/plainfile"
mount -t tmpfs tmpfs "$T/tmpfs" && OVL_MOUNTS+=("$T/tmpfs") || tap_skip_all "cannot mount a tmpfs"
mkdir "$T/tmpfs/w"

snapshot() { ovl_py tree "$T/l"; ovl_py tree "$T/u"; ovl_py tree "$T/w"; ovl_py tree "$T/tmpfs"; }
mounts_at() { awk -v m="$1" '$5 == m' /proc/self/mountinfo | wc -l; }

# expect_failure NAME CULPRIT MNT -o OPTS...: two test points.
expect_failure() {
	local name=$1 culprit=$2 mnt=$3; shift 3
	local before after err rc lines n0 n1
	before=$(snapshot); n0=$(mounts_at "$mnt")
	timeout 20 "$@" >/dev/null 2>"$T/err"; rc=$?
	err=$(cat "$T/err")
	n1=$(mounts_at "$mnt")
	if [ "$n1" != "$n0" ]; then ovl_unmount_safely "$mnt"; fi
	after=$(snapshot)
	lines=$(printf '%s\n' "$err" | grep -c .)
	if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && printf '%s' "$err" | grep -qF -- "$culprit"; then
		tap_ok "$name: exits non-zero with one line naming '$culprit'"
	else
		tap_not_ok "$name: exits non-zero with one line naming '$culprit'" \
			"command: $*" "exit status: $rc, stderr lines: $lines" "$err"
	fi
	if [ "$n1" == "$n0" ] && [ "$before" == "$after" ]; then
		tap_ok "$name: nothing mounted, nothing written"
	else
		tap_not_ok "$name: nothing mounted, nothing written" \
			"mounts at $mnt: $n0 before, $n1 after" "$(diff <(echo "$before") <(echo "$after"))"
	fi
}

tap_plan 25
L=$T/l U=$T/u W=$T/w M=$T/m

out=$(timeout 20 "$FS_BIN" --version 2>&1); rc=$?
name=$(basename "$FS_BIN")
if [ $rc -eq 0 ] && printf "%s" "$out" | grep -q "$name.*[0-9][0-9]*\.[0-9]"; then
	tap_ok "--version answers"
else
	tap_not_ok "--version answers" "exit $rc" "$out"
fi
out=$(timeout 20 "$FS_BIN" --help 2>&1); rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q lowerdir; then
	tap_ok "--help answers and names lowerdir"
else
	tap_not_ok "--help answers and names lowerdir" "exit $rc" "$out"
fi

expect_failure "missing lowerdir" "$T/nope" "$M" \
	"$FS_BIN" -o "lowerdir=$T/nope,upperdir=$U,workdir=$W" "$M"
expect_failure "unreadable lowerdir" "$T/locked" "$M" \
	setpriv --bounding-set=-dac_override,-dac_read_search \
	"$FS_BIN" -o "lowerdir=$T/locked:$L,upperdir=$U,workdir=$W" "$M"
expect_failure "lowerdir is not a directory" "$T/plainfile" "$M" \
	"$FS_BIN" -o "lowerdir=$T/plainfile,upperdir=$U,workdir=$W" "$M"
expect_failure "no lowerdir" "lowerdir" "$M" \
	"$FS_BIN" -o "upperdir=$U,workdir=$W" "$M"
expect_failure "upperdir without workdir" "workdir" "$M" \
	"$FS_BIN" -o "lowerdir=$L,upperdir=$U" "$M"
expect_failure "workdir on another filesystem than upperdir" "$T/tmpfs/w" "$M" \
	"$FS_BIN" -o "lowerdir=$L,upperdir=$U,workdir=$T/tmpfs/w" "$M"
expect_failure "unknown option" "frobnicate" "$M" \
	"$FS_BIN" -o "lowerdir=$L,upperdir=$U,workdir=$W,frobnicate" "$M"
expect_failure "missing mountpoint" "$T/nomnt" "$T/nomnt" \
	"$FS_BIN" -o "lowerdir=$L,upperdir=$U,workdir=$W" "$T/nomnt"
# A mountpoint already in use: stacking a second mount over it would hide
# the first one from everyone using it.
expect_failure "mountpoint in use" "$T/tmpfs" "$T/tmpfs" \
	"$FS_BIN" -o "lowerdir=$L,upperdir=$U,workdir=$W" "$T/tmpfs"

# --ready-fd=N (layerfs's own): a bad descriptor is refused; a good one
# gets a newline once mounted, and the daemon stays in the foreground.
if [ "$FS_UNDER_TEST" = layerfs ]; then
	expect_failure "--ready-fd on a closed descriptor" "--ready-fd" "$M" \
		"$FS_BIN" --ready-fd=9 -o "lowerdir=$L,upperdir=$U,workdir=$W" "$M"
	"$FS_BIN" --ready-fd=3 -o "lowerdir=$L,upperdir=$U,workdir=$W" "$M" 3>"$T/ready" &
	pid=$!
	for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.1; done
	if [ "$(od -An -c "$T/ready" | tr -d ' ')" = '\n' ] && [ "$(mounts_at "$M")" -eq 1 ] &&
	   kill -0 "$pid" 2>/dev/null && [ "$(cat "$M/f" 2>&1)" = base ]; then
		tap_ok "--ready-fd: a newline once mounted, the daemon in the foreground"
	else
		tap_not_ok "--ready-fd: a newline once mounted, the daemon in the foreground" \
			"ready: '$(od -An -c "$T/ready")', mounts: $(mounts_at "$M")"
	fi
	ovl_unmount_safely "$M"
	wait "$pid"
else
	for n in 1 2 3; do tap_skip "--ready-fd ($n)" "an option of layerfs only"; done
fi

# Empty options are accepted (podman passes them).
if fs_mount "lowerdir=$L,,upperdir=$U,,workdir=$W," "$M"; then
	tap_ok "empty options are accepted"
	if [ "$(cat "$M/f" 2>&1)" = base ] && [ "$(cat "$M/g" 2>&1)" = up ]; then
		tap_ok "the mount with empty options shows lower and upper"
	else
		tap_not_ok "the mount with empty options shows lower and upper" "$(ls -la "$M" 2>&1)"
	fi
	fs_unmount "$M"
else
	tap_not_ok "empty options are accepted" "$FS_MOUNT_ERR"
	tap_skip "the mount with empty options shows lower and upper" "it did not mount"
fi
[ "$_tap_failed" -eq 0 ]
