#!/usr/bin/python3
"""bench/tables.py - lookup tables: random look-ups per second in a big
table with "sluice map -q -" beside Postfix's "postmap -q -", and the
resident memory of a process holding the table open.

    cmake --preset release && cmake --build build-release -j2
    bench/tables.py                    # 1,000,000 keys, 200,000 queries, 3 runs
    bench/tables.py -n 100000 -q 50000 -r 1

Per type (cdb, lmdb, hash): one source of N lines "keyNNNNNNN valueNNNNNNN
plus some padding" is built by postmap and, separately, by sluice map (the
build times are reported too); the queries (keys in random order, 10%
absent) are then answered from the postmap-built table by both tools, one
process each reading all the queries on standard input, output to
/dev/null.  Reported: the best of the runs, as queries per second.

Memory: a "sluice map -q -" process is fed 1,000 queries through a pipe and
kept alive while /proc/PID/status is read: VmRSS, RssAnon (heap: must not
grow with the table) and RssFile (pages of the mapped table that the
queries touched, shared with the page cache), for a 1,000-key table and the
N-key one.  Postfix runs with -c pointing at a scratch folder.
"""
import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SLUICE = os.path.join(HERE, "..", "build-release", "sluice")
POSTMAP = "/usr/sbin/postmap"


def make_source(path, n):
    with open(path, "w") as f:
        for i in range(n):
            f.write("key%07d value%07d-%s\n" % (i, i, "x" * 24))


def timed(cmd, stdin_path=None):
    with open(stdin_path or os.devnull) as fin, open(os.devnull, "w") as fout:
        t = time.perf_counter()
        p = subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE, text=True)
        dt = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return dt


def resident(spec, keys):
    """VmRSS, RssAnon, RssFile (kB) of a sluice holding spec open."""
    p = subprocess.Popen([SLUICE, "map", "-q", "-", spec], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, bufsize=1)
    for k in keys:
        p.stdin.write(k + "\n")
    p.stdin.flush()
    # One answer per key (all present): wait for the last before measuring.
    for _ in keys:
        p.stdout.readline()
    fields = {}
    with open("/proc/%d/status" % p.pid) as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile"):
                fields[name] = int(rest.split()[0])
    p.stdin.close()
    p.wait()
    return fields


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000000, help="keys in the table")
    ap.add_argument("-q", type=int, default=200000, help="queries per run")
    ap.add_argument("-r", type=int, default=3, help="runs (best is reported)")
    ap.add_argument("-t", default="cdb,lmdb,hash", help="types")
    a = ap.parse_args()
    if not os.access(SLUICE, os.X_OK):
        raise SystemExit("no %s: cmake --preset release && cmake --build build-release -j2"
                         % SLUICE)
    work = tempfile.mkdtemp(prefix="sluice-bench-tables-")
    try:
        conf = os.path.join(work, "pfconf")
        os.mkdir(conf)
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\n")
        src = os.path.join(work, "src")
        make_source(src, a.n)
        small = os.path.join(work, "small")
        make_source(small, 1000)
        rnd = random.Random(1)
        queries = os.path.join(work, "queries")
        with open(queries, "w") as f:
            for _ in range(a.q):
                i = rnd.randrange(a.n)
                f.write(("key%07d\n" % i) if rnd.random() < 0.9 else ("nokey%07d\n" % i))
        print("%d keys, %d queries (10%% absent), best of %d runs" % (a.n, a.q, a.r))
        print("%-5s %12s %12s %10s %10s" % ("type", "sluice q/s", "postmap q/s",
                                            "sluice build", "postmap build"))
        for typ in a.t.split(","):
            for name in ("pf", "sl"):
                shutil.copy(src, os.path.join(work, name))
            pf_build = timed([POSTMAP, "-c", conf, "%s:%s/pf" % (typ, work)])
            sl_build = timed([SLUICE, "map", "%s:%s/sl" % (typ, work)])
            spec = "%s:%s/pf" % (typ, work)
            s = min(timed([SLUICE, "map", "-q", "-", spec], queries) for _ in range(a.r))
            p = min(timed([POSTMAP, "-c", conf, "-q", "-", spec], queries) for _ in range(a.r))
            print("%-5s %12.0f %12.0f %9.1fs %9.1fs" % (typ, a.q / s, a.q / p, sl_build,
                                                        pf_build))
        print()
        print("resident memory of sluice map -q - after 1,000 look-ups (kB)")
        print("%-5s %-9s %8s %8s %8s" % ("type", "table", "VmRSS", "RssAnon", "RssFile"))
        sample = ["key%07d" % rnd.randrange(1000) for _ in range(1000)]
        for typ in a.t.split(","):
            subprocess.run([SLUICE, "map", "%s:%s" % (typ, small)], check=True)
            for label, spec, keys in (
                    ("1,000", "%s:%s" % (typ, small), sample),
                    ("%d" % a.n, "%s:%s/pf" % (typ, work),
                     ["key%07d" % rnd.randrange(a.n) for _ in range(1000)])):
                m = resident(spec, keys)
                print("%-5s %-9s %8d %8d %8d" % (typ, label, m["VmRSS"], m["RssAnon"],
                                                 m["RssFile"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
