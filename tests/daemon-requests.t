#!/bin/bash
# What the daemon spares the kernel and asks of it:
#  - no FLUSH request at close when the upper filesystem has nothing to
#    report at close (ext4, XFS, btrfs, tmpfs);
#  - no fsync of a copy-up made by reflink (the journal orders it before
#    the rename that publishes it), and an fsync of one made by copying;
#  - a large copy-up that will be synced starts writeback as it goes
#    (sync_file_range every 32 MiB), keeps its holes and its bytes, and
#    one not synced (fsync=0) does not;
#  - xattr reads of a file known to have none (ls -l asks every file for
#    security.selinux, a write or chown for security.capability) answered
#    without a system call, and right after the file gains one;
#  - keeping CPUs awake (cpu_latency=auto|on|off|poll): while requests
#    come in bursts, the receiving thread polls for the next one and the
#    daemon asks through /dev/cpu_dma_latency that idle CPUs poll instead
#    of halting (poll: the first only, as rootless mounts), and both stop
#    when the requests do.
# The daemon runs in the foreground; -o debug logs every request.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd python3 fusermount3 mkfs.ext4 mkfs.xfs strace getfattr setfattr
[ -c /dev/fuse ] || tap_skip_all "/dev/fuse is missing"

T=$(mktemp -d /tmp/layerfs-requests.XXXXXX)
M=$T/m
cleanup() {
	unmount_quiet "$M"
	umount "$T/ext4" 2>/dev/null
	umount "$T/xfs" 2>/dev/null
	umount "$T/tmpfs" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$M" "$T/ext4" "$T/xfs" "$T/tmpfs"

# A journaled ext4 and an XFS with reflink, in loop files, and a tmpfs.
truncate -s 256M "$T/ext4.img"
truncate -s 320M "$T/xfs.img" # the smallest XFS mkfs.xfs makes
mkfs.ext4 -q -F "$T/ext4.img" >/dev/null 2>&1 && mount -o loop "$T/ext4.img" "$T/ext4" ||
	tap_skip_all "cannot make and mount an ext4 loop image"
mkfs.xfs -q -f -m reflink=1 "$T/xfs.img" >/dev/null 2>&1 && mount -o loop "$T/xfs.img" "$T/xfs" ||
	tap_skip_all "cannot make and mount an XFS loop image"
mount -t tmpfs tmpfs "$T/tmpfs"

DAEMON=
# mount_on FS [OPTIONS [PREPARE]]: layers in $T/FS/{l,u,w}, fresh (then
# the function PREPARE run on the lower directory), mounted at $M with
# requests logged to $T/log; the daemon's pid in DAEMON.
mount_on() {
	local d=$T/$1
	rm -rf "$d/l" "$d/u" "$d/w"
	mkdir -p "$d/l" "$d/u" "$d/w"
	head -c 2097152 /dev/urandom > "$d/l/big"
	echo "lower" > "$d/l/small"
	[ -z "${3:-}" ] || "$3" "$d/l"
	debug_mount "$T/log" "$M" "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w${2:+,$2}"
	local r=$?
	DAEMON=$DEBUG_PID
	return $r
}
umount_wait() {
	fusermount3 -u "$M"
	wait "$DAEMON" 2>/dev/null
	DAEMON=
}
requests() { grep -c "opcode: $1 (" "$T/log"; }

# --- FLUSH -----------------------------------------------------------------
for fs in ext4 xfs tmpfs; do
	mount_on "$fs" || tap_skip_all "layerfs does not mount on $fs here"
	echo "new" > "$M/new"
	echo "more" >> "$M/small"
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"x")
os.close(fd)' "$M/big"
	is "$(requests FLUSH)" 0 "upper on $fs: closing created, appended and copied-up files sends no FLUSH"
	is "$(cat "$M/new" "$M/small")" "$(printf 'new\nlower\nmore')" \
		"upper on $fs: what was written before close reads back"
	is "$(stat -c %s "$T/$fs/u/big")" 2097153 "upper on $fs: the copied-up file has its appended byte"
	umount_wait
done

# trace_daemon SYSCALLS COMMAND...: the daemon's calls of SYSCALLS while
# COMMAND runs, into $T/strace.
trace_daemon() {
	local calls=$1 st k; shift
	strace -f -qq -e trace="$calls" -o "$T/strace" -p "$DAEMON" &
	st=$!
	for ((k = 0; k < 100; k++)); do
		grep -q "^TracerPid:[[:space:]]*[1-9]" "/proc/$DAEMON/status" && break
		sleep 0.05
	done
	"$@" >/dev/null 2>&1
	sleep 0.2
	kill "$st"; wait "$st" 2>/dev/null
}
# write_byte FILE: one byte written in place at offset 5.
write_byte() { printf 'y' | dd of="$1" bs=1 seek=5 conv=notrunc status=none; }

# --- fsync of copy-ups ---------------------------------------------------------
# fsync_calls FS: fsync calls of the daemon during a one-byte write to a
# 2 MiB lower file (a copy-up), traced with strace.
fsync_calls() {
	mount_on "$1" || return 1
	trace_daemon fsync,fdatasync write_byte "$M/big"
	umount_wait
	grep -c "fsync(" "$T/strace"
}
is "$(fsync_calls xfs)" 0 "a copy-up by reflink (XFS) is not fsynced"
n=$(fsync_calls ext4)
is "$([ "${n:-0}" -ge 1 ] && echo synced)" synced "a copy-up by copying (ext4) is fsynced before it is published"

# --- writeback during a large copy-up ------------------------------------------
# A 72 MiB lower file: 32 MiB of data, an 8 MiB hole, 32 MiB of data.
sparse_lower() {
	head -c 33554432 /dev/urandom > "$1/huge"
	head -c 33554432 /dev/urandom | dd of="$1/huge" bs=1M seek=40 conv=notrunc status=none
}
# writeback_calls [OPTIONS]: sync_file_range calls of the daemon during a
# one-byte write to it; the copy is then checked against the lower file.
writeback_calls() {
	mount_on ext4 "${1:-}" sparse_lower || return 1
	trace_daemon sync_file_range write_byte "$M/huge"
	umount_wait
	grep -c "sync_file_range(" "$T/strace"
}
expect_copy() {
	write_byte "$T/want"
	cmp -s "$T/want" "$T/ext4/u/huge" && echo same
}
n=$(writeback_calls)
cp "$T/ext4/l/huge" "$T/want"
is "$([ "${n:-0}" -ge 1 ] && echo started)" started "a synced 72 MiB copy-up starts writeback as it copies ($n calls)"
is "$(expect_copy)" same "... and the copy holds the lower file's bytes and the written one"
blocks=$(stat -c %b "$T/ext4/u/huge")
is "$([ "$blocks" -lt $((70 * 2048)) ] && echo sparse)" sparse "... and keeps the 8 MiB hole ($blocks blocks)"
is "$(writeback_calls fsync=0)" 0 "a copy-up that is not synced (fsync=0) starts no writeback"

# --- xattrs of files with none ----------------------------------------------
mount_on ext4 || tap_skip_all "layerfs does not mount on ext4 here"
mkdir "$M/d" && for n in 1 2 3 4 5; do echo "$n" > "$M/d/f$n"; done
ls -l "$M/big" "$M/small" "$M/d" >/dev/null
trace_daemon lgetxattr,llistxattr,getxattr,listxattr ls -l "$M/big" "$M/small" "$M/d"
is "$(grep -c xattr "$T/strace")" 0 \
	"a second ls -l of lower and new files without xattrs makes no xattr call in the daemon"
xattr_of() { getfattr --only-values -n "$2" "$1" 2>/dev/null || echo "none"; }
is "$(xattr_of "$M/d/f1" user.k)" none "a new file has no user.k"
setfattr -n user.k -v one "$M/d/f1"
is "$(xattr_of "$M/d/f1" user.k)" one "once set, user.k of the new file reads back"
setfattr -x user.k "$M/d/f1"
is "$(xattr_of "$M/d/f1" user.k)" none "once removed, user.k is gone again"
is "$(xattr_of "$M/small" user.k)" none "a lower file has no user.k"
setfattr -n user.k -v two "$M/small"
is "$(xattr_of "$M/small" user.k)" two "setting user.k on a lower file copies it up, and it reads back"
is "$(getfattr --only-values -n user.k "$T/ext4/u/small" 2>/dev/null)" two "the upper file holds it"
umount_wait
lower_xattr() { setfattr -n user.lower -v below "$1/small"; }
mount_on ext4 "" lower_xattr || tap_skip_all "layerfs does not mount on ext4 here"
is "$(xattr_of "$M/big" user.lower)" none "a lower file without xattrs has none"
is "$(xattr_of "$M/small" user.lower)" below "a lower file's own xattr shows"
umount_wait

# --- READDIRPLUS: attributes for directories until a caller stats files --------
lower_tree() {
	local d f
	for d in 1 2 3 4 5 6 7 8; do
		mkdir "$1/t$d"
		for f in $(seq 20); do echo x > "$1/t$d/f$f"; done
	done
}
mount_on ext4 "" lower_tree || tap_skip_all "layerfs does not mount on ext4 here"
is "$(find "$M" | wc -l)" 171 "a fresh find lists every name"
is "$(requests LOOKUP)" 0 "... and sends no LOOKUP: READDIRPLUS gave the directories' attributes"
stat "$M/t1/f1" >/dev/null
is "$(requests LOOKUP)" 1 "... but no file's: a stat of a file it listed is a LOOKUP"
umount_wait
mount_on ext4 "" lower_tree || tap_skip_all "layerfs does not mount on ext4 here"
is "$(LC_ALL=C ls -lR "$M" | grep -c ' 2 [A-Z][a-z][a-z] .* f[0-9]*$')" 160 \
	"a fresh ls -lR shows every file with its size"
n=$(requests LOOKUP)
is "$([ "$n" -le 25 ] && echo few)" few \
	"... looking up one directory's files at most: then READDIRPLUS gives every entry's attributes ($n LOOKUPs, 160 files)"
umount_wait

# --- CPU latency hold ----------------------------------------------------------
if [ ! -e /dev/cpu_dma_latency ]; then
	tap_skip "CPU latency hold" "this kernel has no /dev/cpu_dma_latency"
	tap_done; exit
fi
limit() { od -An -td4 -N4 /dev/cpu_dma_latency | tr -d ' '; }
NO_LIMIT=2000000000
if [ "$(limit)" != "$NO_LIMIT" ]; then
	tap_skip "CPU latency hold" "another process holds a CPU latency request ($(limit) us)"
	tap_done; exit
fi
# burst SECONDS: create and remove files in the mount as fast as one
# process can, for SECONDS; prints the lowest limit seen meanwhile.
burst() { python3 "$TESTS_DIR/fsprobe.py" burst "$M" "$1" lowest-latency; }
holds_device() { ls -l "/proc/$DAEMON/fd" 2>/dev/null | grep -c cpu_dma_latency; }
# bursts_logged N SUFFIX: "ok" if the debug log shows at least N bursts
# started (their message ending in SUFFIX), and as many ended.  A pause of
# the test's own (a busy machine) may split one burst in two.
bursts_logged() {
	local started ended
	started=$(grep -c "^burst of requests: the receiver polls for the next$2\$" "$T/log")
	ended=$(grep -c "^burst of requests over\$" "$T/log")
	[ "$started" -ge "$1" ] && [ "$started" = "$ended" ] && echo ok ||
		echo "$started started, $ended ended"
}

mount_on tmpfs || tap_skip_all "layerfs does not mount on tmpfs here"
sleep 0.1
is "$(limit)" "$NO_LIMIT" "cpu_latency=auto: a mount with no requests asks nothing"
is "$(burst 1)" 0 "cpu_latency=auto: during a burst of requests idle CPUs must poll (limit 0)"
sleep 0.3
is "$(limit)" "$NO_LIMIT" "cpu_latency=auto: the hold ends once the burst stops"
is "$(burst 0.5)" 0 "cpu_latency=auto: a second burst holds again"
umount_wait
is "$(limit)" "$NO_LIMIT" "cpu_latency=auto: nothing is held after unmount"
is "$(bursts_logged 2 ", idle CPUs poll (cpu_dma_latency 0)")" ok "cpu_latency=auto: each burst made the receiver poll and idle CPUs poll, and each ended"

mount_on tmpfs cpu_latency=off || tap_skip_all "layerfs does not mount on tmpfs here"
is "$(burst 1)" "$NO_LIMIT" "cpu_latency=off: a burst asks nothing"
is "$(holds_device)" 0 "cpu_latency=off: the daemon does not open /dev/cpu_dma_latency"
umount_wait
is "$(grep -c "burst of requests" "$T/log")" 0 "cpu_latency=off: the receiver never polls"

# poll: what a rootless mount gets, the device being root's.
mount_on tmpfs cpu_latency=poll || tap_skip_all "layerfs does not mount on tmpfs here"
is "$(burst 1)" "$NO_LIMIT" "cpu_latency=poll: a burst asks no CPU latency"
is "$(holds_device)" 0 "cpu_latency=poll: the daemon does not open /dev/cpu_dma_latency"
sleep 0.3
is "$(burst 0.5)" "$NO_LIMIT" "cpu_latency=poll: nor does a second burst"
umount_wait
is "$(bursts_logged 2 "")" ok "cpu_latency=poll: each burst made the receiver poll, and each ended"
is "$(grep -c "idle CPUs poll" "$T/log")" 0 "cpu_latency=poll: idle CPUs are left alone"

mount_on tmpfs cpu_latency=on || tap_skip_all "layerfs does not mount on tmpfs here"
sleep 0.1
is "$(limit)" 0 "cpu_latency=on: the hold lasts as long as the mount, requests or not"
umount_wait
is "$(limit)" "$NO_LIMIT" "cpu_latency=on: the hold ends with the daemon"

out=$("$LAYERFS" -f -o "lowerdir=$T/tmpfs/l,cpu_latency=sometimes" "$M" 2>&1)
is "$?:$(grep -c "cpu_latency" <<<"$out")" "2:1" "a bad cpu_latency mode is refused, naming the option"

tap_done
