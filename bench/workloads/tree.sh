# Workload 6 — whole-tree work.
#   tar-c:  tar -cf - . of the whole rootfs stack, piped to /dev/null (through
#           cat, so tar cannot skip reading); fresh mount over
#           lower trees (entries and data) in the page cache, then warm
#   build:  make -j2 of a small C project (CPROJ_FILES .c files) that lives in
#           a lower layer; objects are written to the upper; fresh mount
# Plain: the flattened rootfs; a fresh copy of the project on scratch ext4.

tar_c() { tar -C "$1" -cf - . | cat >/dev/null; }

measure() {
    local fs=$1 ms upper work plain proj=$BENCH_CACHE/cproj-$SZ_TAG
    read -r upper work < <(fresh_upper)
    cache_tree "$ROOTFS_LAYERS" "$ROOTFS_MERGED"
    mount_union "$fs" "$MNT" "$ROOTFS_LOWERS" "$upper" "$work" "$ROOTFS_MERGED"
    ms=$(time_ms tar_c "$MNT")
    emit tree tar-c "$fs" "$ms" ms fresh
    ms=$(time_ms tar_c "$MNT")
    emit tree tar-c "$fs" "$ms" ms warm
    umount_union "$MNT"

    read -r upper work < <(fresh_upper)
    plain=$RUNDIR/plain; mkdir -p "$plain"
    [[ $fs == plain ]] && cp -a "$proj/src" "$plain/"
    cat "$proj"/src/* >/dev/null
    sync
    mount_union "$fs" "$MNT" "$proj" "$upper" "$work" "$plain"
    ms=$(time_ms make -s -C "$MNT/src" -j2)
    emit tree build "$fs" "$ms" ms warm
    umount_union "$MNT"
}
