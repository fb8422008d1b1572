#!/bin/bash
# Regenerate the seed corpora of the import-path harnesses from a small
# real image: layers as tar, tar+gzip and tar+zstd; the image as a
# docker-save archive and an OCI archive (skopeo); its JSON documents; and
# for plan_fuzz the documents joined as that harness reads them.
# Needs umoci, skopeo, tar, gzip, zstd, jq.
set -euo pipefail
cd "$(dirname "$0")"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p corpus/import corpus/json corpus/plan

r=$T/rootfs
mkdir -p "$r/etc" "$r/bin" "$r/d/sub"
printf 'root:x:0:0::/:/bin/sh\n' >"$r/etc/passwd"
printf 'hi\n' >"$r/d/sub/f"
ln -s ../etc/passwd "$r/bin/link"
ln "$r/etc/passwd" "$r/etc/passwd-hard"
mkfifo "$r/d/fifo"
: >"$r/d/.wh.gone"
: >"$r/d/sub/.wh..wh..opq"
tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$r" -cf corpus/import/layer.tar .
gzip -9n <corpus/import/layer.tar >corpus/import/layer.tar.gz
zstd -q -19 <corpus/import/layer.tar >corpus/import/layer.tar.zst
# extract_fuzz: an even first byte, then an archive; an odd one, then
# entries the harness writes as a tar itself (extract_fuzz.c, build_tar).
mkdir -p corpus/extract
for f in layer.tar layer.tar.gz layer.tar.zst; do
	{ printf '\0'; cat "corpus/import/$f"; } >"corpus/extract/raw-$f"
done
python3 - corpus/extract <<'PY'
import os, sys
def ent(t, name, perm=0o644, link=b"", data=b"", uid=0, xattr=None):
    b = bytes([t | (0x40 if xattr is not None else 0)]) + bytes([len(name)]) + name
    b += bytes([perm >> 4 & 0xff, perm & 0xf]) + (bytes([uid]) if t & 0x80 else b"") + bytes([0, 0])
    if t % 8 in (2, 3): b += bytes([len(link)]) + link
    if t % 8 in (5, 6): b += bytes([1, 3])
    if xattr is not None: b += bytes([len(xattr)]) + xattr
    if t % 8 == 0: b += bytes([len(data)]) + data
    return b
seeds = {
    "entries-basic": b"\x01\x00" + ent(1, b"d", 0o755) + ent(0, b"d/f", data=b"hello")
        + ent(2, b"d/l", link=b"f") + ent(3, b"d/h", link=b"d/f") + ent(4, b"d/p"),
    "entries-escape": b"\x01\x00" + ent(2, b"d", link=b"/etc") + ent(0, b"d/passwd", data=b"x")
        + ent(0, b"../x", data=b"y") + ent(3, b"h", link=b"../../etc/passwd"),
    "entries-replace": b"\x01\x01" + ent(1, b"a/b", 0o700) + ent(0, b"a", data=b"file now")
        + ent(2, b"a", link=b"x") + ent(1, b"a", 0) + ent(0, b"a/.wh.x") + ent(0, b"a/.wh..wh..opq"),
    "entries-owners": b"\x01\x00" + ent(0x80, b"o", 0o4755, uid=33, data=b"s") + ent(5, b"dev", 0o600)
        + ent(0x20, b"x", xattr=b"0:0:0755"),
}
for k, v in seeds.items():
    open(os.path.join(sys.argv[1], k), "wb").write(v)
PY

# umoci writes its own whiteouts: give it the tree without ours.
cp -a "$r" "$T/clean"
find "$T/clean" -name '.wh.*' -delete
umoci init --layout "$T/oci" >/dev/null
umoci new --image "$T/oci:v1" >/dev/null
umoci insert --image "$T/oci:v1" "$T/clean/etc" /etc >/dev/null
umoci insert --image "$T/oci:v1" "$T/clean/d" /d >/dev/null
umoci config --image "$T/oci:v1" --config.cmd /bin/sh >/dev/null
rm -f corpus/import/docker-archive.tar corpus/import/oci-archive.tar
skopeo copy -q "oci:$T/oci:v1" docker-archive:corpus/import/docker-archive.tar:seed:v1
skopeo copy -q "oci:$T/oci:v1" oci-archive:corpus/import/oci-archive.tar:v1

blob() { echo "$T/oci/blobs/sha256/${1#sha256:}"; }
mdg=$(jq -r '.manifests[0].digest' "$T/oci/index.json")
cdg=$(jq -r '.config.digest' "$(blob "$mdg")")
cp "$T/oci/index.json" corpus/json/index.json
cp "$(blob "$mdg")" corpus/json/manifest.json
cp "$(blob "$cdg")" corpus/json/config.json
tar -xOf corpus/import/docker-archive.tar manifest.json >corpus/json/docker-manifest.json

# plan_fuzz: "%%NAME" lines separate documents; layers are short stand-ins.
{
	cat "$T/oci/index.json"
	printf '\n%%%%blobs/sha256/%s\n' "${mdg#sha256:}"; cat "$(blob "$mdg")"
	printf '\n%%%%blobs/sha256/%s\n' "${cdg#sha256:}"; cat "$(blob "$cdg")"
	for l in $(jq -r '.layers[].digest' "$(blob "$mdg")"); do
		printf '\n%%%%blobs/sha256/%s\nmlayer' "${l#sha256:}"
	done
} >corpus/plan/oci
{
	cat corpus/json/docker-manifest.json
	dcfg=$(jq -r '.[0].Config' corpus/json/docker-manifest.json)
	printf '\n%%%%%s\n' "$dcfg"; tar -xOf corpus/import/docker-archive.tar "$dcfg"
	for l in $(jq -r '.[0].Layers[]' corpus/json/docker-manifest.json); do
		printf '\n%%%%%s\nmlayer' "$l"
	done
} >corpus/plan/docker
# An image index nested in index.json, as registries serve multi-arch images.
{
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%064d","size":1}]}' 0
	printf '\n%%%%\n{"manifests":[{"digest":"%s","platform":{"os":"linux","architecture":"amd64"}}]}' "$mdg"
	printf '\n%%%%\n'; cat "$(blob "$mdg")"
	printf '\n%%%%\n'; cat "$(blob "$cdg")"
	printf '\n%%%%\n\x01layer\n%%%%\n\x01layer'
} >corpus/plan/nested-index
chmod 644 corpus/*/*
ls -l corpus/import corpus/json corpus/plan
