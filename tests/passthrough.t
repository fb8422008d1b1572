#!/bin/bash
# FUSE passthrough: which files the kernel reads and writes without asking
# the daemon, and that the data and the union's rules stay right.  The
# daemon runs in the foreground with -o debug, whose log lists every
# request: a file in passthrough gets OPEN and RELEASE but no READ or
# WRITE.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd python3 fusermount3 cmp
[ -c /dev/fuse ] || tap_skip_all "/dev/fuse is missing"
# Passthrough came in Linux 6.9 (CONFIG_FUSE_PASSTHROUGH).
read -r kmaj kmin _ < <(uname -r | tr '.-' '  ')
if [ "$kmaj" -lt 6 ] || { [ "$kmaj" -eq 6 ] && [ "$kmin" -lt 9 ]; }; then
	tap_skip_all "Linux $(uname -r) has no FUSE passthrough (6.9 or later)"
fi
if [ -r /proc/config.gz ] && ! zgrep -q '^CONFIG_FUSE_PASSTHROUGH=y' /proc/config.gz; then
	tap_skip_all "this kernel is built without CONFIG_FUSE_PASSTHROUGH"
fi

T=$(mktemp -d /tmp/layerfs-passthrough.XXXXXX)
M=$T/m
trap 'unmount_quiet "$M"; umount "$T/x/t" 2>/dev/null; rm -rf "$T"' EXIT

# fresh_layers: a lower with a small text file, a text file of 1 MiB, and
# files of 1 and 4 MiB; an empty upper.
fresh_layers() {
	rm -rf "$T/l" "$T/u" "$T/w"
	mkdir -p "$T/l/d" "$T/u" "$T/w" "$M"
	echo "lower text" > "$T/l/d/text"
	{ echo "lower text"; head -c 1048576 /dev/zero; } > "$T/l/d/t2"
	head -c 4194304 /dev/urandom > "$T/l/big"
	head -c 1048576 /dev/urandom > "$T/l/app"
}
# mount_debug [OPTIONS]: mount in the foreground, requests logged to $T/log
# (appended to, so that cut_log can empty it under the running daemon).
mount_debug() {
	debug_mount "$T/log" "$M" "lowerdir=$T/l,upperdir=$T/u,workdir=$T/w${1:+,$1}"
}
umount_wait() {
	fusermount3 -u "$M"
	local k
	for ((k = 0; k < 200; k++)); do
		pgrep -f "layerfs -f -o lowerdir=$T/l" >/dev/null || return 0
		sleep 0.05
	done
}
# requests OPCODE: how many requests of that kind the log holds.
requests() { grep -c "opcode: $1 (" "$T/log"; }
# rw_count: READ and WRITE requests since the log was last cut.
rw_count() { echo $(($(requests READ) + $(requests WRITE))); }
cut_log() { : > "$T/log"; }

# --- default (passthrough=all) -----------------------------------------------
fresh_layers
mount_debug || tap_skip_all "layerfs does not mount here"
cut_log
echo "new file" > "$M/new"
cat "$M/new" >/dev/null
head -c 3000000 /dev/urandom > "$T/data"
cp "$T/data" "$M/copy"
check "a file written through the mount holds the data" cmp "$T/data" "$M/copy"
is "$(rw_count)" 0 "files created in the mount are read and written with no READ or WRITE request"
cut_log
check "a lower file reads right" cmp "$T/l/big" "$M/big"
is "$(rw_count)" 0 "a lower file is read with no READ request"
cut_log
cat "$M/d/text" >/dev/null
is "$([ "$(requests READ)" -gt 0 ] && echo daemon)" daemon \
	"a small lower file is read through the daemon and the page cache (a passthrough read would cost a GETATTR at the next stat)"
cut_log
echo "appended" >> "$M/d/text"
is "$(cat "$M/d/text")" "$(printf 'lower text\nappended')" "a small lower file opened for append is copied up, then appended to"
is "$(cat "$T/l/d/text")" "lower text" "the lower file is unchanged"
cut_log
echo "appended" >> "$M/app"
is "$(tail -c 9 "$M/app")" "appended" "a large lower file opened for append is copied up, then appended to"
is "$(rw_count)" 0 "... in passthrough"
is "$(stat -c %s "$T/l/app")" 1048576 "... and the lower file is unchanged"

# A lower file open for reading when it is copied up: as with kernel
# overlayfs, that handle goes on reading the lower file, and handles opened
# after the copy-up see the upper one.  The kernel binds an inode to one
# backing file, so the inode gives its name to a new one (ESTALE, retried
# by the kernel): no caller sees an error.
out=$(python3 - "$M/big" "$T/l/big" <<'PY'
import os, sys
p, lower = sys.argv[1], sys.argv[2]
want = open(lower, "rb").read(16)
r = os.open(p, os.O_RDONLY)
w = os.open(p, os.O_WRONLY)             # copy-up while r is open
os.pwrite(w, b"XYZ", 100)
r2 = os.open(p, os.O_RDONLY)
print("old-handle", os.pread(r, 16, 0) == want)
print("new-handle", os.pread(r2, 3, 100) == b"XYZ")
print("same-ino", os.fstat(r).st_ino == os.stat(p).st_ino)
PY
)
is "$(grep -c True <<<"$out")" 3 "a write open of a lower file held open for reading: the old handle reads the lower data, new handles the upper, one inode number"
is "$(dd if="$M/big" bs=1 skip=100 count=3 status=none)" XYZ "... with the data in place"
out=$(python3 - "$M/d/t2" <<'PY'
import errno, os, sys
p = sys.argv[1]
r = os.open(p, os.O_RDONLY)
os.truncate(p, 5)                       # a copy-up with no open
print(os.pread(r, 11, 0) == b"lower text\n", os.pread(os.open(p, os.O_RDONLY), 20, 0) == b"lower")
try:
    os.open("/proc/self/fd/%d" % r, os.O_RDONLY)
    print("reopen opened")
except OSError as e:
    print("reopen", errno.errorcode[e.errno])
PY
)
is "$(head -n 1 <<<"$out")" "True True" "truncate(2) of a lower file open for reading: the old handle keeps the lower data, a new open gets the upper"
# Kernel overlayfs would open the upper file here; layerfs's old handle is
# bound to the lower file, and says so.
is "$(tail -n 1 <<<"$out")" "reopen ESTALE" "reopening that old handle through /proc/self/fd fails with ESTALE (kernel overlayfs opens the upper file)"

# Two handles of one file at once, then again after both closed: one
# backing file per inode, registered once and released with the last handle.
python3 - "$M/copy" <<'PY' && tap_ok "two handles of one file share its backing file; reopening works" || tap_not_ok "two handles of one file share its backing file; reopening works"
import os, sys
p = sys.argv[1]
a = os.open(p, os.O_RDWR); b = os.open(p, os.O_RDONLY)
os.pwrite(a, b"hello", 0)
assert os.pread(b, 5, 0) == b"hello"
os.close(a)
assert os.pread(b, 5, 0) == b"hello"
os.close(b)
for _ in range(200):
    c = os.open(p, os.O_RDWR)
    os.pwrite(c, b"again", 0)
    os.close(c)
c = os.open(p, os.O_RDONLY)
assert os.pread(c, 5, 0) == b"again"
os.close(c)
PY
# Shared writable mappings go to the upper file too.
python3 - "$M/copy" <<'PY' && tap_ok "a shared mapping writes the file" || tap_not_ok "a shared mapping writes the file"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:6] = b"mapped"
m.flush(); m.close(); os.close(fd)
PY
umount_wait
is "$(head -c 6 "$T/u/copy")" mapped "... and the data is in the upper after unmount"
is "$(head -c 11 "$T/u/copy" | tail -c 5)" "$(head -c 11 "$T/data" | tail -c 5)" "... around the data written before"

# --- passthrough=upper -------------------------------------------------------
fresh_layers
mount_debug passthrough=upper || tap_not_ok "mount with passthrough=upper"
cut_log
cat "$M/d/text" >/dev/null
is "$([ "$(requests READ)" -gt 0 ] && echo reads)" reads "passthrough=upper: a lower file is read through the daemon"
exec 7<"$M/big"
cut_log
printf 'XYZ' | dd of="$M/big" bs=1 seek=100 conv=notrunc status=none
st=$?
exec 7<&-
is "$st" 0 "passthrough=upper: a write open of a lower file held open for reading succeeds"
is "$([ "$(requests WRITE)" -gt 0 ] && echo daemon)" daemon "... and is written through the daemon (the inode is open through the page cache)"
is "$(dd if="$M/big" bs=1 skip=100 count=3 status=none)" XYZ "... with the data in place"
cut_log
echo "new file" > "$M/new"
cat "$M/new" >/dev/null
is "$(rw_count)" 0 "passthrough=upper: a new file is read and written in passthrough"
umount_wait

# --- passthrough=off ---------------------------------------------------------
fresh_layers
mount_debug passthrough=off || tap_not_ok "mount with passthrough=off"
cut_log
echo "new file" > "$M/new"
cat "$M/new" >/dev/null
is "$([ "$(requests READ)" -gt 0 ] && [ "$(requests WRITE)" -gt 0 ] && echo daemon)" daemon \
	"passthrough=off: every read and write goes to the daemon"
umount_wait

# --- copy-up across filesystems ----------------------------------------------
# Lower on the root filesystem, upper on a tmpfs: copy_file_range cannot
# cross them, so the data goes by sendfile (in-kernel), holes kept.
mkdir -p "$T/x/l" "$T/x/t"
if mount -t tmpfs -o size=64m tmpfs "$T/x/t"; then
	mkdir -p "$T/x/t/u" "$T/x/t/w"
	head -c 3000000 /dev/urandom > "$T/x/l/sparse"
	truncate -s 40000000 "$T/x/l/sparse"
	printf tail >> "$T/x/l/sparse"
	"$LAYERFS" -o "lowerdir=$T/x/l,upperdir=$T/x/t/u,workdir=$T/x/t/w" "$M" &&
		printf 'Z' | dd of="$M/sparse" bs=1 seek=5 conv=notrunc status=none
	unmount_quiet "$M"
	cmp -s <(head -c 5 "$T/x/l/sparse"; printf Z; tail -c +7 "$T/x/l/sparse") "$T/x/t/u/sparse"
	is "$?" 0 "copy-up from another filesystem copies the data"
	is "$([ "$(du -k "$T/x/t/u/sparse" | cut -f1)" -lt 8000 ] && echo sparse)" sparse "... and keeps its holes"
	umount "$T/x/t"
else
	tap_skip "copy-up from another filesystem" "cannot mount a tmpfs"
	tap_skip "... and keeps its holes" "cannot mount a tmpfs"
fi

# --- bad values ----------------------------------------------------------------
out=$("$LAYERFS" -o "lowerdir=$T/l,passthrough=sometimes" "$M" 2>&1)
is "$?/$(grep -c "passthrough" <<<"$out")" "2/1" "an unknown passthrough mode is refused, naming the option"
tap_done
