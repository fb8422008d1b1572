# Workload 3 — reading a large lower file (BIG_MIB MiB, 1 GiB in a full run).
#   seq cold:  caches dropped, fresh mount, dd bs=1M
#   seq warm:  the same read again on that mount
#   rand4k warm: fio, psync, random 4 KiB reads for RAND_SECS seconds,
#                page cache not invalidated (the file was just read)
# Throughput in MiB/s and IOPS: higher is better.

measure() {
    local fs=$1 ms upper work lowers=$BENCH_CACHE/big-$SZ_TAG json iops
    read -r upper work < <(fresh_upper)
    drop_caches
    mount_union "$fs" "$MNT" "$lowers" "$upper" "$work" "$lowers"
    ms=$(time_ms dd if="$MNT/big.bin" of=/dev/null bs=1M status=none)
    emit read seq "$fs" "$(mibps "$BIG_MIB" "$ms")" MiB/s cold
    ms=$(time_ms dd if="$MNT/big.bin" of=/dev/null bs=1M status=none)
    emit read seq "$fs" "$(mibps "$BIG_MIB" "$ms")" MiB/s warm
    json=$(fio --name=rand4k --filename="$MNT/big.bin" --readonly --rw=randread \
        --bs=4k --ioengine=psync --invalidate=0 --size="${BIG_MIB}m" \
        --time_based --runtime="$RAND_SECS" --randseed=42 --output-format=json)
    iops=$(python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])' <<<"$json")
    emit read rand4k "$fs" "$iops" IOPS warm
    umount_union "$MNT"
}

mibps() { python3 -c "import sys; print('%.1f' % ($1 / ($2 / 1000.0)))"; }
