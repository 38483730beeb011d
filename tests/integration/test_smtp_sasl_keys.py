"""Which smtp_sasl_password_maps entry a delivery logs in with, against
Postfix's smtpd (pf_peer.py, Cyrus SASL with a sasldb) found through MX
records (dnsmasq on loopback): Postfix's order is the sender (with
smtp_sender_dependent_authentication), then the remote server's host name
(the MX host name), then the next hop as the request names it."""
import random
import subprocess
import tempfile

import pytest

from pf_peer import can_run_postfix
from smtp_peers import Dns, can_run_dns
from test_smtp_relay import agent, made, postfix  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not can_run_postfix(),
                                reason="needs root, postfix and saslpasswd2")

DNS_SKIP = can_run_dns()
NET = "127.%d.%d." % (random.randint(1, 254), random.randint(1, 254))


@pytest.fixture
def mx_postfix(postfix):
    """Postfix's smtpd as mx1.keys.test (MX of keys.test), port 25."""
    if DNS_SKIP:
        pytest.skip(DNS_SKIP)
    addr = NET + "31"
    p = postfix(host=addr, port=25, extra={
        "smtpd_sender_login_maps": "inline:{ carol@other.test=bob@example.test }",
        "smtpd_sender_restrictions": "reject_known_sender_login_mismatch"})
    base = tempfile.mkdtemp(prefix="sluice-dns-")
    d = Dns(base, mx=[("keys.test", "mx1.keys.test", 10)], hosts=[("mx1.keys.test", addr)])
    yield p, d
    d.stop()
    subprocess.run(["rm", "-rf", base])


def test_mx_host_name_before_next_hop(agent, mx_postfix):
    """Entries for both the MX host and the next-hop domain: the MX host's wins."""
    p, d = mx_postfix
    a = agent({"keys.test": "alice@example.test:s3cret-Alice",
               "mx1.keys.test": "bob@example.test:b0b-pass"},
              smtp_host_lookup="dns", smtp_sasl_security_options="noanonymous", _resolv=d.resolv)
    msg = a.message(["user@keys.test"])
    r = a.deliver(msg, "keys.test")
    assert r["sent"] == 1, a.log()
    p.wait_log("sasl_username=bob@example.test")
    assert "sasl_username=alice" not in p.log()
    assert "SASL login bob@example.test for mx1.keys.test" in a.log()
    assert "relay=mx1.keys.test[%s]:25" % (NET + "31") in a.log()


def test_mx_host_name_alone(agent, mx_postfix):
    """Only the MX host name has an entry (the next hop "keys.test" has none):
    the login is still made; without the entry the server refuses the mail."""
    p, d = mx_postfix
    a = agent({"mx1.keys.test": "alice@example.test:s3cret-Alice"},
              smtp_host_lookup="dns", smtp_sasl_security_options="noanonymous", _resolv=d.resolv)
    msg = a.message(["user@keys.test"])
    assert a.deliver(msg, "keys.test")["sent"] == 1, a.log()
    p.wait_log("sasl_username=alice@example.test")
    assert [x[1] for x in p.sink.received()] == [["user@keys.test"]]
    # The same server with an entry for another host only: no login, refused.
    b = agent({"mx9.keys.test": "alice@example.test:s3cret-Alice"},
              smtp_host_lookup="dns", smtp_sasl_security_options="noanonymous", _resolv=d.resolv)
    msg = b.message(["user2@keys.test"])
    r = b.deliver(msg, "keys.test")
    assert r["sent"] == 0 and r["bounced"] == 1, b.log()
    assert "Access denied" in b.status_log("bounce", msg)[0]["reason"]
    assert "SASL login" not in b.log()


def test_sender_before_mx_host_name(agent, mx_postfix):
    """With sender-dependent authentication the sender's entry comes first."""
    p, d = mx_postfix
    a = agent({"carol@other.test": "bob@example.test:b0b-pass",
               "mx1.keys.test": "alice@example.test:s3cret-Alice"},
              smtp_sender_dependent_authentication="yes", smtp_host_lookup="dns",
              smtp_sasl_security_options="noanonymous", _resolv=d.resolv)
    m1 = a.message(["r1@keys.test"], sender="carol@other.test")
    m2 = a.message(["r2@keys.test"], sender="dave@other.test")
    assert a.deliver(m1, "keys.test")["sent"] == 1, a.log()
    assert a.deliver(m2, "keys.test")["sent"] == 1, a.log()
    p.wait_log("sasl_username=alice@example.test")
    log = p.log()
    assert log.count("sasl_username=bob@example.test") == 1
    assert log.count("sasl_username=alice@example.test") == 1
    got = sorted((x[0], x[1]) for x in p.sink.received())
    assert got == [("carol@other.test", ["r1@keys.test"]), ("dave@other.test", ["r2@keys.test"])]
