"""smtpd: STARTTLS and AUTH end to end, with clients sluice did not write
(Python's smtplib and ssl, openssl s_client).

Certificates are made by openssl in the test (smtp_peers.make_cert); the
SASL users live in a sasldb made by Debian's saslpasswd2 in the test's own
folder, found through cyrus_sasl_config_path (never /etc/sasl2).  Relay
tests connect from 127.0.0.9, outside mynetworks = 127.0.0.1/32.
"""
import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from smtp_peers import make_cert

OUTSIDE = "127.0.0.9"
SASLPASSWD2 = shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2"
RELAY = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"


@pytest.fixture
def certs(instance):
    d = os.path.join(instance.base, "certs")
    os.makedirs(d)
    os.chmod(d, 0o755)
    cert, key = make_cert(d, "sluice.test", names=["sluice.test"], ips=["127.0.0.1"])
    os.chmod(key, 0o600)		# read by smtpd before it gives up root
    return cert, key


def sasl_setup(instance, users=(("u", "secret"),), mechs="PLAIN LOGIN"):
    """A Cyrus application config and sasldb in the instance's folder."""
    d = os.path.join(instance.base, "sasl")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    db = os.path.join(d, "sasldb2")
    with open(os.path.join(d, "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\n"
                "mech_list: %s\n" % (db, mechs))
    for name, password in users:
        subprocess.run([SASLPASSWD2, "-p", "-f", db, "-c", "-u", "sluice.test", name],
                       input=password.encode() + b"\n", check=True, capture_output=True)
    os.chmod(db, 0o644)
    return dict(smtpd_sasl_auth_enable="yes", cyrus_sasl_config_path=d)


def start(instance, **params):
    base = dict(mynetworks="127.0.0.1/32", smtpd_relay_restrictions=RELAY)
    base.update(params)
    instance.write_config(**base)
    instance.start()


def tls_params(certs, level="may", **more):
    p = dict(smtpd_tls_security_level=level, smtpd_tls_cert_file=certs[0],
             smtpd_tls_key_file=certs[1], smtpd_tls_loglevel="1")
    p.update(more)
    return p


def client(instance, outside=False):
    return smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=30,
                        source_address=(OUTSIDE, 0) if outside else None)


def no_verify():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """SMTP by hand over a socket that can turn TLS on."""

    def __init__(self, instance, outside=False):
        self.s = socket.create_connection(("127.0.0.1", instance.smtpd_port), timeout=30,
                                          source_address=(OUTSIDE, 0) if outside else None)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(4096)
                if not chunk:
                    return None
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            lines.append(line.decode().rstrip("\r"))
            if line[3:4] != b"-":
                return "\n".join(lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def starttls(self):
        assert self.buf == b""
        self.s = no_verify().wrap_socket(self.s, server_hostname="sluice.test")

    def close(self):
        self.s.close()


# ---------------------------------------------------------------- STARTTLS

def test_starttls_smtplib_and_log_line(instance, certs):
    start(instance, **tls_params(certs, smtpd_tls_received_header="yes"))
    with client(instance) as c:
        code, text = c.ehlo("client.example")
        assert b"STARTTLS" in text
        c.starttls(context=no_verify())
        code, text = c.ehlo("client.example")
        assert code == 250 and b"STARTTLS" not in text
        assert c.sendmail("a@client.example", ["alice@sluice.test"],
                          b"Subject: tls\r\n\r\nsecret\r\n") == {}
    m = instance.wait_for(lambda: instance.maildir_messages("alice"), 30, "mail")[0]
    rcv = m["Received"]
    assert re.search(r"\(using TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)\)\s+"
                     r"\(No client certificate requested\)\s+by sluice\.test \(sluice\) "
                     r"with ESMTPS id", rcv), rcv
    log = instance.wait_log(r"disconnect from")
    log = instance.log()
    assert re.search(r"Anonymous TLS connection established from localhost\[127\.0\.0\.1\]: "
                     r"TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)", log), log
    assert re.search(r"ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7", log), log


def test_starttls_openssl_s_client(instance, certs):
    start(instance, **tls_params(certs))
    p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        "127.0.0.1:%d" % instance.smtpd_port, "-servername", "sluice.test",
                        "-quiet"],
                       input=b"EHLO s-client.example\r\nNOOP\r\nQUIT\r\n",
                       capture_output=True, timeout=60)
    out = p.stdout.decode(errors="replace")
    assert "250 2.0.0 Ok" in out, out + p.stderr.decode(errors="replace")
    assert "221 2.0.0 Bye" in out
    # Inside TLS, EHLO no longer offers STARTTLS.
    assert "STARTTLS" not in out
    instance.wait_log(r"Anonymous TLS connection established from localhost\[127\.0\.0\.1\]")


def test_starttls_protocols_enforced(instance, certs):
    start(instance, **tls_params(certs, level="encrypt",
                                 smtpd_tls_mandatory_protocols=">=TLSv1.3"))
    r = Raw(instance)
    assert r.reply().startswith("220 ")
    r.cmd("EHLO c.example")
    assert r.cmd("STARTTLS").startswith("220 2.0.0")
    ctx = no_verify()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, ConnectionError)):
        ctx.wrap_socket(r.s, server_hostname="sluice.test")
    r.close()
    instance.wait_log(r"SSL_accept error from localhost\[127\.0\.0\.1\]")


def test_plaintext_injection_discarded(instance, certs):
    """Commands sent in the same packet as STARTTLS never run inside TLS."""
    start(instance, **tls_params(certs))
    r = Raw(instance)
    r.reply()
    r.cmd("EHLO c.example")
    r.send("STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\n")
    assert r.reply().startswith("220 2.0.0 Ready to start TLS")
    r.starttls()
    # The first reply inside TLS answers our own command, nothing injected.
    assert r.cmd("NOOP") == "250 2.0.0 Ok"
    assert r.cmd("EHLO c.example").startswith("250-sluice.test")
    # No transaction was opened by the injected MAIL.
    assert r.cmd("RCPT TO:<alice@sluice.test>").startswith("503 5.5.1")
    r.cmd("QUIT")
    r.close()
    instance.wait_log(r"warning: localhost\[127\.0\.0\.1\]: discarding \d+ bytes of "
                      r"plaintext sent after STARTTLS")


def test_starttls_resets_session(instance, certs):
    """RFC 3207 4.2: HELO and a started transaction are forgotten."""
    start(instance, **tls_params(certs))
    r = Raw(instance)
    r.reply()
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<a@c.example>").startswith("250")
    assert r.cmd("STARTTLS").startswith("220")
    r.starttls()
    assert r.cmd("RCPT TO:<alice@sluice.test>").startswith("503 5.5.1 Error: need MAIL")
    assert r.cmd("STARTTLS").startswith("554 5.5.1 Error: TLS already active")
    r.close()


def test_encrypt_requires_starttls(instance, certs):
    start(instance, **tls_params(certs, level="encrypt"))
    r = Raw(instance)
    r.reply()
    assert "STARTTLS" in r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<a@c.example>") == "530 5.7.0 Must issue a STARTTLS command first"
    assert r.cmd("NOOP").startswith("250")
    assert r.cmd("STARTTLS").startswith("220")
    r.starttls()
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<a@c.example>").startswith("250 2.1.0")
    r.close()


def test_no_starttls_without_level(instance):
    start(instance)
    r = Raw(instance)
    r.reply()
    assert "STARTTLS" not in r.cmd("EHLO c.example")
    assert r.cmd("STARTTLS").startswith("502 5.5.1")
    r.close()


# ---------------------------------------------------------------- AUTH

def auth_plain(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def test_relay_refused_before_auth_allowed_after(instance, sink):
    peer = sink()
    start(instance, transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d }" % peer.port,
          smtpd_sasl_authenticated_header="yes", **sasl_setup(instance))
    with client(instance, outside=True) as c:
        code, text = c.ehlo("client.example")
        assert re.search(rb"AUTH (PLAIN LOGIN|LOGIN PLAIN)", text), text
        c.mail("u@client.example")
        code, text = c.rcpt("bob@remote.test")
        assert code == 554 and b"5.7.1 <bob@remote.test>: Relay access denied" in text
        c.rset()
        c.login("u", "secret")
        assert c.sendmail("u@client.example", ["bob@remote.test"], b"Subject: a\r\n\r\nx\r\n",
                          mail_options=["AUTH=u@client.example"]) == {}
    instance.wait_for(lambda: peer.rcpts() == ["bob@remote.test"], 30, "relayed")
    log = instance.log()
    assert re.search(r"\w+: client=unknown\[127\.0\.0\.9\], sasl_method=PLAIN, "
                     r"sasl_username=u\b", log), log
    assert "NOQUEUE: reject: RCPT from unknown[127.0.0.9]: 554 5.7.1 <bob@remote.test>: " \
           "Relay access denied; from=<u@client.example> to=<bob@remote.test> " \
           "proto=ESMTP helo=<client.example>" in log
    content = peer.received()[0][2].decode()
    assert "(Authenticated sender: u)" in content
    assert "with ESMTPA id" in content
    assert "secret" not in log and auth_plain("u", "secret") not in log


def test_auth_login_right_and_wrong(instance):
    start(instance, **sasl_setup(instance))
    r = Raw(instance, outside=True)
    r.reply()
    r.cmd("EHLO c.example")
    assert r.cmd("AUTH LOGIN") == "334 VXNlcm5hbWU6"
    assert r.cmd(base64.b64encode(b"u").decode()) == "334 UGFzc3dvcmQ6"
    rep = r.cmd(base64.b64encode(b"wrong").decode())
    assert rep.startswith("535 5.7.8 Error: authentication failed:"), rep
    assert r.cmd("AUTH LOGIN") == "334 VXNlcm5hbWU6"
    r.cmd(base64.b64encode(b"u").decode())
    assert r.cmd(base64.b64encode(b"secret").decode()) == "235 2.7.0 Authentication successful"
    assert r.cmd("AUTH PLAIN " + auth_plain("u", "secret")).startswith("503 5.5.1")
    r.cmd("QUIT")
    r.close()
    log = instance.wait_log(r"disconnect from unknown\[127\.0\.0\.9\]")
    log = instance.log()
    assert re.search(r"warning: unknown\[127\.0\.0\.9\]: SASL LOGIN authentication failed: "
                     r"authentication failure", log), log
    assert "wrong" not in log and "secret" not in log
    assert re.search(r"auth=1/3", log), log


def test_auth_plain_wrong_then_aborted(instance):
    start(instance, **sasl_setup(instance))
    r = Raw(instance, outside=True)
    r.reply()
    r.cmd("EHLO c.example")
    rep = r.cmd("AUTH PLAIN " + auth_plain("u", "nope"))
    assert rep.startswith("535 5.7.8 Error: authentication failed"), rep
    assert r.cmd("AUTH PLAIN") == "334 "
    assert r.cmd("*") == "501 5.7.0 Authentication aborted"
    assert r.cmd("AUTH CRAM-MD5").startswith("504 5.5.4")
    assert r.cmd("MAIL FROM:<u@c.example>").startswith("250")
    assert r.cmd("RCPT TO:<x@remote.test>").startswith("554 5.7.1")
    r.close()
    instance.wait_log(r"warning: unknown\[127\.0\.0\.9\]: SASL PLAIN authentication failed: "
                      r"authentication failure")
    assert "nope" not in instance.log()


def test_security_options_noplaintext(instance, certs):
    """noplaintext hides PLAIN and LOGIN in plain text; the TLS options
    (empty here) let them through inside TLS."""
    start(instance, smtpd_sasl_security_options="noanonymous, noplaintext",
          smtpd_sasl_tls_security_options="noanonymous",
          **tls_params(certs), **sasl_setup(instance))
    with client(instance, outside=True) as c:
        code, text = c.ehlo("c.example")
        assert b"AUTH" not in text
        assert c.docmd("AUTH", "PLAIN " + auth_plain("u", "secret"))[0] == 503
        c.starttls(context=no_verify())
        code, text = c.ehlo("c.example")
        assert b"AUTH" in text and b"PLAIN" in text
        c.login("u", "secret")


def test_tls_auth_only_and_broken_clients(instance, certs):
    start(instance, smtpd_tls_auth_only="yes", broken_sasl_auth_clients="yes",
          **tls_params(certs), **sasl_setup(instance))
    with client(instance, outside=True) as c:
        code, text = c.ehlo("c.example")
        assert b"AUTH" not in text
        c.starttls(context=no_verify())
        code, text = c.ehlo("c.example")
        assert b"\nAUTH=PLAIN LOGIN" in text and b"\nAUTH PLAIN LOGIN" in text
        c.login("u", "secret")


def test_submission_service_encrypt_and_auth(instance, certs):
    """The docs' submission example: a master.cf service with -o overrides."""
    sub_port = instance.smtpd_port + 1 if instance.smtpd_port < 65000 else 20587
    instance.set_master_cf(instance.master_cf + (
        "127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_security_level=encrypt "
        "-o smtpd_sasl_auth_enable=yes "
        "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n" % sub_port))
    params = sasl_setup(instance)
    params.pop("smtpd_sasl_auth_enable")
    start(instance, smtpd_tls_cert_file=certs[0], smtpd_tls_key_file=certs[1], **params)
    # Port 25 service: no AUTH, no STARTTLS.
    with client(instance) as c:
        code, text = c.ehlo("c.example")
        assert b"AUTH" not in text and b"STARTTLS" not in text
    c = smtplib.SMTP("127.0.0.1", sub_port, timeout=30, source_address=(OUTSIDE, 0))
    code, text = c.ehlo("c.example")
    assert b"AUTH" not in text
    assert c.docmd("MAIL FROM:<u@c.example>")[0] == 530
    c.starttls(context=no_verify())
    c.ehlo("c.example")
    c.login("u", "secret")
    assert c.sendmail("u@c.example", ["alice@sluice.test"], b"Subject: s\r\n\r\nx\r\n") == {}
    c.quit()
    instance.wait_for(lambda: instance.maildir_messages("alice"), 30, "mail")
