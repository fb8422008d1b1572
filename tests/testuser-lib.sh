# A throw-away unprivileged user for the rootless suites (rootless.t,
# podman.t): created with useradd, given /dev/fuse, removed in the trap.
# Source after tests/lib.sh; the suite runs as root.
#
#   testuser_setup NAME     create NAME (home, /etc/subuid range); sets
#                           TU_NAME TU_UID TU_HOME TU_SUBUID TU_SUBGID
#                           (TU_SUBUID empty when useradd gave no range)
#   testuser_dev_fuse       make /dev/fuse usable by the user (0666)
#   testuser_cleanup        end the user's processes, remove the user,
#                           restore /dev/fuse; safe to call twice
#   as_testuser CMD...      run CMD as the user, in a clean environment
# Functions that fail leave the reason in TU_ERR; call them outside $(...).

TU_NAME= TU_UID= TU_HOME= TU_SUBUID= TU_SUBGID= TU_ERR=
_tu_fuse_mode=

testuser_setup() {
	TU_NAME=$1
	if id "$TU_NAME" >/dev/null 2>&1; then
		testuser_cleanup_user || return 1
	fi
	_tu_remove_leftovers
	local i
	for ((i = 0; i < 3; i++)); do # the password files may be locked a moment
		useradd -m -s /bin/bash "$TU_NAME" >/dev/null 2>&1 && break
		sleep 1
		_tu_remove_leftovers
	done
	id "$TU_NAME" >/dev/null 2>&1 || { TU_ERR="useradd $TU_NAME failed"; return 1; }
	TU_UID=$(id -u "$TU_NAME")
	TU_HOME=$(getent passwd "$TU_NAME" | cut -d: -f6)
	TU_SUBUID=$(awk -F: -v u="$TU_NAME" '$1 == u { print $2; exit }' /etc/subuid 2>/dev/null)
	TU_SUBGID=$(awk -F: -v u="$TU_NAME" '$1 == u { print $2; exit }' /etc/subgid 2>/dev/null)
}

# What an interrupted earlier run may have left of the user: its group and
# home directory without the user.
_tu_remove_leftovers() {
	id "$TU_NAME" >/dev/null 2>&1 && return 0
	getent group "$TU_NAME" >/dev/null && groupdel "$TU_NAME" >/dev/null 2>&1
	[ -d "/home/$TU_NAME" ] && rm -rf "/home/$TU_NAME"
	return 0
}

testuser_dev_fuse() {
	[ -c /dev/fuse ] || { TU_ERR="/dev/fuse does not exist"; return 1; }
	_tu_fuse_mode=$(stat -c %a /dev/fuse)
	chmod 0666 /dev/fuse || { TU_ERR="cannot chmod /dev/fuse"; return 1; }
}

# Every process of the user was started by the suite: end them one by one.
_tu_kill_procs() {
	local pid i
	for ((i = 0; i < 20; i++)); do
		local pids
		pids=$(pgrep -u "$TU_NAME" 2>/dev/null) || return 0
		for pid in $pids; do kill -9 "$pid" 2>/dev/null; done
		sleep 0.1
	done
}

# Mounts made in the user's namespaces die with their daemons; mounts the
# user made in the host namespace (fusermount3) are listed there.
_tu_unmount_host() {
	local m
	[ -n "$TU_HOME" ] || return 0
	for m in $(awk -v r="$TU_HOME/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
}

testuser_cleanup_user() {
	[ -n "$TU_NAME" ] && id "$TU_NAME" >/dev/null 2>&1 || return 0
	_tu_unmount_host
	_tu_kill_procs
	userdel -r "$TU_NAME" >/dev/null 2>&1 || userdel -f -r "$TU_NAME" >/dev/null 2>&1
	! id "$TU_NAME" >/dev/null 2>&1 || { TU_ERR="cannot remove user $TU_NAME"; return 1; }
}

testuser_cleanup() {
	testuser_cleanup_user
	if [ -n "$_tu_fuse_mode" ]; then
		chmod "$_tu_fuse_mode" /dev/fuse
		_tu_fuse_mode=
	fi
}

as_testuser() {
	runuser -u "$TU_NAME" -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		HOME="$TU_HOME" USER="$TU_NAME" LOGNAME="$TU_NAME" LANG=C.UTF-8 \
		${TU_RUNTIME_DIR:+"XDG_RUNTIME_DIR=$TU_RUNTIME_DIR"} "$@"
}
