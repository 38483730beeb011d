"""soak.py N - N messages through the whole system with faults sprinkled in
(issue 17, item 5; run by scripts/soak).

Mail goes in through smtpd (two clients, one message per transaction on
kept connections; one in 500 through sendmail) and out to an SMTP sink
(one in 50 to a local Maildir).  Faults: every FAULT_EVERY messages a
random smtp, local, smtpd, pickup or bounce process is killed with SIGKILL,
and the sink answers 451 to the next 20 transactions.  Every N/10 messages
the long-lived daemons are sampled: resident memory and open descriptors of
master, qmgr and pickup, and the queue manager's CPU time per message over
the last interval.  At the end the queue is drained and every accepted
message must have arrived (lost 0); the figures must stay flat: last
interval's qmgr CPU per message within 1.5x the first's, memory within
+25 % (+4 MB slack), descriptors within +4.

Prints one line per sample and a FAULT-RESULT line (appended as JSON to
$FAULT_RESULTS).  Exit status 0 when nothing was lost and the figures are
flat.
"""
import os
import random
import signal
import smtplib
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import conftest  # noqa: E402,F401  (loads itconf)
import faultlib  # noqa: E402
import itconf  # noqa: E402

FAULT_EVERY = 5000
VICTIMS = ("smtp", "local", "smtpd", "pickup", "bounce")


def rss_fds(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            rss = [int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")][0]
        return rss, len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, IndexError):
        return None, None


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1 << 30))
    rng = random.Random(seed)
    base = tempfile.mkdtemp(prefix="sluice-soak-")
    os.chmod(base, 0o755)
    inst = itconf.Instance(base)
    w = faultlib.World(inst, seed, postdrop=False)
    print("soak: %d messages, seed %d, build %s, folder %s" % (total, seed, itconf.BUILD, base),
          flush=True)
    inst.start()
    master = int(open(os.path.join(inst.spool, "pid", "master.pid")).read())
    sent = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def take():
        with lock:
            if sent[0] >= total:
                return None
            sent[0] += 1
            return sent[0] - 1

    def message(n):
        tok = "tok%dx%d" % (seed, n)
        if n % 50 == 49:
            kind, rcpt = "local", "box%d@localhost" % (n % 4)
        else:
            kind, rcpt = "smtp", "s%d@sink.test" % n
        body = "Subject: soak %s\r\nMessage-ID: <%s@fault.test>\r\n\r\ntoken %s\r\n" % (
            tok, tok, tok)
        return tok, kind, rcpt, body

    def client():
        conn = None
        while not stop.is_set():
            n = take()
            if n is None:
                break
            tok, kind, rcpt, body = message(n)
            if n % 500 == 250:
                p = inst.sluice("sendmail", "-f", "snd@sink.test", "--", rcpt,
                                input=body.replace("\r\n", "\n"), check=False)
                if p.returncode == 0:
                    w.ledger.accept(tok, (kind,), "sendmail")
                continue
            for attempt in range(20):
                try:
                    if conn is None:
                        conn = smtplib.SMTP("127.0.0.1", inst.smtpd_port, timeout=30)
                        conn.ehlo("soak.test")
                    conn.sendmail("snd@sink.test", [rcpt], body)
                    w.ledger.accept(tok, (kind,), "smtpd")
                    break
                except (OSError, smtplib.SMTPException):
                    try:
                        if conn is not None:
                            conn.close()
                    except OSError:
                        pass
                    conn = None
                    time.sleep(0.2 * (attempt + 1))
        if conn is not None:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                pass

    clients = [threading.Thread(target=client) for _ in range(2)]
    t0 = time.time()
    for c in clients:
        c.start()
    samples = []
    step = max(1, total // 10)
    next_sample, next_fault = step, FAULT_EVERY
    qmgr = faultlib.itconf_pids_of(inst, "qmgr")[0]
    cpu0, done0, tlast = faultlib.cpu_seconds(qmgr), 0, t0
    faults = 0
    def sample(delivered):
        nonlocal qmgr, cpu0, done0, tlast
        qpids = faultlib.itconf_pids_of(inst, "qmgr")
        if qpids and qpids[0] != qmgr:
            print("qmgr was replaced: CPU per message restarts", flush=True)
            qmgr, cpu0 = qpids[0], 0.0
        cpu = faultlib.cpu_seconds(qmgr)
        row = dict(messages=delivered, seconds=round(time.time() - t0),
                   rate=round((delivered - done0) / max(0.001, time.time() - tlast), 1),
                   qmgr_us_per_msg=round((cpu - cpu0) * 1e6 / max(1, delivered - done0), 1))
        for name, pid in (("master", master), ("qmgr", qmgr),
                          ("pickup", (faultlib.itconf_pids_of(inst, "pickup") or [0])[0])):
            rss, fds = rss_fds(pid) if pid else (None, None)
            row[name + "_rss_kb"] = rss
            row[name + "_fds"] = fds
        samples.append(row)
        print("sample %s" % row, flush=True)
        cpu0, done0, tlast = cpu, delivered, time.time()

    while True:
        time.sleep(0.5)
        w.scan_files()
        delivered = len(w.ledger.arrivals)
        if sent[0] >= next_fault:
            next_fault += FAULT_EVERY
            prog = rng.choice(VICTIMS)
            pids = faultlib.itconf_pids_of(inst, prog)
            if pids:
                faultlib.kill(rng.choice(pids))
                faults += 1
            w.sink.fail_next = 20
        if delivered >= next_sample:
            sample(delivered)
            next_sample += step
        if not any(c.is_alive() for c in clients) and delivered >= len(w.ledger.accepted):
            break
        if not any(c.is_alive() for c in clients) and time.time() > tlast + 120:
            break
    if not samples or samples[-1]["messages"] < delivered:
        sample(delivered)
    for c in clients:
        c.join()
    drained = w.drain(300)
    res = w.account([])
    elapsed = time.time() - t0
    w.stop()
    inst.stop()
    first, last = samples[0], samples[-1]
    problems = []
    if res["missing"] or not drained:
        problems.append("lost or stuck: %d missing, %d queued" % (len(res["missing"]),
                                                                   res["queued"]))
    if last["qmgr_us_per_msg"] > 1.5 * first["qmgr_us_per_msg"] + 20:
        problems.append("qmgr CPU per message grew: %s -> %s us" % (
            first["qmgr_us_per_msg"], last["qmgr_us_per_msg"]))
    for name in ("master", "qmgr", "pickup"):
        a, b = first[name + "_rss_kb"], last[name + "_rss_kb"]
        if a and b and b > a * 1.25 + 4096:
            problems.append("%s memory grew: %d -> %d kB" % (name, a, b))
        a, b = first[name + "_fds"], last[name + "_fds"]
        if a and b and b > a + 4:
            problems.append("%s descriptors grew: %d -> %d" % (name, a, b))
    record = dict(scenario="soak", rounds=total, accepted=res["accepted"],
                  delivered=res["delivered"], lost=len(res["missing"]),
                  duplicates=res["duplicates"], faults=faults, seconds=round(elapsed),
                  first=first, last=last, problems=problems, seed=seed)
    faultlib.results_file_append(record)
    print("soak: %d accepted, %d delivered, %d lost, %d duplicates, %d faults, %.0f s" % (
        res["accepted"], res["delivered"], len(res["missing"]), res["duplicates"], faults,
        elapsed))
    for p in problems:
        print("PROBLEM: " + p)
    if not problems:
        import shutil
        shutil.rmtree(base, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    sys.exit(main())
