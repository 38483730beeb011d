"""The smtp agent's RSET before a reused session, pipelined with the next
transaction when the server offers PIPELINING (RFC 2920 3.1).

A failed RSET (no reply, or not 2xx) makes the whole pipelined transaction
count for nothing: no "." goes out on that session (a 354 to the pipelined
DATA ends with the closed connection), and the mail goes over a new
session, silently, as when an unpipelined RSET fails.  build/smtp runs
alone, driven like the queue manager drives it (smtp_peers.AgentHarness).
"""
import pytest

from smtp_peers import FLAG_REUSE, AgentHarness, Peer

NO_PIPELINING = ("SIZE 10240000", "8BITMIME", "DSN", "ENHANCEDSTATUSCODES")


@pytest.fixture
def agent():
    made = []

    def make(**params):
        a = AgentHarness(params)
        made.append(a)
        return a
    yield make
    for a in made:
        a.stop()


@pytest.fixture
def peer():
    made = []

    def make(**kw):
        p = Peer(**kw)
        made.append(p)
        return p
    yield make
    for p in made:
        p.stop()


def verbs(session):
    return [c.split(":")[0].split(" ")[0] for c in session.commands]


def reuse_twice(a, p):
    """Two messages for p over the agent's held session; the second's reply."""
    c = a.connect()
    r1 = a.request(c, a.message(["a@example.test"]), p.nexthop, flags=FLAG_REUSE)
    assert r1["sent"] == 1 and r1["session"] == p.nexthop, r1
    m2 = a.message(["b@example.test"])
    return m2, a.request(c, m2, p.nexthop, flags=FLAG_REUSE)


@pytest.mark.parametrize("ehlo,pipelined", [
    (None, True),               # the Peer's default EHLO offers PIPELINING
    (NO_PIPELINING, False),
])
def test_rset_goes_out_with_mail_under_pipelining(agent, peer, ehlo, pipelined):
    """Under PIPELINING the RSET arrives in the same write as MAIL, RCPT and
    DATA; without it, alone (its own round trip)."""
    p = peer(**({"ehlo": ehlo} if ehlo else {}))
    a = agent(smtp_connection_cache_time_limit="5s")
    m2, r2 = reuse_twice(a, p)
    assert r2["sent"] == 1 and r2["session"] == p.nexthop, r2
    sess = p.all_sessions()
    assert len(sess) == 1
    assert len(sess[0].messages) == 2
    assert verbs(sess[0])[4:] == ["RSET", "MAIL", "RCPT", "DATA"]
    rset_reads = [x for x in sess[0].reads if b"RSET\r\n" in x]
    assert len(rset_reads) == 1
    together = rset_reads[0].startswith(b"RSET\r\nMAIL FROM:<") and b"DATA\r\n" in rset_reads[0]
    assert together == pipelined, rset_reads
    assert "conn_use=2" in a.log_lines(m2.qid)[0]


@pytest.mark.parametrize("ehlo", [None, NO_PIPELINING])
@pytest.mark.parametrize("rset", ["554 5.5.1 no", "421 4.3.2 bye", "CLOSE"])
def test_failed_rset_delivers_nothing_there(agent, peer, ehlo, rset):
    """A refused RSET (5xx, 421) or none at all (the server closed): the
    transaction pipelined behind it delivers nothing on that session, even
    though the server took MAIL, RCPT and DATA (354); a new session delivers
    the message once."""
    kw = {"replies": {"RSET": rset}}
    if ehlo:
        kw["ehlo"] = ehlo
    p = peer(**kw)
    a = agent(smtp_connection_cache_time_limit="5s")
    m2, r2 = reuse_twice(a, p)
    assert r2["sent"] == 1 and r2["hop_status"] == "", r2
    sess = p.all_sessions()
    assert len(sess) == 2
    assert len(sess[0].messages) == 1            # the first message only
    assert [m["rcpts"] for m in sess[1].messages] == [["RCPT TO:<b@example.test>"]]
    if rset != "CLOSE" and ehlo is None:
        # The server got the whole pipelined transaction in one read (it may
        # not get to answer all of it before the agent hangs up).
        assert [x for x in sess[0].reads
                if x.startswith(b"RSET\r\nMAIL FROM:<") and x.endswith(b"DATA\r\n")], \
            sess[0].reads
    line = a.log_lines(m2.qid)[0]
    assert "status=sent" in line and "conn_use" not in line, line
    assert "warning:" not in a.log()


def test_failed_rset_then_no_server_defers(agent, peer):
    """The held session's RSET fails and no new session can be made (the
    server stopped listening): the message is deferred, never lost."""
    p = peer(replies={"RSET": "421 4.3.2 bye"})
    a = agent(smtp_connection_cache_time_limit="5s")
    c = a.connect()
    assert a.request(c, a.message(["a@example.test"]), p.nexthop,
                     flags=FLAG_REUSE)["session"] == p.nexthop
    p.stop()                                      # the held session stays open
    m2 = a.message(["b@example.test"])
    r = a.request(c, m2, p.nexthop, flags=FLAG_REUSE)
    assert r["deferred"] == 1 and r["sent"] == 0, r
    assert "status=deferred" in a.log_lines(m2.qid)[0]
    assert len(p.all_sessions()[0].messages) == 1
