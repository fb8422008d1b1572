#!/bin/bash
# bench/measure.sh WORKLOAD FS — one run of one workload on one filesystem.
# Called by run.sh inside a fresh private mount namespace; writes raw result
# lines to fd 3 (see emit in lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
workload=$1 fs=$2
[[ -n ${SCRATCH:-} ]] || die "SCRATCH is not set (run bench/run.sh)"
RUNDIR=$(mktemp -d "$SCRATCH/ext4/run.XXXXXX")
MNT=$RUNDIR/mnt
mkdir -p "$MNT"
finish() {
    if findmnt --mountpoint "$MNT" >/dev/null 2>&1; then umount_union "$MNT" || umount -l "$MNT"; fi
    rm -rf "$RUNDIR"
}
trap finish EXIT
exec 2>>"${BENCH_LOG:-/dev/stderr}"
echo "== $workload $fs run ${BENCH_RUN:-0}" >&2
source "$BENCH_DIR/workloads/$workload.sh"
measure "$fs"
