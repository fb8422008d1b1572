#!/bin/bash
# make analyze: cppcheck and clang's static analyzer over lib/ fs/ tools/,
# with the project's flags.  Every finding fails the run unless
# analyze/cppcheck.supp or analyze/clang.supp lists it, each entry with
# the reason it is not a defect.  Figures and findings go to build-analyze/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-analyze
mkdir -p "$out"
jobs=${ANALYZE_JOBS:-2}
srcs=$(ls lib/*.c fs/*.c tools/*.c tools/front/*.c)
defs="-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=314"
incs="-Ilib $(pkg-config --cflags-only-I fuse3 libarchive libcrypto libxxhash 2>/dev/null)"
status=0

# --- cppcheck ---------------------------------------------------------------
if command -v cppcheck >/dev/null; then
	# shellcheck disable=SC2086
	cppcheck -q -j"$jobs" --enable=warning,portability,performance --inline-suppr \
		--std=c11 $defs $incs --suppressions-list=<(grep -v '^#' analyze/cppcheck.supp | sed 's/[[:space:]]*#.*//' | grep .) \
		--template='{file}:{line}: {severity}: {message} [{id}]' $srcs 2>"$out/cppcheck.txt" || true
	grep -E '^(lib|fs|tools)/' "$out/cppcheck.txt" >"$out/cppcheck.findings" || true
	n=$(wc -l <"$out/cppcheck.findings")
	echo "cppcheck $(cppcheck --version | cut -d' ' -f2): $(echo "$srcs" | wc -w) files, $n findings"
	[ "$n" -eq 0 ] || { cat "$out/cppcheck.findings"; status=1; }
else
	echo "cppcheck: not installed"; status=1
fi

# --- clang --analyze ----------------------------------------------------------
# analyze/clang.supp: FILE|CHECKER|MESSAGE-SUBSTRING  # reason ("*" = any file)
if command -v clang >/dev/null; then
	# shellcheck disable=SC2086
	printf '%s\n' $srcs | xargs -P"$jobs" -I{} sh -c \
		'clang --analyze -std=gnu17 '"$defs $incs"' -pthread -o /dev/null "$1" 2>&1 | grep -E "^[^ ]+:[0-9]+:[0-9]+: warning:" || true' _ {} \
		| sort -u >"$out/clang.txt"
	: >"$out/clang.findings"
	while IFS= read -r w; do
		file=${w%%:*}
		checker=$(sed -n 's/.*\[\([^]]*\)\]$/\1/p' <<<"$w")
		ok=
		while IFS='|' read -r sf sc sm; do
			sm=${sm%%#*}; sm=${sm%"${sm##*[![:space:]]}"}
			if { [ "$sf" = '*' ] || [ "$sf" = "$file" ]; } && [ "$sc" = "$checker" ] && [[ $w == *"$sm"* ]]; then ok=1; break; fi
		done < <(grep -v '^#' analyze/clang.supp | grep .)
		[ -n "$ok" ] || echo "$w" >>"$out/clang.findings"
	done <"$out/clang.txt"
	n=$(wc -l <"$out/clang.findings")
	echo "clang --analyze $(clang --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1): $(wc -l <"$out/clang.txt") warnings, $n not explained in analyze/clang.supp"
	[ "$n" -eq 0 ] || { cat "$out/clang.findings"; status=1; }
else
	echo "clang: not installed"; status=1
fi
exit $status
