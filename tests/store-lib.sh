# Helpers for the store-*.t suites: small real images built with umoci from
# busybox-static, tree listings, and merging extracted layers the way a
# union mount shows them.  Source after lib.sh.

# A fresh store and scratch directory, removed on exit.
store_setup() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/store-test.XXXXXX")
	chmod 755 "$WORK"
	STORE=$WORK/store
	export LAYERCTL_ROOT=$STORE
	trap 'store_cleanup' EXIT
}
store_cleanup() {
	[ -n "${WORK:-}" ] && [ -d "$WORK" ] && { chmod -R u+rwx "$WORK" 2>/dev/null; rm -rf "$WORK"; }
}

# make_base_image LAYOUT TAG: busybox, a few applet links, /etc files.
make_base_image() {
	local layout=$1 tag=$2 rf=$WORK/base-rootfs
	[ -d "$layout" ] || umoci init --layout "$layout" >/dev/null
	umoci new --image "$layout:$tag" >/dev/null
	rm -rf "$rf"; mkdir -p "$rf/bin" "$rf/etc" "$rf/var/lib/data" "$rf/tmp"
	cp /bin/busybox "$rf/bin/busybox"
	local a; for a in sh ls cat echo; do ln -s busybox "$rf/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rf/etc/passwd"
	printf 'hello\n' > "$rf/etc/motd"
	printf 'data\n' > "$rf/var/lib/data/file"
	chmod 1777 "$rf/tmp"
	umoci insert --image "$layout:$tag" "$rf/bin" /bin >/dev/null
	umoci insert --image "$layout:$tag" "$rf/etc" /etc >/dev/null
	umoci insert --image "$layout:$tag" "$rf/var" /var >/dev/null
	umoci insert --image "$layout:$tag" "$rf/tmp" /tmp >/dev/null
	umoci config --image "$layout:$tag" --config.cmd /bin/sh >/dev/null
}

# make_derived_image LAYOUT FROM TO: unpack, change (delete, add, modes,
# owners, hardlink, fifo, setuid), repack: a layer with whiteouts.
make_derived_image() {
	local layout=$1 from=$2 to=$3 b=$WORK/bundle-$3
	rm -rf "$b"
	umoci unpack --image "$layout:$from" "$b" >/dev/null
	local r=$b/rootfs
	rm "$r/etc/motd"
	rm -rf "$r/var/lib/data"
	mkdir -p "$r/opt/app"
	printf '#!/bin/sh\necho app\n' > "$r/opt/app/run"
	chown 33:44 "$r/opt/app/run"
	chmod 4755 "$r/opt/app/run"
	ln "$r/opt/app/run" "$r/opt/app/run-link"
	mkfifo "$r/opt/app/fifo"
	chown 1000:1000 "$r/opt/app"
	chmod 2775 "$r/opt/app"
	printf 'changed\n' > "$r/etc/passwd"
	umoci repack --image "$layout:$to" "$b" >/dev/null
	rm -rf "$b"
}

# tree_listing DIR: one line per entry with type, mode, owner, size, link
# target and content hash (whiteout files excluded: a merged view has none).
tree_listing() {
	(cd "$1" && find . -mindepth 1 ! -name '.wh.*' -printf '%P|%y|%m|%U:%G|%l|' \
		-exec sh -c 'if [ -f "$1" ] && [ ! -L "$1" ]; then sha256sum < "$1" | cut -c1-16; else echo; fi' _ {} \; |
		sort)
}

# image_diff_ids IMAGE: the DiffIDs of an image, base first.
image_diff_ids() {
	"$LAYERCTL" inspect --json "$1" | jq -r '.layers[].diff_id'
}

# merge_layers IMAGE OUT: apply the extracted layers in order, honouring
# .wh.NAME whiteouts and .wh..wh..opq opaque markers.
merge_layers() {
	local img=$1 out=$2 id tree f d
	rm -rf "$out"; mkdir -p "$out"
	for id in $(image_diff_ids "$img"); do
		tree=$STORE/layers/${id#sha256:}/tree
		while IFS= read -r f; do
			d=$(dirname "$f")
			if [ "$(basename "$f")" = .wh..wh..opq ]; then
				find "$out/$d" -mindepth 1 -delete 2>/dev/null
			else
				rm -rf "$out/$d/$(basename "$f" | sed 's/^\.wh\.//')"
			fi
		done < <(cd "$tree" && find . -name '.wh.*' | sort)
		(cd "$tree" && tar --exclude='.wh.*' --numeric-owner -cf - .) |
			(cd "$out" && tar --numeric-owner -xpf -)
	done
}
