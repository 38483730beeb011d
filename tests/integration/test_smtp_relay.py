"""The smtp agent relaying through a provider: SMTP AUTH (Cyrus SASL)
against Postfix's own smtpd with a sasldb made by saslpasswd2.

The Postfix peer (pf_peer.py) lets mail through only after a login and
passes it on to an aiosmtpd sink; its maillog says who logged in."""
import base64
import os
import random
import subprocess
import tempfile
import time

import pytest

from pf_peer import PostfixSmtpd, can_run_postfix
from smtp_peers import AgentHarness, Dns, Peer, can_run_dns

pytestmark = pytest.mark.skipif(not can_run_postfix(),
                                reason="needs root, postfix and saslpasswd2")

DEL_STAT_FINAL, DEL_STAT_DEFER = 0, 1
USERS = [("alice", "s3cret-Alice"), ("bob", "b0b-pass")]


@pytest.fixture
def made():
    things = []
    yield things
    for t in reversed(things):
        t.stop()


@pytest.fixture
def postfix(made, sink):
    def make(**kw):
        s = sink()
        p = PostfixSmtpd(s.port, users=kw.pop("users", USERS), **kw)
        p.sink = s
        made.append(p)
        return p
    return make


@pytest.fixture
def agent(made):
    def make(passwords=None, **params):
        base = tempfile.mkdtemp(prefix="sluice-pw-")
        made.append(_Rm(base))
        if passwords is not None:
            path = os.path.join(base, "sasl_passwd")
            with open(path, "w") as f:
                for k, v in passwords.items():
                    f.write("%s %s\n" % (k, v))
            os.chmod(path, 0o600)	# root only: read before privileges go
            params.setdefault("smtp_sasl_password_maps", "texthash:" + path)
        params.setdefault("smtp_sasl_auth_enable", "yes")
        resolv = params.pop("_resolv", None)
        a = AgentHarness(params, resolv=resolv, args=params.pop("_args", ("-v",)))
        made.append(a)
        return a
    return make


class _Rm:
    def __init__(self, path):
        self.path = path

    def stop(self):
        subprocess.run(["rm", "-rf", self.path])


def secrets_absent(text, password, user):
    """Neither the password nor any base64 form of a PLAIN/LOGIN exchange."""
    forms = [password, base64.b64encode(password.encode()).decode(),
             base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode(),
             base64.b64encode(("%s\0%s\0%s" % (user, user, password)).encode()).decode()]
    return not any(f in text for f in forms)


def test_auth_plain_right_password(agent, postfix):
    p = postfix()
    a = agent({p.nexthop: "alice@example.test:s3cret-Alice"},
              smtp_sasl_security_options="noanonymous", smtp_sasl_mechanism_filter="plain")
    msg = a.message(["rcpt@remote.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["status"] == DEL_STAT_FINAL and r["sent"] == 1, a.log()
    p.wait_log("sasl_method=PLAIN, sasl_username=alice@example.test")
    got = p.sink.received()
    assert len(got) == 1 and got[0][1] == ["rcpt@remote.test"]
    # Verbose logging names the login, never the password.
    assert "SASL login alice@example.test for [127.0.0.1]:%d" % p.port in a.log()
    assert secrets_absent(a.log(), "s3cret-Alice", "alice@example.test"), a.log()


def test_auth_login_mechanism(agent, postfix):
    p = postfix()
    a = agent({p.nexthop: "bob@example.test:b0b-pass"},
              smtp_sasl_security_options="noanonymous", smtp_sasl_mechanism_filter="login")
    msg = a.message(["rcpt@remote.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["sent"] == 1, a.log()
    p.wait_log("sasl_method=LOGIN, sasl_username=bob@example.test")
    assert len(p.sink.received()) == 1
    assert secrets_absent(a.log(), "b0b-pass", "bob@example.test"), a.log()


def test_auth_wrong_password_defers(agent, postfix):
    p = postfix()
    a = agent({p.nexthop: "alice@example.test:not-her-password"},
              smtp_sasl_security_options="noanonymous")
    msg = a.message(["rcpt@remote.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 1, a.log()
    d = a.status_log("defer", msg)
    assert d[0]["status"] == "4.7.8"
    assert d[0]["reason"].startswith(
        "SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8 "
        "Error: authentication failed"), d
    assert p.sink.received() == []
    assert secrets_absent(a.log() + str(d), "not-her-password", "alice@example.test")


def test_default_security_options_refuse_plaintext(agent, postfix):
    """noplaintext (the default) leaves no usable mechanism on a plain session:
    deferred, never sent without the login."""
    p = postfix()
    a = agent({p.nexthop: "alice@example.test:s3cret-Alice"})
    msg = a.message(["rcpt@remote.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1, a.log()
    d = a.status_log("defer", msg)
    assert d[0]["reason"] == ("SASL authentication failed; cannot authenticate to server "
                              "127.0.0.1[127.0.0.1]: no mechanism available"), d
    assert p.sink.received() == []
    assert "MAIL FROM" not in p.log()


def test_sender_dependent_credentials(agent, postfix):
    """Each sender logs in with its own entry; the next hop's entry is the
    fallback; Postfix's smtpd checks that the login owns the sender."""
    p = postfix(extra={
        "smtpd_sender_login_maps": "inline:{ alice@example.test=alice@example.test, "
                                   "bob@example.test=bob@example.test, "
                                   "carol@other.test=alice@example.test }",
        "smtpd_sender_restrictions": "reject_sender_login_mismatch"})
    a = agent({"alice@example.test": "alice@example.test:s3cret-Alice",
               "@example.test": "bob@example.test:b0b-pass",
               p.nexthop: "alice@example.test:s3cret-Alice"},
              smtp_sender_dependent_authentication="yes",
              smtp_sasl_security_options="noanonymous")
    m1 = a.message(["r1@remote.test"], sender="alice@example.test")
    m2 = a.message(["r2@remote.test"], sender="bob@example.test")
    m3 = a.message(["r3@remote.test"], sender="carol@other.test")
    c = a.connect()
    for m in (m1, m2, m3):
        r = a.request(c, m, p.nexthop, flags=1 << 3)	# REUSE asked: still not cached
        assert r["sent"] == 1, a.log()
        assert r["session"] == ""
    got = sorted(x[0] for x in p.sink.received())
    assert got == ["alice@example.test", "bob@example.test", "carol@other.test"]
    # Postfix's smtpd logs through postlogd, a datagram later: wait for the lines.
    deadline = time.time() + 10
    while p.log().count("sasl_username=") < 3 and time.time() < deadline:
        time.sleep(0.05)
    log = p.log()
    assert log.count("sasl_username=alice@example.test") == 2, log
    assert log.count("sasl_username=bob@example.test") == 1, log


def test_no_entry_sends_without_login(agent, postfix, sink):
    """A next hop without an entry gets the mail without AUTH (here a plain
    aiosmtpd sink that would refuse nothing)."""
    s = sink()
    a = agent({"[other.test]": "x:y"})
    msg = a.message(["rcpt@remote.test"])
    assert a.deliver(msg, "[127.0.0.1]:%d" % s.port)["sent"] == 1
    assert len(s.received()) == 1


def test_unreadable_password_map_defers(agent, sink):
    s = sink()
    a = agent(None, smtp_sasl_password_maps="texthash:/nonexistent/sasl_passwd")
    msg = a.message(["rcpt@remote.test"])
    r = a.deliver(msg, "[127.0.0.1]:%d" % s.port)
    assert r["deferred"] == 1
    d = a.status_log("defer", msg)
    assert d[0]["status"] == "4.3.0"
    assert "smtp_sasl_password_maps lookup error" in d[0]["reason"]
    assert "/nonexistent/sasl_passwd" in d[0]["reason"]
    assert s.sessions == 0 and s.received() == []


def test_server_drops_mid_auth_defers(agent):
    p = Peer(ehlo=("AUTH PLAIN LOGIN", "PIPELINING"), replies={"AUTH": "CLOSE"})
    try:
        a = agent({p.nexthop: "u@x:pw"}, smtp_sasl_security_options="noanonymous")
        msg = a.message(["rcpt@remote.test"])
        r = a.deliver(msg, p.nexthop)
        assert r["deferred"] == 1
        d = a.status_log("defer", msg)
        assert d[0]["reason"] == ("lost connection with 127.0.0.1[127.0.0.1] while "
                                  "performing the SASL authentication"), d
        assert p.messages() == []
    finally:
        p.stop()


DNS_SKIP = can_run_dns()
NET = "127.%d.%d." % (random.randint(1, 254), random.randint(1, 254))


def test_refused_login_tries_next_mx(agent, postfix):
    """The first MX refuses the login; the second (Postfix) takes it."""
    if DNS_SKIP:
        pytest.skip(DNS_SKIP)
    mx1, mx2 = NET + "21", NET + "22"
    try:
        bad = Peer(host=mx1, port=25, ehlo=("AUTH PLAIN LOGIN",),
                   replies={"AUTH": "535 5.7.8 Error: authentication failed: go away"})
    except OSError as e:
        pytest.skip("cannot listen on %s:25: %s" % (mx1, e))
    try:
        p = postfix(host=mx2, port=25)
        base = tempfile.mkdtemp(prefix="sluice-dns-")
        d = Dns(base, mx=[("auth.test", "mx1.auth.test", 10), ("auth.test", "mx2.auth.test", 20)],
                hosts=[("mx1.auth.test", mx1), ("mx2.auth.test", mx2)])
        try:
            a = agent({"auth.test": "alice@example.test:s3cret-Alice"}, smtp_host_lookup="dns",
                      smtp_sasl_security_options="noanonymous", _resolv=d.resolv)
            msg = a.message(["user@auth.test"])
            r = a.deliver(msg, "auth.test")
            assert r["sent"] == 1, a.log()
        finally:
            d.stop()
            subprocess.run(["rm", "-rf", base])
        assert ("SASL authentication failed; server mx1.auth.test[%s] said: 535 5.7.8 "
                "Error: authentication failed: go away" % mx1) in a.log()
        assert "relay=mx2.auth.test[%s]:25" % mx2 in a.log()
        p.wait_log("sasl_username=alice@example.test")
    finally:
        bad.stop()
