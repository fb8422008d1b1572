#!/bin/bash
# SIGKILL of the layerfs daemon under load: writers replacing files
# (temp, fsync, rename) and appending records (fsync every 8) to files that
# start in a lower layer, readers checking that nothing they see is torn.
# After the kill the mountpoint answers ENOTCONN and unmounts; a remount
# over the same upper and work shows every file whole: the version the
# writer logged or the next, every fsync'd record; work/ is empty.
. "$(dirname "$0")/overlay-lib.sh"
ovl_begin -
ovl_tmpdir killd
need_cmd python3 pgrep
N=3                  # files of each kind, one writer each
LOAD=${KILL_LOAD_SECONDS:-3}
L=$TESTS_DIR/killload.py

# daemon_pid MNT: the layerfs process serving MNT (the one we mounted).
daemon_pid() { pgrep -f -x -- "$FS_BIN -o .*,workdir=$1/w$2 $1/m" | head -1; }

# res GOT WANT DESCRIPTION DIAG: one test point.
res() { if [ "$1" == "$2" ]; then tap_ok "$3"; else tap_not_ok "$3" "$4"; fi; }
round() { # LABEL EXTRA_OPTS STRICT
	local label=$1 extra=$2 strict=$3 d=$T/$1 k pids=() pid
	mkdir -p "$d"/{l,u,w,m,log}
	"$PYTHON" "$L" seed "$d/l" $N
	local opts="lowerdir=$d/l,upperdir=$d/u,workdir=$d/w$extra"
	fs_mount "$opts" "$d/m" || { tap_not_ok "$label: mount" "$FS_MOUNT_ERR"; return; }
	pid=$(daemon_pid "$d" "$extra")
	[ -n "$pid" ] || { tap_not_ok "$label: daemon found"; return; }
	for ((k = 0; k < N; k++)); do
		"$PYTHON" "$L" replace "$d/m" "$d/log/a$k" $k 60 >"$d/out.r$k" 2>&1 & pids+=($!)
		"$PYTHON" "$L" append "$d/m" "$d/log/p$k" $k 60 >"$d/out.p$k" 2>&1 & pids+=($!)
	done
	"$PYTHON" "$L" read "$d/m" $N 60 >"$d/out.read1" 2>&1 & pids+=($!)
	"$PYTHON" "$L" read "$d/m" $N 60 >"$d/out.read2" 2>&1 & pids+=($!)
	sleep "$LOAD"
	kill -KILL "$pid"
	local rc=0
	for pid in "${pids[@]}"; do
		timeout 30 tail --pid="$pid" -f /dev/null
		wait "$pid" || rc=1
	done
	res "$rc" 0 "$label: every writer and reader saw whole files, then lost the mount cleanly" "$(cat "$d"/out.*)"
	err=$("$PYTHON" -c 'import os,sys
# stat may answer from the attribute cache: ask what reaches the daemon
try: os.statvfs(sys.argv[1]); os.listdir(sys.argv[1]); print("ok")
except OSError as e: print(os.strerror(e.errno))' "$d/m")
	is "$err" "$(python3 -c 'import os,errno; print(os.strerror(errno.ENOTCONN))')" "$label: the mountpoint reports ENOTCONN"
	if timeout 10 fusermount3 -u "$d/m" 2>/dev/null || timeout 10 umount -l "$d/m"; then
		ovl_mounted "$d/m" && tap_not_ok "$label: unmounted" || tap_ok "$label: fusermount3 -u (or umount -l) unmounts it"
	else
		tap_not_ok "$label: fusermount3 -u or umount -l unmounts it"
		abort_fuse "$d/m"
	fi
	tap_diag "$label: load ran ${LOAD}s; work/ held $(find "$d/w/work" -mindepth 1 2>/dev/null | wc -l) entries at the kill"
	fs_mount "$opts" "$d/m" || { tap_not_ok "$label: remount over the same upper and work" "$FS_MOUNT_ERR"; return; }
	tap_ok "$label: remount over the same upper and work"
	is "$(find "$d/w/work" -mindepth 1 | wc -l)" 0 "$label: the remount cleaned work/"
	local out
	out=$("$PYTHON" "$L" check "$d/m" "$d/log" "$d/l" $N "$strict")
	res $? 0 "$label: every file is whole: the logged version or the next, every fsync'd record" "$out"
	tap_diag "$label: $(head -1 <<<"$out")"
	ovl_unmount_safely "$d/m"
}

round threaded "" 1
round single-threaded ",threaded=0" 1
# With the writeback cache, written but unsynced data may die with the
# daemon: only the fsync'd records are promised.
round writeback ",writeback=1" 0
tap_done
