#!/bin/bash
# layerctl diff and commit of a scripted set of changes made through a real
# layerfs mount (layerctl create + mount): the diff lines are those the
# operations call for (and those podman prints for the same operations,
# where podman runs); the committed image, unpacked by umoci and mounted by
# layerfs, is the container's view; commits are reproducible; squash.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/store-lib.sh"
. "$TESTS_DIR/commit-lib.sh"
need_root
need_cmd umoci jq setfattr python3 unshare
[ -x "$LAYERCTL" ] && [ -x "$LAYERFS" ] || tap_skip_all "layerctl or layerfs is not built"
[ -e /dev/fuse ] || tap_skip_all "/dev/fuse is missing"
commit_own_namespace
store_setup
L=$LAYERCTL
T=1700000000

make_change_image "$WORK/oci" img
check "import of a two-layer image" "$L" import -q "$WORK/oci"
id=$("$L" create --name c img 2>&1)
[[ "$id" =~ ^[0-9a-f]{64}$ ]] && tap_ok "create prints the new container's id" ||
	tap_not_ok "create prints the new container's id" "$id"
M=$("$L" mount c 2>&1)
is "$M" "$STORE/containers/$id/merged" "mount prints the mount point"
is "$("$L" mount c 2>&1)" "$M" "mount of a mounted container prints it again"
is "$("$L" diff c 2>&1)" "" "a new container has no changes"

apply_changes "$M"
want=$(expected_diff | LC_ALL=C sort -k2)
got=$("$L" diff c 2>&1)
is "$got" "$want" "diff lists the scripted changes as the operations call for"
is "$("$L" diff --json c | jq -c '[(.added|length), (.changed|length), (.deleted|length)]')" \
	"[$(grep -c '^A' <<<"$want"),$(grep -c '^C' <<<"$want"),$(grep -c '^D' <<<"$want")]" \
	"diff --json has the same lines in added, changed, deleted"

# podman (rootful, layerfs as its mount program, so it uses its naive diff
# over a mount, as rootless podman does) on the same operations.
PM=/tmp/layerfs-commit-podman-$$
trap 'unmount_below "$PM"; rm -rf "$PM"; unmount_below "$WORK"; store_cleanup' EXIT
podman_diff() {
	# A lowercase path: podman names the pulled image after it.
	mkdir -p "$PM" && cp -a "$WORK/oci" "$PM/oci"
	local P=(podman --root "$PM/root" --runroot "$PM/run" --storage-driver overlay
		--storage-opt "overlay.mount_program=$LAYERFS" --cgroup-manager cgroupfs
		--events-backend file --log-level=error)
	local img cid pm
	img=$("${P[@]}" pull -q "oci:$PM/oci:img" 2>&1) || { echo "$img"; return 1; }
	cid=$("${P[@]}" create "$img" /bin/sh 2>&1) || { echo "$cid"; return 1; }
	pm=$("${P[@]}" mount "$cid" 2>&1) || { echo "$pm"; return 1; }
	apply_changes "$pm"
	"${P[@]}" diff "$cid" 2>&1
	"${P[@]}" umount -a >/dev/null 2>&1
}
if command -v podman >/dev/null && command -v runc >/dev/null; then
	if pout=$(podman_diff 2>&1); then
		is "$(LC_ALL=C sort -k2 <<<"$pout")" "$want" "podman diff of the same operations gives the same lines"
	else
		tap_skip "podman diff of the same operations" "podman cannot run here: $(tail -n 2 <<<"$pout" | tr '\n' ' ')"
	fi
else
	tap_skip "podman diff of the same operations" "podman or runc is not installed"
fi

out=$("$L" commit --timestamp $T -m "the scripted changes" -a "A. Author" c out:one 2>/dev/null)
[[ "$out" =~ ^sha256:[0-9a-f]{64}$ ]] && tap_ok "commit prints the new image's digest" ||
	tap_not_ok "commit prints the new image's digest" "$out"
cfg=$(umoci stat --image "$STORE:out:one" --json 2>/dev/null | jq -r '.history | length')
is "$cfg" 3 "umoci reads the committed image: its history has one entry more"
conf=$(skopeo inspect --config "oci:$STORE:out:one" 2>/dev/null || true)
if [ -n "$conf" ]; then
	is "$(jq -c '[.created, .author, .history[-1].comment, .history[-1].created, (.rootfs.diff_ids|length)]' <<<"$conf")" \
		'["2023-11-14T22:13:20Z","A. Author","the scripted changes","2023-11-14T22:13:20Z",3]' \
		"the config: created and history clamped to --timestamp, author, comment, one DiffID more"
else
	tap_skip "the config of the committed image" "skopeo is not installed"
fi

rm -rf "$WORK/bundle"
if umoci unpack --image "$STORE:out:one" "$WORK/bundle" >"$WORK/umoci.log" 2>&1; then
	same_listing "$M" "$WORK/bundle/rootfs" \
		"umoci's unpack of the committed image is the container's view (types, modes, owners, sizes, contents, links, xattrs)"
	r=$WORK/bundle/rootfs
	[ "$(stat -c %i "$r/added.txt")" == "$(stat -c %i "$r/added-link")" ] &&
	[ "$(stat -c %i "$r/lnk/target")" == "$(stat -c %i "$r/lnk/second")" ] &&
		tap_ok "hardlinks stay hardlinks" || tap_not_ok "hardlinks stay hardlinks"
else
	tap_not_ok "umoci unpacks the committed image" "$(tail -5 "$WORK/umoci.log")"
	tap_not_ok "hardlinks stay hardlinks"
fi

blob=$STORE/blobs/sha256/$(jq -r '.layers[-1].digest' "$STORE/blobs/sha256/${out#sha256:}" | cut -d: -f2)
listing=$(tar -tzf "$blob" 2>&1)
for e in .wh.fifo-none etc/.wh.motd data/.wh..wh..opq srv/.wh.old srv/new/l2; do
	case $e in
	*-none) grep -qxF "${e%-none}" <<<"$listing" && tap_not_ok "no '${e%-none}' in the layer" || tap_ok "no '${e%-none}' in the layer";;
	*) grep -qxF "$e" <<<"$listing" && tap_ok "the layer has '$e'" || tap_not_ok "the layer has '$e'" "$listing";;
	esac
done
hdrs=$(zcat "$blob" | grep -a -c 'LIBARCHIVE.xattr')
schily=$(zcat "$blob" | grep -a -c 'SCHILY.xattr.user.test')
is "$hdrs:$((schily > 0))" "0:1" "xattrs as SCHILY.xattr.* only"
is "$(head -c 10 "$blob" | od -An -tx1 | tr -d ' ')" "1f8b0800000000000003" \
	"gzip header without a name or time"

id2=$("$L" create --name c2 out:one)
M2=$("$L" mount c2)
same_listing "$M" "$M2" "the committed image mounted by layerfs is the container's view"
is "$("$L" diff c2)" "" "a container of the committed image has no changes"

# Reproducible: the same changes and --timestamp, the same bytes.
out2=$("$L" commit --timestamp $T -m "the scripted changes" -a "A. Author" c out:two 2>/dev/null)
is "$out2" "$out" "a second commit with the same timestamp gives the same manifest digest"
for alg in zstd none; do
	a=$("$L" commit --compress $alg --timestamp $T c out:$alg-a 2>/dev/null)
	b=$(SOURCE_DATE_EPOCH=$T "$L" commit --compress $alg c out:$alg-b 2>/dev/null)
	la=$(jq -r '.layers[-1] | "\(.mediaType) \(.digest)"' "$STORE/blobs/sha256/${a#sha256:}")
	lb=$(jq -r '.layers[-1] | "\(.mediaType) \(.digest)"' "$STORE/blobs/sha256/${b#sha256:}")
	if [ -n "$a" ] && [ "$la" == "$lb" ] && [[ "$la" == *"$([ $alg == none ] && echo .tar || echo +$alg) sha256:"* ]]; then
		tap_ok "--compress $alg: --timestamp and SOURCE_DATE_EPOCH give the same blob ($la)"
	else
		tap_not_ok "--compress $alg: --timestamp and SOURCE_DATE_EPOCH give the same blob" "$la" "$lb"
	fi
done
check "verify: every blob and layer of the store is sound" "$L" verify

is "$("$L" diff out:one img)" "$(grep -vxF "$XATTR_ONLY" <<<"$want")" \
	"diff IMAGE1 IMAGE2 (from the layer records, which carry no xattrs) gives the container's lines"
is "$("$L" diff out:one)" "$(grep -vxF "$XATTR_ONLY" <<<"$want")" \
	"diff IMAGE (its top layer against those below) gives the same"

# Squashed images show the same view.
check "commit --squash" "$L" -q commit --squash --timestamp $T c sq:commit
check "squash of every layer" "$L" -q squash --timestamp $T out:one sq:all
check "squash --from 1" "$L" -q squash --from 1 out:one sq:from1
is "$("$L" inspect --json sq:commit | jq '.layers|length') $("$L" inspect --json sq:all | jq '.layers|length') $("$L" inspect --json sq:from1 | jq '.layers|length')" \
	"1 1 2" "the squashed images have 1, 1 and 2 layers"
for i in sq:commit sq:all sq:from1; do
	cid=$("$L" create "$i")
	same_listing "$M" "$("$L" mount "$cid")" "$i mounted is the container's view"
done

# Metadata-only copy-ups and renamed directories (layerfs with metacopy=on
# launched directly, as tests/overlay-lib.sh does): the data stays below.
id3=$("$L" create --name meta img)
C=$STORE/containers/$id3
"$LAYERFS" -o "lowerdir=$(jq -r '.lowerdirs | join(":")' "$C/config.json"),upperdir=$C/upper,workdir=$C/work,metacopy=on,redirect_dir=on" "$C/merged"
chmod 600 "$C/merged/bin/busybox"
mv "$C/merged/srv" "$C/merged/srv2"
chmod 700 "$C/merged/srv2/old/a"
getfattr -h -d -m - "$C/upper/bin/busybox" 2>/dev/null | grep -q 'overlay.metacopy' &&
	[ "$(stat -c %b "$C/upper/bin/busybox")" -lt 100 ] &&
	tap_ok "chmod made a metadata-only copy-up" || tap_skip "chmod made a metadata-only copy-up" "layerfs copied the data"
is "$("$L" diff meta | tr '\n' ' ')" "C /bin C /bin/busybox D /srv A /srv2 A /srv2/old A /srv2/old/a A /srv2/old/b A /srv2/old/b/c A /srv2/old/l2 " \
	"diff of a metacopy file and a renamed directory"
d=$("$L" -q commit --timestamp $T meta meta:one)
m4=$("$L" mount "$("$L" create meta:one)")
same_listing "$C/merged" "$m4" "the commit carries the data of the metacopy file and the renamed directory's lower contents"

check "umount" "$L" umount c
mountpoint -q "$M" && tap_not_ok "the mount point is gone after umount" || tap_ok "the mount point is gone after umount"
out=$("$L" rm c 2>&1)
[[ "$out" == "removed container ${id:0:12} (c) and its writable layer"* ]] && [ ! -e "$STORE/containers/$id" ] &&
	tap_ok "rm says what it removed" || tap_not_ok "rm says what it removed" "$out"
out=$("$L" rm c2 2>&1)
[ ! -e "$STORE/containers/$id2" ] && tap_ok "rm of a mounted container unmounts it first" ||
	tap_not_ok "rm of a mounted container unmounts it first" "$out"
tap_done
