#!/bin/bash
# layerfs run by an unprivileged user inside a user namespace: mounting,
# copy-up and whiteouts, an image whose owners, modes and device nodes live
# in user.containers.override_stat, ownership the namespace cannot hold,
# the fuse-overlayfs options podman passes, the receiver polling during a
# burst of requests without the root-only CPU latency device, and the
# union semantics of semantics-lib.sh as the user.  Where fuse-overlayfs
# is installed, each option check runs against it too and its answer is
# shown.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/testuser-lib.sh"
SEM_BIG_MIB=256 # as the user: a smaller large file, for time
. "$TESTS_DIR/semantics-lib.sh"

need_root
need_cmd useradd userdel runuser unshare setfattr getfattr python3 fusermount3 pgrep timeout
[ -x "$LAYERFS" ] || tap_skip_all "$LAYERFS is not built"

W=$(mktemp -d /tmp/layerfs-rootless.XXXXXX)
cleanup() { testuser_cleanup >/dev/null; rm -rf "$W"; }
trap cleanup EXIT
chmod 0755 "$W"

testuser_setup layerfs-rootless || tap_skip_all "$TU_ERR"
testuser_dev_fuse || tap_skip_all "$TU_ERR"
probe=$(as_testuser unshare -Urm true 2>&1) ||
	tap_skip_all "unprivileged user namespaces are refused: $probe"

# The binaries and helpers, where the user can reach them.
mkdir -p "$W/bin" "$W/run"
cp "$LAYERFS" "$W/bin/layerfs"
cp "$TESTS_DIR/rootless-inner.sh" "$TESTS_DIR/fsprobe.py" "$TESTS_DIR/lib.sh" \
	"$TESTS_DIR/semantics-lib.sh" "$W/bin/"
chown "$TU_NAME:" "$W/run"

# The image: every file belongs to the user on disk; what it should show
# is in user.containers.override_stat.
img=$W/img
mkdir -p "$img"/{etc,home/alice,usr/bin,dev,run,plain/d/a,plain/d/b}
echo image >"$img/etc/hostname"
echo hello >"$img/etc/motd"
echo secret >"$img/etc/shadow"
echo notes >"$img/home/alice/notes"
echo su >"$img/usr/bin/su"
: >"$img/dev/null"
: >"$img/dev/sda"
: >"$img/run/fifo"
: >"$img/run/sock"
echo plain >"$img/plain/file"
chown -R "$TU_NAME:" "$img"
override() { setfattr -n user.containers.override_stat -v "$2" "$img/$1"; }
override etc/shadow 0:42:0640:file
override home/alice 1000:1000:0700:dir
override home/alice/notes 1000:1000:0600:file
override usr/bin/su 0:0:4755:file
override dev/null 0:0:0666:char-1-3
override dev/sda 0:6:0660:block-8-0
override run/fifo 0:0:0600:pipe
override run/sock 0:0:0755:socket
if [ -n "$TU_SUBUID" ]; then # on disk: id 1000 of the user's namespace
	echo owned >"$img/plain/owned-1000"
	chown "$((TU_SUBUID + 999)):$((TU_SUBGID + 999))" "$img/plain/owned-1000"
fi

# Namespaces: "root" maps the user to root alone (unshare -Urm); "auto"
# adds the user's /etc/subuid range as ids 1..65535 (newuidmap).
auto_ok=
if [ -n "$TU_SUBUID" ] && command -v newuidmap >/dev/null &&
	as_testuser unshare --map-root-user --map-auto -m true >/dev/null 2>&1; then
	auto_ok=1
fi

# inns NSMODE FS SCRIPT [EXTRA]: run SCRIPT as the user in a fresh
# namespace, with the helpers of rootless-inner.sh, against FS; EXTRA
# options are added to every rl_mount.
inns() {
	local flags fsbin
	case $1 in
	root) flags=(-Urm) ;;
	auto) flags=(--map-root-user --map-auto -m) ;;
	esac
	case $2 in
	layerfs) fsbin=$W/bin/layerfs ;;
	fuse-overlayfs) fsbin=$(command -v fuse-overlayfs) || { echo "fuse-overlayfs is not installed"; return 2; } ;;
	esac
	as_testuser env W="$W" FS="$2" FSBIN="$fsbin" RL_EXTRA="${4:-}" unshare "${flags[@]}" \
		bash -c ". '$W/bin/rootless-inner.sh'; $3" 2>&1
}

# check_ns DESC NSMODE SCRIPT [PEER_OPTIONS]: one test point against
# layerfs; the same script against fuse-overlayfs (with PEER_OPTIONS added
# to its mounts) goes to the diagnostics.
check_ns() {
	local desc=$1 mode=$2 script=$3 peer_opts=${4:-} todo=${5:-} out peer
	if [ "$mode" == auto ] && [ -z "$auto_ok" ]; then
		tap_skip "$desc" "no /etc/subuid range or newuidmap for the test user"
		return
	fi
	if out=$(inns "$mode" layerfs "$script"); then
		tap_ok "$desc${todo:+ # TODO $todo}"
	elif [ -n "$todo" ]; then
		tap_todo "$desc" "$todo" "$out"
	else
		tap_not_ok "$desc" "$out"
	fi
	if command -v fuse-overlayfs >/dev/null; then
		if peer=$(inns "$mode" fuse-overlayfs "$script" "$peer_opts"); then
			tap_diag "fuse-overlayfs${peer_opts:+ -o $peer_opts} passes this check too"
		else
			tap_diag "fuse-overlayfs${peer_opts:+ -o $peer_opts} fails it: $(grep -v 'unknown argument ignored' <<<"$peer" | tr '\n' ' ')"
		fi
	fi
}

# --- basics ---------------------------------------------------------------

check_ns "mount in unshare -Urm and read the image" root '
	rl_mount
	want "$(cat "$M/etc/hostname")" image "etc/hostname"
	want "$(stat -c %u:%g "$M/etc/hostname")" 0:0 "owner of etc/hostname"'

check_ns "copy-up of a lower file as namespace root" root '
	rl_mount
	echo more >>"$M/etc/motd"
	want "$(cat "$M/etc/motd")" "$(printf "hello\nmore")" "merged etc/motd"
	want "$(cat "$UP/etc/motd")" "$(printf "hello\nmore")" "upper etc/motd"
	want "$(cat "$W/img/etc/motd")" hello "lower etc/motd"
	rl_remount
	want "$(cat "$M/etc/motd")" "$(printf "hello\nmore")" "etc/motd after remount"'

check_ns "deleting a lower file leaves a whiteout and hides the name" root '
	rl_mount
	rm "$M/etc/hostname"
	[ ! -e "$M/etc/hostname" ] || { echo "etc/hostname still there"; exit 1; }
	ls "$M/etc" | grep -qx hostname && { echo "etc/hostname still listed"; exit 1; }
	if [ -c "$UP/etc/hostname" ]; then
		want "$(stat -c %t:%T "$UP/etc/hostname")" 0:0 "whiteout device numbers"
	else
		[ -e "$UP/etc/.wh.hostname" ] || { echo "no whiteout in the upper:" $(ls -A "$UP/etc"); exit 1; }
	fi
	rl_remount
	[ ! -e "$M/etc/hostname" ] || { echo "etc/hostname back after remount"; exit 1; }
	mkdir "$M/x" && rmdir "$M/x"
	[ ! -e "$UP/x" ] && [ ! -e "$UP/.wh.x" ] || { echo "mkdir x; rmdir x left something"; exit 1; }'

# --- ownership kept in user.containers.override_stat ------------------------

check_ns "override_stat: owners and modes of an image with several users" auto '
	rl_mount
	want "$(cd "$M" && stat -c "%n %u:%g %a %F" etc/shadow home/alice home/alice/notes usr/bin/su | tr "\n" ";")" \
		"etc/shadow 0:42 640 regular file;home/alice 1000:1000 700 directory;home/alice/notes 1000:1000 600 regular file;usr/bin/su 0:0 4755 regular file;" \
		"owners and modes"' xattr_permissions=2

check_ns "override_stat: device nodes, fifo and socket" auto '
	rl_mount
	want "$(cd "$M" && stat -c "%n %u:%g %a %F %t:%T" dev/null dev/sda run/fifo run/sock | tr "\n" ";")" \
		"dev/null 0:0 666 character special file 1:3;dev/sda 0:6 660 block special file 8:0;run/fifo 0:0 600 fifo 0:0;run/sock 0:0 755 socket 0:0;" \
		"types, modes and device numbers"
	want "$(ls -l "$M/dev" | awk "/null/ { print \$1, \$5, \$6 }")" "crw-rw-rw- 1, 3" "ls -l dev/null"' xattr_permissions=2

check_ns "override_stat: chown and chmod of an image file copy up and keep the override" auto '
	rl_mount
	chown 2000:3000 "$M/home/alice/notes" && chmod 0640 "$M/home/alice/notes"
	want "$(stat -c "%u:%g %a" "$M/home/alice/notes")" "2000:3000 640" "after chown and chmod"
	want "$(cat "$M/home/alice/notes")" notes "content"
	rl_remount
	want "$(stat -c "%u:%g %a" "$M/home/alice/notes")" "2000:3000 640" "after remount"
	want "$(stat -c "%u:%g %a" "$M/home/alice")" "1000:1000 700" "parent directory after copy-up"' xattr_permissions=2

check_ns "override_stat: chmod, chown, rename and a hard link of a device node keep its type" auto '
	rl_mount
	chmod 0620 "$M/dev/null" && chown 5:6 "$M/dev/null" && mv "$M/dev/null" "$M/dev/null2" &&
		ln "$M/dev/null2" "$M/dev/null3" || exit 1
	want "$(stat -c "%n %u:%g %a %F %t:%T %h" "$M/dev/null2" "$M/dev/null3" | tr "\n" ";")" \
		"$M/dev/null2 5:6 620 character special file 1:3 2;$M/dev/null3 5:6 620 character special file 1:3 2;" "after the changes"
	rl_remount
	want "$(stat -c "%u:%g %a %F %t:%T" "$M/dev/null2")" "5:6 620 character special file 1:3" "after remount"
	[ ! -e "$M/dev/null" ] || { echo "dev/null still there"; exit 1; }' xattr_permissions=2

check_ns "an owner the namespace cannot hold goes to user.containers.override_stat" root '
	# id 0 of the mount is id 5000 on disk, which unshare -Urm cannot hold
	rl_mount "uidmapping=5000:0:1,gidmapping=5000:0:1"
	chown 0:0 "$M/etc" "$M/etc/motd" || exit 1
	want "$(stat -c %u:%g "$M/etc" "$M/etc/motd" | tr "\n" " ")" "0:0 0:0 " "owners through the mount"
	ov=$(getfattr --absolute-names --only-values -n user.containers.override_stat "$UP/etc/motd" 2>&1)
	want "$(cut -d: -f1,2 <<<"$ov")" "5000:5000" "override_stat of the upper file ($ov)"
	echo new >"$M/etc/new"
	ov=$(getfattr --absolute-names --only-values -n user.containers.override_stat "$UP/etc/new" 2>&1)
	want "$(cut -d: -f1,2 <<<"$ov")" "5000:5000" "override_stat of a new file ($ov)"
	rl_remount
	want "$(stat -c %u:%g "$M/etc/motd" "$M/etc/new" | tr "\n" " ")" "0:0 0:0 " "owners after remount"' xattr_permissions=2

# --- options --------------------------------------------------------------

check_ns "uidmapping=C:H:N shows on-disk (container) id C+k as H+k and stores H+k as C+k" auto '
	# on-disk 1000 is shown as 0; on-disk 0 is outside the mapping
	rl_mount "uidmapping=1000:0:1,gidmapping=1000:0:1"
	want "$(stat -c %u:%g "$M/plain/owned-1000" "$M/plain/file" | tr "\n" " ")" "0:0 65534:65534 " "owners of on-disk 1000 and 0"
	mkdir "$M/created"
	want "$(stat -c %u:%g "$M/created")" 0:0 "owner of a new directory through the mount"
	want "$(stat -c %u:%g "$UP/created")" 1000:1000 "owner of the new directory on disk"'

check_ns "uidmapping= with several triples, and the leading colon podman writes" auto '
	# podman --userns=keep-id style: container 0..999 on host 1..1000,
	# container 1000 on host 0, the rest unchanged
	rl_mount "uidmapping=:0:1:1000:1000:0:1:1001:1001:64534,gidmapping=:0:1:1000:1000:0:1:1001:1001:64534"
	want "$(stat -c %u:%g "$M/plain/owned-1000" "$M/plain/file" | tr "\n" " ")" "0:0 1:1 " "owners of on-disk 1000 and 0"'

check_ns "squash_to_root shows every file as 0:0" auto '
	rl_mount squash_to_root
	want "$(stat -c %u:%g "$M/plain/owned-1000" "$M/home/alice" | tr "\n" " ")" "0:0 0:0 " "owners"'

check_ns "squash_to_uid= and squash_to_gid= show every file as those ids" auto '
	rl_mount "squash_to_uid=7,squash_to_gid=8"
	want "$(stat -c %u:%g "$M/plain/owned-1000" "$M/home/alice" "$M/etc" | tr "\n" " ")" "7:8 7:8 7:8 " "owners"'

check_ns "static_nlink reports directories with st_nlink 1" root '
	rl_mount static_nlink
	want "$(stat -c %h "$M/plain/d" "$M/plain/d/a")" "$(printf "1\n1")" "st_nlink of directories"
	want "$(stat -c %h "$M/plain/file")" 1 "st_nlink of a file"'

check_ns "without static_nlink a directory counts its subdirectories" root '
	rl_mount
	want "$(stat -c %h "$M/plain/d")" 4 "st_nlink of plain/d"'

check_ns "POSIX ACLs are kept without noacl" root '
	rl_mount
	want "$(python3 "$W/bin/fsprobe.py" acl "$M/plain/file" 2>&1)" "674 same" "mode and ACL read back"
	rl_remount
	want "$(getfattr --absolute-names -n system.posix_acl_access "$M/plain/file" 2>&1 | grep -c posix_acl)" 1 "ACL after remount"'

check_ns "noacl refuses POSIX ACLs" root '
	rl_mount noacl
	want "$(python3 "$W/bin/fsprobe.py" acl "$M/plain/file" 2>&1)" "$M/plain/file: Operation not supported" "setting an ACL"'

check_ns "volatile and fsync=0: writes and fsync succeed and persist across remount" root '
	rl_mount "volatile,fsync=0"
	python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_APPEND); os.write(fd, b\"v\n\"); os.fsync(fd); os.fdatasync(fd); os.close(fd)" "$M/etc/motd" || exit 1
	sync "$M/etc/motd" || exit 1
	rl_remount
	want "$(cat "$M/etc/motd")" "$(printf "hello\nv")" "etc/motd after remount"'

check_ns "timeout=, threaded= and writeback= are accepted and keep reads and writes right" root '
	for o in timeout=0 timeout=2.5 threaded=0 threaded=1 writeback=0 writeback=1 "threaded=0,writeback=1,timeout=0"; do
		rl_mount "$o"
		printf abc >"$M/plain/w" && printf def >>"$M/plain/w" || exit 1
		dd if=/dev/zero of="$M/plain/w" bs=1 count=1 seek=1 conv=notrunc status=none || exit 1
		want "$(od -An -c "$M/plain/w" | tr -s " ")" " a \\0 c d e f" "content with $o"
		want "$(cat "$M/plain/file")" plain "lower file with $o"
	done'

check_ns "debug logs requests and the mount works" root '
	d=$(mktemp -d "$W/run/debug.XXXXXX"); mkdir "$d/u" "$d/w" "$d/m"
	"$FSBIN" -o "lowerdir=$W/img,upperdir=$d/u,workdir=$d/w,debug" "$d/m" >"$d/log" 2>&1 &
	pid=$!
	for i in $(seq 100); do mountpoint -q "$d/m" && break; sleep 0.05; done
	RL_MOUNTS+=("$d/m")
	want "$(cat "$d/m/etc/hostname")" image "read with debug"
	umount "$d/m"
	for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
	[ -s "$d/log" ] || { echo "debug printed nothing"; exit 1; }
	grep -qi lookup "$d/log" || { echo "no LOOKUP in the debug log:"; head -5 "$d/log"; exit 1; }'

# layerfs alone: how it keeps CPUs awake has no counterpart in the peer.
desc="a burst of requests makes the receiver poll; /dev/cpu_dma_latency, root's, is left alone"
if out=$(inns root layerfs '
	d=$(mktemp -d "$W/run/burst.XXXXXX"); mkdir "$d/u" "$d/w" "$d/m"
	"$FSBIN" -o "lowerdir=$W/img,upperdir=$d/u,workdir=$d/w,debug" "$d/m" >"$d/log" 2>&1 &
	pid=$!
	for i in $(seq 100); do mountpoint -q "$d/m" && break; sleep 0.05; done
	RL_MOUNTS+=("$d/m")
	python3 "$W/bin/fsprobe.py" burst "$d/m/plain" 0.5 || exit 1
	held=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c cpu_dma_latency)
	umount "$d/m"
	for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
	want "$held" 0 "descriptors of /dev/cpu_dma_latency the daemon holds"
	grep -q "^burst of requests: the receiver polls for the next\$" "$d/log" ||
		{ echo "no burst with the receiver polling in the debug log:"; grep burst "$d/log"; exit 1; }'); then
	tap_ok "$desc"
else
	tap_not_ok "$desc" "$out"
fi

check_ns "xattr_permissions=0 ignores override_stat; 1 and 2 honour it" auto '
	rl_mount xattr_permissions=0
	want "$(stat -c "%u:%g %a %F" "$M/home/alice" "$M/dev/null" | tr "\n" ";")" "0:0 755 directory;0:0 644 regular empty file;" "with 0"
	for v in 1 2; do
		rl_mount xattr_permissions=$v
		want "$(stat -c "%u:%g %a %F" "$M/home/alice" "$M/dev/null" | tr "\n" ";")" "1000:1000 700 directory;0:0 666 character special file;" "with $v"
	done'

check_ns "FUSE options allow_other, allow_root, default_permissions, noatime are accepted" root '
	for o in allow_other allow_root default_permissions noatime "allow_other,default_permissions,noatime,nodev,nosuid"; do
		rl_mount "$o"
		want "$(cat "$M/etc/hostname")" image "read with $o"
	done
	rl_mount "allow_other,noatime"
	opts=$(awk -v m="$M" "\$5 == m { print \$6, \$NF }" /proc/self/mountinfo)
	case $opts in *noatime*allow_other* | *allow_other*noatime*) ;; *) echo "mount options: $opts"; exit 1 ;; esac'

check_ns "ro makes the mount read-only" root '
	rl_mount ro
	want "$(cat "$M/etc/hostname")" image "read"
	out=$(touch "$M/etc/new" 2>&1) && { echo "touch succeeded on a ro mount"; exit 1; }
	case $out in *"Read-only file system"*) ;; *) echo "touch: $out"; exit 1 ;; esac
	want "$(ls -A "$UP")" "" "upper after a refused write"'

check_ns "empty options (,,) are accepted" root '
	rl_mount ",,volatile,,"
	want "$(cat "$M/etc/hostname")" image "read"'

check_ns "an unknown option is an error and mounts nothing" root '
	d=$(mktemp -d "$W/run/bad.XXXXXX"); mkdir "$d/u" "$d/w" "$d/m"
	out=$("$FSBIN" -o "lowerdir=$W/img,upperdir=$d/u,workdir=$d/w,no_such_option=1" "$d/m" 2>&1) &&
		{ RL_MOUNTS+=("$d/m"); echo "mount succeeded"; exit 1; }
	mountpoint -q "$d/m" && { RL_MOUNTS+=("$d/m"); echo "mounted anyway"; exit 1; }
	case $out in *no_such_option*) ;; *) echo "message does not name the option: $out"; exit 1 ;; esac'

# --- the union semantics, as the user ---------------------------------------

for prop in "${SEM_PROPS[@]}"; do
	name=${prop%%|*} desc="as the user: ${prop#*|}"
	if [ -z "$auto_ok" ]; then
		tap_skip "$desc" "no /etc/subuid range or newuidmap for the test user"
		continue
	fi
	out=$(as_testuser env LAYERFS_BUILD="$W/bin" SEM_BIG_MIB="$SEM_BIG_MIB" \
		unshare --map-root-user --map-auto -m bash -c \
		". '$W/bin/lib.sh'; . '$W/bin/semantics-lib.sh'; SEM_CACHE='$W/run/cache'; sem_run_prop $name layerfs '$W/run'" 2>&1)
	case $? in
	0) tap_ok "$desc" ;;
	"$SEM_SKIP") tap_skip "$desc" "$(tail -n 1 <<<"$out")" ;;
	*) tap_not_ok "$desc" "$out" ;;
	esac
done

tap_done
