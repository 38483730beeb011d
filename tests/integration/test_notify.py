"""soft_bounce and notify_classes, end to end (docs/BOUNCE.md sections 8-9).

soft_bounce = yes: a permanent failure anywhere (an SMTP peer's 550, an
unknown local user, the error transport) is logged as Postfix logs it
("dsn=4.x.y, status=SOFTBOUNCE (... 550 5.1.1 ...)"), the message stays in
the deferred queue, and the sender gets no bounce; turning soft_bounce off
again lets the next attempt return the mail.

notify_classes: a peer that breaks the SMTP protocol makes the smtp agent
send the postmaster Postfix's "SMTP client: errors from ..." notice with
the session transcript (class protocol); the default classes (resource,
software) report a corrupt queue file; an empty list sends nothing; a
notice that cannot be delivered causes no further notice.
"""
import os
import re
import time

from smtp_peers import Peer

SENDER = "alice@sluice.test"


def route(domain, port):
    return "inline:{ %s=smtp:[127.0.0.1]:%d }" % (domain, port)


def wait_mail(instance, user, count=1, timeout=30):
    return instance.wait_for(lambda: len(instance.maildir_messages(user)) >= count
                             and instance.maildir_messages(user), timeout,
                             "%d message(s) for %s" % (count, user))


def deferred_ids(instance):
    return instance.wait_for(lambda: instance.queue_ids("deferred"), 30,
                             "a message in the deferred queue")


# ---------------------------------------------------------------- soft_bounce

def test_soft_bounce_smtp_550_stays_queued(instance, sink):
    peer = sink(rcpt_reply=lambda a: "550 5.1.1 <%s>: Recipient address rejected: "
                "User unknown" % a)
    instance.write_config(transport_maps=route("remote.test", peer.port), soft_bounce="yes",
                          minimal_backoff_time="300s", maximal_backoff_time="600s")
    instance.start()
    instance.sendmail(["nobody@remote.test"], sender=SENDER, subject="keep me")
    line = instance.wait_log(r"to=<nobody@remote\.test>.*status=SOFTBOUNCE.*")[0]
    assert "dsn=4.1.1, status=SOFTBOUNCE (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 " \
           "<nobody@remote.test>: Recipient address rejected: User unknown " \
           "(in reply to RCPT TO command))" in line, line
    assert len(deferred_ids(instance)) == 1
    log = instance.log()
    assert "status=bounced" not in log
    assert "non-delivery notification" not in log
    assert instance.maildir_messages("alice") == []
    assert peer.received() == []
    # The defer log holds the deferral with the soft status, for delay warnings.
    qid = instance.queue_ids("deferred")[0]
    defer_logs = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(instance.spool,
                                                                          "defer"))
                  for f in fs if f == qid]
    assert len(defer_logs) == 1
    text = open(defer_logs[0]).read()
    assert "status=4.1.1\n" in text and "action=delayed\n" in text


def test_soft_bounce_local_unknown_user(instance):
    instance.write_config(local_mailbox_base="", soft_bounce="yes",
                          minimal_backoff_time="300s", maximal_backoff_time="600s")
    instance.start()
    instance.sendmail(["nosuchuser-sluice@sluice.test"], sender="someone@example.test")
    line = instance.wait_log(r"to=<nosuchuser-sluice@sluice\.test>.*relay=local.*")[0]
    assert 'dsn=4.1.1, status=SOFTBOUNCE (unknown user: "nosuchuser-sluice")' in line, line
    assert len(deferred_ids(instance)) == 1
    assert "non-delivery notification" not in instance.log()


def test_soft_bounce_error_transport_then_off_returns_mail(instance):
    instance.write_config(transport_maps="inline:{ bad.test=error:5.1.1 no such user here }",
                          soft_bounce="yes")
    instance.start()
    instance.sendmail(["x@bad.test"], sender=SENDER, subject="doomed later")
    line = instance.wait_log(r"to=<x@bad\.test>.*status=SOFTBOUNCE.*")[0]
    assert "relay=none" in line and "dsn=4.1.1, status=SOFTBOUNCE (no such user here)" in line
    qid = deferred_ids(instance)[0]
    assert "non-delivery notification" not in instance.log()
    assert instance.maildir_messages("alice") == []
    # The safety net kept the mail: without it, the next attempt returns it.
    # (A restart rather than a reload: running agents keep their settings.)
    instance.stop()
    instance.write_config(soft_bounce="no")
    instance.start()
    instance.flush()
    report = wait_mail(instance, "alice")[0]
    assert report["Subject"] == "Undelivered Mail Returned to Sender"
    instance.wait_log(r"%s: sender non-delivery notification" % qid)
    instance.wait_empty()


# ---------------------------------------------------------------- notify_classes

def broken_peer():
    """A peer that answers RCPT with a line that is no SMTP reply."""
    return Peer(replies={"RCPT": "hello, this is not SMTP"})


def test_protocol_error_sends_transcript_to_postmaster(instance):
    peer = broken_peer()
    try:
        instance.write_config(transport_maps=route("remote.test", peer.port),
                              notify_classes="protocol")
        instance.start()
        instance.sendmail(["x@remote.test"], sender=SENDER)
        notice = wait_mail(instance, "postmaster")[0]
    finally:
        peer.stop()
    m = re.search(r"(\w+): to=<x@remote\.test>.*status=deferred", instance.log())
    assert m, instance.log()[-3000:]
    qid = m.group(1)
    assert instance.count_log(r"%s: postmaster protocol notification: \w+" % qid) == 1
    assert notice["Subject"] == "sluice SMTP client: errors from 127.0.0.1[127.0.0.1]"
    assert notice["From"] == "MAILER-DAEMON@sluice.test (Mail Delivery System)"
    assert notice["Return-Path"] == "<double-bounce@sluice.test>"
    body = notice.get_payload()
    assert "Unexpected response from 127.0.0.1[127.0.0.1]." in body
    assert "Transcript of session follows." in body
    for want in (" In:  220 peer.test ESMTP ready", " Out: EHLO ",
                 " Out: MAIL FROM:<alice@sluice.test>", " Out: RCPT TO:<x@remote.test>",
                 " In:  250 2.1.0 Ok", " In:  hello, this is not SMTP"):
        assert want in body, (want, body)
    # The message itself is only deferred, never bounced.
    assert qid in instance.queue_ids("deferred")
    assert instance.maildir_messages("alice") == []


def test_no_notice_when_class_not_listed(instance):
    peer = broken_peer()
    try:
        instance.write_config(transport_maps=route("remote.test", peer.port),
                              notify_classes="")
        instance.start()
        instance.sendmail(["x@remote.test"], sender=SENDER)
        instance.wait_log(r"to=<x@remote\.test>.*status=deferred")
        # The agent would have queued a notice before answering the queue
        # manager; give it a moment all the same.
        time.sleep(2)
    finally:
        peer.stop()
    assert "postmaster protocol notification" not in instance.log()
    assert instance.maildir_messages("postmaster") == []
    assert instance.queue_counts()["incoming"] + instance.queue_counts()["active"] == 0
    assert len(instance.queue_ids("deferred")) == 1


def test_undeliverable_notice_does_not_loop(instance):
    # The postmaster's mail goes to the same broken peer: the notice fails
    # there too, and that failure must not make another notice.
    peer = broken_peer()
    try:
        instance.write_config(transport_maps=route("remote.test", peer.port),
                              notify_classes="protocol",
                              error_notice_recipient="postmaster@remote.test")
        instance.start()
        instance.sendmail(["x@remote.test"], sender=SENDER)
        first = instance.wait_log(r"(\w+): postmaster protocol notification: (\w+)")[0]
        notice_id = first[1]
        instance.wait_log(r"%s: to=<postmaster@remote\.test>.*status=deferred" % notice_id)
        instance.wait_log(r"%s: postmaster protocol notification discarded: the message is "
                          r"itself a postmaster notice" % notice_id)
        # Later attempts of either message do not start a chain either.
        instance.flush()
        instance.wait_log(r"%s: to=<postmaster@remote\.test>.*status=deferred" % notice_id,
                          count=2)
    finally:
        peer.stop()
    # Each failed attempt of the original may send its own notice (the flush
    # retries it too, as Postfix would); no notice is about a notice.  What is
    # queued is the original and its notices (the first still among them,
    # deferred or active while being retried), nothing else.  A notice the
    # flush's retry made can be on disk a moment before its log line.
    def accounted():
        queued = {q for name in ("incoming", "active", "deferred")
                  for q in instance.queue_ids(name)}
        pairs = re.findall(r"(\w+): postmaster protocol notification: (\w+)", instance.log())
        assert pairs and {about for about, _ in pairs} == {first[0]}, pairs
        notices = {n for _, n in pairs}
        return queued if queued <= {first[0]} | notices else None
    queued = instance.wait_for(accounted, 10, "only the original and its notices queued")
    assert {first[0], notice_id} <= queued, queued


def test_default_classes_report_corrupt_queue_file(instance):
    instance.write_config(default_transport="discard")   # notify_classes: the default
    instance.start()
    good = instance.inject(["a@one.test"], kick=False)
    bad = good[:-1] + ("B" if good[-1] != "B" else "C")
    path = os.path.join(instance.spool, "incoming", bad)
    with open(path, "wb") as f:
        f.write(b"this is not a queue file\n" * 10)
    os.chmod(path, 0o700)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("sluice")
        os.chown(path, pw.pw_uid, pw.pw_gid)
    instance.kick("I")
    instance.wait_log(r"%s: saving corrupt queue file" % bad)
    notice = wait_mail(instance, "postmaster")[0]
    assert notice["Subject"] == "Postmaster Warning: corrupt queue file"
    assert "Queue file %s is damaged" % bad in notice.get_payload()
    assert instance.count_log(r"%s: postmaster software notification: \w+" % bad) == 1
