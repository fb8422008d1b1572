#!/bin/bash
# Runs the semantics checks of tests/semantics-lib.sh against layerfs,
# fuse-overlayfs and kernel overlayfs (default options, and with
# index=on,redirect_dir=on,metacopy=on), and prints a table of which hold;
# the table is also written to bench/results/semantics.md.  Needs root.
#
#   bench/compare-semantics.sh [KIND...]     (default: every kind)
#   LAYERFS_BUILD=/path/to/build             which layerfs to check
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../tests/lib.sh"
. "$TESTS_DIR/semantics-lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "compare-semantics: needs root" >&2; exit 1; }
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=("${SEM_KINDS[@]}")

ROOT=$(mktemp -d /tmp/layerfs-compare.XXXXXX)
SEM_CACHE=$ROOT/cache
trap 'sem_cleanup "$ROOT"' EXIT
OUT=$BENCH_DIR/results/semantics.md
mkdir -p "$BENCH_DIR/results"

declare -A result reason
for kind in "${kinds[@]}"; do
	if ! why=$(sem_kind_available "$kind"); then
		for prop in "${SEM_PROPS[@]}"; do result[$kind,${prop%%|*}]="n/a"; done
		echo "$kind: $why" >&2
		continue
	fi
	for prop in "${SEM_PROPS[@]}"; do
		name=${prop%%|*}
		out=$(sem_run_prop "$name" "$kind" "$ROOT")
		case $? in
		0) result[$kind,$name]=pass ;;
		"$SEM_SKIP") result[$kind,$name]="n/a" ;;
		*) result[$kind,$name]=FAIL ;;
		esac
		# one line, paths relative to the check's directory
		reason[$kind,$name]=$(printf '%s' "$out" |
			sed "s|$ROOT/$kind-$name/||g" | tr '\n' ' ' | cut -c1-300)
		printf '%-16s %-24s %s  %s\n' "$kind" "$name" "${result[$kind,$name]}" \
			"${reason[$kind,$name]}" >&2
	done
done

table() {
	local kind prop name
	echo "# Union-filesystem semantics: layerfs and its peers"
	echo
	echo "Produced by \`bench/compare-semantics.sh\` on $(uname -sr), $(date -u +%Y-%m-%d)."
	echo "\`overlay\` is kernel overlayfs with its default options; \`overlay-full\` adds"
	echo "\`index=on,redirect_dir=on,metacopy=on\`.  Checks: \`tests/semantics-lib.sh\`."
	echo
	printf '| property |'; printf ' %s |' "${kinds[@]}"; echo
	printf '| --- |'; printf ' --- |%.0s' "${kinds[@]}"; echo
	for prop in "${SEM_PROPS[@]}"; do
		name=${prop%%|*}
		printf '| %s |' "${prop#*|}"
		for kind in "${kinds[@]}"; do printf ' %s |' "${result[$kind,$name]}"; done
		echo
	done
	echo
	echo "Why the checks that did not pass did not:"
	echo
	for kind in "${kinds[@]}"; do
		for prop in "${SEM_PROPS[@]}"; do
			name=${prop%%|*}
			[ "${result[$kind,$name]}" == pass ] && continue
			[ -n "${reason[$kind,$name]:-}" ] || continue
			echo "* $kind, $name: ${reason[$kind,$name]}"
		done
	done
}
table | tee "$OUT"
