"""Header and body checks in cleanup (header_checks, mime_header_checks,
nested_header_checks, body_checks in pcre: and regexp: tables): every action once,
through `sluice sendmail` (pickup) and through smtpd, with Postfix's log lines.

A REJECT of a local submission comes back to the sender as a bounce; over SMTP it
is the reply to the end of DATA."""
import os
import re
import smtplib

import pytest


HEADER_RULES = r"""
/^Subject: reject me/       REJECT 5.7.1 no thanks
/^Subject: defer me/        DEFER try later
/^Subject: discard me/      DISCARD dropped
/^Subject: hold me/         HOLD held for review
/^Subject: redirect me/     REDIRECT carol@sluice.test
/^Subject: bcc me/          BCC dora@sluice.test
/^Subject: filter me/       FILTER smtp:[127.0.0.1]:{port}
/^Subject: prepend me/      PREPEND X-Prepended: yes
/^Subject: replace me/      REPLACE Subject: replaced
/^X-Drop:/                  IGNORE
/^Subject: warn me/         WARN looked at
/^Subject: info me/         INFO noted
/^Subject: dunno me/        DUNNO
/^Subject: ok me/           OK
/^Subject: (folded)[[:space:]]+(line)$/ REJECT 5.7.1 matched $2 over $1
"""

BODY_RULES = r"""
/^body reject/      REJECT 5.7.1 bad body
/^body replace/     REPLACE body was replaced
/^body ignore/      IGNORE
/^body prepend/     PREPEND a line before
"""

MIME_RULES = r"""
/^Content-Type: application\/x-evil/  REJECT 5.7.1 no evil attachments
"""

NESTED_RULES = r"""
/^Subject: nested secret/  REJECT 5.7.1 nested message refused
"""

SENDER = "owner@sluice.test"


def reports(instance, user):
    return [m.as_string() for m in instance.maildir_messages(user)
            if m.get_content_type() == "multipart/report"]


def by_subject(instance, user):
    return {m["Subject"]: m for m in instance.maildir_messages(user)}


def start_with_checks(instance, sink, kind="pcre", body=True):
    s = sink()
    files = {}
    for name, rules in (("header_checks", HEADER_RULES.format(port=s.port)),
                        ("body_checks", BODY_RULES), ("mime_header_checks", MIME_RULES),
                        ("nested_header_checks", NESTED_RULES)):
        path = os.path.join(instance.base, name)
        with open(path, "w") as f:
            f.write(rules)
        files[name] = "%s:%s" % (kind, path)
    if not body:
        files.pop("body_checks")
    instance.write_config(**files)
    instance.start()
    return s


def message(subject, extra="", body="hello\n"):
    return "Subject: %s\nFrom: %s\n%s\n%s" % (subject, SENDER, extra, body)


def check_delivered_actions(instance, s, via):
    """What every accepting action did, whatever the way in."""
    bob = instance.wait_for(lambda: (lambda d: len(d) >= 8 and d)(by_subject(instance, "bob")),
                            30, "bob's messages")
    assert bob["prepend me"]["X-Prepended"] == "yes"
    assert "replaced" in bob and "replace me" not in bob
    assert bob["drop me"]["X-Drop"] is None and bob["drop me"]["X-Keep"] == "kept"
    for subj in ("warn me", "info me", "dunno me", "ok me", "bcc me"):
        assert subj in bob
    # REDIRECT: carol instead of bob, bob is the original recipient.
    carol = instance.wait_for(lambda: instance.maildir_messages("carol"), 30, "redirect")
    assert carol[0]["Subject"] == "redirect me" and "redirect me" not in bob
    instance.wait_log(r"to=<carol@sluice\.test>, orig_to=<bob@sluice\.test>.*status=sent")
    # BCC: dora gets a copy too.
    dora = instance.wait_for(lambda: instance.maildir_messages("dora"), 30, "bcc")
    assert dora[0]["Subject"] == "bcc me"
    # FILTER: the message went to the filter (the sink), not to bob.
    instance.wait_for(lambda: s.received(), 30, "the filter")
    assert s.rcpts() == ["bob@sluice.test"] and "filter me" not in bob
    # HOLD: in hold/, nowhere else.
    instance.wait_for(lambda: instance.queue_counts()["hold"] == 1, 30, "held message")
    # DISCARD: logged, accepted, never delivered.
    assert "discard me" not in bob
    log = instance.log()
    origin = "local" if via == "sendmail" else r"localhost\[127\.0\.0\.1\]"
    tail = r" from %s; from=<owner@sluice\.test> to=<bob@sluice\.test>%s" % (
        origin, "" if via == "sendmail" else r" proto=ESMTP helo=<client\.example>")
    for action, subj, text in (("discard", "discard me", "dropped"),
                               ("hold", "hold me", "held for review"),
                               ("redirect", "redirect me", "carol@sluice.test"),
                               ("bcc", "bcc me", "dora@sluice.test"),
                               ("filter", "filter me", r"smtp:\[127\.0\.0\.1\]:%d" % s.port),
                               ("warning", "warn me", "looked at"),
                               ("info", "info me", "noted")):
        rx = r": %s: header Subject: %s%s: %s\n" % (action, subj, tail, text)
        assert re.search(rx, log), rx
    return log, tail


def test_every_action_through_sendmail(instance, sink):
    s = start_with_checks(instance, sink)
    for subj in ("reject me", "defer me", "discard me", "hold me", "redirect me", "bcc me",
                 "filter me", "prepend me", "replace me", "warn me", "info me", "dunno me",
                 "ok me"):
        instance.sendmail(["bob@sluice.test"], body=message(subj), sender=SENDER)
    instance.sendmail(["bob@sluice.test"], sender=SENDER,
                      body=message("drop me", "X-Drop: this goes\nX-Keep: kept\n"))
    log, tail = check_delivered_actions(instance, s, "sendmail")

    # REJECT: a bounce to the sender with the text, as Postfix's pickup/cleanup.
    rx = r"(\w+): reject: header Subject: reject me%s: 5\.7\.1 no thanks\n" % tail
    qid = instance.wait_log(rx)[0]
    instance.wait_for(lambda: reports(instance, "owner"), 30, "the bounce")
    report = reports(instance, "owner")[0]
    assert "5.7.1" in report and "no thanks" in report and "Subject: reject me" in report
    assert re.search(r"%s: to=<bob@sluice\.test>, relay=none, .*dsn=5\.7\.1, "
                     r"status=bounced \(no thanks\)" % qid, instance.log())
    instance.wait_log(r"%s: removed" % qid)
    assert instance.queue_counts()["corrupt"] == 0

    # DEFER: the maildrop file stays and is tried again.
    instance.wait_log(r": defer: header Subject: defer me%s: 4\.7\.1 try later\n" % tail)
    instance.wait_log(r"warning: \w+: 4\.7\.1 try later; will try again")
    assert instance.queue_counts()["maildrop"] == 1


def test_every_action_through_smtpd(instance, sink):
    s = start_with_checks(instance, sink)
    with smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=30) as c:
        c.ehlo("client.example")
        for subj in ("discard me", "hold me", "redirect me", "bcc me", "filter me",
                     "prepend me", "replace me", "warn me", "info me", "dunno me", "ok me"):
            assert c.sendmail(SENDER, ["bob@sluice.test"], message(subj)) == {}
        c.sendmail(SENDER, ["bob@sluice.test"],
                   message("drop me", "X-Drop: this goes\nX-Keep: kept\n"))
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail(SENDER, ["bob@sluice.test"], message("reject me"))
        assert e.value.smtp_code == 550 and e.value.smtp_error == b"5.7.1 no thanks"
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail(SENDER, ["bob@sluice.test"], message("defer me"))
        assert e.value.smtp_code == 451 and e.value.smtp_error == b"4.7.1 try later"
    log, tail = check_delivered_actions(instance, s, "smtpd")
    assert re.search(r": reject: header Subject: reject me%s: 5\.7\.1 no thanks\n" % tail, log)
    assert re.search(r": defer: header Subject: defer me%s: 4\.7\.1 try later\n" % tail, log)
    # Refused over SMTP: the client was told; no bounce, nothing queued.
    instance.wait_empty()
    assert reports(instance, "owner") == []


def test_body_mime_and_nested_checks(instance, sink):
    start_with_checks(instance, sink, kind="regexp")
    instance.sendmail(["bob@sluice.test"], sender=SENDER, body=message(
        "body edits", body="keep this\nbody replace this\nbody ignore this\n"
        "body prepend here\nend\n"))
    attach = ("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n")
    evil = ("--b1\nContent-Type: text/plain\n\nSubject: reject me (body text, not a header)\n"
            "--b1\nContent-Type: application/x-evil\n\nxx\n--b1--\n")
    nested = ("--b1\nContent-Type: text/plain\n\nsee attached\n"
              "--b1\nContent-Type: message/rfc822\n\nSubject: nested secret\nFrom: x@y\n\n"
              "inner\n--b1--\n")
    instance.sendmail(["bob@sluice.test"], sender=SENDER,
                      body=message("evil attachment", attach, evil))
    instance.sendmail(["bob@sluice.test"], sender=SENDER,
                      body=message("nested message", attach, nested))
    instance.sendmail(["bob@sluice.test"], sender=SENDER,
                      body=message("bad body", body="fine\nbody reject this\n"))
    # A folded header is one key for the checks, its line break kept; $n picks groups.
    instance.sendmail(["bob@sluice.test"], sender=SENDER,
                      body="Subject: folded\n line\nFrom: owner@sluice.test\n\nx\n")

    msgs = instance.wait_for(lambda: by_subject(instance, "bob").get("body edits"), 30,
                             "the edited message")
    assert msgs.get_payload() == ("keep this\nbody was replaced\na line before\n"
                                  "body prepend here\nend\n")
    instance.wait_for(lambda: len(reports(instance, "owner")) == 4, 30, "four bounces")
    text = "\n".join(reports(instance, "owner"))
    for why in ("no evil attachments", "nested message refused", "bad body",
                "matched line over folded"):
        assert why in text
    log = instance.log()
    assert re.search(r": reject: header Content-Type: application/x-evil from local; "
                     r"from=<owner@sluice\.test> to=<bob@sluice\.test>: 5\.7\.1 no evil", log)
    assert re.search(r": reject: header Subject: nested secret from local;.*: 5\.7\.1 nested", log)
    assert re.search(r": reject: body body reject this from local;.*: 5\.7\.1 bad body", log)
    # A part's body line that looks like a header is body text, not a header.
    assert instance.count_log(r"header Subject: reject me \(body") == 0
    instance.wait_empty()


def test_table_errors(instance):
    bad = os.path.join(instance.base, "bad_checks")
    with open(bad, "w") as f:
        f.write("/^Subject: x/ FROB something\n/^Subject: y/ REDIRECT\n")
    instance.write_config(header_checks="pcre:%s" % bad,
                          body_checks="pcre:%s" % os.path.join(instance.base, "missing"))
    instance.start()
    instance.sendmail(["bob@sluice.test"], sender=SENDER, body=message("x"))
    # A table that cannot be opened: the message waits, it is never let through.
    instance.wait_log(r"4\.3\.0 lookup table not available; will try again")
    assert instance.maildir_messages("bob") == []
    with open(os.path.join(instance.base, "missing"), "w") as f:
        f.write("/^never matches$/ REJECT\n")
    instance.sendmail(["bob@sluice.test"], sender=SENDER, body=message("y"))   # wakes pickup
    instance.wait_for(lambda: len(instance.maildir_messages("bob")) == 2, 30, "both")
    log = instance.log()
    assert 'warning: header_checks: unknown action "FROB something"; ignored' in log
    assert 'warning: header_checks: REDIRECT needs one address: "REDIRECT"; ignored' in log
