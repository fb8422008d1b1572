#!/bin/bash
# bench/run.sh — run the benchmark suite against layerfs and its peers.
#
#   make bench                         (or: LAYERFS=/path/to/layerfs bench/run.sh)
#   BENCH_QUICK=1 make bench           small data, 2 runs: try the harness
#   BENCH_ONLY=meta,stat make bench    only some workloads
#   BENCH_RUNS=9 BENCH_CACHE=/data/bench make bench
#
# Workloads (bench/workloads/NAME.sh): meta stat read copyup small tree mem.
# Filesystems: layerfs, fuse-overlayfs, kernel (overlayfs), plain (a directory).
# Every measurement runs in its own private mount namespace; the filesystems
# are interleaved run by run (A B C D A B C D ...). Results: the table on
# stdout, bench/results/latest.{csv,md,png}.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ALL_WORKLOADS=meta,stat,read,copyup,small,tree,mem
BENCH_ONLY=${BENCH_ONLY:-$ALL_WORKLOADS}
BENCH_FS=${BENCH_FS:-layerfs,layerfs-nopt,fuse-overlayfs,kernel,plain}
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-1800}   # seconds for one workload on one filesystem

[[ $(id -u) == 0 ]] || die "the benchmark mounts filesystems and drops caches: run it as root"

# Own private mount namespace for the whole run: the scratch images mounted
# below vanish with it, whatever happens.
if [[ -z ${BENCH_IN_NS:-} ]]; then
    export BENCH_IN_NS=1
    exec unshare -m --propagation private "$0" "$@"
fi

for tool in fio gnuplot findmnt fusermount3 mkfs.xfs python3 setfattr; do
    command -v "$tool" >/dev/null || die "'$tool' not found (Debian: fio gnuplot-nox util-linux fuse3 xfsprogs python3 attr)"
done
make -s -C "$BENCH_DIR" >/dev/null || die "cannot build the helpers in $BENCH_DIR"

# Data, once, for the selected workloads.
IFS=, read -ra WORKLOADS <<<"$BENCH_ONLY"
items=(scratch)
for w in "${WORKLOADS[@]}"; do
    [[ -f $BENCH_DIR/workloads/$w.sh ]] || die "unknown workload '$w' (known: $ALL_WORKLOADS)"
    case $w in
    meta)   items+=(rootfs) ;;
    stat)   items+=(stack) ;;
    read)   items+=(big) ;;
    small)  items+=(small) ;;
    tree)   items+=(rootfs cproj) ;;
    mem)    items+=(tree) ;;
    esac
done
"$BENCH_DIR/data.sh" "${items[@]}"

# Scratch filesystems: journaled ext4 for uppers and written data (the root
# ext4 has no journal), reflink XFS for copy-up.
SCRATCH=$(mktemp -d /tmp/layerfs-bench.XXXXXX)
export SCRATCH
mkdir -p "$SCRATCH/ext4" "$SCRATCH/xfs"
mount -o loop "$SCRATCH_EXT4_IMG" "$SCRATCH/ext4"
mount -o loop "$SCRATCH_XFS_IMG" "$SCRATCH/xfs"
rm -rf "$SCRATCH"/ext4/run.* "$SCRATCH"/xfs/run.*
cleanup() {
    # No fstrim: the images stay written (data.sh, densify_scratch).
    umount "$SCRATCH/ext4" 2>/dev/null || true
    umount "$SCRATCH/xfs" 2>/dev/null || true
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

mkdir -p "$RESULTS"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
RAW=$RESULTS/raw-$stamp.csv
export BENCH_LOG=$RESULTS/run-$stamp.log
: > "$BENCH_LOG"
echo "workload,metric,fs,run,value,unit,cache" > "$RAW"

# Which filesystems can be measured; a skipped one says why.
probe_fs() {
    local fs=$1
    case $fs in
    layerfs|layerfs-nopt)
        [[ -n $LAYERFS ]] || { echo "no layerfs binary given (run through make bench, or set LAYERFS)"; return; }
        [[ -x $LAYERFS ]] || { echo "no layerfs binary at '$LAYERFS' (build it, or set LAYERFS)"; return; }
        "$LAYERFS" --version >/dev/null 2>&1 || { echo "'$LAYERFS --version' fails"; return; } ;;
    fuse-overlayfs)
        command -v "$FUSE_OVERLAYFS" >/dev/null || { echo "fuse-overlayfs not installed"; return; } ;;
    kernel)
        grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null \
            || { echo "kernel has no overlay filesystem"; return; } ;;
    plain) return ;;
    *) echo "unknown filesystem"; return ;;
    esac
    [[ $fs == plain ]] && return
    # A trial mount with a lower, upper and work dir: read a file, write one.
    local out
    out=$(unshare -m --propagation private bash -c '
        source "$1/lib.sh"; set -e
        d=$(mktemp -d "$SCRATCH/ext4/run.XXXXXX")
        mkdir "$d/l" "$d/u" "$d/w" "$d/m"; echo hi > "$d/l/f"
        mount_union "$2" "$d/m" "$d/l" "$d/u" "$d/w"
        ok=1
        [[ $(cat "$d/m/f") == hi ]] || ok=0
        echo x >> "$d/m/f" || ok=0
        umount_union "$d/m"
        rm -rf "$d"
        ((ok)) || { echo "trial mount reads or writes wrongly"; exit 1; }' _ "$BENCH_DIR" "$fs" 2>&1) \
        || { echo "trial mount failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; return; }
}

# Measure one build throughout: a copy of the binary, so a rebuild during
# the run cannot mix versions.
if [[ -n $LAYERFS && -x $LAYERFS ]]; then
    cp "$LAYERFS" "$SCRATCH/layerfs"
    LAYERFS=$SCRATCH/layerfs
    export LAYERFS
fi

FSES=()
done_workloads=()
{
    echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
    echo "# mode: $([[ $BENCH_QUICK == 1 ]] && echo QUICK || echo full), runs: $BENCH_RUNS, workloads: $BENCH_ONLY"
    # How idle CPUs sleep decides what a FUSE round trip costs.
    echo "# cpuidle: $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)$(
        [[ -r /sys/module/haltpoll/parameters/guest_halt_poll_ns ]] &&
        echo ", guest_halt_poll_ns=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns)"), load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RESULTS/run-$stamp.info"
IFS=, read -ra want <<<"$BENCH_FS"
for fs in "${want[@]}"; do
    reason=$(probe_fs "$fs")
    if [[ -n $reason ]]; then
        log "skipping $fs: $reason"
        echo "# skipped $fs: $reason" >> "$RESULTS/run-$stamp.info"
    else
        FSES+=("$fs")
        case $fs in
        layerfs) v=$("$LAYERFS" --version 2>&1 | head -n1) ;;
        layerfs-nopt) v="$("$LAYERFS" --version 2>&1 | head -n1), -o passthrough=off,cpu_latency=poll" ;;
        fuse-overlayfs) v=$("$FUSE_OVERLAYFS" --version 2>&1 | grep -i 'fuse-overlayfs' | head -n1) ;;
        kernel) v="overlay, Linux $(uname -r), defaults:$(cd /sys/module/overlay/parameters 2>/dev/null \
                    && for p in redirect_dir index metacopy xino_auto; do printf ' %s=%s' "$p" "$(cat "$p")"; done)" ;;
        plain) v="bind mount of a flattened copy, root ext4 (lowers) / loop ext4 (written data)" ;;
        esac
        echo "# fs $fs: $v" >> "$RESULTS/run-$stamp.info"
    fi
done
((${#FSES[@]})) || die "no filesystem to measure"

# The rootfs view must be the same on every filesystem, or its figures
# compare different work: list it (type, path, size of regular files) on
# each and compare with the flattened copy. A difference is reported, not fatal.
if [[ ,$BENCH_ONLY, == *,meta,* || ,$BENCH_ONLY, == *,tree,* ]]; then
    listing "$ROOTFS_MERGED" > "$SCRATCH/view.plain"
    for fs in "${FSES[@]}"; do
        [[ $fs == plain ]] && continue
        ndiff=$(unshare -m --propagation private bash -c '
            source "$1/lib.sh"; set -e
            d=$(mktemp -d "$SCRATCH/ext4/run.XXXXXX"); mkdir "$d/u" "$d/w" "$d/m"
            mount_union "$2" "$d/m" "$ROOTFS_LOWERS" "$d/u" "$d/w"
            listing "$d/m" > "$SCRATCH/view.$2"
            umount_union "$d/m"; rm -rf "$d"
            diff "$SCRATCH/view.plain" "$SCRATCH/view.$2" | grep -c "^[<>]" || true' _ "$BENCH_DIR" "$fs" 2>&1 | tail -n 1)
        if [[ $ndiff != 0 ]]; then
            log "warning: the rootfs view on $fs differs from the flattened copy ($ndiff lines)"
            echo "# warning: the rootfs view on $fs differs from the flattened copy ($ndiff lines of diff)" >> "$RESULTS/run-$stamp.info"
        else
            echo "# rootfs view on $fs: identical to the flattened copy" >> "$RESULTS/run-$stamp.info"
        fi
    done
fi
log "filesystems: ${FSES[*]}; runs: $BENCH_RUNS; mode: $([[ $BENCH_QUICK == 1 ]] && echo quick || echo full)"

report() {
    cp "$RAW" "$RESULTS/latest.csv"
    python3 "$BENCH_DIR/report.py" "$RAW" "$RESULTS/run-$stamp.info" "$RESULTS/latest"
}

# The runs: each workload, BENCH_RUNS rounds, the filesystems interleaved.
# The results so far are written after each workload, so an interrupted
# run still leaves its figures.
for w in "${WORKLOADS[@]}"; do
    if ((${#done_workloads[@]})); then report >/dev/null 2>&1 || true; fi
    for ((r = 1; r <= BENCH_RUNS; r++)); do
        for fs in "${FSES[@]}"; do
            log "$w run $r/$BENCH_RUNS on $fs"
            lines=$(wc -l < "$BENCH_LOG")
            rc=0
            BENCH_RUN=$r timeout --kill-after=30 "$BENCH_TIMEOUT" \
                nice -n "${BENCH_NICE:-10}" unshare -m --propagation private \
                "$BENCH_DIR/measure.sh" "$w" "$fs" 3>>"$RAW" || rc=$?
            if ((rc)); then
                why=$(tail -n +"$((lines + 1))" "$BENCH_LOG" | grep -v '^== ' | tail -n 1 || true)
                ((rc == 124 || rc == 137)) && why="timed out after $BENCH_TIMEOUT s"
                log "$w on $fs failed (run $r, exit $rc): $why"
                echo "# failed: $w on $fs, run $r (exit $rc): $why" >> "$RESULTS/run-$stamp.info"
            fi
        done
    done
    done_workloads+=("$w")
done

report
