# Helpers for one rootless check, sourced inside the test user's user and
# mount namespace by tests/rootless.t.  Environment: W (the suite's
# directory, holding img/ and run/), FS (layerfs or fuse-overlayfs), FSBIN
# (the binary), RL_EXTRA (options added to every rl_mount).  A check prints why it fails and exits non-zero.

RL_MOUNTS=()
trap 'for m in "${RL_MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done' EXIT

# rl_mount [OPTIONS]: mount the image with a fresh upper; sets M UP WK.
rl_mount() {
	local d
	d=$(mktemp -d "$W/run/$FS.XXXXXX") || exit 1
	UP=$d/upper WK=$d/work M=$d/mnt
	mkdir "$UP" "$WK" "$M"
	rl_mount_on "$M" "lowerdir=$W/img,upperdir=$UP,workdir=$WK${1:+,$1}${RL_EXTRA:+,$RL_EXTRA}"
}

# rl_mount_on MNT OPTIONS: mount with exactly these options.
declare -A RL_OPTS=()
rl_mount_on() {
	"$FSBIN" -o "$2" "$1" || { echo "$FS -o $2 $1 failed"; exit 1; }
	RL_MOUNTS+=("$1")
	RL_OPTS[$1]=$2
}

# rl_remount: unmount M and mount it again with the same options.
rl_remount() {
	umount "$M" || { echo "cannot unmount $M"; exit 1; }
	sleep 0.2
	"$FSBIN" -o "${RL_OPTS[$M]}" "$M" || { echo "remount of $M failed"; exit 1; }
}

# want GOT WANT WHAT
want() {
	[ "$1" == "$2" ] && return 0
	printf '%s: got %q, want %q\n' "$3" "$1" "$2"
	exit 1
}
