"""Canonical renderings: the merged view of a mount and the meaning of an
upper directory.  Both are dicts {relative path: description line}, so two
renderings compare with == and diff line by line.
"""
import hashlib
import re
import os
import stat

from .layers import OLD_TIME_LIMIT

# xattrs that belong to the overlay machinery of one implementation or
# another; their encoding is private, their meaning is rendered separately.
PRIVATE_XATTR_MARKS = (".overlay.", ".layerfs.", ".fuseoverlayfs.")
OVERRIDE_STAT = "user.containers.override_stat"
TYPE_CHAR = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFIFO: "p",
             stat.S_IFSOCK: "s", stat.S_IFCHR: "c", stat.S_IFBLK: "b"}


def is_private_xattr(name):
    return any(m in name for m in PRIVATE_XATTR_MARKS)


def _xattrs(path, keep_override=False):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        return "xattr-error=%s" % e.strerror
    out = []
    for n in sorted(names):
        if is_private_xattr(n) or (n == OVERRIDE_STAT and not keep_override):
            continue
        try:
            v = os.getxattr(path, n, follow_symlinks=False)
        except OSError as e:
            v = ("<%s>" % e.strerror).encode()
        out.append("%s=%s" % (n, v.decode(errors="backslashreplace")))
    return "xattr[%s]" % ",".join(out) if out else ""


def _hash_file(path):
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as e:
        return "open-error=%s" % e.strerror
    try:
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                break
            h.update(b)
    except OSError as e:
        return "read-error=%s" % e.strerror
    finally:
        os.close(fd)
    return "sha=" + h.hexdigest()[:12]


def _time(ns):
    return str(ns) if ns < OLD_TIME_LIMIT * 10**9 else "new"


def describe(path, st, with_times=True, with_nlink=True, override=None):
    """One line for one object, from lstat ST (OVERRIDE applies a
    user.containers.override_stat triple uid, gid, mode)."""
    mode, uid, gid = st.st_mode, st.st_uid, st.st_gid
    if override:
        uid, gid, perm = override
        mode = stat.S_IFMT(mode) | perm
    t = TYPE_CHAR.get(stat.S_IFMT(mode), "?")
    parts = [t, "%04o" % stat.S_IMODE(mode), "%d:%d" % (uid, gid)]
    if t == "f":
        parts += ["size=%d" % st.st_size, _hash_file(path)]
    elif t == "l":
        parts.append("-> " + os.readlink(path))
    elif t in "cb":
        parts.append("rdev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    if with_nlink and t != "d":
        parts.append("nlink=%d" % st.st_nlink)
    if with_times and t != "l":
        # symlink mtimes are excluded: kernel overlay does not preserve them on copy-up
        parts.append("mtime=" + _time(st.st_mtime_ns))
    x = _xattrs(path)
    if x:
        parts.append(x)
    return " ".join(parts)


def merged_view(root, inos=None, anomalies=None):
    """Render the tree under ROOT as seen through a mount: one line per
    entry, and which names are hardlinked.  INOS, if given, receives
    path -> st_ino; ANOMALIES, a list, receives inode numbers shared by
    different objects (a directory among them) and entries whose readdir
    d_ino is not their st_ino.  Those are judged on their own, not against
    the kernel, whose d_ino is not always its st_ino."""
    view = {}
    inodes = {}
    bad_dino = []
    st = os.lstat(root)
    view["."] = describe(root, st)
    if inos is not None:
        inos["."] = st.st_ino

    def walk(d, rel):
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            view[rel + "/"] = "listdir-error=%s" % e.strerror
            return
        for e in entries:
            p = os.path.join(d, e.name)
            r = e.name if rel == "." else rel + "/" + e.name
            try:
                st = os.lstat(p)
            except OSError as err:
                view[r] = "lstat-error=%s" % err.strerror
                continue
            view[r] = describe(p, st)
            if e.inode() != st.st_ino:
                bad_dino.append(r)
            if inos is not None:
                inos[r] = st.st_ino
            inodes.setdefault((st.st_dev, st.st_ino), []).append((r, stat.S_ISDIR(st.st_mode)))
            if stat.S_ISDIR(st.st_mode):
                walk(p, r)
    walk(root, ".")
    for group in inodes.values():
        if len(group) > 1:
            names = " ".join(sorted(n for n, _ in group))
            if not any(isdir for _, isdir in group):
                view["links:" + group[0][0]] = "hardlinked " + names
            elif anomalies is not None:
                anomalies.append("one inode number for different objects: " + names)
    if bad_dino and anomalies is not None:
        anomalies.append("readdir d_ino differs from st_ino: " + " ".join(bad_dino))
    return view


# --- the meaning of an upper directory ------------------------------------

def _is_whiteout(st):
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path):
    for ns in ("trusted", "user"):
        try:
            if os.getxattr(path, ns + ".overlay.opaque", follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    for n in ("user.fuseoverlayfs.opaque",):
        try:
            if os.getxattr(path, n, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return os.path.lexists(os.path.join(path, ".wh..wh..opq"))


def _redirect(path):
    for ns in ("trusted", "user"):
        try:
            return os.getxattr(path, ns + ".overlay.redirect", follow_symlinks=False).decode()
        except OSError:
            pass
    return None


def _metacopy(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return False
    return any(is_private_xattr(n) and "metacopy" in n for n in names)


def _override(path):
    try:
        v = os.getxattr(path, OVERRIDE_STAT, follow_symlinks=False).decode()
    except OSError:
        return None
    f = v.split(":")
    return int(f[0]), int(f[1]), int(f[2], 8)


def lower_lookup(lowers, rel):
    """What the lowers alone (top first) show at REL: an lstat result or None."""
    parts = [] if rel == "." else rel.split("/")
    active = list(lowers)
    for i, comp in enumerate(parts):
        found, nxt = None, []
        for lo in active:
            parent = os.path.join(lo, *parts[:i])
            p = os.path.join(parent, comp)
            if os.path.lexists(os.path.join(parent, ".wh." + comp)):
                break
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if _is_whiteout(st):
                break
            if found is None:
                found = st
            elif not stat.S_ISDIR(st.st_mode):
                break
            if not stat.S_ISDIR(found.st_mode):
                break
            nxt.append(lo)
            if _opaque(p):
                break
        if found is None:
            return None
        if i == len(parts) - 1:
            return found
        if not stat.S_ISDIR(found.st_mode):
            return None
        active = nxt
    return os.lstat(lowers[0]) if lowers else None


def upper_meaning(upper, lowers):
    """Render the upper directory UPPER of a scenario against its LOWERS
    (top first).  Whiteouts in either form are "whiteout"; a directory is
    "opaque" in any form only where something below it would otherwise show;
    private xattrs are dropped and user.containers.override_stat is applied.
    Returns (meaning, redirected) where REDIRECTED lists directories that
    carry a redirect (their subtree's encoding is implementation-private)."""
    meaning, redirected = {}, []
    if not os.path.isdir(upper):
        return meaning, redirected

    def walk(d, rel, hidden_below):
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            st = os.lstat(p)
            if n == ".wh..wh..opq":
                continue
            if n.startswith(".wh."):
                name = n[4:]
                r = name if rel == "." else rel + "/" + name
                meaning[r] = _whiteout_line(lowers, r, hidden_below)
                continue
            r = n if rel == "." else rel + "/" + n
            if _is_whiteout(st):
                meaning[r] = _whiteout_line(lowers, r, hidden_below)
                continue
            line = describe(p, st, with_times=False, with_nlink=False, override=_override(p))
            if stat.S_ISREG(st.st_mode) and _metacopy(p):
                # metadata-only copy-up: the data still comes from below
                line = re.sub(r" size=\d+ sha=\S+", " data=lower", line)
            if stat.S_ISDIR(st.st_mode):
                below = None if hidden_below else lower_lookup(lowers, r)
                below_is_dir = below is not None and stat.S_ISDIR(below.st_mode)
                opaque = _opaque(p)
                if opaque and below_is_dir:
                    line += " opaque"
                if _redirect(p) is not None:
                    redirected.append(r)
                meaning[r] = line
                walk(p, r, hidden_below or opaque or not below_is_dir)
            else:
                meaning[r] = line
    meaning["."] = describe(upper, os.lstat(upper), with_times=False, with_nlink=False,
                            override=_override(upper))
    walk(upper, ".", False)
    return meaning, redirected


def _whiteout_line(lowers, rel, hidden_below):
    if hidden_below or lower_lookup(lowers, rel) is None:
        return "whiteout (hides nothing)"
    return "whiteout"
