"""DANE (RFC 7672) in the smtp agent: smtp_dns_support_level = dnssec and the
TLS levels dane and dane-only, against TLSA records served by a validating
unbound on loopback (dnssec_peer.py: zones signed in the test with
ldns-signzone, a trust anchor for dane.test, none for plain.test) and TLS
servers (the scriptable peer) on their own loopback addresses at port 25.

dane.test:
  good.dane.test   MX mx-good     TLSA 3 1 1 = the server's key
  bad.dane.test    MX mx-bad      TLSA 3 1 1 = some other key
  none.dane.test   MX mx-none     no TLSA records (validated NODATA/NXDOMAIN)
  bogus.dane.test  MX mx-bogus    TLSA whose signature no longer matches
  useless.dane.test MX mx-useless TLSA 1 1 1 only (PKIX-EE: not for SMTP)
plain.test (unsigned: answers without the AD bit):
  plain.test       MX mx-plain    TLSA 3 1 1 = some other key (must be ignored)
"""
import os
import random
import re
import subprocess
import tempfile

import pytest

from conftest import made_and_stopped
from dnssec_peer import SignedZone, Unbound, can_run_unbound, spki_sha256
from smtp_peers import AgentHarness, Peer, make_cert, server_context

SKIP = can_run_unbound()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")

DEL_STAT_FINAL, DEL_STAT_DEFER = 0, 1
NAMES = ("good", "bad", "none", "bogus", "useless", "plain")


@pytest.fixture(scope="module")
def world():
    base = tempfile.mkdtemp(prefix="sluice-dane-")
    os.chmod(base, 0o755)
    net = "127.%d.%d." % (random.randint(1, 254), random.randint(1, 254))
    addr = {n: net + str(60 + i) for i, n in enumerate(NAMES)}
    cert = make_cert(base, "mx.dane.test", names=["mx-good.dane.test"])
    other = make_cert(base, "other.dane.test", names=["other.dane.test"])
    mine, theirs = spki_sha256(cert[0]), spki_sha256(other[0])
    records = []
    for n in NAMES[:-1]:
        records += ["%s MX 10 mx-%s" % (n, n), "mx-%s A %s" % (n, addr[n])]
    records += ["_25._tcp.mx-good TLSA 3 1 1 " + mine,
                "_25._tcp.mx-bad TLSA 3 1 1 " + theirs,
                "_25._tcp.mx-bogus TLSA 3 1 1 " + mine,
                "_25._tcp.mx-useless TLSA 1 1 1 " + mine]
    # Change the signed TLSA data of mx-bogus: its RRSIG no longer verifies.
    zone = SignedZone(base, "dane.test", records,
                      tamper=[("_25._tcp.mx-bogus.dane.test.\t300\tIN\tTLSA\t3 1 1 " + mine,
                               "_25._tcp.mx-bogus.dane.test.\t300\tIN\tTLSA\t3 1 1 "
                               + theirs)])
    plain = os.path.join(base, "plain.zone")
    with open(plain, "w") as f:
        f.write("$ORIGIN plain.test.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n"
                "@ NS ns\n@ MX 10 mx-plain\nmx-plain A %s\n_25._tcp.mx-plain TLSA 3 1 1 %s\n"
                % (addr["plain"], theirs))
    os.chmod(plain, 0o644)
    dns = Unbound(base, signed=[zone], unsigned=[("plain.test", plain)])
    peers = {}
    try:
        for n in NAMES:
            peers[n] = Peer(host=addr[n], port=25, tls=server_context(*cert))
    except OSError as e:
        for p in peers.values():
            p.stop()
        dns.stop()
        pytest.skip("cannot listen on port 25 of a loopback address: %s" % e)
    yield {"dns": dns, "peers": peers, "addr": addr, "base": base}
    for p in peers.values():
        p.stop()
    dns.stop()
    subprocess.run(["rm", "-rf", base])


@pytest.fixture
def agent(world):
    def make(**params):
        params = dict({"smtp_host_lookup": "dns", "smtp_dns_support_level": "dnssec",
                       "smtp_tls_security_level": "dane", "smtp_tls_loglevel": "1",
                       "smtp_connection_cache_on_demand": "no",
                       "smtp_tls_session_cache_timeout": "0"}, **params)
        return AgentHarness(params, resolv=world["dns"].resolv)

    yield from made_and_stopped(make)


def sessions(world, name):
    return world["peers"][name].all_sessions()


def plaintext_mail(world, name):
    """Any MAIL command the server got outside TLS."""
    return [c for s in sessions(world, name) if not s.tls for c in s.commands
            if c.upper().startswith("MAIL")]


def test_matching_tlsa_verified(agent, world):
    a = agent()
    msg = a.message(["user@good.dane.test"])
    r = a.deliver(msg, "good.dane.test")
    assert r["status"] == DEL_STAT_FINAL and r["sent"] == 1, a.log()
    log = a.log()
    relay = r"mx-good\.dane\.test\[%s\]:25" % re.escape(world["addr"]["good"])
    assert re.search(r"Verified TLS connection established to %s: TLSv1\.3 with cipher" % relay,
                     log), log
    assert re.search(r"to=<user@good\.dane\.test>, relay=%s, .*status=sent" % relay, log), log
    assert sessions(world, "good")[-1].tls
    assert world["peers"]["good"].messages()[-1]["rcpts"] == ["RCPT TO:<user@good.dane.test>"]


def test_mismatching_tlsa_deferred_never_plaintext(agent, world):
    a = agent()
    msg = a.message(["user@bad.dane.test"])
    r = a.deliver(msg, "bad.dane.test")
    assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 1, a.log()
    d = a.status_log("defer", msg)
    assert d[0]["status"] == "4.7.5", d
    assert d[0]["reason"] == ("Cannot start TLS with mx-bad.dane.test[%s]: server certificate "
                              "verification failed: no matching DANE TLSA records"
                              % world["addr"]["bad"]), d
    # The server saw STARTTLS and nothing else: no retry in plain text.
    assert len(sessions(world, "bad")) == 1
    assert plaintext_mail(world, "bad") == []
    assert world["peers"]["bad"].messages() == []


def test_no_tlsa_falls_back_to_may(agent, world):
    """Validated absence of TLSA records: opportunistic TLS, as Postfix."""
    a = agent()
    msg = a.message(["user@none.dane.test"])
    r = a.deliver(msg, "none.dane.test")
    assert r["sent"] == 1, a.log()
    assert "Untrusted TLS connection established to mx-none.dane.test[%s]:25" \
        % world["addr"]["none"] in a.log()


def test_insecure_zone_ignores_tlsa(agent, world):
    """An unsigned zone (no AD bit): its TLSA record, which would not match,
    is not used; the level is may."""
    a = agent()
    msg = a.message(["user@plain.test"])
    r = a.deliver(msg, "plain.test")
    assert r["sent"] == 1, a.log()
    assert "Untrusted TLS connection established to mx-plain.plain.test[%s]:25" \
        % world["addr"]["plain"] in a.log()


def test_bogus_tlsa_deferred(agent, world):
    """A TLSA answer that fails validation (SERVFAIL): deferred without
    connecting, under dane as under dane-only."""
    for level in ("dane", "dane-only"):
        before = len(sessions(world, "bogus"))
        a = agent(smtp_tls_security_level=level)
        msg = a.message(["user@bogus.dane.test"])
        r = a.deliver(msg, "bogus.dane.test")
        assert r["status"] == DEL_STAT_DEFER and r["deferred"] == 1, a.log()
        d = a.status_log("defer", msg)
        assert d[0]["status"] == "4.7.5"
        assert d[0]["reason"] == ("TLSA lookup error for mx-bogus.dane.test:25: no answer "
                                  "(server failure or time-out)"), d
        assert len(sessions(world, "bogus")) == before
    # It was the validator that refused the answer.
    with open(world["dns"].log) as f:
        assert "validation failure <_25._tcp.mx-bogus.dane.test. TLSA IN>" in f.read()


def test_unusable_tlsa_means_encrypt(agent, world):
    """Only PKIX-EE(1) records (not for SMTP): dane is encrypt (TLS, the
    certificate unchecked); dane-only defers."""
    a = agent()
    msg = a.message(["user@useless.dane.test"])
    assert a.deliver(msg, "useless.dane.test")["sent"] == 1, a.log()
    assert "Untrusted TLS connection established to mx-useless.dane.test" in a.log()
    b = agent(smtp_tls_security_level="dane-only")
    msg = b.message(["user2@useless.dane.test"])
    r = b.deliver(msg, "useless.dane.test")
    assert r["deferred"] == 1, b.log()
    assert b.status_log("defer", msg)[0]["reason"] == (
        "TLS is required, but none of the TLSA records of host mx-useless.dane.test are usable")


def test_dane_only_without_tlsa_deferred(agent, world):
    for domain, host, why in (("none.dane.test", "mx-none.dane.test",
                               "no TLSA records were found for host mx-none.dane.test"),
                              ("plain.test", "mx-plain.plain.test",
                               "the address of host mx-plain.plain.test[%s] was not found "
                               "securely (DNSSEC)" % world["addr"]["plain"])):
        name = domain.split(".")[0]
        before = len(sessions(world, name))
        a = agent(smtp_tls_security_level="dane-only")
        msg = a.message(["user@" + domain])
        r = a.deliver(msg, domain)
        assert r["deferred"] == 1, a.log()
        assert a.status_log("defer", msg)[0]["reason"] == "TLS is required, but " + why
        assert len(sessions(world, name)) == before


def test_dane_only_matching_tlsa_sent(agent, world):
    a = agent(smtp_tls_security_level="dane-only")
    msg = a.message(["only@good.dane.test"])
    assert a.deliver(msg, "good.dane.test")["sent"] == 1, a.log()
    assert "Verified TLS connection established to mx-good.dane.test" in a.log()


def test_policy_map_dane(agent, world):
    """dane from smtp_tls_policy_maps (main.cf says may)."""
    d = tempfile.mkdtemp(prefix="sluice-pol-", dir=world["base"])
    path = os.path.join(d, "policy")
    with open(path, "w") as f:
        f.write("bad.dane.test dane\n")
    a = agent(smtp_tls_security_level="may", smtp_tls_policy_maps="texthash:" + path)
    msg = a.message(["p@bad.dane.test"])
    assert a.deliver(msg, "bad.dane.test")["deferred"] == 1, a.log()
    assert "no matching DANE TLSA records" in a.status_log("defer", msg)[0]["reason"]


def test_resolver_without_trust_ad_gives_no_dane(agent, world):
    """glibc passes the AD bit on only with "options trust-ad": without it
    nothing counts as DNSSEC-validated, so dane is may (the mismatching
    TLSA of bad.dane.test is not used)."""
    resolv = os.path.join(world["base"], "resolv-no-trust-ad.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\noptions attempts:2 timeout:2\n" % world["dns"].address)
    os.chmod(resolv, 0o644)
    a = AgentHarness({"smtp_host_lookup": "dns", "smtp_dns_support_level": "dnssec",
                      "smtp_tls_security_level": "dane", "smtp_tls_loglevel": "1"},
                     resolv=resolv)
    try:
        msg = a.message(["t@bad.dane.test"])
        assert a.deliver(msg, "bad.dane.test")["sent"] == 1, a.log()
        assert "Untrusted TLS connection established to mx-bad.dane.test" in a.log()
    finally:
        a.stop()


def test_without_dnssec_support_dane_is_may(agent, world):
    """smtp_dns_support_level is not dnssec: dane is may (with a warning), so
    even the mismatching TLSA of bad.dane.test does not stop the mail;
    dane-only defers."""
    a = agent(smtp_dns_support_level="enabled")
    msg = a.message(["x@bad.dane.test"])
    assert a.deliver(msg, "bad.dane.test")["sent"] == 1, a.log()
    log = a.log()
    assert 'TLS policy "dane" needs smtp_dns_support_level = dnssec: using "may"' in log
    assert "Untrusted TLS connection established to mx-bad.dane.test" in log
    b = agent(smtp_dns_support_level="enabled", smtp_tls_security_level="dane-only")
    msg = b.message(["y@good.dane.test"])
    assert b.deliver(msg, "good.dane.test")["deferred"] == 1
    assert b.status_log("defer", msg)[0]["reason"].endswith(
        "smtp_dns_support_level is not dnssec")
