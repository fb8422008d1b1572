# Workload 5 — small files.
#   untar:     tar -x of SMALL_FILES small files (64 B..4 KiB, 100 a directory)
#              into /tmp of the rootfs stack, fresh mount
#   rm-new:    rm -rf of those files (they live in the upper), same mount
#   rm-lower:  rm -rf of the same tree when it is a lower layer: every entry
#              becomes a whiteout; fresh mount, lower tree cached
# Plain: a fresh directory on the same scratch ext4 (a copy of the tree for
# rm-lower, made before the clock starts).

measure() {
    local fs=$1 ms upper work plain tarf=$BENCH_CACHE/small-$SZ_TAG.tar
    local lay=$BENCH_CACHE/smalllayer-$SZ_TAG
    read -r upper work < <(fresh_upper)
    plain=$RUNDIR/plain; mkdir -p "$plain/tmp"
    cat "$tarf" >/dev/null
    sync
    mount_union "$fs" "$MNT" "$ROOTFS_LOWERS" "$upper" "$work" "$plain"
    mkdir "$MNT/tmp/untar"
    ms=$(time_ms tar -xf "$tarf" -C "$MNT/tmp/untar")
    emit small untar "$fs" "$ms" ms warm
    sync
    ms=$(time_ms rm -rf "$MNT/tmp/untar/small")
    emit small rm-new "$fs" "$ms" ms warm
    umount_union "$MNT"
    sync

    read -r upper work < <(fresh_upper)
    rm -rf "$plain"; mkdir -p "$plain"
    [[ $fs == plain ]] && cp -a "$lay/small" "$plain/"
    find "$lay" >/dev/null
    sync
    mount_union "$fs" "$MNT" "$lay" "$upper" "$work" "$plain"
    ms=$(time_ms rm -rf "$MNT/small")
    emit small rm-lower "$fs" "$ms" ms fresh
    umount_union "$MNT"
    sync
}
