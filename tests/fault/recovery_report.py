#!/usr/bin/python3
"""What a kill_anywhere system did around its last kill.

    tests/fault/recovery_report.py DIR...

DIR is a system's folder kept by `SLUICE_KEEP_TEST_DIRS=1 scripts/torture N
kill_anywhere` (it holds timeline.json, written by test_kill_anywhere.py,
and the maillog).  For each: the normal rate, the recovery time, the last
kills, then half-second bins from 3 s before the last kill to the end of the
flow (accepted submissions by channel, deliveries by kind), then the maillog
lines from 2 s before the last kill until 2 s after recovery that are not
ordinary deliveries (warnings, kills, starts, deferrals).
"""
import json
import os
import re
import sys
import time

ORDINARY = re.compile(r"status=sent|status=bounced|non-delivery notification|: removed$|: from=<|message-id=|: uid=\d+ from=|"
                      r"client=|: connect from|: disconnect from")
STAMP = re.compile(r"^(\w{3} +\d+ \d\d:\d\d:\d\d) ")


def log_time(line, year):
    m = STAMP.match(line)
    if not m:
        return None
    return time.mktime(time.strptime("%d %s" % (year, m.group(1)), "%Y %b %d %H:%M:%S"))


def report(d, bins=0.5):
    with open(os.path.join(d, "timeline.json")) as f:
        tl = json.load(f)
    last = tl["last_kill"]
    rec = tl["recover"]
    print("== %s: normal rate %s/s, recover %s s" % (d, tl["base_rate"], rec))
    for t, prog, pid in tl["kills"][-4:]:
        print("   kill %-8s pid %-7d at %+.2f s" % (prog, pid, t - last))
    ends = [a[0] for a in tl["arrivals"]] + [a[0] for a in tl["accepted"]]
    end = max(ends) if ends else last
    t = last - 3.0
    print("   %7s  %-28s %s" % ("t", "accepted (cli/postdrop/smtpd)", "delivered (smtp/local/pipe/fail)"))
    while t < min(end, last + (rec or 10) + 3):
        acc = [a for a in tl["accepted"] if t <= a[0] < t + bins]
        arr = [a for a in tl["arrivals"] if t <= a[0] < t + bins]
        ac = [sum(1 for a in acc if a[2] == ch) for ch in ("sendmail", "postdrop", "smtpd")]
        dl = [sum(1 for a in arr if a[2] == k) for k in ("smtp", "local", "pipe", "fail")]
        print("   %+7.1f  %-28s %s" % (t - last, "%d/%d/%d" % tuple(ac), "%d/%d/%d/%d" % tuple(dl)))
        t += bins
    year = time.gmtime(last).tm_year
    try:
        with open(os.path.join(d, "maillog"), errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    lo, hi = last - 2, last + (rec or 10) + 2
    for ln in lines:
        lt = log_time(ln, year)
        if lt is None or not (int(lo) <= lt <= hi) or ORDINARY.search(ln):
            continue
        print("   | " + ln[:220])


if __name__ == "__main__":
    for d in sys.argv[1:]:
        report(d)
