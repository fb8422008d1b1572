"""Scripted filesystem operations with comparable outcomes.

An operation is a tuple (NAME, ARG...); paths are relative to the
scenario's directory (the interpreter chdirs there).  Each operation yields
one outcome string: "ok", "ok VALUE" for operations that read something, or
the errno name of the failure, so that errors are compared as well as
effects.  Every open uses O_NONBLOCK: a fifo must never hang the suite.
"""
import ctypes
import errno
import fcntl
import hashlib
import os
import socket
import stat

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2


def _check(ret):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret


def renameat2(old, new, flags):
    _check(_libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), flags))


def _open(path, flags, mode=0o644):
    return os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)


class _fd:
    def __init__(self, path, flags, mode=0o644):
        self.fd = _open(path, flags, mode)

    def __enter__(self):
        return self.fd

    def __exit__(self, *exc):
        os.close(self.fd)


def _digest(data):
    return "%d:%s" % (len(data), hashlib.sha256(data).hexdigest()[:12])


def _read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


# --- the operations -------------------------------------------------------

def op_stat(p):
    st = os.lstat(p)
    kind = stat.S_IFMT(st.st_mode)
    size = st.st_size if not stat.S_ISDIR(st.st_mode) else "-"
    return "%o %o %s" % (kind >> 12, stat.S_IMODE(st.st_mode), size)


def op_statn(p):                 # stat with the link count (merged directories: 1)
    st = os.lstat(p)
    return "%o %d" % (stat.S_IFMT(st.st_mode) >> 12, st.st_nlink)


def op_statf(p):                 # stat following symlinks
    st = os.stat(p)
    return "%o %o" % (stat.S_IFMT(st.st_mode) >> 12, stat.S_IMODE(st.st_mode))


def op_read(p):
    with _fd(p, os.O_RDONLY) as fd:
        return _digest(_read_all(fd))


def op_pread(p, off, n):
    with _fd(p, os.O_RDONLY) as fd:
        return repr(os.pread(fd, n, off))


def op_create(p, mode=0o644):
    os.close(_open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))


def op_creat(p, data=""):        # open(O_CREAT|O_TRUNC) + write, like a shell ">"
    with _fd(p, os.O_CREAT | os.O_TRUNC | os.O_WRONLY) as fd:
        os.write(fd, data.encode())


def op_write(p, data):           # overwrite from offset 0, no truncation
    with _fd(p, os.O_WRONLY) as fd:
        return os.write(fd, data.encode())


def op_append(p, data):
    with _fd(p, os.O_WRONLY | os.O_APPEND) as fd:
        return os.write(fd, data.encode())


def op_pwrite(p, off, data):
    with _fd(p, os.O_RDWR) as fd:
        return os.pwrite(fd, data.encode(), off)


def op_open_wr(p):               # open for writing and close without writing
    os.close(_open(p, os.O_WRONLY))


def op_otrunc(p):
    os.close(_open(p, os.O_WRONLY | os.O_TRUNC))


def op_truncate(p, n):
    os.truncate(p, n)


def op_ftruncate(p, n):
    with _fd(p, os.O_RDWR) as fd:
        os.ftruncate(fd, n)


def op_mkdir(p, mode=0o755):
    os.mkdir(p, mode)


def op_rmdir(p):
    os.rmdir(p)


def op_unlink(p):
    os.unlink(p)


def op_symlink(target, p):
    os.symlink(target, p)


def op_readlink(p):
    return os.readlink(p)


def op_link(src, dst):
    os.link(src, dst, follow_symlinks=False)


def op_rename(src, dst):
    os.rename(src, dst)


def op_rename_noreplace(src, dst):
    renameat2(src, dst, RENAME_NOREPLACE)


def op_rename_exchange(a, b):
    renameat2(a, b, RENAME_EXCHANGE)


def op_mkfifo(p, mode=0o644):
    os.mkfifo(p, mode)


def op_mksock(p):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(p)
    finally:
        s.close()


def op_mknod_chr(p, major, minor):
    os.mknod(p, stat.S_IFCHR | 0o644, os.makedev(major, minor))


def op_mknod_blk(p, major, minor):
    os.mknod(p, stat.S_IFBLK | 0o644, os.makedev(major, minor))


def op_chmod(p, mode):
    os.chmod(p, mode)


def op_chown(p, uid, gid):       # lchown: never follows
    os.chown(p, uid, gid, follow_symlinks=False)


def op_chown_follow(p, uid, gid):
    os.chown(p, uid, gid)


def op_utime(p, sec):            # sets atime and mtime (old values, compared exactly)
    os.utime(p, ns=(sec * 10**9 + 1234, sec * 10**9 + 5678), follow_symlinks=False)


def op_utime_follow(p, sec):
    os.utime(p, ns=(sec * 10**9 + 1234, sec * 10**9 + 5678))


def op_utime_now(p):
    os.utime(p, follow_symlinks=False)


_XFLAGS = {"": 0, "create": os.XATTR_CREATE, "replace": os.XATTR_REPLACE}


def op_setxattr(p, name, value, how=""):
    os.setxattr(p, name, value.encode(), _XFLAGS[how], follow_symlinks=False)


def op_setxattr_follow(p, name, value):
    os.setxattr(p, name, value.encode())


def op_removexattr(p, name):
    os.removexattr(p, name, follow_symlinks=False)


def op_getxattr(p, name):
    return repr(os.getxattr(p, name, follow_symlinks=False))


def op_listxattr(p):
    names = os.listxattr(p, follow_symlinks=False)
    return ",".join(sorted(n for n in names if ".overlay." not in n))


def op_fallocate(p, mode, off, length):
    with _fd(p, os.O_RDWR) as fd:
        _check(_libc.fallocate(fd, mode, off, length))


def op_fsync(p):
    with _fd(p, os.O_RDWR) as fd:
        os.write(fd, b"S")
        os.fsync(fd)


def op_fdatasync(p):
    with _fd(p, os.O_RDWR) as fd:
        os.write(fd, b"D")
        os.fdatasync(fd)


def op_fsync_ro(p):              # fsync of a descriptor opened read-only
    with _fd(p, os.O_RDONLY) as fd:
        os.fsync(fd)


def op_copy_range(src, dst, n, src_off=0, dst_off=0):
    with _fd(src, os.O_RDONLY) as fi, _fd(dst, os.O_WRONLY | os.O_CREAT) as fo:
        done = 0
        while done < n:
            r = os.copy_file_range(fi, fo, n - done, src_off + done, dst_off + done)
            if r == 0:
                break
            done += r
        return done


def op_seek(p, whence, off):
    w = {"data": os.SEEK_DATA, "hole": os.SEEK_HOLE, "end": os.SEEK_END}[whence]
    with _fd(p, os.O_RDONLY) as fd:
        return os.lseek(fd, off, w)


def op_flock(p):
    """Take an exclusive flock; a second open file description must be refused."""
    with _fd(p, os.O_RDONLY) as fd, _fd(p, os.O_RDONLY) as fd2:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            fcntl.flock(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return "second lock granted"
        except BlockingIOError:
            return "second lock refused"


def op_posix_lock(p):
    """Take a POSIX write lock; another process must see it held."""
    with _fd(p, os.O_RDWR) as fd:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
        pid = os.fork()
        if pid == 0:
            try:
                fd2 = _open(p, os.O_RDWR)
                fcntl.lockf(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
                os._exit(0)
            except OSError:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        return "other process " + ("blocked" if os.waitstatus_to_exitcode(status) else "granted")


def op_statfs(p):
    st = os.statvfs(p)
    return "bsize=%d namemax=%d" % (st.f_bsize, st.f_namemax)


def op_readdir(p):
    return ",".join(sorted(os.listdir(p)))


def op_access(p, how):
    mode = {"r": os.R_OK, "w": os.W_OK, "x": os.X_OK, "f": os.F_OK}[how]
    return "yes" if os.access(p, mode) else "no"


def op_rmtree(p):                # rm -r: remove everything, then the directory
    for dirpath, dirnames, filenames in os.walk(p, topdown=False):
        for n in filenames:
            os.unlink(os.path.join(dirpath, n))
        for n in dirnames:
            full = os.path.join(dirpath, n)
            if os.path.islink(full):
                os.unlink(full)
            else:
                os.rmdir(full)
    os.rmdir(p)


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def run_one(op):
    fn = OPS[op[0]]
    try:
        r = fn(*op[1:])
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "ok" if r is None else "ok %s" % (r,)


_MODE_ARG = {"chmod": 2, "mkdir": 2, "mkfifo": 2, "create": 2}


def fmt_op(op):
    """'chmod t 0o600': modes in octal, everything else as is."""
    out = []
    for i, a in enumerate(op):
        out.append(oct(a) if _MODE_ARG.get(op[0]) == i and isinstance(a, int) else str(a))
    return " ".join(out)


def run_ops(scen_dir, ops):
    """Run OPS inside SCEN_DIR; returns the outcome list."""
    here = os.getcwd()
    os.chdir(scen_dir)
    try:
        return ["%s -> %s" % (fmt_op(op), run_one(op)) for op in ops]
    finally:
        os.chdir(here)
