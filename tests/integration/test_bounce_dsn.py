"""Delivery status reports, read the way a mail client reads them.

Part 1 (no running system needed): every golden report in
tests/unit/data/bounce_*.ref -- the exact bytes the C builder produces, as
test_bounce_notify checks -- is parsed with Python's email package and
compared with its .in description: a multipart/report of type
delivery-status whose message/delivery-status part carries the RFC 3464
fields, whose recipients are those the NOTIFY rules select, and whose last
part returns the original message or its headers as the request asked.
The checks are derived from the .in files independently of the C code.

The end-to-end part (submit, fail, receive the bounce) joins once the whole
system runs.
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
