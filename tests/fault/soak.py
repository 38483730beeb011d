"""soak.py N - N messages through the whole system with faults sprinkled in
(issue 17, item 5; run by scripts/soak).

Most mail goes in through smtpd from Postfix's smtp-source (C): runs of
BATCH messages, SESSIONS sessions each, one message after another on each
kept connection, one recipient each (numbered, `-N`), the runs spread over
DOMAINS destination domains (d<k>.sink.test, each a destination of its own:
[127.0.0.<k+1>]) and at most PARALLEL runs at once.  It goes out to
Postfix's smtp-sink (C), one per destination, each appending every
transaction to one dump file.  A steady trickle goes through the fault
suite's World (tests/fault/faultlib.py): smtplib on a kept connection and
`sendmail`, to the Python token sink, Maildirs, a pipe command and the
error transport (bounce notices).

Counting: smtp-source numbers its messages in the Message-Id
(<pid.fd.count@b<run>.soak>); the sink side counts each (run, count) in a
byte array, so a million messages need no file each.  A run that exited 0
had every message accepted; a run that died (an smtpd killed under it)
leaves at most SESSIONS messages in flight, which count as unconfirmed,
not as accepted: lost = accepted, not delivered after the drain.

Faults: every FAULT_EVERY messages a random smtp, local, smtpd, pickup or
bounce process is killed with SIGKILL and the token sink answers 451 to
its next 20 transactions; every fifth fault also kills one smtp-sink and
starts it again 2 s later (a new dump file: an outage of that destination).

Every N/10 messages the long-lived daemons are sampled: resident memory
and open descriptors of master, qmgr, pickup and the smtpd processes (the
largest), and the queue manager's CPU time per message over the last
interval.  The figures must stay flat: last interval's qmgr CPU per
message within 1.5x the first's (+20 us); the smallest memory and
descriptor figures of the last three samples within +25 % (+4 MB) and +4
of the largest of the first three.  Injection pauses while more than BACKLOG messages
are accepted and not yet delivered, so that a slow machine measures the
same queue sizes as a fast one.

Prints one line per sample, the samples as a table, and a FAULT-RESULT
line (appended as JSON to $FAULT_RESULTS).  Exit status 0 when nothing was
lost and the figures are flat.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import conftest  # noqa: E402,F401  (loads itconf)
import faultlib  # noqa: E402
import itconf  # noqa: E402

FAULT_EVERY = int(os.environ.get("SOAK_FAULT_EVERY") or 10000)
VICTIMS = ("smtp", "local", "smtpd", "pickup", "bounce")
SESSIONS = 4
BATCH = 5000
PARALLEL = 4
DOMAINS = 4
BACKLOG = 20000
TRICKLE_SMTP_PAUSE = 0.25
TRICKLE_SENDMAIL_PAUSE = 1.0
# A record of the dump: X-Rcpt-Args: <NNNr@dK.sink.test> (smtp-source's
# recipient number, 1 up, one recipient a message), then the headers with
# Message-Id: <...@bRUN.soak>.  (smtp-source's Message-Id alone is not
# unique: its last part is a counter shared by the sessions.)
MID_RX = re.compile(rb"X-Rcpt-Args: <(\d+)r@d\d+\.sink\.test>.{0,2000}?"
                    rb"^Message-Id: <([^>@]*@b(\d+)\.soak)>", re.S | re.M | re.I)
MARK = b"=SOAK=\n"


def rss_fds(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            rss = [int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")][0]
        return rss, len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, IndexError):
        return None, None


class Run:
    """One smtp-source run."""

    def __init__(self, no, size, domain, proc, out):
        self.no, self.size, self.domain, self.proc, self.out = no, size, domain, proc, out
        self.counts = bytearray(size + 1)    # by recipient number
        self.rc = None
        self.dots = None            # DATA transfers sent (smtp-source -c)

    def progress(self):
        """DATA transfers sent so far (the last of smtp-source's counters)."""
        if self.dots is not None:
            return self.dots
        fd = self.out.fileno()
        size = os.fstat(fd).st_size
        nums = re.findall(rb"(\d+)\r", os.pread(fd, 64, max(0, size - 64)))
        return int(nums[-1]) if nums else 0

    def finish(self):
        self.rc = self.proc.returncode
        self.out.seek(0)
        data = self.out.read()
        nums = re.findall(rb"(\d+)\r", data)
        self.dots = int(nums[-1]) if nums else 0
        self.why = data.split(b"\r")[-1].strip().decode(errors="replace")[-300:]
        self.out.close()

    def confirmed(self):
        """Messages the server answered 250 for (a lower bound for a run
        that died: each of its sessions had at most one in flight)."""
        if self.rc == 0:
            return self.size
        return max(0, self.dots - SESSIONS)


class SinkFarm:
    """One smtp-sink per destination, each appending to a dump file; a
    killed sink is started again with a new file."""

    def __init__(self, base):
        self.dir = os.path.join(base, "sinks")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o777)
        self.port = itconf.free_port()
        self.procs = [None] * DOMAINS
        self.incarnation = [0] * DOMAINS
        self.files = {}             # path -> offset read so far
        self.pending = {}           # path -> bytes of an unfinished record
        self.log = open(os.path.join(base, "smtp-sink.log"), "ab")
        for k in range(DOMAINS):
            self.start(k)

    def addr(self, k):
        return "127.0.0.%d" % (k + 1)

    def start(self, k):
        self.incarnation[k] += 1
        path = os.path.join(self.dir, "d%d.%d" % (k, self.incarnation[k]))
        self.files[path] = 0
        self.pending[path] = b""
        argv = ["smtp-sink"] + (["-u", "nobody"] if os.geteuid() == 0 else []) + [
            "-D", path, "-S", "=SOAK=\\n", "-m", "64", "%s:%d" % (self.addr(k), self.port), "256"]
        self.procs[k] = subprocess.Popen(argv, stdout=self.log, stderr=self.log)

    def kill(self, k):
        self.procs[k].kill()
        self.procs[k].wait()

    def read(self, final=False):
        """New complete records of every dump file."""
        out = []
        for path, off in list(self.files.items()):
            try:
                with open(path, "rb") as f:
                    f.seek(off)
                    data = f.read()
            except FileNotFoundError:
                continue
            self.files[path] = off + len(data)
            # The last record may still be being written, unless the file
            # did not grow since the last look (smtp-sink appends a record
            # with one write).
            idle = not data
            data = self.pending[path] + data
            cut = len(data) if final or idle else data.rfind(MARK)
            if cut <= 0:
                self.pending[path] = data
                continue
            out.append(data[:cut])
            self.pending[path] = data[cut:]
        return out

    def stop(self):
        for p in self.procs:
            if p is not None:
                p.kill()
                p.wait()
        self.log.close()


class Soak:
    def __init__(self, total, seed, fault_every=FAULT_EVERY, check_flat=True):
        self.total = total
        self.seed = seed
        self.fault_every = fault_every
        self.check_flat = check_flat    # the short version of the test command: loss only
        self.res = None
        # SOAK_MINUTES: stop injecting after that long and report the count
        # reached (a run that cannot finish in the time it has).
        minutes = float(os.environ.get("SOAK_MINUTES") or 0)
        self.deadline = time.time() + 60 * minutes if minutes else None
        self.stopped_early = False
        self.rng = random.Random(seed)
        self.base = tempfile.mkdtemp(prefix="sluice-soak-")
        os.chmod(self.base, 0o755)
        self.inst = itconf.Instance(self.base)
        self.w = faultlib.World(self.inst, seed, postdrop=False)
        self.sinks = SinkFarm(self.base)
        tm = ["sink.test=smtp:[127.0.0.1]:%d" % self.w.sink.port, "pipe.test=fpipe:",
              "fail.test=error:5.1.1 no such user here",
              "src.test=smtp:[%s]:%d" % (self.sinks.addr(0), self.sinks.port)]
        tm += ["d%d.sink.test=smtp:[%s]:%d" % (k, self.sinks.addr(k), self.sinks.port)
               for k in range(DOMAINS)]
        self.inst.write_config(transport_maps="inline:{ %s }" % ", ".join(tm))
        self.runs = {}
        self.rlock = threading.Lock()
        self.stop_ev = threading.Event()
        self.injecting = True
        self.distinct = 0           # smtp-source messages delivered at least once
        self.copies = 0             # every copy
        self.stray = 0              # sink records naming no known message
        self.notices = 0            # null-sender records (bounce notices) at the sinks
        self.trickle_units = 0
        self.sink_kills = []
        self.dup_ids = []           # Message-Ids of smtp-source copies seen twice

    # ---- injection ----
    def confirmed(self):
        with self.rlock:
            return sum(r.confirmed() if r.rc is not None else r.progress()
                       for r in self.runs.values())

    def source_target(self):
        return self.total - self.total // 100      # 1 % comes through the trickle

    def injector(self):
        nxt = 0
        live = []
        while not self.stop_ev.is_set():
            for r in live[:]:
                if r.proc.poll() is not None:
                    with self.rlock:
                        r.finish()
                    if r.rc != 0:
                        print("run %d (%d messages, d%d.sink.test) ended with status %d after "
                              "%d messages: %s" % (r.no, r.size, r.domain, r.rc, r.dots, r.why),
                              flush=True)
                    live.remove(r)
            with self.rlock:
                planned = sum(r.size if r.rc is None else r.confirmed()
                              for r in self.runs.values())
            want = self.source_target() - planned
            if self.deadline and time.time() >= self.deadline:
                # Out of time: end the runs under way (they count as runs
                # that died), let the queue drain, count what got this far.
                if not self.stopped_early:
                    print("deadline: injection stops at %d confirmed" % self.confirmed(),
                          flush=True)
                self.stopped_early = True
                for r in live:
                    r.proc.kill()
                want = 0
            if want <= 0 and not live:
                break
            backlog = self.confirmed() - self.distinct
            if want > 0 and len(live) < PARALLEL and backlog < BACKLOG:
                size = min(BATCH, want)
                domain = nxt % DOMAINS
                out = tempfile.TemporaryFile()
                argv = ["smtp-source", "-c", "-d", "-s", str(SESSIONS), "-m", str(size),
                        "-f", "snd@src.test", "-t", "r@d%d.sink.test" % domain, "-N",
                        "-M", "b%d.soak" % nxt, "-S", "soak run %d" % nxt,
                        "127.0.0.1:%d" % self.inst.smtpd_port]
                p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
                with self.rlock:
                    self.runs[nxt] = Run(nxt, size, domain, p, out)
                live.append(self.runs[nxt])
                nxt += 1
                continue
            time.sleep(0.2)
        for r in live:
            r.proc.kill()
            r.proc.wait()
            with self.rlock:
                r.finish()
        self.injecting = False

    def trickle_smtp(self):
        box = [None]
        while self.injecting and not self.stop_ev.is_set():
            self.w.submit_smtp(box)
            time.sleep(TRICKLE_SMTP_PAUSE)
        self.w._drop(box)

    def trickle_sendmail(self):
        while self.injecting and not self.stop_ev.is_set():
            self.w.submit_sendmail()
            time.sleep(TRICKLE_SENDMAIL_PAUSE)

    # ---- counting ----
    def count_sinks(self, final=False):
        for chunk in self.sinks.read(final):
            if b"X-Mail-Args: <>" in chunk:
                recs = chunk.split(MARK)
                keep = []
                for rec in recs:
                    if b"X-Mail-Args: <>" in rec:
                        self.notices += 1
                    else:
                        keep.append(rec)
                chunk = MARK.join(keep)
            for m in MID_RX.finditer(chunk):
                self.copies += 1
                r = self.runs.get(int(m.group(3)))
                idx = int(m.group(1))
                if r is None or not 1 <= idx <= r.size:
                    self.stray += 1
                    continue
                c = r.counts[idx]
                if c == 0:
                    self.distinct += 1
                elif len(self.dup_ids) < 200:
                    self.dup_ids.append(m.group(2).decode())
                if c < 255:
                    r.counts[idx] = c + 1

    def delivered(self):
        self.w.scan_files()
        with self.w.ledger.lock:
            self.trickle_units = len(self.w.ledger.arrivals)
        return self.distinct + self.trickle_units

    # ---- the run ----
    def main(self):
        inst, w = self.inst, self.w
        print("soak: %d messages, seed %d, build %s, folder %s" % (
            self.total, self.seed, itconf.BUILD, self.base), flush=True)
        inst.start()
        master = int(open(os.path.join(inst.spool, "pid", "master.pid")).read())
        threads = [threading.Thread(target=f) for f in
                   (self.injector, self.trickle_smtp, self.trickle_sendmail)]
        t0 = time.time()
        for t in threads:
            t.start()
        samples = []
        step = max(1, self.total // 10)
        next_sample, next_fault = step, self.fault_every
        qmgr = faultlib.itconf_pids_of(inst, "qmgr")[0]
        st = dict(qmgr=qmgr, cpu0=faultlib.cpu_seconds(qmgr), done0=0, tlast=t0)
        faults = []
        sink_down = {}              # destination -> time to start its sink again
        next_progress = t0 + 60

        def sample(delivered):
            qpids = faultlib.itconf_pids_of(inst, "qmgr")
            if qpids and qpids[0] != st["qmgr"]:
                print("qmgr was replaced: CPU per message restarts", flush=True)
                st["qmgr"], st["cpu0"] = qpids[0], 0.0
            cpu = faultlib.cpu_seconds(st["qmgr"])
            now = time.time()
            row = dict(messages=delivered, seconds=round(now - t0),
                       rate=round((delivered - st["done0"]) / max(0.001, now - st["tlast"]), 1),
                       qmgr_us_per_msg=round((cpu - st["cpu0"]) * 1e6
                                             / max(1, delivered - st["done0"]), 1))
            for name, pid in (("master", master), ("qmgr", st["qmgr"]),
                              ("pickup", (faultlib.itconf_pids_of(inst, "pickup") or [0])[0])):
                rss, fds = rss_fds(pid) if pid else (None, None)
                row[name + "_rss_kb"] = rss
                row[name + "_fds"] = fds
            sm = [rss_fds(p) for p in faultlib.itconf_pids_of(inst, "smtpd")]
            sm = [x for x in sm if x[0] is not None]
            row["smtpd_n"] = len(sm)
            row["smtpd_rss_kb"] = max((x[0] for x in sm), default=None)
            row["smtpd_fds"] = max((x[1] for x in sm), default=None)
            row["queued"] = max(0, self.confirmed() + len(w.ledger.units()) - delivered)
            samples.append(row)
            print("sample %s" % row, flush=True)
            st["cpu0"], st["done0"], st["tlast"] = cpu, delivered, now

        tick = 1.0 if self.total > 100000 else 0.2
        while True:
            time.sleep(tick)
            self.count_sinks()
            delivered = self.delivered()
            now = time.time()
            for k, when in list(sink_down.items()):
                if now >= when:
                    self.sinks.start(k)
                    del sink_down[k]
            injected = self.confirmed() + len(w.ledger.accepted)
            # Every fault that is due (a quick run passes several points in
            # one tick), each on a process that is there to be killed.
            while injected >= next_fault and next_fault <= self.total:
                next_fault += self.fault_every
                live = [(prog, faultlib.itconf_pids_of(inst, prog)) for prog in VICTIMS]
                live = [(prog, pids) for prog, pids in live if pids]
                if live:
                    prog, pids = self.rng.choice(live)
                    pid = self.rng.choice(pids)
                    faultlib.kill(pid)
                    faults.append((now, prog, pid))
                w.sink.fail_next = 20
                if len(faults) % 5 == 0 and not sink_down:
                    k = self.rng.randrange(DOMAINS)
                    self.sinks.kill(k)
                    self.sink_kills.append((now, k))
                    sink_down[k] = now + 2.0
            if delivered >= next_sample:
                sample(delivered)
                next_sample += step
            if now >= next_progress:
                next_progress += 60
                print("progress %.0f s: %d confirmed, %d delivered (%d + %d trickle), "
                      "%d faults" % (now - t0, injected, delivered, self.distinct,
                                     self.trickle_units, len(faults)), flush=True)
            if not self.injecting and not any(t.is_alive() for t in threads[1:]):
                if not sink_down and self.distinct >= self.confirmed() \
                        and self.trickle_units >= len(w.ledger.units()):
                    break
                if now > st["tlast"] + 300:
                    break
        for k, when in sink_down.items():
            self.sinks.start(k)
        for t in threads:
            t.join()
        drained = w.drain(300)
        time.sleep(1)
        self.count_sinks(final=True)
        delivered = self.delivered()
        if not samples or samples[-1]["messages"] < delivered - step // 2:
            sample(delivered)
        elapsed = time.time() - t0
        res = self.account(drained)
        self.sinks.stop()
        w.stop()
        inst.stop()
        return self.report(res, samples, faults, elapsed)

    def account(self, drained):
        units, arr, missing = self.w.units_state()
        counts = self.inst.queue_counts()
        queued = sum(counts[q] for q in ("maildrop", "incoming", "active", "deferred", "hold"))
        lost_src, unconfirmed, dup_src, accepted_src = [], 0, 0, 0
        for r in self.runs.values():
            dup_src += sum(c - 1 for c in r.counts if c > 1)
            if r.rc == 0:
                accepted_src += r.size
                lost_src += [(r.no, i) for i in range(1, r.size + 1) if r.counts[i] == 0]
                continue
            # A run that died (an smtpd killed under it): of the messages
            # whose end of data it sent (1..dots; numbers are given out in
            # order), at most SESSIONS were still waiting for the answer.
            accepted_src += r.confirmed()
            gone = [i for i in range(1, min(r.size, r.dots) + 1) if r.counts[i] == 0]
            if len(gone) > SESSIONS:
                lost_src += [(r.no, i) for i in gone]
            unconfirmed += min(len(gone), SESSIONS)
        dup_trickle = sum(len(v) - 1 for v in arr.values() if len(v) > 1)
        returned = sum(1 for u in units if u in arr and any(i == "notice" for _, i in arr[u]))
        return dict(accepted=accepted_src + len(units), accepted_src=accepted_src,
                    accepted_trickle=len(units), delivered=self.distinct + len(units)
                    - len(missing) - returned, returned=returned, lost_src=lost_src,
                    lost_trickle=missing, lost=len(lost_src) + len(missing),
                    unconfirmed_src=unconfirmed,
                    delivered_unconfirmed_src=max(0, self.distinct - accepted_src
                                                  + len(lost_src)),
                    duplicates=dup_src + dup_trickle,
                    dup_src=dup_src, dup_trickle=dup_trickle, stray=self.stray,
                    notices_at_sinks=self.notices, queued=queued, drained=drained,
                    runs=len(self.runs), runs_died=sum(1 for r in self.runs.values()
                                                       if r.rc != 0),
                    corrupt=counts["corrupt"])

    def explain_dups(self):
        """For each message that arrived twice at an smtp-sink: how often
        the maillog says it was sent.  Once: the first copy's outcome was
        never recorded (its smtp agent or the sink died between the sink's
        acceptance and the record: RFC 1047's window); twice: sluice
        delivered a message it had already recorded as delivered."""
        want = {"message-id=<%s>" % m: m for m in self.dup_ids}
        if not want:
            return {}, []
        qid_of = {}
        sent = {}
        with open(self.inst.maillog, "rb") as f:
            for line in f:
                if b"message-id=<" in line:
                    t = line.decode(errors="replace")
                    for k, m in want.items():
                        if k in t:
                            qid = re.search(r"\]: (\w+): message-id=", t)
                            if qid:
                                qid_of[qid.group(1)] = m
        with open(self.inst.maillog, "rb") as f:
            for line in f:
                if b"status=sent" not in line:
                    continue
                mq = re.search(rb"\]: (\w+): to=", line)
                if mq and mq.group(1).decode() in qid_of:
                    m = qid_of[mq.group(1).decode()]
                    sent[m] = sent.get(m, 0) + 1
        per = {m: sent.get(m, 0) for m in self.dup_ids}
        twice = sorted(m for m, n in per.items() if n > 1)
        return per, twice

    def report(self, res, samples, faults, elapsed):
        first, last = samples[0], samples[-1]
        problems = []
        if res["lost"] or not res["drained"] or res["queued"]:
            problems.append("lost or stuck: %d lost (e.g. %s %s), %d queued" % (
                res["lost"], res["lost_src"][:5], res["lost_trickle"][:5], res["queued"]))
        per, twice = self.explain_dups()
        res["dups_sent_logged_once"] = sum(1 for n in per.values() if n == 1)
        res["dups_sent_logged_twice"] = twice[:20]
        if twice:
            problems.append("delivered twice with both deliveries recorded: %s" % twice[:5])
        if res["stray"] or res["notices_at_sinks"] or res["corrupt"]:
            problems.append("%d stray records, %d notices at the smtp-sinks, %d corrupt" % (
                res["stray"], res["notices_at_sinks"], res["corrupt"]))
        if self.check_flat and last["qmgr_us_per_msg"] > 1.5 * first["qmgr_us_per_msg"] + 20:
            problems.append("qmgr CPU per message grew: %s -> %s us" % (
                first["qmgr_us_per_msg"], last["qmgr_us_per_msg"]))
        # Descriptors (qmgr's follow the agents connected at the moment) and
        # memory are compared as the largest of the first three samples
        # against the smallest of the last three: a leak raises the floor.
        head, tail = samples[:3], samples[-3:]
        for name in ("master", "qmgr", "pickup", "smtpd") if self.check_flat else ():
            for key, slack in (("_rss_kb", lambda a: a * 0.25 + 4096), ("_fds", lambda a: 4)):
                a = max((x[name + key] for x in head if x[name + key]), default=None)
                b = min((x[name + key] for x in tail if x[name + key]), default=None)
                if a and b and b > a + slack(a):
                    problems.append("%s %s grew: %d -> %d" % (
                        name, "memory (kB)" if key == "_rss_kb" else "descriptors", a, b))
        print("\n| delivered | s | msg/s | qmgr kB | qmgr fds | qmgr µs/msg | master kB "
              "| master fds | pickup kB | pickup fds | smtpd kB (max of n) | smtpd fds | queued |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s in samples:
            print("| {messages:,} | {seconds} | {rate} | {qmgr_rss_kb:,} | {qmgr_fds} | "
                  "{qmgr_us_per_msg} | {master_rss_kb:,} | {master_fds} | {pickup_rss_kb} | "
                  "{pickup_fds} | {smtpd_rss_kb} of {smtpd_n} | {smtpd_fds} | {queued} |"
                  .format(**s))
        kinds = {}
        for _, prog, _ in faults:
            kinds[prog] = kinds.get(prog, 0) + 1
        record = dict(scenario="soak", rounds=self.total, stopped_early=self.stopped_early,
                      faults=len(faults),
                      fault_kinds=kinds, sink_kills=len(self.sink_kills),
                      seconds=round(elapsed), first=first, last=last, problems=problems,
                      seed=self.seed, **{k: v for k, v in res.items()
                                         if k not in ("lost_src", "lost_trickle")})
        faultlib.results_file_append(record)
        self.res = record
        print("soak: %d accepted (%d smtp-source in %d runs, %d died; %d trickle), "
              "%d delivered (%d of them unconfirmed: in flight when their smtp-source run died), "
              "%d returned, %d lost, %d duplicates, %d unconfirmed not delivered, "
              "%d faults %s + %d sink kills, %.0f s" % (
                  res["accepted"], res["accepted_src"], res["runs"], res["runs_died"],
                  res["accepted_trickle"], res["delivered"], res["delivered_unconfirmed_src"],
                  res["returned"], res["lost"],
                  res["duplicates"], res["unconfirmed_src"], len(faults), kinds,
                  len(self.sink_kills), elapsed), flush=True)
        for p in problems:
            print("PROBLEM: " + p)
        if not problems:
            shutil.rmtree(self.base, ignore_errors=True)
        return 1 if problems else 0


def account_offline(folder, logfile):
    """Count a soak whose harness was stopped (killed) before it reported:
    `soak.py --account FOLDER LOG`, after the queue of FOLDER has drained
    (the smtp-sinks outlive the harness).  The runs and their ends come from
    the harness's LOG, the messages from the dump files; a run without an
    end line was cut by the stop and is counted like a run that died.  The
    trickle's ledger died with the harness: its check here is that every
    message the maillog shows queued was removed after its deliveries, and
    that the queue is empty."""
    log = open(logfile, errors="replace").read()
    ended = {int(m.group(1)): (int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in
             re.finditer(r"^run (\d+) \((\d+) messages, d\d+\.sink\.test\) ended with status "
                          r"(-?\d+) after (\d+) messages", log, re.M)}
    counts = {}
    dups = []
    sinks = os.path.join(folder, "sinks")
    for name in sorted(os.listdir(sinks)):
        with open(os.path.join(sinks, name), "rb") as f:
            data = f.read()
        for m in MID_RX.finditer(data):
            key = (int(m.group(3)), int(m.group(1)))
            counts[key] = counts.get(key, 0) + 1
            if counts[key] == 2:
                dups.append(m.group(2).decode())
    by_run = {}
    for (run, n) in counts:
        by_run.setdefault(run, set()).add(n)
    last_run = max(by_run)
    accepted, lost, unconfirmed, cut = 0, [], 0, []
    for run, got in sorted(by_run.items()):
        if run in ended:
            size, rc, dots = ended[run]
        elif run < last_run - PARALLEL:
            size, rc, dots = BATCH, 0, BATCH
        else:
            size, rc, dots = BATCH, -1, max(got)     # under way at the stop
            cut.append(run)
        if rc == 0:
            accepted += size
            lost += [(run, i) for i in range(1, size + 1) if i not in got]
            continue
        accepted += max(0, dots - SESSIONS)
        gone = [i for i in range(1, min(size, dots) + 1) if i not in got]
        if len(gone) > SESSIONS:
            lost += [(run, i) for i in gone]
        unconfirmed += min(len(gone), SESSIONS)
    distinct = len(counts)
    maillog = os.path.join(folder, "maillog")
    queued_tok, removed = {}, set()
    with open(maillog, "rb") as f:
        for line in f:
            if b"message-id=<tok" in line:
                m = re.search(rb"\]: (\w+): message-id=<(tok\d+x\d+)@", line)
                if m:
                    queued_tok[m.group(1)] = m.group(2)
            elif b": removed" in line:
                m = re.search(rb"\]: (\w+): removed", line)
                if m:
                    removed.add(m.group(1))
    not_removed = sorted(q.decode() for q in queued_tok if q not in removed)
    queue_left = 0
    for q in ("maildrop", "incoming", "active", "deferred", "hold"):
        for _, _, files in os.walk(os.path.join(folder, "spool", q)):
            queue_left += sum(1 for n in files if not n.startswith("tmp") and "." not in n)
    res = dict(scenario="soak", offline=True, runs=len(by_run), runs_died=len(ended),
               runs_cut_by_stop=cut, accepted_src=accepted, delivered_src=distinct,
               lost=len(lost), lost_examples=lost[:10], unconfirmed_src=unconfirmed,
               dup_src=sum(n - 1 for n in counts.values() if n > 1), dup_examples=dups[:10],
               trickle_queued=len(queued_tok), trickle_not_removed=not_removed[:10],
               queue_left=queue_left)
    print("FAULT-RESULT-OFFLINE %s" % res, flush=True)
    return 1 if lost or not_removed or queue_left else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--account":
        return account_offline(sys.argv[2], sys.argv[3])
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1 << 30))
    return Soak(total, seed).main()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    sys.exit(main())
