#!/bin/bash
# make fuzz: build every libFuzzer harness in fuzz/ with clang against the
# project's lib/, run each for FUZZ_SECONDS (default 60) on its corpus, and
# report executions and coverage.  A crash leaves its input in fuzz/crashes/
# and fails the run; turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
out=build-fuzz
mkdir -p "$out" fuzz/crashes
flags="-std=gnu17 -g -O1 -D_GNU_SOURCE -Ilib -fsanitize=fuzzer,address,undefined"
libs=$(ls lib/*.c)
status=0
for h in fuzz/*_fuzz.c; do
	name=$(basename "$h" .c)
	corpus=fuzz/corpus/${name%_fuzz}
	mkdir -p "$corpus" "$out/$name.corpus"
	clang $flags $(pkg-config --cflags libarchive libcrypto 2>/dev/null) -o "$out/$name" "$h" $libs \
		$(pkg-config --libs libarchive libcrypto libxxhash 2>/dev/null) -lzstd -pthread
	echo "== $name: ${secs}s"
	if ! "$out/$name" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix=fuzz/crashes/"$name"- "$out/$name.corpus" "$corpus" 2>"$out/$name.log"; then
		status=1
		echo "$name: crash, input saved in fuzz/crashes/"
	fi
	grep -E "stat::number_of_executed_units|cov: " "$out/$name.log" | tail -2 || true
done
exit $status
