# Sourced by the store benchmarks: bench_sample_tar SRC OUT writes a tar of
# the tree SRC (the debootstrap tree bench/data.sh caches) to OUT, or, when
# SRC is absent, of about 200 MB of files from /usr; sets $what to say which.
bench_sample_tar() {
	local src=$1 out=$2
	if [ -d "$src" ]; then
		what="debootstrap tree $src"
		(cd "$src" && tar --numeric-owner -cf "$out" .)
	else
		what="~200 MB of files from /usr"
		find /usr -xdev -type f -readable -printf '%s %p\n' 2>/dev/null |
			awk '{ t += $1; if (t > 200e6) exit; sub(/^[0-9]+ /, ""); print }' > "$out.files"
		tar --numeric-owner -cf "$out" -T "$out.files" 2>/dev/null || true
		rm -f "$out.files"
	fi
}
