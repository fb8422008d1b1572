#!/bin/bash
# SIGKILL of layerctl part-way through each command that changes the
# store, at several moments: afterwards `layerctl verify` passes, the same
# command run again succeeds, and verify passes again.  Table-driven: a
# row whose command this layerctl lacks is skipped, saying so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
[ -x "$LAYERCTL" ] || tap_skip_all "layerctl is not built ($LAYERCTL)"
need_cmd zstd jq busybox
store_setup
DELAYS=${KILL_DELAYS:-"0.05 0.2 0.5 1"}

# An image worth a second or two of work: many small files and 32 MiB of
# incompressible data, zstd-compressed; a second one sharing most files.
mk_trees() {
	local d=$WORK/src k
	mkdir -p "$d/many" "$d/data"
	for k in $(seq 1 1500); do printf 'file %d\n' "$k" >"$d/many/f$k"; done
	head -c $((32 << 20)) /dev/urandom >"$d/data/blob"
	(cd "$d" && tar -cf - . | zstd -q -1 >"$WORK/big.tar.zst")
	printf 'changed\n' >"$d/many/f1"
	(cd "$d" && tar -cf - . | zstd -q -1 >"$WORK/big2.tar.zst")
	rm -rf "$d"
}
mk_trees

# A busybox-static root for the commit row's container.
mk_rootfs() {
	local r=$WORK/rootfs a
	mkdir -p "$r/bin" "$r/tmp"
	cp "$(command -v busybox)" "$r/bin/busybox"
	for a in sh dd; do ln -sf busybox "$r/bin/$a"; done
	(cd "$r" && tar -cf "$WORK/busybox.tar" .)
}
mk_rootfs

# --- setups: bring the store to where the command has work to do -------------
setup_import() { "$LAYERCTL" rm --force big:v1.0.0 >/dev/null 2>&1; "$LAYERCTL" gc >/dev/null 2>&1; :; }
setup_rm() { "$LAYERCTL" import -q "$WORK/big.tar.zst" big:v1.0.0; }
# gc has layers no image names: an index that lost an entry, as an older
# or foreign tool may leave one.
setup_gc() {
	"$LAYERCTL" import -q "$WORK/big.tar.zst" gc1:v1.0.0 && "$LAYERCTL" import -q "$WORK/big2.tar.zst" gc2:v1.0.0 || return 1
	jq '.manifests |= map(select(.annotations["org.opencontainers.image.ref.name"] | test("^gc[12]:") | not))' \
		"$STORE/index.json" >"$STORE/index.json.new" && mv "$STORE/index.json.new" "$STORE/index.json"
}
setup_commit() {
	"$LAYERCTL" import -q "$WORK/busybox.tar" bb:v1.0.0 || return 1
	"$LAYERCTL" rm --force kc >/dev/null 2>&1
	"$LAYERCTL" run --name kc bb:v1.0.0 /bin/sh -c 'dd if=/dev/urandom of=/tmp/big bs=1M count=32 2>/dev/null' >/dev/null
	"$LAYERCTL" rm --force committed:v1.0.0 >/dev/null 2>&1; :
}
setup_dedupe() { "$LAYERCTL" import -q "$WORK/big.tar.zst" d1:v1.0.0 && "$LAYERCTL" import -q "$WORK/big2.tar.zst" d2:v1.0.0; }

# rm run again fails when the first one finished: the image is gone.
retry_rm() {
	if "$LAYERCTL" inspect big:v1.0.0 >/dev/null 2>&1; then "$LAYERCTL" rm big:v1.0.0
	else echo "rm had finished"; fi
	! "$LAYERCTL" inspect big:v1.0.0 >/dev/null 2>&1
}

# name | setup | command (words, after layerctl) | retry (default: the command again)
ROWS="import|setup_import|import -q $WORK/big.tar.zst big:v1.0.0
rm|setup_rm|rm big:v1.0.0|retry_rm
gc|setup_gc|gc
commit|setup_commit|commit kc committed:v1.0.0
dedupe|setup_dedupe|dedupe"

has_command() { "$LAYERCTL" "$1" --help >/dev/null 2>&1; }

kills=0 landed=0
while IFS='|' read -r name setup cmd retry; do
	if ! has_command "$name"; then
		tap_skip "SIGKILL during $name" "this layerctl has no '$name' command"
		continue
	fi
	for delay in $DELAYS; do
		if ! out=$($setup 2>&1); then
			tap_not_ok "$name: setup" "$out"
			continue
		fi
		# shellcheck disable=SC2086
		"$LAYERCTL" $cmd >"$WORK/cmd.out" 2>&1 &
		pid=$!
		sleep "$delay"
		state=finished
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" && state=killed && landed=$((landed + 1))
		fi
		wait "$pid" 2>/dev/null
		kills=$((kills + 1))
		check "$name killed after ${delay}s ($state): verify passes" "$LAYERCTL" verify
		# shellcheck disable=SC2086
		if [ -n "$retry" ]; then check "$name killed after ${delay}s: run again, it succeeds" $retry
		else check "$name killed after ${delay}s: run again, it succeeds" "$LAYERCTL" $cmd; fi
		check "$name killed after ${delay}s: verify passes after the retry" "$LAYERCTL" verify
		left=$(find "$STORE/tmp" -mindepth 1 -maxdepth 1 | wc -l)
		"$LAYERCTL" gc >/dev/null 2>&1
		is "$(find "$STORE/tmp" -mindepth 1 -maxdepth 1 | wc -l)" 0 \
			"$name killed after ${delay}s: gc clears what it left in tmp/ ($left entries)"
	done
done <<<"$ROWS"
tap_diag "$kills runs, $landed killed part-way (the rest had finished)"
[ "$landed" -gt 0 ] && tap_ok "some kills landed part-way through a command" ||
	tap_not_ok "some kills landed part-way through a command"
tap_done
