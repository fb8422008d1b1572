#!/bin/bash
# Start-to-exit latency of `layerctl run --rm --rootfs R true`, against
# bwrap on the same root filesystem (bind-mounted) and rootless
# `podman run --rm` (runc) of an image made from it.  Minimum, first
# quartile and median of RUNS runs each, the ratios of the medians, then
# where layerctl's time goes: the median time at which each phase ended
# over RUNS more runs with LAYERCTL_TRACE=1 (from the start of
# `layerctl run`; process start-up before it not included).  Rootless:
# run as an ordinary user; as root, a temporary user is made for the
# measurement (and /dev/fuse opened to it).
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
	cp "$build/layerctl" "$build/layerctl-full" "$build/layerfs" "$0" "$work/"
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
# spread FILE: "min MIN, p25 P25" of the times in FILE, in ms.
spread() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR) printf "min %.1f, p25 %.1f", v[1] / 1000, v[int((NR + 3) / 4)] / 1000 }'
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
# Each run also pays for the deferred kernel clean-up of the one before
# (namespaces, mounts): the order alternates so that neither always
# follows the other.
rm -f "$work"/t.*
for ((k = 0; k < runs; k++)); do
	if ((k % 2)) && $have_bw; then
		time_into "$work/t.bw" "${bw_cmd[@]}"
		time_into "$work/t.lc" "${lc_cmd[@]}"
	else
		time_into "$work/t.lc" "${lc_cmd[@]}"
		$have_bw && time_into "$work/t.bw" "${bw_cmd[@]}"
	fi
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

# The phases of layerctl's runs, traced apart from the timed runs.
rm -f "$work/trace"
for ((k = 0; k < runs; k++)); do
	LAYERCTL_TRACE=1 "${lc_cmd[@]}" 2>&1 >/dev/null | grep '^layerctl-trace:' >>"$work/trace"
done

echo "start-to-exit latency of 'true', median of $runs runs (rootless, uid $(id -u)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '  %-44s %8s ms  (%s)\n' "layerctl run --rm --rootfs R true" "${lc_t:-fail}" \
	"$(spread "$work/t.lc")"
printf '  %-44s %8s ms  (%s)\n' "bwrap --unshare-all --bind R / ... true" "${bw_t:-n/a}" \
	"$($have_bw && spread "$work/t.bw")"
printf '  %-44s %8s ms  (%s)\n' "podman run --rm --network none (runc)" "${pm_t:-n/a}" \
	"$($have_pm && spread "$work/t.pm")"
[ -n "$lc_t" ] && [ -n "$bw_t" ] &&
	awk -v a="$lc_t" -v b="$bw_t" 'BEGIN { printf "  layerctl / bwrap  = %.2fx (target: at most 2x)\n", a / b }'
if [ -n "$lc_t" ] && [ -n "$pm_t" ]; then
	awk -v a="$pm_t" -v b="$lc_t" 'BEGIN { printf "  podman / layerctl = %.2fx (target: at least 5x)\n", a / b }'
elif [ -z "$pm_t" ]; then
	echo "  podman: not measured ($pm_why)"
fi
if [ -s "$work/trace" ]; then
	echo "layerctl's phases: median end time over $runs traced runs (LAYERCTL_TRACE=1)"
	# "layerctl-trace: +MS WHO PHASE..." -> "WHO PHASE<TAB>MS", per phase
	# sorted by time, its median; then all phases in order of medians.
	tr -s ' ' <"$work/trace" | sed 's/^layerctl-trace: *+*\([0-9.]*\) *\(.*\)$/\2\t\1/' |
		sort -t "$(printf '\t')" -k1,1 -k2,2n |
		awk -F '\t' '
			function flush() { if (n) printf "%10.3f ms  %s\n", v[int((n + 1) / 2)], key; n = 0 }
			$1 != key { flush(); key = $1 }
			{ v[++n] = $2 }
			END { flush() }' | sort -n
fi
