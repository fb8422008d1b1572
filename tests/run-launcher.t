#!/bin/bash
# layerctl run, ps, rm, logs, stop, wait: as an ordinary user made for the
# test, on a busybox-static root filesystem built here (--rootfs) and on an
# OCI image written into a store by hand (config Env, WorkingDir, Cmd).
. "$(dirname "$0")/lib.sh"

need_root
need_cmd useradd userdel runuser busybox sha256sum script timeout
[ -x "$LAYERCTL" ] && [ -x "$LAYERFS" ] || tap_skip_all "layerctl/layerfs not built"
[ -c /dev/fuse ] || tap_skip_all "/dev/fuse is missing"

user=lcrun$$
work=$(mktemp -d /tmp/layerctl-run.XXXXXX)
fuse_mode=$(stat -c %a /dev/fuse)
cgroups=()
cleanup() {
	# Containers first (their processes hold mounts), then the user.
	pkill -KILL -u "$user" 2>/dev/null
	sleep 0.2
	local g
	for g in "${cgroups[@]}"; do
		find "$g" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	userdel -r "$user" >/dev/null 2>&1
	rm -rf "$work"
	[ "$(stat -c %a /dev/fuse)" = 666 ] && [ "$fuse_mode" != 666 ] && chmod "$fuse_mode" /dev/fuse
}
trap cleanup EXIT

useradd -m "$user" || tap_skip_all "cannot create a user"
grep -q "^$user:" /etc/subuid || tap_diag "no /etc/subuid range: the user maps alone to root"
chmod 0666 /dev/fuse
chmod 0755 "$work"

# The binaries where the user can run them, layerfs and layerctl-full
# (every command but run) beside layerctl.
mkdir -p "$work/bin"
cp "$LAYERCTL" "$LAYERCTL-full" "$LAYERFS" "$work/bin/"

# A busybox-static root filesystem.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in $("$rootfs/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nguest:x:1000:1000:guest:/home/guest:/bin/sh\n' \
	> "$rootfs/etc/passwd"
printf 'root:x:0:\nguest:x:1000:\n' > "$rootfs/etc/group"

# The same tree with image symlinks that point out of the root.
evil=$work/evil
cp -a "$rootfs" "$evil"
ln -s /tmp "$evil/mnt"
mkdir -p "$work/target"
ln -s "$work/target" "$evil/abs"

store=$work/store
mkdir -p "$work/vol" "$store"
echo hostdata > "$work/vol/f"
chown -R "$user" "$work/vol" "$store" "$work/target"

# An OCI image of the root filesystem, its layer extracted as the store
# keeps it (layers/<diffid>/tree), with a config to take defaults from.
make_image() {
	local diff cfg man size
	tar -C "$rootfs" -cf "$work/layer.tar" .
	diff=$(sha256sum < "$work/layer.tar" | cut -d' ' -f1)
	size=$(stat -c %s "$work/layer.tar")
	mkdir -p "$store/blobs/sha256" "$store/layers/$diff"
	mv "$work/layer.tar" "$store/blobs/sha256/$diff"
	cp -a "$rootfs" "$store/layers/$diff/tree"
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","GREETING=from-image"],' \
		> "$work/cfg"
	printf '"WorkingDir":"/srv/app","Cmd":["sh","-c","echo $GREETING in $(pwd)"]},' >> "$work/cfg"
	printf '"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >> "$work/cfg"
	cfg=$(sha256sum < "$work/cfg" | cut -d' ' -f1)
	cp "$work/cfg" "$store/blobs/sha256/$cfg"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",%s' \
		'"config":{"mediaType":"application/vnd.oci.image.config.v1+json",' > "$work/man"
	printf '"digest":"sha256:%s","size":%d},"layers":[{"mediaType":%s,"digest":"sha256:%s","size":%d}]}' \
		"$cfg" "$(stat -c %s "$work/cfg")" '"application/vnd.oci.image.layer.v1.tar"' \
		"$diff" "$size" >> "$work/man"
	man=$(sha256sum < "$work/man" | cut -d' ' -f1)
	cp "$work/man" "$store/blobs/sha256/$man"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":%s,"digest":"sha256:%s","size":%d,%s}]}' \
		'"application/vnd.oci.image.manifest.v1+json"' "$man" "$(stat -c %s "$work/man")" \
		'"annotations":{"org.opencontainers.image.ref.name":"testimg:1"}' > "$store/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' > "$store/oci-layout"
	chown -R "$user" "$store"
}
make_image

# as_user CMD...: run as the test user, in its home, with the test store.
as_user() {
	runuser -u "$user" -- env -i HOME="/home/$user" PATH=/usr/bin:/bin \
		LAYERCTL_ROOT="$store" "$@"
}
lc() { as_user "$work/bin/layerctl" "$@"; }
run() { lc run --rm --rootfs "$rootfs" "$@"; }

# The kernel must let this user make a user namespace at all.
if ! out=$(run true 2>&1); then
	tap_skip_all "layerctl run does not work for an ordinary user here: $out"
fi

out=$(run sh -c 'exit 42' 2>&1); is "$?" 42 "the command's exit status is passed through"

# Loading them would count in every container's start (several ms).
libs=$(readelf -d "$LAYERCTL" 2>&1 | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd ' ')
if [ -n "$libs" ] && ! grep -qE 'libarchive|libcrypto|libzstd|libxxhash|libz\.' <<<"$libs"; then
	tap_ok "layerctl, which runs containers itself, links no archive, digest or compression library ($libs)"
else
	tap_not_ok "layerctl links: ${libs:-nothing readable}"
fi
out=$(lc ps --help 2>&1); is "$?" 0 "another command is handed to layerctl-full"

out=$(run sh -c 'echo out; echo err >&2' 2>/dev/null)
is "$out" "out" "standard output reaches the caller"

out=$(as_user sh -c '"$1" run --rm --rootfs "$2" sleep 30 & p=$!; sleep 1; kill -TERM $p
	wait $p; echo $?' sh "$work/bin/layerctl" "$rootfs")
is "$out" 143 "SIGTERM is forwarded: sleep ends with 143"

out=$(echo piped | run -i cat)
is "$out" piped "-i: standard input reaches the command"
out=$(echo piped | run cat)
is "$out" "" "without -i the command reads /dev/null"

out=$(run --init=false sh -c 'echo $$')
is "$out" 1 "--init=false: the command is PID 1"

out=$(run sh -c 'cat /proc/1/status | grep -c "^Pid:	1$"; ls /proc | grep -c "^[0-9]"')
n=$(echo "$out" | tail -1)
if [ "$(echo "$out" | head -1)" = 1 ] && [ "$n" -le 4 ]; then
	tap_ok "a PID namespace of its own ($n processes seen)"
else
	tap_not_ok "a PID namespace of its own" "$out"
fi

out=$(run sh -c "test -e /proc/$$ && echo visible || echo hidden")
is "$out" hidden "host pids are not visible"

host_name=$(hostname)
out=$(run --hostname box sh -c 'hostname; cat /etc/hostname')
is "$out" "box
box" "--hostname sets the container's name and /etc/hostname"
is "$(hostname)" "$host_name" "the host's name is unchanged"

out=$(run sh -c 'ls /sys/class/net; cat /sys/class/net/lo/flags')
is "$out" "lo
0x9" "--network none: only loopback, and it is up"

out=$(run --network host sh -c 'ls /sys/class/net | wc -l')
if [ "$out" -ge 1 ] 2>/dev/null; then tap_ok "--network host runs ($out interfaces)"
else tap_not_ok "--network host runs" "$out"; fi

# Writes land in the container's upper, and only there.
id=$(lc run -d --rootfs "$rootfs" sh -c 'echo hello > /hello.txt; rm /bin/vi
	mkdir /locked; echo x > /locked/f; chown -R 1000:1000 /locked 2>/dev/null; chmod 0 /locked')
lc wait "$id" >/dev/null
cdir=$store/containers/$id
if [ -f "$cdir/upper/hello.txt" ] && [ ! -e "$rootfs/hello.txt" ] && [ -e "$rootfs/bin/vi" ]; then
	tap_ok "writes and deletions land in the container's upper layer"
else
	tap_not_ok "writes and deletions land in the container's upper layer" "$(ls -la "$cdir/upper")"
fi
out=$(lc ps -a | grep -c "${id:0:12}")
is "$out" 1 "ps -a lists the exited container"
lc rm "$id" >/dev/null
if [ ! -e "$cdir" ]; then tap_ok "rm removes the container directory, files of other ids included"
else tap_not_ok "rm removes the container directory" "$(ls -la "$cdir")"; fi

before=$(ls "$store/containers" | wc -l)
run sh -c 'echo x > /gone.txt'
after=$(ls "$store/containers" | wc -l)
is "$after" "$before" "--rm leaves no container behind"

out=$(run -u guest sh -c 'echo $(id -u):$(id -g)')
is "$out" "1000:1000" "-u takes a user name from the image's /etc/passwd"

out=$(run sh -c 'grep CapBnd /proc/self/status; grep NoNewPrivs /proc/self/status; ls /proc/self/fd | wc -l' 2>&1)
if echo "$out" | grep -q "CapBnd:	00000000800405fb" && echo "$out" | grep -q "NoNewPrivs:	1" &&
	[ "$(echo "$out" | tail -1)" -le 4 ]; then
	tap_ok "limited capabilities, no_new_privs, only stdio open"
else
	tap_not_ok "limited capabilities, no_new_privs, only stdio open" "$out"
fi

# Volumes.
out=$(run -v "$work/vol:/data" sh -c 'cat /data/f; echo written > /data/new')
if [ "$out" = hostdata ] && [ "$(cat "$work/vol/new" 2>/dev/null)" = written ]; then
	tap_ok "a volume is readable, writable, and its writes persist on the host"
else
	tap_not_ok "a volume is readable, writable, and its writes persist" "$out"
fi
out=$(run -v "$work/vol:/data:ro" sh -c 'echo x 2>/dev/null > /data/ro || echo refused')
is "$out" refused "a :ro volume is read-only"

# An image symlink must never take a mount out of the root.
out=$(lc run --rm --rootfs "$evil" -v "$work/vol:/mnt/escape" sh -c 'cat /tmp/escape/f')
if [ "$out" = hostdata ] && [ ! -e /tmp/escape ] && ! grep -q " /tmp/escape " /proc/self/mountinfo; then
	tap_ok "volume under an image symlink to /tmp lands in the container's /tmp"
else
	tap_not_ok "volume under an image symlink stays inside" "$out" "$(ls -la /tmp/escape 2>&1)"
fi
out=$(lc run --rm --rootfs "$evil" -v "$work/vol:/abs/x" sh -c 'cat /abs/x/f' 2>&1)
if [ ! -e "$work/target/x" ]; then
	tap_ok "volume under an absolute image symlink does not reach the host path"
else
	tap_not_ok "volume under an absolute image symlink" "$out"
fi
out=$(lc run --rm --rootfs "$evil" -v "$work/vol:/../../../../tmp/dotdot" true 2>&1)
if [ ! -e /tmp/dotdot ]; then tap_ok "a volume target with .. stays inside the root"
else tap_not_ok "a volume target with .. stays inside the root" "$out"; fi

out=$(run --read-only --tmpfs /scratch sh -c 'touch /x 2>/dev/null && echo rw; touch /scratch/x && echo scratch')
is "$out" scratch "--read-only root, writable --tmpfs"

# The image: Env, WorkingDir and Cmd from its config; options override.
out=$(lc run --rm testimg:1 2>&1)
is "$out" "from-image in /srv/app" "Env, WorkingDir and Cmd come from the image config"
out=$(lc run --rm -e GREETING=override -w /tmp testimg:1 2>&1)
is "$out" "override in /tmp" "-e and -w override the image config"
out=$(echo "GREETING=fromfile" > "$work/envfile"; chmod 644 "$work/envfile"
	lc run --rm --env-file "$work/envfile" testimg:1 2>&1)
is "$out" "fromfile in /srv/app" "--env-file sets variables"
# An image imported by layerctl itself; the store keeps it while a
# container uses it.
if lc import --help >/dev/null 2>&1; then
	# (not the tree of testimg:1, whose hand-made layer has no store record)
	tar -C "$evil" -cf "$work/rootfs.tar" . && chmod 644 "$work/rootfs.tar"
	lc import --quiet "$work/rootfs.tar" imported:1 >/dev/null 2>"$work/import.err" || tap_diag "$(cat "$work/import.err")"
	id=$(lc run -d imported:1 sh -c 'cat /etc/passwd | head -1; echo > /mark')
	lc wait "$id" >/dev/null
	out="$(lc logs "$id")|$(lc rm imported:1 >/dev/null 2>&1; echo $?)"
	is "$out" "root:x:0:0:root:/root:/bin/sh|1" \
		"an imported image runs; the store refuses to remove it while a container uses it"
	lc rm "$id" >/dev/null
	lc rm imported:1 >/dev/null
else
	tap_skip "an imported image runs" "this layerctl has no import command"
fi
out=$(lc run --rm nosuch:1 true 2>&1); rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q "'nosuch:1'"; then tap_ok "an unknown image is a clear error"
else tap_not_ok "an unknown image is a clear error" "rc=$rc" "$out"; fi
out=$(run nonexistent 2>&1); is "$?" 127 "a missing command exits 127"

# Two containers of one root filesystem do not see each other's writes.
a=$(lc run -d --name first --rootfs "$rootfs" sh -c 'echo A > /shared; sleep 2; cat /shared')
sleep 0.5
out=$(run sh -c 'cat /shared 2>/dev/null || echo none; echo B > /shared')
lc wait first >/dev/null
is "$out:$(lc logs first)" "none:A" "two containers at once keep their writes apart"

# Detached: logs, stop, wait.
id=$(lc run -d --rootfs "$rootfs" sh -c 'echo up; trap "echo term; exit 7" TERM; while :; do sleep 0.1; done')
sleep 0.5
st=$(lc ps | grep -c "${id:0:12}.*running")
lc stop -t 5 "$id" >/dev/null
out="$st:$(lc wait "$id"):$(lc logs "$id" | tr '\n' ' ')"
is "$out" "1:7:up term " "-d runs in the background; stop, wait and logs"
lc rm "$id" first >/dev/null

# A caller killed outright: the container runs on and ends with a state.
as_user sh -c '"$1" run --name orphan --rootfs "$2" sh -c "sleep 1; exit 4" & p=$!
	sleep 0.5; kill -KILL $p' sh "$work/bin/layerctl" "$rootfs"
out="$(lc wait orphan 2>&1)"
is "$out" 4 "a killed caller leaves the container to end with its status"
lc rm orphan >/dev/null

out=$(as_user script -qec "stty rows 33 cols 77; $work/bin/layerctl run --rm -t --rootfs $rootfs sh -c '[ -t 0 ] && stty size && tty'" /dev/null | tr -d '\r')
is "$out" "33 77
/dev/pts/0" "-t: a terminal of the container's devpts, with the caller's window size"

# Limits: a warning where no cgroup is writable; enforced where one is.
out=$(run --memory 64m true 2>&1)
if [ -w /sys/fs/cgroup/memory ] && runuser -u "$user" -- test -w /sys/fs/cgroup/memory; then
	tap_skip "warning without a writable cgroup" "the user can write the memory cgroup"
elif echo "$out" | grep -q "warning: .*--memory"; then
	tap_ok "without a writable cgroup: a warning, then the run"
else
	tap_not_ok "without a writable cgroup: a warning" "$out"
fi

# Delegate v1 groups to the user as an administrator would (chown).
delegated=true
for c in memory pids; do
	g=/sys/fs/cgroup/$c/layerctl-test-$$
	if [ -d "/sys/fs/cgroup/$c" ] && mkdir "$g" 2>/dev/null; then
		cgroups+=("$g")
		chown -R "$user" "$g"
	else
		delegated=false
	fi
done
in_groups() {
	local s="" g
	for g in "${cgroups[@]}"; do s="$s echo \$\$ > $g/cgroup.procs;"; done
	as_user sh -c "$s exec \"\$@\"" sh "$@"
}
if $delegated; then
	out=$(in_groups timeout 60 "$work/bin/layerctl" run --rm --memory 32m --rootfs "$rootfs" \
		dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1)
	is "$?" 137 "--memory: a hog is killed by the memory limit (v1)"
	start=$SECONDS
	out=$(in_groups timeout 60 "$work/bin/layerctl" run --rm --pids-limit 16 --rootfs "$rootfs" \
		sh -c 'for i in $(seq 100); do sleep 3 & done; echo all' 2>&1)
	if echo "$out" | grep -q "can't fork" && ! echo "$out" | grep -q "^all"; then
		tap_ok "--pids-limit stops a fork bomb ($((SECONDS - start)) s)"
	else
		tap_not_ok "--pids-limit stops a fork bomb" "$out"
	fi
	cpu=$(ls -d /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct 2>/dev/null | head -1)
	if [ -n "$cpu" ] && mkdir "$cpu/layerctl-test-$$" 2>/dev/null; then
		cgroups+=("$cpu/layerctl-test-$$")
		chown -R "$user" "$cpu/layerctl-test-$$"
		id=$(in_groups "$work/bin/layerctl" run -d --cpus 0.5 --rootfs "$rootfs" sleep 5)
		sleep 0.3
		out=$(cat "$cpu/layerctl-test-$$/layerctl-${id:0:12}/cpu.cfs_quota_us" 2>&1)
		is "$out" 50000 "--cpus 0.5: a CFS quota of half the period (v1)"
		daemon=$(pgrep -u "$user" -f "layerfs .*$id" | head -1)
		in_cg=$(grep -c "layerctl-${id:0:12}" "/proc/$daemon/cgroup" 2>/dev/null)
		if [ -n "$daemon" ] && [ "$in_cg" = 0 ]; then
			tap_ok "the layerfs daemon stays out of the container's cgroup"
		else
			tap_not_ok "the layerfs daemon stays out of the container's cgroup" \
				"daemon=$daemon" "$(cat "/proc/$daemon/cgroup" 2>&1)"
		fi
		lc stop -t 1 "$id" >/dev/null
		lc rm "$id" >/dev/null
	else
		tap_skip "--cpus sets a CFS quota" "no v1 cpu hierarchy to delegate"
		tap_skip "the daemon stays out of the cgroup" "no v1 cpu hierarchy to delegate"
	fi
	out=$(in_groups "$work/bin/layerctl" run --rm --memory 32m --rootfs "$rootfs" \
		sh -c 'cat /proc/self/cgroup' 2>&1)
	if echo "$out" | grep -q ":memory:/$"; then tap_ok "the container sees its own cgroup as /"
	else tap_not_ok "the container sees its own cgroup as /" "$out"; fi
else
	tap_skip "--memory kills a hog" "no v1 memory and pids hierarchies to delegate"
	tap_skip "--pids-limit stops a fork bomb" "no v1 memory and pids hierarchies to delegate"
	tap_skip "cgroup namespace" "no v1 hierarchies"
fi

# Refusals name their cause: user namespaces limited to 0 (a user
# namespace's own limit, so nothing changes for the machine), no /dev/fuse.
out=$(as_user unshare -Ur sh -c 'echo 0 > /proc/sys/user/max_user_namespaces &&
	exec "$1" run --rm --rootfs "$2" true' sh "$work/bin/layerctl" "$rootfs" 2>&1)
if echo "$out" | grep -q "cannot create a user namespace: .*sysctl user.max_user_namespaces"; then
	tap_ok "a refused user namespace names the sysctl"
else
	tap_not_ok "a refused user namespace names the sysctl" "$out"
fi
out=$(as_user unshare -Urm sh -c 'mount -t tmpfs none /dev &&
	exec "$1" run --rm --rootfs "$2" true' sh "$work/bin/layerctl" "$rootfs" 2>&1)
if echo "$out" | grep -q "'/dev/fuse' is missing"; then tap_ok "a missing /dev/fuse is named"
else tap_not_ok "a missing /dev/fuse is named" "$out"; fi

out=$(lc run --bogus 2>&1); is "$?" 2 "a bad option is a usage error (2)"
out=$(lc run --help); case $out in Usage:*) tap_ok "run --help";; *) tap_not_ok "run --help" "$out";; esac

left=$(ls "$store/containers" 2>/dev/null | wc -l)
is "$left" 0 "no container left behind"
[ "$left" = 0 ] || lc ps -a | sed 's/^/# /'

tap_done
