#!/bin/bash
# layerfs as rootless podman's mount_program: a user made for the run
# points its storage.conf at layerfs (through a wrapper that logs the
# options podman passes) and imports, runs, changes, diffs and commits a
# busybox image, with and without --userns=keep-id.
# PODMAN_MOUNT_PROGRAM=/usr/bin/fuse-overlayfs runs the same checks against
# another mount program.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/testuser-lib.sh"

need_root
need_cmd useradd userdel runuser pgrep
command -v podman >/dev/null || tap_skip_all "podman is not installed (apt-get install podman runc)"
command -v runc >/dev/null || tap_skip_all "runc is not installed"
[ -x /bin/busybox ] || tap_skip_all "busybox-static is not installed"
command -v newuidmap >/dev/null || tap_skip_all "newuidmap is not installed (uidmap)"
target=${PODMAN_MOUNT_PROGRAM:-$LAYERFS}
[ -x "$target" ] || tap_skip_all "$target is not built"

W=$(mktemp -d /tmp/layerfs-podman.XXXXXX)
chmod 0755 "$W"
cleanup() {
	[ -n "$TU_NAME" ] && as_testuser podman --log-level=error system reset --force >/dev/null 2>&1
	testuser_cleanup >/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

testuser_setup layerfs-podman || tap_skip_all "$TU_ERR"
[ -n "$TU_SUBUID" ] || tap_skip_all "useradd gave $TU_NAME no /etc/subuid range"
testuser_dev_fuse || tap_skip_all "$TU_ERR"

# The mount program behind a wrapper that logs its argv, one line per call.
mkdir -p "$W/bin" "$W/log" "$W/run"
cp "$target" "$W/bin/layerfs"
cat >"$W/bin/layerfs-logged" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$W/log/argv"
exec "$W/bin/layerfs" "\$@"
EOF
chmod 0755 "$W/bin/layerfs" "$W/bin/layerfs-logged"
chown "$TU_NAME:" "$W/log" "$W/run"
chmod 0700 "$W/run"
TU_RUNTIME_DIR=$W/run

# The user's podman configuration: overlay driver through layerfs.
cfg=$TU_HOME/.config/containers
mkdir -p "$cfg"
cat >"$cfg/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$W/run/storage"
graphroot = "$TU_HOME/.local/share/containers/storage"

[storage.options.overlay]
mount_program = "$W/bin/layerfs-logged"
EOF
cat >"$cfg/containers.conf" <<EOF
[containers]
netns = "none"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
chown -R "$TU_NAME:" "$TU_HOME/.config"

pm() { as_testuser podman --log-level=error --runtime runc "$@"; }

out=$(pm info --format '{{.Store.GraphDriverName}}' 2>&1) ||
	tap_skip_all "podman cannot run here: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
[ "$out" == overlay ] || tap_skip_all "podman does not use the overlay driver: $out"

# A busybox-static root filesystem, imported as one layer.
rootfs=$W/rootfs
mkdir -p "$rootfs"/{bin,etc,tmp,root}
cp /bin/busybox "$rootfs/bin/busybox"
for app in $(/bin/busybox --list); do
	[ "$app" == busybox ] || ln -s busybox "$rootfs/bin/$app"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
echo "$TU_NAME:x:$TU_UID:$TU_UID::/tmp:/bin/sh" >>"$rootfs/etc/passwd"
echo "root:x:0:" >"$rootfs/etc/group"
echo image >"$rootfs/etc/hostname.orig"
echo "from the image" >"$rootfs/etc/motd"
mkdir -p "$rootfs/data/sub"
echo old >"$rootfs/data/old"
echo old >"$rootfs/data/sub/old"
chmod 1777 "$rootfs/tmp"
tar -C "$rootfs" -c . >"$W/rootfs.tar"
chmod 0644 "$W/rootfs.tar"

check "podman import of a busybox-static root filesystem" pm import -q "$W/rootfs.tar" localhost/bb

out=$(pm run --rm --network=none localhost/bb sh -c 'echo hi; exit 3' 2>&1)
rc=$?
if [ "$rc" -eq 3 ] && [ "$out" == hi ]; then
	tap_ok "podman run prints hi and exits 3"
else
	tap_not_ok "podman run prints hi and exits 3" "exit $rc" "$out"
fi

out=$(pm run --name changed --network=none localhost/bb \
	sh -c 'echo "written in the container" >/etc/motd && mkdir /newdir && echo x >/newdir/x &&
		chown 1234:2345 /newdir/x && chmod 0604 /newdir/x && rm /etc/hostname.orig &&
		rm -rf /data && mkdir /data && echo new >/data/new && cat /etc/motd' 2>&1)
is "$out" "written in the container" "a write inside a container reads back"

out=$(pm diff changed 2>&1)
want_diff=$(printf 'A /newdir\nA /newdir/x\nC /etc\nC /etc/motd\nD /etc/hostname.orig\nC /data\nA /data/new\nD /data/old\nD /data/sub')
is "$(grep -E '^[ACD] /(etc|newdir|data)' <<<"$out" | sort)" "$(sort <<<"$want_diff")" "podman diff lists the container's changes"

check "podman commit of the changed container" pm commit -q changed localhost/bb-changed

out=$(pm run --rm --network=none localhost/bb-changed \
	sh -c 'cat /etc/motd /newdir/x; test -e /etc/hostname.orig && echo hostname.orig still there
		stat -c "%u:%g %a" /newdir/x; ls -A /data; cat /data/new' 2>&1)
is "$out" "$(printf 'written in the container\nx\n1234:2345 604\nnew\nnew')" \
	"a container of the committed image sees the changes (contents, owner, mode, removals, opaque directory)"

out=$(pm diff localhost/bb-changed localhost/bb 2>&1)
if grep -q '/etc/motd' <<<"$out"; then
	tap_ok "podman diff between two images"
else
	tap_not_ok "podman diff between two images" "$out"
fi

out=$(pm run --rm --network=none localhost/bb cat /etc/motd 2>&1)
is "$out" "from the image" "the original image is unchanged"

out=$(pm run --rm --network=none --userns=keep-id localhost/bb \
	sh -c 'id -u; echo kept >/tmp/k && ls -ln /tmp/k | awk "{print \$3}"; stat -c %u /etc/motd' 2>&1)
is "$out" "$(printf '%s\n%s\n0' "$TU_UID" "$TU_UID")" "--userns=keep-id: own uid inside, files of root stay root"

argv=$(cat "$W/log/argv" 2>/dev/null)
if grep -q 'uidmapping=' <<<"$argv" && grep -q 'gidmapping=' <<<"$argv"; then
	tap_ok "--userns=keep-id passes uidmapping= and gidmapping="
else
	tap_not_ok "--userns=keep-id passes uidmapping= and gidmapping=" "$argv"
fi

if grep -v upperdir= <<<"$argv" | grep -q 'lowerdir=.*:'; then
	tap_ok "lower-only mounts (no upperdir) were used, for diff and commit"
else
	tap_not_ok "lower-only mounts (no upperdir) were used, for diff and commit" "$argv"
fi

pm rm -f changed >/dev/null 2>&1
tap_diag "options podman passed to $(basename "$target"), one call a line:"
tap_diag "$(sed "s|$W|\$W|g; s|$TU_HOME|~|g" <<<"$argv")"
tap_done
