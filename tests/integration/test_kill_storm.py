"""Kill storm: random daemons die under load, mail keeps flowing.

Mail goes in through sendmail and out through smtp (to an aiosmtpd sink)
and local (maildirs), and some of it to the error transport, whose bounce
notices go back to the sender at the sink, while about 20 SIGKILLs hit
random smtp, error/retry, pickup, qmgr and bounce processes over about 10
seconds.  Then:

- delivery resumes within a few seconds of the last kill (master replaces
  a process that had started at once; only a bad start-up throttles);
- nothing is lost: every message sendmail accepted is delivered, or, for
  the error transport, its bounce notice is;
- duplicates are explained: an smtp agent killed between the sink's 250
  and marking the recipient done delivers that message again on retry.
  Each duplicate is matched to its own smtp kill right after the first
  copy arrived; there are never more duplicates than smtp kills.

The seed is printed; KILL_STORM_SEED=N repeats a run's kill schedule.
"""
import os
import random
import signal
import threading
import time

from aiosmtpd.controller import Controller

from conftest import free_port
from test_master import pids_of
from test_qmgr_smtp import routes

KILLS = 20
STORM = 10.0            # seconds over which the kills are spread
SUBMIT_AFTER = 2.5      # seconds of submissions after the last kill
RESUME_LIMIT = 5.0      # delivery must resume this soon after the last kill
# What may be killed, with weights (smtp agents are most of the processes).
VICTIMS = [("smtp", 10), ("qmgr", 3), ("pickup", 3), ("bounce", 2), ("error", 2)]
# A duplicate's first copy arrived at most this long before its agent died
# (the agent marks the recipient done right after the 250).
DUP_WINDOW = 3.0


class TimedSink:
    """An SMTP sink that records when each message arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.got = []           # (monotonic time, recipient, message-id)
        self.notices = []       # (monotonic time, content) of bounce notices
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                mid = ""
                for line in envelope.content.split(b"\n"):
                    if line.lower().startswith(b"message-id:"):
                        mid = line.split(b":", 1)[1].strip().decode()
                        break
                with sink.lock:
                    if envelope.mail_from in ("", "<>"):
                        sink.notices.append((time.monotonic(), envelope.content))
                        return "250 2.0.0 Ok: queued"
                    for r in envelope.rcpt_tos:
                        sink.got.append((time.monotonic(), r, mid))
                return "250 2.0.0 Ok: queued"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def received(self):
        with self.lock:
            return list(self.got)

    def notices_for(self, mid):
        """Arrival times of the bounce notices that quote message-id mid."""
        with self.lock:
            return [t for t, c in self.notices if mid.encode() in c]

    def stop(self):
        self.controller.stop()


def local_deliveries(instance):
    """(mtime, recipient) of every message in the local maildirs."""
    out = []
    if not os.path.isdir(instance.maildir):
        return out
    for user in os.listdir(instance.maildir):
        new = os.path.join(instance.maildir, user, "new")
        if os.path.isdir(new):
            for n in os.listdir(new):
                try:
                    st = os.stat(os.path.join(new, n))
                except FileNotFoundError:
                    continue
                out.append((st.st_mtime, user + "@localhost"))
    return out


def test_kill_storm(instance):
    seed = int(os.environ.get("KILL_STORM_SEED") or random.SystemRandom().randrange(1 << 30))
    print("kill storm seed %d (KILL_STORM_SEED=%d repeats it)" % (seed, seed))
    rng = random.Random(seed)
    sink = TimedSink()
    try:
        run_storm(instance, sink, rng, seed)
    finally:
        sink.stop()


def run_storm(instance, sink, rng, seed):
    instance.write_config(transport_maps="inline:{ sink.test=smtp:[127.0.0.1]:%d, "
                          "fail.test=error:5.1.1 no such user here }" % sink.port,
                          service_throttle_time="60s",
                          minimal_backoff_time="1s", maximal_backoff_time="2s",
                          queue_run_delay="1s")
    instance.start()
    t0 = time.monotonic()
    wall0 = time.time()
    accepted = []           # (recipient, message-id)
    stop_submit = threading.Event()
    submit_errors = []

    def submit():
        n = 0
        while not stop_submit.is_set():
            rcpt = ("u%d@localhost" if n % 5 == 4 else "f%d@fail.test" if n % 5 == 2
                    else "r%d@sink.test") % n
            mid = "<storm-%d-%d@sluice.test>" % (seed, n)
            body = "Subject: storm %d\nMessage-ID: %s\nFrom: s@sink.test\n\nbody %d\n" % (
                n, mid, n)
            p = instance.sendmail([rcpt], body=body, sender="s@sink.test", check=False)
            if p.returncode == 0:
                accepted.append((rcpt, mid))
            else:
                submit_errors.append((rcpt, p.stderr))
            n += 1
            time.sleep(0.05)

    submitter = threading.Thread(target=submit)
    submitter.start()

    # The kill schedule: KILLS moments over STORM seconds, after 1 s of flow.
    times = sorted(1.0 + rng.uniform(0, STORM) for _ in range(KILLS))
    kinds = [k for k, w in VICTIMS for _ in range(w)]
    kills = []              # (t, program, pid)
    try:
        for t in times:
            delay = t0 + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            want = rng.choice(kinds)
            pids = pids_of(instance, want)
            prog = want
            if not pids:
                # Not running right now: any live candidate instead.
                live = [(k, p) for k, _ in VICTIMS for p in pids_of(instance, k)]
                if not live:
                    continue
                prog, pid = rng.choice(sorted(live))
            else:
                pid = rng.choice(sorted(pids))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            kills.append((time.monotonic() - t0, prog, pid))
        last_kill = time.monotonic() - t0
        time.sleep(SUBMIT_AFTER)
    finally:
        stop_submit.set()
        submitter.join()
    t_submit_end = time.monotonic() - t0

    print("kills (t, program, pid):")
    for k in kills:
        print("  %6.2f %-7s %d" % k)
    by_prog = {}
    for _, prog, _ in kills:
        by_prog[prog] = by_prog.get(prog, 0) + 1
    print("kills by program: %s" % by_prog)
    assert len(kills) >= KILLS - 2, "too few processes to kill: %s" % kills
    assert not submit_errors, submit_errors[:3]
    # master saw every kill.
    for _, prog, pid in kills:
        instance.wait_log(r"%s pid %d killed by signal 9" % (prog, pid), timeout=10)

    # Delivery resumes soon after the last kill.
    def first_after(tk):
        smtp = [t - t0 for t, _, _ in sink.received() if t - t0 > tk]
        local = [m - wall0 for m, _ in local_deliveries(instance) if m - wall0 > tk]
        return min(smtp + local) if smtp or local else None

    resumed = instance.wait_for(lambda: first_after(last_kill), RESUME_LIMIT + 5,
                                "a delivery after the last kill")
    print("last kill at %.2f s, next delivery at %.2f s (%.2f s later); "
          "%d messages accepted until %.2f s" % (
              last_kill, resumed, resumed - last_kill, len(accepted), t_submit_end))
    assert resumed - last_kill <= RESUME_LIMIT

    # Nothing lost: every accepted message arrives (retries included).
    smtp_want = {r for r, _ in accepted if r.endswith("@sink.test")}
    local_want = {r for r, _ in accepted if r.endswith("@localhost")}
    bounce_want = [mid for r, mid in accepted if r.endswith("@fail.test")]

    def all_there():
        got_smtp = {r for _, r, _ in sink.received()}
        got_local = {r for _, r in local_deliveries(instance)}
        return smtp_want <= got_smtp and local_want <= got_local \
            and all(sink.notices_for(mid) for mid in bounce_want)

    if not all_there():
        instance.flush()
    try:
        instance.wait_for(all_there, 40, "every accepted message delivered")
    except AssertionError:
        got_smtp = {r for _, r, _ in sink.received()}
        got_local = {r for _, r in local_deliveries(instance)}
        print("missing smtp %s local %s notices %s; queue %s" % (
            sorted(smtp_want - got_smtp), sorted(local_want - got_local),
            [m for m in bounce_want if not sink.notices_for(m)], instance.queue_counts()))
        raise
    done = time.monotonic() - t0
    instance.wait_empty(20)
    print("all %d accepted messages delivered by %.2f s (%d to smtp, %d local, %d bounced)"
          % (len(accepted), done, len(smtp_want), len(local_want), len(bounce_want)))
    log = instance.log()
    assert "bad command startup" not in log

    # Duplicates, each explained by its own smtp kill right after the first copy.
    arrivals = {}
    for t, r, _ in sink.received():
        arrivals.setdefault(r, []).append(t - t0)
    dups = sorted((ts[0], r, len(ts)) for r, ts in arrivals.items() if len(ts) > 1)
    local_counts = {}
    for _, r in local_deliveries(instance):
        local_counts[r] = local_counts.get(r, 0) + 1
    local_dups = {r: n for r, n in local_counts.items() if n > 1}
    assert not local_dups, "local duplicates (no local agent was killed): %s" % local_dups
    unused = [k for k in kills if k[1] == "smtp"]
    print("duplicates: %d (smtp kills: %d)" % (sum(n - 1 for _, _, n in dups), len(unused)))
    for first, r, n in dups:
        assert n == 2, "%s arrived %d times" % (r, n)
        match = [k for k in unused if first - 0.2 <= k[0] <= first + DUP_WINDOW]
        assert match, ("duplicate %s (first copy at %.2f s) not explained by an smtp "
                       "kill right after it; kills: %s" % (r, first, kills))
        k = match[0]
        unused.remove(k)
        # The killed agent never logged the first delivery as sent.
        assert not __import__("re").search(
            r"smtp\[%d\]: \w+: to=<%s>, .*status=sent" % (k[2], r), log)
        print("  %s: first copy at %.2f s, smtp pid %d killed at %.2f s, "
              "delivered again on retry" % (r, first, k[2], k[0]))
    assert sum(n - 1 for _, _, n in dups) <= len([k for k in kills if k[1] == "smtp"])
    # A notice sent twice is the same case: the smtp agent that carried it died
    # after the 250 (it has its own smtp kill), or the bounce process died
    # after it queued the notice and before it answered the queue manager.
    extra = [(mid, sink.notices_for(mid)) for mid in bounce_want
             if len(sink.notices_for(mid)) > 1]
    for mid, ts in extra:
        first = ts[0] - t0
        match = [k for k in unused if first - 0.2 <= k[0] <= first + DUP_WINDOW]
        if not match:
            match = [k for k in kills if k[1] == "bounce"]
        assert match, "notice for %s sent %d times, no kill explains it: %s" % (
            mid, len(ts), kills)
        if match[0] in unused:
            unused.remove(match[0])
        print("  notice for %s: %d copies, first at %.2f s, explained by %s %d killed "
              "at %.2f s" % (mid, len(ts), first, match[0][1], match[0][2], match[0][0]))
