#!/bin/bash
# layerctl under valgrind: import (a layer, a docker-save and an OCI
# archive), images, layers, inspect, tag, verify, gc and rm on small
# images, each run must be free of memory errors and definite leaks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
[ -x "$LAYERCTL" ] || tap_skip_all "layerctl is not built ($LAYERCTL)"
command -v valgrind >/dev/null || tap_skip_all "'valgrind' is not installed"
# A sanitizer build cannot run under valgrind.
nm "$LAYERCTL" 2>/dev/null | grep -q __asan_init && tap_skip_all "$LAYERCTL is a sanitizer build"
store_setup
SEEDS=$TESTS_DIR/../fuzz/corpus/import

mkdir -p "$WORK/src/etc" "$WORK/src/bin"
printf 'root:x:0:0::/:/bin/sh\n' >"$WORK/src/etc/passwd"
ln -s ../etc/passwd "$WORK/src/bin/link"
ln "$WORK/src/etc/passwd" "$WORK/src/etc/hard"
mkfifo "$WORK/src/etc/fifo"
(cd "$WORK/src" && tar -cf - . | gzip >"$WORK/layer.tar.gz")

# vg [-x STATUS [-m TEXT]] DESCRIPTION ARGS...: one test point per command;
# STATUS is the exit status expected (default 0), TEXT what its error says.
vg() {
	local want=0 text=
	[ "$1" = -x ] && { want=$2; shift 2; }
	[ "$1" = -m ] && { text=$2; shift 2; }
	local desc=$1; shift
	local out rc
	# valgrind 3.19 does not know openat2: lib/fsutil.c falls back to a
	# component walk, which this exercises too.
	# --trace-children: layerctl hands these commands to layerctl-full (exec).
	valgrind -q --trace-children=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite "$LAYERCTL" "$@" >"$WORK/vg.out" 2>&1
	rc=$?
	out=$(grep -v -e '^--[0-9]*-- ' "$WORK/vg.out")
	if [ $rc -eq "$want" ] && [[ $out == *"$text"* ]]; then tap_ok "$desc: no memory errors, no leaks"
	else tap_not_ok "$desc (exit $rc, want $want${text:+ and '$text'})" "$(printf '%s\n' "$out" | head -40)"; fi
}

vg "import a layer" import -q "$WORK/layer.tar.gz" small:v1.0.0
vg "import a docker-save archive" import -q "$SEEDS/docker-archive.tar"
vg "import an OCI archive" import -q "$SEEDS/oci-archive.tar" oci:v1.0.0
vg "images" images
vg "images --json" images --json
vg "layers" layers
vg "inspect" inspect small:v1.0.0
vg "inspect --json" inspect --json oci:v1.0.0
vg "tag" tag small:v1.0.0 other:v2.0.0
vg "verify" verify
vg "verify one image" verify oci:v1.0.0
H=$TESTS_DIR/data/hostile
vg -x 1 -m "'..'" "a layer with '..' is refused" import -q "$H/dotdot.tar" bad:v1.0.0
vg -x 1 -m symlink "a layer writing through a symlink is refused" import -q "$H/symlink-dir-escape.tar" bad:v1.0.0
vg -x 1 -m hardlink "a hardlink out of the layer is refused" import -q "$H/hardlink-through-symlink.tar" bad:v1.0.0
vg -x 1 -m diff_id "an OCI archive with a wrong diff_id is refused" import -q "$H/oci-bad-diffid.tar" bad:v1.0.0
vg "rm" rm small:v1.0.0
vg "gc" gc
tap_done
