#!/usr/bin/env python3
"""Writes and copy-ups into an upper that runs out of space (fault-enospc.t).

enospc_ops.py MOUNT LOWER STEP...: runs each step against MOUNT and prints
"STEP OUTCOME" per line; OUTCOME is "ok", "same"/"differs", or an errno
name.  LOWER holds the lower layer's files, to compare with."""
import errno
import hashlib
import os
import sys

MNT, LOWER = sys.argv[1], sys.argv[2]
CHUNK = 1 << 20


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(CHUNK), b""):
            h.update(b)
    return h.hexdigest()


def pattern(n, seed):
    return hashlib.sha256(seed.encode()).digest() * (n // 32) + b"\0" * (n % 32)


def append(name, data):
    """Append to a lower file: the first write is its copy-up."""
    fd = os.open(os.path.join(MNT, name), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def same_as_lower(name):
    return "same" if sha(os.path.join(MNT, name)) == sha(os.path.join(LOWER, name)) else "differs"


def fill(name):
    """Write until the upper is full; the file then holds exactly the bytes
    the writes accepted."""
    fd = os.open(os.path.join(MNT, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    accepted, outcome = 0, "ok"
    data = pattern(CHUNK, name)
    try:
        while accepted < (1 << 30):
            n = os.write(fd, data)
            accepted += n
    except OSError as e:
        outcome = ename(e)
    try:
        os.fsync(fd)
    except OSError:
        pass
    os.close(fd)
    size = os.stat(os.path.join(MNT, name)).st_size
    with open(os.path.join(MNT, name), "rb") as f:
        got = f.read()
    want = (data * (accepted // CHUNK + 1))[:accepted]
    return outcome + (" consistent" if size == accepted and got == want else
                      " inconsistent(size %d, accepted %d)" % (size, accepted))


def new_file(name, size):
    data = pattern(size, name)
    with open(os.path.join(MNT, name), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    with open(os.path.join(MNT, name), "rb") as f:
        return "ok" if f.read() == data else "differs"


def copied_up(name):
    """The lower file with one appended block, read back whole."""
    extra = pattern(4096, "extra" + name)
    append(name, extra)
    with open(os.path.join(LOWER, name), "rb") as f:
        want = f.read() + extra
    with open(os.path.join(MNT, name), "rb") as f:
        return "ok" if f.read() == want else "differs"


STEPS = {
    # a lower file bigger than the upper: its copy-up cannot fit
    "copyup-big": lambda: append("big", b"x") or "ok",
    "big-unchanged": lambda: same_as_lower("big"),
    "fill": lambda: fill("fill"),
    "new-when-full": lambda: new_file("n1", 65536),
    "copyup-small-when-full": lambda: append("small", pattern(65536, "s")) or "ok",
    "small-unchanged": lambda: same_as_lower("small"),
    "chmod-lower-when-full": lambda: os.chmod(os.path.join(MNT, "meta"), 0o600) or "ok",
    "meta-unchanged": lambda: same_as_lower("meta"),
    "mkdir-when-full": lambda: os.mkdir(os.path.join(MNT, "newdir")) or "ok",
    "free": lambda: [os.unlink(os.path.join(MNT, n)) for n in ("fill", "n1")
                     if os.path.lexists(os.path.join(MNT, n))] and "ok" or "ok",
    "copyup-after-free": lambda: copied_up("mid"),
    "copyup-small-after-free": lambda: copied_up("small"),
    "new-after-free": lambda: new_file("n2", 2 * CHUNK),
    "big-still-lower": lambda: same_as_lower("big"),
}

for step in sys.argv[3:]:
    try:
        out = STEPS[step]()
    except OSError as e:
        out = ename(e)
    print(step, out, flush=True)
