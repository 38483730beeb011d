"""The backlog of a dead destination is re-deferred in place (qmgr_backlog.c):
same outcomes as the full path (import, retry agent, back to deferred/), and
new mail to live destinations is not held up while a big backlog is worked
through."""
import os
import re
import subprocess
import sys
import time

from conftest import free_port

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")


def routes(table):
    """transport_maps: domain -> smtp:[127.0.0.1]:port, or a transport name."""
    return "inline:{ " + ", ".join(
        "%s=%s" % (d, ("smtp:[127.0.0.1]:%d" % p) if isinstance(p, int) else p)
        for d, p in table.items()) + " }"


def defer_records(instance, qid):
    """The defer log's records, without their time fields."""
    path = os.path.join(instance.spool, "defer", qid[9], qid)
    with open(path) as f:
        text = f.read()
    recs = [r for r in text.split("\n\n") if r]
    # In the order the outcomes came (agents work in parallel): sorted.
    return sorted(re.sub(r"(?m)^time=.*$", "time=", r) for r in recs)


def defer_time(instance, qid):
    """When the deferred file is due (its mtime)."""
    return os.stat(os.path.join(instance.spool, "deferred", qid[9], qid)).st_mtime


def outcome_lines(instance, qid):
    """qid's to=<...> lines, delays and the logging program left out."""
    out = []
    for line in instance.log().splitlines():
        m = re.search(r"sluice/(\w+)\[\d+\]: %s: (to=<.*)$" % qid, line)
        if m:
            out.append(re.sub(r"delay=[\d.]+, delays=[\d./]+, ", "", m.group(2)))
    return out


def queue_reasons(instance, qid):
    """The "why delayed" lines `sluice queue` shows for qid."""
    out = instance.sluice("queue").stdout.decode()
    block = [b for b in out.split("\n\n") if b.startswith(qid)]
    assert block, out
    return sorted(l.strip() for l in block[0].splitlines()[1:])


def set_warn(instance, queue, qid, when):
    """Rewrite the W record (offset 97, docs/QUEUE.md 3.3) of a queue file."""
    path = os.path.join(instance.spool, queue, qid[9], qid)
    with open(path, "r+b") as f:
        f.seek(97)
        assert f.read(2) == b"W\x0f"
        f.write(b"%15d" % when)


def test_shortcut_equals_full_path(instance, sink):
    back = sink()                      # the senders' domain: notices arrive here
    live = sink()
    dead_port = free_port()            # nothing listens there
    instance.write_config(
        transport_maps=routes({"dead.test": dead_port, "gone.test": "nosuch:",
                               "live.test": live.port, "back.test": back.port}),
        # One refused connection kills a destination; it stays dead 60 s.
        smtp_initial_destination_concurrency=1,
        minimal_backoff_time="60s", maximal_backoff_time="120s",
        bounce_queue_lifetime="0", queue_run_delay="3600s")
    snd = "snd@back.test"
    now = time.time()
    # Waiting in deferred/, not due: a bounce (null sender, expired at its
    # next attempt: bounce_queue_lifetime = 0) and a message whose delay
    # warning is due.
    old = instance.inject(["o@dead.test"], sender="", queue="deferred", kick=False)
    warn = instance.inject(["w@dead.test"], sender=snd, queue="deferred", kick=False)
    set_warn(instance, "deferred", warn, int(now) - 10)
    # And one with a live and a dead recipient.
    mixed = instance.inject(["m@live.test", "n@dead.test"], sender=snd, queue="deferred",
                            kick=False)
    for q in (old, warn, mixed):
        os.utime(os.path.join(instance.spool, "deferred", q[9], q), (now + 3600, now + 3600))
    instance.start()

    # The destination dies on its first message; the transport "nosuch"
    # dies because master.cf has no such service.
    first = instance.inject(["a@dead.test"], sender=snd)
    instance.wait_log(r"%s: to=<a@dead.test>.*status=deferred" % first)
    gone = instance.inject(["g@gone.test"], sender=snd)
    instance.wait_log(r"%s: to=<g@gone.test>.*status=deferred" % gone)

    # The full path: new mail to the dead destination and transport goes
    # through the retry agent.
    full = instance.inject(["b@dead.test", "c@dead.test|orig=alias@back.test|notify=FAILURE",
                            "d@gone.test"], sender=snd)
    instance.wait_log(r"%s: to=<d@gone.test>.*status=deferred" % full)
    instance.wait_for(lambda: full in instance.queue_ids("deferred"), 10, "full deferred")
    t_full = time.time()
    recs_full = defer_records(instance, full)
    due_full = defer_time(instance, full)
    lines_full = outcome_lines(instance, full)
    reasons_full = queue_reasons(instance, full)
    assert len(recs_full) == 3 and len(lines_full) == 3
    # The retry agent logs the saved reasons: the destination's "suspended",
    # the transport's "unavailable".
    assert sum("status=deferred (delivery temporarily suspended: connect to" in l
               for l in lines_full) == 2, lines_full
    assert sum("status=deferred (mail transport unavailable)" in l
               for l in lines_full) == 1, lines_full
    assert instance.count_log(r"%s: from=<%s>.*\(queue active\)" % (full, snd)) == 1

    # Everything due (A D): the backlog is re-deferred in place.
    t_kick = time.time()
    instance.kick("AD")
    instance.wait_log(r"%s: to=<d@gone.test>.*status=deferred" % full, count=2)
    instance.wait_log(r"%s: to=<n@dead.test>.*status=deferred" % mixed)
    instance.wait_for(lambda: full in instance.queue_ids("deferred"), 10, "full deferred")
    # Not imported: no second "(queue active)"; logged by qmgr, not by an agent.
    assert instance.count_log(r"%s: from=<%s>.*\(queue active\)" % (full, snd)) == 1
    assert instance.count_log(r"sluice/qmgr\[\d+\]: %s: to=<" % full) == 3
    # The same outcomes.
    assert defer_records(instance, full) == recs_full
    lines = outcome_lines(instance, full)
    assert sorted(lines[3:]) == sorted(lines_full), lines
    assert queue_reasons(instance, full) == reasons_full
    # The same next retry: age clamped to minimal_backoff_time, + up to 5 %.
    due = defer_time(instance, full)
    assert 60 <= due_full - int(t_full) <= 64, due_full - t_full
    assert t_kick + 59 <= due <= time.time() + 64, due - t_kick
    # The first message's reason becomes the saved one.
    assert "delivery temporarily suspended: connect to 127.0.0.1" in \
        defer_records(instance, first)[0]
    # A message with a live recipient took the normal path.
    instance.wait_for(lambda: live.rcpts() == ["m@live.test"], 10, "the live recipient")
    assert instance.count_log(r"%s: from=<%s>.*\(queue active\)" % (mixed, snd)) == 1

    # The expired one is returned, the warning is sent: the normal path.
    instance.wait_log(r"%s: from=<>, status=expired, returned to sender" % old)
    instance.wait_log(r"%s: sender delay notification: \w+" % warn)
    instance.wait_for(lambda: len(back.received()) >= 1, 20, "the delay notice")
    instance.wait_for(lambda: warn in instance.queue_ids("deferred"), 10, "warn deferred")
    with open(os.path.join(instance.spool, "deferred", warn[9], warn), "rb") as f:
        f.seek(99)
        assert int(f.read(15)) == -1     # warned once



# The backlog for the latency test.  The figure is 100,000 (what
# bench/dead_backlog.sh measures with the release build); under ASan the
# queue manager re-defers some 5,000 a second here, so the test uses 30,000
# (several seconds of backlog work, as many as bench/deferred_scan_fill.py
# writes quickly).  SLUICE_BACKLOG_N overrides it.
BACKLOG_N = int(os.environ.get("SLUICE_BACKLOG_N", "30000"))


def test_live_mail_is_not_held_up_by_a_big_backlog(instance, sink):
    live = sink()
    dead_port = free_port()
    instance.write_config(
        transport_maps=routes({"dead.test": dead_port, "live.test": live.port}),
        smtp_initial_destination_concurrency=1,
        minimal_backoff_time="300s", maximal_backoff_time="600s", queue_run_delay="3600s")
    # The backlog: copies of one message to the dead destination, not due.
    tpl = instance.inject(["u@dead.test"], queue="hold", kick=False)
    tpl_path = os.path.join(instance.spool, "hold", tpl)
    now = int(time.time())
    subprocess.run([sys.executable, os.path.join(BENCH, "deferred_scan_fill.py"), "sluice",
                    tpl_path, instance.spool, "deferred", str(BACKLOG_N),
                    str(now + 86400), str(now + 172800)], check=True)
    os.unlink(tpl_path)
    instance.start()
    dead = instance.inject(["first@dead.test"])
    instance.wait_log(r"%s: to=<first@dead.test>.*status=deferred" % dead)

    def deliver_one(i):
        t0 = time.time()
        qid = instance.inject(["l%d@live.test" % i])
        instance.wait_log(r"%s: to=<l%d@live.test>.*status=sent" % (qid, i), timeout=60)
        return time.time() - t0

    usual = max(deliver_one(0) for _ in range(1))
    suspended = r"to=<u@dead.test>.*status=deferred \(delivery temporarily suspended"
    instance.kick("AD")
    instance.wait_log(suspended, count=200, timeout=60)
    latencies = []
    for i in range(1, 6):
        latencies.append(deliver_one(i))
        # Each was delivered while the backlog was still being worked through.
        assert instance.count_log(suspended) < BACKLOG_N, i
        time.sleep(0.1)
    instance.wait_log(suspended, count=BACKLOG_N, timeout=600)
    assert len(live.rcpts()) == 6
    assert max(latencies) < max(1.0, 3 * usual), (usual, latencies)
    # Nothing of the backlog went through active/ or the retry agent.
    assert instance.count_log(r"sluice/error\[\d+\]: \w+: to=<u@dead.test>") == 0
    assert len(instance.queue_ids("deferred")) == BACKLOG_N + 1
