#!/usr/bin/env python3
"""One round of the mixed workload of leak-daemon.t, against MOUNT:

  leakload.py MOUNT ROUND FILES

For each of FILES lower files (l0..): open, mmap, write through the map,
msync, munmap, close (fuse-overlayfs leaks an fd per mmap); read it back
through another open and mmap; then create, write, fsync, rename, link,
set an xattr, truncate and unlink scratch files, and list directories.
Every byte read is checked; prints the operation count."""
import mmap
import os
import sys

mnt, rnd, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ops = 0


def fail(msg):
    print("MISMATCH", msg)
    sys.exit(1)


for k in range(nfiles):
    p = os.path.join(mnt, "l%d" % k)
    stamp = b"round %d file %d\n" % (rnd, k)
    fd = os.open(p, os.O_RDWR)
    size = os.fstat(fd).st_size
    m = mmap.mmap(fd, size)
    m[:len(stamp)] = stamp
    m.flush()
    m.close()
    os.close(fd)
    with open(p, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        if m[:len(stamp)] != stamp:
            fail("mmap read of %s" % p)
        m.close()
    with open(p, "rb") as f:
        if f.read(len(stamp)) != stamp:
            fail("read of %s" % p)
    ops += 6

d = os.path.join(mnt, "scratch")
os.makedirs(d, exist_ok=True)
for k in range(nfiles):
    a, b, c = (os.path.join(d, "%s%d" % (x, k)) for x in "abc")
    data = os.urandom(4096 + k)
    with open(a, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(a, b)
    os.link(b, c)
    os.setxattr(c, "user.round", b"%d" % rnd)
    os.truncate(b, 100)
    with open(c, "rb") as f:
        if f.read() != data[:100]:
            fail("truncate through a hard link of %s" % c)
    os.unlink(b)
    os.unlink(c)
    ops += 9
for _ in range(5):
    ops += len(os.listdir(mnt)) + len(os.listdir(d))
os.rmdir(d)
print(ops)
