#!/bin/bash
# layerctl export: a busybox image and a derived one with whiteouts (and a
# zstd variant of it), exported as oci, oci-archive and docker-archive.
# skopeo inspects and copies every export, umoci unpacks the oci layout into
# the image's merged tree, podman loads and runs the archives (private
# storage, where podman runs), layerctl imports them back with the same
# digests, exports are byte-identical, bad invocations leave nothing.
# Also: importing a layer the store has hashes it without extracting it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
need_root
need_cmd umoci skopeo jq busybox
[ -x "$LAYERCTL" ] || tap_skip_all "layerctl is not built ($LAYERCTL)"
store_setup
L=$LAYERCTL
OUT=$WORK/out
mkdir -p "$OUT"

OCI=$WORK/oci
make_base_image "$OCI" base
make_derived_image "$OCI" base v2
skopeo copy -q --dest-compress-format zstd oci:"$OCI":v2 oci:"$WORK/ociz":v2 >/dev/null 2>&1
"$L" import -q "$OCI" >/dev/null && "$L" tag -q base t/base:1.0.0 && "$L" tag -q v2 t/multi:2.0.0
"$L" import -q "$WORK/ociz" t/zstd:2.0.0 >/dev/null
check "three images in the store (gzip, multi-layer with whiteouts, zstd)" \
	sh -c "'$L' inspect t/base:1.0.0 && '$L' inspect t/multi:2.0.0 && '$L' inspect t/zstd:2.0.0"
IMAGES="t/base:1.0.0 t/multi:2.0.0 t/zstd:2.0.0"
FORMATS="oci oci-archive docker-archive"
slug() { tr '/:' '__' <<<"$1"; }
skref() {   # skref FORMAT PATH IMAGE: the skopeo reference of an export
	case $1 in
	oci) echo "oci:$2:$3" ;;
	*) echo "$1:$2" ;;
	esac
}

for img in $IMAGES; do
	s=$(slug "$img")
	for f in $FORMATS; do
		check "export $img --format $f" "$L" export "$img" --format "$f" -o "$OUT/$s.$f"
	done
done

# skopeo reads every export; layer digests (oci) and diff_ids (docker) match.
for img in $IMAGES; do
	s=$(slug "$img")
	blobs=$("$L" inspect --json "$img" | jq -c '[.layers[].digest]')
	diffs=$("$L" inspect --json "$img" | jq -c '[.layers[].diff_id]')
	for f in $FORMATS; do
		ref=$(skref "$f" "$OUT/$s.$f" "$img")
		want=$blobs; [ "$f" = docker-archive ] && want=$diffs
		is "$(skopeo inspect "$ref" 2>&1 | jq -c .Layers 2>&1)" "$want" "skopeo inspect $f of $img: layer digests"
		rm -rf "$WORK/sk"
		if out=$(skopeo copy -q "$ref" oci:"$WORK/sk":x 2>&1); then
			is "$(skopeo inspect --config oci:"$WORK/sk":x | jq -c .rootfs.diff_ids)" "$diffs" \
				"skopeo copy $f of $img into an oci dir: same diff_ids"
		else
			tap_not_ok "skopeo copy $f of $img into an oci dir" "$out"
		fi
	done
	is "$(skopeo inspect --raw "oci:$OUT/$s.oci:$img" | sha256sum | cut -c1-64)" \
	   "$("$L" inspect --json "$img" | jq -r .digest | cut -c8-)" "oci export of $img keeps the manifest byte for byte"
done
is "$(tar -xOf "$OUT/t_multi_2.0.0.docker-archive" manifest.json | jq -c '.[0].RepoTags')" '["t/multi:2.0.0"]' \
	"docker-archive RepoTags names the image as given"

# umoci unpacks the oci layout into the image's merged layers (umoci 0.4
# reads no zstd layers).
for img in t/base:1.0.0 t/multi:2.0.0; do
	s=$(slug "$img")
	merge_layers "$img" "$WORK/merged"
	tree_listing "$WORK/merged" > "$WORK/want.list"
	rm -rf "$WORK/bundle"
	if out=$(umoci unpack --image "$OUT/$s.oci:$img" "$WORK/bundle" 2>&1); then
		tree_listing "$WORK/bundle/rootfs" > "$WORK/got.list"
		diff -u "$WORK/want.list" "$WORK/got.list" > "$WORK/diff.out" &&
			tap_ok "umoci unpack of the oci export of $img gives its merged tree" ||
			tap_not_ok "umoci unpack of the oci export of $img gives its merged tree" "$(head -30 "$WORK/diff.out")"
	else
		tap_not_ok "umoci unpack of the oci export of $img" "$out"
	fi
	# Rootless unpacking maps every owner to the caller: compare the rest.
	rm -rf "$WORK/bundle"
	if out=$(umoci unpack --rootless --image "$OUT/$s.oci:$img" "$WORK/bundle" 2>&1); then
		cut -d'|' -f1,2,5,6 "$WORK/want.list" > "$WORK/want.nl"
		tree_listing "$WORK/bundle/rootfs" | cut -d'|' -f1,2,5,6 > "$WORK/got.nl"
		diff -u "$WORK/want.nl" "$WORK/got.nl" > "$WORK/diff.out" &&
			tap_ok "umoci unpack --rootless of the oci export of $img: same names, types, contents" ||
			tap_not_ok "umoci unpack --rootless of the oci export of $img" "$(head -30 "$WORK/diff.out")"
	else
		tap_not_ok "umoci unpack --rootless of the oci export of $img" "$out"
	fi
	rm -rf "$WORK/bundle"
done

# podman loads the archives into private vfs storage and runs the image.
PM_ROOT=$WORK/podman
pm() {
	podman --root "$PM_ROOT/root" --runroot "$PM_ROOT/run" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend file --log-level=error "$@"
}
podman_why=
if ! command -v podman >/dev/null; then
	podman_why="podman is not installed"
elif ! out=$(pm info --format '{{.Store.GraphDriverName}}' 2>&1); then
	podman_why="podman cannot run here: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
fi
for f in oci-archive docker-archive; do
	for img in t/multi:2.0.0 t/zstd:2.0.0; do
		desc="podman load of the $f export of $img, then podman run"
		[ -n "$podman_why" ] && { tap_skip "$desc" "$podman_why"; continue; }
		id=$("$L" inspect --json "$img" | jq -r .id | cut -c8-)
		if ! out=$(pm load -i "$OUT/$(slug "$img").$f" 2>&1); then
			tap_not_ok "$desc" "load: $out"
			continue
		fi
		got=$(pm images --no-trunc --format '{{.ID}}' | sed 's/^sha256://' | grep -c "^$id$")
		# Limits at or below this machine's hard limits: runc cannot raise them.
		if ! out=$(pm run --rm --runtime runc --network none --ulimit nofile=1024:1024 \
				--ulimit nproc=1024:1024 "$id" /bin/busybox cat /etc/passwd 2>&1); then
			if grep -qi -e 'cgroup' -e 'permission denied' -e 'not permitted' <<<"$out"; then
				is "$got" 1 "$desc (loads; run # SKIP containers cannot start here: $(tail -n1 <<<"$out"))"
			else
				tap_not_ok "$desc" "run: $out"
			fi
		else
			is "$got:$out" "1:changed" "$desc"
		fi
		pm rmi -a -f >/dev/null 2>&1
	done
done
[ -d "$PM_ROOT" ] && { pm system reset --force >/dev/null 2>&1; rm -rf "$PM_ROOT"; }

# Round trip through a second store: the same digests.
S2=$WORK/store2
for img in $IMAGES; do
	s=$(slug "$img")
	want=$("$L" inspect --json "$img")
	for f in $FORMATS; do
		rm -rf "$S2"
		if ! out=$(LAYERCTL_ROOT=$S2 "$L" import -q "$OUT/$s.$f" 2>&1); then
			tap_not_ok "import of the $f export of $img into a new store" "$out"
			continue
		fi
		got=$(LAYERCTL_ROOT=$S2 "$L" inspect --json "$img")
		keys='.id, [.layers[].diff_id]'
		[ "$f" != docker-archive ] && keys='.id, .digest, [.layers[].digest], [.layers[].diff_id]'
		is "$(jq -c "[$keys]" <<<"$got")" "$(jq -c "[$keys]" <<<"$want")" \
			"import of the $f export of $img: same $([ "$f" = docker-archive ] && echo "config digest, diff_ids" || echo "manifest, config, blobs, diff_ids")"
	done
done
check "layerctl verify of the last round-trip store" env LAYERCTL_ROOT="$S2" "$L" verify

# Deterministic: a second export (and one to standard output) is the same bytes.
for f in oci-archive docker-archive; do
	"$L" export t/multi:2.0.0 --format $f -o "$WORK/again.$f" 2>/dev/null
	check "two $f exports of t/multi:2.0.0 are byte-identical" cmp "$OUT/t_multi_2.0.0.$f" "$WORK/again.$f"
	"$L" export t/multi:2.0.0 --format $f -o - > "$WORK/stdout.$f" 2>/dev/null
	check "$f to standard output ('-o -') is the same bytes" cmp "$OUT/t_multi_2.0.0.$f" "$WORK/stdout.$f"
done
"$L" export t/multi:2.0.0 --format oci -o "$WORK/again.oci" 2>/dev/null
check "two oci exports hold the same files" diff -r "$OUT/t_multi_2.0.0.oci" "$WORK/again.oci"
for f in oci-archive docker-archive; do
	a=$OUT/t_multi_2.0.0.$f
	is "$(tar --numeric-owner --full-time -tvf "$a" | awk '{print $2, $4, $5}' | sort -u | tr '\n' ' ')" \
	   "0/0 1970-01-01 00:00:00 " "$f entries are all owned by 0:0 with time 0"
	is "$(tar -tf "$a" | LC_ALL=C sort | sha256sum)" "$(tar -tf "$a" | sha256sum)" "$f entries are sorted"
done
mkdir "$WORK/empty"
check "oci export into an existing empty directory" "$L" export t/base:1.0.0 --format oci -o "$WORK/empty"
check "skopeo reads it" skopeo inspect "oci:$WORK/empty:t/base:1.0.0"
check "an export by id names the image by all its names" sh -c \
	"'$L' export \$('$L' inspect --json t/base:1.0.0 | jq -r .id | cut -c8-19) --format oci -o '$WORK/byid' &&
	 jq -e '[.manifests[].annotations[\"org.opencontainers.image.ref.name\"]] | sort == [\"base\", \"t/base:1.0.0\"]' '$WORK/byid/index.json'"

# Bad invocations: the right exit code, one line naming the culprit, nothing
# left behind (no output, no temp file beside it).
leftovers() { find "$1" -mindepth 1 -maxdepth 1 -name '.*tmp-*' | head -3; }
bad() {   # bad DESC WANT_RC PATTERN PATH ARGS...
	local desc=$1 want=$2 pat=$3 path=$4 out rc; shift 4
	out=$("$L" "$@" 2>&1 >/dev/null); rc=$?
	local left; left=$(leftovers "$(dirname "$path")")
	if [ "$rc" = "$want" ] && grep -q -- "$pat" <<<"$out" && [ -z "$left" ] && [ "$(wc -l <<<"$out")" -le 2 ]; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc" "exit $rc (want $want)" "$out" "left: $left"
	fi
}
mkdir -p "$WORK/bad"
bad "unknown image: exit 1, nothing written" 1 "no image 'nosuch:1.0.0'" "$WORK/bad/x" \
	export nosuch:1.0.0 --format oci-archive -o "$WORK/bad/x"
[ ! -e "$WORK/bad/x" ] && tap_ok "no output for an unknown image" || tap_not_ok "no output for an unknown image"
bad "unknown format: exit 2" 2 "unknown format 'tarball'" "$WORK/bad/x" \
	export t/base:1.0.0 --format tarball -o "$WORK/bad/x"
bad "no -o: exit 2" 2 "-o PATH" "$WORK/bad/x" export t/base:1.0.0 --format oci
bad "oci to standard output: exit 2" 2 "directory" "$WORK/bad/x" export t/base:1.0.0 --format oci -o -
echo keep > "$WORK/bad/exists"
bad "an existing file is not overwritten" 1 "'$WORK/bad/exists' exists" "$WORK/bad/exists" \
	export t/base:1.0.0 --format docker-archive -o "$WORK/bad/exists"
is "$(cat "$WORK/bad/exists")" keep "the existing file is unchanged"
mkdir -p "$WORK/bad/full"; echo x > "$WORK/bad/full/f"
bad "a non-empty directory is not replaced (oci)" 1 "exists" "$WORK/bad/full" \
	export t/base:1.0.0 --format oci -o "$WORK/bad/full"
bad "an empty directory is no archive path" 1 "exists" "$WORK/empty2" \
	export t/base:1.0.0 --format oci-archive -o "$(mkdir -p "$WORK/empty2" && echo "$WORK/empty2")"
bad "a missing parent directory" 1 "cannot open directory '$WORK/bad/no/such'" "$WORK/bad/x" \
	export t/base:1.0.0 --format oci-archive -o "$WORK/bad/no/such/x"
# A read-only and a full file system (private mounts in a mount namespace).
if unshare -m true 2>/dev/null; then
	for kind in ro full; do
		opts=ro; [ $kind = full ] && opts=size=64k
		for f in $FORMATS; do
			out=$(unshare -m sh -c "mount -t tmpfs -o $opts tmpfs '$WORK/bad' &&
				'$L' export t/multi:2.0.0 --format $f -o '$WORK/bad/out'; echo rc=\$?;
				ls -A '$WORK/bad'" 2>&1)
			if grep -q '^rc=1$' <<<"$out" && [ "$(sed -n '/^rc=/,$p' <<<"$out" | wc -l)" = 1 ]; then
				tap_ok "$f export onto a $kind file system fails and leaves nothing"
			else
				tap_not_ok "$f export onto a $kind file system fails and leaves nothing" "$out"
			fi
		done
	done
else
	tap_skip "exports onto read-only and full file systems" "no mount namespaces here"
fi

# Import of layers the store has: hashed, not extracted again.
S3=$WORK/store3
tree_inodes() { stat -c '%n %i' "$S3"/layers/*/tree | sort; }
t0=$(date +%s%N)
LAYERCTL_ROOT=$S3 "$L" import -q "$OUT/t_multi_2.0.0.docker-archive" >/dev/null
t1=$(date +%s%N)
tree_inodes > "$WORK/ino.before"
# docker save's classic form: <v1 id>/layer.tar files (not named by digest).
skopeo copy -q "docker-archive:$OUT/t_multi_2.0.0.docker-archive" "docker-archive:$WORK/sk.tar:t/multi:2.0.0" >/dev/null 2>&1
rm -rf "$WORK/dx"; mkdir "$WORK/dx"; tar -xf "$WORK/sk.tar" -C "$WORK/dx"
for l in "$WORK"/dx/*/layer.tar; do   # manifest.json names <id>/layer.tar
	t=$(basename "$(readlink "$l")"); id=$(basename "$(dirname "$l")")
	sed -i "s|\"$t\"|\"$id/layer.tar\"|" "$WORK/dx/manifest.json"
done
(cd "$WORK/dx" && tar -chf "$OUT/t_multi_2.0.0.classic" $(ls | grep -v '\.tar$'))
check "the classic archive has v1-id directories with real layer.tar files" sh -c \
	"tar -tvf '$OUT/t_multi_2.0.0.classic' | grep -q '^-.*/layer.tar\$' && ! tar -tf '$OUT/t_multi_2.0.0.classic' | grep -q '^[0-9a-f]*\.tar\$'"
for f in docker-archive oci-archive classic; do
	log=$WORK/strace.$f
	t2=$(date +%s%N)
	if command -v strace >/dev/null; then
		# LeakSanitizer cannot run under ptrace (sanitizer builds).
		out=$(LAYERCTL_ROOT=$S3 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			strace -f -qq -e trace=mkdir,mkdirat -o "$log" "$L" import "$OUT/t_multi_2.0.0.$f" 2>&1)
	else
		out=$(LAYERCTL_ROOT=$S3 "$L" import "$OUT/t_multi_2.0.0.$f" 2>&1)
	fi
	t3=$(date +%s%N)
	tree_inodes > "$WORK/ino.after"
	check "second import ($f) of stored layers: the layer trees are the same inodes" cmp "$WORK/ino.before" "$WORK/ino.after"
	is "$(grep -o '0 new' <<<"$out")" "0 new" "second import ($f) reports no new layer"
	if [ -f "$log" ]; then
		n=$(grep -c 'layer-[0-9]' "$log")
		is "$n" 0 "second import ($f) creates no temp layer tree (strace: $n mkdir of layer-N)"
	else
		tap_skip "second import ($f) creates no temp layer tree" "strace is not installed"
	fi
	tap_diag "import of the docker-archive into an empty store: $(( (t1 - t0) / 1000000 )) ms; again ($f, layers stored): $(( (t3 - t2) / 1000000 )) ms"
done
# An oci-archive holding gzip blobs of layers first stored from the
# uncompressed docker-archive: blobs kept, trees untouched.
is "$(LAYERCTL_ROOT=$S3 "$L" inspect --json t/multi:2.0.0 | jq -r '.layers[].digest' | while read -r d; do
	[ -f "$S3/blobs/sha256/${d#sha256:}" ] && echo ok; done | sort -u)" ok "the new compressions are stored as blobs"
check "layerctl verify of that store" env LAYERCTL_ROOT="$S3" "$L" verify
# A stdin import of a layer tar the store has: no new tree either.
tar -xOf "$OUT/t_multi_2.0.0.docker-archive" "$(tar -xOf "$OUT/t_multi_2.0.0.docker-archive" manifest.json | jq -r '.[0].Layers[1]')" > "$WORK/one.tar"
LAYERCTL_ROOT=$S3 "$L" import - t/one:1.0.0 < "$WORK/one.tar" >/dev/null 2>&1
tree_inodes > "$WORK/ino.after"
check "a stdin layer the store has keeps its tree" cmp "$WORK/ino.before" "$WORK/ino.after"

# A layer file named by a stored DiffID that holds another layer: hashed,
# found to be new, then extracted from the kept blob.
S4=$WORK/store4
mkdir -p "$WORK/other/etc"; echo other > "$WORK/other/etc/other"
tar -cf "$WORK/other.tar" -C "$WORK/other" .
LAYERCTL_ROOT=$S4 "$L" import -q "$WORK/other.tar" t/other:1.0.0 >/dev/null
x=$(LAYERCTL_ROOT=$S4 "$L" inspect --json t/other:1.0.0 | jq -r '.layers[0].diff_id' | cut -c8-)
rm -rf "$WORK/lie"; mkdir "$WORK/lie"; tar -xf "$OUT/t_multi_2.0.0.docker-archive" -C "$WORK/lie"
top=$(jq -r '.[0].Layers[-1]' "$WORK/lie/manifest.json" | cut -d/ -f1)
mv "$WORK/lie/$top" "$WORK/lie/$x"
sed -i "s|$top/layer.tar|$x/layer.tar|" "$WORK/lie/manifest.json"
(cd "$WORK/lie" && tar -cf "$WORK/lie.tar" *)
if out=$(LAYERCTL_ROOT=$S4 "$L" import "$WORK/lie.tar" 2>&1); then
	is "$(LAYERCTL_ROOT=$S4 "$L" inspect --json t/multi:2.0.0 | jq -c '[.layers[].diff_id]')" \
	   "$("$L" inspect --json t/multi:2.0.0 | jq -c '[.layers[].diff_id]')" \
	   "a layer named like a stored one but new is extracted after all"
else
	tap_not_ok "a layer named like a stored one but new is extracted after all" "$out"
fi
check "layerctl verify after it" env LAYERCTL_ROOT="$S4" "$L" verify

tap_done
