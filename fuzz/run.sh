#!/bin/bash
# make fuzz: build every libFuzzer harness in fuzz/ with clang against the
# project's lib/, run each for FUZZ_SECONDS (default 60) on its corpus, and
# report executions and coverage.  A crash leaves its input in fuzz/crashes/
# and fails the run; turn it into a regression test.
#   FUZZ_SECONDS=N     time per harness
#   FUZZ_ONLY=REGEX    run only the harnesses whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
only=${FUZZ_ONLY:-.}
out=build-fuzz
mkdir -p "$out/lib" fuzz/crashes
flags="-std=gnu17 -g -O1 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ilib -fsanitize=fuzzer-no-link,address,undefined
	$(pkg-config --cflags libarchive libcrypto 2>/dev/null)"
libs=$(pkg-config --libs libarchive libcrypto libxxhash 2>/dev/null)

# lib/ once, instrumented, rebuilt when a source is newer than its object.
objs=()
for c in lib/*.c; do
	o=$out/lib/$(basename "$c" .c).o
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find lib -name '*.h' -newer "$o")" ]; then
		clang $flags -c -o "$o" "$c"
	fi
	objs+=("$o")
done

# Options per harness: the import path reads whole archives.
harness_opts() {
	case $1 in
	import_fuzz) echo "-max_len=262144 -timeout=20 -rss_limit_mb=4096" ;;
	extract_fuzz) echo "-max_len=65536 -timeout=10 -rss_limit_mb=4096" ;;
	*) echo "-max_len=65536 -timeout=10" ;;
	esac
}

status=0
for h in fuzz/*_fuzz.c; do
	name=$(basename "$h" .c)
	[[ $name =~ $only ]] || continue
	corpus=fuzz/corpus/${name%_fuzz}
	mkdir -p "$corpus" "$out/$name.corpus"
	clang $flags -fsanitize=fuzzer -o "$out/$name" "$h" "${objs[@]}" $libs -lzstd -pthread
	echo "== $name: ${secs}s"
	# The first directory receives new inputs; the committed seeds stay as they are.
	# shellcheck disable=SC2046
	if ! "$out/$name" $(harness_opts "$name") -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix=fuzz/crashes/"$name"- "$out/$name.corpus" "$corpus" >"$out/$name.log" 2>&1; then
		status=1
		echo "$name: failed, input saved in fuzz/crashes/ (log: $out/$name.log)"
		grep -E "^==[0-9]+==ERROR|^SUMMARY|Test unit written" "$out/$name.log" | head -5 || true
	fi
	# Scratch directories of harnesses that write files (a crash leaves them).
	rm -rf /dev/shm/"${name%_fuzz}"-fuzz.* /tmp/"${name%_fuzz}"-fuzz.*
	grep -E "stat::number_of_executed_units|stat::average_exec_per_sec" "$out/$name.log" | tail -2 || true
	grep -E "^#[0-9]+.*cov: " "$out/$name.log" | tail -1 || true
done
exit $status
