# Shared logic of the overlay filesystem suites: which filesystem is under
# test, mounting and unmounting it and kernel overlayfs, temp dirs that are
# always cleaned up, and the differential run (kernel overlay = oracle).
# Sourcing it sources lib.sh too.
#
#   FS_UNDER_TEST=layerfs (default; $LAYERFS_BUILD/layerfs) or fuse-overlayfs;
#                 "kernel" runs the oracle against itself, which proves the
#                 harness deterministic (every scenario must pass)
#   SEED=N RANDOM_COUNT=M   random sequences (replay one: SEED=N RANDOM_COUNT=1)
#   ONLY=REGEX              run only the scenarios whose name matches

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${FS_UNDER_TEST:=layerfs}"
# The oracle's options: layerfs renames lower directories and keeps lower
# hardlinks linked after copy-up, which kernel overlay does only with these.
ORACLE_OPTS="redirect_dir=on,index=on"
# The system python: the suites may run as a user that cannot reach a
# per-user python installation.
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
# No __pycache__ left in the source tree.
PYTHONDONTWRITEBYTECODE=1
export FS_UNDER_TEST PYTHON PYTHONDONTWRITEBYTECODE

case $FS_UNDER_TEST in
layerfs) FS_BIN=$LAYERFS ;;
fuse-overlayfs) FS_BIN=$(command -v fuse-overlayfs || echo /usr/bin/fuse-overlayfs) ;;
kernel) FS_BIN=$(command -v mount) ;;
*) echo "1..0 # SKIP unknown FS_UNDER_TEST '$FS_UNDER_TEST'"; exit 0 ;;
esac
export FS_BIN

ovl_py() { PYTHONPATH="$TESTS_DIR" "$PYTHON" -m ovltest "$@"; }
# The same with a time limit, for anything that touches a mount: a hung
# filesystem must fail the suite, not stall it.
ovl_py_timed() { timeout -k 10 "${OVL_TIMEOUT:-600}" env PYTHONPATH="$TESTS_DIR" "$PYTHON" -m ovltest "$@"; }

# Skip the whole suite unless the filesystem under test and the tools run.
need_fs() {
	[ -n "$PYTHON" ] || tap_skip_all "python3 is not installed"
	need_cmd fusermount3 mountpoint timeout
	[ -x "$FS_BIN" ] || tap_skip_all "$FS_UNDER_TEST binary '$FS_BIN' is not built"
	[ -e /dev/fuse ] || tap_skip_all "/dev/fuse is missing"
}

# Run the rest of the suite in a mount namespace of its own: a namespace
# another process creates meanwhile would otherwise keep a copy of our
# mounts, so that an unmounted kernel overlay lives on and its upper cannot
# be mounted again (index=on); and whatever happens, the mounts die with
# the suite.  Call first thing, as root.
ovl_private_mount_ns() {
	[ -n "${OVL_PRIVATE_NS:-}" ] && return 0
	unshare -m --propagation private true 2>/dev/null || return 0
	OVL_PRIVATE_NS=1 exec unshare -m --propagation private bash "$0" "$@"
}

# Skip unless kernel overlayfs (the oracle) mounts here with OPTS.
need_kernel_overlay() {
	local opts=${1:-} d
	d=$(mktemp -d /tmp/lfs-probe.XXXXXX)
	mkdir "$d/l" "$d/u" "$d/w" "$d/m"
	if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w${opts:+,$opts}" "$d/m" 2>/dev/null; then
		umount "$d/m"; rm -rf "$d"
	else
		rm -rf "$d"; tap_skip_all "kernel overlayfs does not mount here (options: ${opts:-none})"
	fi
}

# ovl_begin [KERNEL_OPTS | -]: the common start of a suite: root, a mount
# namespace of its own, the filesystem under test, and (unless "-") kernel
# overlayfs mounting with KERNEL_OPTS.
ovl_begin() {
	need_root
	ovl_private_mount_ns
	need_fs
	[ "${1-}" = - ] || need_kernel_overlay "${1-}"
}

# --- temp dir and cleanup -----------------------------------------------------
OVL_MOUNTS=()
OVL_CLEANUP_HOOKS=()
# Whether M is a mount point, from the mount table: stat() on a mount whose
# daemon hangs would hang too.
ovl_mounted() { awk -v m="$1" '$5 == m {f = 1} END {exit !f}' /proc/self/mountinfo; }

# Abort the FUSE connection behind M (its daemon hangs or is gone), so that
# nothing touching M blocks any more, then detach it.
abort_fuse() {
	local m=$1 dev
	dev=$(awk -v m="$m" '$5 == m && $9 ~ /^fuse/ {print $3}' /proc/self/mountinfo | tail -1)
	if [ -n "$dev" ]; then
		[ -e "/sys/fs/fuse/connections/${dev#*:}" ] ||
			mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
		echo 1 2>/dev/null >"/sys/fs/fuse/connections/${dev#*:}/abort"
	fi
	umount -l "$m" 2>/dev/null
}

# Unmount M whatever state its filesystem is in.
ovl_unmount_safely() {
	local m=$1
	ovl_mounted "$m" || return 0
	timeout 10 fusermount3 -u "$m" 2>/dev/null || timeout 10 umount "$m" 2>/dev/null
	ovl_mounted "$m" || return 0
	abort_fuse "$m"
}

ovl_cleanup() {
	local i h
	cd / || true
	for ((i = ${#OVL_MOUNTS[@]} - 1; i >= 0; i--)); do ovl_unmount_safely "${OVL_MOUNTS[i]}"; done
	for h in "${OVL_CLEANUP_HOOKS[@]}"; do eval "$h"; done
	if [ -n "${OVL_KEEP:-}" ]; then echo "# kept $T" >&2; elif [ -n "${T:-}" ] && [ -d "$T" ]; then rm -rf "$T"; fi
}
# ovl_tmpdir NAME: fresh $T under /tmp, removed (after unmounting) on exit.
ovl_tmpdir() {
	T=$(mktemp -d "/tmp/lfs$1.XXXXXX")
	trap ovl_cleanup EXIT
	trap 'exit 130' INT TERM
}

# ovl_lowerdir DIR N: "DIR/l(N-1):...:DIR/l0", top first as mount wants it.
ovl_lowerdir() {
	local d=$1 n=$2 i s=""
	for ((i = n - 1; i >= 0; i--)); do s+="${s:+:}$d/l$i"; done
	printf '%s' "$s"
}

# --- mounting -----------------------------------------------------------------
kernel_mount() { # kernel_mount OPTS MNT
	mount -t overlay overlay -o "$1" "$2" && OVL_MOUNTS+=("$2")
}
# kernel_unmount MNT: a mount that is still busy for a moment (a process
# exiting) is retried; the upper may not be mounted again before it is gone.
kernel_unmount() {
	local i
	for ((i = 0; i < 20; i++)); do
		umount "$1" 2>/dev/null && return 0
		sleep 0.5
	done
	tap_diag "cannot unmount $1: $(umount "$1" 2>&1)"
	return 1
}

# fs_mount OPTS MNT: mount the filesystem under test; its stderr is left
# in $FS_MOUNT_ERR.  The daemon returns once the mount is ready.
fs_mount() {
	local rc
	if [ "$FS_UNDER_TEST" = kernel ]; then
		FS_MOUNT_ERR=$(mount -t overlay overlay -o "$1${KERNEL_SELF_OPTS:+,$KERNEL_SELF_OPTS}" "$2" 2>&1)
	else
		# stderr to a file, not a pipe: a daemon that kept the pipe open
		# would stall the caller until it exits
		timeout 60 "$FS_BIN" -o "$1" "$2" >/dev/null 2>"$T/.mount-err"
		rc=$?
		FS_MOUNT_ERR=$(cat "$T/.mount-err")
		rm -f "$T/.mount-err"
		(exit $rc)
	fi
	rc=$?
	if [ $rc -eq 0 ] && ! mountpoint -q "$2"; then
		FS_MOUNT_ERR="exit 0 but '$2' is not a mount point${FS_MOUNT_ERR:+: $FS_MOUNT_ERR}"
		rc=1
	fi
	[ $rc -eq 0 ] && OVL_MOUNTS+=("$2")
	return $rc
}

# The daemon serving MNT: the process whose command line names MNT.
fs_daemon_pid() {
	local m=$1 p
	for p in /proc/[0-9]*; do
		[ -r "$p/cmdline" ] || continue
		if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$m"; then
			echo "${p#/proc/}"; return 0
		fi
	done
	return 1
}

# fs_unmount MNT: unmount and wait for the daemon to exit, so that
# everything it wrote is in the upper before anyone looks.
fs_unmount() {
	local m=$1 pid i
	pid=$(fs_daemon_pid "$m")
	for ((i = 0; ; i++)); do
		timeout 10 fusermount3 -u "$m" 2>/dev/null || timeout 10 umount "$m" 2>/dev/null && break
		[ $i -lt 20 ] || return 1
		sleep 0.5
	done
	if [ -n "$pid" ] && [ "$FS_UNDER_TEST" != kernel ]; then
		for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	return 0
}

# --- TAP from verdict lines ("ok NAME" / "not ok NAME" + "# diag") --------------
tap_results() {
	local line name="" diag=()
	_flush() {
		[ -n "$name" ] || return 0
		if [ "$name" = "${name#!}" ]; then tap_ok "$name"; else tap_not_ok "${name#!}" "${diag[@]}"; fi
		name=""; diag=()
	}
	while IFS= read -r line; do
		case $line in
		"ok "*) _flush; name=${line#ok } ;;
		"not ok "*) _flush; name="!${line#not ok }" ;;
		"# "*) diag+=("${line#\# }") ;;
		esac
	done <"$1"
	_flush
}

# --- the differential run ---------------------------------------------------------
# run_differential SUITE [LOWER_FORM [XATTR_NS [KERNEL_OPTS [FS_OPTS]]]]
#   Builds the suite's layers, mounts kernel overlay over one copy and the
#   filesystem under test over another (LOWER_FORM: overlay or oci for the
#   latter's lowers), runs every scenario's operations in both, unmounts
#   (and, for scenarios with a second phase, mounts both again and runs
#   that), renders both uppers, remounts the filesystem under test on its
#   upper and renders again; prints one TAP test point per scenario.
run_differential() {
	local suite=$1 form=${2:-overlay} xns=${3:-trusted} kopts=${4-$ORACLE_OPTS} fopts=${5:-}
	# each run in its own short-named directory: 100 lowerdirs must fit in
	# the kernel's one-page mount option string
	OVL_RUNS=$((${OVL_RUNS:-0} + 1))
	local base=$T/r$OVL_RUNS
	local n k=$base/k f=$base/f lo phases
	KERNEL_SELF_OPTS=$kopts
	n=$(ovl_py nlowers "$suite") || { tap_not_ok "$suite: scenario tables load" "$(ovl_py nlowers "$suite" 2>&1)"; return; }
	ovl_py build "$suite" "$base/src" --xattr-ns "$xns" || { tap_not_ok "$suite: layers build"; return; }
	cp -a "$base/src" "$k"
	if [ "$form" = oci ]; then
		ovl_py build "$suite" "$f" --form oci --xattr-ns "$xns" || { tap_not_ok "$suite: OCI layers build"; return; }
	else
		cp -a "$base/src" "$f"
	fi
	mkdir -p "$k/work" "$k/mnt" "$f/work" "$f/mnt"

	lo=$(ovl_lowerdir "$k" "$n")
	kernel_mount "lowerdir=$lo,upperdir=$k/upper,workdir=$k/work${kopts:+,$kopts}" "$k/mnt" ||
		{ tap_not_ok "$suite: kernel overlay mounts"; return; }
	ovl_py_timed run "$suite" "$k/mnt" "$k/ops.json"
	kernel_unmount "$k/mnt"
	phases=$(ovl_py phases "$suite")
	if [ "$phases" = 2 ]; then
		kernel_mount "lowerdir=$lo,upperdir=$k/upper,workdir=$k/work${kopts:+,$kopts}" "$k/mnt" ||
			{ tap_not_ok "$suite: kernel overlay mounts again"; return; }
		ovl_py_timed run "$suite" "$k/mnt" "$k/ops2.json" --phase 2
		kernel_unmount "$k/mnt"
	fi
	ovl_py upper "$suite" "$k" "$k/upper.json"

	local fs_lo fs_o
	fs_lo=$(ovl_lowerdir "$f" "$n")
	fs_o="lowerdir=$fs_lo,upperdir=$f/upper,workdir=$f/work${fopts:+,$fopts}"
	if fs_mount "$fs_o" "$f/mnt"; then
		ovl_py_timed run "$suite" "$f/mnt" "$f/ops.json" ||
			tap_diag "the operations run against $FS_UNDER_TEST did not complete"
		fs_unmount "$f/mnt" || tap_diag "unmounting $FS_UNDER_TEST failed"
		if [ "$phases" = 2 ]; then
			if fs_mount "$fs_o" "$f/mnt"; then
				ovl_py_timed run "$suite" "$f/mnt" "$f/ops2.json" --phase 2 ||
					tap_diag "the operations after the remount did not complete"
				fs_unmount "$f/mnt" || tap_diag "unmounting $FS_UNDER_TEST failed"
			else
				tap_diag "mounting $FS_UNDER_TEST again failed: $FS_MOUNT_ERR"
			fi
		fi
		ovl_py upper "$suite" "$f" "$f/upper.json"
		if fs_mount "$fs_o" "$f/mnt"; then
			ovl_py_timed view "$suite" "$f/mnt" "$f/remount.json"
			fs_unmount "$f/mnt"
		else
			tap_diag "remounting $FS_UNDER_TEST failed: $FS_MOUNT_ERR"
		fi
	else
		tap_diag "mounting $FS_UNDER_TEST failed: $FS_MOUNT_ERR"
	fi
	if ovl_py judge "$suite" "$k" "$f" "$FS_UNDER_TEST" --need-remount >"$base/verdicts" 2>&1; then
		tap_results "$base/verdicts"
	else
		tap_not_ok "$suite: judging the results" "$(cat "$base/verdicts")"
	fi
}
