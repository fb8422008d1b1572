# Shared helpers for the shell test suites (TAP producers run by prove).
# Source it:  . "$(dirname "$0")/lib.sh"

: "${LAYERFS_BUILD:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}"
LAYERFS="$LAYERFS_BUILD/layerfs"
LAYERCTL="$LAYERFS_BUILD/layerctl"
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LAYERFS LAYERCTL LAYERFS_BUILD TESTS_DIR

_tap_n=0
_tap_failed=0

tap_plan() { echo "1..$1"; }
tap_skip_all() { echo "1..0 # SKIP $*"; exit 0; }
tap_ok() {     # tap_ok DESCRIPTION  (pass)
	_tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"
}
tap_not_ok() { # tap_not_ok DESCRIPTION [DIAG...]
	_tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"; shift
	local l; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
tap_todo() {   # tap_todo DESCRIPTION REASON [DIAG...]: a known gap, reported, not failed
	_tap_n=$((_tap_n + 1)); echo "not ok $_tap_n - $1 # TODO $2"; shift 2
	local l; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
tap_skip() {   # tap_skip DESCRIPTION REASON
	_tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"
}
tap_diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
# check DESCRIPTION COMMAND...: one test point from a command's exit status.
check() {
	local desc=$1; shift
	local out
	if out=$("$@" 2>&1); then tap_ok "$desc"; else tap_not_ok "$desc" "command: $*" "$out"; fi
}
# is GOT WANT DESCRIPTION
is() {
	if [ "$1" == "$2" ]; then tap_ok "$3"; else tap_not_ok "$3" "got:  $1" "want: $2"; fi
}
tap_done() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }

need_root() { [ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (runs as uid $(id -u))"; }
need_cmd() { local c; for c; do command -v "$c" >/dev/null 2>&1 || tap_skip_all "'$c' is not installed"; done; }

# debug_mount LOG MNT OPTIONS: run layerfs in the foreground with
# -o OPTIONS,debug, its request log appended to LOG (appended, so that the
# log can be emptied under the running daemon), and wait for the mount.
# The daemon's pid is in DEBUG_PID.
debug_mount() {
	local log=$1 mnt=$2 k
	: > "$log"
	"$LAYERFS" -f -o "$3,debug" "$mnt" 2>>"$log" &
	DEBUG_PID=$!
	for ((k = 0; k < 200; k++)); do
		mountpoint -q "$mnt" && return 0
		sleep 0.05
	done
	return 1
}

# Unmount a FUSE or kernel mount, lazily if it is busy.
unmount_quiet() {
	local m=$1
	mountpoint -q "$m" 2>/dev/null || return 0
	fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
}
