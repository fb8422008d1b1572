#!/bin/bash
# The committed corpus of hostile and broken inputs (tests/data/hostile,
# made by tests/data/make-hostile.sh; tests/data/fuzz-finds, found by make
# fuzz): each input that must fail gives one clear error, writes nothing
# outside the store and leaves the store byte for byte as before; the odd-but-legal ones import as the OCI spec says.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
[ -x "$LAYERCTL" ] || tap_skip_all "layerctl is not built ($LAYERCTL)"
CORPUS=$TESTS_DIR/data/hostile
[ -f "$CORPUS/EXPECT" ] || tap_skip_all "no corpus in $CORPUS"
store_setup

snapshot() {   # listing and content hashes of the store, and of what is beside it
	(cd "$STORE" && find . -printf '%P|%y|%m|%s|%l\n' | sort
	 find . -type f -exec sha256sum {} + | sort -k2)
	(cd "$WORK" && find . -path ./store -prune -o -printf '%P|%y|%s\n' | sort)
	sha256sum /etc/passwd
	ls -d /tmp/layerctl-hostile* /layerctl-hostile* /etc/layerctl-hostile* 2>/dev/null
}

# A store with something in it already.
printf 'seed\n' > "$WORK/seed"
(cd "$WORK" && tar -cf seed.tar seed)
check "seed image imported" "$LAYERCTL" import -q "$WORK/seed.tar" seed:v1.0.0

while IFS='|' read -r name outcome pattern; do
	[ -n "$name" ] || continue
	before=$(snapshot)
	err=$(cd "$WORK" && "$LAYERCTL" import "$CORPUS/$name" hostile:v1.0.0 2>&1 >/dev/null)
	rc=$?
	after=$(snapshot)
	if [ "$outcome" = fail ]; then
		lines=$(printf '%s\n' "$err" | grep -c .)
		if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && [[ "$err" == "layerctl: "* ]] &&
		   [[ "$err" == *"$pattern"* ]]; then
			tap_ok "$name fails with a clear error: ${err#layerctl: }"
		else
			tap_not_ok "$name fails with one clear error mentioning '$pattern'" "exit $rc" "$err"
		fi
		if [ "$before" == "$after" ]; then
			tap_ok "$name leaves the store and its surroundings as they were"
		else
			tap_not_ok "$name leaves the store as it was" "$(diff <(echo "$before") <(echo "$after") | head -20)"
		fi
	else
		is "$rc" 0 "$name imports ($err)"
	fi
done < <(cat "$CORPUS/EXPECT"
	# Inputs make fuzz found, kept as found (tests/data/fuzz-finds/README).
	sed 's|^|../fuzz-finds/|' "$TESTS_DIR/data/fuzz-finds/EXPECT")

tree_of() { echo "$STORE/layers/$("$LAYERCTL" inspect --json "$1" | jq -r '.layers[-1].diff_id' | cut -c8-)/tree"; }
if command -v jq >/dev/null; then
	"$LAYERCTL" import -q "$CORPUS/absolute.tar" abs:v1.0.0
	t=$(tree_of abs:v1.0.0)
	[ -f "$t/tmp/layerctl-hostile-abs" ] && [ ! -e /tmp/layerctl-hostile-abs ] &&
		tap_ok "an absolute name lands inside the layer" || tap_not_ok "an absolute name lands inside the layer"
	"$LAYERCTL" import -q "$CORPUS/symlink-then-file.tar" swap:v1.0.0
	t=$(tree_of swap:v1.0.0)
	[ -f "$t/f" ] && [ ! -L "$t/f" ] && [ "$(cat "$t/f")" = replaced ] && [ ! -e /tmp/layerctl-hostile-f ] &&
		tap_ok "a file replacing a symlink is written in place, not through it" ||
		tap_not_ok "a file replacing a symlink is written in place"
	"$LAYERCTL" import -q "$CORPUS/duplicate.tar" dup:v1.0.0
	t=$(tree_of dup:v1.0.0)
	[ "$(cat "$t/a")" = second ] && [ -d "$t/d" ] && [ -f "$t/d/in" ] && [ -f "$t/x" ] &&
		tap_ok "duplicate entries: the later one wins" || tap_not_ok "duplicate entries: the later one wins"
	"$LAYERCTL" import -q "$CORPUS/bare-whiteout.tar" wh:v1.0.0
	t=$(tree_of wh:v1.0.0)
	[ -f "$t/dir/.wh." ] && [ -f "$t/dir/.wh..wh..opq" ] && [ -f "$t/dir/.wh.gone" ] &&
		tap_ok "whiteouts and a bare .wh. are kept as files" || tap_not_ok "whiteouts are kept as files"
	"$LAYERCTL" import -q "$CORPUS/no-end-marker.tar" noend:v1.0.0
	t=$(tree_of noend:v1.0.0)
	[ "$(cat "$t/only")" = abc ] && tap_ok "a tar without end marker or padding imports whole" ||
		tap_not_ok "a tar without end marker imports whole"
else
	tap_skip "content checks of the legal oddities" "'jq' is not installed"
fi
# Bytes that start like lrzip, grzip or lzop data are no reason to run
# those programs: libarchive would run them (from PATH) to decompress.
fake=$WORK/fakebin; mkdir -p "$fake"
for p in lrzip grzip lzop; do printf '#!/bin/sh\ntouch %s/ran-%s\ncat >/dev/null\n' "$fake" "$p" >"$fake/$p"; chmod +x "$fake/$p"; done
printf 'LRZI\0\6xxxxxxxxxxxxxxxxxxxx' >"$WORK/magic-lrzip"
printf 'GRZipII\0\2\4:)xxxxxxxxxxxxxxxxxxxx' >"$WORK/magic-grzip"
printf '\211LZO\0\r\n\032\nxxxxxxxxxxxxxxxxxxxx' >"$WORK/magic-lzop"
for p in lrzip grzip lzop; do
	PATH=$fake:$PATH "$LAYERCTL" import -q "$WORK/magic-$p" magic:v1.0.0 >/dev/null 2>&1
	rc=$?
	[ $rc -ne 0 ] && [ ! -e "$fake/ran-$p" ] && tap_ok "$p magic: refused (exit $rc) without running $p" ||
		tap_not_ok "$p magic: refused without running $p" "exit $rc, ran: $(ls "$fake" | grep ran- || true)"
done
check "verify passes after the whole corpus" "$LAYERCTL" verify
tap_done
