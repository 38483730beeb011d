"""local's mailbox_transport and fallback_transport, end to end: `sluice sendmail`
to a local user, the local agent hands the recipient to another master.cf
service (Postfix's deliver_pass): lmtp over a UNIX socket to an aiosmtpd LMTP
server, smtp to an aiosmtpd sink.  That agent records the outcome (its own log
line, done mark, bounce); aliases and local_recipient_maps come first;
fallback_transport wins over luser_relay; a service that is not there defers."""
import os
import re

import pytest

from aiosmtpd.controller import UnixSocketController
from aiosmtpd.lmtp import LMTP
from conftest import Recording


class LmtpSink(Recording):
    """An aiosmtpd LMTP server on a UNIX socket that records what it gets."""

    def __init__(self, path):
        super().__init__()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.record((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
                return "250 2.0.0 Ok: saved"

        class Controller(UnixSocketController):
            def factory(self):
                return LMTP(self.handler, **self.SMTP_kwargs)

        self.path = path
        self.controller = Controller(Handler(), unix_socket=path)
        self.controller.start()
        os.chmod(path, 0o666)   # the lmtp agent runs as mail_owner


@pytest.fixture
def lmtp_sink(instance):
    s = LmtpSink(os.path.join(instance.base, "lmtp.sock"))
    yield s
    s.stop()


def body(subject):
    return "From: owner@sluice.test\nTo: whoever\nSubject: %s\n\nhello %s\n" % (subject, subject)


def test_mailbox_transport_lmtp_unix(instance, lmtp_sink):
    instance.write_config(mailbox_transport="lmtp:unix:%s" % lmtp_sink.path,
                          alias_maps="inline:{ team=ann }")
    instance.start()
    instance.sendmail(["bob@sluice.test"], sender="owner@sluice.test", body=body("one"))
    instance.sendmail(["team@sluice.test"], sender="owner@sluice.test", body=body("two"))
    instance.wait_for(lambda: len(lmtp_sink.received()) == 2, 30, "two messages over LMTP")
    got = sorted((m[0], m[1]) for m in lmtp_sink.received())
    # The alias is expanded first; ann's mailbox delivery then goes over LMTP.
    assert got == [("owner@sluice.test", ["ann@sluice.test"]),
                   ("owner@sluice.test", ["bob@sluice.test"])]
    content = [m[2].decode().replace("\r\n", "\n") for m in lmtp_sink.received()
               if m[1] == ["bob@sluice.test"]][0]
    assert "Subject: one\n" in content and content.endswith("\n\nhello one\n")
    # No Maildir: the mailbox is the other transport's.
    assert instance.maildir_messages("bob") == []
    assert instance.maildir_messages("ann") == []
    # The lmtp agent logged the delivery, with its relay.
    log = instance.log()
    assert re.search(r"sluice/lmtp\[\d+\]: \w+: to=<bob@sluice\.test>, relay=\S+\[%s\].*"
                     r"status=sent \(250 2\.0\.0 Ok: saved\)" % re.escape(lmtp_sink.path), log)
    assert re.search(r"to=<ann@sluice\.test>, orig_to=<team@sluice\.test>, relay=\S+\[.*"
                     r"status=sent", log)
    instance.wait_empty()
    # One outcome per recipient: local logged none of its own for bob.
    assert instance.count_log(r"to=<bob@sluice\.test>.*status=") == 1


def test_fallback_transport_over_luser_relay(instance, sink):
    s = sink()
    instance.write_config(local_recipient_maps="inline:{ known=1 }",
                          fallback_transport="smtp:[127.0.0.1]:%d" % s.port,
                          luser_relay="catchall@sluice.test")
    instance.start()
    instance.sendmail(["known@sluice.test", "stranger+x@sluice.test"],
                      sender="owner@sluice.test", body=body("fb"))
    instance.wait_for(lambda: len(s.received()) == 1, 30, "the unknown user at the sink")
    assert s.received()[0][:2] == ("owner@sluice.test", ["stranger+x@sluice.test"])
    instance.wait_for(lambda: len(instance.maildir_messages("known")) == 1, 30,
                      "the known user's Maildir")
    instance.wait_empty()
    assert instance.maildir_messages("catchall") == []
    assert re.search(r"sluice/smtp\[\d+\]: \w+: to=<stranger\+x@sluice\.test>, "
                     r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d,.*status=sent" % s.port,
                     instance.log())


def test_fallback_transport_bounce_recorded_by_other_agent(instance, sink):
    s = sink(rcpt_reply=lambda a: "550 5.1.1 no such user here" if a.startswith("gone") else None)
    instance.write_config(local_recipient_maps="inline:{ owner=1 }",
                          fallback_transport="smtp:[127.0.0.1]:%d" % s.port)
    instance.start()
    instance.sendmail(["gone@sluice.test"], sender="owner@sluice.test", body=body("gone"))
    instance.wait_for(lambda: any("Delivery Status Notification" in m.get("Subject", "")
                                  or m.get_content_type() == "multipart/report"
                                  for m in instance.maildir_messages("owner")), 30, "a bounce")
    assert re.search(r"sluice/smtp\[\d+\]: \w+: to=<gone@sluice\.test>, .*dsn=5\.1\.1, "
                     r"status=bounced", instance.log())
    instance.wait_empty()
    assert instance.count_log(r"to=<gone@sluice\.test>.*status=") == 1


def test_missing_transport_defers(instance):
    instance.write_config(mailbox_transport="nosuch")
    instance.start()
    instance.sendmail(["bob@sluice.test"], sender="owner@sluice.test", body=body("x"))
    instance.wait_log(r"warning: \w+: mailbox_transport: connect to transport nosuch: ")
    instance.wait_log(r"to=<bob@sluice\.test>, relay=local.*dsn=4\.3\.0, status=deferred "
                      r"\(mail transport unavailable\)")
    assert instance.maildir_messages("bob") == []
    assert instance.queue_counts()["deferred"] + instance.queue_counts()["active"] == 1
