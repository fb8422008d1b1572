#!/bin/bash
# layerctl dedupe against jdupes -L -r and rdfind -makehardlinks true.
#
# Two images in a store: the debootstrap tree (bench/data.sh builds
# /var/cache/layerfs-bench/rootfs/base) and a modified copy (files changed,
# deleted, added, a few given another mode).  Each tool runs on its own
# copy of the same store's layer trees, in three states:
#   cold   the copy written out to disk, caches dropped;
#   warm   the copy written out, its files read into the page cache (so it
#          differs from cold only by the cache: a store at rest, as it is
#          half a minute after an import);
#   dirty  the copy just made, its data not yet written out (as right after
#          an import): freeing a replaced file then frees no blocks.
# printed: wall time and CPU time (user + system), files linked (names whose inode changed), bytes saved
# (st_blocks of the trees' inodes, each once, before minus after).  Then the
# incremental case: one more layer (a few hundred files) imported and
# deduplicated; the peers have no index and read everything again.
#
#   LAYERFS_BUILD=build DEDUPE_RUNS=3 bench/dedupe.sh
# DEDUPE_RUNS rounds (default 3), each running every tool in every state in
# turn; the table gives medians, and the ratios of the faster of jdupes -L -r
# and rdfind to layerctl dedupe.
# Needs root (drop_caches) and jdupes, rdfind (apt-get install jdupes rdfind).
# Prints a table; asserts nothing.
set -euo pipefail
BUILD=${LAYERFS_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
LAYERCTL=$BUILD/layerctl
SRC=${BENCH_DEDUPE_SRC:-/var/cache/layerfs-bench/rootfs/base}
[ -x "$LAYERCTL" ] || { echo "bench: $LAYERCTL is not built" >&2; exit 1; }
[ -d "$SRC" ] || { echo "bench: $SRC is missing (run bench/data.sh)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root (drop_caches)" >&2; exit 1; }
for c in jdupes rdfind; do command -v $c >/dev/null || { echo "bench: $c is not installed" >&2; exit 1; }; done
W=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-dedupe.XXXXXX")
trap 'rm -rf "$W"' EXIT
source "$(dirname "$0")/lib.sh"    # log, drop_caches, now, median

# --- the two images ------------------------------------------------------------
log "building the images from $SRC"
tarof() { tar --format=posix --xattrs --numeric-owner -C "$1" -cf "$2" .; }
tarof "$SRC" "$W/one.tar"
cp -a "$SRC" "$W/two"
mapfile -t F < <(cd "$W/two" && find usr/lib usr/share -type f -size +4k | sort | awk 'NR % 97 == 0')
for f in "${F[@]:0:20}"; do printf 'changed' >> "$W/two/$f"; done
for f in "${F[@]:20:20}"; do rm -f "$W/two/$f"; done
for f in "${F[@]:40:10}"; do chmod 600 "$W/two/$f"; done
mkdir -p "$W/two/opt/new"; for i in $(seq 1 20); do head -c $((i * 3000)) /dev/urandom > "$W/two/opt/new/f$i"; done
tarof "$W/two" "$W/two.tar"; rm -rf "$W/two"
# The incremental layer: 300 files of the tree and 20 new ones.
mkdir -p "$W/three"
(cd "$SRC" && find usr/bin usr/lib -type f | sort | sed -n 1,300p | tar -cf - -T - | tar -xpf - -C "$W/three")
for i in $(seq 1 20); do head -c 5000 /dev/urandom > "$W/three/new$i"; done
tarof "$W/three" "$W/three.tar"; rm -rf "$W/three"

"$LAYERCTL" --root "$W/pristine" import -q "$W/one.tar" one:v1.0.0 >/dev/null
"$LAYERCTL" --root "$W/pristine" import -q "$W/two.tar" two:v1.0.0 >/dev/null
trees() { ls -d "$1"/layers/*/tree; }

# Bytes on disk and "ino path" of every regular file below the trees.
usage() { find "$@" -printf '%i %b\n' | sort -u | awk '{ s += $2 * 512 } END { print s }'; }
inos() { find "$@" -type f -printf '%i %p\n' | sort -k2; }
linked() { join -1 2 -2 2 <(sort -k2 "$1") <(sort -k2 "$2") | awk '$2 != $3' | wc -l; }

# run NAME MODE: copy the pristine store, run tool NAME cold, warm or dirty; its
# times are appended to T and C (space-separated, one per round).
declare -A T C L B
run() {
	local name=$1 mode=$2 s=$W/run
	rm -rf "$s"; cp -a "$W/pristine" "$s"
	mapfile -t TR < <(trees "$s")
	inos "${TR[@]}" > "$W/before"; local u0; u0=$(usage "${TR[@]}")
	case $mode in
	cold) drop_caches ;;
	warm) sync; cat $(find "${TR[@]}" -type f) > /dev/null ;;
	dirty) cat $(find "${TR[@]}" -type f) > /dev/null ;;
	esac
	local cmd
	case $name in
	layerctl) cmd=("$LAYERCTL" --root "$s" dedupe --quiet) ;;
	jdupes) cmd=(jdupes -q -L -r "${TR[@]}") ;;
	jdupes-p) cmd=(jdupes -q -p -L -r "${TR[@]}") ;;
	rdfind) cmd=(rdfind -outputname "$W/rdfind.txt" -makehardlinks true "${TR[@]}") ;;
	esac
	/usr/bin/time -f '%e %U %S' -o "$W/time" "${cmd[@]}" >/dev/null
	read -r wall usr sys < "$W/time"
	inos "${TR[@]}" > "$W/after"
	T[$name.$mode]+=" $wall"
	C[$name.$mode]+=" $(echo "$usr + $sys" | bc)"
	L[$name]=$(linked "$W/before" "$W/after")
	B[$name]=$(( u0 - $(usage "${TR[@]}") ))
}
TOOLS=(layerctl jdupes jdupes-p rdfind)
MODES=(cold warm dirty)
RUNS=${DEDUPE_RUNS:-3}
for ((r = 1; r <= RUNS; r++)); do
	for t in "${TOOLS[@]}"; do
		for m in "${MODES[@]}"; do log "round $r/$RUNS: $t ($m)"; run "$t" "$m"; done
	done
done
printf '\nmedians of %d rounds (wall s, cpu s)\n%-10s' "$RUNS" tool
for m in "${MODES[@]}"; do printf ' %8s %8s' "$m s" "cpu s"; done
printf ' %8s %14s\n' linked "bytes saved"
declare -A MED
for t in "${TOOLS[@]}"; do
	printf '%-10s' "$t"
	for m in "${MODES[@]}"; do
		MED[$t.$m]=$(median <<<"${T[$t.$m]}")
		printf ' %8.2f %8.2f' "${MED[$t.$m]}" "$(median <<<"${C[$t.$m]}")"
	done
	printf ' %8d %14d\n' "${L[$t]}" "${B[$t]}"
done
printf '\nall runs (s):\n'
for t in "${TOOLS[@]}"; do
	printf '  %-10s' "$t"
	for m in "${MODES[@]}"; do printf ' %s%s ' "$m" "${T[$t.$m]}"; done
	printf '\n'
done
# The target's peer: the faster of jdupes -L -r and rdfind, per mode.
for m in "${MODES[@]}"; do
	peer=$(printf '%s\n' "${MED[jdupes.$m]}" "${MED[rdfind.$m]}" | sort -g | sed -n 1p)
	printf 'layerctl dedupe, %s: %.2fx as fast as the faster of jdupes -L -r and rdfind\n' "$m" \
		"$(echo "$peer / ${MED[layerctl.$m]}" | bc -l)"
done

# --- incremental: one more layer ------------------------------------------------------
log "incremental"
s=$W/run; rm -rf "$s"; cp -a "$W/pristine" "$s"
"$LAYERCTL" --root "$s" dedupe --quiet >/dev/null
"$LAYERCTL" --root "$s" import -q "$W/three.tar" three:v1.0.0 >/dev/null
drop_caches
t0=$(now); js=$("$LAYERCTL" --root "$s" dedupe --json); t1=$(now)
inc=$(echo "$t1 - $t0" | bc)
mapfile -t TR < <(trees "$s")
drop_caches
t0=$(now); jdupes -q -L -r "${TR[@]}" >/dev/null; t1=$(now)
jinc=$(echo "$t1 - $t0" | bc)
printf '\nincremental (cold), one layer of %s files added to a store of %s:\n' \
	"$(jq .files_scanned <<<"$js")" "$(jq .files <<<"$js")"
printf '  layerctl dedupe  %6.2f s  (read %s files, hashed %s, linked %s, saved %s bytes)\n' "$inc" \
	"$(jq .files_scanned <<<"$js")" "$(jq .files_hashed <<<"$js")" "$(jq .files_linked <<<"$js")" "$(jq .bytes_saved <<<"$js")"
printf '  jdupes -L -r     %6.2f s  (all three trees again)\n' "$jinc"
