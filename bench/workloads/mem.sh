# Workload 7 — daemon memory: walk a tree of TREE_FILES empty files
# (1,000,000 in a full run) with du -s (an lstat of every entry) on a fresh
# mount, then read the FUSE daemon's peak RSS (VmHWM in /proc/PID/status).
#   walk:       the walk's time (all filesystems)
#   hwm:        peak RSS of the daemon, KiB (FUSE filesystems only)
#   B/file:     (peak RSS - RSS right after mounting) / files walked
#   rss-forget: RSS after the kernel dropped its dentries and inodes
#               (echo 2 > drop_caches sends FORGETs): bounded memory follows
# Kernel overlayfs and the plain directory have no daemon: no RSS figures.

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

measure() {
    local fs=$1 ms upper work lay=$BENCH_CACHE/tree-$SZ_TAG base hwm rss
    read -r upper work < <(fresh_upper)
    find "$lay" >/dev/null
    mount_union "$fs" "$MNT" "$lay" "$upper" "$work" "$lay"
    [[ -n $FUSE_PID ]] && base=$(status_kib "$FUSE_PID" VmRSS)
    ms=$(time_ms du -s "$MNT")
    emit mem walk "$fs" "$ms" ms fresh
    if [[ -n $FUSE_PID ]]; then
        hwm=$(status_kib "$FUSE_PID" VmHWM)
        emit mem hwm "$fs" "$hwm" KiB fresh
        emit mem B/file "$fs" "$(((hwm - base) * 1024 / TREE_FILES))" B fresh
        sync; echo 2 > /proc/sys/vm/drop_caches; sleep 1
        rss=$(status_kib "$FUSE_PID" VmRSS)
        emit mem rss-forget "$fs" "$rss" KiB fresh
    fi
    umount_union "$MNT"
}
