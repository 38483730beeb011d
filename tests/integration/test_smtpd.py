"""smtpd: the SMTP server, end to end, with clients sluice did not write
(Python's smtplib, raw sockets, Postfix's smtp-source).

Relay tests bind the client to 127.0.0.9, outside mynetworks =
127.0.0.1/32, and use reject_unauth_destination so refusals are 554 5.7.1.
"""
import re
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

from smtpd_client import OUTSIDE, Raw, start


def client(instance, outside=False, timeout=30):
    src = (OUTSIDE, 0) if outside else None
    return smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=timeout,
                        source_address=src)


def test_send_to_sink_and_maildir(instance, sink):
    peer = sink()
    start(instance, transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d }" % peer.port)
    with client(instance) as c:
        code, text = c.ehlo("client.example")
        assert code == 250
        for ext in ("PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME",
                    "DSN", "SMTPUTF8", "CHUNKING"):
            assert ext.encode() in text
        refused = c.sendmail("someone@client.example", ["bob@remote.test", "alice@sluice.test"],
                             b"Subject: over smtp\r\n\r\nhello\r\n.leading dot\r\n")
        assert refused == {}
    instance.wait_for(lambda: peer.rcpts() == ["bob@remote.test"], 30, "relayed copy")
    mails = instance.wait_for(lambda: instance.maildir_messages("alice"), 30, "local copy")
    m = mails[0]
    assert m["Subject"] == "over smtp"
    rcv = m["Received"]
    qid = re.search(r"with ESMTP id (\w+)", rcv).group(1)
    assert re.match(r"from client\.example \(localhost \[127\.0\.0\.1\]\)\s+by sluice\.test "
                    r"\(sluice\) with ESMTP id \w+;", rcv), rcv
    assert m.get_payload() == "hello\n.leading dot\n"
    content = peer.received()[0][2]
    assert b"\n.leading dot" in content
    instance.wait_empty()
    log = instance.log()
    assert "connect from localhost[127.0.0.1]" in log
    assert "%s: client=localhost[127.0.0.1]" % qid in log
    assert re.search(r"disconnect from localhost\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=2 "
                     r"data=1 quit=1 commands=6", log), log[-2000:]


def test_received_names_the_one_recipient(instance):
    start(instance)
    with client(instance) as c:
        c.sendmail("a@client.example", ["alice@sluice.test"], b"Subject: one\r\n\r\nx\r\n")
    m = instance.wait_for(lambda: instance.maildir_messages("alice"), 30, "mail")[0]
    assert "for <alice@sluice.test>" in m["Received"]


TRICKS = [
    "victim@evil.test",
    "victim@EVIL.Test",
    "victim%evil.test@sluice.test",
    "victim!evil.test@sluice.test",
    "evil.test!victim@sluice.test",
    "@sluice.test:victim@evil.test",
    "@evil.test:victim@sluice.test",
    '"victim@evil.test"@sluice.test',
    "victim@evil.test.",
    "victim@evil.test@sluice.test",
    "victim%evil.test@localhost",
]


@pytest.mark.parametrize("rcpt", TRICKS)
def test_relay_tricks_refused_from_outside(instance, rcpt):
    start(instance)
    r = Raw(instance, outside=True)
    assert r.reply().startswith("220 ")
    assert r.cmd("EHLO outside.example").startswith("250")
    assert r.cmd("MAIL FROM:<x@outside.example>").startswith("250")
    rep = r.cmd("RCPT TO:<%s>" % rcpt)
    if rcpt.count("@") > 1 and not rcpt.startswith(("@", '"')):
        # Not an RFC 5321 path at all: refused as such.
        assert rep.startswith("501 5.1.3 "), (rcpt, rep)
        r.close()
        return
    assert rep.startswith("554 5.7.1 ") and "Relay access denied" in rep, (rcpt, rep)
    # The session goes on: a local recipient is still fine.
    assert r.cmd("RCPT TO:<alice@sluice.test>").startswith("250 2.1.5")
    assert r.cmd("QUIT").startswith("221")
    r.close()
    log = instance.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.9\]: 554 5\.7\.1 "
                            r"<[^>]*>: Relay access denied; from=<x@outside\.example> "
                            r"to=<[^>]*> proto=ESMTP helo=<outside\.example>")
    assert log


def test_relay_allowed_inside_mynetworks(instance, sink):
    peer = sink()
    start(instance, transport_maps="inline:{ evil.test=smtp:[127.0.0.1]:%d }" % peer.port)
    with client(instance) as c:
        assert c.sendmail("a@sluice.test", ["victim@evil.test"], b"Subject: r\r\n\r\nx\r\n") == {}
    instance.wait_for(lambda: peer.rcpts() == ["victim@evil.test"], 30, "relayed")


def test_default_relay_restrictions_defer(instance):
    instance.write_config(mynetworks="127.0.0.1/32")
    instance.start()
    r = Raw(instance, outside=True)
    r.reply()
    r.cmd("HELO outside.example")
    r.cmd("MAIL FROM:<>")
    assert r.cmd("RCPT TO:<v@evil.test>").startswith("454 4.7.1 <v@evil.test>: Relay access denied")
    r.close()


def test_unknown_restriction_is_a_configuration_error(instance):
    start(instance, smtpd_recipient_restrictions="permit_mynetworks, check_nonsense")
    r = Raw(instance)          # smtpd refuses to start; master throttles it
    instance.wait_log(r'smtpd_recipient_restrictions: unknown or unsupported restriction '
                      r'"check_nonsense"')
    r.close()


def test_size_at_mail_and_in_data(instance):
    start(instance, message_size_limit="2000")
    with client(instance) as c:
        c.ehlo("x.example")
        code, msg = c.mail("a@x.example", ["SIZE=5000"])
        assert code == 552 and msg.startswith(b"5.3.4")
        c.rset()
        code, _ = c.mail("a@x.example", ["SIZE=100"])
        assert code == 250
        assert c.rcpt("alice@sluice.test")[0] == 250
        code, msg = c.data(b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" * 1 + (b"y" * 78 + b"\r\n") * 40)
        assert code == 552 and msg.startswith(b"5.3.4"), msg
        # and the session goes on
        assert c.noop()[0] == 250
    time.sleep(0.5)
    assert instance.queue_ids("incoming") == [] and instance.maildir_messages("alice") == []


def test_bdat(instance):
    start(instance)
    r = Raw(instance)
    r.reply()
    r.cmd("EHLO x.example")
    r.cmd("MAIL FROM:<a@x.example>")
    r.cmd("RCPT TO:<alice@sluice.test>")
    part1 = b"Subject: chunks\r\n\r\nfirst "
    part2 = b"second\r\n"
    r.send(b"BDAT %d\r\n" % len(part1) + part1)
    assert r.reply().startswith("250 2.0.0 Ok: %d bytes" % len(part1))
    r.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    rep = r.reply()
    assert rep.startswith("250 2.0.0 Ok: queued as "), rep
    assert r.cmd("QUIT").startswith("221")
    m = instance.wait_for(lambda: instance.maildir_messages("alice"), 30, "mail")[0]
    assert m.get_payload() == "first second\n"


def test_dsn_parameters_reach_the_report(instance):
    start(instance, transport_maps="inline:{ bad.test=error:5.1.1 no such user here }")
    with client(instance) as c:
        c.ehlo("x.example")
        assert c.mail("alice@sluice.test", ["RET=HDRS", "ENVID=SMTP+2BENV"])[0] == 250
        assert c.rcpt("x@bad.test", ["NOTIFY=FAILURE", "ORCPT=rfc822;orig+40bad.test"])[0] == 250
        assert c.data(b"Subject: doomed\r\n\r\nbody\r\n")[0] == 250
    report = instance.wait_for(lambda: instance.maildir_messages("alice"), 30, "report")[0]
    parts = report.get_payload()
    blocks = parts[1].get_payload()
    assert blocks[0]["Original-Envelope-Id"] == "SMTP+ENV"
    assert blocks[1]["Original-Recipient"] == "rfc822; orig@bad.test"
    assert parts[2].get_content_type() == "text/rfc822-headers"


def test_silent_client_times_out(instance):
    start(instance, smtpd_timeout="2s")
    r = Raw(instance)
    assert r.reply().startswith("220")
    assert r.cmd("EHLO x.example").startswith("250")
    t0 = time.time()
    assert re.match(r"421 4\.4\.2 \S+ Error: timeout exceeded", r.reply())
    assert r.reply() is None          # closed by the server
    assert time.time() - t0 < 15
    r.close()
    instance.wait_log(r"timeout after EHLO from localhost\[127\.0\.0\.1\]")


def test_quit_reply_comes_with_the_close(instance):
    """After QUIT the 221 waits in the socket for close(), which sends it with
    the FIN in one segment: once the reply is read, the end of the stream is
    already there (with two segments the FIN comes after smtpd's last log
    line, while the client reads the reply)."""
    start(instance)
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", instance.smtpd_port), timeout=30)
        data = b""
        while not data.endswith(b"\r\n"):
            data += s.recv(512)
        assert data.startswith(b"220"), data
        s.sendall(b"QUIT\r\n")
        data = s.recv(512)
        assert data.startswith(b"221 2.0.0"), data
        s.setblocking(False)
        try:
            rest = s.recv(512)
        except BlockingIOError:
            rest = None
        s.close()
        assert rest == b"", "the 221 came without the end of the stream"


def test_error_limits(instance):
    start(instance, smtpd_hard_error_limit="3", smtpd_soft_error_limit="100")
    r = Raw(instance)
    r.reply()
    assert r.cmd("BOGUS").startswith("502 5.5.2")
    assert r.cmd("MAIL FROM:broken<").startswith("501 5.")
    rep = r.cmd("RCPT TO:<a@b.test>")
    assert rep.startswith("503 5.5.1"), rep
    assert r.reply().startswith("421 4.7.0")
    assert r.reply() is None
    r.close()
    instance.wait_log(r"too many errors after RCPT from localhost\[127\.0\.0\.1\]")


@pytest.mark.parametrize("line,code", [
    ("MAIL FROM:<a@b.test> SIZE=abc", "501 5.5.4"),
    ("MAIL FROM:<a@b.test> FOO=bar", "555 5.5.4"),
    ("MAIL FROM:<a@b.test> RET=NONE", "501 5.5.4"),
    ("MAIL FROM:<a@b.test> ENVID=bad+zz", "501 5.5.4"),
    ("MAIL FROM:<a b@c>", "501 5.1.7"),
    ("MAIL TO:<a@b.test>", "501 5.5.4"),
    ("RCPT TO:<a@b.test>", "503 5.5.1"),
    ("DATA", "503 5.5.1"),
    ("DATA extra", "501 5.5.4"),
    ("EHLO", "501"),
    ("X" * 3000, "500 5.5.2"),
])
def test_malformed_commands(instance, line, code):
    start(instance)
    r = Raw(instance)
    r.reply()
    rep = r.cmd(line)
    assert rep.startswith(code), (line[:40], rep)
    assert r.cmd("NOOP").startswith("250")
    r.close()


def test_pipelining(instance):
    start(instance)
    r = Raw(instance)
    r.reply()
    r.cmd("EHLO x.example")
    r.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<alice@sluice.test>\r\n"
           "RCPT TO:<v@evil.test>\r\nDATA\r\n")
    assert r.reply().startswith("250")
    assert r.reply().startswith("250")
    assert r.reply().startswith("250")     # inside mynetworks
    assert r.reply().startswith("354")
    r.send("Subject: piped\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert r.reply().startswith("250 2.0.0 Ok: queued as")
    assert r.reply().startswith("221")
    r.close()


def test_reject_unauth_pipelining(instance):
    start(instance, smtpd_client_restrictions="reject_unauth_pipelining")
    r = Raw(instance)
    r.reply()
    r.send("HELO x.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<alice@sluice.test>\r\n"
           "QUIT\r\n")
    assert r.reply().startswith("250")
    assert r.reply().startswith("250")
    rep = r.reply()
    assert rep.startswith("503 5.5.0") and "pipelining" in rep, rep
    r.close()


def smuggle(instance):
    r = Raw(instance)
    r.reply()
    r.cmd("EHLO x.example")
    r.cmd("MAIL FROM:<a@x.example>")
    r.cmd("RCPT TO:<alice@sluice.test>")
    assert r.cmd("DATA").startswith("354")
    r.send(b"Subject: first\r\n\r\nbody\n.\nMAIL FROM:<evil@x.example>\r\nmore\r.\r\nend\r\n.\r\n")
    return r


def test_bare_lf_never_ends_data(instance):
    start(instance)
    r = smuggle(instance)
    assert r.reply().startswith("250 2.0.0 Ok: queued as")
    assert r.cmd("QUIT").startswith("221")
    m = instance.wait_for(lambda: instance.maildir_messages("alice"), 30, "mail")
    assert len(m) == 1
    body = m[0].get_payload()
    assert "MAIL FROM:<evil@x.example>" in body and "end" in body


def test_bare_lf_rejected(instance):
    start(instance, smtpd_forbid_bare_newline="reject")
    r = smuggle(instance)
    rep = r.reply()
    assert rep.startswith("521 5.5.2") and "bare <LF> received" in rep, rep
    assert r.reply() is None
    r.close()
    time.sleep(0.5)
    assert instance.queue_ids("incoming") == [] and instance.maildir_messages("alice") == []


def test_client_vanishing_in_data_leaves_nothing(instance):
    start(instance)
    r = Raw(instance)
    r.reply()
    r.cmd("EHLO x.example")
    r.cmd("MAIL FROM:<a@x.example>")
    r.cmd("RCPT TO:<alice@sluice.test>")
    r.cmd("DATA")
    r.send("Subject: cut\r\n\r\nhalf a mess")
    r.close()
    instance.wait_log(r"lost connection after DATA from localhost")
    spool = instance.spool + "/incoming"
    import os
    assert [f for f in os.listdir(spool) if not f.startswith(".")] == []


def test_vrfy_and_disable(instance):
    start(instance, disable_vrfy_command="yes")
    r = Raw(instance)
    r.reply()
    assert r.cmd("VRFY alice").startswith("502 5.5.1")
    r.close()


def test_pregreet_talker_refused(instance):
    start(instance, smtpd_greet_wait="1s")
    r = Raw(instance)
    r.send("EHLO early.example\r\n")
    rep = r.reply()
    assert rep.startswith("554 5.5.1"), rep
    r.close()
    instance.wait_log(r"talked before the greeting")


def test_recipient_limit(instance):
    start(instance, smtpd_recipient_limit="2")
    with client(instance) as c:
        c.ehlo("x.example")
        c.mail("a@x.example")
        assert c.rcpt("alice@sluice.test")[0] == 250
        assert c.rcpt("bob@sluice.test")[0] == 250
        code, msg = c.rcpt("carol@sluice.test")
        assert code == 452 and msg.startswith(b"4.5.3")


@pytest.mark.skipif(shutil.which("smtp-source") is None, reason="no smtp-source")
def test_smtp_source_load(instance):
    start(instance, default_transport="discard", mydestination="")
    t0 = time.time()
    p = subprocess.run(["smtp-source", "-s", "10", "-m", "200", "-f", "a@x.example",
                        "-t", "b@remote.test", "127.0.0.1:%d" % instance.smtpd_port],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    instance.wait_for(lambda: instance.count_log(r"status=sent \(discarded\)") >= 200, 120,
                      "200 deliveries")
    print("200 messages over 10 sessions in %.1fs" % (time.time() - t0))
    assert instance.count_log(r": client=localhost\[127\.0\.0\.1\]") == 200
