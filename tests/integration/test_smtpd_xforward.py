"""smtpd: the XFORWARD command (Postfix's extension for the port a content
filter gives mail back on), end to end over raw sessions.

Checked: only smtpd_authorized_xforward_hosts see it in the EHLO reply and
may use it (550 5.7.0 otherwise); the attributes name the original client in
the "ID: client=..., orig_queue_id=..., orig_client=name[addr]" log line and
in the queue file's log_ attributes, while client_* and the Received: header
keep the real connection; SOURCE decides the rewrite context; the
attributes last one transaction; bad ones are refused with 501 and change
nothing; XFORWARD inside a transaction is 503.
"""
import os
import re
import subprocess

from smtpd_client import OUTSIDE, Raw, start
from test_smtpd_load import queue_file_attrs

# Nothing listens on port 9: the messages stay in deferred/ to be read.
PARKED = "inline:{ remote.test=smtp:[127.0.0.1]:9 }"


def session(instance, outside=False):
    r = Raw(instance, outside)
    assert r.reply().startswith("220")
    ehlo = r.cmd("EHLO client.example")
    assert ehlo.startswith("250")
    return r, ehlo


def queue_message(r, subject):
    assert r.cmd("MAIL FROM:<a@client.example>").startswith("250")
    assert r.cmd("RCPT TO:<bob@remote.test>").startswith("250")
    assert r.cmd("DATA").startswith("354")
    r.send("Subject: %s\r\n\r\nx\r\n.\r\n" % subject)
    reply = r.reply()
    assert reply.startswith("250 2.0.0 Ok: queued as "), reply
    return re.search(r"queued as (\w+)", reply).group(1)


def deferred_file(instance, qid):
    instance.wait_for(lambda: qid in instance.queue_ids("deferred"), 60, "deferred " + qid)
    found = subprocess.run(["find", os.path.join(instance.spool, "deferred"), "-name", qid],
                           capture_output=True).stdout.decode().split()
    return found[0]


def test_refused_outside_authorized_hosts(instance):
    # 127.0.0.1 may; OUTSIDE (127.0.0.9) may not.
    start(instance, smtpd_authorized_xforward_hosts="127.0.0.1/32", transport_maps=PARKED)
    r, ehlo = session(instance)
    assert "250-XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE" in ehlo.split("\n")
    r.cmd("QUIT")
    r.close()
    o, ehlo = session(instance, outside=True)
    assert "XFORWARD" not in ehlo
    assert o.cmd("XFORWARD NAME=mx.example.com") == "550 5.7.0 Error: insufficient authorization"
    assert o.cmd("NOOP").startswith("250")
    o.cmd("QUIT")
    o.close()
    instance.wait_log(r"disconnect from \S+\[127\.0\.0\.9\] ehlo=1 xforward=0/1 noop=1 quit=1 "
                      r"commands=3/4")


def test_names_the_original_client(instance):
    start(instance, smtpd_authorized_xforward_hosts="127.0.0.0/8", transport_maps=PARKED)
    r, _ = session(instance)
    client_port = str(r.s.getsockname()[1]).encode()
    assert r.cmd("XFORWARD NAME=mx.example.com ADDR=IPv6:2001:db8::7 PORT=4711 PROTO=ESMTP "
                 "HELO=+5B192.0.2.1+5D") == "250 2.0.0 Ok"
    # Attributes may come in several commands, pipelined.
    r.send("XFORWARD IDENT=4jjAB12cd3 SOURCE=REMOTE\r\nNOOP\r\n")
    assert r.reply() == "250 2.0.0 Ok"
    assert r.reply().startswith("250")
    first = queue_message(r, "forwarded")
    # The next transaction has no forwarded client: the attributes went with the first.
    second = queue_message(r, "direct")
    r.cmd("QUIT")
    r.close()

    instance.wait_log(r"(?m)%s: client=localhost\[127\.0\.0\.1\], orig_queue_id=4jjAB12cd3, "
                      r"orig_client=mx\.example\.com\[2001:db8::7\]$" % first)
    instance.wait_log(r"(?m)%s: client=localhost\[127\.0\.0\.1\]$" % second)

    a = queue_file_attrs(deferred_file(instance, first))
    assert a[b"log_client_name"] == b"mx.example.com"
    assert a[b"log_client_address"] == b"2001:db8::7"
    assert a[b"log_client_port"] == b"4711"
    assert a[b"log_helo_name"] == b"[192.0.2.1]"
    assert a[b"log_protocol_name"] == b"ESMTP"
    # The connection itself stays what it was.
    assert a[b"client_address"] == b"127.0.0.1"
    assert a[b"helo_name"] == b"client.example"
    # SOURCE=REMOTE overrides the local context 127.0.0.1 would give.
    assert a[b"rewrite_context"] == b"remote"
    with open(deferred_file(instance, first), "rb") as f:
        content = f.read()
    assert re.search(rb"Received: from client\.example \(localhost \[127\.0\.0\.1\]\)", content)
    assert b"2001:db8::7" not in content.split(b"Received:", 1)[1].split(b"\n", 1)[0]

    b = queue_file_attrs(deferred_file(instance, second))
    assert b[b"log_client_address"] == b"127.0.0.1"
    # The real connection's port, in both sets (the first message's client_port too).
    assert b[b"log_client_port"] == b[b"client_port"] == client_port
    assert a[b"client_port"] == b[b"client_port"]
    assert b[b"rewrite_context"] == b"local"


def test_unavailable_values_and_refusals(instance):
    start(instance, smtpd_authorized_xforward_hosts="127.0.0.1", transport_maps=PARKED)
    r, _ = session(instance)
    # Refused commands change nothing and the session goes on.
    assert r.cmd("XFORWARD") == "501 5.5.4 Syntax: XFORWARD attribute=value..."
    assert r.cmd("XFORWARD COLOR=red") == "501 5.5.4 Bad XFORWARD attribute name: COLOR"
    assert r.cmd("XFORWARD NAME=ok.example ADDR=192.0.2.300") == \
        "501 5.5.4 Bad XFORWARD ADDR syntax: 192.0.2.300"
    assert r.cmd("XFORWARD SOURCE=elsewhere") == "501 5.5.4 Bad XFORWARD SOURCE syntax: elsewhere"
    assert r.cmd("XFORWARD NAME=[UNAVAILABLE] ADDR=[UNAVAILABLE] SOURCE=LOCAL") == "250 2.0.0 Ok"
    assert r.cmd("MAIL FROM:<a@client.example>").startswith("250")
    assert r.cmd("XFORWARD NAME=late.example") == "503 5.5.1 Error: MAIL transaction in progress"
    assert r.cmd("RCPT TO:<bob@remote.test>").startswith("250")
    assert r.cmd("DATA").startswith("354")
    r.send("Subject: unknown origin\r\n\r\nx\r\n.\r\n")
    qid = re.search(r"queued as (\w+)", r.reply()).group(1)
    r.cmd("QUIT")
    r.close()
    instance.wait_log(r"(?m)%s: client=localhost\[127\.0\.0\.1\], orig_client=unknown\[unknown\]$"
                      % qid)
    instance.wait_log(r"disconnect from localhost\[127\.0\.0\.1\] ehlo=1 xforward=1/6 mail=1 "
                      r"rcpt=1 data=1 quit=1 commands=6/11")
    a = queue_file_attrs(deferred_file(instance, qid))
    assert a[b"log_client_name"] == b"unknown" and a[b"log_client_address"] == b"unknown"
    assert a[b"rewrite_context"] == b"local"


def test_bad_authorized_hosts_is_fatal(instance):
    start(instance, smtpd_authorized_xforward_hosts="127.0.0.300/8")
    import socket
    socket.create_connection(("127.0.0.1", instance.smtpd_port), timeout=5).close()
    instance.wait_log(r"smtpd\[\d+\]: fatal: parameter smtpd_authorized_xforward_hosts: "
                      r"bad network \"127\.0\.0\.300/8\"")
