"""smtpd: the access(5) results that change what happens to a message
(DISCARD, HOLD, REDIRECT, BCC, FILTER, PREPEND), that only log (WARN, INFO), the
reply forms (OK, digits, NNN text, REJECT/DEFER text, DEFER_IF_REJECT,
DEFER_IF_PERMIT, DUNNO), and a daemon picking up a rebuilt table.

Mail is submitted with Python's smtplib and relayed to aiosmtpd sinks
(conftest.Sink) through transport_maps; a client outside mynetworks
(127.0.0.1/32) connects from 127.0.0.9.  Every log line checked is in the
shape of Postfix's smtpd ("NOQUEUE: hold: RCPT from host[addr]: <x>:
Recipient address triggers HOLD action; from=<...> to=<...> proto=ESMTP
helo=<...>").
"""
import os
import re
import smtplib
import subprocess
import time

import pytest

OUTSIDE = "127.0.0.9"
HELO = "client.example"
SENDER = "a@client.example"
CLIENT = r"\S+\[127\.0\.0\.1\]"


def table(instance, name, lines, kind="texthash"):
    path = os.path.join(instance.base, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)
    if kind == "hash":
        # Debian's postmap, with a scratch configuration of its own.
        pfconf = os.path.join(instance.base, "pfconf")
        os.makedirs(pfconf, exist_ok=True)
        with open(os.path.join(pfconf, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\nqueue_directory = %s/pfq\n" % instance.base)
        subprocess.run(["/usr/sbin/postmap", "-c", pfconf, "hash:" + path], check=True,
                       timeout=60)
    return "%s:%s" % (kind, path)


def start(instance, peer, **params):
    base = dict(mynetworks="127.0.0.1/32",
                smtpd_relay_restrictions="permit_mynetworks, reject_unauth_destination",
                transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d }" % peer.port)
    base.update(params)
    instance.write_config(**base)
    instance.start()


def client(instance, outside=False):
    c = smtplib.SMTP("127.0.0.1", instance.smtpd_port, local_hostname=HELO, timeout=30,
                     source_address=(OUTSIDE, 0) if outside else None)
    c.ehlo()
    return c


def send(instance, rcpts, body="Subject: t\n\nhello\n", sender=SENDER):
    """One message; the reply to the end of data (code, text)."""
    c = client(instance)
    assert c.mail(sender)[0] == 250
    for r in rcpts:
        code, text = c.rcpt(r)
        assert code == 250, (r, code, text)
    reply = c.data(body.encode())
    c.quit()
    return reply[0], reply[1].decode()


def text_of(message):
    """The text of a message a sink recorded (sender, rcpts, content)."""
    content = message[2]
    return content.decode() if isinstance(content, bytes) else content


def whatsup(action, rcpt, text, sender=SENDER, qid="NOQUEUE"):
    """The log line of one action at RCPT, as a regular expression."""
    return (r"%s: %s: RCPT from %s: %s; from=<%s> to=<%s> proto=ESMTP helo=<%s>"
            % (qid, action, CLIENT, re.escape(text), re.escape(sender), re.escape(rcpt),
               re.escape(HELO)))


def test_discard_accepts_and_delivers_nowhere(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_recipient_restrictions="check_recipient_access " +
          table(instance, "rcpt", ["gone@remote.test DISCARD"]))
    code, text = send(instance, ["keep@remote.test", "gone@remote.test"])
    assert code == 250 and text.startswith("2.0.0 Ok: queued as "), text
    instance.wait_log(r"\w+: discard: RCPT from %s: <gone@remote\.test>: Recipient address "
                      r"triggers DISCARD action; from=<a@client\.example> "
                      r"to=<gone@remote\.test> proto=ESMTP helo=<client\.example>" % CLIENT)
    # The next message arrives; the discarded one never did.
    assert send(instance, ["keep@remote.test"])[0] == 250
    instance.wait_for(lambda: len(peer.received()) == 1, 30, "the second message")
    assert peer.rcpts() == ["keep@remote.test"]
    instance.wait_empty()


def test_discard_with_text_before_the_queue_file(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_sender_restrictions="check_sender_access " +
          table(instance, "snd", ["spam@client.example DISCARD dropped quietly"]))
    code, _ = send(instance, ["x@remote.test"], sender="spam@client.example")
    assert code == 250
    instance.wait_log(whatsup("discard", "x@remote.test",
                              "<spam@client.example>: Sender address dropped quietly",
                              sender="spam@client.example"))
    assert send(instance, ["x@remote.test"])[0] == 250
    instance.wait_for(lambda: len(peer.received()) == 1, 30, "the second message")
    assert peer.received()[0][0] == SENDER


def test_hold_queues_into_hold(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_recipient_restrictions="check_recipient_access " +
          table(instance, "rcpt", ["held@remote.test HOLD"]))
    code, text = send(instance, ["held@remote.test"])
    assert code == 250, text
    qid = text.split()[-1]
    instance.wait_log(whatsup("hold", "held@remote.test",
                              "<held@remote.test>: Recipient address triggers HOLD action"))
    instance.wait_for(lambda: instance.queue_ids("hold") == [qid], 10, "held message")
    assert peer.received() == []
    # Released, it is delivered: what was held was the whole message.
    instance.sluice("release", qid)
    instance.wait_for(lambda: peer.rcpts() == ["held@remote.test"], 30, "released message")


def test_redirect_replaces_every_recipient(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_recipient_restrictions="check_recipient_access " +
          table(instance, "rcpt", ["redir@remote.test REDIRECT other@remote.test"]))
    assert send(instance, ["bob@remote.test", "redir@remote.test"])[0] == 250
    instance.wait_log(whatsup("redirect", "redir@remote.test",
                              "<redir@remote.test>: Recipient address triggers REDIRECT "
                              "other@remote.test", qid=r"\w+"))
    instance.wait_for(lambda: peer.received(), 30, "redirected message")
    instance.wait_empty()
    assert set(peer.rcpts()) == {"other@remote.test"}


def test_bcc_adds_a_recipient(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_recipient_restrictions="check_recipient_access " +
          table(instance, "rcpt", ["watched@remote.test BCC audit@remote.test"]))
    assert send(instance, ["watched@remote.test"])[0] == 250
    instance.wait_log(whatsup("bcc", "watched@remote.test",
                              "<watched@remote.test>: Recipient address triggers BCC "
                              "audit@remote.test"))
    instance.wait_for(lambda: sorted(set(peer.rcpts())) ==
                      ["audit@remote.test", "watched@remote.test"], 30, "both copies")


def test_filter_sets_the_content_filter(instance, sink):
    peer, filt = sink(), sink()
    start(instance, peer, smtpd_recipient_restrictions="check_recipient_access " +
          table(instance, "rcpt", ["filt@remote.test FILTER smtp:[127.0.0.1]:%d" % filt.port]))
    assert send(instance, ["filt@remote.test"])[0] == 250
    instance.wait_log(whatsup("filter", "filt@remote.test",
                              "<filt@remote.test>: Recipient address triggers FILTER "
                              "smtp:[127.0.0.1]:%d" % filt.port))
    instance.wait_for(lambda: filt.received(), 30, "message at the filter")
    assert filt.rcpts() == ["filt@remote.test"]
    # An ordinary message still goes to its transport.
    assert send(instance, ["plain@remote.test"])[0] == 250
    instance.wait_for(lambda: peer.received(), 30, "plain message")
    assert len(filt.received()) == 1


def test_prepend_adds_a_header(instance, sink):
    peer = sink()
    start(instance, peer, smtpd_recipient_restrictions="check_recipient_access " + table(
        instance, "rcpt", ["pre@remote.test PREPEND X-Access: tagged by the table",
                           "bad@remote.test PREPEND no header here"]))
    assert send(instance, ["pre@remote.test"])[0] == 250
    instance.wait_for(lambda: peer.received(), 30, "message")
    lines = text_of(peer.received()[0]).splitlines()
    assert lines[0] == "X-Access: tagged by the table", lines[:3]
    assert lines[1].startswith("Received: from client.example")
    # A value that is no header field: a warning, the mail goes on unchanged.
    assert send(instance, ["bad@remote.test"])[0] == 250
    instance.wait_log(r"warning: access table texthash:\S+rcpt entry \"PREPEND no header "
                      r"here\" requires a header field")
    instance.wait_for(lambda: len(peer.received()) == 2, 30, "second message")
    assert text_of(peer.received()[1]).startswith("Received: ")


@pytest.mark.parametrize("action", ["WARN", "INFO"])
def test_warn_and_info_log_and_continue(instance, sink, action):
    peer = sink()
    start(instance, peer, smtpd_recipient_restrictions="check_recipient_access " +
          table(instance, "rcpt", ["odd@remote.test %s looks odd" % action,
                                   "remote.test REJECT never reached"]))
    assert send(instance, ["odd@remote.test"])[0] == 250
    instance.wait_log(whatsup(action.lower(), "odd@remote.test", "looks odd"))
    instance.wait_for(lambda: peer.rcpts() == ["odd@remote.test"], 30, "delivered")


SENDERS = [
    "ok@client.example OK",
    "relay@client.example RELAY",
    "stamp@client.example 1700000000",
    "nnn@client.example 421 4.7.2 not you",
    "rej@client.example REJECT 4.7.0 go away",
    "def@client.example DEFER busy now",
    "dir@client.example DEFER_IF_REJECT maybe later",
    "dip@client.example DEFER_IF_PERMIT",
    "dunno@client.example DUNNO",
    "client.example REJECT domain refused",
]


@pytest.mark.parametrize("sender,outside,want", [
    ("ok@client.example", True, "554 5.7.1 <x@remote.test>: Relay access denied"),
    ("ok@client.example", False, "250"),
    ("relay@client.example", False, "250"),
    ("stamp@client.example", False, "250"),
    ("nnn@client.example", False, "421 4.7.2 <nnn@client.example>: Sender address rejected: "
                                  "not you"),
    ("rej@client.example", False, "554 5.7.0 <rej@client.example>: Sender address rejected: "
                                  "go away"),
    ("def@client.example", False, "450 4.7.1 <def@client.example>: Sender address rejected: "
                                  "busy now"),
    # DEFER_IF_REJECT: a later reject becomes a deferral; a permit stays one.
    ("dir@client.example", True, "450 4.7.1 <dir@client.example>: Sender address rejected: "
                                 "maybe later"),
    ("dir@client.example", False, "250"),
    # DEFER_IF_PERMIT: a later permit becomes a deferral; a reject stays one.
    ("dip@client.example", False, "450 4.7.1 <dip@client.example>: Sender address rejected: "
                                  "Service unavailable"),
    ("dip@client.example", True, "554 5.7.1 <x@remote.test>: Relay access denied"),
    # DUNNO stops the search: the domain's REJECT is not reached.
    ("dunno@client.example", False, "250"),
    ("other@client.example", False, "554 5.7.1 <other@client.example>: Sender address "
                                    "rejected: domain refused"),
])
def test_reply_forms(instance, sink, sender, outside, want):
    peer = sink()
    start(instance, peer, smtpd_sender_restrictions="check_sender_access " +
          table(instance, "snd", SENDERS))
    c = client(instance, outside)
    assert c.mail(sender)[0] == 250
    code, text = c.rcpt("x@remote.test")
    got = "%d %s" % (code, text.decode())
    assert got.startswith(want), got
    c.quit()
    if not want.startswith("250"):
        instance.wait_log(r"NOQUEUE: reject: RCPT from \S+: %s; from=<%s> to=<x@remote\.test>"
                          % (re.escape(want), re.escape(sender)))


def test_rebuilt_table_is_read_by_the_next_session(instance, sink):
    """postmap rebuilds the access table while sluice runs: the session open
    during the change goes on to its end, the next one sees the new answer,
    and each daemon that had the old table logs that it restarts."""
    peer = sink()
    spec = table(instance, "access", ["someone@else.example REJECT"], kind="hash")
    start(instance, peer, smtpd_sender_restrictions="check_sender_access " + spec)
    # Two sessions at once leave two smtpd processes waiting with the old
    # table: one serves the held session, the other would serve the next.
    first = [client(instance) for _ in range(2)]
    for c in first:
        assert c.mail("late@client.example")[0] == 250
        assert c.rcpt("x@remote.test")[0] == 250
        c.quit()
    instance.wait_log(r"disconnect from \S+ ehlo=1 mail=1 rcpt=1 quit=1 commands=4", count=2)
    held = client(instance)
    assert held.mail("late@client.example")[0] == 250
    assert held.rcpt("x@remote.test")[0] == 250
    # The change, with a time stamp that cannot equal the old one.
    time.sleep(0.05)
    table(instance, "access", ["someone@else.example REJECT",
                               "late@client.example REJECT table rebuilt"], kind="hash")
    fresh = client(instance)
    assert fresh.mail("late@client.example")[0] == 250
    code, text = fresh.rcpt("x@remote.test")
    assert (code, text.decode()) == (554, "5.7.1 <late@client.example>: Sender address "
                                          "rejected: table rebuilt")
    fresh.quit()
    # The session that was open is not cut: its message is accepted.
    code, text = held.data(b"Subject: during the change\n\nhello\n")
    assert code == 250, text
    held.quit()
    instance.wait_for(lambda: peer.rcpts() == ["x@remote.test"], 30, "the held session's mail")
    instance.wait_log(r"smtpd\[\d+\]: table %s has changed -- restarting" % re.escape(spec))


def test_rebuilt_table_with_many_idle_processes(instance, sink):
    """Of the idle smtpd processes the kernel wakes one per client; one that
    wakes to find its table rebuilt leaves without the client.  With five
    processes idle after a rebuild, each next client is still greeted at
    once (the idle ones look at their tables every second and leave, and
    master starts fresh ones) and sees the new table."""
    from test_master import pids_of
    peer = sink()
    spec = table(instance, "access", ["someone@else.example REJECT"], kind="hash")
    start(instance, peer, smtpd_sender_restrictions="check_sender_access " + spec)
    first = [client(instance) for _ in range(5)]
    for c in first:
        c.quit()
    instance.wait_log(r"disconnect from \S+ ehlo=1 quit=1 commands=2", count=5)
    old = set(pids_of(instance, "smtpd"))
    assert len(old) >= 5, old
    time.sleep(0.05)
    table(instance, "access", ["late@client.example REJECT table rebuilt"], kind="hash")
    for i in range(3):
        began = time.monotonic()
        c = client(instance)
        greeted = time.monotonic() - began
        assert greeted < 5, (i, greeted)
        assert c.mail("late@client.example")[0] == 250
        code, text = c.rcpt("x@remote.test")
        assert (code, text.decode()) == (554, "5.7.1 <late@client.example>: Sender address "
                                              "rejected: table rebuilt"), i
        c.quit()
    # Every process that had the old table is gone.
    instance.wait_for(lambda: not (old & set(pids_of(instance, "smtpd"))), 10,
                      "the old smtpd processes to leave")
