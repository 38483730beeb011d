"""Content a server cannot take: SMTPUTF8 and 8-bit MIME downgrades, end to
end (sendmail or smtpd -> cleanup -> qmgr -> smtp -> an aiosmtpd sink).

The sinks here can leave SMTPUTF8 (aiosmtpd's enable_SMTPUTF8) and 8BITMIME
(dropped from the EHLO reply by the handler) out of what they offer, and
record MAIL FROM's parameters and the exact bytes of each message."""
import email
import email.policy
import re
import smtplib
import socket

import pytest

from conftest import Recording, free_port, made_and_stopped

SENDER = "alice@sluice.test"
UTF8_RCPT = "j\u00f6rg@a.test"


class ContentSink(Recording):
    def __init__(self, smtputf8=False, eightbitmime=True):
        from aiosmtpd.controller import Controller
        super().__init__()
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                if not eightbitmime:
                    responses = [r for r in responses if r != "250-8BITMIME"]
                return responses

            async def handle_DATA(self, server, session, envelope):
                sink.record({"from": envelope.mail_from, "rcpts": list(envelope.rcpt_tos),
                             "options": list(envelope.mail_options),
                             "bytes": envelope.original_content})
                return "250 2.0.0 Ok: queued"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     enable_SMTPUTF8=smtputf8)
        self.controller.start()


@pytest.fixture
def csink():
    yield from made_and_stopped(ContentSink)


def route(instance, sink, **params):
    instance.write_config(transport_maps="inline:{ a.test=smtp:[127.0.0.1]:%d }" % sink.port,
                          **params)
    instance.start()


def wait_received(instance, sink, count=1):
    return instance.wait_for(lambda: len(sink.received()) >= count and sink.received(),
                             30, "%d message(s) at the sink" % count)


def wait_mail(instance, user, count=1):
    return instance.wait_for(lambda: len(instance.maildir_messages(user)) >= count
                             and instance.maildir_messages(user), 30,
                             "%d message(s) for %s" % (count, user))


def body_of(raw):
    """The bytes after the header of a message as the sink got it."""
    return raw.split(b"\r\n\r\n", 1)[1]


# ---- SMTPUTF8 ----

def test_smtputf8_sent_when_offered(instance, csink):
    """sendmail with a UTF-8 recipient: autodetected (class sendmail), and
    MAIL FROM carries SMTPUTF8 to a server that offers it."""
    s = csink(smtputf8=True)
    route(instance, s)
    instance.sendmail([UTF8_RCPT], sender=SENDER,
                      body="Subject: gr\u00fc\u00dfe\nFrom: %s\n\nhallo\n" % SENDER)
    got = wait_received(instance, s)[0]
    assert "SMTPUTF8" in got["options"], got
    assert got["rcpts"] == [UTF8_RCPT]
    assert "Subject: gr\u00fc\u00dfe".encode() in got["bytes"]
    instance.wait_log(r"to=<j\\?.*rg@a.test>.*status=sent")


def test_smtputf8_from_smtpd_and_option(instance, csink):
    """MAIL FROM ... SMTPUTF8 to sluice's smtpd, and sendmail -SMTPUTF8, with
    ASCII addresses: the flag travels to the next server that offers it."""
    s = csink(smtputf8=True)
    route(instance, s)
    with smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=30) as c:
        c.ehlo("client.test")
        assert c.has_extn("smtputf8")
        c.sendmail("bob@b.test", ["x@a.test"], b"Subject: smtpd\r\n\r\nhi\r\n",
                   mail_options=["SMTPUTF8"])
    instance.sendmail(["y@a.test"], sender=SENDER, args=["-SMTPUTF8"])
    instance.sendmail(["z@a.test"], sender=SENDER)	# plain ASCII: not flagged
    got = {m["rcpts"][0]: m for m in wait_received(instance, s, 3)}
    assert "SMTPUTF8" in got["x@a.test"]["options"]
    assert "SMTPUTF8" in got["y@a.test"]["options"]
    assert "SMTPUTF8" not in got["z@a.test"]["options"]


def test_smtputf8_required_not_offered_bounces(instance, csink):
    """A message that needs SMTPUTF8, to a server without it: returned to the
    sender with 5.6.7, nothing sent."""
    s = csink(smtputf8=False)
    route(instance, s)
    instance.sendmail([UTF8_RCPT], sender=SENDER,
                      body="Subject: x\nFrom: %s\n\nhallo\n" % SENDER)
    report = wait_mail(instance, "alice")[0]
    instance.wait_empty()
    assert s.received() == []
    why = "SMTPUTF8 is required, but was not offered by host 127.0.0.1[127.0.0.1]"
    log = instance.log()
    assert re.search(r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*dsn=5\.6\.7, "
                     r"status=bounced \(%s\)" % (s.port, re.escape(why)), log), log[-3000:]
    assert report["Subject"] == "Undelivered Mail Returned to Sender"
    parts = report.get_payload()
    text = parts[0].get_payload(decode=True).decode("utf-8", "replace")
    assert why in " ".join(text.split())	# the report wraps long lines
    rcpt_block = parts[1].get_payload()[1]
    assert rcpt_block["Status"] == "5.6.7"
    assert rcpt_block["Action"] == "failed"


def test_smtputf8_flagged_but_ascii_goes_without(instance, csink):
    """Flagged (-SMTPUTF8) but all ASCII: a server without SMTPUTF8 gets it,
    MAIL FROM without the parameter."""
    s = csink(smtputf8=False)
    route(instance, s)
    instance.sendmail(["x@a.test"], sender=SENDER, args=["-SMTPUTF8"])
    got = wait_received(instance, s)[0]
    assert "SMTPUTF8" not in got["options"]
    assert got["rcpts"] == ["x@a.test"]


def test_smtputf8_disabled_in_smtpd(instance):
    instance.write_config(smtputf8_enable="no")
    instance.start()
    with socket.create_connection(("127.0.0.1", instance.smtpd_port), timeout=30) as sock:
        f = sock.makefile("rwb")
        f.readline()
        f.write(b"EHLO client.test\r\n")
        f.flush()
        ehlo = []
        while True:
            line = f.readline()
            ehlo.append(line)
            if line[3:4] == b" ":
                break
        assert not any(b"SMTPUTF8" in line for line in ehlo), ehlo
        assert any(b"8BITMIME" in line for line in ehlo), ehlo
        f.write(b"MAIL FROM:<a@b.test> SMTPUTF8\r\n")
        f.flush()
        assert f.readline().startswith(b"555 5.5.4 Unsupported option: SMTPUTF8")


# ---- 8-bit downgrade ----

MULTIPART = (
    "Subject: parts\n"
    "From: %s\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"=b1\"\n"
    "\n"
    "--=b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Gr\u00fc\u00dfe aus K\u00f6ln = 100%%\n"
    "--=b1\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAECAw==\n"
    "--=b1--\n") % SENDER


def test_8bit_downgraded_for_server_without_8bitmime(instance, csink):
    s = csink(eightbitmime=False)
    route(instance, s)
    instance.sendmail(["x@a.test"], sender=SENDER, body=MULTIPART)
    got = wait_received(instance, s)[0]
    raw = got["bytes"]
    assert not any(o.startswith("BODY=") for o in got["options"]), got["options"]
    # Every byte the server got is 7-bit (the header here is ASCII too).
    assert max(raw) < 0x80, raw
    body = body_of(raw)
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in body
    assert b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln =3D 100%\r\n" in body
    assert b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n" in body
    assert b"Content-Transfer-Encoding: 8bit" not in raw
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text, blob = [p for p in msg.iter_parts()]
    # (the line end before a boundary belongs to the boundary, RFC 2046 5.1.1)
    assert text.get_content() == "Gr\u00fc\u00dfe aus K\u00f6ln = 100%"
    assert blob.get_content() == b"\x00\x01\x02\x03"
    instance.wait_log(r"to=<x@a.test>.*status=sent")


def test_8bit_plain_message_downgraded(instance, csink):
    """A message without MIME headers: MIME-Version and the encoding are added."""
    s = csink(eightbitmime=False)
    route(instance, s)
    instance.sendmail(["x@a.test"], sender=SENDER,
                      body="Subject: plain\nFrom: %s\n\ncaf\u00e9\n" % SENDER)
    raw = wait_received(instance, s)[0]["bytes"]
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"\r\nMIME-Version: 1.0\r\n" in b"\r\n" + head + b"\r\n"
    assert b"\r\nContent-Transfer-Encoding: quoted-printable" in b"\r\n" + head
    assert body == b"caf=C3=A9\r\n"


def test_8bit_sent_as_is_to_8bitmime_server(instance, csink):
    s = csink(eightbitmime=True)
    route(instance, s)
    instance.sendmail(["x@a.test"], sender=SENDER, body=MULTIPART)
    got = wait_received(instance, s)[0]
    assert "BODY=8BITMIME" in got["options"]
    assert "Gr\u00fc\u00dfe aus K\u00f6ln".encode() in got["bytes"]
    assert b"Content-Transfer-Encoding: 8bit\r\n" in got["bytes"]


def test_downgrade_disabled(instance, csink):
    s = csink(eightbitmime=False)
    route(instance, s, disable_mime_output_conversion="yes")
    instance.sendmail(["x@a.test"], sender=SENDER, body=MULTIPART)
    got = wait_received(instance, s)[0]
    assert "Gr\u00fc\u00dfe aus K\u00f6ln = 100%\r\n".encode() in got["bytes"]
    assert b"Content-Transfer-Encoding: 8bit\r\n" in got["bytes"]
    assert b"quoted-printable" not in got["bytes"]
