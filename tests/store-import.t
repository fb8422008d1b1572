#!/bin/bash
# Round trips with real tools: images made by umoci (insert, and unpack +
# repack with whiteouts), converted by skopeo into docker-archive,
# oci-archive and zstd layers, imported; the merged layers equal what
# `umoci unpack` produces, and skopeo and umoci read the store.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
need_root
need_cmd umoci skopeo jq busybox
[ -x "$LAYERCTL" ] || tap_skip_all "layerctl is not built ($LAYERCTL)"
store_setup

OCI=$WORK/oci
make_base_image "$OCI" base
make_derived_image "$OCI" base v2
umoci unpack --image "$OCI:v2" "$WORK/want" >/dev/null
tree_listing "$WORK/want/rootfs" > "$WORK/want.list"
[ -s "$WORK/want.list" ] && tap_ok "umoci built and unpacked a two-step image" ||
	tap_not_ok "umoci built and unpacked a two-step image"

# same_tree IMAGE DESC: the merged layers of IMAGE equal umoci's rootfs.
same_tree() {
	merge_layers "$1" "$WORK/merged"
	tree_listing "$WORK/merged" > "$WORK/got.list"
	if diff -u "$WORK/want.list" "$WORK/got.list" > "$WORK/diff.out"; then
		tap_ok "$2"
	else
		tap_not_ok "$2" "$(head -40 "$WORK/diff.out")"
	fi
}

check "import of an oci layout holding two tagged images" "$LAYERCTL" import --quiet "$OCI"
check "its tags become names" "$LAYERCTL" inspect v2
"$LAYERCTL" tag v2 t/oci:v2.0.0 2>/dev/null
same_tree t/oci:v2.0.0 "oci layout: merged layers equal umoci unpack"

skopeo copy -q oci:"$OCI":v2 docker-archive:"$WORK/d.tar":t/docker:v2.0.0 >/dev/null 2>&1
check "import of a skopeo docker-archive (symlinked layer.tar)" "$LAYERCTL" import "$WORK/d.tar"
same_tree t/docker:v2.0.0 "docker-archive: merged layers equal umoci unpack"
is "$("$LAYERCTL" inspect --json t/docker:v2.0.0 | jq -r .id)" \
   "$("$LAYERCTL" inspect --json t/oci:v2.0.0 | jq -r .id)" "docker-archive keeps the config digest"

# Through a pipe written in odd-sized pieces: blocks of the outer archive
# end anywhere, also inside the first bytes of a layer.
# The pipe pauses 100 bytes into the data of the second layer.
blk=$(tar -tRvf "$WORK/d.tar" | grep '\.tar$' | sed -n '2s/^block \([0-9]*\):.*/\1/p')
cut=$(( (blk + 1) * 512 + 100 ))
check "import of a docker-archive from a pipe that pauses inside a layer's first block" \
	sh -c "{ head -c $cut '$WORK/d.tar'; sleep 0.5; tail -c +$((cut + 1)) '$WORK/d.tar'; } |
	       '$LAYERCTL' import - t/piped:v2.0.0"
same_tree t/piped:v2.0.0 "piped docker-archive: merged layers equal umoci unpack"

# The classic docker save layout with real <id>/layer.tar files ("./"
# names), and the Docker 25+ one (OCI blobs named by manifest.json).
rm -rf "$WORK/dx"; mkdir "$WORK/dx"
tar -xf "$WORK/d.tar" -C "$WORK/dx" && (cd "$WORK/dx" && tar -chf "$WORK/classic.tar" ./manifest.json ./repositories $(ls | grep -v -e manifest.json -e repositories))
check "import of a classic docker save archive" "$LAYERCTL" import "$WORK/classic.tar" t/classic:v2.0.0
same_tree t/classic:v2.0.0 "classic docker save: merged layers equal umoci unpack"
rm -rf "$WORK/d25"
skopeo copy -q --dest-decompress oci:"$OCI":v2 oci:"$WORK/d25":v2 >/dev/null 2>&1
m=$(jq -r '.manifests[0].digest' "$WORK/d25/index.json" | cut -c8-)
jq -c --arg m "$m" '[{Config: ("blobs/sha256/" + (.config.digest | sub("sha256:"; ""))),
	RepoTags: ["t/docker25:v2.0.0"],
	Layers: [.layers[].digest | "blobs/sha256/" + sub("sha256:"; "")]}]' \
	"$WORK/d25/blobs/sha256/$m" > "$WORK/d25/manifest.json"
(cd "$WORK/d25" && tar -cf "$WORK/d25.tar" blobs oci-layout index.json manifest.json)
check "import of a Docker 25+ save archive" "$LAYERCTL" import "$WORK/d25.tar"
same_tree t/docker25:v2.0.0 "Docker 25+ archive: merged layers equal umoci unpack"

skopeo copy -q oci:"$OCI":v2 oci-archive:"$WORK/o.tar":v2 >/dev/null 2>&1
check "import of an oci-archive from standard input" \
	sh -c "'$LAYERCTL' import - t/ociarch:v2.0.0 < '$WORK/o.tar'"
same_tree t/ociarch:v2.0.0 "oci-archive: merged layers equal umoci unpack"

skopeo copy -q --dest-compress-format zstd --dest-compress oci:"$OCI":v2 oci:"$WORK/z":v2 >/dev/null 2>&1
check "import of zstd layers" "$LAYERCTL" import "$WORK/z" t/zstd:v2.0.0
mt=$("$LAYERCTL" inspect --json t/zstd:v2.0.0 | jq -r '.layers[0].digest' |
	xargs -I{} "$LAYERCTL" inspect --json {} | jq -r '.blobs[].mediaType' | sort | tr '\n' ' ')
case $mt in *zstd*) tap_ok "a zstd blob is recorded for the shared layer ($mt)";;
	*) tap_not_ok "a zstd blob is recorded for the shared layer" "got: $mt";; esac
same_tree t/zstd:v2.0.0 "zstd: merged layers equal umoci unpack"

# A single gzip layer, and a rootless-unpacked tree repacked.
(cd "$WORK/want/rootfs" && tar --numeric-owner -czf "$WORK/flat.tar.gz" .)
check "import of a single tar+gzip layer" "$LAYERCTL" import "$WORK/flat.tar.gz" t/flat:v1.0.0
same_tree t/flat:v1.0.0 "single layer: merged tree equals umoci unpack"
rm -rf "$WORK/rl"
umoci unpack --rootless --image "$OCI:v2" "$WORK/rl" >/dev/null 2>&1 &&
	umoci repack --image "$OCI:rl" "$WORK/rl" >/dev/null 2>&1
check "import of a rootless-unpacked, repacked image" "$LAYERCTL" import "$OCI" 

# xattrs from PAX SCHILY.xattr records.
mkdir -p "$WORK/xa"; printf 'x\n' > "$WORK/xa/file"
if setfattr -n user.layerctl.test -v hello "$WORK/xa/file" 2>/dev/null &&
   setfattr -n trusted.layerctl.test -v root "$WORK/xa/file" 2>/dev/null; then
	(cd "$WORK/xa" && tar --xattrs --xattrs-include='*' -cf "$WORK/xa.tar" file)
	"$LAYERCTL" import -q "$WORK/xa.tar" t/xattr:v1.0.0 >/dev/null
	t=$STORE/layers/$(image_diff_ids t/xattr:v1.0.0 | cut -c8-)/tree
	is "$(getfattr --only-values -n user.layerctl.test "$t/file" 2>/dev/null)/$(getfattr --only-values -n trusted.layerctl.test "$t/file" 2>/dev/null)" \
		"hello/root" "user.* and trusted.* xattrs are kept"
else
	tap_skip "xattrs are kept" "this file system takes no user/trusted xattrs"
fi

check "verify passes on the whole store" "$LAYERCTL" verify

# Other tools read the store.
dg=$(skopeo inspect oci:"$STORE":t/oci:v2.0.0 2>&1 | jq -r .Digest)
is "$dg" "$("$LAYERCTL" inspect --json t/oci:v2.0.0 | jq -r .digest)" "skopeo inspect reads the store"
rm -rf "$WORK/back"
if umoci unpack --image "$STORE:t/oci:v2.0.0" "$WORK/back" >/dev/null 2>&1; then
	tree_listing "$WORK/back/rootfs" > "$WORK/back.list"
	if diff -q "$WORK/want.list" "$WORK/back.list" >/dev/null; then tap_ok "umoci unpack reads the store"
	else tap_not_ok "umoci unpack reads the store" "$(diff "$WORK/want.list" "$WORK/back.list" | head)"; fi
else
	tap_not_ok "umoci unpack reads the store"
fi

# Through layerfs, when it is built and FUSE works here.
if [ -x "$LAYERFS" ] && [ -e /dev/fuse ]; then
	lower=$(image_diff_ids t/oci:v2.0.0 | tac | sed "s|^sha256:|$STORE/layers/|; s|$|/tree|" | paste -sd:)
	mkdir -p "$WORK/mnt"
	if "$LAYERFS" -o lowerdir="$lower" "$WORK/mnt" 2>/dev/null && mountpoint -q "$WORK/mnt"; then
		tree_listing "$WORK/mnt" > "$WORK/mnt.list"
		unmount_quiet "$WORK/mnt"
		if diff -q "$WORK/want.list" "$WORK/mnt.list" >/dev/null; then tap_ok "layerfs shows the umoci tree"
		else tap_not_ok "layerfs shows the umoci tree" "$(diff "$WORK/want.list" "$WORK/mnt.list" | head)"; fi
	else
		tap_skip "layerfs shows the umoci tree" "layerfs could not mount here"
	fi
else
	tap_skip "layerfs shows the umoci tree" "layerfs is not built in $LAYERFS_BUILD"
fi

# Listing, tagging, removal, gc.
n=$("$LAYERCTL" images --json | jq 'length')
[ "$n" -ge 4 ] && tap_ok "images --json lists the images ($n)" || tap_not_ok "images --json lists the images" "got $n"
"$LAYERCTL" images | grep -q '^t/docker:v2.0.0 ' && tap_ok "images table shows name:tag" ||
	tap_not_ok "images table shows name:tag"
nl=$("$LAYERCTL" layers --json | jq '[.[] | select(.files > 0)] | length')
[ "$nl" -ge 3 ] && tap_ok "layers --json lists layers with file counts" || tap_not_ok "layers --json" "got $nl"
check "tag an image by id prefix" "$LAYERCTL" tag "$("$LAYERCTL" inspect --json t/flat:v1.0.0 | jq -r .id | cut -c8-19)" t/again:v1.0.1
check "untag a name" "$LAYERCTL" untag t/again:v1.0.1
check "rm an image" "$LAYERCTL" rm t/flat:v1.0.0
"$LAYERCTL" inspect t/flat:v1.0.0 >/dev/null 2>&1; is "$?" 1 "a removed image is gone"
before=$(du -sk "$STORE" | cut -f1)
for r in $("$LAYERCTL" images --json | jq -r '.[].names[]'); do "$LAYERCTL" rm "$r" >/dev/null || break; done
after=$(du -sk "$STORE" | cut -f1)
[ "$after" -lt "$before" ] && tap_ok "removing every image frees space ($before kB -> $after kB)" ||
	tap_not_ok "removing every image frees space" "$before -> $after"
is "$(ls "$STORE/layers" | wc -l)" 0 "no layer is left"
out=$("$LAYERCTL" gc --dry-run); check "gc --dry-run reports" test -n "$out"
check "verify passes on the emptied store" "$LAYERCTL" verify
tap_done
