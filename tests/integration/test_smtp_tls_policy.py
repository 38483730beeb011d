"""The smtp agent's TLS policy per next hop (smtp_tls_policy_maps) and its
client certificate (smtp_tls_cert_file), against aiosmtpd and the
scriptable peer with certificates made by openssl in the test."""
import os
import re
import socket
import ssl
import subprocess
import tempfile

import pytest

from smtp_peers import AgentHarness, Peer, make_cert, server_context

DEL_STAT_FINAL, DEL_STAT_DEFER = 0, 1


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="sluice-certs-")
    os.chmod(d, 0o755)
    server = make_cert(d, "localhost", names=["localhost"], ips=["127.0.0.1"])
    client = make_cert(d, "client.sluice.test", names=["client.sluice.test"])
    yield {"dir": d, "server": server, "client": client}
    subprocess.run(["rm", "-rf", d])


@pytest.fixture
def made():
    things = []
    yield things
    for t in reversed(things):
        t.stop()


@pytest.fixture
def agent(made):
    def make(policy=None, **params):
        if policy is not None:
            d = tempfile.mkdtemp(prefix="sluice-pol-")
            path = os.path.join(d, "tls_policy")
            with open(path, "w") as f:
                for k, v in policy.items():
                    f.write("%s %s\n" % (k, v))
            params["smtp_tls_policy_maps"] = "texthash:" + path
        params.setdefault("smtp_tls_loglevel", "1")
        a = AgentHarness(params)
        made.append(a)
        return a
    return make


@pytest.fixture
def peer(made):
    def make(**kw):
        p = Peer(**kw)
        made.append(p)
        return p
    return make


def test_verify_self_signed_deferred_never_plain(agent, peer, certs):
    """Under verify a server whose certificate chains to no trusted CA gets
    nothing, not even in plain text; under encrypt the same server gets it."""
    p = peer(tls=server_context(*certs["server"]))
    a = agent({p.nexthop: "verify"})
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 1, a.log()
    assert r["hop_status"] == "4.7.5"
    assert ("Cannot start TLS with 127.0.0.1[127.0.0.1]: server certificate not trusted: "
            "self-signed certificate") == r["hop_reason"], r
    assert p.messages() == []
    assert all("MAIL" not in c for s in p.all_sessions() for c in s.commands)

    a2 = agent({p.nexthop: "encrypt"})
    msg = a2.message(["a@example.test"])
    r = a2.deliver(msg, p.nexthop)
    assert r["sent"] == 1, a2.log()
    assert p.all_sessions()[-1].tls
    assert re.search(r"Untrusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:"
                     r"%d: TLSv1\.[23] with cipher" % p.port, a2.log())


def test_verify_with_ca_and_match(agent, peer, certs):
    """verify with the server's CA and match= naming the certificate's name."""
    p = peer(tls=server_context(*certs["server"]))
    a = agent({"[127.0.0.1]:%d" % p.port: "verify match=localhost"},
              smtp_tls_CAfile=certs["server"][0])
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["sent"] == 1, a.log()
    assert "Verified TLS connection established to 127.0.0.1[127.0.0.1]:%d" % p.port in a.log()

    a2 = agent({p.nexthop: "verify match=other.test"}, smtp_tls_CAfile=certs["server"][0])
    msg = a2.message(["a@example.test"])
    r = a2.deliver(msg, p.nexthop)
    assert r["deferred"] == 1 and "name does not match other.test" in r["hop_reason"], r


def test_policy_protocols(agent, peer, certs):
    p = peer(tls=server_context(*certs["server"]))
    a = agent({p.nexthop: "encrypt protocols=TLSv1.2 ciphers=high"})
    msg = a.message(["a@example.test"])
    assert a.deliver(msg, p.nexthop)["sent"] == 1, a.log()
    assert re.search(r"Untrusted TLS connection established to .*: TLSv1\.2 with cipher",
                     a.log()), a.log()


def test_policy_without_starttls_never_plain(agent, peer):
    p = peer()	# no STARTTLS offered
    a = agent({p.nexthop: "encrypt"})
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1 and r["hop_status"] == "4.7.5"
    assert p.messages() == []


@pytest.mark.parametrize("value,want", [
    ("bogus", "invalid TLS security level"),
    ("encrypt protocols=TLSv9", "unknown protocol name"),
    ("encrypt color=blue", "invalid attribute"),
])
def test_bad_policy_defers(agent, peer, value, want):
    p = peer()
    a = agent({p.nexthop: value})
    msg = a.message(["a@example.test"])
    r = a.deliver(msg, p.nexthop)
    assert r["deferred"] == 1, a.log()
    d = a.status_log("defer", msg)
    assert d[0]["status"] == "4.7.5" and want in d[0]["reason"], d
    assert p.all_sessions() == []


def test_client_certificate_presented(agent, certs):
    """aiosmtpd requires a client certificate signed by the client's CA and
    records its subject."""
    from aiosmtpd.controller import Controller
    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            cert = (session.ssl or {}).get("peercert")
            got.append(cert)
            return "250 2.0.0 Ok"
    ctx = server_context(*certs["server"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(certs["client"][0])
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx,
                     require_starttls=True)
    ctl.start()
    try:
        a = agent({"[127.0.0.1]:%d" % port: "encrypt"},
                  smtp_tls_cert_file=certs["client"][0], smtp_tls_key_file=certs["client"][1])
        msg = a.message(["a@example.test"])
        r = a.deliver(msg, "[127.0.0.1]:%d" % port)
        assert r["sent"] == 1, a.log()
        # Without the certificate the server ends the handshake: deferred.
        b = agent({"[127.0.0.1]:%d" % port: "encrypt"})
        msg = b.message(["a@example.test"])
        r = b.deliver(msg, "[127.0.0.1]:%d" % port)
        assert r["deferred"] == 1, b.log()
    finally:
        ctl.stop()
    assert len(got) == 1 and got[0] is not None
    assert ((("commonName", "client.sluice.test"),),) == got[0]["subject"]


def test_session_resumed_on_next_delivery(agent, peer, certs):
    """TLS session resumption: the second delivery to the same server (a new
    connection: no connection cache) resumes the first one's session, under
    TLS 1.3 tickets and TLS 1.2 sessions alike; smtp_tls_session_cache_timeout
    = 0 turns it off."""
    for proto in ("TLSv1.3", "TLSv1.2"):
        ctx = server_context(*certs["server"])
        ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion,
                                                             proto.replace(".", "_"))
        p = peer(tls=ctx)
        a = agent({p.nexthop: "encrypt"}, smtp_tls_loglevel="2",
                  smtp_connection_cache_on_demand="no")
        for i in range(3):
            r = a.deliver(a.message(["a%d@example.test" % i]), p.nexthop)
            assert r["sent"] == 1, a.log()
        sessions = p.all_sessions()
        assert len(sessions) == 3 and all(s.tls for s in sessions)
        assert [s.tls_resumed for s in sessions] == [False, True, True], proto
        log = a.log()
        relay = r"127\.0\.0\.1\[127\.0\.0\.1\]:%d" % p.port
        assert len(re.findall(r"%s: Reusing old session" % relay, log)) == 2, log
        assert len(re.findall(r"Untrusted TLS connection established to %s: %s with cipher"
                              % (relay, re.escape(proto)), log)) == 3, log

    # smtp_tls_session_cache_timeout = 0: the same process resumes nothing.
    ctx = server_context(*certs["server"])
    p = peer(tls=ctx)
    a = agent({p.nexthop: "encrypt"}, smtp_tls_loglevel="2",
              smtp_connection_cache_on_demand="no", smtp_tls_session_cache_timeout="0")
    for i in range(2):
        assert a.deliver(a.message(["y%d@example.test" % i]), p.nexthop)["sent"] == 1
    assert [s.tls_resumed for s in p.all_sessions()] == [False, False]
    assert "Reusing old session" not in a.log()
