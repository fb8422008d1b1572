#!/bin/bash
# Start-to-exit latency of `layerctl run --rm --rootfs R true`, against
# bwrap on the same root filesystem (bind-mounted) and rootless
# `podman run --rm` (runc) of an image made from it.  Medians of RUNS runs
# each, and the ratios.  Rootless: run as an ordinary user; as root, a
# temporary user is made for the measurement (and /dev/fuse opened to it).
#
#   bench/run-latency.sh [RUNS]        (LAYERFS_BUILD: the build directory)
set -u
runs=${1:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
build=${LAYERFS_BUILD:-$here/build}

if [ "$(id -u)" -eq 0 ]; then
	user=lcbench$$
	work=$(mktemp -d /tmp/layerctl-bench.XXXXXX)
	fuse_mode=$(stat -c %a /dev/fuse)
	cleanup() {
		pkill -KILL -u "$user" 2>/dev/null
		sleep 0.2
		userdel -r "$user" >/dev/null 2>&1
		rm -rf "$work"
		[ "$(stat -c %a /dev/fuse)" = 666 ] && [ "$fuse_mode" != 666 ] && chmod "$fuse_mode" /dev/fuse
	}
	trap cleanup EXIT
	useradd -m "$user" || exit 1
	chmod 0666 /dev/fuse
	chmod 0755 "$work"
	cp "$build/layerctl" "$build/layerfs" "$0" "$work/"
	chown -R "$user" "$work"
	runuser -u "$user" -- env -i HOME="/home/$user" PATH=/usr/bin:/bin:/usr/sbin:/sbin \
		LAYERFS_BUILD="$work" BENCH_WORK="$work" "$work/$(basename "$0")" "$runs"
	exit $?
fi

work=${BENCH_WORK:-$(mktemp -d /tmp/layerctl-bench.XXXXXX)}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work/run}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# A busybox-static root filesystem with the usual mount points.
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc,root}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in $("$rootfs/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"
done
touch "$rootfs/etc/hostname" "$rootfs/etc/hosts" "$rootfs/etc/resolv.conf"

now_ms() { echo $(($(date +%s%N) / 1000)); }
# median FILE: the median of the times (microseconds) in FILE, in ms.
median() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (!NR) exit 1
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f\n", m / 1000 }'
}
# time_into FILE CMD...: run CMD once, append its wall time to FILE.
time_into() {
	local f=$1 s e
	shift
	s=$(now_ms)
	"$@" >/dev/null 2>&1 || return 1
	e=$(now_ms)
	echo $((e - s)) >> "$f"
}

lc_cmd=(nice "$build/layerctl" --root "$work/store" run --rm --rootfs "$rootfs" true)
bw_cmd=(nice bwrap --unshare-all --die-with-parent --bind "$rootfs" / --proc /proc --dev /dev
	--tmpfs /tmp true)
pm_cmd=(nice podman run --rm --network none --runtime runc localhost/layerctl-bench true)
have_bw=false have_pm=false pm_why="podman is not installed"
command -v bwrap >/dev/null && "${bw_cmd[@]}" >/dev/null 2>&1 && have_bw=true
if command -v podman >/dev/null; then
	if ! tar -C "$rootfs" -cf - . | podman import - localhost/layerctl-bench >/dev/null 2>&1; then
		pm_why="podman import fails as this user"
	elif ! "${pm_cmd[@]}" >/dev/null 2>&1; then
		pm_why="podman run fails as this user"
	else
		have_pm=true
	fi
fi
"${lc_cmd[@]}" >/dev/null 2>&1 || { echo "layerctl run fails" >&2; exit 1; }
# layerctl and bwrap interleaved, so that the load of a shared machine
# weighs on both alike; podman apart, as its exit leaves cleanup processes
# (conmon, "podman container cleanup") running for a while after it.
rm -f "$work"/t.*
for ((k = 0; k < runs; k++)); do
	time_into "$work/t.lc" "${lc_cmd[@]}"
	$have_bw && time_into "$work/t.bw" "${bw_cmd[@]}"
done
if $have_pm; then
	for ((k = 0; k < runs; k++)); do
		time_into "$work/t.pm" "${pm_cmd[@]}"
	done
fi
lc_t=$(median "$work/t.lc")
bw_t=$($have_bw && median "$work/t.bw")
pm_t=$($have_pm && median "$work/t.pm")
if $have_pm; then
	podman rmi -f localhost/layerctl-bench >/dev/null 2>&1
	podman system reset -f >/dev/null 2>&1
fi

echo "start-to-exit latency of 'true', median of $runs runs (rootless, uid $(id -u))"
printf '  %-44s %8s ms\n' "layerctl run --rm --rootfs R true" "${lc_t:-fail}"
printf '  %-44s %8s ms\n' "bwrap --unshare-all --bind R / ... true" "${bw_t:-n/a}"
printf '  %-44s %8s ms\n' "podman run --rm --network none (runc)" "${pm_t:-n/a}"
[ -n "$lc_t" ] && [ -n "$bw_t" ] &&
	awk -v a="$lc_t" -v b="$bw_t" 'BEGIN { printf "  layerctl / bwrap  = %.2fx (target: at most 2x)\n", a / b }'
if [ -n "$lc_t" ] && [ -n "$pm_t" ]; then
	awk -v a="$pm_t" -v b="$lc_t" 'BEGIN { printf "  podman / layerctl = %.2fx (target: at least 5x)\n", a / b }'
elif [ -z "$pm_t" ]; then
	echo "  podman: not measured ($pm_why)"
fi
