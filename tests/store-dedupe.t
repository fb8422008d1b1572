#!/bin/bash
# layerctl dedupe: two images sharing most files are deduplicated; every
# mount shows exactly what it showed before, layers verify, the disk usage
# falls by what the duplicates took, files of different metadata stay apart,
# a partial-hash twin stays apart, a killed run leaves the store intact, a
# second run reads nothing, a new layer is read alone, a copy-up of a shared
# file changes only the container's copy, and FIDEDUPERANGE shares extents
# on XFS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
need_root
need_cmd jq umoci setfattr tar python3 mountpoint fusermount3
# Mounts of our own, gone with the suite whatever happens.
if [ -z "${DEDUPE_PRIVATE_NS:-}" ] && unshare -m --propagation private true 2>/dev/null; then
	DEDUPE_PRIVATE_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
store_setup
MOUNTS=()
cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do unmount_quiet "$m"; done
	[ -n "${XFS_MNT:-}" ] && { umount "$XFS_MNT" 2>/dev/null || umount -l "$XFS_MNT" 2>/dev/null; }
	store_cleanup
}
trap cleanup EXIT
PY() { /usr/bin/python3 "$TESTS_DIR/dedupe_view.py" "$@"; }
CAN_MOUNT=no
[ -x "$LAYERFS" ] && [ -e /dev/fuse ] && CAN_MOUNT=yes

# --- the trees --------------------------------------------------------------
# A: libraries, busybox, small files, a hardlink pair, an xattr, a 64 KiB
# file, two 1 MiB files, a file older than 1970, 40 copies of one file.
# B: A with files changed, deleted, added, five files of equal content but
# another mode, owner, mtime or xattr, a copy of a file inside B, the 64 KiB
# file with one middle byte changed (same size, first and last blocks), and
# the 1 MiB files with their last byte and a middle byte changed.  C (on
# top of B): a whiteout, a copy of an A file under another name, a new file.
A=$WORK/A B=$WORK/B C=$WORK/C
mkdir -p "$A/lib" "$A/bin" "$A/etc/conf.d" "$A/data"
find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -size -600k -size +1k | sort | head -150 |
	xargs cp -p -t "$A/lib"
cp -p /bin/busybox "$A/bin/busybox"
for i in $(seq 1 20); do printf 'setting %s\n' "$i" > "$A/etc/conf.d/s$i.conf"; done
printf 'linked\n' > "$A/etc/hl1"; ln "$A/etc/hl1" "$A/etc/hl2"
setfattr -n user.test -v same "$A/etc/conf.d/s1.conf"
python3 -c 'import sys; b = bytearray(i * 7 % 251 for i in range(65536)); open(sys.argv[1], "wb").write(b)' "$A/data/twin.bin"
touch -d @1700000000.123456789 "$A/data/twin.bin"
python3 -c 'import sys; b = bytearray(i * 13 % 253 for i in range(1 << 20)); [open(p, "wb").write(b) for p in sys.argv[1:]]' \
	"$A/data/tail.bin" "$A/data/mid.bin"
touch -d @1700000000 "$A/data/tail.bin" "$A/data/mid.bin"
printf 'before 1970\n' > "$A/data/old.txt"; touch -d @-86400 "$A/data/old.txt"
# 40 copies of one file in each tree: a group with as many targets as units.
mkdir -p "$A/etc/same"
for i in $(seq -w 1 40); do printf 'activate ldconfig\n' > "$A/etc/same/t$i"; done
touch -d @1700000000 "$A"/etc/same/t*
cp -a "$A" "$B"
mapfile -t LIBS < <(ls "$A/lib" | head -12)
for f in "${LIBS[@]:0:3}"; do printf 'x' >> "$B/lib/$f"; done          # changed
rm "$B/lib/${LIBS[3]}" "$B/lib/${LIBS[4]}"                               # deleted
printf 'new in B\n' > "$B/etc/new1"; cp /etc/os-release "$B/etc/new2"    # added
chmod 600 "$B/lib/${LIBS[5]}"                                             # mode
chown 1000:1000 "$B/lib/${LIBS[6]}"                                       # owner
touch -d @1600000000 "$B/lib/${LIBS[7]}"                                  # mtime
setfattr -n user.test -v other "$B/lib/${LIBS[8]}"                        # xattr
cp -p "$B/lib/${LIBS[9]}" "$B/data/copy-of-${LIBS[9]}"                    # same tree
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(32768); b = f.read(1); f.seek(32768); f.write(bytes([b[0] ^ 1]))' "$B/data/twin.bin"
touch -d @1700000000.123456789 "$B/data/twin.bin"
flip() { python3 -c 'import sys; f = open(sys.argv[1], "r+b"); o = int(sys.argv[2]); f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 1]))' "$@"; }
flip "$B/data/tail.bin" $(( (1 << 20) - 1 )); flip "$B/data/mid.bin" 600000
touch -d @1700000000 "$B/data/tail.bin" "$B/data/mid.bin"
mkdir -p "$C/extra" "$C/lib"
cp -p "$A/lib/${LIBS[10]}" "$C/extra/again"
: > "$C/lib/.wh.${LIBS[11]}"
printf 'top\n' > "$C/extra/top"
touch -d @1700000000 "$C/extra" "$C/lib" "$C"
mktar() { tar --format=posix --xattrs --xattrs-include='user.*' --numeric-owner -C "$1" -cf "$2" .; }
mktar "$A" "$WORK/A.tar"; mktar "$B" "$WORK/B.tar"; mktar "$C" "$WORK/C.tar"
check "import image one (layer A)" "$LAYERCTL" import --quiet "$WORK/A.tar" one:v1.0.0
umoci init --layout "$WORK/oci" >/dev/null && umoci new --image "$WORK/oci:two" >/dev/null &&
	umoci raw add-layer --image "$WORK/oci:two" "$WORK/B.tar" >/dev/null &&
	umoci raw add-layer --image "$WORK/oci:two" "$WORK/C.tar" >/dev/null
check "import image two (layers B, C)" "$LAYERCTL" import --quiet "$WORK/oci" two:v1.0.0
tree_of() { echo "$STORE/layers/$(image_diff_ids "$1" | sed -n "${2}p" | cut -c8-)/tree"; }
TA=$(tree_of one:v1.0.0 1) TB=$(tree_of two:v1.0.0 1) TC=$(tree_of two:v1.0.0 2)
lowers() { image_diff_ids "$1" | tac | sed "s|^sha256:|$STORE/layers/|; s|$|/tree|" | paste -sd:; }

# --- what every mount shows --------------------------------------------------
# One view per image through layerfs (read-only), and one per layer tree.
views() { # views OUTDIR
	local out=$1 img m
	mkdir -p "$out"
	for img in one:v1.0.0 two:v1.0.0; do
		if [ "$CAN_MOUNT" = yes ]; then
			m=$WORK/mnt-${img%%:*}; mkdir -p "$m"
			if "$LAYERFS" -o lowerdir="$(lowers "$img")" "$m" 2>"$out/$img.err" && mountpoint -q "$m"; then
				MOUNTS+=("$m")
				PY view "$m" > "$out/$img.view"
				unmount_quiet "$m"
			else
				echo "mount failed: $(cat "$out/$img.err")" > "$out/$img.view"
			fi
		fi
	done
	# A tree as it is on disk: the dedupe mark and link counts aside.
	for t in "$TA" "$TB" "$TC"; do PY tree "$t" > "$out/$(basename "$(dirname "$t")").tree"; done
}
same_views() { # same_views DESC DIR1 DIR2
	local d
	if d=$(diff -r "$2" "$3" 2>&1); then tap_ok "$1"; else tap_not_ok "$1" "$(echo "$d" | head -20)"; fi
}
usage() { PY usage "$STORE/layers"; }
verify_ok() { check "$1" "$LAYERCTL" verify; }

views "$WORK/before"
if [ "$CAN_MOUNT" = yes ]; then
	grep -q '^mount failed' "$WORK/before/one:v1.0.0.view" && CAN_MOUNT=no
fi
[ "$CAN_MOUNT" = yes ] || tap_diag "layerfs cannot mount here: mount views are not compared"
read -r WANT_LINKED WANT_SAVED WANT_DISK < <(PY expect "$STORE")
tap_diag "expected: $WANT_LINKED files linked, $WANT_SAVED bytes, $WANT_DISK on disk"
[ "$WANT_LINKED" -ge 100 ] && tap_ok "the images share many files ($WANT_LINKED)" ||
	tap_not_ok "the images share many files" "only $WANT_LINKED"
USAGE0=$(usage)

# --- dry run -----------------------------------------------------------------
snap() { (cd "$STORE" && find layers dedupe -printf '%p %i %n %T@ %C@\n' 2>/dev/null | sort); }
snap > "$WORK/snap0"
dry=$("$LAYERCTL" dedupe --dry-run --json)
snap > "$WORK/snap1"
if cmp -s "$WORK/snap0" "$WORK/snap1"; then tap_ok "--dry-run changes nothing"
else tap_not_ok "--dry-run changes nothing" "$(diff "$WORK/snap0" "$WORK/snap1" | head)"; fi
is "$(jq -r '[.files_linked, .bytes_saved, .disk_saved] | join(" ")' <<<"$dry")" \
	"$WANT_LINKED $WANT_SAVED $WANT_DISK" "--dry-run reports the expected links and savings"
listing=$("$LAYERCTL" dedupe --dry-run)
grep -q "^would link $WANT_LINKED files in .* save $WANT_SAVED " <<<"$listing" &&
	grep -q "^  = .*:lib/${LIBS[10]}\$" <<<"$listing" && tap_ok "--dry-run lists groups and the saving" ||
	tap_not_ok "--dry-run lists groups and the saving" "$(tail -5 <<<"$listing")"

# --- killed runs ---------------------------------------------------------------
# LAYERCTL_DEDUPE_KILL=POINT:N: SIGKILL at POINT of the Nth join: after the
# keeper got its mark, after the new name was linked in the temp area, after
# it was renamed over the duplicate (before the directory's times are put
# back: the next run restores them from its journal).
for k in xattr:2 link:3 link:40 rename:5 rename:60; do
	rc=$(LAYERCTL_DEDUPE_KILL=$k bash -c '"$0" dedupe --quiet >/dev/null 2>&1; echo $?' "$LAYERCTL" 2>/dev/null)
	[ "$rc" -eq 137 ] && tap_ok "dedupe killed at $k" || tap_not_ok "dedupe killed at $k" "exit $rc"
	verify_ok "layers verify after a kill at $k"
	if [ "${k%%:*}" != rename ]; then
		views "$WORK/kill-$k"
		same_views "every view is unchanged after a kill at $k" "$WORK/before" "$WORK/kill-$k"
	fi
done

# --- the run -----------------------------------------------------------------
out=$("$LAYERCTL" dedupe --json)
tap_diag "dedupe: $(jq -c . <<<"$out")"
verify_ok "every layer verifies after dedupe"
views "$WORK/after"
same_views "every mount and tree shows exactly what it showed before" "$WORK/before" "$WORK/after"
USAGE1=$(usage)
is "$((USAGE0 - USAGE1))" "$WANT_DISK" "disk usage of the layers fell by the duplicates' blocks"
is "$(find "$TA" "$TB" "$TC" -type f -links +1 | wc -l)" \
	"$(( $(find "$TA" "$TB" "$TC" -type f -links +1 -exec getfattr --absolute-names -n user.layerfs.dedupe {} + 2>/dev/null | grep -c '^user.layerfs.dedupe=') + 4 ))" \
	"every shared inode carries user.layerfs.dedupe (but the layer's own hardlinks)"
same_ino() { [ "$(stat -c %i "$1")" = "$(stat -c %i "$2")" ]; }
same_ino "$TA/lib/${LIBS[11]}" "$TB/lib/${LIBS[11]}" && same_ino "$TA/bin/busybox" "$TB/bin/busybox" &&
	same_ino "$TA/lib/${LIBS[10]}" "$TC/extra/again" && tap_ok "identical files of different layers are one inode" ||
	tap_not_ok "identical files of different layers are one inode"
apart=""
for i in 5 6 7 8; do same_ino "$TA/lib/${LIBS[$i]}" "$TB/lib/${LIBS[$i]}" && apart+=" ${LIBS[$i]}"; done
same_ino "$TB/lib/${LIBS[9]}" "$TB/data/copy-of-${LIBS[9]}" && apart+=" same-tree-copy"
same_ino "$TA/etc/hl1" "$TB/etc/hl1" && apart+=" layer-hardlink"
[ -z "$apart" ] && tap_ok "files of other mode, owner, mtime or xattr, copies in one tree, hardlinks of a layer stay apart" ||
	tap_not_ok "files of other metadata stay apart" "linked:$apart"
same_ino "$TA/etc/conf.d/s1.conf" "$TB/etc/conf.d/s1.conf" && tap_ok "files with equal xattrs are linked" ||
	tap_not_ok "files with equal xattrs are linked"
same_ino "$TA/data/twin.bin" "$TB/data/twin.bin" && tap_not_ok "files equal but for one middle byte stay apart" ||
	tap_ok "files equal but for one middle byte stay apart"
# Two inodes of one size are compared without hashing: the comparison
# itself must tell them apart, by the last block or further in.
same_ino "$TA/data/tail.bin" "$TB/data/tail.bin" || same_ino "$TA/data/mid.bin" "$TB/data/mid.bin" &&
	tap_not_ok "1 MiB files equal but for their last byte, or a middle byte, stay apart" ||
	tap_ok "1 MiB files equal but for their last byte, or a middle byte, stay apart"
same_ino "$TA/data/old.txt" "$TB/data/old.txt" && tap_ok "a file older than 1970 is linked" ||
	tap_not_ok "a file older than 1970 is linked"

# --- few open files ------------------------------------------------------------
# Joins waiting to be applied hold their files open, at most a quarter of
# the limit, and the workers' groups another quarter: with 128 the workers
# soon wait for room, and the run must still finish (no thread waiting on
# another) and link the same files, none passed over for want of a
# descriptor.  With 40, one thread reads and joins, and the walks of the
# trees (a directory open per level) go one at a time.
for n in 128 40; do
	LS=$WORK/store-lim$n
	"$LAYERCTL" --root "$LS" import --quiet "$WORK/A.tar" one:v1.0.0 >/dev/null &&
		"$LAYERCTL" --root "$LS" import --quiet "$WORK/oci" two:v1.0.0 >/dev/null
	want=$("$LAYERCTL" --root "$LS" dedupe --dry-run --json | jq -r .files_linked)
	lim=$(ulimit -n $n && timeout 120 "$LAYERCTL" --root "$LS" dedupe --json)
	is "$(jq -r '[.files_linked, .skipped] | join(" ")' <<<"$lim")" "$want 0" \
		"with $n open files at most, dedupe finishes and links what a dry run said ($want), none skipped"
	check "layers verify after the run with $n open files" "$LAYERCTL" --root "$LS" verify
done
# The directories joins change stay open too: with copies spread over 300
# directories, the run must keep few of them open under the same limit.
LM=$WORK/store-many
for img in 1 2; do
	rm -rf "$WORK/many"
	for i in $(seq -w 1 300); do
		mkdir -p "$WORK/many/d$i"
		printf 'copy %s\n' "$i" > "$WORK/many/d$i/f"
		touch -d @1000000000 "$WORK/many/d$i/f"
	done
	echo "image $img" > "$WORK/many/only-$img"
	tar --numeric-owner -C "$WORK/many" -cf "$WORK/many-$img.tar" .
	"$LAYERCTL" --root "$LM" import --quiet "$WORK/many-$img.tar" "many$img:v1.0.0" >/dev/null
done
lim=$(ulimit -n 64 && timeout 120 "$LAYERCTL" --root "$LM" dedupe --json 2>/dev/null)
is "$(jq -r '[.files_linked, .skipped] | join(" ")' <<<"$lim")" "300 0" \
	"with 64 open files at most, copies in 300 directories are all linked, none skipped"

# --- second run, new layer -----------------------------------------------------
again=$("$LAYERCTL" dedupe --json)
is "$(jq -r '[.new_layers, .files_scanned, .partial_hashed, .files_hashed, .files_linked, .bytes_saved] | join(" ")' <<<"$again")" \
	"0 0 0 0 0 0" "a second run reads no file and links nothing"
D=$WORK/D; mkdir -p "$D/lib"
for i in 12 13 14 15 16; do cp -p "$A/lib/$(ls "$A/lib" | sed -n "$((i + 1))p")" "$D/lib/"; done
printf 'only in D\n' > "$D/lib/own"
mktar "$D" "$WORK/D.tar"
imp=$("$LAYERCTL" import --dedupe "$WORK/D.tar" three:v1.0.0 2>&1)
tap_diag "$imp"
grep -q "^link 5 files in " <<<"$imp" && tap_ok "import --dedupe links the new layer's 5 copies" ||
	tap_not_ok "import --dedupe links the new layer's 5 copies" "$imp"
grep -q "^read 6 of .* (1 new layers of 4), hashed [0-6] " <<<"$imp" &&
	tap_ok "import --dedupe reads only the new layer" || tap_not_ok "import --dedupe reads only the new layer" "$imp"
TD=$(tree_of three:v1.0.0 1)
same_ino "$TA/lib/$(ls "$D/lib" | head -1)" "$TD/lib/$(ls "$D/lib" | head -1)" &&
	tap_ok "the new layer's copy is the shared inode" || tap_not_ok "the new layer's copy is the shared inode"
verify_ok "every layer verifies after import --dedupe"
views "$WORK/after2"
same_views "every mount still shows what it showed before" "$WORK/before" "$WORK/after2"
is "$("$LAYERCTL" dedupe --json | jq -r '[.new_layers, .files_hashed, .files_linked] | join(" ")')" "0 0 0" \
	"a run after import --dedupe has nothing to do"

# --- sizes ---------------------------------------------------------------------
disk_sum=$("$LAYERCTL" layers --json | jq '[.[].disk] | add')
is "$disk_sum" "$(PY usage "$STORE"/layers/*/tree)" "layers --json: disk of all layers is the store's, each inode once"
app=$("$LAYERCTL" images --json | jq -r '.[] | select(.names[0] == "one:v1.0.0") | .apparent')
is "$app" "$(find "$TA" -type f -printf '%i %s\n' | sort -u | awk '{s += $2} END {print s}')" \
	"images --json: apparent size of an image"

# --- copy-up of a shared file ------------------------------------------------------
if [ "$CAN_MOUNT" = yes ]; then
	f=lib/${LIBS[11]}
	m=$WORK/mnt-rw; mkdir -p "$m" "$WORK/upper" "$WORK/work"
	sumA=$(sha256sum < "$TA/$f")
	if "$LAYERFS" -o lowerdir="$(lowers two:v1.0.0)",upperdir="$WORK/upper",workdir="$WORK/work" "$m" && mountpoint -q "$m"; then
		MOUNTS+=("$m")
		printf 'appended' >> "$m/$f"
		chmod 640 "$m/$f"
		got=$(tail -c 8 "$m/$f")
		unmount_quiet "$m"
		[ "$got" = appended ] && [ "$(tail -c 8 "$WORK/upper/$f")" = appended ] &&
			tap_ok "a write to a shared file lands in the container's copy" ||
			tap_not_ok "a write to a shared file lands in the container's copy" "read back '$got'"
		[ "$(sha256sum < "$TA/$f")" = "$sumA" ] && [ "$(sha256sum < "$TB/$f")" = "$sumA" ] && same_ino "$TA/$f" "$TB/$f" &&
			tap_ok "the layers' shared file is unchanged" || tap_not_ok "the layers' shared file is unchanged"
		views "$WORK/after3"
		same_views "every mount still shows what it showed before the copy-up" "$WORK/before" "$WORK/after3"
	else
		tap_not_ok "layerfs mounts with an upper"
	fi
else
	tap_skip "copy-up of a shared file" "layerfs cannot mount here"
fi

# --- extents -------------------------------------------------------------------------
# ext4 refuses FIDEDUPERANGE: said once, counted.
ref=$("$LAYERCTL" dedupe --reflink --json 2>"$WORK/reflink.err")
if grep -q 'cannot share extents' "$WORK/reflink.err"; then
	is "$(grep -c 'cannot share extents' "$WORK/reflink.err") $(jq -r '.files_reflinked' <<<"$ref")" "1 0" \
		"--reflink where the filesystem cannot: said once, nothing shared"
else
	tap_skip "--reflink where the filesystem cannot" "the store's filesystem shares extents ($(stat -f -c %T "$STORE"))"
fi
XFS_IMG=$WORK/xfs.img XFS_MNT=$WORK/xfs
if command -v mkfs.xfs >/dev/null && truncate -s 320M "$XFS_IMG" && mkfs.xfs -q -m reflink=1 "$XFS_IMG" 2>/dev/null &&
	mkdir -p "$XFS_MNT" && mount -o loop "$XFS_IMG" "$XFS_MNT" 2>/dev/null; then
	XS=$XFS_MNT/store
	"$LAYERCTL" --root "$XS" import --quiet "$WORK/A.tar" one:v1.0.0 >/dev/null &&
		"$LAYERCTL" --root "$XS" import --quiet "$WORK/oci" two:v1.0.0 >/dev/null
	XB=$XS/layers/$(ls "$XS/layers" | while read -r l; do [ -e "$XS/layers/$l/tree/data/copy-of-${LIBS[9]}" ] && echo "$l"; done)/tree
	xr=$("$LAYERCTL" --root "$XS" dedupe --reflink --json 2>&1)
	tap_diag "xfs: $(jq -c . <<<"$xr" 2>/dev/null || echo "$xr")"
	n=$(jq -r '.files_reflinked' <<<"$xr")
	[ "${n:-0}" -ge 5 ] && tap_ok "--reflink on XFS shares the extents of equal files of other metadata ($n)" ||
		tap_not_ok "--reflink on XFS shares extents" "$xr"
	# FIEMAP_EXTENT_SHARED is 0x2000 in the FLAGS column.
	shared=no
	while read -r flags; do
		[[ $flags == 0x* ]] && (( flags & 0x2000 )) && shared=yes
	done < <(xfs_io -c 'fiemap -v' "$XB/lib/${LIBS[5]}" | awk 'NR > 2 {print $NF}')
	[ $shared = yes ] && tap_ok "fiemap shows the extent shared" ||
		tap_not_ok "fiemap shows the extent shared" "$(xfs_io -c 'fiemap -v' "$XB/lib/${LIBS[5]}")"
	[ "$(stat -c %a "$XB/lib/${LIBS[5]}")" = 600 ] && [ "$(stat -c %h "$XB/lib/${LIBS[5]}")" = 1 ] &&
		tap_ok "a file sharing extents keeps its own inode and metadata" || tap_not_ok "a file sharing extents keeps its inode"
	check "layers on XFS verify after --reflink" "$LAYERCTL" --root "$XS" verify
	umount "$XFS_MNT" && XFS_MNT=""
else
	tap_skip "--reflink on XFS" "cannot make an XFS (reflink=1) loop filesystem here"
fi
tap_done
