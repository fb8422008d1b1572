#!/usr/bin/env python3
"""Load for fault-kill-daemon.t, and the check after the daemon was killed.

  killload.py seed LOWER N                  lower files a0.. (version 0), p0..
  killload.py replace MNT LOG K SECONDS     rewrite aK whole: temp file, fsync,
                                            rename; log each version after it
  killload.py append MNT LOG K SECONDS      append 512-byte records to pK, fsync
                                            every 8; log the count fsync'd
  killload.py read MNT N SECONDS            read every file, each must be whole
  killload.py check MNT LOGDIR LOWER N STRICT   after a remount: every aK is a
                                            complete version, the logged one or
                                            the next; every pK holds its lower
                                            prefix and at least the logged
                                            records (STRICT=1: and every record
                                            after them is whole too)
A writer or reader that loses the mount (ENOTCONN and the like) stops
quietly; one that sees a torn file prints CORRUPT and exits 1."""
import errno
import hashlib
import os
import sys
import time

REC = 512
LOST = (errno.ENOTCONN, errno.ECONNABORTED, errno.EIO, errno.ENODEV)


def version(name, v):
    length = 1 + (hashlib.sha256(b"%s:%d" % (name.encode(), v)).digest()[0] * 811) % 200000
    head = b"%s %d %d\n" % (name.encode(), v, length)
    unit = hashlib.sha256(b"%s/%d" % (name.encode(), v)).digest()
    return head + (unit * (length // 32 + 1))[:length]


def parse_version(name, data):
    """The version number DATA is, whole; None when torn or foreign."""
    try:
        head = data.split(b"\n", 1)[0].split()
        v = int(head[1])
    except (IndexError, ValueError):
        return None
    return v if head[0] == name.encode() and data == version(name, v) else None


def record(k, i):
    unit = hashlib.sha256(b"rec %d %d" % (k, i)).digest()
    return (b"p%d record %08d\n" % (k, i) + unit * 16)[:REC - 1] + b"\n"


def prefix(k):
    return hashlib.sha256(b"prefix %d" % k).digest() * 3000


def log(path, value):
    with open(path, "a") as f:
        f.write("%d\n" % value)
        f.flush()
        os.fsync(f.fileno())


def last_logged(path):
    try:
        with open(path) as f:
            lines = f.read().split()
        return int(lines[-1]) if lines else 0
    except FileNotFoundError:
        return 0


def run_until(seconds, body):
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            body()
    except OSError as e:
        if e.errno not in LOST:
            raise
    return 0


def replace(mnt, logp, k, seconds):
    name, state = "a%d" % k, {"v": 0}
    path, tmp = os.path.join(mnt, name), os.path.join(mnt, "a%d.tmp" % k)

    def body():
        state["v"] += 1
        with open(tmp, "wb") as f:
            f.write(version(name, state["v"]))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        log(logp, state["v"])
    return run_until(seconds, body)


def append(mnt, logp, k, seconds):
    fd = os.open(os.path.join(mnt, "p%d" % k), os.O_WRONLY | os.O_APPEND)
    state = {"i": 0}

    def body():
        os.write(fd, record(k, state["i"]))
        state["i"] += 1
        if state["i"] % 8 == 0:
            os.fsync(fd)
            log(logp, state["i"])
    return run_until(seconds, body)


def read(mnt, n, seconds):
    state = {"k": 0}

    def body():
        k = state["k"] % n
        state["k"] += 1
        with open(os.path.join(mnt, "a%d" % k), "rb") as f:
            data = f.read()
        if parse_version("a%d" % k, data) is None:
            print("CORRUPT read of a%d (%d bytes)" % (k, len(data)))
            sys.exit(1)
        with open(os.path.join(mnt, "p%d" % k), "rb") as f:
            data = f.read()
        if not data.startswith(prefix(k)):
            print("CORRUPT prefix of p%d" % k)
            sys.exit(1)
    return run_until(seconds, body)


def check(mnt, logdir, lower, n, strict):
    bad, summary = [], []
    for k in range(n):
        name = "a%d" % k
        logged = last_logged(os.path.join(logdir, name))
        with open(os.path.join(mnt, name), "rb") as f:
            v = parse_version(name, f.read())
        if v is None or v not in (logged, logged + 1):
            bad.append("%s: version %s, log says %d" % (name, v, logged))
        summary.append("%s=v%s(log %d)" % (name, v, logged))
        name = "p%d" % k
        logged = last_logged(os.path.join(logdir, name))
        with open(os.path.join(mnt, name), "rb") as f:
            data = f.read()
        pre = prefix(k)
        if not data.startswith(pre):
            bad.append("%s: lower prefix lost" % name)
            continue
        body, i = data[len(pre):], 0
        while (i + 1) * REC <= len(body) and body[i * REC:(i + 1) * REC] == record(k, i):
            i += 1
        tail = len(body) - i * REC
        if i < logged:
            bad.append("%s: %d whole records, %d were fsync'd" % (name, i, logged))
        elif strict and tail and not record(k, i).startswith(body[i * REC:]):
            bad.append("%s: %d bytes of garbage after %d records" % (name, tail, i))
        summary.append("%s=%d records(log %d, tail %d)" % (name, i, logged, tail))
    print(" ".join(summary))
    for b in bad:
        print("BAD", b)
    return 1 if bad else 0


def seed(lower, n):
    for k in range(n):
        with open(os.path.join(lower, "a%d" % k), "wb") as f:
            f.write(version("a%d" % k, 0))
        with open(os.path.join(lower, "p%d" % k), "wb") as f:
            f.write(prefix(k))
    return 0


def main(a):
    if a[0] == "seed":
        return seed(a[1], int(a[2]))
    if a[0] == "replace":
        return replace(a[1], a[2], int(a[3]), float(a[4]))
    if a[0] == "append":
        return append(a[1], a[2], int(a[3]), float(a[4]))
    if a[0] == "read":
        return read(a[1], int(a[2]), float(a[3]))
    if a[0] == "check":
        return check(a[1], a[2], a[3], int(a[4]), a[5] == "1")
    raise SystemExit("unknown mode " + a[0])


sys.exit(main(sys.argv[1:]))
