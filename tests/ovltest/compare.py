"""Judging one scenario: kernel overlay (the oracle) against the filesystem
under test.  Produces a list of (aspect, diff lines) problems."""
import difflib
import re


def _lines(d):
    return ["%s  %s" % (k, d[k]) for k in sorted(d)]


def udiff(a, b, label_a, label_b):
    return list(difflib.unified_diff(a, b, label_a, label_b, n=1, lineterm=""))


def _strip_data(line):
    return re.sub(r" (size=\d+ sha=\S+|data=lower)", " data", line)


def tolerate_upper(k, f, k_redirected, hardlinked):
    """Remove from both upper renderings the differences that carry no
    meaning (see README): encodings under a redirected directory, lazily
    linked-up hardlink aliases, needless kernel whiteouts and metadata-only
    copy-ups."""
    k, f = dict(k), dict(f)
    for r in k_redirected:
        for d in (k, f):
            for p in [p for p in d if p.startswith(r + "/")]:
                del d[p]
            if r in d:
                d[r] = d[r].replace(" opaque", "")
    for p in hardlinked:
        if (p in k) != (p in f):
            k.pop(p, None)
            f.pop(p, None)
            # linking an alias up eagerly copies up its parents too
            a = p.rpartition("/")[0]
            while a and (a in k) != (a in f) and "opaque" not in k.get(a, f.get(a, "")):
                k.pop(a, None)
                f.pop(a, None)
                a = a.rpartition("/")[0]
    for p, v in list(k.items()):
        if v == "whiteout (hides nothing)" and p not in f:
            del k[p]
    for p in f:
        if p in k and ("data=lower" in f[p] or "data=lower" in k[p]):
            k[p], f[p] = _strip_data(k[p]), _strip_data(f[p])
    return k, f


def hardlinked_paths(view):
    out = set()
    for key, line in view.items():
        if key.startswith("links:"):
            out.update(line.split()[1:])
    return out


def _without_dir_mtimes(view):
    return {p: (re.sub(r" mtime=\S+", "", v) if v.startswith("d ") else v) for p, v in view.items()}


def judge(kres, fres, kupper, fupper, fremount, fsname, dir_mtimes=True):
    """KRES/FRES: {"ops": [...], "view": {...}}; KUPPER/FUPPER:
    {"meaning": {...}, "redirected": [...]}; FREMOUNT: view after remount.
    DIR_MTIMES=False leaves directory mtimes out of the views."""
    problems = []
    if not dir_mtimes:
        kres = dict(kres, view=_without_dir_mtimes(kres["view"]))
        fres = dict(fres, view=_without_dir_mtimes(fres["view"]))
        fremount = fremount and _without_dir_mtimes(fremount)
    if kres["ops"] != fres["ops"]:
        problems.append(("operation outcomes", udiff(kres["ops"], fres["ops"], "kernel", fsname)))
    kv, fv = _lines(kres["view"]), _lines(fres["view"])
    if kv != fv:
        problems.append(("merged view", udiff(kv, fv, "kernel", fsname)))
    if kupper is not None and fupper is not None:
        k, f = tolerate_upper(kupper["meaning"], fupper["meaning"], kupper["redirected"],
                              hardlinked_paths(kres["view"]))
        if k != f:
            problems.append(("upper directory meaning",
                             udiff(_lines(k), _lines(f), "kernel upper", fsname + " upper")))
    if fremount is not None:
        rv = _lines(fremount)
        if rv != kv:
            problems.append(("merged view after remount",
                             udiff(kv, rv, "kernel", fsname + " after remount")))
    return problems


def inode_stability(before, after, exempt=()):
    """Every name keeps its inode number across a remount (but EXEMPT)."""
    moved = ["%s: %s -> %s" % (p, before[p], after[p])
             for p in sorted(before)
             if p in after and before[p] != after[p] and p not in exempt]
    return [("inode numbers across the remount", moved)] if moved else []


def no_origin_xattr(view):
    """Names that cannot carry a user.* xattr (symlinks, fifos, sockets,
    devices): unprivileged, a copy-up cannot record where they came from,
    so layerfs gives them new inode numbers (an intended difference, see
    the README's known limits)."""
    return {p for p, v in view.items() if v.split(" ", 1)[0] in ("l", "p", "s", "c", "b")}
