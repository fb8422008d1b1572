"""Scenario tables.

A scenario is a small world in its own directory: the same directory name
in every lower layer (base first: L0, L1, L2) and in the pre-seeded upper,
then a list of operations run in that directory of the mount.  Scenarios
are generated from three tables:

  * PLACEMENTS: where the target object "t" lives (pre-seeded upper, one
    lower, several lowers, behind a whiteout, under an opaque directory,
    created through the mount);
  * KINDS: what "t" is (file, directory, symlink, hardlink pair, fifo,
    socket, character device), with the object's spec in a layer;
  * per-kind OPERATION tables.

plus hand-written edge cases (MISC) and seeded random sequences.
"""
import os
import random
import re

NLOWERS = 3


class Scenario:
    def __init__(self, name, layers, upper="", ops=(), note="", ops2=()):
        self.name = name
        self.layers = list(layers)            # base first; missing layers are empty
        self.upper = upper
        self.ops = list(ops)
        self.ops2 = list(ops2)                # run after unmounting and mounting again
        self.note = note
        self.dir_mtimes = True                # compare directory mtimes


# --- kinds: the target object as it appears in layer TAG ------------------

def obj_spec(kind, path, tag, rootless=False):
    own = "" if rootless else ";u=1000;g=100"
    if kind == "file":
        return "%s{m=0640%s;x=user.orig:%s}" % (path, own, tag)
    if kind == "dir":
        return ("%s/{m=0750%s;x=user.orig:%s} %s/common %s/c%s %s/sub/deep%s"
                % (path, own, tag, path, path, tag, path, tag))
    if kind == "symlink":
        d = os.path.dirname(path)
        tt = os.path.join(d, "tt") if d else "tt"
        return "%s=target@%s %s->tt" % (tt, tag, path)
    if kind == "hardlink":
        return "%s{m=0644;x=user.orig:%s} %s=>%s" % (path, tag, path + "2", path)
    if kind == "fifo":
        return "%s|{m=0640}" % path
    if kind == "socket":
        return "%s@{m=0755}" % path
    if kind == "chr":
        return "%s%%1,3{m=0666}" % path
    raise ValueError(kind)


# Operations that create the target through the mount ("new" placement).
CREATE_OPS = {
    "file": [("creat", "t", "fresh"), ("chmod", "t", 0o640), ("setxattr", "t", "user.orig", "new")],
    "dir": [("mkdir", "t", 0o750), ("creat", "t/common", "c"), ("mkdir", "t/sub"),
            ("creat", "t/sub/deep", "d")],
    "symlink": [("creat", "tt", "target"), ("symlink", "tt", "t")],
    "hardlink": [("creat", "t", "hl"), ("link", "t", "t2")],
    "fifo": [("mkfifo", "t", 0o640)],
    "socket": [("mksock", "t")],
    "chr": [("mknod_chr", "t", 1, 3)],
}

# Neighbours every placement has in L0: a file "n" and a directory "nd".
NEIGHBOURS = "n=neighbour{m=0600;x=user.n:1} nd/child"
NEIGHBOURS_ROOTLESS = NEIGHBOURS


def placement(where, kind, rootless=False):
    """Returns (layers, upper, prefix, extra ops) for the target "t"."""
    o = lambda tag, path="t": obj_spec(kind, path, tag, rootless)   # noqa: E731
    nb = NEIGHBOURS
    if where == "lower":
        return [nb + " " + o("L0")], "", "", []
    if where == "top":       # in every lower; the top one wins (directories merge)
        return [nb + " " + o("L0"), o("L1"), o("L2")], "", "", []
    if where == "upper":     # pre-seeded upper, as after an earlier mount
        return [nb], o("U"), "", []
    if where == "new":
        return [nb], "", "", list(CREATE_OPS[kind])
    if where == "opaque":    # under a directory made opaque in L1; L0's o/t hidden
        return [nb + " " + o("L0", "o/t") + " o/hidden", "o/{o} " + o("L1", "o/t")], "", "o/", []
    if where == "upper-opaque":
        return [nb + " " + o("L0", "o/t") + " o/hidden"], "o/{o} " + o("U", "o/t"), "o/", []
    # absent targets: t exists below but is hidden
    if where == "whiteout":
        return [nb + " " + o("L0"), "-t"], "", "", []
    if where == "upper-whiteout":
        return [nb + " " + o("L0")], "-t", "", []
    if where == "hidden-by-opaque":
        return [nb + " " + o("L0", "o/t"), "o/{o} o/other"], "", "o/", []
    raise ValueError(where)


PRESENT = ("lower", "top", "upper", "new", "opaque", "upper-opaque")
ABSENT = ("whiteout", "upper-whiteout", "hidden-by-opaque")

# --- operation tables: NAME -> ops on "t" (and neighbours "n", "nd") --------

FILE_OPS = {
    "read": [("read", "t"), ("getxattr", "t", "user.orig")],
    "write": [("write", "t", "XY"), ("read", "t")],
    "append": [("append", "t", "more"), ("read", "t")],
    "pwrite-extend": [("pwrite", "t", 100, "far"), ("read", "t")],
    "truncate-shrink": [("truncate", "t", 2)],
    "truncate-grow": [("truncate", "t", 5000)],
    "ftruncate": [("ftruncate", "t", 1)],
    "open-trunc": [("otrunc", "t")],
    "open-write-only": [("open_wr", "t")],
    "creat-over": [("creat", "t", "replaced")],
    "create-excl": [("create", "t")],
    "chmod": [("chmod", "t", 0o600)],
    "chmod-suid": [("chmod", "t", 0o4755)],
    "chown": [("chown", "t", 1234, 5678)],
    "utime": [("utime", "t", 1200000000)],
    "utime-now": [("utime_now", "t")],
    "setxattr": [("setxattr", "t", "user.new", "v"), ("listxattr", "t")],
    "setxattr-replace": [("setxattr", "t", "user.orig", "changed", "replace")],
    "setxattr-create-exists": [("setxattr", "t", "user.orig", "x", "create")],
    "setxattr-trusted": [("setxattr", "t", "trusted.test", "tv")],
    "removexattr": [("removexattr", "t", "user.orig"), ("listxattr", "t")],
    "removexattr-missing": [("removexattr", "t", "user.none")],
    "fallocate": [("fallocate", "t", 0, 0, 8192)],
    "fallocate-keep-size": [("fallocate", "t", 1, 0, 8192), ("stat", "t")],
    "punch-hole": [("fallocate", "t", 3, 1, 2), ("read", "t")],
    "fsync": [("fsync", "t")],
    "fdatasync": [("fdatasync", "t")],
    "fsync-readonly-fd": [("fsync_ro", "t")],
    "copy-range-out": [("copy_range", "t", "cp", 100), ("read", "cp")],
    "copy-range-in": [("copy_range", "n", "t", 3, 0, 1), ("read", "t")],
    "seek": [("seek", "t", "data", 0), ("seek", "t", "hole", 0), ("seek", "t", "end", 0)],
    "flock": [("flock", "t")],
    "posix-lock": [("posix_lock", "t")],
    "unlink": [("unlink", "t"), ("stat", "t")],
    "unlink-recreate": [("unlink", "t"), ("creat", "t", "again")],
    "rename-new": [("rename", "t", "moved"), ("read", "moved")],
    "rename-over": [("rename", "t", "n"), ("read", "n")],
    "rename-onto": [("rename", "n", "t"), ("read", "t")],
    "rename-noreplace": [("rename_noreplace", "t", "n")],
    "rename-noreplace-new": [("rename_noreplace", "t", "fresh")],
    "rename-exchange": [("rename_exchange", "t", "n"), ("read", "t"), ("read", "n")],
    "rename-exchange-dir": [("rename_exchange", "t", "nd"), ("readdir", "t")],
    "rename-self": [("rename", "t", "t")],
    "rename-into-dir": [("rename", "t", "nd/t")],
    "link": [("link", "t", "t-link"), ("append", "t-link", "via-link"), ("read", "t")],
    "mkdir-over": [("mkdir", "t")],
    "rmdir-file": [("rmdir", "t")],
    "readdir-file": [("readdir", "t")],
    "symlink-over": [("symlink", "x", "t")],
    "mkfifo-over": [("mkfifo", "t")],
}
FILE_CORE = ("read", "write", "append", "truncate-shrink", "open-trunc", "chmod", "chown",
             "utime", "setxattr", "removexattr", "unlink", "unlink-recreate", "rename-new",
             "rename-over", "rename-exchange", "link", "copy-range-out", "seek", "fallocate")

DIR_OPS = {
    "readdir": [("readdir", "t"), ("readdir", "t/sub")],
    "mkdir-child": [("mkdir", "t/newdir"), ("readdir", "t")],
    "create-child": [("creat", "t/newfile", "x"), ("readdir", "t")],
    "unlink-child": [("unlink", "t/common"), ("readdir", "t")],
    "rmdir-nonempty": [("rmdir", "t")],
    "rmtree": [("rmtree", "t"), ("stat", "t")],
    "rmtree-mkdir": [("rmtree", "t"), ("mkdir", "t"), ("readdir", "t"), ("creat", "t/after", "y")],
    "rmtree-creat": [("rmtree", "t"), ("creat", "t", "file now")],
    "chmod": [("chmod", "t", 0o700)],
    "chown": [("chown", "t", 4321, 8765)],
    "utime": [("utime", "t", 1100000000)],
    "setxattr": [("setxattr", "t", "user.dx", "1")],
    "removexattr": [("removexattr", "t", "user.orig")],
    "rename-dir": [("rename", "t", "t-moved"), ("readdir", "t-moved"), ("stat", "t")],
    "rename-dir-deeper": [("mkdir", "sub"), ("rename", "t", "sub/t"), ("readdir", "sub/t/sub")],
    "rename-dir-over-empty": [("mkdir", "empty"), ("rename", "t", "empty"), ("readdir", "empty")],
    "rename-over-nonempty": [("rename", "nd", "t")],
    "rename-exchange-file": [("rename_exchange", "t", "n"), ("readdir", "n")],
    "rename-exchange-dir": [("rename_exchange", "t", "nd"), ("readdir", "nd"), ("readdir", "t")],
    "rename-noreplace": [("rename_noreplace", "t", "nd")],
    "rename-child-out": [("rename", "t/common", "outside"), ("readdir", "t")],
    "rename-into": [("rename", "n", "t/n-in"), ("readdir", "t")],
    "rename-child-within": [("rename", "t/common", "t/renamed"), ("readdir", "t")],
    "rename-into-self": [("rename", "t", "t/sub/t")],
    "link-dir": [("link", "t", "t-hard")],
    "unlink-dir": [("unlink", "t")],
    "open-write-dir": [("open_wr", "t")],
    "deep-create": [("creat", "t/sub/deepfile", "d"), ("readdir", "t/sub")],
    "mkdir-rmdir-child": [("mkdir", "t/tmpd"), ("rmdir", "t/tmpd")],
    "rmtree-subdir": [("rmtree", "t/sub"), ("readdir", "t")],
}
DIR_CORE = ("readdir", "mkdir-child", "create-child", "unlink-child", "rmdir-nonempty", "rmtree",
            "rmtree-mkdir", "chmod", "setxattr", "rename-dir", "rename-child-out",
            "mkdir-rmdir-child")

SYMLINK_OPS = {
    "readlink": [("readlink", "t"), ("statf", "t")],
    "read-through": [("read", "t")],
    "write-through": [("append", "t", "thru"), ("read", "tt"), ("readlink", "t")],
    "chown": [("chown", "t", 99, 98)],
    "chown-follow": [("chown_follow", "t", 77, 76)],
    "chmod-follow": [("chmod", "t", 0o600)],
    "utime": [("utime", "t", 1300000000)],
    "setxattr-user": [("setxattr", "t", "user.s", "1")],
    "setxattr-trusted": [("setxattr", "t", "trusted.s", "1")],
    "unlink": [("unlink", "t"), ("read", "tt")],
    "rename": [("rename", "t", "t-moved"), ("readlink", "t-moved")],
    "link": [("link", "t", "t-hard"), ("readlink", "t-hard")],
    "symlink-over": [("symlink", "elsewhere", "t")],
    "replace": [("unlink", "t"), ("symlink", "elsewhere", "t")],
}

HARDLINK_OPS = {
    "write-one-read-other": [("append", "t", "X"), ("read", "t2"), ("stat", "t2")],
    "chmod-one": [("chmod", "t", 0o600), ("stat", "t2")],
    "chown-one": [("chown", "t2", 11, 12)],
    "setxattr-one": [("setxattr", "t", "user.h", "1"), ("getxattr", "t2", "user.h")],
    "unlink-one": [("unlink", "t"), ("stat", "t2"), ("append", "t2", "after")],
    "rename-one": [("rename", "t", "t3"), ("append", "t3", "Z"), ("read", "t2")],
    "link-third": [("link", "t2", "t3"), ("append", "t3", "W"), ("read", "t")],
    "truncate-one": [("truncate", "t2", 1), ("read", "t")],
    "utime-one": [("utime", "t", 1250000000)],
}

SPECIAL_OPS = {
    "stat": [("stat", "t")],
    "chmod": [("chmod", "t", 0o600)],
    "chown": [("chown", "t", 5, 6)],
    "utime": [("utime", "t", 1150000000)],
    "setxattr-user": [("setxattr", "t", "user.sp", "1")],
    "setxattr-trusted": [("setxattr", "t", "trusted.sp", "1")],
    "unlink": [("unlink", "t")],
    "rename": [("rename", "t", "t-moved"), ("stat", "t-moved")],
    "link": [("link", "t", "t-hard"), ("stat", "t")],
    "open-read": [("read", "t")],
    "open-write": [("write", "t", "x")],
}
SPECIAL_CORE = ("stat", "chmod", "unlink", "rename")

ABSENT_OPS = {
    "stat": [("stat", "t")],
    "readdir-parent": [("readdir", ".")],
    "create": [("create", "t"), ("read", "t")],
    "mkdir": [("mkdir", "t"), ("readdir", "t"), ("creat", "t/in", "i")],
    "symlink": [("symlink", "dest", "t"), ("readlink", "t")],
    "mkfifo": [("mkfifo", "t")],
    "mksock": [("mksock", "t")],
    "link": [("link", "n", "t"), ("read", "t")],
    "rename-onto": [("rename", "n", "t"), ("read", "t")],
    "rename-dir-onto": [("rename", "nd", "t"), ("readdir", "t")],
    "unlink": [("unlink", "t")],
    "rmdir": [("rmdir", "t")],
    "chmod": [("chmod", "t", 0o600)],
    "setxattr": [("setxattr", "t", "user.x", "1")],
    "rename-from": [("rename", "t", "z")],
    "rename-exchange": [("rename_exchange", "t", "n")],
    "mkdir-rmdir": [("mkdir", "t"), ("rmdir", "t")],
    "create-unlink": [("creat", "t", "c"), ("unlink", "t")],
}
ABSENT_DIR = ("stat", "readdir-parent", "mkdir", "create", "rename-dir-onto", "mkdir-rmdir")

TABLES = {
    "file": (FILE_OPS, FILE_CORE),
    "dir": (DIR_OPS, DIR_CORE),
    "symlink": (SYMLINK_OPS, ("readlink", "write-through", "unlink", "rename", "chmod-follow")),
    "hardlink": (HARDLINK_OPS, tuple(HARDLINK_OPS)),
    "fifo": (SPECIAL_OPS, SPECIAL_CORE),
    "socket": (SPECIAL_OPS, SPECIAL_CORE),
    "chr": (SPECIAL_OPS, SPECIAL_CORE),
}
# Which operation set each placement gets: the full table or the core subset.
FULL_AT = {"file": ("lower", "top"), "dir": ("lower", "top"),
           "symlink": ("lower", "upper"), "hardlink": ("lower", "upper", "new"),
           "fifo": ("lower", "upper"), "socket": ("lower", "upper"), "chr": ("lower", "upper")}
PLACED_AT = {"file": PRESENT, "dir": PRESENT, "symlink": ("lower", "top", "upper", "new"),
             "hardlink": ("lower", "upper", "new"), "fifo": ("lower", "upper", "new"),
             "socket": ("lower", "upper", "new"), "chr": ("lower", "upper", "new")}

TARGET_NAMES = ("t", "t2", "t3", "tt", "t-link", "t-moved", "t-hard")


def _prefixed(op, prefix):
    """Put the target's own names under PREFIX (e.g. "o/")."""
    if not prefix:
        return op
    out = [op[0]]
    for a in op[1:]:
        if isinstance(a, str):
            head, sep, rest = a.partition("/")
            if head in TARGET_NAMES:
                a = prefix + a
        out.append(a)
    return tuple(out)


def table_scenarios(rootless=False):
    out = []
    for kind, (table, core) in TABLES.items():
        for where in PLACED_AT[kind]:
            names = table if where in FULL_AT[kind] else core
            for opname in names:
                layers, upper, prefix, pre = placement(where, kind, rootless)
                ops = [_prefixed(op, prefix) for op in pre + table[opname]]
                out.append(Scenario("%s-%s-%s" % (kind, where, opname), layers, upper, ops))
    for kind in ("file", "dir"):
        for where in ABSENT:
            for opname in (ABSENT_OPS if kind == "file" else ABSENT_DIR):
                layers, upper, prefix, pre = placement(where, kind, rootless)
                ops = [_prefixed(op, prefix) for op in ABSENT_OPS[opname]]
                out.append(Scenario("hidden-%s-%s-%s" % (kind, where, opname), layers, upper, ops))
    return out


# --- hand-written edge cases ----------------------------------------------

MISC = [
    # name, layers (base first), upper, ops
    ("rmdir-merged-child-only-in-base", ["d/a", "d/"], "", [("rmdir", "d")]),
    ("rmdir-merged-after-removing-children", ["d/a", "d/b"], "",
     [("unlink", "d/a"), ("unlink", "d/b"), ("readdir", "d"), ("rmdir", "d"), ("stat", "d")]),
    ("rmdir-dir-whose-lower-child-is-whited-out", ["d/a", "-d/a d/"], "", [("rmdir", "d")]),
    ("rmdir-dir-empty-through-opaque", ["d/a", "d/{o}"], "", [("readdir", "d"), ("rmdir", "d")]),
    ("rmdir-upper-child-plus-lower-child", ["d/a"], "", [("creat", "d/b", "b"), ("unlink", "d/b"),
                                                          ("rmdir", "d")]),
    ("mkdir-rmdir-new-name", [""], "", [("mkdir", "x"), ("rmdir", "x")]),
    ("mkdir-rmdir-new-nested", [""], "", [("mkdir", "x"), ("mkdir", "x/y"), ("rmdir", "x/y"),
                                         ("rmdir", "x")]),
    ("create-unlink-new-name", [""], "", [("creat", "x", "x"), ("unlink", "x")]),
    ("rename-new-file-over-whiteout", ["w"], "", [("unlink", "w"), ("creat", "x", "x"),
                                                   ("rename", "x", "w"), ("read", "w")]),
    ("nested-copyup-parents-keep-attrs",
     ["a/{m=0711;u=7;g=8;x=user.a:1} a/b/{m=0700;u=9;x=user.b:2} a/b/c/{x=trusted.c:3} a/b/c/f"], "",
     [("append", "a/b/c/f", "z")]),
    ("rename-file-across-lower-dirs", ["a/f b/"], "", [("rename", "a/f", "b/f"),
                                                       ("readdir", "a"), ("readdir", "b")]),
    ("rename-nested-lower-dir", ["a/b/c/f a/b/g"], "",
     [("rename", "a/b", "x"), ("readdir", "x"), ("readdir", "x/c"), ("read", "x/c/f"),
      ("stat", "a/b")]),
    ("rename-dir-then-recreate", ["d/a d/b"], "",
     [("rename", "d", "e"), ("mkdir", "d"), ("readdir", "d"), ("readdir", "e")]),
    ("rename-dir-there-and-back", ["d/a d/b", "d/c"], "",
     [("rename", "d", "e"), ("rename", "e", "d"), ("readdir", "d")]),
    ("rename-dir-twice", ["d/a", "d/b"], "",
     [("rename", "d", "e"), ("rename", "e", "f"), ("readdir", "f"), ("append", "f/a", "x")]),
    ("rename-dir-then-write-inside", ["d/a"], "",
     [("rename", "d", "e"), ("append", "e/a", "w"), ("read", "e/a")]),
    ("rename-exchange-lower-dirs", ["a/x b/y"], "",
     [("rename_exchange", "a", "b"), ("readdir", "a"), ("readdir", "b")]),
    ("rename-exchange-upper-and-lower", ["l=lower"], "u=upper",
     [("rename_exchange", "l", "u"), ("read", "l"), ("read", "u")]),
    ("rename-exchange-new-and-lower", ["l=lower"], "",
     [("creat", "u", "upper"), ("rename_exchange", "l", "u"), ("read", "l"), ("read", "u")]),
    ("rename-exchange-missing", ["l"], "", [("rename_exchange", "l", "missing")]),
    ("rename-noreplace-over-whiteout", ["a b"], "", [("unlink", "b"), ("rename_noreplace", "a", "b"),
                                                      ("read", "b")]),
    ("whiteout-then-readded-higher", ["x=base", "-x", "x=top"], "", [("read", "x"), ("append", "x", "!")]),
    ("opaque-then-readded-higher", ["d/a d/b", "d/{o} d/c", "d/e"], "",
     [("readdir", "d"), ("unlink", "d/c"), ("readdir", "d")]),
    ("dir-replaced-by-file-higher", ["d/a", "d=file"], "", [("read", "d"), ("unlink", "d"),
                                                          ("mkdir", "d"), ("readdir", "d")]),
    ("file-replaced-by-dir-higher", ["d=file", "d/a"], "", [("readdir", "d"), ("rmtree", "d"),
                                                          ("stat", "d")]),
    ("symlink-to-dir-create-through", ["d/f l->d"], "", [("creat", "l/new", "n"), ("readdir", "d")]),
    ("symlink-chain", ["a=data b->a c->b"], "", [("append", "c", "+"), ("read", "a")]),
    ("symlink-dangling", ["l->nowhere"], "", [("read", "l"), ("creat", "l", "made"), ("read", "nowhere")]),
    ("hardlink-across-dirs", ["a/f b/g=>a/f"], "", [("append", "a/f", "w"), ("read", "b/g"),
                                                    ("stat", "b/g")]),
    ("hardlink-three-names", ["f g=>f h=>f"], "", [("unlink", "g"), ("append", "h", "x"), ("read", "f"),
                                                   ("stat", "f")]),
    ("sparse-lower-seek", ["t{sparse}"], "",
     [("seek", "t", "data", 0), ("seek", "t", "hole", 0), ("seek", "t", "data", 5000),
      ("seek", "t", "hole", 1 << 20), ("read", "t")]),
    # after a copy-up, where the holes are depends on how the data was copied
    # (the kernel's copy of a sparse file on ext4 has none): only offsets
    # that hold data in every copy are asked about
    ("sparse-lower-write-then-seek", ["t{sparse}"], "",
     [("pwrite", "t", 8192, "mid"), ("seek", "t", "data", 0), ("seek", "t", "data", 8192),
      ("seek", "t", "hole", (1 << 20) + 4095), ("seek", "t", "end", 0), ("read", "t")]),
    ("big-lower-copy-range", ["t{big}"], "", [("copy_range", "t", "c", 200000, 1000), ("read", "c")]),
    ("big-lower-pwrite-middle", ["t{big}"], "", [("pwrite", "t", 100000, "XXXX"), ("read", "t")]),
    ("big-lower-truncate-then-extend", ["t{big}"], "", [("truncate", "t", 10), ("truncate", "t", 70000),
                                                        ("seek", "t", "end", 0), ("read", "t")]),
    ("copy-range-within-lower-file", ["t=0123456789"], "", [("copy_range", "t", "t", 3, 0, 5),
                                                            ("read", "t")]),
    ("copy-range-lower-to-lower", ["a=abcdef b=uvwxyz"], "", [("copy_range", "a", "b", 3, 0, 2),
                                                              ("read", "b"), ("read", "a")]),
    ("chmod-dir-then-create-child", ["d/a"], "", [("chmod", "d", 0o711), ("creat", "d/b", "b")]),
    ("opaque-upper-dir-rmtree", ["d/a"], "d/{o} d/b", [("readdir", "d"), ("rmtree", "d"), ("stat", "d")]),
    # an upper entry that covers a lower one: moving or removing it must
    # leave a whiteout, or the lower entry comes back
    ("upper-file-over-lower-file-renamed", ["x=lower"], "x=upper", [("rename", "x", "y"), ("readdir", ".")]),
    ("upper-file-over-lower-dir-renamed", ["x/a"], "x=upper", [("rename", "x", "y"), ("readdir", ".")]),
    ("upper-file-over-lower-file-unlinked", ["x=lower"], "x=upper", [("unlink", "x"), ("readdir", ".")]),
    ("upper-dir-over-lower-dir-removed", ["x/a"], "x/{o} x/b", [("rmtree", "x"), ("readdir", ".")]),
    ("upper-file-exchanged-with-new", ["x=lower"], "x=upper",
     [("creat", "y", "y"), ("rename_exchange", "x", "y"), ("unlink", "y"), ("readdir", ".")]),
    ("upper-whiteout-then-create", ["x"], "-x", [("readdir", "."), ("creat", "x", "new")]),
    ("upper-whiteout-dir-then-mkdir", ["d/a"], "-d", [("mkdir", "d"), ("readdir", "d")]),
    ("upper-whiteout-readdir", ["x y"], "-y", [("readdir", "."), ("stat", "y")]),
    ("readdir-after-many-changes", ["a b c d/ e/f"], "",
     [("unlink", "a"), ("creat", "g", "g"), ("rename", "b", "h"), ("rmdir", "d"), ("mkdir", "i"),
      ("readdir", "."), ("readdir", "e")]),
    ("xattr-large-value", ["f"], "", [("setxattr", "f", "user.big", "v" * 3000),
                                      ("getxattr", "f", "user.big")]),
    ("xattr-many", ["f{x=user.a:1;x=user.b:2;x=user.c:3}"], "",
     [("removexattr", "f", "user.b"), ("setxattr", "f", "user.d", "4"), ("listxattr", "f")]),
    ("xattr-overlay-name-refused", ["f"], "", [("setxattr", "f", "trusted.overlay.opaque", "y"),
                                               ("getxattr", "f", "trusted.overlay.opaque")]),
    ("deep-mkdir-chain", [""], "", [("mkdir", "a"), ("mkdir", "a/b"), ("mkdir", "a/b/c"),
                                   ("creat", "a/b/c/f", "f"), ("readdir", "a/b/c")]),
    ("rename-into-opaque-dir", ["x o/a", "o/{o} o/b"], "", [("rename", "x", "o/x"), ("readdir", "o")]),
    ("rename-out-of-opaque-dir", ["o/a", "o/{o} o/b"], "", [("rename", "o/b", "b"), ("readdir", "o")]),
    ("rename-dir-over-whiteout", ["d/a e/b"], "", [("rmtree", "e"), ("rename", "d", "e"),
                                                    ("readdir", "e")]),
    ("mknod-block-device", [""], "", [("mknod_blk", "b", 7, 200), ("stat", "b")]),
    ("mknod-char-over-whiteout", ["c"], "", [("unlink", "c"), ("mknod_chr", "c", 1, 5), ("stat", "c")]),
    ("mknod-whiteout-device-as-user-file", [""], "", [("mknod_chr", "w", 0, 0), ("stat", "w"),
                                                      ("readdir", ".")]),
    ("setuid-cleared-by-write", ["f{m=4755}"], "", [("append", "f", "x"), ("stat", "f")]),
    ("chown-then-write-keeps-owner", ["f{u=5;g=6}"], "", [("chown", "f", 7, 8), ("append", "f", "x")]),
    ("truncate-zero-then-write", ["f=long-content"], "", [("truncate", "f", 0), ("append", "f", "s")]),
    ("statfs", ["d/f"], "", [("statfs", "."), ("statfs", "d/f")]),
    ("access-checks", ["f{m=0400} d/"], "", [("access", "f", "w"), ("access", "d", "x"),
                                            ("access", "missing", "f")]),
]


# Scenarios in two phases: what the first leaves in the upper (whiteouts,
# opaque directories, redirects, copied-up hardlinks) must be read back
# right by a new mount and go on working under further changes.
REMOUNT = [
    # name, layers (base first), upper, ops, ops after the remount
    ("renamed-lower-dir", ["d/a d/s/b", "d/c"], "", [("rename", "d", "e")],
     [("readdir", "e"), ("append", "e/a", "x"), ("rename", "e", "f"), ("readdir", "f/s"),
      ("stat", "d"), ("mkdir", "d"), ("readdir", "d")]),
    ("renamed-lower-dir-back", ["d/a"], "", [("rename", "d", "e")],
     [("rename", "e", "d"), ("readdir", "d"), ("unlink", "d/a"), ("rmdir", "d")]),
    ("renamed-nested-lower-dir", ["a/b/c/f"], "", [("rename", "a/b", "x")],
     [("readdir", "x/c"), ("readdir", "a"), ("rename", "x/c", "a/c"), ("readdir", "a/c")]),
    ("opaque-dir-from-rmtree", ["d/a d/b"], "", [("rmtree", "d"), ("mkdir", "d"), ("creat", "d/n", "n")],
     [("readdir", "d"), ("rmtree", "d"), ("stat", "d"), ("mkdir", "d"), ("readdir", "d")]),
    ("whiteout-then-recreate", ["x y/z"], "", [("unlink", "x"), ("rmtree", "y")],
     [("readdir", "."), ("creat", "x", "new"), ("mkdir", "y"), ("readdir", "y")]),
    ("hardlink-copied-up", ["f g=>f"], "", [("append", "f", "1")],
     [("read", "g"), ("append", "g", "2"), ("read", "f"), ("stat", "f"), ("unlink", "f"), ("stat", "g")]),
    ("metadata-only-change", ["f{big}"], "", [("chmod", "f", 0o600), ("setxattr", "f", "user.m", "1")],
     [("read", "f"), ("pwrite", "f", 5, "w"), ("read", "f"), ("getxattr", "f", "user.m")]),
    ("truncated-lower-file", ["f{big}"], "", [("otrunc", "f")],
     [("read", "f"), ("append", "f", "after"), ("read", "f")]),
    ("exchanged-lower-dirs", ["a/x b/y"], "", [("rename_exchange", "a", "b")],
     [("readdir", "a"), ("readdir", "b"), ("rename_exchange", "a", "b"), ("readdir", "a")]),
    ("upper-covering-lower", ["x=lower"], "x=upper", [("readdir", ".")],
     [("rename", "x", "y"), ("readdir", ".")]),
]


def misc_scenarios():
    return ([Scenario("misc-" + name, layers, upper, ops) for name, layers, upper, ops in MISC] +
            [Scenario("remount-" + name, layers, upper, ops, ops2=ops2)
             for name, layers, upper, ops, ops2 in REMOUNT])


# --- seeded random sequences ----------------------------------------------

R_TOP = ("a", "b", "c", "d", "e")
R_CHILD = ("x", "y")
R_PATHS = ("a", "b", "c", "d", "e", "d/x", "d/y", "e/x", "e/y", "f", "d/z", "d/x/q", "c/y")


def _random_layer(rng, tag, below_dirs, allow_top_whiteouts):
    """One random layer.  BELOW_DIRS: the names that the layers beneath show
    as directories.  Whiteouts are placed only inside directories that are
    merged with a directory below: kernel overlayfs lists the whiteouts of
    a directory that only one layer provides (it reads such a directory
    directly), which is not behaviour worth copying."""
    toks = []
    for name in R_TOP:
        r = rng.random()
        if r < 0.35:
            continue
        if r < 0.55:
            attrs = "{x=user.r:%s;m=0%o}" % (tag, rng.choice((0o644, 0o600, 0o755))) if rng.random() < 0.3 else ""
            toks.append("%s=%s-%s%s" % (name, name, tag, attrs))
            below_dirs.discard(name)
        elif r < 0.65:
            toks.append("%s->%s" % (name, rng.choice(R_TOP)))
            below_dirs.discard(name)
        elif r < 0.75:
            if allow_top_whiteouts:
                toks.append("-" + name)
                below_dirs.discard(name)
        else:
            opaque = rng.random() < 0.2
            merged = name in below_dirs and not opaque
            toks.append(name + ("/{o}" if opaque else "/"))
            for c in R_CHILD:
                q = rng.random()
                if q < 0.4:
                    toks.append("%s/%s=%s%s-%s" % (name, c, name, c, tag))
                elif q < 0.55 and merged:
                    toks.append("-%s/%s" % (name, c))
                elif q < 0.7:
                    toks.append("%s/%s/" % (name, c))
            below_dirs.add(name)
    return " ".join(toks)


def _random_op(rng):
    p, q = rng.choice(R_PATHS), rng.choice(R_PATHS)
    return rng.choice([
        ("read", p), ("readdir", p), ("stat", p),
        ("write", p, "w%d" % rng.randrange(100)), ("append", p, "+"), ("truncate", p, rng.randrange(8)),
        ("creat", p, "c%d" % rng.randrange(100)), ("mkdir", p), ("rmdir", p), ("unlink", p),
        ("symlink", q, p), ("link", p, q), ("rename", p, q), ("rename_exchange", p, q),
        ("rename_noreplace", p, q), ("chmod", p, rng.choice((0o600, 0o755, 0o640))),
        ("setxattr", p, "user.r", "%d" % rng.randrange(10)), ("removexattr", p, "user.r"),
        ("rmtree", p), ("utime", p, 1000000000 + rng.randrange(10**8)),
        ("mkfifo", p), ("pwrite", p, rng.randrange(20), "p"), ("copy_range", p, q, 5),
        ("fallocate", p, 0, 0, 100), ("chown", p, rng.choice((0, 1, 1000)), rng.choice((0, 100))),
        ("otrunc", p), ("getxattr", p, "user.r"),
    ])


def random_scenarios(seed, count, nops=14):
    out = []
    for i in range(count):
        s = seed + i
        rng = random.Random(s)
        dirs = set()
        # L0 holds the scenario directory alone, so whiteouts there would
        # sit in an unmerged directory; the others merge with it.
        layers = [("base " + _random_layer(rng, "L0", dirs, False)).strip()]
        layers += [_random_layer(rng, "L%d" % k, dirs, True) for k in range(1, NLOWERS)]
        upper = _random_layer(rng, "U", dirs, True) if rng.random() < 0.3 else ""
        ops = [_random_op(rng) for _ in range(nops)] + [("readdir", ".")]
        # sequences with an odd seed go on after a remount
        ops2 = [_random_op(rng) for _ in range(nops // 2)] + [("readdir", ".")] if s % 2 else []
        sc = Scenario("random-%d" % s, layers, upper, ops,
                      note="replay: SEED=%d RANDOM_COUNT=1" % s, ops2=ops2)
        # Kernel overlay changes a directory's mtime in some calls that then
        # fail (renaming a merged directory onto a non-empty one answers
        # ENOTEMPTY after touching the parent); random sequences make such
        # calls all the time, so they leave directory mtimes to the tables.
        sc.dir_mtimes = False
        out.append(sc)
    return out


# --- suites ---------------------------------------------------------------

def _env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def _filter(scens):
    pat = os.environ.get("ONLY", "")
    return [s for s in scens if re.search(pat, s.name)] if pat else scens


def diff_suite():
    seed = _env_int("SEED", 1)
    count = _env_int("RANDOM_COUNT", 40)
    return _filter(table_scenarios() + misc_scenarios() + random_scenarios(seed, count))


ROOTLESS_KINDS = ("file", "dir", "symlink", "fifo", "socket")
ROOTLESS_SKIP = re.compile(r"chown|trusted|mknod|rename-dir|rename-exchange-dir|rename-noreplace$|"
                           r"^dir-.*-rename-exchange-file$|"
                           r"rename-over-nonempty|rename-into-self|open-write-only|hardlink|"
                           r"rename-exchange-lower-dirs|rename-nested-lower-dir|rename-dir|"
                           # without index=on kernel overlay gives the two names of a
                           # just-linked lower file different inode numbers until a remount
                           r"-(lower|top|whiteout|hidden-by-opaque)-link$|^file-opaque-link$|"
                           r"^remount-(renamed|exchanged|hardlink)")


def rootless_suite():
    """Core scenarios an unprivileged user can run against kernel overlay with
    userxattr (no redirect_dir, so no lower-directory renames; no chown to
    other ids, no devices, no trusted.* xattrs)."""
    out = []
    for s in table_scenarios(rootless=True) + misc_scenarios():
        kind = s.name.split("-")[0]
        if kind in ("file", "dir", "symlink", "fifo", "socket", "hidden", "misc", "remount") \
                and not ROOTLESS_SKIP.search(s.name) \
                and not any(t in " ".join(s.layers) + s.upper for t in ("u=", "g=", "%", "#", "trusted")) \
                and not any(op[0] in ("chown", "chown_follow", "mknod_chr", "mknod_blk") or
                            any(isinstance(a, str) and a.startswith("trusted.") for a in op)
                            for op in s.ops):
            out.append(s)
    return _filter(out)


def layers_suite(n):
    """N lower layers: every layer adds a file, overrides a shared one,
    deletes its predecessor's file, and takes part in a merged directory;
    every seventh layer makes a directory opaque."""
    layers = []
    for i in range(n):
        toks = ["own%d=layer%d" % (i, i), "shared=from%d" % i, "merged/m%d" % i, "deep/a/b/c%d" % i]
        if i > 0:
            toks.append("-own%d" % (i - 1))
        if i % 7 == 3:
            toks.append("opq/{o}")
        toks.append("opq/o%d" % i)
        if i % 5 == 2:
            toks.append("-merged/m%d" % (i - 1))
        if i % 4 == 1:
            toks.append("link%d->shared" % i)
        layers.append(" ".join(toks))
    ops = [("read", "shared"), ("readdir", "merged"), ("readdir", "opq"), ("append", "shared", "+"),
           ("unlink", "merged/m0"), ("creat", "deep/a/b/new", "n"), ("readdir", "deep/a/b")]
    return [Scenario("layers-%d" % n, layers, "", ops)]


PROBE_LOWERS = 12


def probe_suite():
    """Lookups by name on a fresh mount, before any directory is read, in a
    stack deeper than the layers a lookup probes before it reads the whole
    directory: names at every depth, whiteouts above and below that limit, a
    directory opaque halfway down, directories merged from layers far apart,
    a directory over a file and a file over a directory.  Then the same
    directories read, changed and read again."""
    layers = []
    for i in range(PROBE_LOWERS):
        toks = ["deep/x%d" % i, "deep/o/o%d" % i]
        toks += {0: ["deep/bottom", "deep/d/a0", "deep/w/old0", "deep/nest/a/b/c0"],
                 1: ["deep/f2d=file", "deep/d2f/in", "deep/w/old1"],
                 2: ["deep/gone2", "deep/e/y", "deep/n2/a/b/c2", "deep/w/old2"],
                 3: ["deep/d/a3", "deep/mid=old", "deep/w/old3"],
                 4: ["-deep/gone2"],
                 5: ["deep/gone"],
                 6: ["-deep/w"],
                 8: ["deep/w/new", "deep/near", "deep/q/q8"],
                 9: ["deep/mid=new", "deep/o/{o}", "deep/m/m9", "deep/wd/w9"],
                 10: ["-deep/gone", "deep/e/z10", "deep/n2/a/b/c10", "-deep/near", "deep/q/{o}",
                      "deep/q/q10", "deep/m=file", "-deep/wd"],
                 11: ["deep/top", "deep/d/a11", "deep/e/z11", "deep/f2d/in", "deep/d2f=file",
                      "deep/nest/a/b/c11", "deep/n2/a/b/c11", "deep/m/m11", "deep/wd/w11"]}.get(i, [])
        layers.append(" ".join(toks))
    # Within the probed depth first: a lookup that goes deeper reads the
    # whole directory, and later lookups in it are answered from that.
    # deep/q, opaque where it is on top, is not asked its link count:
    # kernel overlayfs gives its own, layerfs 1 (merged: it has directories
    # below) until it is read, which saves an opacity check a directory
    # lookup (docs/ARCHITECTURE.md).
    looks = [("statn", "deep"), ("stat", "deep/near"), ("stat", "deep/q/q8"), ("stat", "deep/q/q10"),
             ("stat", "deep/q"), ("statn", "deep/m"), ("stat", "deep/m/m9"), ("statn", "deep/wd"),
             ("stat", "deep/wd/w9"), ("stat", "deep/top"), ("read", "deep/mid"), ("stat", "deep/bottom"),
             ("stat", "deep/gone"), ("stat", "deep/gone2"), ("statn", "deep/d"),
             ("stat", "deep/d/a0"), ("stat", "deep/d/a3"), ("statn", "deep/e"),
             ("stat", "deep/e/y"), ("stat", "deep/e/z10"), ("statn", "deep/o"),
             ("stat", "deep/o/o5"), ("stat", "deep/o/o9"), ("stat", "deep/o/o11"),
             ("statn", "deep/w"), ("stat", "deep/w/old1"), ("stat", "deep/w/new"),
             ("statn", "deep/f2d"), ("stat", "deep/f2d/in"), ("stat", "deep/d2f"),
             ("stat", "deep/d2f/in"), ("statn", "deep/n2/a/b"), ("stat", "deep/n2/a/b/c2"),
             ("stat", "deep/n2/a/b/c10"), ("statn", "deep/nest/a/b"), ("stat", "deep/nest/a/b/c0"),
             ("stat", "deep/nothing"), ("stat", "deep/.wh.gone")]
    reads = [("readdir", "deep/n2/a/b"), ("readdir", "deep/o"), ("readdir", "deep/e"),
             ("readdir", "deep/q"), ("readdir", "deep/m"), ("readdir", "deep/wd"),
             ("readdir", "deep/w"), ("readdir", "deep/d"), ("readdir", "deep")]
    out = [Scenario("probe-lookups", layers, "", looks + reads),
           Scenario("probe-then-change", layers, "", looks + [
               ("creat", "deep/e/new", "n"), ("unlink", "deep/top"), ("mkdir", "deep/n2/a/b/nd"),
               ("rename", "deep/e", "deep/e2"), ("unlink", "deep/nest/a/b/c0")] + reads +
               [("readdir", "deep/e2"), ("stat", "deep/e2/y"), ("statn", "deep/e2")]),
           # the merged directory's lower layers found after its own lookup
           Scenario("probe-nested-first", layers, "", [
               ("stat", "deep/n2/a/b/c2"), ("stat", "deep/e/y"), ("stat", "deep/o/o3"),
               ("statn", "deep/n2/a"), ("readdir", "deep/n2/a/b"), ("readdir", "deep/e")])]
    return _filter(out)


def oci_suite():
    """Layer sets that exercise the OCI whiteout and opaque forms, plus every
    table scenario (their layers are given in OCI form too)."""
    extra = [
        ("wh-file", ["a b c", "-b"], "", []),
        ("wh-dir-with-deep-content", ["d/e/f/g d/x", "-d"], "", [("stat", "d")]),
        ("wh-then-readd", ["x=1", "-x", "x=3"], "", [("read", "x")]),
        ("opq-nested", ["a/b/c a/b/d a/e", "a/b/{o} a/b/z"], "", [("readdir", "a/b"), ("readdir", "a")]),
        ("opq-top-and-base", ["d/a", "d/{o} d/b", "d/{o} d/c"], "", [("readdir", "d")]),
        ("wh-dotted-names", [".hidden .wh-not-a-whiteout x.wh.y", "-.hidden"], "", [("readdir", ".")]),
        # an opaque marker and a whiteout in one directory of one layer (the
        # layer above keeps "d" merged: kernel overlayfs would list the
        # whiteout of a directory only one layer provides)
        ("wh-inside-opaque", ["d/a d/b", "d/{o} d/c d/a -d/b", "d/e -d/a"], "", [("readdir", "d")]),
        ("wh-of-symlink-and-special", ["l->x p| s@", "-l -p -s"], "", [("readdir", ".")]),
        ("wh-only-layer", ["a b", "-a -b"], "", [("readdir", ".")]),
    ]
    out = [Scenario("oci-" + n, l, u, o) for n, l, u, o in extra]
    return _filter(out + table_scenarios() + misc_scenarios())


# Every kind of change, each aimed at an object that exists, so that the
# only possible answer of a read-only mount is EROFS.
READONLY_CHANGES = {
    "create": [("create", "new")],
    "creat-trunc": [("creat", "f", "x")],
    "write": [("write", "f", "x")],
    "append": [("append", "f", "x")],
    "open-write-only": [("open_wr", "f")],
    "open-trunc": [("otrunc", "f")],
    "truncate": [("truncate", "f", 1)],
    "ftruncate": [("ftruncate", "f", 1)],
    "fallocate": [("fallocate", "f", 0, 0, 4096)],
    "copy-range-into-existing": [("copy_range", "g", "f", 2)],
    "copy-range-into-new": [("copy_range", "f", "new", 2)],
    "mkdir": [("mkdir", "newdir")],
    "mkdir-in-subdir": [("mkdir", "d/newdir")],
    "rmdir-empty": [("rmdir", "e")],
    "unlink": [("unlink", "f")],
    "unlink-top-layer-file": [("unlink", "g")],
    "symlink": [("symlink", "f", "newlink")],
    "link": [("link", "f", "newlink")],
    "rename": [("rename", "f", "moved")],
    "rename-over": [("rename", "f", "g")],
    "rename-dir": [("rename", "d", "moved")],
    "rename-noreplace": [("rename_noreplace", "f", "moved")],
    "rename-exchange": [("rename_exchange", "f", "g")],
    "mkfifo": [("mkfifo", "newfifo")],
    "mksock": [("mksock", "newsock")],
    "mknod-chr": [("mknod_chr", "newdev", 1, 3)],
    "chmod": [("chmod", "f", 0o600)],
    "chmod-dir": [("chmod", "d", 0o700)],
    "chown": [("chown", "f", 1, 1)],
    "chown-symlink": [("chown", "l", 1, 1)],
    "utime": [("utime", "f", 1200000000)],
    "utime-now": [("utime_now", "f")],
    "utime-symlink": [("utime", "l", 1200000000)],
    "setxattr": [("setxattr", "f", "user.new", "v")],
    "setxattr-dir": [("setxattr", "d", "user.new", "v")],
    "removexattr": [("removexattr", "f", "user.k")],
}
READONLY_READS = [("read", "f"), ("read", "g"), ("readdir", "."), ("readdir", "d"),
                  ("getxattr", "f", "user.k"), ("listxattr", "f"), ("readlink", "l"),
                  ("seek", "f", "data", 0), ("flock", "f"), ("access", "f", "r"),
                  ("stat", "p")]
READONLY_LAYERS = ["f{x=user.k:v} d/a d/b l->f p| e/ n", "g=top -n"]


def readonly_suite():
    out = [Scenario("ro-change-" + n, READONLY_LAYERS, "", ops) for n, ops in READONLY_CHANGES.items()]
    out.append(Scenario("ro-reads-work", READONLY_LAYERS, "", READONLY_READS))
    return _filter(out)


def suite(name):
    if name == "diff":
        return diff_suite()
    if name == "rootless":
        return rootless_suite()
    if name == "oci":
        return oci_suite()
    if name == "readonly":
        return readonly_suite()
    if name.startswith("layers-"):
        return layers_suite(int(name[7:]))
    if name.startswith("probe"):
        return probe_suite()
    raise SystemExit("unknown suite %r" % name)


def nlowers(name):
    if name.startswith("probe"):
        return PROBE_LOWERS
    return int(name[7:]) if name.startswith("layers-") else NLOWERS
