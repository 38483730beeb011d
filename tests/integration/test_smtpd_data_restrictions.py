"""smtpd: smtpd_data_restrictions (at DATA and the first BDAT) and
smtpd_end_of_data_restrictions (after the content, before the queue file is
committed), with reject_multi_recipient_bounce and reject_unauth_pipelining,
end to end: smtplib and raw sockets in, an aiosmtpd sink out.

Postfix's rules checked: the DATA-stage lists see the recipient only when
the transaction has one; a DATA reject answers the command and keeps the
envelope; an end-of-data reject queues nothing; actions (HOLD) decided at
the end of data still apply; the log lines are Postfix's
("ID: reject: DATA from host[addr]: 550 5.5.3 <DATA>: Data command
rejected: Multi-recipient bounce; from=<> proto=ESMTP helo=<...>").
"""
import re
import smtplib

from smtpd_client import OUTSIDE, Raw
from test_smtpd_actions import start, table

HELO = "client.example"
SENDER = "a@client.example"
CLIENT = r"\S+\[127\.0\.0\.1\]"


def client(instance):
    c = smtplib.SMTP("127.0.0.1", instance.smtpd_port, local_hostname=HELO, timeout=30)
    c.ehlo()
    return c


def envelope(instance, sender, rcpts):
    c = client(instance)
    assert c.mail(sender)[0] == 250
    for r in rcpts:
        assert c.rcpt(r)[0] == 250, r
    return c


def data_reply(c):
    """DATA alone: (code, text)."""
    code, text = c.docmd("DATA")
    return code, text.decode()


def raw(instance, helo="HELO " + HELO):
    """A hand-driven session, greeted and past HELO (or EHLO)."""
    r = Raw(instance)
    assert r.reply().startswith("220")
    assert r.cmd(helo).startswith("250")
    return r


def test_multi_recipient_bounce_refused_at_data(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_data_restrictions="reject_multi_recipient_bounce")
    # A bounce to one recipient passes ...
    c = envelope(instance, "", ["one@remote.test"])
    code, text = c.data(b"Subject: bounce\n\none\n")
    assert code == 250, text
    c.quit()
    instance.wait_for(lambda: peer.rcpts() == ["one@remote.test"], 30, "the bounce")
    # ... to two is refused at DATA, and the envelope stays for RSET.
    c = envelope(instance, "", ["one@remote.test", "two@remote.test"])
    assert data_reply(c) == (550, "5.5.3 <DATA>: Data command rejected: Multi-recipient "
                                  "bounce")
    assert c.rset()[0] == 250
    c.quit()
    instance.wait_log(r"\w+: reject: DATA from %s: 550 5\.5\.3 <DATA>: Data command "
                      r"rejected: Multi-recipient bounce; from=<> proto=ESMTP "
                      r"helo=<client\.example>" % CLIENT)
    # A sender with two recipients is no bounce.
    c = envelope(instance, SENDER, ["one@remote.test", "two@remote.test"])
    assert c.data(b"Subject: t\n\nx\n")[0] == 250
    c.quit()
    instance.wait_for(lambda: len(peer.received()) == 2, 30, "the second message")
    assert [m[0] for m in peer.received()] == ["<>", SENDER]


def test_multi_recipient_bounce_at_rcpt(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_recipient_restrictions="reject_multi_recipient_bounce")
    c = client(instance)
    assert c.mail("")[0] == 250
    assert c.rcpt("one@remote.test")[0] == 250
    code, text = c.rcpt("two@remote.test")
    assert (code, text.decode()) == (550, "5.5.3 <two@remote.test>: Recipient address "
                                          "rejected: Multi-recipient bounce")
    assert c.data(b"Subject: b\n\nb\n")[0] == 250
    c.quit()
    instance.wait_for(lambda: peer.rcpts() == ["one@remote.test"], 30, "the bounce")


def test_generic_reject_and_recipient_seen_only_when_one(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_data_restrictions="check_recipient_access " +
          table(instance, "rcpt", ["stop@remote.test REJECT not this one"]))
    c = envelope(instance, SENDER, ["stop@remote.test"])
    assert data_reply(c) == (554, "5.7.1 <stop@remote.test>: Recipient address rejected: "
                                  "not this one")
    c.quit()
    instance.wait_log(r"\w+: reject: DATA from %s: 554 5\.7\.1 <stop@remote\.test>: "
                      r"Recipient address rejected: not this one; from=<a@client\.example> "
                      r"to=<stop@remote\.test> proto=ESMTP" % CLIENT)
    # With two recipients the DATA stage has none to look up (Postfix).
    c = envelope(instance, SENDER, ["stop@remote.test", "go@remote.test"])
    assert c.data(b"Subject: t\n\nx\n")[0] == 250
    c.quit()
    instance.wait_for(lambda: sorted(peer.rcpts()) == ["go@remote.test", "stop@remote.test"],
                      30, "the two-recipient message")


def test_reject_word_names_the_data_command(instance, sink):
    peer = sink()
    start(instance, peer, relay_domains="remote.test",
          smtpd_data_restrictions="permit_mynetworks, reject")
    c = envelope(instance, SENDER, ["x@remote.test"])
    assert c.data(b"Subject: t\n\nx\n")[0] == 250
    c.quit()
    instance.wait_for(lambda: peer.rcpts() == ["x@remote.test"], 30, "mynetworks' message")
    # From outside mynetworks (127.0.0.9) the list ends in reject.
    c = smtplib.SMTP("127.0.0.1", instance.smtpd_port, local_hostname=HELO, timeout=30,
                     source_address=(OUTSIDE, 0))
    c.ehlo()
    assert c.mail(SENDER)[0] == 250 and c.rcpt("y@remote.test")[0] == 250
    assert data_reply(c) == (554, "5.7.1 <DATA>: Data command rejected: Access denied")
    c.quit()
    instance.wait_log(r"reject: DATA from \S+\[127\.0\.0\.9\]: 554 5\.7\.1 <DATA>: "
                      r"Data command rejected: Access denied; from=<a@client\.example> "
                      r"to=<y@remote\.test> proto=ESMTP")


def test_unauth_pipelining_at_data(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_data_restrictions="reject_unauth_pipelining")
    # HELO (no PIPELINING offered), DATA and the message in one write.
    r = raw(instance)
    assert r.cmd("MAIL FROM:<%s>" % SENDER).startswith("250")
    assert r.cmd("RCPT TO:<x@remote.test>").startswith("250")
    r.send(b"DATA\r\nSubject: early\r\n\r\nbody\r\n.\r\n")
    assert r.reply() == ("503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP "
                         "command pipelining")
    r.close()
    instance.wait_log(r"reject: DATA from %s: 503 5\.5\.0 <DATA>: Data command rejected: "
                      r"Improper use of SMTP command pipelining; from=<a@client\.example> "
                      r"to=<x@remote\.test> proto=SMTP helo=<client\.example>" % CLIENT)
    # Waiting for the 354 is fine.
    r = raw(instance)
    assert r.cmd("MAIL FROM:<%s>" % SENDER).startswith("250")
    assert r.cmd("RCPT TO:<x@remote.test>").startswith("250")
    assert r.cmd("DATA").startswith("354")
    assert r.cmd("Subject: patient\r\n\r\nbody\r\n.").startswith("250 2.0.0 Ok: queued as")
    r.cmd("QUIT")
    r.close()
    instance.wait_for(lambda: len(peer.received()) == 1, 30, "the patient message")
    assert "Subject: patient" in peer.received()[0][2].decode()


def test_end_of_data_reject_queues_nothing(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_end_of_data_restrictions="check_sender_access " +
          table(instance, "snd", ["bad@client.example REJECT no thanks"]))
    c = envelope(instance, "bad@client.example", ["x@remote.test"])
    code, text = c.data(b"Subject: refused\n\nx\n")
    assert (code, text.decode()) == (
        554, "5.7.1 <bad@client.example>: Sender address rejected: no thanks")
    # The session goes on: the next message is accepted and delivered.
    assert c.mail(SENDER)[0] == 250 and c.rcpt("x@remote.test")[0] == 250
    assert c.data(b"Subject: fine\n\nx\n")[0] == 250
    c.quit()
    instance.wait_log(r"(\w+): reject: END-OF-MESSAGE from %s: 554 5\.7\.1 "
                      r"<bad@client\.example>: Sender address rejected: no thanks; "
                      r"from=<bad@client\.example> to=<x@remote\.test> proto=ESMTP" % CLIENT)
    instance.wait_for(lambda: len(peer.received()) == 1, 30, "the accepted message")
    assert "Subject: fine" in peer.received()[0][2].decode()
    instance.wait_empty()
    assert peer.received()[0][0] == SENDER


def test_end_of_data_hold(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_end_of_data_restrictions="check_sender_access " +
          table(instance, "snd", ["review@client.example HOLD",
                                  "tag@client.example PREPEND X-Late: yes"]))
    c = envelope(instance, "review@client.example", ["x@remote.test"])
    code, text = c.data(b"Subject: held\n\nx\n")
    c.quit()
    assert code == 250, text
    qid = text.decode().split()[-1]
    instance.wait_log(r"%s: hold: END-OF-MESSAGE from %s: <review@client\.example>: Sender "
                      r"address triggers HOLD action; from=<review@client\.example> "
                      r"to=<x@remote\.test>" % (qid, CLIENT))
    instance.wait_for(lambda: instance.queue_ids("hold") == [qid], 10, "held message")
    # PREPEND cannot come after the header: warned, the message goes on.
    c = envelope(instance, "tag@client.example", ["x@remote.test"])
    assert c.data(b"Subject: tagged\n\nx\n")[0] == 250
    c.quit()
    instance.wait_log(r"warning: access table texthash:\S+/snd: PREPEND in "
                      r"smtpd_end_of_data_restrictions ignored")
    instance.wait_for(lambda: len(peer.received()) == 1, 30, "the PREPEND message")
    assert "X-Late" not in peer.received()[0][2].decode()
    instance.sluice("release", qid)
    instance.wait_for(lambda: len(peer.received()) == 2, 30, "the released message")


def test_bdat_data_restriction(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_data_restrictions="check_recipient_access " +
          table(instance, "rcpt", ["stop@remote.test REJECT no chunks"]))
    r = raw(instance, helo="EHLO " + HELO)
    body = b"Subject: chunk\r\n\r\nhello\r\n"
    assert r.cmd("MAIL FROM:<%s>" % SENDER).startswith("250")
    assert r.cmd("RCPT TO:<stop@remote.test>").startswith("250")
    r.send(b"BDAT %d\r\n" % len(body) + body)
    refusal = "554 5.7.1 <stop@remote.test>: Recipient address rejected: no chunks"
    assert r.reply() == refusal
    r.send(b"BDAT 0 LAST\r\n")
    assert r.reply() == refusal
    # The transaction is over: a new one with another recipient is queued.
    assert r.cmd("MAIL FROM:<%s>" % SENDER).startswith("250")
    assert r.cmd("RCPT TO:<go@remote.test>").startswith("250")
    r.send(b"BDAT %d LAST\r\n" % len(body) + body)
    assert r.reply().startswith("250 2.0.0 Ok: queued as")
    r.cmd("QUIT")
    r.close()
    instance.wait_for(lambda: peer.rcpts() == ["go@remote.test"], 30, "the second message")
    assert instance.count_log(re.escape(refusal)) == 1
