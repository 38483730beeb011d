"""The lmtp agent (the smtp program run as "lmtp") against Dovecot's own
LMTP server (dovecot_peer.py): unix: and inet: next hops, LHLO, and one
reply per recipient after DATA -- one recipient delivered to its Maildir,
one refused after DATA (over quota, 552), one refused at RCPT (unknown)."""
import os
import re

import pytest

from conftest import made_and_stopped
from dovecot_peer import Dovecot, can_run_dovecot
from smtp_peers import BUILD, AgentHarness

pytestmark = pytest.mark.skipif(can_run_dovecot() is not None,
                                reason=str(can_run_dovecot()))

LMTP = os.path.join(BUILD, "lmtp")
DEL_STAT_FINAL, DEL_STAT_DEFER = 0, 1
BODY = "From: a@example.test\nSubject: lmtp test\n\n" + "x" * 300 + "\nlast line\n"


@pytest.fixture
def dovecot():
    def make(users=None):
        return Dovecot(users or {"alice": None, "small": 100})

    yield from made_and_stopped(make)


@pytest.fixture
def lmtp():
    def make(**params):
        return AgentHarness(params, service="lmtp", program=LMTP, args=params.pop("_args", ()))

    yield from made_and_stopped(make)


def by_rcpt(lines):
    return {re.search(r"to=<([^>]*)>", l).group(1): l for l in lines}


def test_lmtp_unix_socket_one_reply_per_recipient(dovecot, lmtp):
    d = dovecot()
    a = lmtp()
    msg = a.message(["alice@mbox.test", "small@mbox.test", "ghost@mbox.test"], body=BODY)
    r = a.deliver(msg, "unix:" + d.socket)
    assert r["status"] == DEL_STAT_FINAL, r
    assert (r["sent"], r["bounced"], r["deferred"]) == (1, 2, 0), r
    # alice's Maildir has the message, with Dovecot's LMTP trace.
    got = d.maildir_messages("alice")
    assert len(got) == 1 and b"Subject: lmtp test" in got[0] and b"with LMTP" in got[0]
    assert d.maildir_messages("small") == []
    lines = by_rcpt(a.log_lines(msg.qid))
    relay = "relay=client.sluice.test[%s]" % d.socket
    assert relay + "," in lines["alice@mbox.test"], lines
    assert re.search(r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 <alice@mbox\.test> \S+ Saved\)",
                     lines["alice@mbox.test"]), lines
    # Refused after DATA: its own reply, not alice's.
    assert re.search(r"dsn=5\.2\.2, status=bounced \(host client\.sluice\.test\[.*\] said: 552 "
                     r"5\.2\.2 <small@mbox\.test> Quota exceeded.*\(in reply to end of DATA "
                     r"command\)\)", lines["small@mbox.test"]), lines
    assert re.search(r"dsn=5\.1\.1, status=bounced \(.*550 5\.1\.1 <ghost@mbox\.test> User "
                     r"doesn't exist.*\(in reply to RCPT TO command\)\)",
                     lines["ghost@mbox.test"]), lines
    assert "sluice/lmtp[" in lines["alice@mbox.test"]
    assert a.marks(msg) == {"alice@mbox.test": "done", "small@mbox.test": "done",
                            "ghost@mbox.test": "done"}


def test_lmtp_inet_next_hop_and_lhlo_name(dovecot, lmtp):
    d = dovecot()
    a = lmtp(lmtp_lhlo_name="lhlo.sluice.test", smtp_helo_name="wrong.sluice.test")
    msg = a.message(["alice@mbox.test"], body=BODY)
    r = a.deliver(msg, "inet:127.0.0.1:%d" % d.port)
    assert r["sent"] == 1, (r, a.log())
    assert "relay=127.0.0.1[127.0.0.1]:%d" % d.port in a.log_lines(msg.qid)[0]
    got = d.maildir_messages("alice")
    assert len(got) == 1 and b"Received: from lhlo.sluice.test" in got[0], got


def test_lmtp_unreachable_socket_defers(lmtp, tmp_path):
    a = lmtp()
    path = str(tmp_path / "no-such-socket")
    msg = a.message(["alice@mbox.test"], body=BODY)
    r = a.deliver(msg, "unix:" + path)
    assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 1, r
    d = a.status_log("defer", msg)
    assert d[0]["status"] == "4.4.1"
    assert d[0]["reason"].startswith("connect to client.sluice.test[%s]: " % path), d


def test_lmtp_transport_through_the_queue(instance, dovecot):
    """transport_maps "lmtp:unix:/path": master starts the lmtp service of
    the built-in master.cf; the unknown user's mail comes back to the sender."""
    d = dovecot()
    instance.write_config(transport_maps="inline:{ mbox.test=lmtp:unix:%s }" % d.socket)
    instance.start()
    qid = instance.inject(["alice@mbox.test", "ghost@mbox.test"],
                          body="Subject: via queue\n\nhello\n")
    instance.wait_log(r"%s: removed" % qid)
    log = instance.log()
    assert re.search(r"sluice/lmtp\[\d+\]: %s: to=<alice@mbox\.test>.*status=sent" % qid, log), log
    assert re.search(r"%s: to=<ghost@mbox\.test>.*status=bounced" % qid, log), log
    assert any(b"Subject: via queue" in m for m in d.maildir_messages("alice"))
