#!/bin/bash
# Union semantics where the peers are weak, checked against layerfs: hard
# links across copy-up, unique and stable inode numbers, renaming lower
# directories, copy-ups that copy no data, concurrent and interrupted
# copy-ups, no leftover whiteouts.  The checks live in semantics-lib.sh and
# are shared with bench/compare-semantics.sh.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/semantics-lib.sh"

need_root
need_cmd python3 fusermount3 setfattr getfattr pgrep timeout
why=$(sem_kind_available layerfs) || tap_skip_all "$why"

ROOT=$(mktemp -d /tmp/layerfs-semantics.XXXXXX)
SEM_CACHE=$ROOT/cache
trap 'sem_cleanup "$ROOT"' EXIT

for prop in "${SEM_PROPS[@]}"; do
	name=${prop%%|*}
	out=$(sem_run_prop "$name" layerfs "$ROOT")
	case $? in
	0) tap_ok "${prop#*|}" ;;
	"$SEM_SKIP") tap_skip "${prop#*|}" "$(tail -n 1 <<<"$out")" ;;
	*) tap_not_ok "${prop#*|}" "$out" ;;
	esac
done
out=$(sem_run_prop dedupe_shared layerfs "$ROOT")
case $? in
0) tap_ok "files sharing an inode through layerctl dedupe show as separate files" ;;
"$SEM_SKIP") tap_skip "dedupe-shared files" "$(tail -n 1 <<<"$out")" ;;
*) tap_not_ok "files sharing an inode through layerctl dedupe show as separate files" "$out" ;;
esac
tap_done
