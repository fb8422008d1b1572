#!/bin/bash
# diff and commit of a container against umoci repack and tar, in one run:
#   1. a 10-file change (5 added, 3 changed, 2 deleted) on the debootstrap
#      image: layerctl diff, layerctl commit, umoci repack of the same change
#      (which walks the whole tree);
#   2. a 1 GiB change (16 files of base64 text): layerctl commit (gzip and
#      zstd; it also registers the layer: blob, tree and record), umoci
#      repack, tar -czf of the upper directory alone.
# RUNS rounds of the small cases (BIG_RUNS of the large ones), medians and
# ratios printed.  No assertions.  Needs root (mounts), umoci, debootstrap
# data from bench/data.sh (/var/cache/layerfs-bench/rootfs/base), else about
# 200 MB of files from /usr.
#
#   LAYERFS_BUILD=build bench/commit.sh [RUNS] [BIG_RUNS]
set -euo pipefail
RUNS=${1:-5}
BIG_RUNS=${2:-1}
BUILD=${LAYERFS_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
L=$BUILD/layerctl
[ -x "$L" ] || { echo "bench: $L is not built" >&2; exit 1; }
command -v umoci >/dev/null || { echo "bench: umoci is not installed" >&2; exit 1; }
if [ -z "${BENCH_COMMIT_NS:-}" ]; then
	BENCH_COMMIT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
W=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-commit.XXXXXX")
cleanup() {
	local m
	for m in $(awk -v p="$W/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT
export LAYERCTL_ROOT=$W/store

. "$(dirname "$0")/sample-tar.sh"
. "$(dirname "$0")/lib.sh"    # now, median
bench_sample_tar /var/cache/layerfs-bench/rootfs/base "$W/layer.tar"
umoci init --layout "$W/oci" >/dev/null
umoci new --image "$W/oci:base" >/dev/null
umoci raw add-layer --image "$W/oci:base" "$W/layer.tar" >/dev/null
"$L" -q import "$W/oci" >/dev/null
files=$(tar -tf "$W/layer.tar" | wc -l)
rm -f "$W/layer.tar"

declare -A T
# timeit NAME CMD: append one timing of CMD (a string, eval'd) to NAME.
timeit() {
	local t0 t1
	t0=$(now)
	eval "$2" >/dev/null
	t1=$(now)
	T[$1]+="$(echo "$t1 - $t0" | bc) "
}
med() { median <<<"${T[$1]}"; }

# small_change ROOT: 5 files added, 3 changed, 2 deleted.
small_change() {
	local r=$1 k
	mkdir -p "$r/opt/bench"
	for k in 1 2 3 4 5; do echo "file $k" >"$r/opt/bench/f$k"; done
	echo "# bench" >>"$r/etc/bash.bashrc"
	echo "# bench" >>"$r/etc/profile"
	echo "bench" >>"$r/etc/issue"
	rm -f "$r/etc/motd" "$r/etc/debian_version"
}
# big_change ROOT: 16 files of 64 MiB of base64 text (1 GiB).
big_change() {
	local k
	mkdir -p "$1/data"
	for k in $(seq -w 1 16); do
		if [ -f "$W/big-src-$k" ]; then
			cp "$W/big-src-$k" "$1/data/blob$k"
		else
			head -c 50331648 /dev/urandom | base64 -w 0 | head -c 67108864 >"$W/big-src-$k"
			cp "$W/big-src-$k" "$1/data/blob$k"
		fi
	done
}

umoci unpack --image "$W/oci:base" "$W/bundle" >/dev/null
small_change "$W/bundle/rootfs"
"$L" create --name small base >/dev/null
small_change "$("$L" mount small)"
echo "diff: $("$L" diff small | wc -l) lines"
for ((i = 0; i < RUNS; i++)); do
	timeit diff '"$L" diff small'
	timeit commit '"$L" -q commit small small:r$i'
	timeit repack 'umoci repack --image "$W/oci:small$i" "$W/bundle"'
done
"$L" rm small >/dev/null

rm -rf "$W/bundle"
umoci unpack --image "$W/oci:base" "$W/bundle" >/dev/null
big_change "$W/bundle/rootfs"
"$L" create --name big base >/dev/null
big_change "$("$L" mount big)"
sync
up=$(ls -d "$W"/store/containers/*/upper)
for ((i = 0; i < BIG_RUNS; i++)); do
	timeit big_commit '"$L" -q commit big big:r$i'
	timeit big_commit_zstd '"$L" -q commit --compress zstd big bigz:r$i'
	timeit big_repack 'umoci repack --image "$W/oci:big$i" "$W/bundle"'
	timeit big_targz 'tar -C "$up" -czf "$W/upper.tar.gz" .'
	rm -f "$W/upper.tar.gz"
done

r() { echo "scale=1; $(med "$1") / $(med "$2")" | bc; }
cat <<EOF2
image: $what, $files entries; $RUNS runs (1 GiB change: $BIG_RUNS), medians in seconds
10-file change
  layerctl diff              $(med diff)
  layerctl commit            $(med commit)
  umoci repack               $(med repack)    (repack / commit: $(r repack commit)x, repack / diff: $(r repack diff)x)
1 GiB change
  layerctl commit (gzip)     $(med big_commit)   ($(echo "scale=0; 1024 / $(med big_commit)" | bc) MiB/s)
  layerctl commit (zstd)     $(med big_commit_zstd)   ($(echo "scale=0; 1024 / $(med big_commit_zstd)" | bc) MiB/s)
  umoci repack               $(med big_repack)   (repack / commit gzip: $(r big_repack big_commit)x)
  tar -czf upper/            $(med big_targz)   (tar / commit gzip: $(r big_targz big_commit)x)
EOF2
