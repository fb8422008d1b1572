#!/usr/bin/env python3
"""Small probes of a mounted filesystem, used by the semantics checks.

  fsprobe.py inodes DIR            every name under DIR: unique st_ino per file,
                                   d_ino == st_ino; prints "ino path" lines
  fsprobe.py dino DIR              only the d_ino == st_ino check, recursively
  fsprobe.py lookups-then-dino DIR LIST
                                   lstat every path of LIST (relative to DIR, one a
                                   line) before any directory is read, then walk DIR:
                                   every entry's d_ino and st_ino must be the st_ino
                                   its first lookup gave, and no path may appear or vanish
  fsprobe.py pattern FILE MIB      write a non-sparse file of MIB MiB, every
                                   4 KiB block tagged with its offset
  fsprobe.py write-at FILE OFF LEN BYTE
                                   overwrite LEN bytes at OFF with BYTE (no O_TRUNC)
  fsprobe.py expect FILE LOWER [OFF LEN BYTE]
                                   FILE == LOWER (with LEN bytes at OFF set to BYTE)
  fsprobe.py concurrent FILE NPROC LEN
                                   NPROC processes open FILE for writing at the same
                                   moment, each writes LEN bytes of its own byte at
                                   offset i * (size / NPROC); then checks every region
  fsprobe.py churn DIR              read DIR while creating, removing and renaming
                                   names in it: every untouched name is returned
                                   exactly once, no name twice; a new read shows
                                   exactly the current names
  fsprobe.py burst DIR SECONDS [lowest-latency]
                                   create and remove files in DIR as fast as one
                                   process can, for SECONDS; with lowest-latency, read
                                   /dev/cpu_dma_latency meanwhile and print the lowest
  fsprobe.py acl-enforce FILE UID  FILE (mode 0600, root's) opens for UID only while
                                   an ACL entry grants it; prints the outcomes
  fsprobe.py acl-default DIR       set a default ACL on DIR
  fsprobe.py acl FILE              set a POSIX ACL with a named user (uid 0,
                                   rwx) and print the mode and the ACL read back
Exit status 0 when the property holds, 1 (with a message on stdout) when not.
"""
import multiprocessing
import os
import stat
import sys
import time

CHUNK = 1 << 20


def fail(msg):
    print(msg)
    sys.exit(1)


def walk(top):
    """(path, d_ino, stat) of every entry below top, depth first."""
    stack = [top]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                st = os.lstat(e.path)
                yield e.path, e.inode(), st
                if stat.S_ISDIR(st.st_mode):
                    stack.append(e.path)


def cmd_inodes(top):
    owner = {}
    bad = []
    for path, dino, st in walk(top):
        if dino != st.st_ino:
            bad.append(f"{path}: d_ino {dino} != st_ino {st.st_ino}")
        prev = owner.get(st.st_ino)
        if prev is None:
            owner[st.st_ino] = (path, st)
        elif (prev[1].st_nlink < 2 or st.st_nlink < 2 or stat.S_ISDIR(st.st_mode)):
            bad.append(f"st_ino {st.st_ino} shared by {prev[0]} and {path}")
        print(st.st_ino, path)
    if bad:
        fail("\n".join(bad))


def cmd_dino(top):
    bad = [f"{p}: d_ino {d} != st_ino {st.st_ino}"
           for p, d, st in walk(top) if d != st.st_ino]
    if bad:
        fail("\n".join(bad))


def cmd_lookups_then_dino(top, listfile):
    with open(listfile) as f:
        paths = [os.path.normpath(line.rstrip("\n")) for line in f if line.strip()]
    first = {}
    for rel in paths:
        try:
            first[rel] = os.lstat(os.path.join(top, rel)).st_ino
        except FileNotFoundError:
            first[rel] = None
    seen, bad = set(), []
    for path, dino, st in walk(top):
        rel = os.path.relpath(path, top)
        seen.add(rel)
        if rel not in first:
            bad.append(f"{rel}: listed, but not found before")
        elif first[rel] is None:
            bad.append(f"{rel}: listed, but its lookup found nothing")
        elif not dino == st.st_ino == first[rel]:
            bad.append(f"{rel}: lookup st_ino {first[rel]}, d_ino {dino}, st_ino {st.st_ino}")
    bad += [f"{rel}: found by lookup, not listed" for rel, ino in first.items()
            if ino is not None and rel not in seen]
    if bad:
        fail("\n".join(bad))
    print(f"{len(seen)} entries")


def cmd_burst(top, secs, latency=None):
    low = 2**31
    end = time.monotonic() + float(secs)
    n = 0
    while time.monotonic() < end:
        p = os.path.join(top, "b%d" % (n % 50))
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
        os.unlink(p)
        n += 1
        if latency and n % 100 == 0:
            with open("/dev/cpu_dma_latency", "rb") as f:
                low = min(low, int.from_bytes(f.read(4), "little", signed=True))
    if latency:
        print(low)


def cmd_pattern(path, mib):
    block = 4096
    with open(path, "wb") as f:
        for m in range(int(mib)):
            buf = bytearray(CHUNK)
            for off in range(0, CHUNK, block):
                tag = f"{m * CHUNK + off:016x}".encode()
                buf[off:off + 16] = tag
                buf[off + 16:off + block] = b"L" * (block - 16)
            f.write(buf)


def cmd_write_at(path, off, length, byte):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, bytes([ord(byte)]) * int(length), int(off))
    finally:
        os.close(fd)


def cmd_expect(path, lower, off=None, length=None, byte=None):
    off = -1 if off is None else int(off)
    end = off + int(length) if length is not None else -1
    with open(path, "rb") as a, open(lower, "rb") as b:
        pos = 0
        while True:
            x = a.read(CHUNK)
            y = bytearray(b.read(CHUNK))
            if off >= 0 and pos < end and pos + len(y) > off:
                lo, hi = max(off, pos) - pos, min(end, pos + len(y)) - pos
                y[lo:hi] = bytes([ord(byte)]) * (hi - lo)
            if x != y:
                i = next((k for k in range(min(len(x), len(y))) if x[k] != y[k]),
                         min(len(x), len(y)))
                fail(f"{path} differs from the expected content at byte {pos + i}"
                     f" (got {len(x)} bytes in this chunk, want {len(y)})")
            if not x:
                return
            pos += len(x)


def _writer(path, i, off, length, barrier, errors):
    try:
        barrier.wait()
        fd = os.open(path, os.O_WRONLY)
        os.pwrite(fd, bytes([0x41 + i]) * length, off)
        os.close(fd)
    except Exception as e:  # reported by the parent
        errors.put(f"writer {i}: {e}")


def cmd_concurrent(path, nproc, length):
    nproc, length = int(nproc), int(length)
    size = os.stat(path).st_size
    step = size // nproc
    barrier = multiprocessing.Barrier(nproc)
    errors = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_writer,
                                     args=(path, i, i * step, length, barrier, errors))
             for i in range(nproc)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    msgs = []
    while not errors.empty():
        msgs.append(errors.get())
    with open(path, "rb") as f:
        for i in range(nproc):
            f.seek(i * step)
            got = f.read(length)
            if got != bytes([0x41 + i]) * length:
                msgs.append(f"region {i} at offset {i * step}: write lost")
    if msgs:
        fail("\n".join(msgs))


def cmd_acl(path):
    import struct
    any_id = 0xffffffff
    entries = [(0x01, 6, any_id), (0x02, 7, 0), (0x04, 4, any_id),
               (0x10, 7, any_id), (0x20, 4, any_id)]
    acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
    try:
        os.setxattr(path, "system.posix_acl_access", acl)
        back = os.getxattr(path, "system.posix_acl_access")
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    print(f"{stat.S_IMODE(os.stat(path).st_mode):o} {'same' if back == acl else 'different'}")


def cmd_churn(top):
    before = set(os.listdir(top))
    # Change the directory once, so the kernel's cached listing is dropped
    # and the read below is served by the filesystem itself.
    open(os.path.join(top, ".churn"), "w").close()
    os.unlink(os.path.join(top, ".churn"))
    seen, touched, now = {}, set(), set(before)
    step = 0
    with os.scandir(top) as it:
        for n, e in enumerate(it):
            seen[e.name] = seen.get(e.name, 0) + 1
            if n % 40 != 39:
                continue
            step += 1
            victims = sorted(now - touched)[:6]
            for v in victims[:3]:           # remove some names
                os.unlink(os.path.join(top, v))
                now.discard(v)
                touched.add(v)
            for v in victims[3:]:           # rename others
                new = f"renamed-{step}-{v}"
                os.rename(os.path.join(top, v), os.path.join(top, new))
                now.discard(v)
                now.add(new)
                touched.update((v, new))
            for k in range(10):             # and add names
                new = f"new-{step}-{k}"
                with open(os.path.join(top, new), "w"):
                    pass
                now.add(new)
                touched.add(new)
    if step < 5:
        fail(f"{top}: only {step} rounds of changes; too few names to test")
    twice = sorted(k for k, v in seen.items() if v > 1)
    if twice:
        fail(f"returned more than once: {' '.join(twice[:5])}")
    missed = sorted(before - touched - set(seen))
    if missed:
        fail(f"untouched names not returned: {' '.join(missed[:5])} ({len(missed)})")
    again = set(os.listdir(top))
    if again != now:
        fail(f"a new read differs: missing {sorted(now - again)[:5]}, extra {sorted(again - now)[:5]}")


def _acl(entries):
    import struct
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


ANY = 0xffffffff


def _open_as(path, uid):
    # From the file's directory, so that directories above it (a test's
    # private temporary directory) need not be open to UID.
    dirfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY)
    pid = os.fork()
    if pid == 0:
        try:
            try:
                os.setgroups([])
            except PermissionError:
                pass  # a user namespace with setgroups denied: see chown below
            os.setgid(uid)
            os.setuid(uid)
            os.close(os.open(os.path.basename(path), os.O_RDONLY, dir_fd=dirfd))
            os._exit(0)
        except PermissionError:
            os._exit(1)
        except BaseException:
            os._exit(2)
    os.close(dirfd)
    return {0: "open", 1: "denied"}.get(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), "error")


def cmd_acl_enforce(path, uid):
    uid = int(uid)
    # Group 1 (daemon): no group of the prober, whatever supplementary
    # groups a user namespace leaves it.
    os.chown(path, 0, 1)
    os.chmod(path, 0o600)
    out = [_open_as(path, uid)]
    try:
        os.setxattr(path, "system.posix_acl_access",
                    _acl([(0x01, 6, ANY), (0x02, 4, uid), (0x04, 0, ANY),
                          (0x10, 4, ANY), (0x20, 0, ANY)]))
    except OSError as e:
        fail(f"{path}: setting an ACL: {e.strerror}")
    out.append(_open_as(path, uid))
    os.removexattr(path, "system.posix_acl_access")
    out.append(_open_as(path, uid))
    print(" ".join(out))


def cmd_acl_default(path):
    os.setxattr(path, "system.posix_acl_default",
                _acl([(0x01, 7, ANY), (0x02, 5, 65534), (0x04, 5, ANY),
                      (0x10, 5, ANY), (0x20, 0, ANY)]))


def main():
    cmds = {"acl-enforce": cmd_acl_enforce, "acl-default": cmd_acl_default, "churn": cmd_churn, "inodes": cmd_inodes, "dino": cmd_dino,
            "lookups-then-dino": cmd_lookups_then_dino, "burst": cmd_burst, "pattern": cmd_pattern,
            "write-at": cmd_write_at, "expect": cmd_expect,
            "concurrent": cmd_concurrent, "acl": cmd_acl}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
