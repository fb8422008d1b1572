#!/bin/bash
# Install the Debian packages that building layerfs and running the demo
# need, when any is missing (make demo runs this before building).
set -euo pipefail
need=()
pkg-config --exists fuse3 libarchive libcrypto libxxhash libzstd zlib 2>/dev/null ||
	need+=(pkg-config libfuse3-dev libarchive-dev libssl-dev libxxhash-dev libzstd-dev zlib1g-dev)
command -v cc >/dev/null || need+=(build-essential)
command -v fusermount3 >/dev/null || need+=(fuse3)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v newuidmap >/dev/null || need+=(uidmap)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing: ${need[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
