"""XFORWARD from the smtp and lmtp agents (smtp_send_xforward_command,
lmtp_send_xforward_command): mail taken by sluice's smtpd (Python's smtplib
from 127.0.0.9) or by its sendmail, relayed through transport_maps to an
aiosmtpd server that announces XFORWARD and records every XFORWARD line.

What must hold: the attributes the queue file recorded arrive (NAME ADDR
PORT in one command, PROTO HELO IDENT SOURCE in the next, ahead of MAIL
FROM, never inside a transaction), only those the server announced,
xtext-encoded, [UNAVAILABLE] for what is not known; nothing without the
parameter or without the announcement; a refused XFORWARD costs a warning
and the mail still goes (Postfix's smtp client does the same), while 421
defers it with the server's reply.  Postfix's own smtpd (pf_peer.py), told
to take XFORWARD from loopback, reads what sluice sent.  On the wire (the
agent alone, AgentHarness, and smtp_peers.Peer): under PIPELINING the
XFORWARD lines go in the same write as MAIL, RCPT and DATA; without it each
is a round trip; a reused session sends them again for each message."""
import re
import smtplib

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from conftest import Recording, free_port, made_and_stopped
from pf_peer import PostfixSmtpd, can_run_postfix
from smtp_peers import FLAG_REUSE, AgentHarness, Peer
from smtpd_client import OUTSIDE, start

ALL = "NAME ADDR PORT PROTO HELO IDENT SOURCE"


class XforwardServer(Recording):
    """aiosmtpd (LMTP with lmtp=True) that announces "XFORWARD <announce>"
    (announce None: no XFORWARD line) and PIPELINING, answers XFORWARD with
    reply (503 inside a transaction, as Postfix's smtpd does) and records
    each message with the XFORWARD lines that came before its MAIL FROM."""

    def __init__(self, announce=ALL, reply="250 2.0.0 Ok", lmtp=False):
        super().__init__()
        self.lines = []        # every XFORWARD argument, in order
        self.inside = []       # XFORWARD lines sent inside a transaction
        srv = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                extra = ["250-PIPELINING"]
                if announce is not None:
                    extra.append("250-XFORWARD " + announce)
                return responses[:-1] + extra + responses[-1:]

            async def handle_DATA(self, server, session, envelope):
                srv.record({"mail": envelope.mail_from, "rcpts": list(envelope.rcpt_tos),
                            "content": envelope.content,
                            "xforward": list(getattr(session, "xforward", []))})
                session.xforward = []
                return "250 2.0.0 Ok: queued"

        class Server(LMTP if lmtp else SMTP):
            async def smtp_XFORWARD(self, arg):
                if self.envelope.mail_from is not None:
                    srv.inside.append(arg)
                    await self.push("503 5.5.1 Error: MAIL transaction in progress")
                    return
                with srv.lock:
                    srv.lines.append(arg)
                self.session.xforward = getattr(self.session, "xforward", []) + [arg]
                await self.push(reply)

        class Ctl(Controller):
            def factory(self):
                return Server(self.handler, **self.SMTP_kwargs)

        self.port = free_port()
        self.controller = Ctl(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.fixture
def xserver():
    yield from made_and_stopped(XforwardServer)


def xtext_decode(v):
    return re.sub(r"\+([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), v)


def attrs_of(lines):
    """The attributes of XFORWARD lines: {NAME: decoded value}; every
    attribute must come once only."""
    out = {}
    for line in lines:
        for word in line.split():
            name, _, value = word.partition("=")
            assert name.upper() not in out, lines
            out[name.upper()] = xtext_decode(value)
    return out


def relay_to(instance, server, transport="smtp", **params):
    hop = ("lmtp:inet:127.0.0.1:%d" if transport == "lmtp" else "smtp:[127.0.0.1]:%d") \
        % server.port
    p = dict(mynetworks="127.0.0.0/8", transport_maps="inline:{ remote.test=%s }" % hop)
    p.update(params)
    start(instance, **p)


def submit(instance, helo="helo.client.example", rcpt="bob@remote.test"):
    """Mail over SMTP from 127.0.0.9: its queue ID and the client's port."""
    with smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=30,
                      source_address=(OUTSIDE, 0)) as c:
        port = c.sock.getsockname()[1]
        code, _ = c.ehlo(helo)
        assert code == 250
        c.sendmail("someone@client.example", [rcpt],
                   b"Subject: xforward\r\n\r\nhello\r\n")
    m = instance.wait_log(r"(\w+): client=\S+\[127\.0\.0\.9\]")
    return m[-1], port


def sent(instance, qid):
    instance.wait_log(r"%s: to=<bob@remote\.test>.*status=sent" % qid)


@pytest.mark.parametrize("rewrite_clients,source", [
    ("permit_sasl_authenticated", "REMOTE"),
    ("permit_mynetworks", "LOCAL"),
])
def test_client_attributes_forwarded(instance, xserver, rewrite_clients, source):
    s = xserver()
    relay_to(instance, s, smtp_send_xforward_command="yes",
             local_header_rewrite_clients=rewrite_clients)
    qid, port = submit(instance)
    sent(instance, qid)
    msgs = s.received()
    assert len(msgs) == 1 and msgs[0]["rcpts"] == ["bob@remote.test"]
    lines = msgs[0]["xforward"]
    # Postfix's two commands: the client, then the rest; ahead of MAIL FROM.
    assert len(lines) == 2, lines
    assert [w.split("=")[0] for w in lines[0].split()] == ["NAME", "ADDR", "PORT"], lines
    assert [w.split("=")[0] for w in lines[1].split()] == ["PROTO", "HELO", "IDENT",
                                                           "SOURCE"], lines
    a = attrs_of(lines)
    # 127.0.0.9 has no reverse name: "unknown" in the queue file, not known here.
    assert a["NAME"] == "[UNAVAILABLE]"
    assert a["ADDR"] == "127.0.0.9"
    assert a["PORT"] in ("[UNAVAILABLE]", str(port))
    assert a["PROTO"] == "ESMTP"
    assert a["HELO"] == "helo.client.example"
    assert a["IDENT"] == qid
    assert a["SOURCE"] == source
    assert s.inside == []


def test_sendmail_mail_has_no_client(instance, xserver):
    s = xserver()
    relay_to(instance, s, smtp_send_xforward_command="yes")
    instance.sendmail(["bob@remote.test"])
    m = instance.wait_log(r"(\w+): to=<bob@remote\.test>.*status=sent")
    a = attrs_of(s.received()[0]["xforward"])
    assert a == {"NAME": "[UNAVAILABLE]", "ADDR": "[UNAVAILABLE]", "PORT": "[UNAVAILABLE]",
                 "PROTO": "[UNAVAILABLE]", "HELO": "[UNAVAILABLE]", "IDENT": m[-1],
                 "SOURCE": "LOCAL"}


def test_off_by_default(instance, xserver):
    s = xserver()
    relay_to(instance, s)
    qid, _ = submit(instance)
    sent(instance, qid)
    assert len(s.received()) == 1
    assert s.lines == []


def test_not_announced_not_sent(instance, xserver):
    s = xserver(announce=None)
    relay_to(instance, s, smtp_send_xforward_command="yes")
    qid, _ = submit(instance)
    sent(instance, qid)
    assert len(s.received()) == 1
    assert s.lines == []


def test_only_announced_attributes(instance, xserver):
    s = xserver(announce="addr helo FUTURE")
    relay_to(instance, s, smtp_send_xforward_command="yes")
    qid, _ = submit(instance)
    sent(instance, qid)
    lines = s.received()[0]["xforward"]
    assert lines == ["ADDR=127.0.0.9", "HELO=helo.client.example"], lines


def test_xtext_encoding(instance, xserver):
    """A HELO name with "+" and "=" (smtpd takes it as it came) goes out as
    xtext and comes back whole."""
    s = xserver()
    relay_to(instance, s, smtp_send_xforward_command="yes")
    qid, _ = submit(instance, helo="odd+helo=name")
    sent(instance, qid)
    lines = s.received()[0]["xforward"]
    assert "HELO=odd+2Bhelo+3Dname" in lines[1].split(), lines
    assert attrs_of(lines)["HELO"] == "odd+helo=name"


def test_refused_xforward_warns_and_delivers(instance, xserver):
    s = xserver(reply="550 5.7.0 Error: insufficient authorization")
    relay_to(instance, s, smtp_send_xforward_command="yes")
    qid, _ = submit(instance)
    sent(instance, qid)
    assert len(s.received()) == 1
    assert len(s.lines) == 2
    log = instance.log()
    for what in ("XFORWARD name/address command", "XFORWARD helo/protocol command"):
        assert re.search(r"warning: host \S+\[127\.0\.0\.1\]:%d said: 550 5\.7\.0 Error: "
                         r"insufficient authorization \(in reply to %s\)" % (s.port, what),
                         log), log[-3000:]


def test_xforward_421_defers(instance, xserver):
    s = xserver(reply="421 4.3.0 closing, come back later")
    relay_to(instance, s, smtp_send_xforward_command="yes")
    qid, _ = submit(instance)
    line = instance.wait_log(r"%s: to=<bob@remote\.test>.*status=deferred.*" % qid)[-1]
    assert re.search(r"said: 421 4\.3\.0 closing, come back later \(in reply to XFORWARD "
                     r"name/address command\)", line), line
    assert s.received() == []


def test_lmtp_sends_xforward(instance, xserver):
    s = xserver(lmtp=True)
    relay_to(instance, s, transport="lmtp", lmtp_send_xforward_command="yes",
             local_header_rewrite_clients="permit_sasl_authenticated")
    qid, _ = submit(instance)
    sent(instance, qid)
    a = attrs_of(s.received()[0]["xforward"])
    assert (a["ADDR"], a["HELO"], a["IDENT"], a["SOURCE"]) == (
        "127.0.0.9", "helo.client.example", qid, "REMOTE"), a
    assert s.inside == []


def test_lmtp_parameter_is_its_own(instance, xserver):
    """smtp_send_xforward_command does not turn it on for lmtp (Postfix)."""
    s = xserver(lmtp=True)
    relay_to(instance, s, transport="lmtp", smtp_send_xforward_command="yes")
    qid, _ = submit(instance)
    sent(instance, qid)
    assert len(s.received()) == 1
    assert s.lines == []


@pytest.mark.skipif(not can_run_postfix(), reason="needs root, postfix and saslpasswd2")
def test_postfix_smtpd_reads_it(instance, sink):
    """Postfix's smtpd parses the commands and logs the original client and
    queue ID: "orig_queue_id=ID, orig_client=unknown[127.0.0.9]" and
    "xforward=2" among the commands."""
    s = sink()
    pf = PostfixSmtpd(s.port, users=(), extra={
        "smtpd_authorized_xforward_hosts": "127.0.0.0/8",
        "smtpd_relay_restrictions": "permit_mynetworks, reject",
        "smtpd_sasl_auth_enable": "no"})
    try:
        relay_to(instance, pf, smtp_send_xforward_command="yes")
        qid, _ = submit(instance)
        sent(instance, qid)
        pf.wait_log("orig_queue_id=%s, orig_client=unknown[127.0.0.9]" % qid)
        pf.wait_log(" xforward=2 mail=1 rcpt=1 data=1")
        assert s.rcpts() == ["bob@remote.test"]
        assert "warning" not in pf.log()
    finally:
        pf.stop()


# ---- on the wire: the agent alone against a scriptable peer ----

XFWD_EHLO = ("SIZE 10240000", "8BITMIME", "XFORWARD " + ALL)
DEL_STAT_FINAL = 0


@pytest.fixture
def agent():
    yield from made_and_stopped(lambda **params: AgentHarness(params))


@pytest.fixture
def peer():
    yield from made_and_stopped(Peer)


def xforward_reads(session):
    return [c for c in session.reads if b"XFORWARD" in c]


def test_pipelined_with_mail(agent, peer):
    p = peer(ehlo=("PIPELINING",) + XFWD_EHLO, replies={"XFORWARD": "250 2.0.0 Ok"})
    a = agent(smtp_send_xforward_command="yes")
    msg = a.message(["r@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["status"] == DEL_STAT_FINAL and r["sent"] == 1, r
    s = p.all_sessions()[0]
    reads = xforward_reads(s)
    assert len(reads) == 1, s.reads
    assert reads[0] == (
        b"XFORWARD NAME=[UNAVAILABLE] ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE]\r\n"
        b"XFORWARD PROTO=[UNAVAILABLE] HELO=[UNAVAILABLE] IDENT=%s SOURCE=LOCAL\r\n"
        b"MAIL FROM:<sender@example.test> SIZE=%d\r\n"
        b"RCPT TO:<r@example.test>\r\n"
        b"DATA\r\n" % (msg.qid.encode(), msg.size)), reads


def test_without_pipelining_one_at_a_time(agent, peer):
    p = peer(ehlo=XFWD_EHLO, replies={"XFORWARD": "250 2.0.0 Ok"})
    a = agent(smtp_send_xforward_command="yes")
    msg = a.message(["r@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["sent"] == 1, r
    s = p.all_sessions()[0]
    reads = xforward_reads(s)
    assert [c.split(b" ")[1].split(b"=")[0] for c in reads] == [b"NAME", b"PROTO"], s.reads
    assert all(c.count(b"\r\n") == 1 for c in reads), s.reads
    verbs = [c.split(" ")[0].split(":")[0] for c in s.commands]
    assert verbs[:5] == ["EHLO", "XFORWARD", "XFORWARD", "MAIL", "RCPT"], s.commands


def test_reused_session_sends_it_per_message(agent, peer):
    p = peer(ehlo=("PIPELINING",) + XFWD_EHLO, replies={"XFORWARD": "250 2.0.0 Ok"})
    a = agent(smtp_send_xforward_command="yes", smtp_connection_cache_time_limit="5s")
    msgs = [a.message(["r%d@example.test" % i]) for i in range(2)]
    c = a.connect()
    for m in msgs:
        r = a.request(c, m, p.nexthop, flags=FLAG_REUSE)
        assert r["sent"] == 1, r
    sess = p.all_sessions()
    assert len(sess) == 1, "the session was not reused"
    verbs = [x.split(":")[0].split(" ")[0] for x in sess[0].commands]
    assert verbs == ["EHLO", "XFORWARD", "XFORWARD", "MAIL", "RCPT", "DATA",
                     "RSET", "XFORWARD", "XFORWARD", "MAIL", "RCPT", "DATA"], verbs
    idents = [re.search(r"IDENT=(\w+)", x).group(1) for x in sess[0].commands
              if x.startswith("XFORWARD PROTO")]
    assert idents == [m.qid for m in msgs], sess[0].commands
