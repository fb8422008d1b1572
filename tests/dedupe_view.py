"""Helpers of store-dedupe.t: what a mount shows, what a store holds on
disk, and what dedupe should save, computed without layerctl.

  view ROOT        one line per path (type, mode, owner, size, content hash,
                   mtime in ns, xattrs, st_nlink), then one line per set of
                   paths sharing an st_ino
  tree ROOT        the same for a layer tree, without link counts, inode
                   sets and user.layerfs.* xattrs
  usage DIR...     bytes on disk below the DIRs, each inode once (st_blocks)
  expect STORE     files dedupe --hardlink should link and the bytes and
                   disk bytes it should free, from the layer trees as they
                   are before any dedupe
"""
import hashlib
import os
import stat
import sys


def xattrs(p):
    try:
        names = sorted(os.listxattr(p, follow_symlinks=False))
    except OSError:
        return []
    return [(n, os.getxattr(p, n, follow_symlinks=False).hex()) for n in names]


def content(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()[:24]


def walk(root):
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            yield os.path.relpath(p, root), p


def tree(root):
    """A layer tree: the view without link counts, inode sets and the
    user.layerfs.* xattrs dedupe adds."""
    for rel, p in walk(root):
        st = os.lstat(p)
        x = ",".join("%s=%s" % kv for kv in xattrs(p) if not kv[0].startswith("user.layerfs."))
        h = content(p) if stat.S_ISREG(st.st_mode) else ""
        link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else ""
        print("%s|%o|%d:%d|%d|%s|%s|%d|%s" % (rel, st.st_mode, st.st_uid, st.st_gid,
              st.st_size if not stat.S_ISDIR(st.st_mode) else 0, h, link, st.st_mtime_ns, x))


def view(root):
    lines, inos = [], {}
    for rel, p in walk(root):
        st = os.lstat(p)
        kind = stat.S_IFMT(st.st_mode)
        h = content(p) if stat.S_ISREG(st.st_mode) else ""
        link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else ""
        x = ",".join("%s=%s" % kv for kv in xattrs(p))
        lines.append("%s|%o|%o|%d:%d|%d|%s|%s|%d|%s|%d" % (
            rel, kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
            st.st_size if not stat.S_ISDIR(st.st_mode) else 0, h, link,
            st.st_mtime_ns, x, st.st_nlink if not stat.S_ISDIR(st.st_mode) else 0))
        inos.setdefault(st.st_ino, []).append(rel)
    for rel in sorted(" ".join(sorted(v)) for v in inos.values()):
        lines.append("ino: " + rel)
    print("\n".join(lines))


def usage(*tops):
    seen, total = set(), 0
    for top in tops:
        for d, dirs, files in os.walk(top):
            for n in dirs + files:
                st = os.lstat(os.path.join(d, n))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    print(total)


def expect(store):
    groups = {}
    layers = os.path.join(store, "layers")
    for layer in sorted(os.listdir(layers)):
        tree = os.path.join(layers, layer, "tree")
        for rel, p in walk(tree):
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode) or st.st_size == 0 or st.st_nlink != 1:
                continue
            key = (content(p), st.st_size, st.st_mode, st.st_uid, st.st_gid,
                   st.st_mtime_ns, tuple(kv for kv in xattrs(p)
                                         if not kv[0].startswith("user.layerfs.")))
            g = groups.setdefault(key, {"blocks": st.st_blocks * 512, "per": {}})
            g["per"][layer] = g["per"].get(layer, 0) + 1
    linked = saved = disk = 0
    for key, g in groups.items():
        freed = sum(g["per"].values()) - max(g["per"].values())
        linked += freed
        saved += freed * key[1]
        disk += freed * g["blocks"]
    print(linked, saved, disk)


if __name__ == "__main__":
    {"tree": tree, "view": view, "usage": usage, "expect": expect}[sys.argv[1]](*sys.argv[2:])
