#!/usr/bin/python3
"""kill_storm.py - the helper of bench/kill_storm.sh (run with /usr/bin/python3).

  kill_storm.py sink PORT ARRIVALS
      an aiosmtpd sink on 127.0.0.1:PORT; each message appends one line
      "TIME TAG SENDER" to ARRIVALS (TAG from "Subject: storm TAG"; a bounce
      notice, sender <>, is written with SENDER "<>" and the tag it quotes).
      Prints "ready" once it listens; runs until SIGTERM.

  kill_storm.py run --system postfix|sluice --master PID --port SMTPD_PORT
                    --arrivals FILE --spool DIR --flush CMD --out JSON
                    [--rate 40] [--kills 20] [--seed N] [--warm 10]
                    [--storm 20] [--tail 20] [--limit 120]
      the inflow, the storm and the accounting for one system (see
      kill_storm.sh); writes the figures to JSON and one line to stderr.
"""
import argparse
import collections
import json
import os
import queue
import random
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time

TAG_RX = re.compile(rb"(?m)^Subject: storm (S\d+\.\d+)\r?$")
ROLES = {
    "postfix": ["qmgr", "smtpd", "smtp", "cleanup", "trivial-rewrite", "pickup"],
    "sluice": ["qmgr", "smtpd", "smtp", "pickup"],
}
BASE_FROM = 4.0          # the normal rate: deliveries/s from here to --warm (start-up is over)
WORKERS = 32             # submission threads
GIVE_UP = 60.0           # a message still refused after this long is counted as given up


# ---------------------------------------------------------------- sink
def sink(port, path):
    from aiosmtpd.controller import Controller
    out = open(path, "a", buffering=1)
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            now = time.time()
            sender = "<>" if envelope.mail_from in ("", "<>") else "s"
            tags = TAG_RX.findall(envelope.content) or [b"?"]
            with lock:
                for t in tags[:1]:
                    out.write("%.6f %s %s\n" % (now, t.decode(), sender))
            return "250 2.0.0 Ok: queued"

    c = Controller(Handler(), hostname="127.0.0.1", port=port)
    c.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(1)
    c.stop()
    out.close()


def read_arrivals(path):
    """[(time, tag)] of messages (not notices), and the notices' tags."""
    arr, notices = [], []
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) != 3:
                    continue
                (notices if p[2] == "<>" else arr).append((float(p[0]), p[1]))
    except OSError:
        pass
    return arr, notices


# ---------------------------------------------------------------- processes
def children(master):
    """{pid: name} of master's children, the name argv[0]'s basename as ps shows it."""
    out = {}
    try:
        kids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                              text=True).stdout.split()
    except OSError:
        return out
    for k in kids:
        try:
            with open("/proc/%s/cmdline" % k, "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        out[int(k)] = os.path.basename(argv0.split()[0]) if argv0 else "?"
    return out


def queued_files(spool):
    """{folder: files} of the queue folders that hold any."""
    out = {}
    for d in ("maildrop", "incoming", "active", "deferred", "hold"):
        for _, _, files in os.walk(os.path.join(spool, d)):
            if files:
                out[d] = out.get(d, 0) + len(files)
    return out


# ---------------------------------------------------------------- inflow
class Inflow:
    def __init__(self, port, rate):
        self.port = port
        self.rate = rate
        self.lock = threading.Lock()
        self.accepted = {}          # tag -> time of the 250
        self.unconfirmed = set()    # tags sent without a 250 (retried under a new tag)
        self.retries = 0
        self.given_up = 0
        self.submitted = 0          # messages (not attempts) taken up
        self.max_lag = 0.0          # how far a submission started behind its moment
        self.jobs = queue.Queue()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(WORKERS)]
        self.gen = threading.Thread(target=self._generate, daemon=True)

    def start(self, t0):
        self.t0 = t0
        for t in self.threads:
            t.start()
        self.gen.start()

    def _generate(self):
        i = 0
        while not self.stop_ev.is_set():
            at = self.t0 + i / self.rate
            d = at - time.time()
            if d > 0:
                time.sleep(d)
            if self.stop_ev.is_set():
                break
            self.jobs.put((i, at))
            i += 1
        for _ in self.threads:
            self.jobs.put(None)

    def _send(self, tag):
        msg = ("From: s@bench.test\r\nTo: u@d0.test\r\nSubject: storm %s\r\n"
               "Message-ID: <%s@storm.bench.test>\r\n\r\n" % (tag, tag))
        msg += ("kill storm filler line to make the message about one kilobyte long .......\r\n" * 12)
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        try:
            s.sendmail("s@bench.test", ["u@d0.test"], msg)
        finally:
            try:
                s.quit()
            except Exception:
                s.close()

    def _worker(self):
        while True:
            job = self.jobs.get()
            if job is None:
                return
            i, at = job
            with self.lock:
                self.submitted += 1
                self.max_lag = max(self.max_lag, time.time() - at)
            first = time.time()
            a = 0
            while True:
                tag = "S%06d.%d" % (i, a)
                try:
                    self._send(tag)
                    with self.lock:
                        self.accepted[tag] = time.time()
                    break
                except (smtplib.SMTPException, OSError):
                    with self.lock:
                        self.unconfirmed.add(tag)
                        if time.time() - first > GIVE_UP:
                            self.given_up += 1
                            break
                        self.retries += 1
                    a += 1
                    time.sleep(1.0)

    def stop(self):
        self.stop_ev.set()
        self.gen.join()
        for t in self.threads:
            t.join()


# ---------------------------------------------------------------- figures
def rate_back(times, start, base, horizon, sustain):
    """Seconds from start until a 1 s window holds >= 60 % of base deliveries,
    as tests/fault/test_kill_anywhere.py's delivery_rate_back (0.1 s steps);
    with sustain > 0 the sustain windows after it must hold that too."""
    def count(a):
        return sum(1 for x in times if a <= x < a + 1.0)
    t = start
    while t + 1.0 + sustain <= horizon:
        if all(count(t + k) >= 0.6 * base for k in range(sustain + 1)):
            return round(t - start, 2)
        t += 0.1
    return None


def longest_gap(times, a, b):
    """The longest time without an arrival from a until the first arrival after b."""
    pts = [a] + [x for x in times if a <= x <= b]
    after = [x for x in times if x > b]
    pts.append(after[0] if after else b)
    return max(y - x for x, y in zip(pts, pts[1:]))


def run(o):
    t_rng, r_rng, p_rng = (random.Random(o.seed + k) for k in range(3))
    moments = sorted(o.warm + t_rng.uniform(0, o.storm) for _ in range(o.kills))
    roles = ROLES[o.system]
    flow = Inflow(o.port, o.rate)
    t0 = time.time()
    flow.start(t0)
    kills, misses = [], collections.Counter()
    for m in moments:
        d = t0 + m - time.time()
        if d > 0:
            time.sleep(d)
        role = r_rng.choice(roles)
        deadline = time.time() + 1.5
        pids = []
        while True:
            pids = sorted(p for p, n in children(o.master).items() if n == role)
            if pids or time.time() > deadline:
                break
            time.sleep(0.01)
        if not pids:
            misses[role] += 1
            continue
        pid = p_rng.choice(pids)
        try:
            os.kill(pid, signal.SIGKILL)
            kills.append((time.time(), role, pid))
        except ProcessLookupError:
            misses[role] += 1
    last_kill = kills[-1][0] if kills else t0 + o.warm + o.storm
    first_kill = kills[0][0] if kills else t0 + o.warm
    d = last_kill + o.tail - time.time()
    if d > 0:
        time.sleep(d)
    horizon = time.time()
    flow.stop()
    t_stop = time.time()

    # Drain: until every accepted tag has arrived (or the limit), then a
    # flush and a second wait for whatever is still queued.
    def missing():
        got = {t for _, t in read_arrivals(o.arrivals)[0]}
        return [t for t in flow.accepted if t not in got]
    flushed = False
    while missing() and time.time() - t_stop < o.limit:
        time.sleep(0.2)
    left_at_limit = len(missing())
    queued_at_limit = queued_files(o.spool)
    if left_at_limit:
        flushed = True
        subprocess.run(o.flush, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.time()
        while missing() and time.time() - t1 < 60:
            time.sleep(0.2)
    time.sleep(1.0)             # a late duplicate still arrives
    t1 = time.time()
    while queued_files(o.spool) and time.time() - t1 < 5:
        time.sleep(0.2)         # the last files are being removed
    arr, notices = read_arrivals(o.arrivals)
    queued_end = queued_files(o.spool)

    times = sorted(t for t, _ in arr)
    per_tag = collections.Counter(t for _, t in arr)
    first = {}
    for t, tag in arr:
        first[tag] = min(first.get(tag, t), t)
    acc = flow.accepted
    lost = sorted(t for t in acc if t not in first)
    base_end = t0 + o.warm
    base = sum(1 for x in times if t0 + BASE_FROM <= x < base_end) / (base_end - t0 - BASE_FROM)
    # Recovery may come after the inflow stopped (a stalled intake's backlog).
    horizon = max(horizon, (times[-1] + 1.0) if times else horizon)
    acc_times = sorted(acc.values())
    backlog = [first[t] - last_kill for t, ts in acc.items() if ts <= last_kill and t in first]
    catch_up = round(max(backlog + [0.0]), 2)
    by_role = collections.Counter(r for _, r, _ in kills)
    res = dict(
        system=o.system, seed=o.seed, rate=o.rate, t0=t0,
        submitted=flow.submitted, accepted=len(acc), retries=flow.retries,
        given_up=flow.given_up, max_lag=round(flow.max_lag, 2),
        arrived=sum(1 for t in acc if t in first), lost=len(lost), lost_tags=lost[:50],
        duplicates=sum(n - 1 for n in per_tag.values() if n > 1),
        dup_tags=sorted(t for t, n in per_tag.items() if n > 1)[:50],
        unconfirmed_arrived=sum(1 for t in flow.unconfirmed if t in first),
        notices=len(notices), strays=sum(1 for t in first if t not in acc and t not in flow.unconfirmed),
        normal_rate=round(base, 1),
        recover=rate_back(times, last_kill, base, horizon, 0),
        recover_sustained=rate_back(times, last_kill, base, horizon, 2),
        longest_gap=round(longest_gap(times, first_kill, last_kill), 2),
        accept_gap=round(longest_gap(acc_times, first_kill, last_kill), 2),
        catch_up=catch_up, flushed=flushed, left_at_limit=left_at_limit,
        queued_at_limit=queued_at_limit, queued_end=queued_end,
        kills=len(kills), kills_by_role=dict(by_role), missed=dict(misses),
        kill_list=[(round(t - t0, 3), r, p) for t, r, p in kills],
        first_kill=round(first_kill - t0, 3), last_kill=round(last_kill - t0, 3),
        per_second=[sum(1 for x in times if t0 + s <= x < t0 + s + 1)
                    for s in range(int(max(times + [t0]) - t0) + 1)],
    )
    with open(o.out, "w") as f:
        json.dump(res, f, indent=1)
    print("  %s: accepted %d, arrived %d, lost %d, duplicates %d, retries %d; normal %.1f/s, "
          "recover %s s (sustained %s s), longest gap %.2f s (250s: %.2f s), backlog %s s%s; kills %s"
          % (o.system, res["accepted"], res["arrived"], res["lost"], res["duplicates"],
             res["retries"], base, res["recover"], res["recover_sustained"], res["longest_gap"], res["accept_gap"],
             catch_up, " (after a flush)" if flushed else "",
             ",".join("%s=%d" % kv for kv in sorted(by_role.items()))), file=sys.stderr)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "sink":
        sink(int(sys.argv[2]), sys.argv[3])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run"])
    ap.add_argument("--system", required=True, choices=sorted(ROLES))
    ap.add_argument("--master", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--arrivals", required=True)
    ap.add_argument("--spool", required=True)
    ap.add_argument("--flush", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rate", type=float, default=40)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warm", type=float, default=10)
    ap.add_argument("--storm", type=float, default=20)
    ap.add_argument("--tail", type=float, default=20)
    ap.add_argument("--limit", type=float, default=120)
    run(ap.parse_args())


if __name__ == "__main__":
    main()
