"""Delivery status reports, read the way a mail client reads them.

Part 1 (no running system needed): every golden report in
tests/unit/data/bounce_*.ref -- the exact bytes the C builder produces, as
test_bounce_notify checks -- is parsed with Python's email package and
compared with its .in description: a multipart/report of type
delivery-status whose message/delivery-status part carries the RFC 3464
fields, whose recipients are those the NOTIFY rules select, and whose last
part returns the original message or its headers as the request asked.
The checks are derived from the .in files independently of the C code.

Part 2 runs the whole system: messages submitted with sendmail fail (error
transport, an SMTP peer's 550, expiry) or succeed, and the reports that
arrive in the sender's or the postmaster's Maildir are parsed the same way.
"""
import email
import email.policy
import email.utils
import pathlib
import re

import pytest

DATA = pathlib.Path(__file__).resolve().parent.parent / "unit" / "data"
GOLDENS = sorted(p.stem[len("bounce_"):] for p in DATA.glob("bounce_*.in"))

NOTIFY_BITS = {"never", "success", "failure", "delay"}
SUBJECTS = {
    ("sender", "failure"): "Undelivered Mail Returned to Sender",
    ("sender", "delay"): "Delayed Mail (still being retried)",
    ("sender", "success"): "Successful Mail Delivery Report",
    ("sender", "delay-cleared"): "Delay cleared",
    ("sender", "trace"): "Mail Delivery Status Report",
    ("sender", "verify"): "Mail Delivery Status Report",
    ("postmaster", "failure"): "Postmaster Copy: Undelivered Mail",
    ("double", "failure"): "Postmaster Copy: Undelivered Mail",
    ("postmaster", "delay"): "Postmaster Warning: Delayed Mail",
}
SUCCESS_ACTIONS = {"delivered", "relayed", "expanded"}
ACTIONS = {"failed", "delayed", "delivered", "relayed", "expanded",
           "deliverable", "undeliverable"}


def parse_in(name):
    """The .in format: name=value inputs, '--- rcpt' sections, '--- message'."""
    text = (DATA / f"bounce_{name}.in").read_bytes().decode("utf-8")
    inputs, rcpts, message = {}, [], None
    current = inputs
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line == "--- message":
            message = "\n".join(lines[i + 1:])
            break
        if line == "--- rcpt":
            current = {}
            rcpts.append(current)
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            current[key] = value
    return inputs, rcpts, message


def wanted(kind, role, rcpt):
    """The NOTIFY rules of the brief, restated."""
    notify = {w for w in rcpt.get("notify", "").lower().split(",") if w}
    assert notify <= NOTIFY_BITS
    action = rcpt.get("action", "")
    sender = role == "sender"
    if kind == "failure":
        return not sender or not notify or "failure" in notify
    if kind == "delay":
        return not sender or not notify or "delay" in notify
    if kind == "success":
        return action in SUCCESS_ACTIONS and (not sender or "success" in notify)
    if kind == "delay-cleared":
        return action in SUCCESS_ACTIONS and (not sender or not notify or "delay" in notify)
    return True


def field(block, name):
    """A header value as text, 8-bit octets read as UTF-8."""
    for key, value in block.raw_items():
        if key.lower() == name.lower():
            value = value.encode("ascii", "surrogateescape").decode("utf-8")
            return " ".join(value.split())
    return None


def header_block(message):
    """The header lines of a message text (up to the first empty line)."""
    return message.split("\n\n", 1)[0] if not message.startswith("\n") else ""


@pytest.mark.parametrize("name", GOLDENS)
def test_golden_report_parses(name):
    inputs, rcpts, message = parse_in(name)
    kind = inputs["kind"]
    role = inputs.get("role", "sender")
    raw = (DATA / f"bounce_{name}.ref").read_bytes()
    chosen = [r for r in rcpts if wanted(kind, role, r)]
    if not chosen:
        assert raw == b"no report\n"
        return

    # Shape of the bytes: LF only, no line over 998 octets.
    assert b"\r" not in raw
    assert max(len(line) for line in raw.split(b"\n")) <= 998

    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Subject"] == SUBJECTS[(role, kind)]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"] == "MAILER-DAEMON@mail.example.com (Mail Delivery System)"
    assert re.fullmatch(r"<\S+@mail\.example\.com>", msg["Message-Id"])
    assert email.utils.parsedate_tz(msg["Date"]) is not None

    parts = msg.get_payload()
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    text = parts[0].get_payload(decode=True).decode("utf-8")
    assert "mail.example.com" in text

    # message/delivery-status: one per-message block, then one per recipient.
    blocks = parts[1].get_payload()
    per_msg, per_rcpt = blocks[0], blocks[1:]
    assert per_msg["Reporting-MTA"] == "dns; mail.example.com"
    assert per_msg["X-Sluice-Queue-ID"] == "4XbZ1q2w3e"
    if inputs.get("envid"):
        assert per_msg["Original-Envelope-Id"] == inputs["envid"]
    else:
        assert per_msg["Original-Envelope-Id"] is None
    assert email.utils.parsedate_tz(per_msg["Arrival-Date"]) is not None
    assert len(per_rcpt) == len(chosen)
    for block, rcpt in zip(per_rcpt, chosen):
        assert field(block, "Final-Recipient") == "rfc822; " + rcpt["recipient"]
        assert block["Action"] in ACTIONS
        if kind == "failure":
            assert block["Action"] == "failed"
        elif kind == "delay":
            assert block["Action"] == "delayed"
            if inputs.get("retry_until"):
                assert block["Will-Retry-Until"] is not None
        assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", block["Status"])
        if rcpt.get("status"):
            assert block["Status"] == rcpt["status"]
        if rcpt.get("dsn_orcpt"):
            assert block["Original-Recipient"].replace(" ", "") == rcpt["dsn_orcpt"]
        if rcpt.get("mta"):
            assert block["Remote-MTA"].startswith("dns; ")
        diag = field(block, "Diagnostic-Code") or ""
        if rcpt.get("diag_type") == "smtp":
            assert diag == "smtp; " + rcpt["diag_text"]
        elif rcpt.get("reason"):
            assert diag == "X-Sluice; " + rcpt["reason"]
        # The human-readable part names each reported recipient.
        assert f"<{rcpt['recipient']}>" in text

    # The original: whole for a failure (unless RET=HDRS or too big) and a
    # double bounce, headers for everything else; nothing when unreadable.
    size_limit = int(inputs.get("size_limit", "0"))
    too_big = size_limit > 0 and message is not None and len(message.encode()) > size_limit
    full = (role == "double" or (role == "sender" and kind == "failure"
                                 and inputs.get("ret", "").lower() != "hdrs")) and not too_big
    if inputs.get("content") == "unreadable" or message is None:
        assert len(parts) == 2
        return
    assert len(parts) == 3
    if full:
        assert parts[2].get_content_type() == "message/rfc822"
        inner = parts[2].get_payload()[0]
        original = email.message_from_string(message)
        assert inner["Subject"] == original["Subject"]
        assert inner.get_payload() == original.get_payload()
    else:
        assert parts[2].get_content_type() == "text/rfc822-headers"
        returned = parts[2].get_payload(decode=True).decode("utf-8")
        headers = header_block(message)
        assert returned.rstrip("\n") == headers or headers.startswith(returned)
        if too_big:
            assert "limit" in text


def test_goldens_present():
    # The table in test_bounce_notify.c and the files must not drift apart.
    assert len(GOLDENS) >= 14
    for name in GOLDENS:
        assert (DATA / f"bounce_{name}.ref").exists(), name


# ---- Part 2: the whole system -------------------------------------------
#
# Real processes: sendmail/pickup/cleanup submit, qmgr schedules, the error,
# retry, smtp and local agents deliver or fail, the bounce service reports.
# Local addresses (@sluice.test) are delivered to Maildirs under
# local_mailbox_base, so reports to the sender and to the postmaster land
# where the test can read them.

SENDER = "alice@sluice.test"


def dsn_parts(msg):
    """(text, per-message block, per-recipient blocks, original part)."""
    assert msg.get_content_type() == "multipart/report"
    parts = msg.get_payload()
    blocks = parts[1].get_payload()
    return (parts[0].get_payload(decode=True).decode("utf-8", "replace"), blocks[0],
            blocks[1:], parts[2] if len(parts) > 2 else None)


def wait_mail(instance, user, count=1, timeout=30):
    return instance.wait_for(lambda: len(instance.maildir_messages(user)) >= count
                             and instance.maildir_messages(user), timeout,
                             "%d message(s) for %s" % (count, user))


def test_e2e_bounce_from_error_transport(instance):
    instance.write_config(transport_maps="inline:{ bad.test=error:5.1.1 no such user here }")
    instance.start()
    body = "Subject: doomed\nFrom: %s\nMessage-Id: <doomed@sluice.test>\n\nhello\n" % SENDER
    instance.sendmail(["x@bad.test"], body=body, sender=SENDER,
                      args=["-V", "ENV-42", "-N", "failure"])
    mails = wait_mail(instance, "alice")
    instance.wait_empty()
    log = instance.log()
    m = re.search(r"(\w+): sender non-delivery notification: (\w+)", log)
    assert m, log[-3000:]
    report = mails[0]
    assert report["Subject"] == "Undelivered Mail Returned to Sender"
    assert report["From"] == "MAILER-DAEMON@sluice.test (Mail Delivery System)"
    assert report["Return-Path"] in (None, "<>")
    text, per_msg, per_rcpt, original = dsn_parts(report)
    assert per_msg["Reporting-MTA"] == "dns; sluice.test"
    assert per_msg["X-Sluice-Queue-ID"] == m.group(1)
    assert per_msg["Original-Envelope-Id"] == "ENV-42"
    assert len(per_rcpt) == 1
    assert per_rcpt[0]["Final-Recipient"] == "rfc822; x@bad.test"
    assert per_rcpt[0]["Action"] == "failed"
    assert per_rcpt[0]["Status"] == "5.1.1"
    assert "no such user here" in text
    assert original.get_content_type() == "message/rfc822"
    assert original.get_payload()[0]["Subject"] == "doomed"


def test_e2e_smtp_550_at_the_peer(instance, sink):
    peer = sink(rcpt_reply=lambda a: "550 5.1.1 <%s>: Recipient address rejected: "
                "User unknown" % a if a.startswith("nobody") else None)
    instance.write_config(transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d }"
                          % peer.port)
    instance.start()
    instance.sendmail(["nobody@remote.test", "ok@remote.test"], sender=SENDER,
                      args=["-R", "hdrs"], subject="half of it")
    report = wait_mail(instance, "alice")[0]
    instance.wait_empty()
    assert peer.rcpts() == ["ok@remote.test"]
    text, per_msg, per_rcpt, original = dsn_parts(report)
    assert [b["Final-Recipient"] for b in per_rcpt] == ["rfc822; nobody@remote.test"]
    block = per_rcpt[0]
    assert block["Status"] == "5.1.1"
    assert block["Remote-MTA"] == "dns; 127.0.0.1"
    diag = " ".join(block["Diagnostic-Code"].split())
    assert diag == ("smtp; 550 5.1.1 <nobody@remote.test>: Recipient address rejected: "
                    "User unknown")
    # RET=HDRS: the headers only.
    assert original.get_content_type() == "text/rfc822-headers"
    assert "Subject: half of it" in original.get_payload()
    assert "hello" not in original.get_payload()


def test_e2e_notify_never_and_postmaster_copy(instance):
    instance.write_config(transport_maps="inline:{ bad.test=error:5.1.1 no such user here }",
                          notify_classes="bounce")
    instance.start()
    instance.sendmail(["x@bad.test"], sender=SENDER, args=["-N", "never"], subject="quiet")
    # The sender asked for nothing; the postmaster still gets the headers.
    copy = wait_mail(instance, "postmaster")[0]
    instance.wait_empty()
    assert instance.maildir_messages("alice") == []
    assert copy["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert copy["Return-Path"] == "<double-bounce@sluice.test>"
    text, per_msg, per_rcpt, original = dsn_parts(copy)
    assert [b["Final-Recipient"] for b in per_rcpt] == ["rfc822; x@bad.test"]
    assert original.get_content_type() == "text/rfc822-headers"
    assert "Subject: quiet" in original.get_payload()
    assert instance.count_log(r"postmaster non-delivery notification: \w+") == 1
    assert instance.count_log(r"sender non-delivery notification") == 0


def test_e2e_double_bounce(instance):
    # The sender's domain refuses too: the report bounces, and that failure
    # (sender <>) goes to the postmaster as a double bounce.
    instance.write_config(transport_maps="inline:{ bad.test=error:5.1.1 no such user here }",
                          notify_classes="2bounce")
    instance.start()
    instance.sendmail(["x@bad.test"], sender="ghost@bad.test", subject="round trip")
    double = wait_mail(instance, "postmaster")[0]
    instance.wait_empty()
    assert double["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert double["Return-Path"] == "<double-bounce@sluice.test>"
    text, per_msg, per_rcpt, original = dsn_parts(double)
    assert per_msg["X-Sluice-Sender"].strip() == "rfc822;"
    assert [b["Final-Recipient"] for b in per_rcpt] == ["rfc822; ghost@bad.test"]
    # The failed report itself is attached whole.
    assert original.get_content_type() == "message/rfc822"
    assert original.get_payload()[0]["Subject"] == "Undelivered Mail Returned to Sender"
    log = instance.log()
    assert re.search(r"sender non-delivery notification: \w+", log)
    assert re.search(r"postmaster non-delivery notification: \w+", log)


def test_e2e_double_bounce_discarded_without_class(instance):
    instance.write_config(transport_maps="inline:{ bad.test=error:5.1.1 no such user here }")
    instance.start()
    qid = instance.inject(["x@bad.test"], sender="")
    instance.wait_log(r"%s: undeliverable postmaster notification discarded" % qid)
    instance.wait_empty()
    assert instance.maildir_messages("postmaster") == []


def test_e2e_success_notice(instance, sink):
    peer = sink()
    instance.write_config(transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d }"
                          % peer.port)
    instance.start()
    instance.sendmail(["bob@remote.test", "carol@remote.test"], sender=SENDER,
                      args=["-N", "success,failure"], subject="tell me")
    report = wait_mail(instance, "alice")[0]
    instance.wait_empty()
    assert peer.rcpts() == ["bob@remote.test", "carol@remote.test"]
    assert report["Subject"] == "Successful Mail Delivery Report"
    text, per_msg, per_rcpt, original = dsn_parts(report)
    assert sorted(b["Final-Recipient"] for b in per_rcpt) == [
        "rfc822; bob@remote.test", "rfc822; carol@remote.test"]
    # The peer does not speak DSN, so the notice can only say "relayed".
    assert {b["Action"] for b in per_rcpt} <= {"delivered", "relayed"}
    assert {b["Status"][0] for b in per_rcpt} == {"2"}
    assert {b["Remote-MTA"] for b in per_rcpt} == {"dns; 127.0.0.1"}
    assert original.get_content_type() == "text/rfc822-headers"
    assert "Subject: tell me" in original.get_payload()
    instance.wait_log(r"sender delivery status notification: \w+")


def test_e2e_no_success_notice_without_notify(instance, sink):
    peer = sink()
    instance.write_config(transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d }"
                          % peer.port)
    instance.start()
    instance.sendmail(["bob@remote.test"], sender=SENDER, subject="quiet")
    instance.wait_log(r"to=<bob@remote.test>.*status=sent")
    instance.wait_empty()
    assert instance.maildir_messages("alice") == []
    assert instance.count_log(r"notification: ") == 0


def test_e2e_verify_report(instance, sink):
    peer = sink()
    instance.write_config(transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d, "
                          "bad.test=error:5.1.1 no such user here }" % peer.port)
    instance.start()
    instance.sendmail(["bob@remote.test", "x@bad.test"], sender=SENDER, args=["-bv"],
                      subject="verify")
    report = wait_mail(instance, "alice")[0]
    instance.wait_empty()
    assert report["Subject"] == "Mail Delivery Status Report"
    assert peer.received() == []     # -bv delivers nothing
    text, per_msg, per_rcpt, original = dsn_parts(report)
    actions = {b["Final-Recipient"]: b["Action"] for b in per_rcpt}
    assert actions == {"rfc822; bob@remote.test": "deliverable",
                       "rfc822; x@bad.test": "undeliverable"}
    assert instance.count_log(r"sender non-delivery notification") == 0


def test_e2e_delay_warning_then_expiry(instance):
    instance.write_config(transport_maps="inline:{ slow.test=retry:4.4.1 connection timed out }",
                          delay_warning_time="1s", maximal_queue_lifetime="6s",
                          bounce_queue_lifetime="6s", notify_classes="delay")
    instance.start()
    instance.sendmail(["x@slow.test"], sender=SENDER, subject="slowly")
    warning = wait_mail(instance, "alice", 1, timeout=30)[0]
    assert warning["Subject"] == "Delayed Mail (still being retried)"
    text, per_msg, per_rcpt, original = dsn_parts(warning)
    assert per_rcpt[0]["Action"] == "delayed"
    assert per_rcpt[0]["Status"] == "4.4.1"
    assert per_rcpt[0]["Will-Retry-Until"]
    assert original.get_content_type() == "text/rfc822-headers"
    assert "THIS IS A WARNING ONLY" in text
    # The postmaster's copy (notify_classes = delay), and only one warning.
    pm = wait_mail(instance, "postmaster")[0]
    assert pm["Subject"] == "Postmaster Warning: Delayed Mail"

    # Then the message expires: a non-delivery report with the last reason.
    mails = wait_mail(instance, "alice", 2, timeout=40)
    instance.wait_empty()
    expired = [m for m in mails if m["Subject"] == "Undelivered Mail Returned to Sender"]
    assert len(expired) == 1
    text, per_msg, per_rcpt, original = dsn_parts(expired[0])
    assert per_rcpt[0]["Action"] == "failed"
    assert per_rcpt[0]["Status"] == "4.4.1"
    assert "connection timed out" in " ".join(per_rcpt[0]["Diagnostic-Code"].split())
    assert original.get_content_type() == "message/rfc822"
    assert instance.count_log(r"sender delay notification: \w+") == 1
    assert len(instance.maildir_messages("alice")) == 2
    instance.wait_log(r"status=expired, returned to sender")


def test_e2e_big_message_returns_headers(instance):
    instance.write_config(transport_maps="inline:{ bad.test=error:5.1.1 no such user here }",
                          bounce_size_limit="200")
    instance.start()
    body = "Subject: huge\nFrom: %s\n\n%s" % (SENDER, "0123456789 abcdefghij\n" * 100)
    instance.sendmail(["x@bad.test"], sender=SENDER, body=body)
    report = wait_mail(instance, "alice")[0]
    instance.wait_empty()
    text, per_msg, per_rcpt, original = dsn_parts(report)
    assert original.get_content_type() == "text/rfc822-headers"
    assert "Subject: huge" in original.get_payload()
    assert "200-byte limit" in " ".join(text.split())


def test_e2e_verbose_trace(instance, sink):
    peer = sink()
    instance.write_config(transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d, "
                          "bad.test=error:5.1.1 no such user here }" % peer.port)
    instance.start()
    instance.sendmail(["bob@remote.test", "x@bad.test"], sender=SENDER, args=["-v"],
                      subject="trace me")
    # Two reports: the failure as always, and the trace of every outcome.
    mails = wait_mail(instance, "alice", 2)
    instance.wait_empty()
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == ["Mail Delivery Status Report", "Undelivered Mail Returned to Sender"]
    trace = [m for m in mails if m["Subject"] == "Mail Delivery Status Report"][0]
    text, per_msg, per_rcpt, original = dsn_parts(trace)
    actions = {b["Final-Recipient"]: b["Action"] for b in per_rcpt}
    assert actions["rfc822; x@bad.test"] == "failed"
    assert actions["rfc822; bob@remote.test"] in ("delivered", "relayed")
    assert original.get_content_type() == "text/rfc822-headers"
