#!/bin/bash
# Layer counts: 1, 2, 10 and 100 lower layers (files added, overridden and
# deleted layer by layer, a directory merged across all of them, opaque
# directories every seventh layer), then a few changes; merged view,
# outcomes, upper meaning and remount checked against kernel overlayfs.
set -u
. "$(dirname "$0")/overlay-lib.sh"

ovl_begin "$ORACLE_OPTS"

tap_diag "filesystem under test: $FS_UNDER_TEST ($FS_BIN)"
ovl_tmpdir layers
tap_plan 4
for n in 1 2 10 100; do
	run_differential "layers-$n" overlay trusted "$ORACLE_OPTS"
done
[ "$_tap_failed" -eq 0 ]
