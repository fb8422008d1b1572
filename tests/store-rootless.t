#!/bin/bash
# Unprivileged import of an image whose files belong to several users and
# which holds device nodes: what an ordinary user cannot apply is kept in
# the user.containers.override_stat xattr, as in the tar.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
need_root
need_cmd useradd setpriv getfattr
[ -x "$LAYERCTL" ] || tap_skip_all "layerctl is not built ($LAYERCTL)"
store_setup

USER_NAME=layerctl-test
id "$USER_NAME" >/dev/null 2>&1 || useradd -M -s /bin/false "$USER_NAME" 2>/dev/null ||
	tap_skip_all "cannot create user $USER_NAME"
uid=$(id -u "$USER_NAME")
as_user() { setpriv --reuid="$uid" --regid="$(id -g "$USER_NAME")" --init-groups \
	env LAYERCTL_ROOT="$STORE" HOME="$WORK" "$@"; }

# The image: one layer built as root with real owners and devices.
src=$WORK/src
mkdir -p "$src/home/alice" "$src/home/bob" "$src/dev" "$src/srv"
printf 'alice\n' > "$src/home/alice/notes"; chown -R 51001:51001 "$src/home/alice"; chmod 0700 "$src/home/alice"
printf 'bob\n' > "$src/home/bob/notes"; chown 51002:100 "$src/home/bob/notes"; chmod 0640 "$src/home/bob/notes"
printf 'shared\n' > "$src/srv/readonly"; chmod 0444 "$src/srv/readonly"; chown 33:33 "$src/srv/readonly"
chmod 0555 "$src/srv"
mknod "$src/dev/null" c 1 3; chmod 0666 "$src/dev/null"
mknod "$src/dev/sda" b 8 0; chown 0:6 "$src/dev/sda"; chmod 0660 "$src/dev/sda"
printf 'root\n' > "$src/suid"; chmod 4755 "$src/suid"
(cd "$src" && tar --numeric-owner -cf "$WORK/layer.tar" .)

install -d -o "$uid" -m 0755 "$STORE"
chmod 0644 "$WORK/layer.tar"
out=$(as_user "$LAYERCTL" import "$WORK/layer.tar" owners:v1.0.0 2>&1)
is "$?" 0 "an ordinary user imports the image ($out)"
tree=$STORE/layers/$(as_user "$LAYERCTL" inspect --json owners:v1.0.0 | jq -r '.layers[0].diff_id' | cut -c8-)/tree
ovs() { getfattr --absolute-names --only-values -n user.containers.override_stat "$tree/$1" 2>/dev/null; }

is "$(stat -c %u "$tree/home/bob/notes")" "$uid" "files belong to the importing user on disk"
is "$(ovs home/alice)" "51001:51001:0700:dir" "a foreign directory keeps owner and mode in the xattr"
is "$(ovs home/bob/notes)" "51002:100:0640:file" "a foreign file keeps owner and mode in the xattr"
is "$(ovs srv/readonly)" "33:33:0444:file" "a read-only file keeps its mode in the xattr"
is "$(ovs srv)" "0:0:0555:dir" "a read-only directory keeps its mode in the xattr"
is "$(ovs dev/null)" "0:0:0666:char-1-3" "a char device is an override naming it"
is "$(stat -c %F "$tree/dev/null")" "regular empty file" "the device itself is an empty regular file"
is "$(ovs dev/sda)" "0:6:0660:block-8-0" "a block device is an override naming it"
is "$(ovs suid)" "0:0:04755:file" "setuid survives in the xattr"
check "verify, as the user, reads the overrides as the truth" as_user "$LAYERCTL" verify
check "gc as the user removes unprivileged trees" sh -c \
	"$(printf '%q ' setpriv --reuid="$uid" --regid="$(id -g "$USER_NAME")" --init-groups env LAYERCTL_ROOT="$STORE") $LAYERCTL rm owners:v1.0.0"
is "$(ls "$STORE/layers" | wc -l)" 0 "no layer left after rm"

# Through layerfs: the unprivileged tree shows the tar's owners, modes and
# devices (mounted here by root, told to read the override xattr, as it
# does by itself when not root).
if [ -x "$LAYERFS" ] && [ -e /dev/fuse ]; then
	as_user "$LAYERCTL" import -q "$WORK/layer.tar" owners:v1.0.0 >/dev/null
	tree=$STORE/layers/$(as_user "$LAYERCTL" inspect --json owners:v1.0.0 | jq -r '.layers[0].diff_id' | cut -c8-)/tree
	mkdir -p "$WORK/mnt"
	if "$LAYERFS" -o lowerdir="$tree",xattr_permissions=2 "$WORK/mnt" 2>/dev/null && mountpoint -q "$WORK/mnt"; then
		want=$(cd "$src" && find . -mindepth 1 -printf '%P %y %m %U:%G\n' | sort)
		got=$(cd "$WORK/mnt" && find . -mindepth 1 -printf '%P %y %m %U:%G\n' | sort)
		devs=$(stat -c '%n %F %t:%T' "$WORK/mnt/dev/null" "$WORK/mnt/dev/sda" | sed "s|$WORK/mnt/||")
		unmount_quiet "$WORK/mnt"
		is "$got" "$want" "through layerfs owners, modes and types are as in the tar"
		is "$devs" "$(printf 'dev/null character special file 1:3\ndev/sda block special file 8:0')" \
			"through layerfs device numbers are as in the tar"
	else
		tap_skip "owners through layerfs" "layerfs could not mount here"
	fi
else
	tap_skip "owners through layerfs" "layerfs is not built in $LAYERFS_BUILD or /dev/fuse is missing"
fi
tap_done
