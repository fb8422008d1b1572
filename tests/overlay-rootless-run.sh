#!/bin/bash
# Inner half of overlay-rootless.t: runs as the unprivileged test user
# inside "unshare -Urm" (root of a new user namespace, own mount namespace)
# and prints the TAP stream of the rootless differential run.  Kernel
# overlayfs mounts there with "userxattr" and is the oracle.
#   T            work directory owned by the user
#   FS_BIN       the filesystem binary (a copy the user can execute)
set -u
. "$(dirname "$0")/overlay-lib.sh"
FS_BIN=${ROOTLESS_FS_BIN:?}
trap ovl_cleanup EXIT

tap_plan "$(ovl_py count rootless)"
tap_diag "running as uid $(id -u) in a user namespace (uid_map: $(tr -s ' ' <"/proc/self/uid_map"))"
run_differential rootless overlay user "userxattr"
[ "$_tap_failed" -eq 0 ]
