# Workload 1 — metadata walks over the Debian rootfs stack (base + 3 layers):
# find, ls -lR, du -s.
#   cold:  caches dropped, fresh mount, one walk
#   fresh: lower trees already in the page/dentry cache, fresh mount, one walk
#   warm:  the same walk again on that mount
# Plain: a bind mount of the flattened view (no union).

walk_find() { find "$1"; }
walk_ls()   { ls -lR "$1"; }
walk_du()   { du -s "$1"; }

measure() {
    local fs=$1 cmd ms upper work
    for cmd in find ls du; do
        read -r upper work < <(fresh_upper)
        drop_caches
        mount_union "$fs" "$MNT" "$ROOTFS_LOWERS" "$upper" "$work" "$ROOTFS_MERGED"
        ms=$(time_ms "walk_$cmd" "$MNT")
        emit meta "$cmd" "$fs" "$ms" ms cold
        umount_union "$MNT"

        read -r upper work < <(fresh_upper)
        find "$ROOTFS_LAYERS" "$ROOTFS_MERGED" >/dev/null
        mount_union "$fs" "$MNT" "$ROOTFS_LOWERS" "$upper" "$work" "$ROOTFS_MERGED"
        ms=$(time_ms "walk_$cmd" "$MNT")
        emit meta "$cmd" "$fs" "$ms" ms fresh
        ms=$(time_ms "walk_$cmd" "$MNT")
        emit meta "$cmd" "$fs" "$ms" ms warm
        umount_union "$MNT"
    done
}
