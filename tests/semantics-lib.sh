# Union-filesystem semantics checks, one function per property, each taking
# the kind of filesystem to check, so that tests/semantics.t (layerfs) and
# bench/compare-semantics.sh (layerfs and its peers) run the very same code.
#
# Kinds:  layerfs         $LAYERFS
#         fuse-overlayfs  fuse-overlayfs
#         overlay         kernel overlayfs, default options
#         overlay-full    kernel overlayfs, index=on,redirect_dir=on,metacopy=on
#
# A property function  sem_prop_NAME KIND DIR  builds its layers in the empty
# directory DIR, mounts, checks, unmounts, and returns 0 when the property
# holds, 1 when not (the reason on stdout) and 77 when it does not apply to
# KIND (the reason as the last line of stdout).
# Needs root (kernel mounts, tmpfs), python3, fusermount3.
# Source after tests/lib.sh.

SEM_PROBE="$TESTS_DIR/fsprobe.py"
SEM_SKIP=77
SEM_KINDS=(layerfs fuse-overlayfs overlay overlay-full)
SEM_BIG_MIB=${SEM_BIG_MIB:-1024}   # size of the large lower file

# name|description, in the order they are run and reported.
SEM_PROPS=(
	"hardlink_copyup|hard links stay linked after copy-up and remount"
	"hardlink_renamed_dir|hard links stay linked when a lower directory holding one name is renamed"
	"inode_unique|st_ino unique with two lower layers on two tmpfs mounts"
	"inode_stable|st_ino kept across copy-up and remount"
	"readdir_dino|readdir d_ino equals stat st_ino (lower, upper, copied-up)"
	"readdir_churn|reading a merged directory while it changes: untouched names exactly once"
	"rename_lower_dir|renaming a lower directory works and survives remount"
	"otrunc_no_copy|open(O_TRUNC) and truncate(2) to 0 of a $SEM_BIG_MIB MiB lower file copy no data"
	"metadata_only_copyup|chmod/chown/utimens/setxattr of a $SEM_BIG_MIB MiB lower file copy no data; first write does"
	"concurrent_first_write|concurrent first writes to a lower file: one copy-up, no write lost"
	"crash_safe_copyup|SIGKILL during copy-up: never torn, work leftovers cleaned at remount"
	"mkdir_rmdir_clean|mkdir x; rmdir x leaves nothing in the upper"
	"posix_acl|POSIX ACLs: enforced, inherited from a lower default ACL, kept across remount"
)

declare -A SEM_MOUNT_ARGS=()   # mountpoint -> "kind|lowers|upper|work"
SEM_DAEMON_PID=                # pid of the last daemon started with sem_mount_fg

sem_kind_available() { # KIND: prints why not, returns 1 when KIND cannot run here
	case $1 in
	layerfs) [ -x "$LAYERFS" ] || { echo "$LAYERFS is not built"; return 1; } ;;
	fuse-overlayfs) command -v fuse-overlayfs >/dev/null || { echo "fuse-overlayfs is not installed"; return 1; } ;;
	overlay | overlay-full)
		[ "$(id -u)" -eq 0 ] || { echo "kernel overlayfs needs root"; return 1; }
		grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
			{ echo "kernel has no overlayfs"; return 1; } ;;
	*) echo "unknown kind '$1'"; return 1 ;;
	esac
}

_sem_opts() { # LOWERS UPPER WORK
	local o="lowerdir=$1"
	[ -n "$2" ] && o+=",upperdir=$2,workdir=$3"
	printf '%s' "$o"
}

# Kernel overlayfs marks upper and work "in use" until the old superblock is
# gone, which may lag behind umount(2) a little: retry for a few seconds.
_sem_kernel_mount() {
	local i
	for ((i = 0; i < 20; i++)); do
		mount -t overlay overlay -o "$1" "$2" 2>/dev/null && return 0
		sleep 0.25
	done
	mount -t overlay overlay -o "$1" "$2"
}

# sem_mount KIND MNT LOWERS [UPPER WORK]: mount and remember how.
sem_mount() {
	local kind=$1 mnt=$2 lowers=$3 upper=${4:-} work=${5:-} opts
	opts=$(_sem_opts "$lowers" "$upper" "$work")
	mkdir -p "$mnt"
	case $kind in
	layerfs) "$LAYERFS" -o "$opts" "$mnt" ;;
	fuse-overlayfs) fuse-overlayfs -o "$opts" "$mnt" 2>/dev/null ;;
	overlay) _sem_kernel_mount "$opts" "$mnt" ;;
	overlay-full) _sem_kernel_mount "$opts,index=on,redirect_dir=on,metacopy=on" "$mnt" ;;
	esac || { echo "mount of $kind on $mnt failed (-o $opts)"; return 1; }
	SEM_MOUNT_ARGS[$mnt]="$kind|$lowers|$upper|$work"
}

# sem_mount_fg KIND MNT LOWERS UPPER WORK: a FUSE daemon in the foreground,
# in the background of this shell; its pid in SEM_DAEMON_PID.
sem_mount_fg() {
	local kind=$1 mnt=$2 opts i
	opts=$(_sem_opts "$3" "${4:-}" "${5:-}")
	mkdir -p "$mnt"
	case $kind in
	layerfs) "$LAYERFS" -f -o "$opts" "$mnt" </dev/null >/dev/null 2>&1 & ;;
	fuse-overlayfs) fuse-overlayfs -f -o "$opts" "$mnt" </dev/null >/dev/null 2>&1 & ;;
	*) echo "$kind has no daemon"; return 1 ;;
	esac
	SEM_DAEMON_PID=$!
	for ((i = 0; i < 200; i++)); do
		sem_mounted "$mnt" && { SEM_MOUNT_ARGS[$mnt]="$kind|$3|${4:-}|${5:-}"; return 0; }
		kill -0 "$SEM_DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "foreground mount of $kind on $mnt did not come up"
	return 1
}

# Whether MNT is mounted, from the mount table (a stat could hang on a
# daemon that stopped answering).
sem_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# The pid of the FUSE daemon serving MNT (none for kernel mounts).
_sem_daemon_pid() { pgrep -f -x ".*-o [^ ]* $1" | head -1; }

# sem_umount MNT: unmount and wait for a FUSE daemon to exit.
sem_umount() {
	local mnt=$1 pid i
	sem_mounted "$mnt" || return 0
	pid=$(_sem_daemon_pid "$mnt")
	timeout 20 fusermount3 -u "$mnt" 2>/dev/null || timeout 20 umount "$mnt" 2>/dev/null ||
		{ echo "cannot unmount $mnt"; return 1; }
	for ((i = 0; i < 100 && ${#pid} > 0; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
}

# sem_remount MNT: unmount and mount again with the same layers.
sem_remount() {
	local kind lowers upper work
	IFS='|' read -r kind lowers upper work <<<"${SEM_MOUNT_ARGS[$1]}"
	sem_umount "$1" && sem_mount "$kind" "$1" "$lowers" "$upper" "$work"
}

# sem_cleanup ROOT: unmount everything below ROOT (deepest first), remove it.
sem_cleanup() {
	local root=$1 m
	[ -d "$root" ] || return 0
	for m in $(awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		timeout 20 fusermount3 -u "$m" 2>/dev/null || timeout 20 umount "$m" 2>/dev/null ||
			umount -l "$m" 2>/dev/null
	done
	rm -rf "$root"
}

# Assertions: print the reason and return 1.
sem_eq() { # GOT WANT WHAT
	[ "$1" == "$2" ] && return 0
	echo "$3: got '$1', want '$2'"
	return 1
}
sem_run() { # WHAT COMMAND...: the command must succeed
	local what=$1 out
	shift
	out=$("$@" 2>&1) && return 0
	echo "$what failed: $(tail -n 1 <<<"$out")"
	return 1
}
_stat() { stat -c "$1" -- "$2" 2>&1; }
_blocks_kib() { echo $(($(stat -c %b -- "$1") * $(stat -c %B -- "$1") / 1024)); }

# A standard layout: DIR/{lower,upper,work,mnt}; lower filled by the caller.
_sem_layout() { mkdir -p "$1"/lower "$1"/upper "$1"/work "$1"/mnt; }

# A lower layer holding one big non-sparse file "big", made once per run and
# shared read-only by the checks (lowers never change).
sem_big_lower() {
	local l=${SEM_CACHE:?SEM_CACHE must name a cache directory}/big-lower-$SEM_BIG_MIB
	if [ ! -f "$l/big" ]; then
		mkdir -p "$l"
		python3 "$SEM_PROBE" pattern "$l/big.tmp" "$SEM_BIG_MIB" && mv "$l/big.tmp" "$l/big"
	fi
	printf '%s' "$l"
}

# Mount a tmpfs of SIZE on DIR (for an upper/work that cannot hold a copy).
_sem_tmpfs() { mkdir -p "$2" && mount -t tmpfs -o "size=$1" tmpfs "$2"; }

# ---------------------------------------------------------------------------
# Properties

sem_prop_hardlink_copyup() {
	local kind=$1 d=$2 m=$2/mnt
	_sem_layout "$d"
	echo base >"$d/lower/a"
	ln "$d/lower/a" "$d/lower/b"
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	sem_eq "$(_stat %i "$m/a")" "$(_stat %i "$m/b")" "st_ino of a and b before copy-up" || return 1
	echo one >>"$m/a"
	sem_eq "$(cat "$m/b")" "$(printf 'base\none')" "b after writing a" || return 1
	sem_eq "$(_stat %h "$m/b")" 2 "st_nlink of b after copy-up" || return 1
	sem_eq "$(_stat %i "$m/a")" "$(_stat %i "$m/b")" "st_ino of a and b after copy-up" || return 1
	sem_remount "$m" || return 1
	sem_eq "$(cat "$m/b")" "$(printf 'base\none')" "b after remount" || return 1
	echo two >>"$m/b"
	sem_eq "$(cat "$m/a")" "$(printf 'base\none\ntwo')" "a after writing b after remount" || return 1
	sem_eq "$(_stat %h:%i "$m/a")" "$(_stat %h:%i "$m/b")" "st_nlink:st_ino of a and b after remount" || return 1
	sem_eq "$(_stat %h "$m/a")" 2 "st_nlink of a after remount" || return 1
	sem_umount "$m"
}

sem_prop_hardlink_renamed_dir() {
	local kind=$1 d=$2 m=$2/mnt out
	_sem_layout "$d"
	mkdir -p "$d/lower/dir" "$d/lower/e/f"
	echo base >"$d/lower/dir/a"
	ln "$d/lower/dir/a" "$d/lower/b"
	ln "$d/lower/dir/a" "$d/lower/e/f/c"
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	local from to from_to
	for from_to in dir:moved e:e2 e2/f:f3; do
		from=${from_to%:*} to=${from_to#*:}
		out=$(python3 -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' "$m/$from" "$m/$to" 2>&1) ||
			{ echo "rename(2) $from -> $to: $(tail -n 1 <<<"$out")"; return 1; }
	done
	echo one >>"$m/b"
	local want
	want=$(printf 'base\none')
	sem_eq "$(cat "$m/moved/a")" "$want" "moved/a after writing b" || return 1
	sem_eq "$(cat "$m/f3/c")" "$want" "f3/c after writing b" || return 1
	sem_eq "$(_stat %h:%i "$m/moved/a") $(_stat %h:%i "$m/f3/c")" "$(_stat %h:%i "$m/b") $(_stat %h:%i "$m/b")" \
		"st_nlink:st_ino of moved/a, f3/c and b" || return 1
	sem_eq "$(_stat %h "$m/b")" 3 "st_nlink of b" || return 1
	sem_remount "$m" || return 1
	sem_eq "$(cat "$m/b")" "$want" "b after remount" || return 1
	sem_eq "$(cat "$m/moved/a")" "$want" "moved/a after remount" || return 1
	sem_eq "$(cat "$m/f3/c")" "$want" "f3/c after remount" || return 1
	rm "$m/moved/a"
	sem_eq "$(_stat %h "$m/b") $(_stat %h "$m/f3/c")" "2 2" "st_nlink of b and f3/c after removing moved/a" || return 1
	echo two >>"$m/f3/c"
	sem_eq "$(cat "$m/b")" "$(printf 'base\none\ntwo')" "b after writing f3/c" || return 1
	sem_umount "$m"
}

sem_prop_inode_unique() {
	local kind=$1 d=$2 m=$2/mnt out
	mkdir -p "$d/l1" "$d/l2" "$d/upper" "$d/work" "$d/mnt"
	_sem_tmpfs 16m "$d/l1" && _sem_tmpfs 16m "$d/l2" || { echo "cannot mount tmpfs"; return 1; }
	# Fresh tmpfs mounts number their files alike: the same shapes collide.
	local l
	for l in l1 l2; do
		mkdir "$d/$l/dir" "$d/$l/only-$l"
		echo "$l" >"$d/$l/f-$l"
		echo "$l" >"$d/$l/dir/g-$l"
		echo "$l" >"$d/$l/only-$l/h"
	done
	sem_mount "$kind" "$m" "$d/l1:$d/l2" "$d/upper" "$d/work" || return 1
	echo new >"$m/created"
	out=$(python3 "$SEM_PROBE" inodes "$m") || { echo "$out" | grep -v '^[0-9]'; return 1; }
	echo up >>"$m/only-l2/h"     # copy-ups from both layers
	echo up >>"$m/dir/g-l1"
	sem_remount "$m" || return 1
	out=$(python3 "$SEM_PROBE" inodes "$m") || { echo "after copy-up and remount:"; echo "$out" | grep -v '^[0-9]'; return 1; }
	sem_umount "$m"
}

sem_prop_inode_stable() {
	local kind=$1 d=$2 m=$2/mnt before after n
	_sem_layout "$d"
	mkdir -p "$d/lower/dir/sub"
	echo f >"$d/lower/dir/file"
	echo g >"$d/lower/dir/sub/other"
	ln -s file "$d/lower/dir/link"
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	local names=(dir dir/file dir/sub dir/sub/other)
	before=$(for n in "${names[@]}"; do _stat %i "$m/$n"; done)
	echo more >>"$m/dir/file"                  # copy-up of a file and its parent
	touch "$m/dir/sub/new"                     # copy-up of a directory
	after=$(for n in "${names[@]}"; do _stat %i "$m/$n"; done)
	sem_eq "$(echo $after)" "$(echo $before)" "st_ino of ${names[*]} after copy-up" || return 1
	sem_remount "$m" || return 1
	after=$(for n in "${names[@]}"; do _stat %i "$m/$n"; done)
	sem_eq "$(echo $after)" "$(echo $before)" "st_ino of ${names[*]} after remount" || return 1
	sem_umount "$m"
}

sem_prop_readdir_dino() {
	local kind=$1 d=$2 m=$2/mnt
	_sem_layout "$d"
	mkdir -p "$d/lower/dir/sub" "$d/lower/keep"
	echo a >"$d/lower/dir/a"
	echo b >"$d/lower/keep/b"
	ln -s a "$d/lower/dir/sym"
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	echo up >>"$m/dir/a"      # copied up
	mkdir "$m/newdir"         # upper only
	echo n >"$m/newdir/n"
	sem_run "scandir" python3 "$SEM_PROBE" dino "$m" || return 1
	sem_remount "$m" || return 1
	sem_run "scandir after remount" python3 "$SEM_PROBE" dino "$m" || return 1
	sem_umount "$m"
}

sem_prop_readdir_churn() {
	local kind=$1 d=$2 m=$2/mnt out i
	_sem_layout "$d"
	mkdir -p "$d/lower/dir" "$d/upper/dir"
	# Long names: a getdents(2) buffer holds few, so the reader comes
	# back to the filesystem between changes.
	for i in $(seq 1000 1799); do
		: >"$d/lower/dir/lower-$i-$(printf '%0100d' 0)"
	done
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	for i in $(seq 1000 1199); do
		: >"$m/dir/upper-$i-$(printf '%0100d' 0)"
	done
	out=$(python3 "$SEM_PROBE" churn "$m/dir") || { echo "$out"; return 1; }
	sem_remount "$m" || return 1
	out=$(python3 "$SEM_PROBE" churn "$m/dir") || { echo "after remount: $out"; return 1; }
	sem_umount "$m"
}

sem_prop_rename_lower_dir() {
	local kind=$1 d=$2 m=$2/mnt out
	_sem_layout "$d"
	mkdir -p "$d/lower/old/sub"
	echo x >"$d/lower/old/x"
	echo y >"$d/lower/old/sub/y"
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	local ino
	ino=$(_stat %i "$m/old")
	out=$(python3 -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' "$m/old" "$m/new" 2>&1) ||
		{ echo "rename(2) old -> new: $(tail -n 1 <<<"$out")"; return 1; }
	sem_eq "$(cat "$m/new/x" "$m/new/sub/y" 2>&1 | tr '\n' ' ')" "x y " "contents of new/" || return 1
	[ ! -e "$m/old" ] || { echo "old still exists after rename"; return 1; }
	out=$(python3 -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' "$m/new" "$m/again" 2>&1) ||
		{ echo "rename(2) of the renamed directory: $(tail -n 1 <<<"$out")"; return 1; }
	sem_remount "$m" || return 1
	sem_eq "$(cat "$m/again/x" "$m/again/sub/y" 2>&1 | tr '\n' ' ')" "x y " "contents of again/ after remount" || return 1
	[ ! -e "$m/old" ] && [ ! -e "$m/new" ] || { echo "old or new reappeared after remount"; return 1; }
	sem_eq "$(ls "$m" | tr '\n' ' ')" "again " "root listing after remount" || return 1
	sem_eq "$(_stat %i "$m/again")" "$ino" "st_ino of the renamed directory after remount" || return 1
	# a fresh directory of the old name is empty, not the lower one again
	mkdir "$m/old" && sem_eq "$(ls -A "$m/old")" "" "new directory at the old name" || return 1
	sem_umount "$m"
}

sem_prop_otrunc_no_copy() {
	local kind=$1 d=$2 m=$2/mnt
	local lower
	lower=$(sem_big_lower)
	mkdir -p "$d/mnt"
	# upper and work on a tmpfs far smaller than the file: no room for a copy.
	_sem_tmpfs 64m "$d/rw" || { echo "cannot mount tmpfs"; return 1; }
	mkdir "$d/rw/upper" "$d/rw/work"
	sem_mount "$kind" "$m" "$lower" "$d/rw/upper" "$d/rw/work" || return 1
	sem_run "open(O_TRUNC) and write" python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"new\n"); os.close(fd)' "$m/big" || return 1
	sem_eq "$(cat "$m/big")" new "content after O_TRUNC" || return 1
	local kib
	kib=$(_blocks_kib "$d/rw/upper/big")
	[ "$kib" -le 1024 ] || { echo "upper file holds $kib KiB"; return 1; }
	sem_remount "$m" || return 1
	sem_eq "$(cat "$m/big")" new "content after remount" || return 1
	sem_umount "$m" || return 1
	# truncate(2) to zero, by path, on a fresh upper
	mkdir "$d/rw/upper2" "$d/rw/work2"
	sem_mount "$kind" "$m" "$lower" "$d/rw/upper2" "$d/rw/work2" || return 1
	sem_run "truncate(2) to 0" python3 -c 'import os, sys; os.truncate(sys.argv[1], 0)' "$m/big" || return 1
	sem_eq "$(_stat %s "$m/big")" 0 "size after truncate(2)" || return 1
	kib=$(_blocks_kib "$d/rw/upper2/big")
	[ "$kib" -le 1024 ] || { echo "upper file holds $kib KiB after truncate(2)"; return 1; }
	sem_umount "$m"
}

sem_prop_metadata_only_copyup() {
	local kind=$1 d=$2 m=$2/mnt kib out
	local lower
	lower=$(sem_big_lower)
	mkdir -p "$d/mnt"
	_sem_tmpfs $((SEM_BIG_MIB + 64))m "$d/rw" || { echo "cannot mount tmpfs"; return 1; }
	mkdir "$d/rw/upper" "$d/rw/work"
	sem_mount "$kind" "$m" "$lower" "$d/rw/upper" "$d/rw/work" || return 1
	sem_run chmod chmod 0600 "$m/big" &&
		sem_run chown chown 1234:4321 "$m/big" &&
		sem_run utimensat python3 -c 'import os, sys; os.utime(sys.argv[1], (981173106, 981173106))' "$m/big" &&
		sem_run setxattr setfattr -n user.tag -v hello "$m/big" || return 1
	[ -e "$d/rw/upper/big" ] || { echo "no upper file after chmod/chown/utimens/setxattr"; return 1; }
	kib=$(_blocks_kib "$d/rw/upper/big")
	[ "$kib" -le 1024 ] || { echo "metadata change copied data: upper file holds $kib KiB"; return 1; }
	local want="600 1234 4321 981173106 hello"
	_meta() { echo "$(_stat '%a %u %g %Y' "$m/big") $(getfattr --absolute-names --only-values -n user.tag "$m/big" 2>&1)"; }
	sem_eq "$(_meta)" "$want" "mode uid gid mtime user.tag" || return 1
	sem_run "reading the lower data through the metadata copy" \
		python3 "$SEM_PROBE" expect "$m/big" "$lower/big" || return 1
	sem_remount "$m" || return 1
	sem_eq "$(_meta)" "$want" "mode uid gid mtime user.tag after remount" || return 1
	kib=$(_blocks_kib "$d/rw/upper/big")
	[ "$kib" -le 1024 ] || { echo "remount copied data: upper file holds $kib KiB"; return 1; }
	sem_run "first data write" python3 "$SEM_PROBE" write-at "$m/big" 4096 10 W || return 1
	sem_run "data after the first write" \
		python3 "$SEM_PROBE" expect "$m/big" "$lower/big" 4096 10 W || return 1
	sem_eq "$(_meta | cut -d' ' -f1-3,5)" "600 1234 4321 hello" "mode uid gid user.tag after the first write" || return 1
	sem_remount "$m" || return 1
	sem_run "data after the first write and remount" \
		python3 "$SEM_PROBE" expect "$m/big" "$lower/big" 4096 10 W || return 1
	sem_umount "$m"
}

sem_prop_concurrent_first_write() {
	local kind=$1 d=$2 m=$2/mnt i out
	_sem_layout "$d"
	for i in 1 2 3 4 5; do
		head -c $((32 << 20)) /dev/zero | tr '\0' L >"$d/lower/f$i"
	done
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	for i in 1 2 3 4 5; do
		out=$(python3 "$SEM_PROBE" concurrent "$m/f$i" 8 4096) || { echo "f$i: $out"; return 1; }
	done
	sem_remount "$m" || return 1
	for i in 1 2 3 4 5; do
		out=$(python3 -c '
import sys
f = open(sys.argv[1], "rb"); step = (32 << 20) // 8
for i in range(8):
    f.seek(i * step)
    if f.read(4096) != bytes([0x41 + i]) * 4096: sys.exit("region %d lost after remount" % i)
' "$m/f$i" 2>&1) || { echo "f$i: $out"; return 1; }
	done
	sem_eq "$(ls "$d/upper" | tr '\n' ' ')" "f1 f2 f3 f4 f5 " "upper files" || return 1
	sem_umount "$m" || return 1
	# a large file: the others open it while the first copy-up runs
	local lower
	lower=$(sem_big_lower)
	mkdir "$d/upper2" "$d/work2"
	sem_mount "$kind" "$m" "$lower" "$d/upper2" "$d/work2" || return 1
	out=$(python3 "$SEM_PROBE" concurrent "$m/big" 8 4096) || { echo "big: $out"; return 1; }
	sem_umount "$m"
}

# Everything left in the work directory, for the crash check.
_sem_work_leftovers() { find "$1" -mindepth 1 \( -type f -o -type c \) 2>/dev/null; }

sem_prop_crash_safe_copyup() {
	local kind=$1 d=$2 m=$2/mnt size pid i w out caught=
	case $kind in layerfs | fuse-overlayfs) ;; *) echo "no daemon to kill"; return $SEM_SKIP ;; esac
	local lower
	lower=$(sem_big_lower)
	mkdir -p "$d/upper" "$d/work" "$m"
	size=$(stat -c %s "$lower/big")
	sem_mount_fg "$kind" "$m" "$lower" "$d/upper" "$d/work" || return 1
	pid=$SEM_DAEMON_PID
	python3 "$SEM_PROBE" write-at "$m/big" 0 4096 N >/dev/null 2>&1 &
	w=$!
	# Kill the daemon as soon as a partial copy shows in the work directory.
	for ((i = 0; i < 20000; i++)); do
		if [ -n "$(find "$d/work" "$d/upper" -type f -size +1M ! -size +$((size / 1024 - 1))k 2>/dev/null)" ]; then
			kill -9 "$pid"; caught=1; break
		fi
		kill -0 "$w" 2>/dev/null || break
	done
	[ -n "$caught" ] || kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	wait "$w" 2>/dev/null
	fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	[ -n "$caught" ] || { echo "the copy-up finished before it could be interrupted"; return $SEM_SKIP; }
	sem_mount "$kind" "$m" "$lower" "$d/upper" "$d/work" || return 1
	if ! python3 "$SEM_PROBE" expect "$m/big" "$lower/big" >/dev/null; then
		out=$(python3 "$SEM_PROBE" expect "$m/big" "$lower/big" 0 4096 N) ||
			{ echo "torn file after the crash: neither the lower nor the new version: $out"; return 1; }
	fi
	local left
	left=$(_sem_work_leftovers "$d/work")
	[ -z "$left" ] || { echo "work leftovers after remount:" $left; return 1; }
	sem_umount "$m"
}

sem_prop_mkdir_rmdir_clean() {
	local kind=$1 d=$2 m=$2/mnt left
	_sem_layout "$d"
	mkdir -p "$d/lower/dir"
	echo keep >"$d/lower/dir/keep"
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	sem_run "mkdir x; rmdir x" sh -c "mkdir '$m/x' && rmdir '$m/x'" || return 1
	sem_run "mkdir dir/y; rmdir dir/y" sh -c "mkdir '$m/dir/y' && rmdir '$m/dir/y'" || return 1
	sem_run "touch z; rm z" sh -c "touch '$m/z' && rm '$m/z'" || return 1
	left=$(cd "$d/upper" && find . -mindepth 1 ! -path ./dir | sort | tr '\n' ' ')
	sem_eq "$left" "" "upper entries besides dir" || return 1
	sem_remount "$m" || return 1
	sem_eq "$(ls -A "$m" | tr '\n' ' ')" "dir " "merged root after remount" || return 1
	sem_umount "$m"
}

sem_prop_posix_acl() {
	local kind=$1 d=$2 m=$2/mnt out
	_sem_layout "$d"
	mkdir -p "$d/lower/shared"
	echo secret >"$d/lower/file"
	out=$(python3 "$SEM_PROBE" acl-default "$d/lower/shared" 2>&1) ||
		{ echo "no ACLs on the lower filesystem: $out"; return "$SEM_SKIP"; }
	sem_mount "$kind" "$m" "$d/lower" "$d/upper" "$d/work" || return 1
	out=$(python3 "$SEM_PROBE" acl-enforce "$m/file" 65534 2>&1)
	sem_eq "$out" "denied open denied" "opening a 0600 file as nobody: no ACL, ACL granting read, ACL removed" || return 1
	(umask 022 && echo new >"$m/shared/new" && mkdir "$m/shared/sub") || { echo "creating under shared/ failed"; return 1; }
	out=$(getfattr --absolute-names -d -m system.posix_acl -e hex "$m/shared/new" "$m/shared/sub" 2>&1 | grep -c '^system.posix_acl')
	sem_eq "$out" 3 "ACLs inherited by shared/new (access) and shared/sub (access, default)" || return 1
	sem_eq "$(_stat %a "$m/shared/new")" 640 "mode of shared/new (default ACL, mask r-x)" || return 1
	sem_remount "$m" || return 1
	out=$(getfattr --absolute-names -d -m system.posix_acl -e hex "$m/shared/new" "$m/shared/sub" 2>&1 | grep -c '^system.posix_acl')
	sem_eq "$out" 3 "ACLs after remount" || return 1
	sem_umount "$m"
}

# Not a peer comparison: the store's contract with layerfs (docs/STORE.md).
# Files of two layer trees joined by `layerctl dedupe` share one inode
# marked user.layerfs.dedupe; a mount shows them as separate files.
sem_prop_dedupe_shared() {
	local kind=$1 d=$2 m=$2/mnt
	mkdir -p "$d/l1/dir" "$d/l2/dir" "$d/l3" "$d/upper" "$d/work" "$d/mnt"
	echo same >"$d/l1/dir/a"
	setfattr -n user.layerfs.dedupe -v 1 "$d/l1/dir/a" || { echo "no user xattrs here"; return "$SEM_SKIP"; }
	ln "$d/l1/dir/a" "$d/l2/dir/b"
	ln "$d/l1/dir/a" "$d/l3/c"   # one name per tree, as dedupe makes them
	sem_mount "$kind" "$m" "$d/l3:$d/l2:$d/l1" "$d/upper" "$d/work" || return 1
	sem_eq "$(_stat %h "$m/dir/a") $(_stat %h "$m/dir/b") $(_stat %h "$m/c")" "1 1 1" "st_nlink of a, b, c" || return 1
	local ia ib ic
	ia=$(_stat %i "$m/dir/a") ib=$(_stat %i "$m/dir/b") ic=$(_stat %i "$m/c")
	[ "$ia" != "$ib" ] && [ "$ib" != "$ic" ] || { echo "st_ino shared: a=$ia b=$ib c=$ic"; return 1; }
	sem_eq "$(getfattr -d -m - --absolute-names "$m/dir/a" 2>&1 | grep -c layerfs)" 0 "layerfs xattrs visible" || return 1
	echo new >>"$m/dir/b"
	sem_eq "$(cat "$m/dir/a") $(cat "$m/c") $(cat "$d/l1/dir/a")" "same same same" "a, c and the layer after writing b" || return 1
	sem_eq "$(cat "$m/dir/b" | tr '\n' ' ')" "same new " "b after writing it" || return 1
	sem_eq "$(_stat %h "$d/l1/dir/a")" 3 "links of the shared layer inode" || return 1
	sem_eq "$(_stat %h:%i "$m/dir/b")" "1:$ib" "st_nlink:st_ino of b after copy-up" || return 1
	sem_remount "$m" || return 1
	sem_eq "$(_stat %h:%i "$m/dir/b") $(_stat %h "$m/dir/a")" "1:$ib 1" "b and a after remount" || return 1
	sem_umount "$m"
}

# sem_run_prop NAME KIND ROOT: run one property in a fresh ROOT/KIND-NAME
# directory; prints the reason, returns 0, 1 or $SEM_SKIP; cleans up.
sem_run_prop() {
	local name=$1 kind=$2 d=$3/$2-$1 rc
	sem_cleanup "$d"
	mkdir -p "$d"
	"sem_prop_$name" "$kind" "$d"
	rc=$?
	sem_cleanup "$d"
	return $rc
}
