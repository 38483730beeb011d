"""sluice release and sluice expire with the system running.

release (postsuper -H) puts held mail into deferred/, due now, and tells the
queue manager, which tries it at once; it is not a flush, so
defer_transports still holds it back.  expire (postsuper -e) marks a message
for forced expiry: its next attempt returns it to the sender without a
delivery attempt (docs/TOOLS.md)."""
import re
import threading

from test_qmgr_smtp import routes

# Neither the deferred-queue timer nor the periodic full pass over deferred/
# may be what finds released mail within these tests' time limits.
SLOW_SCANS = dict(queue_run_delay="300s", deferred_rescan_time="3600s")


def summary(p, what):
    m = re.search(r"%s: (\d+) messages?" % what, p.stderr.decode())
    assert m, p.stderr
    return int(m.group(1))


def test_release_is_not_a_flush(instance, sink):
    s = sink()
    instance.write_config(transport_maps=routes({"dest.test": s.port}),
                          defer_transports="smtp", **SLOW_SCANS)
    qid = instance.inject(["r@dest.test"], queue="hold", kick=False)
    instance.start()
    p = instance.sluice("release", qid)
    assert summary(p, "Released from hold") == 1
    # The queue manager takes it at once (no deferred scan is due for
    # minutes) and keeps it back: its transport is in defer_transports.
    instance.wait_log(r"%s: to=<r@dest.test>.*status=deferred \(deferred transport\)" % qid,
                      timeout=10)
    instance.wait_for(lambda: instance.queue_ids("deferred") == [qid], 10, "deferred again")
    assert s.received() == []
    # A flush overrides defer_transports.
    instance.sluice("flush")
    instance.wait_for(lambda: s.rcpts() == ["r@dest.test"], 20, "the flushed delivery")
    instance.wait_empty()


def test_released_mail_is_delivered_promptly(instance, sink):
    s = sink()
    instance.write_config(transport_maps=routes({"dest.test": s.port}), **SLOW_SCANS)
    ids = [instance.inject(["r%d@dest.test" % i], queue="hold", kick=False) for i in range(3)]
    instance.start()
    p = instance.sluice("release", "ALL")
    assert summary(p, "Released from hold") == 3
    instance.wait_log(r"release request from the queue tools: 3 released messages", timeout=10)
    instance.wait_for(lambda: len(s.rcpts()) == 3, 10, "the released mail")
    instance.wait_empty()
    for qid in ids:
        assert "%s: removed" % qid in instance.log()


def test_expired_message_is_returned_not_delivered(instance, sink):
    attempts = []
    lock = threading.Lock()

    def refuse(address):
        with lock:
            attempts.append(address)
        return "451 4.3.0 try again later"

    dest = sink(rcpt_reply=refuse)
    back = sink()
    instance.write_config(transport_maps=routes({"dest.test": dest.port,
                                                 "back.test": back.port}),
                          queue_run_delay="1s")
    a = instance.inject(["a@dest.test"], sender="snd@back.test", kick=False)
    b = instance.inject(["b@dest.test"], sender="snd@back.test", queue="hold", kick=False)
    instance.start()
    instance.wait_log(r"%s: to=<a@dest.test>.*status=deferred" % a)
    instance.wait_for(lambda: a in instance.queue_ids("deferred"), 10, "a deferred")

    p = instance.sluice("expire", a, b)
    assert summary(p, "Force-expired") == 2
    with lock:
        tried = len(attempts)
    # a's next attempt (back-off 2 s) returns it without trying delivery.
    instance.wait_log(r"%s: from=<snd@back.test>, status=force-expired, returned to sender" % a,
                      timeout=20)
    instance.wait_log(r"%s: to=<a@dest.test>.*status=deferred "
                      r"\(message is administratively expired\)" % a)
    instance.wait_for(lambda: len(back.received()) == 1, 20, "the non-delivery report")
    report = back.received()[0][2].decode(errors="replace")
    assert "a@dest.test" in report
    assert "message is administratively expired" in report
    assert "4.7.0" in report

    # b, expired while on hold, is returned once released.
    assert b in instance.queue_ids("hold")
    instance.sluice("release", b)
    instance.wait_log(r"%s: from=<snd@back.test>, status=force-expired, returned to sender" % b,
                      timeout=20)
    instance.wait_for(lambda: len(back.received()) == 2, 20, "the second report")
    instance.wait_empty()
    # Neither was offered to its destination once expired.
    with lock:
        assert len(attempts) == tried
    assert dest.received() == []
