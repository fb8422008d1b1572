"""Layer trees from compact specs.

A layer spec is a whitespace-separated list of tokens, each describing one
entry relative to the scenario's own directory in that layer:

    NAME            regular file, content "NAME@<layer tag>"
    NAME=TEXT       regular file with content TEXT ("\\n" and "\\s" are
                    newline and space)
    NAME/           directory
    NAME->TARGET    symlink
    NAME=>OTHER     hardlink to OTHER (created earlier in the same layer)
    NAME|           fifo
    NAME@           unix socket
    NAME%MAJ,MIN    character device
    NAME#MAJ,MIN    block device
    -NAME           whiteout (char 0/0 in overlay form, .wh.NAME in OCI form)

Any token may end in {ATTRS}, ';'-separated: m=MODE (octal), u=UID, g=GID,
x=NAME:VALUE (an xattr, repeatable), o (directory is opaque), sparse (file
with a hole between two 4 KiB extents), big (256 KiB of patterned data).
Parent directories are created as needed.  Every entry gets mtime
FIXED_MTIME so that timestamp handling of copy-up is visible in the views.
"""
import os
import socket
import stat

FIXED_MTIME_NS = 1_000_000_000 * 10**9      # 2001-09-09
# Timestamps older than this are set by layers or utimens ops and compared
# exactly; newer ones are "now" and only compared as "new".
OLD_TIME_LIMIT = 1_500_000_000

OPAQUE_XATTR = {"trusted": "trusted.overlay.opaque", "user": "user.overlay.opaque"}


def unescape(text):
    return text.replace("\\n", "\n").replace("\\s", " ")


class Entry:
    __slots__ = ("path", "kind", "arg", "attrs")

    def __init__(self, path, kind, arg=None, attrs=None):
        self.path, self.kind, self.arg, self.attrs = path, kind, arg, attrs or {}


def parse_attrs(text):
    attrs = {"x": []}
    for item in filter(None, text.split(";")):
        key, _, val = item.partition("=")
        if key == "x":
            name, _, value = val.partition(":")
            attrs["x"].append((name, value))
        elif key in ("m",):
            attrs[key] = int(val, 8)
        elif key in ("u", "g"):
            attrs[key] = int(val)
        else:
            attrs[key] = val or True
    return attrs


def parse_token(tok, tag):
    attrs = {"x": []}
    if tok.endswith("}"):
        tok, _, a = tok[:-1].partition("{")
        attrs = parse_attrs(a)
    if tok.startswith("-"):
        return Entry(tok[1:], "whiteout", None, attrs)
    if "->" in tok:
        name, _, target = tok.partition("->")
        return Entry(name, "symlink", target, attrs)
    if "=>" in tok:
        name, _, other = tok.partition("=>")
        return Entry(name, "hardlink", other, attrs)
    if "=" in tok:
        name, _, text = tok.partition("=")
        return Entry(name, "file", unescape(text), attrs)
    if tok.endswith("/"):
        return Entry(tok[:-1], "dir", None, attrs)
    if tok.endswith("|"):
        return Entry(tok[:-1], "fifo", None, attrs)
    if tok.endswith("@"):
        return Entry(tok[:-1], "socket", None, attrs)
    for mark, kind in (("%", "chr"), ("#", "blk")):
        if mark in tok:
            name, _, nums = tok.partition(mark)
            major, minor = (int(n) for n in nums.split(","))
            return Entry(name, kind, (major, minor), attrs)
    return Entry(tok, "file", "%s@%s\n" % (tok, tag), attrs)


def parse_spec(spec, tag):
    return [parse_token(t, tag) for t in spec.split()]


def _mkparents(root, rel):
    parent = os.path.dirname(rel)
    if parent:
        os.makedirs(os.path.join(root, parent), exist_ok=True)


def _file_data(entry):
    if entry.attrs.get("big"):
        block = bytes(range(256)) * 16
        return b"".join(block[i % 251:] + block[:i % 251] for i in range(64))
    return entry.arg.encode()


def _make_whiteout(root, rel, form):
    path = os.path.join(root, rel)
    if form == "oci":
        head, name = os.path.split(path)
        with open(os.path.join(head, ".wh." + name), "wb"):
            pass
    else:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def make_opaque(path, form, xattr_ns):
    if form == "oci":
        with open(os.path.join(path, ".wh..wh..opq"), "wb"):
            pass
    else:
        os.setxattr(path, OPAQUE_XATTR[xattr_ns], b"y")


def build(root, spec, tag, form="overlay", xattr_ns="trusted"):
    """Create the entries of SPEC under directory ROOT (created)."""
    os.makedirs(root, exist_ok=True)
    entries = parse_spec(spec, tag)
    for e in entries:
        _mkparents(root, e.path)
        path = os.path.join(root, e.path)
        if e.kind == "whiteout":
            _make_whiteout(root, e.path, form)
            continue
        if e.kind == "file":
            with open(path, "wb") as f:
                if e.attrs.get("sparse"):
                    f.write(b"A" * 4096)
                    f.seek(1 << 20)
                    f.write(b"B" * 4096)
                else:
                    f.write(_file_data(e))
        elif e.kind == "dir":
            os.makedirs(path, exist_ok=True)
        elif e.kind == "symlink":
            os.symlink(e.arg, path)
        elif e.kind == "hardlink":
            os.link(os.path.join(root, e.arg), path)
        elif e.kind == "fifo":
            os.mkfifo(path)
        elif e.kind == "socket":
            s = socket.socket(socket.AF_UNIX)
            cwd = os.getcwd()
            os.chdir(os.path.dirname(path))   # sun_path is short: bind relative
            try:
                s.bind(os.path.basename(path))
            finally:
                os.chdir(cwd)
                s.close()
        elif e.kind in ("chr", "blk"):
            kind = stat.S_IFCHR if e.kind == "chr" else stat.S_IFBLK
            os.mknod(path, kind | 0o644, os.makedev(*e.arg))
        if "m" in e.attrs:
            os.chmod(path, e.attrs["m"])
        if "u" in e.attrs or "g" in e.attrs:
            os.lchown(path, e.attrs.get("u", -1), e.attrs.get("g", -1))
        for name, value in e.attrs["x"]:
            os.setxattr(path, name, value.encode(), follow_symlinks=False)
        if e.attrs.get("o"):
            make_opaque(path, form, xattr_ns)
    set_fixed_times(root)


def set_fixed_times(root):
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), ns=(FIXED_MTIME_NS, FIXED_MTIME_NS),
                     follow_symlinks=False)
    os.utime(root, ns=(FIXED_MTIME_NS, FIXED_MTIME_NS))
