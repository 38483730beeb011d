"""smtpd: access(5) tables in the restriction lists, the sender domain DNS
check and unknown recipients refused at RCPT TO, end to end with raw SMTP.

Clients outside mynetworks (127.0.0.1/32) connect from 127.0.0.9.  The DNS
test runs the whole instance in a private mount namespace whose
/etc/resolv.conf names a dnsmasq on 127/8 (smtp_peers.Dns); the real file
is never touched.
"""
import os
import re
import socket
import subprocess

import pytest

import smtpd_client
from conftest import SLUICE
from smtpd_client import start
from smtp_peers import Dns, can_run_dns


def table(instance, name, lines):
    path = os.path.join(instance.base, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)
    return "texthash:" + path


class Raw(smtpd_client.Raw):
    """Greeted, and EHLO HELO said (unless helo is None)."""

    def __init__(self, instance, outside=False, helo="client.example"):
        super().__init__(instance, outside)
        assert self.reply().startswith("220")
        if helo:
            assert self.cmd("EHLO " + helo).startswith("250")

    def rcpt(self, sender, rcpt):
        """MAIL then RCPT; the RCPT reply (or the MAIL reply if it failed)."""
        self.cmd("RSET")
        r = self.cmd("MAIL FROM:<%s>" % sender)
        if not r.startswith("250"):
            return r
        return self.cmd("RCPT TO:<%s>" % rcpt)


def test_client_access_address_and_prefixes(instance):
    t = table(instance, "client_access", ["127.0.0.9 REJECT go away", "127.0.0 OK",
                                          "127 REJECT never seen"])
    start(instance, smtpd_client_restrictions="check_client_access " + t)
    r = Raw(instance, outside=True)
    assert r.rcpt("a@client.example", "alice@sluice.test") == \
        "554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: go away"
    r.close()
    r = Raw(instance)
    # 127.0.0.1 is not listed: its network prefix 127.0.0 answers OK first.
    assert r.rcpt("a@client.example", "alice@sluice.test").startswith("250")
    r.close()
    instance.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.9\]: 554 5\.7\.1 "
                      r"<unknown\[127\.0\.0\.9\]>: Client host rejected: go away; "
                      r"from=<a@client\.example> to=<alice@sluice\.test> proto=ESMTP "
                      r"helo=<client\.example>")


SENDER_TABLE = [
    "spam@bad.test REJECT",
    "bad.test DEFER try later",
    "parent.test 550 5.7.0 no thanks",
    "dunno@sub.parent.test DUNNO",
    "abuse@ 421 4.7.2 not you",
    "<> 554 no bounces here",
    "friend@bad.test OK",
]


@pytest.mark.parametrize("sender,want", [
    ("spam@bad.test", "554 5.7.1 <spam@bad.test>: Sender address rejected: Access denied"),
    ("x@bad.test", "450 4.7.1 <x@bad.test>: Sender address rejected: try later"),
    ("x@Sub.Parent.test", "550 5.7.0 <x@sub.parent.test>: Sender address rejected: "
                          "no thanks"),
    ("dunno@sub.parent.test", "250"),
    ("abuse@anything.example", "421 4.7.2 <abuse@anything.example>: Sender address "
                               "rejected: not you"),
    ("", "554 5.7.1 <>: Sender address rejected: no bounces here"),
    ("friend@bad.test", "250"),
    ("x@good.example", "250"),
])
def test_sender_access_query_order(instance, sender, want):
    start(instance, smtpd_sender_restrictions="check_sender_access " +
          table(instance, "sender_access", SENDER_TABLE))
    r = Raw(instance)
    got = r.rcpt(sender, "alice@sluice.test")
    assert got.startswith(want), got
    r.close()


def test_recipient_access_restriction_names_and_bad_action(instance):
    t = table(instance, "rcpt_access", ["alice@sluice.test permit_mynetworks, reject",
                                        "bob@sluice.test FROBNICATE",
                                        "carol@ PERMIT"])
    start(instance, smtpd_recipient_restrictions="check_recipient_access " + t)
    inside, outside = Raw(instance), Raw(instance, outside=True)
    assert inside.rcpt("a@c.example", "alice@sluice.test").startswith("250")
    assert outside.rcpt("a@c.example", "alice@sluice.test") == \
        "554 5.7.1 <alice@sluice.test>: Recipient address rejected: Access denied"
    assert outside.rcpt("a@c.example", "carol@sluice.test").startswith("250")
    assert outside.rcpt("a@c.example", "bob@sluice.test") == \
        "451 4.3.5 Server configuration error"
    inside.close()
    outside.close()
    instance.wait_log(r"warning: access table texthash:\S+rcpt_access: unknown or "
                      r"unsupported action \"FROBNICATE\"")


def test_helo_access_parent_domain(instance):
    start(instance, smtpd_helo_restrictions="check_helo_access " +
          table(instance, "helo_access", ["evil.example REJECT no"]))
    r = Raw(instance, helo="host.Evil.example")
    assert r.rcpt("a@c.example", "alice@sluice.test") == \
        "554 5.7.1 <host.Evil.example>: Helo command rejected: no"
    r.close()
    r = Raw(instance, helo="good.example")
    assert r.rcpt("a@c.example", "alice@sluice.test").startswith("250")
    r.close()


def test_bad_table_is_fatal_and_named(instance):
    start(instance, smtpd_client_restrictions="check_client_access")
    # smtpd starts on demand: a client makes master start one.
    s = socket.create_connection(("127.0.0.1", instance.smtpd_port), timeout=30)
    instance.wait_log(r"fatal: parameter smtpd_client_restrictions: check_client_access "
                      r"needs a table")
    s.close()


def test_unlisted_local_recipient(instance):
    """local_recipient_maps (Postfix's default: the passwd file and
    alias_maps) is asked when local delivery goes to system accounts."""
    aliases = table(instance, "aliases", ["info root"])
    start(instance, local_mailbox_base="", alias_maps=aliases)
    r = Raw(instance)
    assert r.rcpt("a@c.example", "root@sluice.test").startswith("250")
    assert r.rcpt("a@c.example", "info@sluice.test").startswith("250")
    assert r.rcpt("a@c.example", "nosuchuser@sluice.test") == \
        "550 5.1.1 <nosuchuser@sluice.test>: Recipient address rejected: User unknown " \
        "in local recipient table"
    r.cmd("QUIT")
    r.close()
    instance.wait_log(r"NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 "
                      r"<nosuchuser@sluice\.test>: Recipient address rejected: User unknown "
                      r"in local recipient table; from=<a@c\.example> "
                      r"to=<nosuchuser@sluice\.test> proto=ESMTP helo=<client\.example>")


def test_unlisted_check_off(instance):
    start(instance, local_mailbox_base="", smtpd_reject_unlisted_recipient="no")
    r = Raw(instance)
    assert r.rcpt("a@c.example", "nosuchuser@sluice.test").startswith("250")
    r.close()
    instance.stop()
    instance.write_config(smtpd_recipient_restrictions="reject_unlisted_recipient")
    instance.start()
    r = Raw(instance)
    assert r.rcpt("a@c.example", "nosuchuser@sluice.test").startswith("550 5.1.1")
    r.close()


def test_unlisted_virtual_recipient(instance):
    start(instance, virtual_alias_domains="virt.test",
          virtual_alias_maps=table(instance, "virtual", ["a@virt.test alice@sluice.test"]))
    r = Raw(instance)
    assert r.rcpt("a@c.example", "a@virt.test").startswith("250")
    assert r.rcpt("a@c.example", "b@virt.test") == \
        "550 5.1.1 <b@virt.test>: Recipient address rejected: User unknown in virtual " \
        "alias table"
    r.close()


DNS_SKIP = can_run_dns()


@pytest.mark.skipif(DNS_SKIP is not None, reason=str(DNS_SKIP))
@pytest.mark.parametrize("code", ["450", "550"])
def test_reject_unknown_sender_domain(instance, code):
    dns = Dns(instance.base, mx=[("mx-only.test", "mx.mx-only.test", 10)],
              hosts=[("mx.mx-only.test", "127.0.0.1"), ("a-only.test", "127.0.0.2")])
    try:
        instance.write_config(mynetworks="127.0.0.1/32", unknown_address_reject_code=code,
                              smtpd_sender_restrictions="reject_unknown_sender_domain")
        # The whole instance sees the test's resolver, in its own namespace.
        subprocess.run(["unshare", "-m", "sh", "-c",
                        'mount --bind "$0" /etc/resolv.conf && exec "$1" -c "$2" start',
                        dns.resolv, SLUICE, instance.conf], check=True, timeout=60)
        instance.running = True
        instance.wait_for(lambda: os.path.exists(
            os.path.join(instance.spool, "private", "qmgr-control")), 20, "start")
        r = Raw(instance)
        assert r.rcpt("a@mx-only.test", "alice@sluice.test").startswith("250")
        assert r.rcpt("a@a-only.test", "alice@sluice.test").startswith("250")
        assert r.rcpt("a@sluice.test", "alice@sluice.test").startswith("250")
        assert r.rcpt("", "alice@sluice.test").startswith("250")
        assert r.rcpt("a@nx.test", "alice@sluice.test") == \
            "%s %s.1.8 <a@nx.test>: Sender address rejected: Domain not found" % (
                code, code[0])
        r.close()
    finally:
        instance.stop()
        dns.stop()
