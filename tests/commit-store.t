#!/bin/bash
# layerctl commit and the store: a commit onto a full store fails cleanly
# and leaves it byte for byte as it was; bad input gets a clear error and
# changes nothing; the mount points `layerctl run` makes are no change; a
# running container is committed consistently and keeps running.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/store-lib.sh"
. "$TESTS_DIR/commit-lib.sh"
. "$TESTS_DIR/testuser-lib.sh"
need_root
need_cmd umoci jq setfattr python3 unshare timeout
[ -x "$LAYERCTL" ] && [ -x "$LAYERFS" ] || tap_skip_all "layerctl or layerfs is not built"
[ -e /dev/fuse ] || tap_skip_all "/dev/fuse is missing"
commit_own_namespace
store_setup
trap 'unmount_below "$WORK"; testuser_cleanup >/dev/null; store_cleanup' EXIT
L=$LAYERCTL

make_change_image "$WORK/oci" img

# snapshot DIR: names, types, sizes, modes and content hashes of DIR
# (not below other mounts).
snapshot() {
	(cd "$1" && find . -xdev -printf '%P|%y|%m|%s\n' | LC_ALL=C sort &&
		find . -xdev -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}

# --- a full store ---------------------------------------------------------
SMALL=$WORK/small
mkdir -p "$SMALL"
if mount -t tmpfs -o size=24m tmpfs "$SMALL" 2>/dev/null; then
	export LAYERCTL_ROOT=$SMALL/store
	"$L" -q import "$WORK/oci" >/dev/null
	"$L" create --name full img >/dev/null
	m=$("$L" mount full)
	head -c 6M /dev/urandom >"$m/big"
	echo small >"$m/small"
	# Leave about 2 MiB: less than the 6 MiB blob and tree need.
	free=$(df -k --output=avail "$SMALL" | tail -1)
	fallocate -l $(((free - 2048) * 1024)) "$SMALL/filler" 2>/dev/null ||
		head -c $(((free - 2048) * 1024)) /dev/zero >"$SMALL/filler"
	snapshot "$SMALL/store" >"$WORK/before"
	err=$("$L" commit full big:one 2>&1 >/dev/null); rc=$?
	snapshot "$SMALL/store" >"$WORK/after"
	[ $rc -eq 1 ] && grep -q "No space left on device" <<<"$err" &&
		tap_ok "commit onto a full store fails, saying why" ||
		tap_not_ok "commit onto a full store fails, saying why" "exit $rc" "$err"
	if diff -u "$WORK/before" "$WORK/after" >"$WORK/snap.diff"; then
		tap_ok "the full store is byte for byte as before (names, modes, sizes, contents)"
	else
		tap_not_ok "the full store is byte for byte as before" "$(head -20 "$WORK/snap.diff")"
	fi
	rm -f "$SMALL/filler"
	check "with the space back the same commit works" "$L" -q commit full big:one
	is "$("$L" -q create big:one >/dev/null && ls "$SMALL/store/tmp" | wc -l)" 0 "no temp leftovers"
	"$L" umount full
	unmount_below "$SMALL"
	umount "$SMALL"
else
	tap_skip "commit onto a full store" "cannot mount a tmpfs here"
	tap_skip "the full store is as before" "cannot mount a tmpfs here"
	tap_skip "with the space back the same commit works" "cannot mount a tmpfs here"
	tap_skip "no temp leftovers" "cannot mount a tmpfs here"
fi

# --- bad input ----------------------------------------------------------
export LAYERCTL_ROOT=$WORK/store
"$L" -q import "$WORK/oci" >/dev/null
"$L" create --name c img >/dev/null
echo x >"$("$L" mount c)/file"
snapshot "$WORK/store" >"$WORK/before"
# bad DESC WANT_EXIT WANT_TEXT ARGS...
bad() {
	local desc=$1 want_rc=$2 want=$3 err rc; shift 3
	err=$("$L" "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq "$want_rc" ] && grep -qF -- "$want" <<<"$err" && [ "$(wc -l <<<"$err")" -le 2 ]; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc" "exit $rc, want $want_rc" "$err"
	fi
}
bad "commit of an unknown container names it" 1 "no container 'nosuch'" commit nosuch x:one
bad "commit to a bad name names it" 1 "bad image name 'Bad Name'" commit c "Bad Name"
bad "commit to a version tag that is not semver" 1 "bad image name 'x:v1'" commit c x:v1
bad "commit without a name" 2 "expects CONTAINER NAME[:TAG]" commit c
bad "commit --compress of an unknown algorithm" 2 "--compress takes gzip, zstd or none, not 'xz'" commit --compress xz c x:one
bad "commit --timestamp that is no number" 2 "not 'yesterday'" commit --timestamp yesterday c x:one
bad "diff of an unknown container" 1 "no container or image 'nosuch'" diff nosuch
bad "diff of an unknown image" 1 "nosuch" diff img nosuch
bad "create of an unknown image" 1 "nosuch" create nosuch
bad "create with a name in use" 1 "the name 'c' is already used" create --name c img
bad "mount of an unknown container" 1 "no container 'nosuch'" mount nosuch
bad "squash --from beyond the layers" 1 "it has 2 layers" squash --from 2 img x:one
bad "squash of an unknown image" 1 "nosuch" squash nosuch x:one
snapshot "$WORK/store" >"$WORK/after"
diff -q "$WORK/before" "$WORK/after" >/dev/null && tap_ok "bad input changes nothing in the store" ||
	tap_not_ok "bad input changes nothing in the store" "$(diff "$WORK/before" "$WORK/after" | head)"
"$L" umount c

# --- what run adds is no change ---------------------------------------------
mkdir -p "$WORK/vol"
out=$(timeout 60 "$L" run --name r -v "$WORK/vol:/mnt/vol" img /bin/sh -c 'echo ran > /ran' 2>&1)
if [ $? -eq 0 ]; then
	is "$("$L" diff r)" "A /ran" "the mount points run made (/proc, /sys, /dev, /etc files, a volume target) are no change"
	d=$("$L" -q commit --compress none r ran:one)
	layer=$(jq -r '.layers[-1].digest' "$WORK/store/blobs/sha256/${d#sha256:}" | cut -d: -f2)
	is "$(tar -tf "$WORK/store/blobs/sha256/$layer" | tr '\n' ' ')" "ran " "and not in its commit"
else
	tap_skip "the mount points run made are no change" "run cannot start a container here: $out"
	tap_skip "and not in its commit" "run cannot start a container here"
fi

# --- a running container --------------------------------------------------
# The loop writes /a then /b: a moment's state has b <= a <= b + 1 (or one
# of them empty, caught between its truncation and its write); reading
# a moving tree would see b run ahead of a.
id=$(timeout 20 "$L" run -d --name live img /bin/sh -c \
	'i=0; while :; do i=$((i+1)); echo "$i" > /a; echo "$i" > /b; echo "$i" > /n; done' 2>&1)
if [ $? -eq 0 ] && [ -n "$id" ]; then
	sleep 0.5
	d=$("$L" -q commit --compress none live live:one 2>&1)
	layer=$(jq -r '.layers[-1].digest' "$WORK/store/blobs/sha256/${d#sha256:}" 2>/dev/null | cut -d: -f2)
	a=$(tar -xOf "$WORK/store/blobs/sha256/$layer" a 2>&1)
	b=$(tar -xOf "$WORK/store/blobs/sha256/$layer" b 2>&1)
	if [[ "$a$b" =~ ^[0-9]+$ ]] && { [ -z "$a" ] || [ -z "$b" ] || { [ "$b" -le "$a" ] && [ "$a" -le $((b + 1)) ]; }; }; then
		tap_ok "a running container's commit holds one moment's state (a=$a b=$b)"
	else
		tap_not_ok "a running container's commit holds one moment's state" "a=$a b=$b" "$d"
	fi
	# /n is rewritten all the time: read until a whole value shows.
	readn() { local v k; for k in $(seq 50); do v=$(cat "$WORK/store/containers/$id/upper/n" 2>/dev/null); [ -n "$v" ] && break; done; echo "$v"; }
	# Progress within a few seconds, however loaded the machine.
	n1=$(readn)
	for k in $(seq 50); do sleep 0.1; n2=$(readn); [ -n "$n2" ] && [ "$n2" != "$n1" ] && break; done
	state=$("$L" ps | grep -c "${id:0:12}.*running")
	[ "$state" -eq 1 ] && [ -n "$n1" ] && [ -n "$n2" ] && [ "$n1" != "$n2" ] &&
		tap_ok "and it keeps running after" || tap_not_ok "and it keeps running after" "$state $n1 $n2"
	"$L" stop -t 1 live >/dev/null 2>&1
	"$L" wait live >/dev/null 2>&1
else
	tap_skip "a running container's commit holds one moment's state" "run -d cannot start a container here: $id"
	tap_skip "and it keeps running after" "run -d cannot start a container here"
fi
# --- an ordinary user -------------------------------------------------------
# Outside a user namespace the mount goes through fusermount3; files the
# user writes there are the user's on the host and the container's root's
# in diff and commit.
if command -v runuser >/dev/null && command -v fusermount3 >/dev/null &&
	testuser_setup layerctl-commit && testuser_dev_fuse; then
	cp -a "$WORK/oci" "$TU_HOME/oci" && chown -R "$TU_NAME:" "$TU_HOME/oci"
	u() { as_testuser env LAYERCTL_ROOT="$TU_HOME/store" "$LAYERCTL" "$@"; }
	u -q import "$TU_HOME/oci" >/dev/null 2>&1
	u create --name uc img >/dev/null 2>&1
	m=$(u mount uc 2>&1)
	if [ "$m" == "$(ls -d "$TU_HOME"/store/containers/*)/merged" ] && awk -v m="$m" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; then
		tap_ok "an ordinary user mounts a container (fusermount3)"
		# The user is not root there: root's files of the image stay as they are.
		as_testuser sh -c "echo mine > '$m/mine'; rm -f '$m/etc/motd'" 2>/dev/null
		is "$(u diff uc 2>&1)" "A /mine" "and diffs it (only what the user may change changed)"
		d=$(u -q commit --compress none uc uc:one 2>&1)
		layer=$(jq -r '.layers[-1].digest' "$TU_HOME/store/blobs/sha256/${d#sha256:}" 2>/dev/null | cut -d: -f2)
		is "$(tar --numeric-owner -tvf "$TU_HOME/store/blobs/sha256/$layer" 2>&1 | awk '$NF == "mine" { print $2 }')" \
			"0/0" "and commits it, the user's files as the container's root's"
		check "and unmounts it" u umount uc
	else
		tap_not_ok "an ordinary user mounts a container (fusermount3)" "$m"
		tap_skip "and diffs it" "not mounted"
		tap_skip "and commits it" "not mounted"
		tap_skip "and unmounts it" "not mounted"
	fi
else
	for t in "an ordinary user mounts a container" "and diffs it" "and commits it" "and unmounts it"; do
		tap_skip "$t" "no test user: ${TU_ERR:-runuser or fusermount3 missing}"
	done
fi
tap_done
