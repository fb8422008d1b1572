#!/bin/bash
# Generate the corpus of hostile and broken inputs for tests/store-hostile.t
# into tests/data/hostile/ (committed; rerun after changing this script).
# Each file's expected outcome is in hostile/EXPECT: NAME|fail|PATTERN or
# NAME|ok|.  Deterministic: fixed mtimes, owners and gzip headers.
set -euo pipefail
out=${1:-$(cd "$(dirname "$0")" && pwd)/hostile}
rm -rf "$out"
mkdir -p "$out"
python3 - "$out" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile

out = sys.argv[1]
expect = []

def info(name, type=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.size = len(data) if type == tarfile.REGTYPE else 0
    ti.linkname = link
    ti.mode = mode
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti, (io.BytesIO(data) if type == tarfile.REGTYPE else None)

def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            t.addfile(*info(*e) if isinstance(e, tuple) else e)
    return buf.getvalue()

def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()

def write(name, data, outcome, pattern=""):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    expect.append(f"{name}|{outcome}|{pattern}")

def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

R, D, S, H = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE

# Path traversal in every form.
write("dotdot.tar", tar_bytes([("../layerctl-hostile-dotdot", R, b"x")]), "fail", "'..'")
write("dotdot-nested.tar", tar_bytes([("a/", D), ("a/../../layerctl-hostile-dotdot", R, b"x")]), "fail", "'..'")
write("absolute.tar", tar_bytes([("/tmp/layerctl-hostile-abs", R, b"x")]), "ok", "")
write("symlink-dir-escape.tar", tar_bytes([("etc", S, b"", "/etc"),
          ("etc/layerctl-hostile", R, b"x")]), "fail", "symlink")
write("symlink-rel-escape.tar", tar_bytes([("up", S, b"", "../../../../../../../../tmp"),
          ("up/layerctl-hostile-rel", R, b"x")]), "fail", "symlink")
write("symlink-then-file.tar", tar_bytes([("f", S, b"", "/tmp/layerctl-hostile-f"),
          ("f", R, b"replaced")]), "ok", "")
write("hardlink-passwd.tar", tar_bytes([("p", H, b"", "/etc/passwd")]), "fail", "hardlink")
write("hardlink-dotdot.tar", tar_bytes([("p", H, b"", "../../../../etc/passwd")]), "fail", "hardlink")
write("hardlink-through-symlink.tar", tar_bytes([("d", S, b"", "/etc"),
          ("x", H, b"", "d/passwd")]), "fail", "hardlink")

# Broken streams.
good = tar_bytes([("bin/", D, b"", "", 0o755), ("bin/tool", R, b"#!/bin/sh\necho hi\n" * 200, "", 0o755)])
g = gz(good)
write("truncated.tar.gz", g[: len(g) // 2], "fail", "")
write("not-an-archive.bin", bytes((i * 7919) % 251 for i in range(4096)), "fail", "")
write("huge-name.tar", tar_bytes([("d/" * 2500 + "f", R, b"x")]), "fail", "too long")
write("huge-component.tar", tar_bytes([("a" * 300, R, b"x")]), "fail", "too long")

# Odd but legal: later entries win, bare .wh., no end marker.
write("duplicate.tar", tar_bytes([("a", R, b"first"), ("a", R, b"second"),
          ("d", R, b"file"), ("d/", D), ("d/in", R, b"in"),
          ("x/", D), ("x/y", R, b"y"), ("x", R, b"now a file")]), "ok", "")
write("bare-whiteout.tar", tar_bytes([("dir/", D), ("dir/.wh.", R, b""),
          ("dir/.wh..wh..opq", R, b""), ("dir/.wh.gone", R, b"")]), "ok", "")
noend = tar_bytes([("only", R, b"abc")])
write("no-end-marker.tar", noend[: 512 + 3], "ok", "")

# Images whose metadata lies.
layer = gz(good)
diff = sha(good)

def oci_archive(name, layer_blob, diff_ids, layer_digest=None, manifest_digest=None,
                skip_layer=False, pattern="", manifest_size=None):
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    ld = layer_digest or sha(layer_blob)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": sha(cfg), "size": len(cfg)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  "digest": ld, "size": len(layer_blob)}]}).encode()
    md = manifest_digest or sha(man)
    idx = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
        "size": manifest_size or len(man), "annotations": {"org.opencontainers.image.ref.name": "hostile"}}]}).encode()
    files = [("oci-layout", R, b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", R, idx),
             ("blobs/", D), ("blobs/sha256/", D),
             ("blobs/sha256/" + md[7:], R, man), ("blobs/sha256/" + sha(cfg)[7:], R, cfg)]
    if not skip_layer:
        files.append(("blobs/sha256/" + ld[7:], R, layer_blob))
    write(name, tar_bytes(files), "fail", pattern)

oci_archive("oci-wrong-blob-digest.tar", layer, [diff], layer_digest=sha(b"something else"),
            pattern=sha(b"something else"))
oci_archive("oci-bad-diffid.tar", layer, [sha(b"not the tar")], pattern="diff_id")
oci_archive("oci-diffid-count.tar", layer, [diff, diff], pattern="diff_ids")
oci_archive("oci-missing-blob.tar", layer, [diff], skip_layer=True, pattern="missing")
oci_archive("oci-wrong-manifest-digest.tar", layer, [diff], manifest_digest=sha(b"x"),
            pattern="digest")
oci_archive("oci-wrong-manifest-size.tar", layer, [diff], manifest_size=12, pattern="index.json says 12")

def docker_archive(name, layer_name, layer_blob, diff_ids, pattern):
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    man = json.dumps([{"Config": sha(cfg)[7:] + ".json", "RepoTags": ["hostile:v1.0.0"],
                       "Layers": [layer_name]}]).encode()
    write(name, tar_bytes([(layer_name, R, layer_blob), (sha(cfg)[7:] + ".json", R, cfg),
                           ("manifest.json", R, man)]), "fail", pattern)

docker_archive("docker-wrong-layer-digest.tar", hashlib.sha256(b"other").hexdigest() + ".tar",
               good, [diff], "expected")
docker_archive("docker-bad-diffid.tar", "0" * 64 + "/layer.tar", good, [sha(b"nope")], "diff_id")

with open(os.path.join(out, "EXPECT"), "w") as f:
    f.write("\n".join(expect) + "\n")
EOF
