"""What a remote SMTP server says, and odd recipient addresses, on their way
into the maillog, the status logs and (through them) bounce messages.

A hand-written peer answers RCPT with control characters (ESC, BEL, a bare
CR, DEL), valid UTF-8, bytes that are not UTF-8 and a very long text.  The
maillog must stay one line per event with no raw control or 8-bit bytes
(log_escape: "\\ooo"); the reason and the diagnostic stored in the bounce
log carry the cleaned text (control characters and invalid bytes as "?",
valid UTF-8 kept), the same text the log line shows escaped.
"""
import re

import pytest

from conftest import made_and_stopped
from smtp_peers import AgentHarness, Peer

LONG = "x" * 1500
HOSTILE = (b"550 5.1.1 \x1b[31mred\x1b[0m bell\x07 cr\rhere del\x7f caf\xc3\xa9 "
           b"bad\xff\xfe " + LONG.encode() + b" end")
CLEAN = ("550 5.1.1 ?[31mred?[0m bell? cr?here del? caf\u00e9 bad?? " + LONG + " end")
ODD_RCPT = "odd\x01\x1bname\u00e9@example.test"


def hostile_server(conn, s):
    """EHLO without extensions (one command at a time), RCPT refused with HOSTILE."""
    conn.sendall(b"220 peer.test ESMTP\r\n")
    buf = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd = line.decode("utf-8", "replace").strip()
            s.commands.append(cmd)
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO", "MAIL", "RSET"):
                conn.sendall(b"250 ok\r\n")
            elif verb == "RCPT":
                conn.sendall(HOSTILE + b"\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 no\r\n")


@pytest.fixture
def agent():
    def make(**params):
        return AgentHarness(params)

    yield from made_and_stopped(make)


@pytest.fixture
def peer():
    yield from made_and_stopped(Peer)


def maillog_bytes(a):
    with open(a.maillog, "rb") as f:
        return f.read()


def assert_clean_log(data):
    """Every byte printable ASCII, lines ended by LF only."""
    bad = [(i, b) for i, b in enumerate(data) if b != 0x0a and not 0x20 <= b < 0x7f]
    assert bad == [], (bad[:10], data[:2000])


def test_hostile_reply_and_odd_recipient_are_escaped(agent, peer):
    p = peer(behaviour=hostile_server)
    a = agent()
    msg = a.message(["plain@example.test", ODD_RCPT])
    r = a.deliver(msg, p.nexthop)
    assert r["bounced"] == 2, (r, a.log())

    data = maillog_bytes(a)
    assert_clean_log(data)
    lines = [l for l in data.decode("ascii").splitlines() if msg.qid + ": to=<" in l]
    assert len(lines) == 2, lines           # one line each, long text and CR included
    plain = [l for l in lines if "to=<plain@example.test>" in l][0]
    # The reason as the log shows it: the cleaned text, escaped.
    want = ("status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 ?[31mred?[0m bell? "
            "cr?here del? caf\\303\\251 bad?? " + LONG + " end (in reply to RCPT TO command))")
    assert plain.endswith(want), plain[-300:]
    odd = [l for l in lines if l is not plain][0]
    assert re.search(r"to=<[^>]*odd\\001\\033name\\303\\251[^>]*@example\.test>", odd), odd

    # The bounce log (what bounce messages are made of) holds the same
    # cleaned text, unescaped: no control characters, valid UTF-8.
    recs = {rec["recipient"]: rec for rec in a.status_log("bounce", msg)}
    assert set(recs) == {"plain@example.test", ODD_RCPT}
    for rec in recs.values():
        assert rec["diag_text"] == CLEAN
        assert rec["reason"] == ("host 127.0.0.1[127.0.0.1] said: %s (in reply to RCPT TO "
                                 "command)" % CLEAN)


def test_hostile_greeting_is_escaped(agent, peer):
    """A refused greeting with control characters: the deferral is logged on
    one clean line and its status log record is cleaned the same way."""
    p = peer(greeting="421 4.3.2 \x1b]0;owned\x07 go away\rnow")
    a = agent()
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1, (r, a.log())
    data = maillog_bytes(a)
    assert_clean_log(data)
    line = [l for l in data.decode("ascii").splitlines() if msg.qid + ": to=<" in l][0]
    assert line.endswith("refused to talk to me: 421 4.3.2 ?]0;owned? go away?now)"), line
    rec = a.status_log("defer", msg)[0]
    assert rec["diag_text"] == "421 4.3.2 ?]0;owned? go away?now"
