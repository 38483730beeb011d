"""Routing choices of the smtp agent (docs/RELAY.md): next hops that are
lists (relayhost = a, b), smtp_fallback_relay after a refusal or an
unreachable relay, recipients a server deferred tried on the next server,
sender_dependent_relayhost_maps, smtp_helo_name per transport (-o), and the
mail loop check ("mail for X loops back to myself", 5.4.6).

The agent runs alone (smtp_peers.AgentHarness) against scripted peers and
aiosmtpd sinks on loopback, or inside a whole instance for the routing that
the queue manager does (sender_dependent_relayhost_maps)."""
import random
import re
import socket
import subprocess
import tempfile

import pytest

from conftest import made_and_stopped
from smtp_peers import AgentHarness, Dns, Peer, can_run_dns

DEL_STAT_FINAL, DEL_STAT_DEFER = 0, 1


@pytest.fixture
def agent():
    def make(**params):
        resolv = params.pop("_resolv", None)
        args = params.pop("_args", ())
        return AgentHarness(params, resolv=resolv, args=args)

    yield from made_and_stopped(make)


@pytest.fixture
def peer():
    yield from made_and_stopped(Peer)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------ relay lists

def test_relayhost_list_tried_in_order(agent, peer):
    """A next hop "[a]:p1, [b]:p2": the first is down, the second gets it;
    the first's failure has its own log line, as Postfix logs each server."""
    dead = closed_port()
    p = peer()
    a = agent()
    msg = a.message(["r@example.test"])
    r = a.deliver(msg, "[127.0.0.1]:%d, [127.0.0.1]:%d" % (dead, p.port))
    assert r["status"] == DEL_STAT_FINAL and r["sent"] == 1, r
    assert len(p.all_sessions()) == 1
    log = a.log()
    assert re.search(r"connect to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: Connection refused" % dead,
                     log), log
    assert "relay=127.0.0.1[127.0.0.1]:%d" % p.port in a.log_lines(msg.qid)[0]


def test_fallback_relay_after_4xx_greeting(agent, peer, sink):
    """The relay greets with 421: smtp_fallback_relay (an aiosmtpd sink) gets it."""
    busy = peer(greeting="421 4.3.2 busy, try later")
    fb = sink()
    a = agent(smtp_fallback_relay="[127.0.0.1]:%d" % fb.port)
    msg = a.message(["one@example.test", "two@example.test"])
    r = a.deliver(msg, busy.nexthop)
    assert r["status"] == DEL_STAT_FINAL and r["sent"] == 2, r
    assert len(busy.all_sessions()) == 1            # it was asked first
    assert fb.rcpts() == ["one@example.test", "two@example.test"]
    lines = a.log_lines(msg.qid)
    assert all("relay=127.0.0.1[127.0.0.1]:%d" % fb.port in l for l in lines), lines
    assert "refused to talk to me: 421 4.3.2 busy, try later" in a.log()
    # A hop that was talked past is no hop failure for the queue manager.
    assert r["hop_status"] == ""


def test_deferred_recipients_go_to_fallback(agent, peer, sink):
    """The relay takes one recipient and greylists the other (450): that one,
    and only that one, goes on to the fallback relay in the same delivery."""
    relay = peer(replies={"RCPT grey@example.test": "450 4.2.0 greylisted"})
    fb = sink()
    a = agent(smtp_fallback_relay="[127.0.0.1]:%d" % fb.port)
    msg = a.message(["ok@example.test", "grey@example.test"])
    r = a.deliver(msg, relay.nexthop)
    assert r["status"] == DEL_STAT_FINAL and r["sent"] == 2, r
    assert [m["rcpts"] for m in relay.messages()] == [["RCPT TO:<ok@example.test>"]]
    assert fb.rcpts() == ["grey@example.test"]
    by = {re.search(r"to=<([^>]*)>", l).group(1): l for l in a.log_lines(msg.qid)}
    assert "relay=127.0.0.1[127.0.0.1]:%d" % relay.port in by["ok@example.test"]
    assert "relay=127.0.0.1[127.0.0.1]:%d" % fb.port in by["grey@example.test"]


def test_fallback_unreachable_keeps_the_relays_reply(agent, peer):
    """Relay says 450, fallback is down: deferred with the relay's own reply."""
    relay = peer(replies={"RCPT": "450 4.2.0 greylisted"})
    dead = closed_port()
    a = agent(smtp_fallback_relay="[127.0.0.1]:%d" % dead)
    msg = a.message(["grey@example.test"])
    r = a.deliver(msg, relay.nexthop)
    assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 1, r
    d = a.status_log("defer", msg)
    assert d and d[0]["status"] == "4.2.0", d
    assert "450 4.2.0 greylisted" in d[0]["reason"], d
    assert "Connection refused" in a.log()           # the fallback was tried


def test_no_fallback_without_need_and_for_hard_refusal(agent, peer, sink):
    """A relay that takes the mail, or refuses it for good (550), is final:
    the fallback relay sees nothing."""
    fb = sink()
    good = peer()
    hard = peer(replies={"RCPT": "550 5.1.1 no such user"})
    a = agent(smtp_fallback_relay="[127.0.0.1]:%d" % fb.port)
    m1 = a.message(["a@example.test"])
    assert a.deliver(m1, good.nexthop)["sent"] == 1
    m2 = a.message(["b@example.test"])
    r = a.deliver(m2, hard.nexthop)
    assert r["bounced"] == 1, r
    assert len(good.messages()) == 1
    assert fb.received() == [] and fb.sessions == 0


def test_helo_name_per_transport(agent, peer):
    """smtp_helo_name given with -o (a master.cf service of its own) wins over main.cf."""
    p = peer()
    a = agent(smtp_helo_name="main.example.test",
              _args=("-o", "smtp_helo_name=relay-out.example.test"))
    msg = a.message(["a@example.test"])
    assert a.deliver(msg, p.nexthop)["sent"] == 1
    assert p.all_sessions()[0].commands[0] == "EHLO relay-out.example.test"


# ------------------------------------------------------------ loop check

NET = "127.%d.%d." % (random.randint(1, 254), random.randint(1, 254))


def port25_peer(peer, ip, **kw):
    try:
        return peer(host=ip, port=25, **kw)
    except OSError as e:
        pytest.skip("cannot listen on %s:25: %s" % (ip, e))


def test_loops_back_to_myself(agent, peer):
    """[our own address]:25 is a loop: bounced 5.4.6 without a connection.
    The same server is fine for a client whose inet_interfaces differ."""
    me = NET + "21"
    p = port25_peer(peer, me)
    a = agent(inet_interfaces=me)
    msg = a.message(["x@example.test"])
    r = a.deliver(msg, "[%s]" % me)
    assert r["status"] == DEL_STAT_FINAL and r["bounced"] == 1, r
    b = a.status_log("bounce", msg)
    assert b[0]["status"] == "5.4.6", b
    assert b[0]["reason"] == "mail for [%s] loops back to myself" % me, b
    assert re.search(r"status=bounced \(mail for \[%s\] loops back to myself\)"
                     % re.escape(me), a.log()), a.log()
    assert p.all_sessions() == []
    # Not our address: delivered there.
    other = agent(inet_interfaces=NET + "22")
    m2 = other.message(["x@example.test"])
    assert other.deliver(m2, "[%s]" % me)["sent"] == 1
    assert len(p.all_sessions()) == 1


def test_no_loop_check_on_other_ports(agent, peer):
    """A filter on another port of this host is no loop (as Postfix: port 25 only)."""
    p = peer()
    a = agent(inet_interfaces="127.0.0.1")
    msg = a.message(["x@example.test"])
    assert a.deliver(msg, p.nexthop)["sent"] == 1


DNS_SKIP = can_run_dns()


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


def test_backup_mx_sends_only_to_better_mx(agent, peer, dns):
    """We are the second MX: only the first is tried; when we are the best
    MX, the mail loops (5.4.6) and no server is tried."""
    best, me, worse = NET + "31", NET + "32", NET + "33"
    p_best = port25_peer(peer, best, replies={"RCPT": "451 4.3.0 try later"})
    p_worse = port25_peer(peer, worse)
    d = dns(mx=[("backup.test", "mx1.backup.test", 10), ("backup.test", "me.backup.test", 20),
                ("backup.test", "mx3.backup.test", 30), ("primary.test", "me.backup.test", 5),
                ("primary.test", "mx3.backup.test", 30)],
            hosts=[("mx1.backup.test", best), ("me.backup.test", me),
                   ("mx3.backup.test", worse)])
    a = agent(_resolv=d.resolv, smtp_host_lookup="dns", inet_interfaces=me)
    msg = a.message(["x@backup.test"])
    r = a.deliver(msg, "backup.test")
    # The best MX defers; the MX worse than us is never asked.
    assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 1, r
    assert len(p_best.all_sessions()) == 1
    assert p_worse.all_sessions() == []
    m2 = a.message(["y@primary.test"])
    r = a.deliver(m2, "primary.test")
    assert r["bounced"] == 1, r
    b = a.status_log("bounce", m2)
    assert b[0]["status"] == "5.4.6" and "mail for primary.test loops back to myself" \
        in b[0]["reason"], b
    assert p_worse.all_sessions() == []


# ------------------------------------------------- the queue manager's part

def test_sender_dependent_relayhost_maps(instance, sink):
    """relayhost is a list whose first member is down; a sender (and a
    sender domain) listed in sender_dependent_relayhost_maps goes elsewhere;
    DUNNO keeps relayhost."""
    main, special, dom = sink(), sink(), sink()
    dead = closed_port()
    instance.write_config(
        relayhost="[127.0.0.1]:%d, [127.0.0.1]:%d" % (dead, main.port),
        sender_dependent_relayhost_maps="inline:{ boss@corp.test=[127.0.0.1]:%d, "
        "@dept.test=[127.0.0.1]:%d, plain@dept.test=DUNNO }" % (special.port, dom.port))
    instance.start()
    q1 = instance.inject(["a@remote.test"], sender="boss@corp.test")
    q2 = instance.inject(["b@remote.test"], sender="someone@dept.test")
    q3 = instance.inject(["c@remote.test"], sender="other@corp.test")
    q4 = instance.inject(["d@remote.test"], sender="plain@dept.test")
    for q in (q1, q2, q3, q4):
        instance.wait_log(r"%s: removed" % q)
    assert special.rcpts() == ["a@remote.test"]
    assert dom.rcpts() == ["b@remote.test"]
    assert main.rcpts() == ["c@remote.test", "d@remote.test"]
