#!/bin/bash
# OCI-form equivalence: the filesystem under test reads lowers whose
# deletions are ".wh.NAME" files and whose opaque directories hold
# ".wh..wh..opq"; kernel overlayfs reads the equivalent overlay-form lowers
# (char 0/0 whiteouts, trusted.overlay.opaque), which it alone understands.
# Merged views, operation outcomes, upper meaning and the remounted view
# must agree.  Scenarios: the OCI-specific layer sets plus every table
# scenario of the differential suite, lowers given in OCI form.
set -u
. "$(dirname "$0")/overlay-lib.sh"

ovl_begin "$ORACLE_OPTS"
[ "$FS_UNDER_TEST" = kernel ] && tap_skip_all "kernel overlayfs does not read OCI whiteouts"

tap_diag "filesystem under test: $FS_UNDER_TEST ($FS_BIN), lowers in OCI form"
ovl_tmpdir oci
tap_plan "$(ovl_py count oci)"
run_differential oci oci trusted "$ORACLE_OPTS"
[ "$_tap_failed" -eq 0 ]
