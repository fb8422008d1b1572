"""Command line of the differential harness (driven by tests/overlay-lib.sh).

  nlowers SUITE                      number of lower layers the suite uses
  count SUITE                        number of scenarios
  build SUITE DIR [--form F] [--xattr-ns NS]
                                     DIR/l0 (base) .. DIR/lN-1 (top), DIR/upper
  phases SUITE                       2 if some scenario has operations after a remount
  run SUITE MNT OUT [--phase 2]      run every scenario's ops (or those after the
                                     remount), then render its view
  view SUITE MNT OUT                 render views only
  upper SUITE DIR OUT                render the meaning of DIR/upper against DIR/l*
  tree DIR                           raw listing of a directory (to prove it unchanged)
  judge SUITE KDIR FDIR FSNAME       TAP-like verdicts: "ok NAME" / "not ok NAME" + "# ..."
"""
import argparse
import json
import os
import sys
import traceback

from . import layers, ops, scenarios, view
from .compare import inode_stability, judge, no_origin_xattr


def _lowers(d, n):
    return [os.path.join(d, "l%d" % i) for i in range(n)]


def cmd_build(a):
    n = scenarios.nlowers(a.suite)
    for s in scenarios.suite(a.suite):
        for i in range(n):
            spec = s.layers[i] if i < len(s.layers) else ""
            if i == 0 or spec:
                layers.build(os.path.join(a.dir, "l%d" % i, s.name), spec, "L%d" % i,
                             a.form, a.xattr_ns)
        if s.upper:
            # a pre-seeded upper is always in overlay form (what a kernel mount leaves)
            layers.build(os.path.join(a.dir, "upper", s.name), s.upper, "U", "overlay", a.xattr_ns)
    for d in _lowers(a.dir, n) + [os.path.join(a.dir, "upper")]:
        os.makedirs(d, exist_ok=True)
        layers.set_fixed_times(d)


def _safe_view(path, inos=None, anomalies=None):
    try:
        return view.merged_view(path, inos, anomalies)
    except OSError as e:
        return {".": "view failed: %s" % e}


def cmd_run(a, with_ops=True):
    out = {}
    for s in scenarios.suite(a.suite):
        if a.phase == 2 and not s.ops2:
            continue
        d = os.path.join(a.mnt, s.name)
        try:
            res = ops.run_ops(d, s.ops2 if a.phase == 2 else s.ops) if with_ops else []
        except OSError as e:
            res = ["cannot enter scenario directory: %s" % e]
        inos, anomalies = {}, []
        out[s.name] = {"ops": res, "view": _safe_view(d, inos, anomalies), "inos": inos,
                       "inode_anomalies": anomalies}
    with open(a.out, "w") as f:
        json.dump(out, f)


def cmd_upper(a):
    n = scenarios.nlowers(a.suite)
    out = {}
    for s in scenarios.suite(a.suite):
        lowers = [os.path.join(lo, s.name) for lo in reversed(_lowers(a.dir, n))]
        meaning, redirected = view.upper_meaning(os.path.join(a.dir, "upper", s.name), lowers)
        out[s.name] = {"meaning": meaning, "redirected": redirected}
    with open(a.out, "w") as f:
        json.dump(out, f)


def cmd_tree(a):
    """Everything about a tree that a write could change, one line per entry."""
    for dirpath, dirnames, filenames in os.walk(a.dir):
        dirnames.sort()
        for n in ([""] if dirpath == a.dir else []) + sorted(dirnames + filenames):
            p = os.path.join(dirpath, n) if n else dirpath
            st = os.lstat(p)
            line = view.describe(p, st)
            xs = []
            for x in sorted(os.listxattr(p, follow_symlinks=False)):
                xs.append("%s=%r" % (x, os.getxattr(p, x, follow_symlinks=False)))
            print("%s  %s mtime_ns=%d %s" % (os.path.relpath(p, a.dir), line, st.st_mtime_ns,
                                             ",".join(xs)))


def _load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def cmd_judge(a):
    kres, fres = _load(os.path.join(a.kdir, "ops.json")), _load(os.path.join(a.fdir, "ops.json"))
    kup, fup = _load(os.path.join(a.kdir, "upper.json")), _load(os.path.join(a.fdir, "upper.json"))
    frem = _load(os.path.join(a.fdir, "remount.json"))
    kres2, fres2 = _load(os.path.join(a.kdir, "ops2.json")), _load(os.path.join(a.fdir, "ops2.json"))
    for s in scenarios.suite(a.suite):
        if kres is None or fres is None or s.name not in kres or s.name not in fres:
            print("not ok %s\n# no results (the run did not complete)" % s.name)
            continue
        last_k, last_f, problems = kres[s.name], fres[s.name], []
        if s.ops2:
            # two phases with a remount of both between them: judge the
            # first phase's outcomes and views, then the second as usual
            problems = [("before the remount: " + asp, d)
                        for asp, d in judge(last_k, last_f, None, None, None, a.fsname,
                                            s.dir_mtimes)]
            last_k = kres2.get(s.name) if kres2 else None
            last_f = fres2.get(s.name) if fres2 else None
            if last_k is None or last_f is None:
                print("not ok %s\n# no results for the phase after the remount" % s.name)
                continue
        problems += judge(last_k, last_f,
                          kup.get(s.name) if kup else None,
                          fup.get(s.name) if fup else None,
                          frem[s.name]["view"] if frem and s.name in frem else None,
                          a.fsname, s.dir_mtimes)
        # Kernel overlay's readdir d_ino is not always its st_ino, and
        # without index=on (userxattr) inode numbers change across a
        # remount: in a self-check of the oracle only the comparisons count.
        if frem and s.name in frem and a.fsname != "kernel":
            exempt = no_origin_xattr(frem[s.name]["view"]) if a.suite == "rootless" else ()
            problems += inode_stability(last_f.get("inos", {}), frem[s.name].get("inos", {}),
                                        exempt)
        checked = () if a.fsname == "kernel" else \
            (fres[s.name], last_f) + ((frem[s.name],) if frem and s.name in frem else ())
        for res in checked:
            if res.get("inode_anomalies"):
                problems.append(("inode numbers", res["inode_anomalies"]))
                break
        if frem is None and a.need_remount:
            problems.append(("merged view after remount", ["the remount did not happen"]))
        if a.expect_errno and s.name.startswith(a.expect_prefix):
            wrong = [o for o in fres[s.name]["ops"] if not o.endswith("-> " + a.expect_errno)]
            if wrong:
                problems.append(("expected %s" % a.expect_errno, wrong))
        if not problems:
            print("ok %s" % s.name)
            continue
        print("not ok %s" % s.name)
        if s.note:
            print("# " + s.note)
        print("# ops: " + "; ".join(ops.fmt_op(op) for op in s.ops))
        if s.ops2:
            print("# after a remount: " + "; ".join(ops.fmt_op(op) for op in s.ops2))
        for aspect, lines in problems:
            print("# %s differs:" % aspect)
            for line in lines:
                print("#   " + line)


def main(argv):
    p = argparse.ArgumentParser(prog="ovltest")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("nlowers"); c.add_argument("suite")
    c = sub.add_parser("count"); c.add_argument("suite")
    c = sub.add_parser("build"); c.add_argument("suite"); c.add_argument("dir")
    c.add_argument("--form", choices=("overlay", "oci"), default="overlay")
    c.add_argument("--xattr-ns", choices=("trusted", "user"), default="trusted")
    for name in ("run", "view"):
        c = sub.add_parser(name); c.add_argument("suite"); c.add_argument("mnt"); c.add_argument("out")
        c.add_argument("--phase", type=int, choices=(1, 2), default=1)
    c = sub.add_parser("phases"); c.add_argument("suite")
    c = sub.add_parser("upper"); c.add_argument("suite"); c.add_argument("dir"); c.add_argument("out")
    c = sub.add_parser("tree"); c.add_argument("dir")
    c = sub.add_parser("judge"); c.add_argument("suite"); c.add_argument("kdir")
    c.add_argument("fdir"); c.add_argument("fsname")
    c.add_argument("--need-remount", action="store_true")
    c.add_argument("--expect-errno", default="", help="every op of the scenarios named ...")
    c.add_argument("--expect-prefix", default="", help="... with this prefix must fail so")
    a = p.parse_args(argv)
    if a.cmd == "nlowers":
        print(scenarios.nlowers(a.suite))
    elif a.cmd == "phases":
        print(2 if any(s.ops2 for s in scenarios.suite(a.suite)) else 1)
    elif a.cmd == "count":
        print(len(scenarios.suite(a.suite)))
    elif a.cmd == "build":
        cmd_build(a)
    elif a.cmd == "run":
        cmd_run(a)
    elif a.cmd == "view":
        cmd_run(a, with_ops=False)
    elif a.cmd == "upper":
        cmd_upper(a)
    elif a.cmd == "tree":
        cmd_tree(a)
    elif a.cmd == "judge":
        cmd_judge(a)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BrokenPipeError:
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        sys.exit(2)
