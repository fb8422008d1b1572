# bench/lib.sh — shared helpers for the benchmark scripts (sourced, not run).
#
# Settings (environment):
#   BENCH_CACHE  data cache outside the repo (default /var/cache/layerfs-bench)
#   BENCH_QUICK  1 = small data and few runs, for trying the harness
#   BENCH_RUNS   runs per measurement (default 5, quick 2)
#   BENCH_ONLY   comma list of workloads to run (meta,stat,read,copyup,small,tree,mem)
#   BENCH_FS     comma list of filesystems (default layerfs,layerfs-nopt,fuse-overlayfs,kernel,plain)
#   LAYERFS      layerfs binary (default $LAYERFS_BUILD/layerfs)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_CACHE=${BENCH_CACHE:-/var/cache/layerfs-bench}
BENCH_QUICK=${BENCH_QUICK:-0}
if [[ $BENCH_QUICK == 1 ]]; then
    BENCH_RUNS=${BENCH_RUNS:-2}
else
    BENCH_RUNS=${BENCH_RUNS:-5}
fi
BENCH_TOOLS=${BENCH_TOOLS:-$BENCH_DIR/build}
LAYERFS=${LAYERFS:-${LAYERFS_BUILD:+$LAYERFS_BUILD/layerfs}}
FUSE_OVERLAYFS=${FUSE_OVERLAYFS:-fuse-overlayfs}

# Sizes: full run versus quick run.
if [[ $BENCH_QUICK == 1 ]]; then
    SZ_TAG=quick
    BIG_MIB=64           # sequential/random read file
    RAND_SECS=2          # length of fio's random 4 KiB job
    COPYUP_SIZES="1m 16m 64m"
    SMALL_FILES=2000     # untar / rm workload
    STAT_FILES=200       # bottom-layer files stat'ed per pass
    STAT_DIRS=50         # directories present in every layer
    TREE_FILES=20000     # memory workload tree
    CPROJ_FILES=12
else
    SZ_TAG=full
    BIG_MIB=1024
    RAND_SECS=10
    COPYUP_SIZES="1m 100m 1g"
    SMALL_FILES=20000
    STAT_FILES=2000
    STAT_DIRS=200
    TREE_FILES=1000000
    CPROJ_FILES=50
fi
STACK_DEPTHS="1 10 50 100"
STACK_MAX=100

# Cache layout (data built once by data.sh).
ROOTFS_LAYERS=$BENCH_CACHE/rootfs         # base (debootstrap), l1, l2, l3 (top)
ROOTFS_MERGED=$BENCH_CACHE/rootfs-merged  # the same view flattened (plain directory)
STACK_DIR=$BENCH_CACHE/stack              # 0 (bottom) .. 99 (top)
SCRATCH_EXT4_IMG=$BENCH_CACHE/scratch-ext4.img
SCRATCH_XFS_IMG=$BENCH_CACHE/scratch-xfs.img

log()  { printf '%s\n' "bench: $*" >&2; }
die()  { printf '%s\n' "bench: error: $*" >&2; exit 1; }

# Microseconds since the epoch (bash builtin, no fork).
now_us() { local t=$EPOCHREALTIME; printf '%s' "${t/./}"; }

# time_ms CMD...: run CMD (stdout to /dev/null), print elapsed milliseconds
# with three decimals; fails if CMD fails.
time_ms() {
    local t0 t1
    t0=$(now_us)
    "$@" >/dev/null
    t1=$(now_us)
    printf '%d.%03d' $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000))
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# now: seconds since the epoch, with nanoseconds (for bc).
now() { date +%s.%N; }

# median: the median of the numbers on stdin (separated by blanks or lines).
median() {
    tr -s ' \t' '\n' | grep . | sort -g |
        awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# emit WORKLOAD METRIC FS VALUE UNIT CACHE: one raw result line (CSV) on fd 3,
# which run.sh points at the raw file.
emit() {
    printf '%s,%s,%s,%s,%s,%s,%s\n' "$1" "$2" "$3" "${BENCH_RUN:-0}" "$4" "$5" "$6" >&3
}

# Filesystems under test --------------------------------------------------

FUSE_PID=

# alive PID: PID exists and is not a zombie.
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# daemon_of MNT BIN: PID of a process of BIN whose arguments name MNT (for a
# daemon that forked into the background despite -f).
daemon_of() {
    local mnt=$1 bin p
    bin=$(readlink -f "$(command -v "$2")")
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/exe" 2>/dev/null) == "$bin" ]] || continue
        tr '\0' '\n' < "$p/cmdline" 2>/dev/null | grep -qxF "$mnt" && { echo "${p#/proc/}"; return 0; }
    done
    return 1
}

# wait_mounted MNT PID BIN: wait until MNT is a FUSE mount; sets FUSE_PID to
# the daemon (PID, or the process it forked into).
wait_mounted() {
    local mnt=$1 pid=$2 bin=$3 i fstype exited=0 rc
    for ((i = 0; i < 1000; i++)); do
        fstype=$(findmnt -n -o FSTYPE --mountpoint "$mnt" 2>/dev/null || true)
        if [[ $fstype == fuse* ]]; then
            FUSE_PID=$pid
            alive "$pid" || FUSE_PID=$(daemon_of "$mnt" "$bin") || FUSE_PID=
            [[ -n $FUSE_PID ]] || log "$bin: mounted, but its daemon was not found"
            return 0
        fi
        if ((!exited)) && ! alive "$pid"; then
            rc=0; wait "$pid" 2>/dev/null || rc=$?
            ((rc == 0)) || return 1    # it died; 0 = it forked into the background
            exited=1
        fi
        sleep 0.01
    done
    return 1
}

# mount_union FS MNT LOWERS UPPER WORK [PLAIN]
#   LOWERS: colon list, top first (absolute paths).  UPPER/WORK: empty dirs on
#   the scratch fs.  PLAIN: for FS=plain, the directory bind-mounted instead
#   (a flattened copy of the same view, writable where the workload writes).
# A FUSE daemon runs in the foreground as our child; its PID is in FUSE_PID.
mount_union() {
    local fs=$1 mnt=$2 lowers=$3 upper=$4 work=$5 plain=${6:-}
    local opts="lowerdir=$lowers,upperdir=$upper,workdir=$work"
    mkdir -p "$mnt"
    FUSE_PID=
    case $fs in
    kernel)
        # Relative lower paths keep a 100-layer option string under a page.
        local rel=() l
        IFS=: read -ra rel <<<"$lowers"
        local common
        common=$(dirname "${rel[0]}")
        local all_same=1
        for l in "${rel[@]}"; do [[ $(dirname "$l") == "$common" ]] || all_same=0; done
        if ((all_same)); then
            local short=""
            for l in "${rel[@]}"; do short+="${short:+:}$(basename "$l")"; done
            (cd "$common" && mount -t overlay overlay -o "lowerdir=$short,upperdir=$upper,workdir=$work" "$mnt")
        else
            mount -t overlay overlay -o "$opts" "$mnt"
        fi ;;
    fuse-overlayfs)
        "$FUSE_OVERLAYFS" -f -o "$opts" "$mnt" 2>>"${BENCH_LOG:-/dev/null}" &
        wait_mounted "$mnt" $! "$FUSE_OVERLAYFS" || { log "fuse-overlayfs did not mount"; return 1; } ;;
    layerfs|layerfs-nopt)
        # layerfs-nopt: without the two features that need root (passthrough,
        # the CPU latency hold), as a rootless mount runs.
        [[ $fs == layerfs-nopt ]] && opts+=",passthrough=off,cpu_latency=poll"
        "$LAYERFS" -f -o "$opts" "$mnt" 2>>"${BENCH_LOG:-/dev/null}" &
        wait_mounted "$mnt" $! "$LAYERFS" || { log "$fs did not mount"; return 1; } ;;
    plain)
        [[ -n $plain ]] || die "plain mount without a directory"
        mount --bind "$plain" "$mnt" ;;
    *) die "unknown filesystem '$fs'" ;;
    esac
}

# umount_union MNT: unmount and wait for the FUSE daemon to exit.
umount_union() {
    local mnt=$1 i
    if [[ $(findmnt -n -o FSTYPE --mountpoint "$mnt" 2>/dev/null) == fuse* ]]; then
        fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt"
        if [[ -n $FUSE_PID ]]; then
            for ((i = 0; i < 1000; i++)); do
                alive "$FUSE_PID" || break
                sleep 0.01
            done
            wait "$FUSE_PID" 2>/dev/null || true
        fi
    else
        umount "$mnt"
    fi
    FUSE_PID=
}

# A fresh upper and work directory on the journaled scratch ext4
# (mounted by run.sh at $SCRATCH); prints "UPPER WORK".
fresh_upper() {
    local d
    d=$(mktemp -d "$SCRATCH/ext4/run.XXXXXX")
    mkdir "$d/upper" "$d/work"
    printf '%s %s\n' "$d/upper" "$d/work"
}

# lowers_of DIR NAME...: colon list of DIR/NAME, in the order given.
lowers_of() {
    local dir=$1 out="" n
    shift
    for n in "$@"; do out+="${out:+:}$dir/$n"; done
    printf '%s' "$out"
}

# listing DIR: every entry of DIR, sorted: type and path, and size for
# regular files (directory sizes differ between filesystems).
listing() {
    (cd "$1" && find . \( -type f -printf 'f %p %s\n' \) -o \( ! -type f -printf '%y %p\n' \) | LC_ALL=C sort)
}

# cache_tree DIR...: read DIR's entries and file data into the page cache.
cache_tree() {
    local d
    for d in "$@"; do tar -C "$d" -cf - . | cat >/dev/null; done
}

ROOTFS_LOWERS="$ROOTFS_LAYERS/l3:$ROOTFS_LAYERS/l2:$ROOTFS_LAYERS/l1:$ROOTFS_LAYERS/base"

# stack_lowers N: the synthetic stack of N layers, top first (N-1 .. 0).
stack_lowers() {
    local n=$1 i out=""
    for ((i = n - 1; i >= 0; i--)); do out+="${out:+:}$STACK_DIR/$i"; done
    printf '%s' "$out"
}
