#!/bin/bash
# Import throughput of a large layer against the peers, in one run:
#   tar -xf (alone, and followed by sha256sum of the tar), umoci unpack of
#   the same image, and layerctl import of the tar, the tar.gz and the OCI
#   image.  RUNS rounds of all cases in turn, medians, ratios printed.  No
#   assertions.
#
#   LAYERFS_BUILD=build bench/import.sh [RUNS]
# The tree is /var/cache/layerfs-bench/rootfs (a debootstrap) when present,
# else about 200 MB of files taken from /usr.
set -euo pipefail
RUNS=${1:-5}
BUILD=${LAYERFS_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
LAYERCTL=$BUILD/layerctl
[ -x "$LAYERCTL" ] || { echo "bench: $LAYERCTL is not built" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-import.XXXXXX")
trap 'rm -rf "$W"' EXIT

. "$(dirname "$0")/sample-tar.sh"
. "$(dirname "$0")/lib.sh"    # now, median
bench_sample_tar /var/cache/layerfs-bench/rootfs "$W/layer.tar"
gzip -6 -c "$W/layer.tar" > "$W/layer.tar.gz"
umoci_ok=0
if command -v umoci >/dev/null; then
	umoci init --layout "$W/oci" >/dev/null && umoci new --image "$W/oci:b" >/dev/null &&
		umoci raw add-layer --image "$W/oci:b" "$W/layer.tar" >/dev/null && umoci_ok=1
fi

# The cases run round-robin, RUNS rounds, so a change in the machine's
# load falls on all of them alike; each case's median is kept.
CASES=(tar tar_sha targz_sha import import_gz)
declare -A CMD=(
	[tar]='tar -xf "$W/layer.tar" -C "$W/out"'
	[tar_sha]='tar -xf "$W/layer.tar" -C "$W/out" && sha256sum "$W/layer.tar"'
	[targz_sha]='tar -xzf "$W/layer.tar.gz" -C "$W/out" && sha256sum "$W/layer.tar.gz"'
	[import]='"$LAYERCTL" --root "$W/store" import -q "$W/layer.tar" b:v1.0.0'
	[import_gz]='"$LAYERCTL" --root "$W/store" import -q "$W/layer.tar.gz" b:v1.0.0'
)
if [ $umoci_ok = 1 ]; then
	CASES+=(umoci import_oci)
	CMD[umoci]='umoci unpack --image "$W/oci:b" "$W/bundle"'
	CMD[import_oci]='"$LAYERCTL" --root "$W/store" import -q "$W/oci" b:v1.0.0'
fi
for k in $(seq 1 "$RUNS"); do
	for c in "${CASES[@]}"; do
		rm -rf "$W/out" "$W/store" "$W/bundle"; mkdir -p "$W/out"
		sync
		s=$(now); eval "${CMD[$c]}" >/dev/null; e=$(now)
		echo "$e - $s" | bc >> "$W/times.$c"
	done
done
declare -A T
for c in "${CASES[@]}"; do T[$c]=$(median < "$W/times.$c"); done
rm -rf "$W/out" "$W/store" "$W/bundle"

mb=$(( $(stat -c %s "$W/layer.tar") / 1000000 ))
gzmb=$(( $(stat -c %s "$W/layer.tar.gz") / 1000000 ))
entries=$(tar -tf "$W/layer.tar" | wc -l)
ratio() { echo "scale=2; $1 / $2" | bc; }
rate() { echo "scale=0; $mb / $1" | bc; }
echo "layer: $what; $mb MB tar, $gzmb MB gzip, $entries entries; median of $RUNS rounds"
printf '%-44s %8s %10s\n' "case" "seconds" "MB/s (tar)"
printf '%-44s %8.3f %10s\n' "tar -xf" "${T[tar]}" "$(rate "${T[tar]}")"
printf '%-44s %8.3f %10s\n' "tar -xf + sha256sum" "${T[tar_sha]}" "$(rate "${T[tar_sha]}")"
printf '%-44s %8.3f %10s\n' "tar -xzf + sha256sum (gzip)" "${T[targz_sha]}" "$(rate "${T[targz_sha]}")"
printf '%-44s %8.3f %10s\n' "layerctl import (tar)" "${T[import]}" "$(rate "${T[import]}")"
printf '%-44s %8.3f %10s\n' "layerctl import (tar.gz)" "${T[import_gz]}" "$(rate "${T[import_gz]}")"
if [ $umoci_ok = 1 ]; then
	printf '%-44s %8.3f %10s\n' "umoci unpack (gzip image)" "${T[umoci]}" "$(rate "${T[umoci]}")"
	printf '%-44s %8.3f %10s\n' "layerctl import (same oci image)" "${T[import_oci]}" "$(rate "${T[import_oci]}")"
fi
echo
echo "ratios (lower is better for layerctl):"
echo "  import tar / tar -xf               = $(ratio "${T[import]}" "${T[tar]}")   (target <= 1.3)"
echo "  import tar / (tar -xf + sha256sum) = $(ratio "${T[import]}" "${T[tar_sha]}")"
echo "  import gz  / (tar -xzf + sha256sum)= $(ratio "${T[import_gz]}" "${T[targz_sha]}")"
[ $umoci_ok = 1 ] &&
echo "  import oci / umoci unpack          = $(ratio "${T[import_oci]}" "${T[umoci]}")   (target < 1)"
true
