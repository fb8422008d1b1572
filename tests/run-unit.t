#!/bin/bash
# Runs every C unit-test binary (each prints its own TAP) as one TAP stream:
# one test point per binary, its own output shown as diagnostics.
set -u
build=${LAYERFS_BUILD:?LAYERFS_BUILD must name the build directory}
shopt -s nullglob
bins=()
# Only the test programs: the build keeps their objects in a subdirectory.
for b in "$build"/tests/*; do [ -f "$b" ] && [ -x "$b" ] && bins+=("$b"); done
if [ ${#bins[@]} -eq 0 ]; then
	echo "1..0 # SKIP no unit tests built"
	exit 0
fi
echo "1..${#bins[@]}"
n=0
for b in "${bins[@]}"; do
	n=$((n + 1))
	out=$("$b" 2>&1)
	rc=$?
	fails=$(printf '%s\n' "$out" | grep -c '^not ok' || true)
	if [ $rc -eq 0 ] && [ "$fails" -eq 0 ]; then
		echo "ok $n - $(basename "$b")"
	else
		echo "not ok $n - $(basename "$b") (exit $rc, $fails failing)"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
done
