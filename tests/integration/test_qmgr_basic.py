"""The queue manager end to end with real processes: master, qmgr and the
discard/error/retry agents.  Messages are put into incoming/ the way cleanup
would (qfmake), so these tests need nothing but the queue manager's side."""
import os
import threading
import time


def test_delivery_and_removal(instance):
    instance.write_config(default_transport="discard")
    instance.start()
    qid = instance.inject(["a@one.test", "b@two.test", "c@two.test"])
    instance.wait_log(r"%s: removed" % qid)
    log = instance.log()
    assert "%s: from=<sender@example.test>, size=" % qid in log
    assert "nrcpt=3 (queue active)" in log
    for r in ("a@one.test", "b@two.test", "c@two.test"):
        assert "%s: to=<%s>, relay=none, delay=" % (qid, r) in log
    assert log.count("status=sent (discarded)") == 3
    instance.wait_empty()


def test_error_transport_bounces_and_retry_defers(instance):
    instance.write_config(transport_maps="inline:{ bad.test=error:5.1.1 no such user here, "
                                         "slow.test=retry:4.4.7 try later }",
                          default_transport="discard", minimal_backoff_time="60s",
                          maximal_backoff_time="60s")
    instance.start()
    qid = instance.inject(["x@bad.test", "y@slow.test", "z@good.test"])
    instance.wait_log(r"to=<x@bad.test>.*dsn=5\.1\.1, status=bounced \(no such user here\)")
    instance.wait_log(r"to=<y@slow.test>.*dsn=4\.4\.7, status=deferred \(try later\)")
    instance.wait_log(r"to=<z@good.test>.*status=sent")
    # The deferred recipient keeps the message in deferred/ with its next
    # attempt a backoff away; the bounced one was recorded for the report.
    instance.wait_for(lambda: instance.queue_ids("deferred") == [qid], 10, "deferred file")
    st = os.stat(os.path.join(instance.spool, "deferred", qid[-1], qid)) \
        if os.path.exists(os.path.join(instance.spool, "deferred", qid[-1], qid)) else None
    paths = [os.path.join(d, qid) for d, _, f in os.walk(os.path.join(instance.spool, "deferred"))
             if qid in f]
    st = os.stat(paths[0])
    assert st.st_mtime > time.time() + 40     # minimal_backoff_time = 60s, minus slack


def test_garbage_in_incoming_is_quarantined(instance):
    instance.write_config(default_transport="discard")
    instance.start()
    good = instance.inject(["a@one.test"], kick=False)
    # A file named like a queue ID, complete (mode 0700), but not a queue file.
    bad = good[:-1] + ("B" if good[-1] != "B" else "C")
    path = os.path.join(instance.spool, "incoming", bad)
    with open(path, "wb") as f:
        f.write(b"this is not a queue file\n" * 10)
    os.chmod(path, 0o700)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("sluice")
        os.chown(path, pw.pw_uid, pw.pw_gid)
    instance.kick("I")
    instance.wait_log(r"%s: saving corrupt queue file" % bad)
    instance.wait_log(r"%s: removed" % good)
    assert instance.queue_ids("corrupt") == [bad]
    # Mail keeps flowing after the bad file.
    qid = instance.inject(["b@two.test"])
    instance.wait_log(r"%s: removed" % qid)


def test_trigger_flood_is_harmless(instance):
    instance.write_config(default_transport="discard")
    instance.start()
    fifo = os.path.join(instance.spool, "public", "qmgr")
    stop = time.time() + 3
    sent = 0
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    junk = bytes(range(256)) + b"IDAFW" * 100
    while time.time() < stop:
        try:
            sent += os.write(fd, junk)
        except BlockingIOError:
            time.sleep(0.001)
    os.close(fd)
    assert sent > 100000
    # The queue manager survived and still delivers promptly.
    qid = instance.inject(["a@one.test"])
    instance.wait_log(r"%s: removed" % qid, timeout=15)
    assert instance.count_log(r"qmgr\[\d+\]: fatal") == 0
    assert instance.count_log(r"process \S+qmgr pid") == 0


def test_active_queue_never_above_limit(instance):
    instance.write_config(default_transport="discard", qmgr_message_active_limit=5)
    ids = [instance.inject(["r%d@d%d.test" % (i, i % 7)], kick=False) for i in range(150)]
    seen = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            try:
                seen.append(len(os.listdir(os.path.join(instance.spool, "active"))))
            except FileNotFoundError:
                time.sleep(0.01)
    t = threading.Thread(target=watch)
    t.start()
    try:
        instance.start()
        instance.wait_log(r": removed", count=150, timeout=60)
    finally:
        done.set()
        t.join()
    assert max(seen) <= 5, max(seen)
    assert max(seen) >= 1
    for qid in ids:
        assert "%s: removed" % qid in instance.log()


def test_defer_transports_wait_for_flush(instance):
    instance.write_config(default_transport="discard", defer_transports="discard",
                          queue_run_delay="1s", minimal_backoff_time="1s",
                          maximal_backoff_time="2s")
    instance.start()
    qid = instance.inject(["a@one.test"])
    instance.wait_log(r"%s: to=<a@one.test>.*status=deferred \(deferred transport\)" % qid)
    # Deferred runs come and go; the mail waits for a flush.
    time.sleep(4)
    assert "%s: removed" % qid not in instance.log()
    assert qid in instance.queue_ids("deferred") + instance.queue_ids("active")
    assert instance.count_log(r"%s: to=<a@one.test>.*status=deferred \(deferred transport\)" % qid) >= 2
    instance.flush()
    instance.wait_log(r"%s: to=<a@one.test>.*status=sent" % qid)
    instance.wait_log(r"%s: removed" % qid)


def test_double_bounce_address_is_discarded(instance):
    instance.write_config(default_transport="discard")
    instance.start()
    qid = instance.inject(["double-bounce@localhost", "a@one.test"], sender="")
    instance.wait_log(r"%s: removed" % qid)
    assert instance.count_log(
        r"%s: to=<double-bounce@localhost>, relay=none, .*status=sent "
        r"\(undeliverable postmaster notification discarded\)" % qid) == 1
    # Nothing was handed to a local delivery agent for it.
    assert instance.count_log(r"sluice/local\[") == 0


def test_leading_dash_recipient_bounces_unless_allowed(instance):
    instance.write_config(default_transport="discard")
    instance.start()
    qid = instance.inject(["-oQ/tmp/x@one.test", "ok@one.test"])
    instance.wait_log(r"to=<-oQ/tmp/x@one.test>.*dsn=5\.1\.3, status=bounced \(bad address syntax\)")
    instance.wait_log(r"%s: to=<ok@one.test>.*status=sent" % qid)
    instance.stop()
    instance.write_config(allow_min_user="yes")
    instance.start()
    qid = instance.inject(["-dash@one.test"])
    instance.wait_log(r"%s: to=<-dash@one.test>.*status=sent" % qid)


HANG_AGENT = """#!/bin/sh
# A delivery agent that never says hello (nor accepts): the queue manager
# must give up after qmgr_ipc_timeout, not hang.
exec sleep 3600
"""


def test_agent_that_never_answers_costs_the_delivery_not_the_qmgr(instance):
    ddir = os.path.join(instance.base, "libexec")
    os.makedirs(ddir)
    with open(os.path.join(ddir, "hangagent"), "w") as f:
        f.write(HANG_AGENT)
    os.chmod(ddir, 0o755)
    os.chmod(os.path.join(ddir, "hangagent"), 0o755)
    builtin = instance.sluice("config", "-M").stdout.decode()
    instance.set_master_cf(builtin + "hang unix - - n - 1 hangagent\n")
    instance.write_config(daemon_directory=ddir, qmgr_ipc_timeout="2s",
                          transport_retry_time="60s",
                          transport_maps="inline:{ stuck.test=hang: }",
                          default_transport="discard")
    instance.start()
    t0 = time.time()
    stuck = instance.inject(["a@stuck.test"])
    fine = instance.inject(["b@fine.test"])
    instance.wait_log(r"%s: removed" % fine)
    instance.wait_log(r"private/hang: no greeting from the delivery agent within 2s")
    instance.wait_log(r"%s: to=<a@stuck.test>.*status=deferred \(mail transport unavailable\)" % stuck)
    assert time.time() - t0 < 15
    # The queue manager is the same process and still delivers.
    assert instance.count_log(r"process \S+qmgr pid") == 0
    qid = instance.inject(["c@fine.test"])
    instance.wait_log(r"%s: removed" % qid)


def test_watchdog_ends_a_stuck_qmgr_and_master_restarts_it(instance):
    import signal
    from test_master import pids_of
    instance.write_config(default_transport="discard", qmgr_daemon_timeout="2s")
    instance.start()
    [pid] = pids_of(instance, "qmgr")
    # A delivery first: qmgr arms its watchdog once started, and one stopped
    # before that (still starting) has none to fire.
    first = instance.inject(["z@one.test"])
    instance.wait_log(r"qmgr\[%d\]: %s: removed" % (pid, first))
    os.kill(pid, signal.SIGSTOP)          # stuck: makes no progress
    time.sleep(3)
    os.kill(pid, signal.SIGCONT)          # the overdue watchdog fires at once
    instance.wait_log(r"qmgr\[%d\]: fatal: watchdog timeout" % pid)
    instance.wait_for(lambda: pids_of(instance, "qmgr") and pids_of(instance, "qmgr") != [pid],
                      20, "a new qmgr")
    qid = instance.inject(["a@one.test"])
    instance.wait_log(r"%s: removed" % qid)


def test_content_filter_and_default_filter_nexthop(instance):
    """content_filter sends the whole message to a master.cf service; with no
    next hop of its own the filter gets default_filter_nexthop, and when that
    is empty the recipient's domain (oqmgr(8))."""
    logdir = os.path.join(instance.base, "filterlog")
    os.makedirs(logdir)
    os.chmod(logdir, 0o777)
    log = os.path.join(logdir, "seen")
    script = os.path.join(logdir, "filter.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho \"$1 $2\" >> %s\ncat > /dev/null\n" % log)
    os.chmod(script, 0o755)
    builtin = instance.sluice("config", "-M").stdout.decode()
    instance.set_master_cf(builtin + "filt unix - n n - - pipe flags= user=nobody "
                           "argv=%s ${nexthop} ${recipient}\n" % script)
    instance.write_config(content_filter="filt:", default_filter_nexthop="[127.0.0.1]:10025")
    instance.start()

    def seen():
        try:
            return open(log).read().split("\n")
        except FileNotFoundError:
            return []

    instance.sendmail(["a@one.test"])
    instance.wait_for(lambda: "[127.0.0.1]:10025 a@one.test" in seen(), 30, "the filter")
    instance.wait_log(r"to=<a@one.test>, relay=filt, .*status=sent")
    # No default_filter_nexthop: the recipient's domain.
    instance.stop()
    instance.write_config(default_filter_nexthop="")
    instance.start()
    instance.sendmail(["b@two.test"])
    instance.wait_for(lambda: "two.test b@two.test" in seen(), 30, "the filter, by domain")
    # The filter's own next hop wins.
    instance.stop()
    instance.write_config(content_filter="filt:scanner.test")
    instance.start()
    instance.sendmail(["c@three.test"])
    instance.wait_for(lambda: "scanner.test c@three.test" in seen(), 30, "the filter's next hop")
