# Workload 2 — stat through deep stacks: lstat of STAT_FILES files that live
# only in the bottom layer (files/fNNNN), and of STAT_DIRS directories present
# in every layer (dirs/dNNN), through stacks of 1, 10, 50 and 100 layers.
#   fresh: fresh mount (lower trees cached), first pass;  warm: second pass.
# The cost per layer is the slope over the depths. Plain: the bottom layer
# itself (no union), the floor for one lstat.

measure() {
    local fs=$1 n ms upper work lowers files dirs layers
    files=$(for ((i = 0; i < STAT_FILES; i++)); do printf 'f%04d\n' "$i"; done)
    dirs=$(for ((i = 0; i < STAT_DIRS; i++)); do printf 'd%03d\n' "$i"; done)
    for n in $STACK_DEPTHS; do
        lowers=$(stack_lowers "$n")
        IFS=: read -ra layers <<<"$lowers"
        find "${layers[@]}" >/dev/null
        read -r upper work < <(fresh_upper)
        mount_union "$fs" "$MNT" "$lowers" "$upper" "$work" "$STACK_DIR/0"
        ms=$("$BENCH_TOOLS/stattime" "$MNT/files" <<<"$files")
        emit stat "file@$n" "$fs" "$ms" ms fresh
        ms=$("$BENCH_TOOLS/stattime" "$MNT/files" <<<"$files")
        emit stat "file@$n" "$fs" "$ms" ms warm
        ms=$("$BENCH_TOOLS/stattime" "$MNT/dirs" <<<"$dirs")
        emit stat "dir@$n" "$fs" "$ms" ms fresh
        ms=$("$BENCH_TOOLS/stattime" "$MNT/dirs" <<<"$dirs")
        emit stat "dir@$n" "$fs" "$ms" ms warm
        umount_union "$MNT"
    done
}
