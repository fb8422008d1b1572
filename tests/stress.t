#!/bin/bash
# Data integrity under load: several fsx processes (random reads, writes,
# truncates, fallocates, mmap, renames, hard links) at once on a layerfs
# mount, every file starting in a lower layer (so the first write is a
# copy-up), each byte checked against a model; then a remount, and every
# file must equal its model.  STRESS_OPS (default 5000), STRESS_PROCS and
# STRESS_SEED (default 1, so runs repeat)
# scale it (make stress runs 4 x 250,000 operations).
. "$(dirname "$0")/lib.sh"
need_root
FSX=$LAYERFS_BUILD/test-tools/fsx
[ -x "$FSX" ] || tap_skip_all "fsx is not built ($FSX)"
[ -x "$LAYERFS" ] || tap_skip_all "layerfs is not built ($LAYERFS)"

ops=${STRESS_OPS:-5000}
procs=${STRESS_PROCS:-4}
seed=${STRESS_SEED:-1}
T=$(mktemp -d /tmp/lfsstress.XXXXXX)
trap 'unmount_quiet "$T/m"; rm -rf "$T"' EXIT
mkdir -p "$T"/{l1,l2,u,w,m,model}

# Lower files: some alone, one pair hard-linked, one behind an upper layer.
for k in $(seq 1 "$procs"); do
	head -c $((50000 * k)) /dev/urandom >"$T/l2/f$k"
done
ln "$T/l2/f1" "$T/l2/f1-link"
tap_diag "seed $seed, $procs processes x $ops operations (replay: STRESS_SEED=$seed)"

mount_it() { "$LAYERFS" -o "lowerdir=$T/l1:$T/l2,upperdir=$T/u,workdir=$T/w$1" "$T/m"; }

run_round() { # OPTIONS LABEL
	local opts=$1 label=$2 pids=() k rc=0
	mount_it "$opts" || { tap_not_ok "$label: mount"; return; }
	for k in $(seq 1 "$procs"); do
		local alias=
		[ "$k" -eq 1 ] && alias=$T/m/f1-link
		"$FSX" -q -N "$ops" -S $((seed + k)) -m "$T/model/f$k" "$T/m/f$k" $alias \
			>"$T/out.$k" 2>&1 &
		pids+=($!)
	done
	for k in "${!pids[@]}"; do
		if ! wait "${pids[$k]}"; then
			rc=1
			tap_diag "$(cat "$T/out.$((k + 1))")"
		fi
	done
	if [ $rc -eq 0 ]; then tap_ok "$label: $procs x $ops operations, every byte as expected"
	else tap_not_ok "$label: data differs from the model (seed $seed)"; fi
	unmount_quiet "$T/m"
	mount_it "$opts" || { tap_not_ok "$label: remount"; return; }
	local bad=
	for k in $(seq 1 "$procs"); do
		cmp -s "$T/m/f$k" "$T/model/f$k" || bad+=" f$k"
	done
	cmp -s "$T/m/f1-link" "$T/model/f1" || bad+=" f1-link"
	is "$bad" "" "$label: after a remount every file equals its model, hard link included"
	leftovers=$(find "$T/w/work" -mindepth 1 | wc -l)
	is "$leftovers" 0 "$label: nothing left in the work directory"
	unmount_quiet "$T/m"
}

run_round "" "threaded"
run_round ",writeback=1" "writeback cache"
run_round ",threaded=0,volatile" "single-threaded, volatile"
tap_done
