"""The queue manager with the smtp agent and real SMTP peers on loopback:
dead destinations, flush, restart safety, concurrency."""
import os
import signal
import socket
import subprocess
import time

from conftest import free_port


def routes(table):
    """transport_maps value sending each domain to smtp:[127.0.0.1]:port."""
    return "inline:{ " + ", ".join("%s=smtp:[127.0.0.1]:%d" % (d, p)
                                   for d, p in table.items()) + " }"


def test_smtp_delivery(instance, sink):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    qid = instance.inject(["x@a.test", "y@a.test"], body="Subject: hi\n\n.dot line\nbody\n")
    instance.wait_log(r"%s: removed" % qid)
    assert s.rcpts() == ["x@a.test", "y@a.test"]
    assert len(s.received()) == 1          # one transaction for both
    log = instance.log()
    assert "relay=127.0.0.1[127.0.0.1]:%d" % s.port in log
    assert log.count("status=sent (250 2.0.0 Ok: queued") == 2


def test_dead_destination_does_not_slow_live_ones(instance, sink):
    """One destination refuses connections; nine others drain at full speed.
    The dead one's mail is deferred without new connection attempts once it
    is known dead, and F revives it."""
    live = [sink() for _ in range(9)]
    dead_port = free_port()            # nothing listens there
    table = {"live%d.test" % i: s.port for i, s in enumerate(live)}
    table["dead.test"] = dead_port
    instance.write_config(transport_maps=routes(table), minimal_backoff_time="300s",
                          maximal_backoff_time="600s", queue_run_delay="300s")
    n_per = 20
    for i in range(n_per):
        for d in sorted(table):
            instance.inject(["u%d@%s" % (i, d)], kick=False)
    t0 = time.time()
    instance.start()
    instance.wait_for(lambda: sum(len(s.received()) for s in live) == 9 * n_per, 60,
                      "the live destinations to drain")
    elapsed = time.time() - t0
    log = instance.log()
    # Every message to the dead destination was deferred ...
    instance.wait_log(r"to=<u\d+@dead\.test>.*status=deferred", count=n_per)
    attempts = instance.count_log(r"sluice/smtp\[\d+\]: \w+: to=<u\d+@dead\.test>")
    suspended = instance.count_log(r"to=<u\d+@dead\.test>.*delivery temporarily suspended")
    # ... most of them without a connection attempt of their own.
    assert attempts <= 5, attempts
    assert suspended >= n_per - attempts
    assert elapsed < 30
    # Nothing was delivered twice.
    for s in live:
        assert len(s.rcpts()) == len(set(s.rcpts())) == n_per
    # Revive: the destination comes up, F A D (a flush) delivers its mail.
    revived = sink(port=dead_port)
    instance.flush()
    instance.wait_for(lambda: len(revived.rcpts()) == n_per, 60, "the revived destination")
    instance.wait_empty()


def test_restart_in_the_middle_loses_nothing_and_sends_nothing_twice(instance, sink):
    s = sink(delay=0.3)                 # slow DATA: deliveries are under way
    instance.write_config(transport_maps=routes({"slow.test": s.port}),
                          default_destination_concurrency_limit=4,
                          initial_destination_concurrency=4)
    ids = [instance.inject(["r%d@slow.test" % i], kick=False) for i in range(30)]
    instance.start()
    instance.wait_for(lambda: len(s.received()) >= 5, 30, "some deliveries")
    # Kill the queue manager outright, mid-delivery; master restarts it.
    pids = subprocess.run(["pgrep", "-f", "qmgr -n qmgr"], stdout=subprocess.PIPE).stdout.split()
    pids = [int(p) for p in pids if os.path.exists("/proc/%d/environ" % int(p))
            and instance.conf.encode() in open("/proc/%d/environ" % int(p), "rb").read()]
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    instance.wait_log(r"qmgr pid %d killed by signal 9" % pids[0])
    instance.wait_for(lambda: len(s.received()) >= 30, 90, "all deliveries")
    instance.wait_empty(60)
    time.sleep(1)
    rcpts = s.rcpts()
    assert sorted(rcpts) == sorted(set(rcpts)), "duplicate deliveries"
    assert len(rcpts) == 30
    for qid in ids:
        assert "%s: removed" % qid in instance.log()


def test_concurrency_window_grows_under_success(instance, sink):
    s = sink(delay=0.2)
    instance.write_config(transport_maps=routes({"w.test": s.port}),
                          destination_concurrency_feedback_debug="yes")
    for i in range(60):
        instance.inject(["r%d@w.test" % i], kick=False)
    instance.start()
    instance.wait_for(lambda: len(s.received()) == 60, 60, "all deliveries")
    import re
    windows = [int(w) for w in re.findall(r"queue \[127\.0\.0\.1\]:\d+: limit 20 window (\d+)",
                                          instance.log())]
    # Slow start: from initial_destination_concurrency (5) up under success.
    assert windows[0] <= 6
    assert max(windows) >= 10, max(windows)
    assert max(windows) <= 20
    # And the sink really saw parallel sessions.
    assert s.sessions > 5
