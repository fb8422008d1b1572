# Workload 4 — copy-up: the first write of one byte (open O_WRONLY, pwrite,
# close) to lower files of COPYUP_SIZES, with lower, upper and work on the
# same scratch filesystem: journaled ext4, and XFS with reflink=1 (where a
# copy-up can clone). Also open(O_TRUNC) of the smallest and largest file,
# which needs no data copied. The lower file is in the page cache (warm).
# Plain: `cp` of the same file on the same filesystem (a whole-file copy;
# coreutils clones where it can).

measure() {
    local fs=$1 sfs s ms d lowers small large
    small=${COPYUP_SIZES%% *}; large=${COPYUP_SIZES##* }
    for sfs in ext4 xfs; do
        lowers=$SCRATCH/$sfs/lower-$SZ_TAG
        for s in $COPYUP_SIZES; do
            cat "$lowers/c$s" >/dev/null
            d=$(mktemp -d "$SCRATCH/$sfs/run.XXXXXX"); mkdir "$d/upper" "$d/work"
            sync
            if [[ $fs == plain ]]; then
                ms=$(time_ms cp "$lowers/c$s" "$d/upper/c$s")
            else
                mount_union "$fs" "$MNT" "$lowers" "$d/upper" "$d/work"
                ms=$("$BENCH_TOOLS/copyup" write "$MNT/c$s")
                umount_union "$MNT"
            fi
            emit copyup "write-$s@$sfs" "$fs" "$ms" ms warm
            rm -rf "$d"
        done
        [[ $fs == plain ]] && continue
        for s in "$small" "$large"; do
            d=$(mktemp -d "$SCRATCH/$sfs/run.XXXXXX"); mkdir "$d/upper" "$d/work"
            sync
            mount_union "$fs" "$MNT" "$lowers" "$d/upper" "$d/work"
            ms=$("$BENCH_TOOLS/copyup" trunc "$MNT/c$s")
            umount_union "$MNT"
            emit copyup "trunc-$s@$sfs" "$fs" "$ms" ms warm
            rm -rf "$d"
        done
    done
}
