#!/bin/bash
# The daemon's open fds and RSS over a mixed workload: fsx (reads, writes,
# truncates, fallocates, mmap, renames, hard links; every first write a
# copy-up) and tests/leakload.py (open-mmap-write-close of many lower
# files, new files, renames, links, xattrs, unlinks).  Sampled from
# /proc/PID after every round with the kernel's dentry cache dropped, so
# that the daemon has been told to forget what it may forget: fds must
# come back to their baseline, RSS may grow only within a generous bound.
# LEAK_ROUNDS (default 3) and LEAK_OPS (fsx operations per file and round,
# default 1000) scale it; make stress runs it long and prints the figures.
. "$(dirname "$0")/overlay-lib.sh"
ovl_begin -
ovl_tmpdir leak
need_cmd pgrep python3
FSX=$LAYERFS_BUILD/test-tools/fsx
[ -x "$FSX" ] || tap_skip_all "fsx is not built ($FSX)"
ROUNDS=${LEAK_ROUNDS:-3}
OPS=${LEAK_OPS:-1000}
FILES=${LEAK_FILES:-100}
RSS_SLACK_KB=${LEAK_RSS_SLACK_KB:-65536}

# On a tmpfs: the workload fsyncs, and a busy disk would only add waiting.
D=$T/t
mkdir -p "$D" && mount -t tmpfs -o size=512m tmpfs "$D" && OVL_MOUNTS+=("$D")
mkdir -p "$D"/{l,u,w,m}
for k in $(seq 0 $((FILES - 1))); do head -c $((4096 + k * 64)) /dev/urandom >"$D/l/l$k"; done
for k in 1 2 3; do head -c $((60000 * k)) /dev/urandom >"$D/l/f$k"; done   # fsx: at most 256 KiB
ln "$D/l/f1" "$D/l/f1-link"
fs_mount "lowerdir=$D/l,upperdir=$D/u,workdir=$D/w" "$D/m" || tap_skip_all "cannot mount: $FS_MOUNT_ERR"
pid=$(pgrep -f -x -- "$FS_BIN -o .*,workdir=$D/w $D/m" | head -1)
[ -n "$pid" ] || tap_skip_all "cannot find the daemon of $D/m"

# fds on files and directories: libfuse's worker threads come and go, each
# with a /dev/fuse clone and a splice pipe pair; those are counted apart.
fds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -vc '^/dev/fuse$\|^pipe:'; }
allfds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$pid/status"; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
settle() { echo 2 >/proc/sys/vm/drop_caches; sleep 1; }

# Warm-up round: what the daemon keeps for good (caches, thread stacks)
# is allocated here, before the baseline.
"$PYTHON" "$TESTS_DIR/leakload.py" "$D/m" 0 "$FILES" >/dev/null || tap_not_ok "warm-up round"
settle
base_fds=$(fds) base_rss=$(rss)
tap_diag "round   ops        fds   all-fds threads rss(kB)"
tap_diag "$(printf 'base    %-10s %-5s %-7s %-7s %s' - "$base_fds" "$(allfds)" "$(threads)" "$base_rss")"
total=0 ok=1 maxfds=0
for r in $(seq 1 "$ROUNDS"); do
	n=$("$PYTHON" "$TESTS_DIR/leakload.py" "$D/m" "$r" "$FILES") || { ok=0; tap_diag "round $r: $n"; }
	total=$((total + ${n:-0}))
	for k in 1 2 3; do
		alias=; [ $k -eq 1 ] && alias=$D/m/f1-link
		"$FSX" -q -N "$OPS" -S $((r * 10 + k)) "$D/m/f$k" $alias >"$D/fsx.out" 2>&1 ||
			{ ok=0; tap_diag "fsx f$k round $r: $(cat "$D/fsx.out")"; }
		total=$((total + OPS))
	done
	during=$(fds)
	[ "$during" -gt "$maxfds" ] && maxfds=$during
	settle
	tap_diag "$(printf '%-7s %-10s %-5s %-7s %-7s %s' "$r" "$total" "$(fds)" "$(allfds)" "$(threads)" "$(rss)")"
done
end_fds=$(fds) end_rss=$(rss)
[ $ok -eq 1 ] && tap_ok "$total operations, every byte read as written" || tap_not_ok "the workload read what it wrote"
[ "$end_fds" -le $((base_fds + 2)) ] && tap_ok "open fds back to the baseline ($base_fds before, $end_fds after, at most $maxfds between rounds)" ||
	tap_not_ok "open fds back to the baseline" "before $base_fds, after $end_fds" "$(ls -l "/proc/$pid/fd" | tail -20)"
growth=$((end_rss - base_rss))
[ "$growth" -le "$RSS_SLACK_KB" ] && tap_ok "RSS grew by ${growth} kB over $ROUNDS rounds (bound ${RSS_SLACK_KB} kB)" ||
	tap_not_ok "RSS growth within ${RSS_SLACK_KB} kB" "grew by $growth kB ($base_rss -> $end_rss)"
# An mmap-only burst: no fd may stay behind per mapping.
before=$(fds)
"$PYTHON" - "$D/m" "$FILES" <<'PY'
import mmap, os, sys
for i in range(500):
    p = os.path.join(sys.argv[1], "l%d" % (i % int(sys.argv[2])))
    with open(p, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        m[0:1] = m[0:1]
        m.close()
PY
settle
is "$(fds)" "$before" "500 open-mmap-close cycles leave no fd behind"
ovl_unmount_safely "$D/m"
tap_done
