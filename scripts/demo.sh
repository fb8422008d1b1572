#!/bin/bash
# make demo: a busybox image as two layers, merged by layerfs, with a
# copy-up and a deletion landing in the upper directory.
set -euo pipefail
BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
LAYERFS=$BUILD/layerfs
LAYERCTL=$BUILD/layerctl

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

"$(dirname "$0")/install-deps.sh"

DEMO=$(mktemp -d /tmp/layerfs-demo.XXXXXX)
cleanup() { fusermount3 -u "$DEMO/merged" 2>/dev/null || umount "$DEMO/merged" 2>/dev/null || true; }
trap cleanup EXIT

say "base layer: busybox-static as a tiny root filesystem"
base=$DEMO/layers/base
mkdir -p "$base"/{bin,etc,tmp,root}
cp /bin/busybox "$base/bin/busybox"
for app in sh ls cat echo rm mkdir; do ln -s busybox "$base/bin/$app"; done
echo "root:x:0:0:root:/root:/bin/sh" > "$base/etc/passwd"
echo "welcome to the base layer" > "$base/etc/motd"
echo "temporary" > "$base/tmp/scratch"
find "$base" -printf '  %P\n' | sort

say "second layer (OCI style): adds /etc/hostname, deletes /tmp/scratch"
top=$DEMO/layers/top
mkdir -p "$top"/{etc,tmp}
echo demo > "$top/etc/hostname"
: > "$top/tmp/.wh.scratch"
find "$top" -printf '  %P\n' | sort

say "mount: layerfs -o lowerdir=top:base,upperdir=upper,workdir=work merged"
mkdir -p "$DEMO"/{upper,work,merged}
"$LAYERFS" -o "lowerdir=$top:$base,upperdir=$DEMO/upper,workdir=$DEMO/work" "$DEMO/merged"
ls -l "$DEMO/merged" "$DEMO/merged/etc" "$DEMO/merged/tmp"

say "run the image's own shell inside the merged tree"
chroot "$DEMO/merged" /bin/sh -c 'echo "hello from $(cat /etc/hostname)"; cat /etc/motd'

say "copy-up: append to /etc/motd (a lower file)"
echo "changed in the container" >> "$DEMO/merged/etc/motd"
echo "merged view:"; sed 's/^/  /' "$DEMO/merged/etc/motd"
echo "base layer, untouched:"; sed 's/^/  /' "$base/etc/motd"

say "deletion: rm /bin/ls leaves a whiteout in the upper"
rm "$DEMO/merged/bin/ls"
ls "$DEMO/merged/bin"

say "the upper directory holds exactly the changes"
(cd "$DEMO/upper" && find . -mindepth 1 -printf '  %P  (%M)\n' | sort)

say "unmount"
fusermount3 -u "$DEMO/merged"
trap - EXIT

say "layerctl: import the base layer as an image (an OCI layout store)"
store=$DEMO/store
tar -C "$base" -cf "$DEMO/base.tar" .
"$LAYERCTL" --root "$store" --quiet import "$DEMO/base.tar" demo-base:1.0.0
"$LAYERCTL" --root "$store" images

say "layerctl run: a container from the image, in its own namespaces"
"$LAYERCTL" --root "$store" run --rm --hostname demo demo-base:1.0.0 \
	sh -c 'echo "hello from $(cat /proc/sys/kernel/hostname), pid $$"; ls /'
echo "demo files left in $DEMO"
