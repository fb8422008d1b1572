#!/bin/bash
# Export of a large image against skopeo, and the import of layers the
# store already holds.  One image (the debootstrap tree as one gzip layer),
# RUNS rounds of every case in turn, medians printed.  No assertions.
#
#   LAYERFS_BUILD=build bench/export.sh [RUNS]
# The tree is /var/cache/layerfs-bench/rootfs (bench/data.sh builds it)
# when present, else about 200 MB of files taken from /usr.
set -euo pipefail
RUNS=${1:-1}
BUILD=${LAYERFS_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
L=$BUILD/layerctl
[ -x "$L" ] || { echo "bench: $L is not built" >&2; exit 1; }
for c in umoci skopeo; do
	command -v $c >/dev/null || { echo "bench: $c is not installed" >&2; exit 1; }
done
W=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-export.XXXXXX")
trap 'rm -rf "$W"' EXIT

. "$(dirname "$0")/sample-tar.sh"
. "$(dirname "$0")/lib.sh"    # now, median
bench_sample_tar /var/cache/layerfs-bench/rootfs "$W/layer.tar"
umoci init --layout "$W/oci" >/dev/null
umoci new --image "$W/oci:b" >/dev/null
umoci raw add-layer --image "$W/oci:b" "$W/layer.tar" >/dev/null
rm -f "$W/layer.tar"
"$L" --root "$W/store" import -q "$W/oci" >/dev/null
"$L" --root "$W/store" tag -q b bench/big:1.0.0
S=$W/store

CASES=(oci oci_archive docker_archive skopeo_docker skopeo_oci_archive import_new import_stored)
declare -A CMD=(
	[oci]='"$L" --root "$S" export bench/big:1.0.0 --format oci -o "$W/x"'
	[oci_archive]='"$L" --root "$S" export bench/big:1.0.0 --format oci-archive -o "$W/x"'
	[docker_archive]='"$L" --root "$S" export bench/big:1.0.0 --format docker-archive -o "$W/x"'
	[skopeo_docker]='skopeo copy -q "oci:$S:bench/big:1.0.0" "docker-archive:$W/x:bench/big:1.0.0"'
	[skopeo_oci_archive]='skopeo copy -q "oci:$S:bench/big:1.0.0" "oci-archive:$W/x:bench/big:1.0.0"'
	[import_new]='"$L" --root "$W/s2" import -q "$W/d.tar"'
	[import_stored]='"$L" --root "$S" import -q "$W/d.tar"'
)
"$L" --root "$S" export bench/big:1.0.0 --format docker-archive -o "$W/d.tar"
for k in $(seq 1 "$RUNS"); do
	for c in "${CASES[@]}"; do
		rm -rf "$W/x" "$W/s2"
		sync
		s=$(now); eval "${CMD[$c]}" >/dev/null; e=$(now)
		echo "$e - $s" | bc >> "$W/times.$c"
	done
done

size() { du -sb "$1" | cut -f1; }
echo "export of one image: $what, gzip blob $(size "$W/oci/blobs") bytes, docker-archive $(size "$W/d.tar") bytes; median of $RUNS"
for c in "${CASES[@]}"; do
	printf '  %-20s %8.3f s\n' "$c" "$(median < "$W/times.$c")"
done
d=$(median < "$W/times.docker_archive"); sk=$(median < "$W/times.skopeo_docker")
echo "  layerctl docker-archive / skopeo copy oci: docker-archive: = $(echo "scale=2; $d / $sk" | bc)"
n=$(median < "$W/times.import_new"); st=$(median < "$W/times.import_stored")
echo "  import of the docker-archive, layer stored / new = $(echo "scale=2; $st / $n" | bc)"
