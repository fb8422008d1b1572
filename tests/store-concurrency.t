#!/bin/bash
# Two imports at once, gc during an import, and an import killed with
# SIGKILL half-way: the store stays consistent and `layerctl verify` passes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
[ -x "$LAYERCTL" ] || tap_skip_all "layerctl is not built ($LAYERCTL)"
store_setup

# Layers of a few MB of incompressible data, so imports take a moment.
mklayer() {   # mklayer NAME MB
	local d=$WORK/src-$1
	mkdir -p "$d/data"
	local i; for i in $(seq 1 "$2"); do head -c 1048576 /dev/urandom > "$d/data/$1-$i"; done
	(cd "$d" && tar -cf "$WORK/$1.tar" .)
	rm -rf "$d"
}
mklayer one 8; mklayer two 8; mklayer big 24
listing() { (cd "$STORE" && find . -path ./tmp -prune -o -printf '%P|%y|%s\n' | sort
	     find . -path ./tmp -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }

"$LAYERCTL" import -q "$WORK/one.tar" one:v1.0.0 > "$WORK/one.out" 2>&1 &
p1=$!
"$LAYERCTL" import -q "$WORK/two.tar" two:v1.0.0 > "$WORK/two.out" 2>&1 &
p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
is "$r1:$r2" "0:0" "two imports at once both succeed"
is "$("$LAYERCTL" images --json | jq -r '[.[].names[]] | sort | join(" ")')" \
   "one:v1.0.0 two:v1.0.0" "both images are listed"
check "verify passes after concurrent imports" "$LAYERCTL" verify

# An import reading from a pipe that stalls half-way: gc meanwhile must not
# touch its temp directory, and the import then completes.
fifo=$WORK/feed; mkfifo "$fifo"
"$LAYERCTL" import -q - slow:v1.0.0 < "$fifo" > "$WORK/slow.out" 2>&1 &
pslow=$!
{ head -c 6000000 "$WORK/big.tar"; sleep 2; tail -c +6000001 "$WORK/big.tar"; } > "$fifo" &
pfeed=$!
sleep 1
out=$("$LAYERCTL" gc 2>&1)
case $out in *" 0 temp entries"*) tap_ok "gc leaves a running import's temp area alone ($out)";;
	*) tap_not_ok "gc leaves a running import's temp area alone" "$out";; esac
wait $pfeed; wait $pslow
is "$?" 0 "the import gc ran beside completes"
check "verify passes after import beside gc" "$LAYERCTL" verify

# SIGKILL half-way.
before=$(listing)
"$LAYERCTL" import -q - killed:v1.0.0 < "$fifo" > /dev/null 2>&1 &
pkill=$!
{ head -c 6000000 "$WORK/big.tar"; sleep 3; tail -c +6000001 "$WORK/big.tar"; } > "$fifo" 2>/dev/null &
pfeed=$!
sleep 1
ls "$STORE/tmp" | grep -q . && tap_ok "the import is under way (temp area in use)" ||
	tap_not_ok "the import is under way"
kill -KILL $pkill; wait $pkill 2>/dev/null
kill $pfeed 2>/dev/null; wait $pfeed 2>/dev/null
after=$(listing)
if [ "$before" == "$after" ]; then tap_ok "a killed import leaves the store as it was (outside tmp/)"
else tap_not_ok "a killed import leaves the store as it was" "$(diff <(echo "$before") <(echo "$after") | head)"; fi
check "verify passes after the kill" "$LAYERCTL" verify
"$LAYERCTL" inspect killed:v1.0.0 >/dev/null 2>&1; is "$?" 1 "the killed image is not in the store"
out=$("$LAYERCTL" gc --dry-run)
case $out in *" 1 temp entries"*) tap_ok "gc --dry-run sees the leftover ($out)";;
	*) tap_not_ok "gc --dry-run sees the leftover" "$out";; esac
out=$("$LAYERCTL" gc)
is "$(ls "$STORE/tmp" | wc -l)" 0 "gc removes the leftover ($out)"
check "the same import then succeeds" "$LAYERCTL" import -q "$WORK/big.tar" killed:v1.0.0
check "verify passes at the end" "$LAYERCTL" verify
tap_done
