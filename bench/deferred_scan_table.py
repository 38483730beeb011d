#!/usr/bin/python3
"""deferred_scan_table - the summary table of bench/deferred_scan.sh.

    deferred_scan_table.py RAW.tsv

Reads the raw rows deferred_scan.sh wrote (one per measurement: system,
notdue, phase, round, then the watch and strace figures) and prints, per
queue size, medians with min..max over the rounds for postfix and sluice
and the ratio sluice/postfix, then what happened to the files moved into
deferred/ behind the queue manager's back.  The "# " lines of the raw file
(parameters, versions) are printed first.
"""
import statistics
import sys


def num(text):
    """a float, or None for '-'"""
    return None if text in ("-", "") else float(text)


COUNTS = ("calls", "stat", "getdents", "rename", "openat", "epoll", "sent")


def fmt(v, field=""):
    """a figure with about three significant digits (counts: exactly)"""
    if v is None:
        return "-"
    if field in COUNTS:
        return "%d" % round(v)
    a = abs(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows, params = [], {}
    with open(sys.argv[1]) as f:
        header = None
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                print(line)
                if "notdue=" in line:
                    params = dict(w.split("=", 1) for w in line.split() if "=" in w)
                continue
            fields = line.split("\t")
            if header is None:
                header = fields
                continue
            rows.append(dict(zip(header, fields)))
    due = params.get("due", "?")

    def pick(system, notdue, phase):
        return [r for r in rows if r["system"] == system and r["notdue"] == str(notdue)
                and r["phase"] == phase]

    def cell(system, notdue, phase, field):
        values = [num(r[field]) for r in pick(system, notdue, phase)]
        values = [v for v in values if v is not None]
        if not values:
            return None, "-"
        m = statistics.median(values)
        if len(values) == 1:
            return m, fmt(m, field)
        return m, "%s (%s..%s)" % (fmt(m, field), fmt(min(values), field),
                                   fmt(max(values), field))

    def line(label, notdue, phase, field, ratio=True):
        p, ptext = cell("postfix", notdue, phase, field)
        s, stext = cell("sluice", notdue, phase, field)
        ratio = fmt(s / p) if ratio and p and s is not None else ""
        print("%-46s %-24s %-24s %s" % (label, ptext, stext, ratio))

    sizes = sorted({int(r["notdue"]) for r in rows if r["phase"] == "due"}, reverse=True)
    for nd in sizes:
        print()
        print("%-46s %-24s %-24s %s" % ("D scan, %s due among %s not due" % (due, nd),
                                         "postfix/oqmgr", "sluice", "sluice/postfix"))
        line("qmgr CPU per D scan + %s deliveries, ms" % due, nd, "due", "cpu_ms")
        line("wall, D trigger -> %s-th delivery, s" % due, nd, "due", "wall_sent")
        line("syscalls, D scan + deliveries (strace -c)", nd, "due-strace", "calls")
        line("  newfstatat/lstat/statx", nd, "due-strace", "stat")
        line("  getdents64", nd, "due-strace", "getdents")
        line("  rename", nd, "due-strace", "rename")
        line("  openat", nd, "due-strace", "openat")
        line("  epoll_wait", nd, "due-strace", "epoll")
        line("qmgr CPU per D scan, nothing due, ms", nd, "empty", "cpu_ms")
        line("syscalls per D scan, nothing due", nd, "empty-strace", "calls")
        line("  newfstatat/lstat/statx", nd, "empty-strace", "stat")
        line("start-up: qmgr CPU until idle, ms", nd, "startup", "cpu_ms")
        line("start-up: qmgr start -> idle, s", nd, "startup", "wall_busy")
        line("load average (1 min) at the D scans", nd, "due", "load1", ratio=False)
    if len(sizes) > 1:
        big, small = sizes[0], sizes[-1]
        print()
        print("CPU per D scan + %s deliveries, %s not due / %s not due:" % (due, big, small))
        for system in ("postfix", "sluice"):
            b, _ = cell(system, big, "due", "cpu_ms")
            s, _ = cell(system, small, "due", "cpu_ms")
            if b is not None and s:
                print("  %-8s %s ms / %s ms = %s" % (system, fmt(b), fmt(s), fmt(b / s)))

    moved = [r for r in rows if r["phase"].startswith("moved-")]
    if moved:
        print()
        print("A due file moved by mv from hold/ into deferred/ behind the queue manager's back:")
    for r in moved:
        found = r["timeout"] == "0"
        ws, cpu = fmt(num(r["wall_sent"])), fmt(num(r["cpu_ms"]))
        who = "%-7s (%s not due)" % (r["system"], r["notdue"])
        if r["phase"] == "moved-D":
            what = ("found by the next D scan: delivered %s s after the trigger" % ws if found
                    else "not found by a D scan (waited 5 s; D pops the due index only)")
        elif r["phase"] == "moved-restart":
            what = ("found by the start-up full pass after a restart: delivered %s s after "
                    "qmgr start (qmgr CPU %s ms)" % (ws, cpu) if found else "NOT found by a restart")
        elif r["phase"] == "moved-periodic":
            what = ("no trigger, deferred_rescan_time = 20s, queue_run_delay = 5s: found by the "
                    "periodic full pass, delivered %s s after the mv (qmgr CPU meanwhile %s ms)"
                    % (ws, cpu) if found else "NOT found by the periodic full pass within 90 s")
        elif r["phase"] == "moved-AD":
            what = ("kick A D: found; A ignores time stamps, so all %s messages were delivered, "
                    "the last %s s after the trigger" % (r["sent"], ws) if found
                    else "NOT all delivered after kick A D")
        else:
            what = r["phase"]
        print("  %s %s" % (who, what))


if __name__ == "__main__":
    main()
