"""End-to-end tests of the smtp delivery agent alone.

build/smtp runs as master would start it and is driven like the queue
manager drives it (smtp_peers.AgentHarness); the servers are aiosmtpd and
hand-written peers on 127.0.0.1 (smtp_peers.Peer), including hostile ones.
What is checked: the reply to the queue manager (status, hop_status,
session), the status logs in defer/ bounce/ trace/, the done marks in the
queue file, the maillog lines, and what the server received on the wire.
"""
import os
import random
import re
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import made_and_stopped
from smtp_peers import (FLAG_REUSE, FLAG_TRACE, FLAG_VERIFY, NOTIFY_FAILURE, NOTIFY_SUCCESS,
                        AgentHarness, Dns, Peer, can_run_dns, endless_line,
                        endless_multiline, garbage, hang_up, make_cert, megabyte_line_then_ok,
                        one_byte_per_second, server_context, silent)

DEL_STAT_FINAL, DEL_STAT_DEFER = 0, 1


@pytest.fixture
def agent():
    def make(**params):
        resolv = params.pop("_resolv", None)
        leak_check = params.pop("_leak_check", False)
        args = params.pop("_args", ())
        spawn = params.pop("_spawn", True)
        return AgentHarness(params, resolv=resolv, leak_check=leak_check, args=args, spawn=spawn)

    yield from made_and_stopped(make)


@pytest.fixture
def peer():
    yield from made_and_stopped(Peer)


def eventually(cond, timeout=5):
    """The peer runs on its own threads: give it a moment to see what was sent."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def quit_seen(session):
    return eventually(lambda: session.commands and session.commands[-1] == "QUIT")


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------ basics

def test_delivers_to_aiosmtpd(agent, sink):
    """Plain delivery to aiosmtpd: sent, done marks, Postfix-shaped log lines."""
    s = sink()
    a = agent()
    msg = a.message(["one@example.test", "two@example.test"],
                    body="From: a@example.test\nSubject: hi\n\nline one\nline two\n")
    r = a.deliver(msg, "[127.0.0.1]:%d" % s.port)
    assert r["status"] == DEL_STAT_FINAL and r["sent"] == 2, r
    assert r["hop_status"] == "" and r["session"] == ""
    got = s.received()
    assert len(got) == 1
    mail_from, rcpts, content = got[0]
    assert mail_from == "sender@example.test"
    assert sorted(rcpts) == ["one@example.test", "two@example.test"]
    assert b"line one\r\nline two\r\n" in content
    assert a.marks(msg) == {"one@example.test": "done", "two@example.test": "done"}
    lines = a.log_lines(msg.qid)
    assert len(lines) == 2
    for line in lines:
        assert re.search(r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, delay=[0-9.]+, "
                         r"delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, dsn=2\.0\.0, "
                         r"status=sent \(250 2\.0\.0 Ok: queued\)" % s.port, line), line
    assert a.status_log("defer", msg) == [] and a.status_log("bounce", msg) == []


def test_pipelining_dsn_8bit_dotstuffing(agent, peer):
    """MAIL, RCPTs and DATA in one write; DSN parameters, SIZE, BODY=8BITMIME;
    CRLF line ends and dot-stuffing on the wire."""
    p = peer()
    a = agent()
    body = ("From: a@example.test\nSubject: caf\u00e9\n\n.leading dot\n..two dots\n.\n"
            "last line without newline").encode()
    msg = a.message([{"address": "r1@example.test", "notify": NOTIFY_SUCCESS | NOTIFY_FAILURE,
                      "orcpt": "rfc822;orig+1@example.test"},
                     {"address": "r2@example.test", "orig": "alias@example.test"}],
                    body=body, envid="env id+1", ret="HDRS")
    r = a.deliver(msg, p.nexthop)
    assert r["status"] == DEL_STAT_FINAL and r["sent"] == 2, r
    sess = p.all_sessions()
    assert len(sess) == 1
    s = sess[0]
    # EHLO with our helo name; then one read holding MAIL + both RCPTs + DATA.
    assert s.commands[0] == "EHLO client.sluice.test"
    pipelined = [c for c in s.reads if c.startswith(b"MAIL FROM:")]
    assert len(pipelined) == 1, s.reads
    assert pipelined[0] == (
        b"MAIL FROM:<sender@example.test> SIZE=%d BODY=8BITMIME RET=HDRS ENVID=env+20id+2B1\r\n"
        b"RCPT TO:<r1@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2B1@example.test\r\n"
        b"RCPT TO:<r2@example.test> ORCPT=rfc822;alias@example.test\r\n"
        b"DATA\r\n" % msg.size)
    data = s.messages[0]["data"]
    assert data == ("From: a@example.test\r\nSubject: caf\u00e9\r\n\r\n..leading dot\r\n"
                    "...two dots\r\n..\r\nlast line without newline\r\n").encode()
    assert b"\n" not in data.replace(b"\r\n", b"")
    # The server speaks DSN: the success notice is its business, not ours.
    assert a.status_log("trace", msg) == []


def test_relayed_when_server_lacks_dsn(agent, peer):
    """NOTIFY=SUCCESS to a server without DSN: action "relayed" in trace/."""
    p = peer(ehlo=("PIPELINING",))
    a = agent()
    msg = a.message([{"address": "r@example.test", "notify": NOTIFY_SUCCESS}])
    r = a.deliver(msg, p.nexthop)
    assert r["sent"] == 1
    assert "NOTIFY" not in p.all_sessions()[0].commands[2]
    trace = a.status_log("trace", msg)
    assert len(trace) == 1 and trace[0]["action"] == "relayed", trace
    assert trace[0]["mta"] == "127.0.0.1" and trace[0]["diag_type"] == "smtp"


def test_per_recipient_outcomes(agent, peer):
    """One transaction: accepted, 4xx and 5xx recipients each get their own fate."""
    p = peer(replies={"RCPT temp@example.test": "451 4.2.0 mailbox busy",
                      "RCPT bad@example.test": "550 5.1.1 <bad@example.test>: no such user"})
    a = agent()
    msg = a.message(["ok@example.test", "temp@example.test", "bad@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["status"] == DEL_STAT_DEFER and r["hop_status"] == "", r
    assert (r["sent"], r["deferred"], r["bounced"]) == (1, 1, 1)
    assert len(p.messages()) == 1 and len(p.messages()[0]["rcpts"]) == 1
    assert a.marks(msg) == {"ok@example.test": "done", "temp@example.test": "todo",
                            "bad@example.test": "done"}
    defer = a.status_log("defer", msg)
    assert [d["recipient"] for d in defer] == ["temp@example.test"]
    assert defer[0]["status"] == "4.2.0" and defer[0]["diag_text"] == "451 4.2.0 mailbox busy"
    bounce = a.status_log("bounce", msg)
    assert [b["recipient"] for b in bounce] == ["bad@example.test"]
    assert bounce[0]["status"] == "5.1.1" and bounce[0]["action"] == "failed"
    assert bounce[0]["mta"] == "127.0.0.1" and bounce[0]["diag_type"] == "smtp"
    assert bounce[0]["diag_text"] == "550 5.1.1 <bad@example.test>: no such user"
    log = "\n".join(a.log_lines(msg.qid))
    assert ("to=<bad@example.test>, relay=127.0.0.1[127.0.0.1]:%d" % p.port) in log
    assert ("status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <bad@example.test>: "
            "no such user (in reply to RCPT TO command))") in log
    assert "dsn=4.2.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.2.0" in log
    assert re.search(r"to=<ok@example\.test>.*status=sent \(250 2\.0\.0 Ok: queued as PEER1\)",
                     log)


def test_no_recipient_accepted_means_no_data(agent, peer):
    """Without PIPELINING the client does not send DATA when nobody was accepted."""
    p = peer(ehlo=("SIZE 100000",), replies={"RCPT": "550 5.1.1 nobody here"})
    a = agent()
    msg = a.message(["x@example.test", "y@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["bounced"] == 2 and r["status"] == DEL_STAT_FINAL
    s = p.all_sessions()[0]
    assert quit_seen(s) and "DATA" not in s.commands


def test_pipelined_data_nobody_accepted(agent, peer):
    """Under PIPELINING DATA goes out anyway; a 354 for nobody is closed with "."."""
    p = peer(replies={"RCPT": "450 4.2.1 later", "DATA": "354 go ahead anyway"})
    a = agent()
    msg = a.message(["x@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1
    s = p.all_sessions()[0]
    assert quit_seen(s) and "DATA" in s.commands


@pytest.mark.parametrize("reply,field,status", [
    ("550 5.7.1 sender refused", "bounced", "5.7.1"),
    ("451 4.3.0 try later", "deferred", "4.3.0"),
])
def test_mail_from_refused(agent, peer, reply, field, status):
    """MAIL FROM refused: every recipient gets the reply; no hop failure."""
    p = peer(replies={"MAIL": reply})
    a = agent()
    msg = a.message(["a@example.test", "b@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r[field] == 2 and r["hop_status"] == "", r
    log = a.log()
    assert log.count("(in reply to MAIL FROM command)") == 2
    assert log.count("dsn=%s" % status) == 2


@pytest.mark.parametrize("replies,field,want", [
    ({"DATA": "554 5.3.0 no data for you"}, "bounced", "(in reply to DATA command)"),
    ({"DOT": "452 4.3.1 insufficient storage"}, "deferred", "(in reply to end of DATA command)"),
    ({"DOT": "554 5.6.0 content rejected"}, "bounced", "(in reply to end of DATA command)"),
])
def test_data_and_dot_refused(agent, peer, replies, field, want):
    p = peer(replies=replies)
    a = agent()
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r[field] == 1, r
    assert want in a.log()


def test_size_limit_bounces_before_mail(agent):
    """aiosmtpd announces SIZE 200: a larger message bounces 5.3.4, no MAIL sent."""
    from aiosmtpd.controller import Controller
    seen = []

    class Handler:
        async def handle_MAIL(self, server, session, envelope, address, options):
            seen.append(address)
            envelope.mail_from = address
            return "250 OK"
    port = closed_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, data_size_limit=200)
    ctl.start()
    try:
        a = agent()
        msg = a.message(["big@example.test"], body="Subject: big\n\n" + "x" * 1000 + "\n")
        r = a.deliver(msg, "[127.0.0.1]:%d" % port)
    finally:
        ctl.stop()
    assert r["bounced"] == 1 and r["status"] == DEL_STAT_FINAL
    assert seen == []
    b = a.status_log("bounce", msg)
    assert b[0]["status"] == "5.3.4"
    assert "message size %d exceeds size limit 200 of server" % msg.size in b[0]["reason"]


def test_helo_name_and_helo_fallback(agent, peer):
    """smtp_helo_name is used; a server that refuses EHLO gets HELO."""
    p = peer(ehlo=None)
    a = agent(smtp_helo_name="relay.example.test")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["sent"] == 1
    cmds = p.all_sessions()[0].commands
    assert cmds[:2] == ["EHLO relay.example.test", "HELO relay.example.test"]
    # No ESMTP: no parameters on MAIL FROM.
    assert cmds[2] == "MAIL FROM:<sender@example.test>"


def test_bind_address(agent, peer):
    """smtp_bind_address: the server sees that source address."""
    p = peer()
    a = agent(smtp_bind_address="127.0.0.7")
    msg = a.message(["a@example.test"])
    assert a.deliver(msg, p.nexthop)["sent"] == 1
    assert p.all_sessions()[0].client[0] == "127.0.0.7"


def test_line_length_limit(agent, peer):
    """Long lines: body lines broken, header lines folded, at smtp_line_length_limit."""
    p = peer()
    a = agent(smtp_line_length_limit="40")
    body = "Subject: " + "s" * 60 + "\n\n" + "b" * 100 + "\n"
    msg = a.message(["a@example.test"], body=body)
    assert a.deliver(msg, p.nexthop)["sent"] == 1
    data = p.messages()[0]["data"]
    lines = data.split(b"\r\n")
    assert max(len(l) for l in lines) <= 40
    assert lines[1].startswith(b" ")                 # header continuation
    assert b"".join(lines[3:]) == b"b" * 100         # body split, nothing lost


def test_verbose_logs_state_transitions(agent, peer):
    """smtp -v: every state change of the protocol machine is logged."""
    p = peer()
    a = agent(_args=["-v"])
    msg = a.message(["a@example.test"])
    assert a.deliver(msg, p.nexthop)["sent"] == 1
    log = a.log()
    for step in ("NONE -> GREETING", "GREETING -> EHLO", "EHLO -> READY", "READY -> MAIL",
                 "MAIL -> RCPT", "RCPT -> DATA", "DATA -> BODY", "BODY -> DOT", "DOT -> READY",
                 "READY -> QUIT"):
        assert "127.0.0.1[127.0.0.1]: " + step in log, (step, log)


def test_address_probe_sends_no_data(agent, peer):
    """sendmail -bv: MAIL and RCPT only; results go to trace/."""
    p = peer(replies={"RCPT no@example.test": "550 5.1.1 unknown"})
    a = agent()
    msg = a.message(["yes@example.test", "no@example.test"])
    r = a.deliver(msg, p.nexthop, flags=FLAG_VERIFY)
    assert r["status"] == DEL_STAT_FINAL
    s = p.all_sessions()[0]
    assert quit_seen(s) and "DATA" not in s.commands and p.messages() == []
    trace = {t["recipient"]: t["action"] for t in a.status_log("trace", msg)}
    assert trace == {"yes@example.test": "deliverable", "no@example.test": "undeliverable"}


# ------------------------------------------------------------------ hop failures

def test_connection_refused_is_hop_failure(agent):
    a = agent()
    port = closed_port()
    msg = a.message(["a@example.test", "b@example.test"])
    r = a.deliver(msg, "[127.0.0.1]:%d" % port)
    reason = "connect to 127.0.0.1[127.0.0.1]:%d: Connection refused" % port
    assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 2
    assert r["hop_status"] == "4.4.1" and r["hop_reason"] == reason
    d = a.status_log("defer", msg)
    assert [x["reason"] for x in d] == [reason, reason]
    assert "relay=none" in a.log_lines(msg.qid)[0]
    assert a.marks(msg) == {"a@example.test": "todo", "b@example.test": "todo"}


@pytest.mark.parametrize("greeting,status", [
    ("421 4.3.2 too busy, go away", "4.3.2"),
    ("554 5.7.1 you are not welcome", "4.7.1"),
])
def test_greeting_refused(agent, peer, greeting, status):
    """A refused greeting defers (smtp_skip_5xx_greeting = yes) as a hop failure."""
    p = peer(greeting=greeting)
    a = agent()
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1 and r["hop_status"] == status, r
    assert r["hop_reason"] == "host 127.0.0.1[127.0.0.1] refused to talk to me: " + greeting
    d = a.status_log("defer", msg)[0]
    assert d["diag_text"] == greeting and d["mta"] == "127.0.0.1"


def test_5xx_greeting_bounces_without_skip(agent, peer):
    p = peer(greeting="554 5.7.1 no mail here")
    a = agent(smtp_skip_5xx_greeting="no")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["bounced"] == 1 and r["hop_status"] == ""
    assert a.status_log("bounce", msg)[0]["status"] == "5.7.1"


def test_ehlo_and_helo_refused(agent, peer):
    p = peer(ehlo=None, replies={"HELO": "550 5.7.1 no HELO for you"})
    a = agent()
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1 and r["hop_status"] == "4.7.1", r
    assert "(in reply to HELO command)" in r["hop_reason"]


# ------------------------------------------------------------------ hostile servers

@pytest.mark.parametrize("behaviour,params,want,limit", [
    (garbage, {}, "conversation with 127.0.0.1[127.0.0.1] failed while receiving the initial "
     "server greeting: malformed reply: no reply code", 5),
    (endless_multiline, {}, "malformed reply: too many lines", 5),
    (endless_line, {}, "malformed reply: reply too long", 10),
    (one_byte_per_second, {"smtp_helo_timeout": "3s"},
     "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server "
     "greeting", 7),
    (silent, {"smtp_helo_timeout": "2s"}, "timed out while receiving the initial server "
     "greeting", 6),
    (hang_up, {}, "lost connection with 127.0.0.1[127.0.0.1] while receiving the initial "
     "server greeting", 5),
])
def test_hostile_greetings(agent, peer, behaviour, params, want, limit):
    """Hostile servers end in a clear deferral within the time limits."""
    p = peer(behaviour=behaviour)
    a = agent(**params)
    msg = a.message(["a@example.test"])
    t0 = time.time()
    r = a.deliver(msg, p.nexthop)
    took = time.time() - t0
    assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 1, r
    assert want in r["hop_reason"], r
    assert r["hop_status"] in ("4.4.2", "4.5.0")
    assert took < limit, took
    assert want in a.status_log("defer", msg)[0]["reason"]


def test_megabyte_reply_line_is_survived(agent, peer):
    """A 2 MB greeting line is cut to its first 2 KB; the delivery goes on."""
    p = peer(behaviour=megabyte_line_then_ok)
    a = agent()
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["sent"] == 1, (r, a.log())
    assert p.all_sessions()[0].messages == ["DATA", "DONE"]


def test_timeout_in_rcpt_is_not_hop_failure(agent, peer):
    """A server that goes quiet after MAIL: RCPT time-out, deferred, no hop failure."""
    p = peer(ehlo=("SIZE 100000",), replies={"RCPT": lambda s: time.sleep(4) or None})
    a = agent(smtp_rcpt_timeout="2s")
    msg = a.message(["a@example.test"])
    t0 = time.time()
    r = a.deliver(msg, p.nexthop)
    assert time.time() - t0 < 5
    assert r["deferred"] == 1 and r["hop_status"] == "", r
    assert ("conversation with 127.0.0.1[127.0.0.1] timed out while sending RCPT TO"
            in a.status_log("defer", msg)[0]["reason"])


def test_lost_connection_after_data(agent, peer):
    p = peer(replies={"DOT": "CLOSE"})
    a = agent()
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1 and r["hop_status"] == ""
    assert ("lost connection with 127.0.0.1[127.0.0.1] while sending end of data -- message "
            "may be sent more than once") in a.status_log("defer", msg)[0]["reason"]


def test_reply_421_mid_transaction(agent, peer):
    """421 to a RCPT: that recipient gets it; the session is not reused."""
    p = peer(ehlo=("SIZE 100000",), replies={"RCPT b@example.test": "421 4.3.2 shutting down"})
    a = agent()
    msg = a.message(["a@example.test", "b@example.test", "c@example.test"])
    c = a.connect()
    r = a.request(c, msg, p.nexthop, flags=FLAG_REUSE)
    assert r["deferred"] == 3 and r["session"] == "", r
    d = {x["recipient"]: x for x in a.status_log("defer", msg)}
    assert d["b@example.test"]["status"] == "4.3.2"
    assert "DATA" not in p.all_sessions()[0].commands


# ------------------------------------------------------------------ TLS

@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="sluice-certs-")
    os.chmod(d, 0o755)
    good = make_cert(d, "localhost", names=["localhost"], ips=["127.0.0.1"])
    other = make_cert(d, "mx.other.test", names=["mx.other.test"])
    yield {"dir": d, "good": good, "other": other}
    subprocess.run(["rm", "-rf", d])


def test_starttls_may(agent, peer, certs):
    p = peer(tls=server_context(*certs["good"]))
    a = agent(smtp_tls_security_level="may", smtp_tls_loglevel="1")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["sent"] == 1
    s = p.all_sessions()[0]
    assert s.tls and s.commands.count("EHLO client.sluice.test") == 2
    assert re.search(r"Untrusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:"
                     r"%d: TLSv1\.[23] with cipher" % p.port, a.log())


def test_starttls_aiosmtpd_encrypt(agent, certs):
    """aiosmtpd with STARTTLS under the encrypt level."""
    from aiosmtpd.controller import Controller
    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append((session.ssl is not None, envelope.content))
            return "250 2.0.0 Ok"
    port = closed_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port,
                     tls_context=server_context(*certs["good"]), require_starttls=True)
    ctl.start()
    try:
        a = agent(smtp_tls_security_level="encrypt")
        msg = a.message(["a@example.test"])
        r = a.deliver(msg, "[127.0.0.1]:%d" % port)
    finally:
        ctl.stop()
    assert r["sent"] == 1, a.log()
    assert got and got[0][0] is True


def test_encrypt_without_starttls(agent, peer):
    p = peer()
    a = agent(smtp_tls_security_level="encrypt")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1 and r["hop_status"] == "4.7.5"
    assert r["hop_reason"] == ("TLS is required, but was not offered by host "
                               "127.0.0.1[127.0.0.1]")
    assert p.messages() == []


def test_verify_good_certificate(agent, peer, certs):
    p = peer(tls=server_context(*certs["good"]))
    a = agent(smtp_tls_security_level="verify", smtp_tls_CAfile=certs["good"][0],
              smtp_tls_loglevel="1")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, "[localhost]:%d" % p.port)
    assert r["sent"] == 1, a.log()
    assert "Verified TLS connection established to localhost[" in a.log()


def test_verify_address_literal(agent, peer, certs):
    """[127.0.0.1]: the certificate's IP address entry is what must match."""
    p = peer(tls=server_context(*certs["good"]))
    a = agent(smtp_tls_security_level="verify", smtp_tls_CAfile=certs["good"][0],
              smtp_tls_loglevel="1")
    msg = a.message(["a@example.test"])
    assert a.deliver(msg, p.nexthop)["sent"] == 1, a.log()
    assert "Verified TLS connection established to 127.0.0.1[" in a.log()
    # The other certificate has no such entry.
    p2 = peer(tls=server_context(*certs["other"]))
    a2 = agent(smtp_tls_security_level="verify", smtp_tls_CAfile=certs["other"][0])
    r = a2.deliver(a2.message(["a@example.test"]), p2.nexthop)
    assert r["deferred"] == 1 and "name does not match 127.0.0.1" in r["hop_reason"], r


@pytest.mark.parametrize("which,cafile,want", [
    ("other", "other", "server certificate not verified: name does not match localhost"),
    ("good", "other", "server certificate not trusted: self-signed certificate"),
])
def test_verify_bad_certificate(agent, peer, certs, which, cafile, want):
    p = peer(tls=server_context(*certs[which]))
    a = agent(smtp_tls_security_level="verify", smtp_tls_CAfile=certs[cafile][0])
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, "[localhost]:%d" % p.port)
    assert r["deferred"] == 1 and r["hop_status"] == "4.7.5", r
    assert want in r["hop_reason"], r
    assert p.messages() == []


def test_secure_matches_nexthop_subdomain(agent, peer, certs):
    """secure: nexthop, dot-nexthop; a certificate for mx.other.test fits
    next hop "other.test" only by dot-nexthop (checked with a literal name list)."""
    p = peer(tls=server_context(*certs["other"]))
    a = agent(smtp_tls_security_level="secure", smtp_tls_CAfile=certs["other"][0],
              smtp_tls_secure_cert_match="nexthop, dot-nexthop, .other.test")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, "[localhost]:%d" % p.port)
    assert r["sent"] == 1, a.log()


def test_may_falls_back_to_plain_after_failed_handshake(agent, peer):
    """Opportunistic TLS: a broken handshake costs nothing; plain text next time."""
    import ssl as _ssl
    bad = _ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER)   # no certificate: handshake fails
    p = peer(tls=bad)
    a = agent(smtp_tls_security_level="may")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["sent"] == 1, a.log()
    sess = p.all_sessions()
    assert len(sess) == 2
    assert "STARTTLS" in sess[0].commands and "STARTTLS" not in sess[1].commands
    assert "trying again without TLS" in a.log()


def test_encrypt_failed_handshake(agent, peer):
    import ssl as _ssl
    p = peer(tls=_ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER))
    a = agent(smtp_tls_security_level="encrypt")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1 and r["hop_status"] == "4.7.5"
    assert r["hop_reason"].startswith("Cannot start TLS with 127.0.0.1[127.0.0.1]: ")
    assert len(p.all_sessions()) == 1


# ------------------------------------------------------------------ connection reuse

def test_reuse_one_connection_rset_between(agent, peer):
    p = peer()
    a = agent(smtp_connection_cache_time_limit="5s")
    m1 = a.message(["a@example.test"])
    m2 = a.message(["b@example.test"])
    c = a.connect()
    r1 = a.request(c, m1, p.nexthop, flags=FLAG_REUSE)
    assert r1["sent"] == 1 and r1["session"] == p.nexthop, r1
    r2 = a.request(c, m2, p.nexthop, flags=FLAG_REUSE)
    assert r2["sent"] == 1 and r2["session"] == p.nexthop
    sess = p.all_sessions()
    assert len(sess) == 1
    cmds = [x.split(":")[0].split(" ")[0] for x in sess[0].commands]
    assert cmds == ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA"]
    l1, l2 = a.log_lines(m1.qid)[0], a.log_lines(m2.qid)[0]
    assert "relay=127.0.0.1[127.0.0.1]:%d, delay=" % p.port in l1
    assert "relay=127.0.0.1[127.0.0.1]:%d, conn_use=2, delay=" % p.port in l2
    # The queue manager goes away: the session is closed with QUIT.
    c.close()
    a.conns.remove(c)
    assert quit_seen(sess[0])


def test_no_reuse_without_flag(agent, peer):
    p = peer()
    a = agent()
    c = a.connect()
    for i in range(2):
        r = a.request(c, a.message(["a%d@example.test" % i]), p.nexthop)
        assert r["sent"] == 1 and r["session"] == ""
    assert len(p.all_sessions()) == 2
    assert all(quit_seen(s) for s in p.all_sessions())


def test_reuse_idle_limit_closes(agent, peer):
    """After smtp_connection_cache_time_limit idle seconds the session is closed."""
    p = peer()
    a = agent(smtp_connection_cache_time_limit="1s")
    c = a.connect()
    r = a.request(c, a.message(["a@example.test"]), p.nexthop, flags=FLAG_REUSE)
    assert r["session"] == p.nexthop
    s = p.all_sessions()[0]
    assert quit_seen(s)
    r = a.request(c, a.message(["b@example.test"]), p.nexthop, flags=FLAG_REUSE)
    assert r["sent"] == 1
    assert len(p.all_sessions()) == 2


def test_reuse_count_limit(agent, peer):
    p = peer()
    a = agent(smtp_connection_reuse_count_limit="2", smtp_connection_cache_time_limit="5s")
    c = a.connect()
    sessions = []
    for i in range(4):
        r = a.request(c, a.message(["a%d@example.test" % i]), p.nexthop, flags=FLAG_REUSE)
        assert r["sent"] == 1
        sessions.append(r["session"])
    assert sessions == [p.nexthop, "", p.nexthop, ""]
    assert len(p.all_sessions()) == 2


def test_failed_rset_reconnects(agent, peer):
    """A cached session whose RSET fails is dropped; a new one delivers."""
    p = peer(replies={"RSET": "421 4.3.2 bye"})
    a = agent(smtp_connection_cache_time_limit="5s")
    c = a.connect()
    assert a.request(c, a.message(["a@example.test"]), p.nexthop, flags=FLAG_REUSE)["sent"] == 1
    m2 = a.message(["b@example.test"])
    r = a.request(c, m2, p.nexthop, flags=FLAG_REUSE)
    assert r["sent"] == 1 and r["hop_status"] == ""
    assert len(p.all_sessions()) == 2
    assert "conn_use" not in a.log_lines(m2.qid)[0]


def test_other_nexthop_closes_cached(agent, peer):
    p1, p2 = peer(), peer()
    a = agent(smtp_connection_cache_time_limit="5s")
    c = a.connect()
    assert a.request(c, a.message(["a@example.test"]), p1.nexthop,
                     flags=FLAG_REUSE)["session"] == p1.nexthop
    r = a.request(c, a.message(["b@example.test"]), p2.nexthop, flags=FLAG_REUSE)
    assert r["sent"] == 1 and r["session"] == p2.nexthop
    assert quit_seen(p1.all_sessions()[0])


# ------------------------------------------------------------------ next addresses, DNS

def test_host_port_without_mx(agent, peer):
    """"host:port" is looked up as a host (no MX look-up), natively here."""
    p = peer()
    a = agent(smtp_host_lookup="native", smtp_address_preference="ipv4")
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, "localhost:%d" % p.port)
    assert r["sent"] == 1, a.log()
    assert "relay=localhost[127.0.0.1]:%d" % p.port in a.log_lines(msg.qid)[0]


def test_no_leaks_or_errors_after_many_outcomes(agent, peer, certs):
    """One agent process through sent, bounced, deferred, reused, refused,
    TLS and hostile deliveries, then a normal exit (max_idle): no sanitizer
    report (leaks included) and no warning in the maillog."""
    good = peer(replies={"RCPT bad@example.test": "550 5.1.1 no"},
                tls=server_context(*certs["good"]))
    bad = peer(behaviour=endless_multiline)
    a = agent(max_idle="2s", smtp_tls_security_level="may",
              smtp_connection_cache_time_limit="1s", _leak_check=True, _spawn=False)
    # Every queue file before the agent starts: it waits at most max_idle
    # for the next request, and a message is two qfmake runs, which can take
    # longer than 2 s on a loaded machine (the agent then hangs up).
    good_msgs = [a.message(["ok%d@example.test" % i, "bad@example.test"]) for i in range(3)]
    x_msgs = [a.message(["x@example.test"]) for i in range(3)]
    refused = "[127.0.0.1]:%d" % closed_port()
    a.spawn()
    c = a.connect()
    for m in good_msgs:
        assert a.request(c, m, good.nexthop, flags=FLAG_REUSE)["sent"] == 1
    assert a.request(c, x_msgs[0], bad.nexthop)["deferred"] == 1
    assert a.request(c, x_msgs[1], refused)["deferred"] == 1
    assert a.request(c, x_msgs[2], "[bad")["deferred"] == 1
    c.close()
    a.conns.remove(c)
    assert a.proc.wait(20) == 0
    assert "warning:" not in a.log(), a.log()
    # The fixture's stop() fails the test on any sanitizer report.


DNS_SKIP = can_run_dns()

# The MX hosts listen on port 25 (an MX has no port) at addresses of a /24
# of 127/8 picked at random, so that two test runs at once do not meet.
NET = "127.%d.%d." % (random.randint(1, 254), random.randint(1, 254))
MX1, MX2, MX3 = NET + "11", NET + "12", NET + "13"



@pytest.fixture
def dns():
    if DNS_SKIP:
        pytest.skip(DNS_SKIP)
    made = []

    def make(**kw):
        base = tempfile.mkdtemp(prefix="sluice-dns-")
        d = Dns(base, **kw)
        made.append((d, base))
        return d
    yield make
    for d, base in made:
        d.stop()
        subprocess.run(["rm", "-rf", base])


def port25_peer(peer, ip, **kw):
    try:
        return peer(host=ip, port=25, **kw)
    except OSError as e:
        pytest.skip("cannot listen on %s:25: %s" % (ip, e))


def test_mx_preference_order(agent, peer, dns):
    """The first MX refuses connections, the second accepts: delivered via the
    second, in preference order (the records are listed worst first)."""
    good = port25_peer(peer, MX2)
    d = dns(mx=[("mx-order.test", "mx2.mx-order.test", 20),
                ("mx-order.test", "mx1.mx-order.test", 10)],
            hosts=[("mx1.mx-order.test", MX1), ("mx2.mx-order.test", MX2)])
    a = agent(smtp_host_lookup="dns", _resolv=d.resolv)
    msg = a.message(["user@mx-order.test"])
    r = a.deliver(msg, "mx-order.test")
    assert r["sent"] == 1, a.log()
    log = a.log()
    first = log.index("connect to mx1.mx-order.test[%s]:25: Connection refused" % MX1)
    sent = log.index("relay=mx2.mx-order.test[%s]:25" % MX2)
    assert first < sent
    assert len(good.all_sessions()) == 1


def test_mx_best_first_is_used(agent, peer, dns):
    good = port25_peer(peer, MX2)
    other = port25_peer(peer, MX3)
    d = dns(mx=[("best.test", "b.best.test", 50), ("best.test", "a.best.test", 5)],
            hosts=[("a.best.test", MX2), ("b.best.test", MX3)])
    a = agent(smtp_host_lookup="dns", _resolv=d.resolv)
    msg = a.message(["user@best.test"])
    assert a.deliver(msg, "best.test")["sent"] == 1
    assert len(good.all_sessions()) == 1 and other.all_sessions() == []


def test_mx_greeting_refused_tries_next(agent, peer, dns):
    port25_peer(peer, MX1, greeting="421 4.3.2 busy")
    good = port25_peer(peer, MX2)
    d = dns(mx=[("busy.test", "mx1.busy.test", 10), ("busy.test", "mx2.busy.test", 20)],
            hosts=[("mx1.busy.test", MX1), ("mx2.busy.test", MX2)])
    a = agent(smtp_host_lookup="dns", _resolv=d.resolv)
    msg = a.message(["user@busy.test"])
    r = a.deliver(msg, "busy.test")
    assert r["sent"] == 1 and r["hop_status"] == ""
    assert "host mx1.busy.test[%s] refused to talk to me: 421 4.3.2 busy" % MX1 in a.log()
    assert len(good.all_sessions()) == 1


def test_equal_preferences_spread(agent, peer, dns):
    p1 = port25_peer(peer, MX2)
    p2 = port25_peer(peer, MX3)
    d = dns(mx=[("equal.test", "m1.equal.test", 10), ("equal.test", "m2.equal.test", 10)],
            hosts=[("m1.equal.test", MX2), ("m2.equal.test", MX3)])
    a = agent(smtp_host_lookup="dns", _resolv=d.resolv)
    c = a.connect()
    for i in range(16):
        assert a.request(c, a.message(["u%d@equal.test" % i]), "equal.test")["sent"] == 1
    n1, n2 = len(p1.all_sessions()), len(p2.all_sessions())
    assert n1 + n2 == 16 and n1 > 0 and n2 > 0, (n1, n2)


def test_no_mx_uses_address_record(agent, peer, dns):
    good = port25_peer(peer, MX2)
    d = dns(hosts=[("nomx.test", MX2)])
    a = agent(smtp_host_lookup="dns", _resolv=d.resolv)
    msg = a.message(["user@nomx.test"])
    assert a.deliver(msg, "nomx.test")["sent"] == 1, a.log()
    assert "relay=nomx.test[%s]:25" % MX2 in a.log_lines(msg.qid)[0]
    assert len(good.all_sessions()) == 1


def test_unknown_domain_bounces(agent, dns):
    d = dns()
    a = agent(smtp_host_lookup="dns", _resolv=d.resolv)
    msg = a.message(["user@nowhere.test"])
    r = a.deliver(msg, "nowhere.test")
    assert r["bounced"] == 1 and r["hop_status"] == "", r
    b = a.status_log("bounce", msg)[0]
    assert b["status"] == "5.4.4"
    assert b["reason"] == ("Host or domain name not found. Name service error for "
                           "name=nowhere.test type=MX: Host not found")


def test_mx_address_limit(agent, peer, dns):
    """smtp_mx_address_limit = 1: only the best MX is tried."""
    good = port25_peer(peer, MX2)
    d = dns(mx=[("lim.test", "mx1.lim.test", 10), ("lim.test", "mx2.lim.test", 20)],
            hosts=[("mx1.lim.test", MX1), ("mx2.lim.test", MX2)])
    a = agent(smtp_host_lookup="dns", smtp_mx_address_limit="1", _resolv=d.resolv)
    msg = a.message(["user@lim.test"])
    r = a.deliver(msg, "lim.test")
    assert r["deferred"] == 1 and r["hop_status"] == "4.4.1"
    assert good.all_sessions() == []


def test_disable_dns_lookups_skips_mx(agent, peer, dns):
    """disable_dns_lookups = yes: no MX look-up; the domain's own address
    (found natively) is used even though its MX points elsewhere."""
    good = port25_peer(peer, MX2)
    d = dns(mx=[("nodns.test", "mx1.nodns.test", 10)],
            hosts=[("mx1.nodns.test", MX1), ("nodns.test", MX2)])
    a = agent(disable_dns_lookups="yes", _resolv=d.resolv)
    msg = a.message(["user@nodns.test"])
    r = a.deliver(msg, "nodns.test")
    assert r["sent"] == 1, a.log()
    assert "relay=nodns.test[%s]:25" % MX2 in a.log_lines(msg.qid)[0]
    assert "mx1.nodns.test" not in a.log()
    assert len(good.all_sessions()) == 1


def test_resolver_failure_defers(agent, dns):
    """A resolver that cannot answer (dnsmasq refuses names outside .test):
    deferred with 4.4.3, and the next hop is reported as failed."""
    d = dns()
    a = agent(smtp_host_lookup="dns", _resolv=d.resolv)
    msg = a.message(["user@example.invalid"])
    r = a.deliver(msg, "example.invalid")
    assert r["deferred"] == 1 and r["hop_status"] == "4.4.3", r
    assert r["hop_reason"] == ("Host or domain name not found. Name service error for "
                               "name=example.invalid type=MX: Host not found, try again")


def test_reuse_through_the_queue_manager(instance, sink):
    """The whole system: a burst to one destination makes the queue manager
    ask for session reuse; the agents keep sessions open and the queue
    manager feeds them their next hop, so far fewer SMTP sessions than
    messages are made, and the log shows conn_use=N."""
    s = sink()
    instance.write_config(
        transport_maps="inline:{ burst.test=smtp:[127.0.0.1]:%d }" % s.port,
        smtp_connection_cache_time_limit="5s")
    n = 40
    for i in range(n):
        instance.inject(["u%d@burst.test" % i], kick=False)
    instance.start()
    instance.wait_for(lambda: len(s.received()) == n, 60, "the burst to be delivered")
    log = instance.log()
    assert log.count("status=sent") == n
    assert re.search(r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, conn_use=\d+, delay=" % s.port,
                     log), log[-3000:]
    assert s.sessions < n / 2, s.sessions
