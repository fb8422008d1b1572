#!/bin/bash
# Lookups by name before any directory is read (fs/probe.c): a stack of 12
# lowers, deeper than a lookup probes before it reads the whole directory,
# with whiteouts above and below that depth, an opaque directory halfway
# down, directories merged from layers far apart, a file over a directory
# and a directory over a file.  Outcomes, merged views, upper meaning and
# the remounted view against kernel overlayfs, lowers in overlay form and in
# OCI form, and once more with getxattrat and listxattrat failing as on
# kernels before 6.13 (layerfs then reads xattrs through /proc); then, on
# one mount, every entry's readdir d_ino and st_ino must be the st_ino its
# earlier lookup gave.
set -u
. "$(dirname "$0")/overlay-lib.sh"

ovl_begin "$ORACLE_OPTS"

tap_diag "filesystem under test: $FS_UNDER_TEST ($FS_BIN)"
ovl_tmpdir probe
n=$(ovl_py count probe)
tap_plan $((3 * n + 2))
run_differential probe overlay trusted "$ORACLE_OPTS"
if [ "$FS_UNDER_TEST" != layerfs ]; then
	for ((i = 0; i < 2 * n; i++)); do tap_skip "OCI form, xattrs through /proc $i" "layerfs only"; done
else
	run_differential probe oci trusted "$ORACLE_OPTS"
	# 464, 466: getxattrat, listxattrat (one number on every architecture)
	printf '#!/bin/sh\nexec "%s" 464,466 "%s" "$@"\n' \
		"$LAYERFS_BUILD/test-tools/nosyscall" "$FS_BIN" >"$T/layerfs-no-xattrat"
	chmod +x "$T/layerfs-no-xattrat"
	FS_BIN=$T/layerfs-no-xattrat run_differential probe overlay trusted "$ORACLE_OPTS"
fi

# The same lowers, every name looked up on a fresh mount before its
# directory is read: read-only (the root is a lower directory too) and
# with an empty upper.
d=$T/dino
ovl_py build probe "$d" --xattr-ns trusted || tap_not_ok "dino: layers build"
lo=$(ovl_lowerdir "$d" 12)
mkdir -p "$d/mnt" "$d/upper" "$d/work"
for how in ro upper; do
	o="lowerdir=$lo"
	[ "$how" = upper ] && o+=",upperdir=$d/upper,workdir=$d/work"
	if ! fs_mount "$o" "$d/mnt"; then
		tap_not_ok "dino $how: mounts" "$FS_MOUNT_ERR"
		continue
	fi
	[ -s "$d/list" ] || (cd "$d/mnt" && find . -mindepth 1 | sort -r) >"$d/list"
	fs_unmount "$d/mnt"
	fs_mount "$o" "$d/mnt" || { tap_not_ok "dino $how: mounts again" "$FS_MOUNT_ERR"; continue; }
	if out=$("$PYTHON" "$TESTS_DIR/fsprobe.py" lookups-then-dino "$d/mnt" "$d/list" 2>&1); then
		tap_ok "dino $how: lookups before listings give the numbers listings give ($out)"
	else
		tap_not_ok "dino $how: lookups before listings give the numbers listings give" "$out"
	fi
	fs_unmount "$d/mnt"
done
[ "$_tap_failed" -eq 0 ]
