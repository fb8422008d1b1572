#!/bin/bash
# Differential suite: the same scripted operations against kernel overlayfs
# (the oracle) and the filesystem under test, over identical copies of the
# same layers; merged views, operation outcomes (errno names included), the
# meaning of the upper directories and the view after a remount must agree.
# Scenarios come from the tables in ovltest/scenarios.py, each in its own
# directory of one shared layer set, so a single mount pair serves them all.
#
# The kernel is mounted with redirect_dir=on and index=on: layerfs renames
# lower directories and keeps lower hardlinks linked after copy-up, which
# the kernel does only with those options (without them it answers EXDEV
# and splits the hardlinks; layerfs intentionally does not).
set -u
. "$(dirname "$0")/overlay-lib.sh"

ovl_begin "$ORACLE_OPTS"

# Random sequences: seed 1, so runs repeat, unless SEED is given; it is printed
# here and with every failing random scenario.
: "${SEED:=1}"
export SEED
tap_diag "filesystem under test: $FS_UNDER_TEST ($FS_BIN); random sequences SEED=$SEED RANDOM_COUNT=${RANDOM_COUNT:-40}"

ovl_tmpdir diff
tap_plan "$(ovl_py count diff)"
run_differential diff overlay trusted "$ORACLE_OPTS"
[ "$_tap_failed" -eq 0 ]
