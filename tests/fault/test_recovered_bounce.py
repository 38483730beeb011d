"""A bounce recorded before a crash is still sent (finding of the kill -9
campaign: 6 bounce notices lost in 950 kills).

The error agent logs the failure in bounce/ID and marks the recipient done;
the bounce service sends the notice when the queue manager flushes the log
at the end of the attempt.  When the queue manager dies before that flush,
its next start moves the message from active/ back to incoming/ and flushes
then.  But when it dies again before it took the message in, the one after
finds the file in incoming/, takes it for fresh mail from cleanup (which
has no status logs), finds no recipient left to deliver, and removed the
file without a flush: the notice was never sent.  Now a message from
incoming/ whose recipients are not all pending has been through delivery
before and gets its logs flushed.
"""
import os
import re
import time

import pytest

import faultlib


def mark_done(path, rcpt):
    """Turn rcpt's R record into D (as an agent does); returns its offset."""
    with open(path, "r+b") as f:
        data = f.read()
        rec = b"R" + bytes([len(rcpt)]) + rcpt.encode()
        off = data.rindex(rec)
        f.seek(off)
        f.write(b"D")
    return off


def bounce_log(instance, qid, rcpt, offset):
    path = os.path.join(instance.spool, "bounce", qid)
    with open(path, "w") as f:
        f.write("recipient=%s\norig_rcpt=%s\noffset=%d\ndsn_orcpt=\nnotify=0\nstatus=5.1.1\n"
                "action=failed\nreason=no such user here\nmta=\ndiag_type=\ndiag_text=\n"
                "time=%.6f\n\n" % (rcpt, rcpt, offset, time.time()))
    if os.geteuid() == 0:
        os.chown(path, *faultlib.mail_owner_ids())
    os.chmod(path, 0o600)


@pytest.mark.parametrize("queue", ["incoming", "deferred"])
def test_bounce_logged_before_a_crash_is_sent(instance, sink, queue):
    s = sink()
    instance.write_config(transport_maps="inline:{ sink.test=smtp:[127.0.0.1]:%d, "
                          "fail.test=error:5.1.1 no such user here }" % s.port)
    instance.start()            # the queue folders, with their owners
    instance.stop()
    rcpt = "f1@fail.test"
    qid = instance.inject([rcpt], sender="snd@sink.test", kick=False, queue=queue,
                          body="Subject: lost?\nMessage-ID: <rb1@fault.test>\n\nbody\n")
    path = [os.path.join(r, qid) for r, _, fs in os.walk(os.path.join(instance.spool, queue))
            if qid in fs][0]
    bounce_log(instance, qid, rcpt, mark_done(path, rcpt))
    instance.start()
    instance.flush()
    instance.wait_log(r"%s: removed" % qid, timeout=30)
    instance.wait_for(lambda: s.received(), 20, "the bounce notice")
    sender, rcpts, content = s.received()[0]
    assert sender in ("", "<>") and rcpts == ["snd@sink.test"]
    assert b"rb1@fault.test" in content and b"f1@fail.test" in content
    assert re.search(r"%s: sender non-delivery notification: \w+" % qid, instance.log())
    assert not os.path.exists(os.path.join(instance.spool, "bounce", qid))

