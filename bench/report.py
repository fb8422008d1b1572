#!/usr/bin/env python3
"""bench/report.py RAW.csv INFO OUTBASE — medians, ratios and targets.

Reads the raw figures written by run.sh (one line per run), prints a table
of medians with ratios to kernel overlayfs (k) and to fuse-overlayfs, checks
layerfs against the targets of the suite, and writes OUTBASE.md (markdown
table with the machine description) and OUTBASE.png (gnuplot chart).
"""
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

# layerfs-nopt: layerfs -o passthrough=off,cpu_latency=poll, as a rootless
# mount runs (passthrough and the CPU latency hold need root): every read
# and write served by the daemon, and idle CPUs left to halt between
# requests; the daemon's receiver still polls during bursts.
FS_ORDER = ["layerfs", "layerfs-nopt", "fuse-overlayfs", "kernel", "plain"]
HIGHER_IS_BETTER = {"MiB/s", "IOPS"}


def load(path):
    rows, order = {}, []
    with open(path) as fh:
        for r in csv.DictReader(fh):
            key = (r["workload"], r["metric"], r["cache"], r["unit"])
            if key not in rows:
                rows[key] = {}
                order.append(key)
            try:
                v = float(r["value"])
            except ValueError:
                continue
            rows[key].setdefault(r["fs"], []).append(v)
    return order, {k: {fs: statistics.median(v) for fs, v in d.items()} for k, d in rows.items()}, rows


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r, unit):
    if r is None:
        return "-"
    if unit in HIGHER_IS_BETTER:
        return "%.2fx" % r
    return "k%.2f" % r if r < 10 else "k%.0f" % r


def fmt_val(v):
    if v is None:
        return "-"
    if v >= 1000:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def sizes_in(med, prefix, sfs):
    out = []
    for (w, m, c, u) in med:
        if w == "copyup" and m.startswith(prefix) and m.endswith("@" + sfs):
            out.append(m[len(prefix):-len(sfs) - 1])
    def b(s):
        return int(s[:-1]) << (30 if s.endswith("g") else 20)
    return sorted(set(out), key=b)


def target(key, med):
    """(target text, PASS/MISS/'') for layerfs on this row."""
    w, m, c, u = key
    row = med[key]
    lfs, k = row.get("layerfs"), row.get("kernel")
    rk = ratio(lfs, k)

    def at_most(limit):
        return ("<= k%g" % limit, "" if rk is None else ("PASS" if rk <= limit else "MISS"))

    def at_least(limit):
        return (">= %gx" % limit, "" if rk is None else ("PASS" if rk >= limit else "MISS"))

    if w == "meta" and c == "warm":
        return at_most(1.5)
    if w == "meta" and c == "fresh":
        return at_most(3)
    if w == "stat" and m.endswith("@100"):
        one = med.get((w, m.replace("@100", "@1"), c, u), {}).get("layerfs")
        txt = "<= k1, <= 1.5x own @1"
        if lfs is None or k is None or one is None:
            return (txt, "")
        return (txt, "PASS" if lfs <= k and lfs <= 1.5 * one else "MISS")
    if w == "read":
        return at_least(0.9)
    if w == "tree" and m == "tar-c" and c == "warm":
        return at_most(2)
    if w == "tree" and m == "build":
        return at_most(1.1)
    if w == "small":
        return at_most({"untar": 3, "rm-new": 2, "rm-lower": 3}[m])
    if w == "copyup":
        kind, _, rest = m.partition("-")
        size, _, sfs = rest.partition("@")
        sizes = sizes_in(med, kind + "-", sfs)
        if not sizes or size != sizes[-1]:
            return ("", "")
        if kind == "write" and sfs == "xfs":
            return ("< 5 ms", "" if lfs is None else ("PASS" if lfs < 5 else "MISS"))
        if kind == "write" and sfs == "ext4":
            # No slower than cp; a copy-up made durable (fsync, as kernel
            # overlayfs does) is held to the kernel's time instead.
            cp = row.get("plain")
            txt = "<= cp / if durable <= k1"
            if lfs is None or cp is None or k is None:
                return (txt, "")
            return (txt, "%s / %s" % ("PASS" if lfs <= cp else "MISS",
                                      "PASS" if lfs <= k else "MISS"))
        if kind == "trunc":
            small = med.get((w, "trunc-%s@%s" % (sizes[0], sfs), c, u), {}).get("layerfs")
            txt = "copies nothing: <= 1.5x trunc-%s" % sizes[0]
            if lfs is None or small is None:
                return (txt, "")
            return (txt, "PASS" if lfs <= 1.5 * small else "MISS")
    if w == "mem" and m == "B/file":
        return ("< 300 B", "" if lfs is None else ("PASS" if lfs < 300 else "MISS"))
    return ("", "")


def build_table(order, med):
    fses = [fs for fs in FS_ORDER if any(fs in med[k] for k in order)]
    nopt = "layerfs-nopt" in fses
    head = ["workload", "metric", "cache", "unit"] + fses + \
           ["fuse-ovl/k", "layerfs/k"] + (["layerfs-nopt/k"] if nopt else []) + \
           ["layerfs/fuse-ovl", "target (layerfs)", ""]
    lines = []
    for key in order:
        w, m, c, u = key
        row = med[key]
        lfs, fo, k = row.get("layerfs"), row.get("fuse-overlayfs"), row.get("kernel")
        tgt, verdict = target(key, med)
        lines.append([w, m, c, u] + [fmt_val(row.get(fs)) for fs in fses] +
                     [fmt_ratio(ratio(fo, k), u), fmt_ratio(ratio(lfs, k), u)] +
                     ([fmt_ratio(ratio(row.get("layerfs-nopt"), k), u)] if nopt else []) +
                     [fmt_ratio(ratio(lfs, fo), u).replace("k", "") if ratio(lfs, fo) else "-",
                      tgt, verdict])
    return head, lines


def per_layer(med):
    """Cost per layer of the stat passes: least-squares slope over the depths."""
    out = []
    for metric in ("file", "dir"):
        for cache in ("fresh", "warm"):
            pts = {}
            for (w, m, c, u) in med:
                if w == "stat" and c == cache and m.startswith(metric + "@"):
                    pts[int(m.split("@")[1])] = med[(w, m, c, u)]
            if len(pts) < 2:
                continue
            parts = []
            for fs in FS_ORDER:
                if fs == "plain":     # one layer whatever the depth
                    continue
                xy = [(n, d[fs]) for n, d in sorted(pts.items()) if fs in d]
                if len(xy) < 2:
                    continue
                mx = sum(x for x, _ in xy) / len(xy)
                my = sum(y for _, y in xy) / len(xy)
                sxx = sum((x - mx) ** 2 for x, _ in xy)
                slope = sum((x - mx) * (y - my) for x, y in xy) / sxx
                parts.append("%s %+.3f" % (fs, slope))
            out.append("stat %s, %s: ms per added layer (whole pass): %s"
                       % (metric, cache, ", ".join(parts)))
    return out


def print_table(head, lines):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    out = ["  ".join(str(x).ljust(w) for x, w in zip(head, widths)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    for l in lines:
        out.append("  ".join(str(x).ljust(w) for x, w in zip(l, widths)).rstrip())
    return "\n".join(out)


def machine(info_lines):
    mem = ""
    with open("/proc/meminfo") as fh:
        for l in fh:
            if l.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(l.split()[1]) / 1048576)
    cpu = ""
    with open("/proc/cpuinfo") as fh:
        for l in fh:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    facts = [
        "nproc: %d (%s)" % (os.cpu_count(), cpu),
        "RAM: %s" % mem,
        "kernel: Linux %s" % platform.release(),
        "lower layers: %s on the root filesystem" % fstype("/var/cache"),
        "uppers and written data: journaled ext4 in a loop file; copy-up also on XFS (reflink=1) in a loop file",
    ]
    return facts + [l.lstrip("# ").rstrip() for l in info_lines
                    if not l.startswith("# machine:")]


def fstype(path):
    try:
        return subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", path],
                              capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def chart(order, med, png):
    """Time ratio to kernel overlayfs (throughput inverted), log scale."""
    if not shutil.which("gnuplot"):
        print("bench: gnuplot not found (Debian: gnuplot-nox): no chart", file=sys.stderr)
        return
    fses = [fs for fs in FS_ORDER if fs != "kernel" and any(fs in med[k] for k in order)]
    rows = []
    for key in order:
        w, m, c, u = key
        k = med[key].get("kernel")
        if not k:
            continue
        vals = []
        for fs in fses:
            v = med[key].get(fs)
            if v is None or v == 0:
                vals.append("NaN")
            else:
                r = k / v if u in HIGHER_IS_BETTER else v / k
                vals.append("%.4g" % r)
        rows.append(("%s %s %s" % (w, m, c), vals))
    if not rows:
        return
    with tempfile.TemporaryDirectory() as td:
        dat = os.path.join(td, "r.dat")
        with open(dat, "w") as fh:
            fh.write("label " + " ".join(fses) + "\n")
            for label, vals in rows:
                fh.write('"%s" %s\n' % (label, " ".join(vals)))
        plots = ", ".join("'%s' using %d:xtic(1) title '%s'" % (dat, i + 2, fs)
                          for i, fs in enumerate(fses))
        gp = """
set terminal pngcairo noenhanced size %d,600 font ',8'
set output '%s'
set title 'slowdown against kernel overlayfs (time ratio; throughput inverted; 1 = kernel; log scale)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set grid ytics
set xtics rotate by 90 right scale 0
set key top left
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb 'black' dt 2
plot %s
""" % (max(900, 28 * len(rows) + 200), png, plots)
        r = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
        if r.returncode:
            print("bench: gnuplot failed: " + r.stderr.strip(), file=sys.stderr)


def main():
    raw, info, outbase = sys.argv[1:4]
    order, med, runs = load(raw)
    info_lines = open(info).read().splitlines() if os.path.exists(info) else []
    head, lines = build_table(order, med)
    text = print_table(head, lines)
    print()
    print("\n".join(l for l in info_lines))
    print("medians; ratios: kN = time relative to kernel overlayfs (lower is better),"
          " Nx = throughput relative to it (higher is better)")
    print(text)
    layers = per_layer(med)
    if layers:
        print()
        print("\n".join(layers))
    nruns = max((len(v) for d in runs.values() for v in d.values()), default=0)
    with open(outbase + ".md", "w") as md:
        md.write("# layerfs benchmark — latest results\n\n")
        md.write("Raw figures: `latest.csv` (every run); chart: `latest.png`.\n\n")
        md.write("## Machine and run\n\n")
        for f in machine(info_lines):
            md.write("- %s\n" % f)
        md.write("- runs per figure: up to %d; figures are medians\n" % nruns)
        md.write("- cache column: **cold** = `echo 3 > /proc/sys/vm/drop_caches` then a fresh mount;"
                 " **fresh** = a fresh mount over lower trees already in the page/dentry cache;"
                 " **warm** = the same operation again on the same mount (or data just read)\n\n")
        md.write("## Medians\n\n")
        md.write("Ratios: `kN` = time relative to kernel overlayfs (lower is better); "
                 "`Nx` = throughput relative to kernel overlayfs (higher is better).\n\n")
        md.write("| " + " | ".join(head) + " |\n")
        md.write("|" + "---|" * len(head) + "\n")
        for l in lines:
            md.write("| " + " | ".join(str(x) for x in l) + " |\n")
        if layers:
            md.write("\nCost per layer (slope of the stat rows over 1, 10, 50, 100 layers):\n\n")
            for l in layers:
                md.write("- %s\n" % l)
    chart(order, med, outbase + ".png")
    print("\nbench: wrote %s.csv, %s.md, %s.png" % (outbase, outbase, outbase))


if __name__ == "__main__":
    main()
