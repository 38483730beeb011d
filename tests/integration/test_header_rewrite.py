"""Header address rewriting in cleanup, end to end: `sluice sendmail` (and smtpd)
to an aiosmtpd sink, checking the header bytes delivered.  Sender fields (From,
Sender, Reply-To, Errors-To, Resent-From ...) and recipient fields (To, Cc,
Resent-To ...) get canonical mapping and masquerading by their classes
(canonical_classes, sender_canonical_classes, recipient_canonical_classes,
masquerade_classes); incomplete addresses get @$myorigin; everything but the
changed addresses stays byte for byte.  Mail from SMTP clients is rewritten
only when local_header_rewrite_clients matches them, else as
remote_header_rewrite_domain says."""
import smtplib

from test_qmgr_smtp import routes


TABLES = dict(
    sender_canonical_maps="inline:{joe@host.sub.example.test=jsmith@host.sub.example.test}",
    recipient_canonical_maps="inline:{a@remote.test=b@remote.test}",
    canonical_maps="inline:{@old.test=@remote.test}",
    masquerade_domains="!keep.example.test, example.test")

# The header block as the user wrote it (only the Subject and X-Note lines
# hold addresses that must never change: they are not address fields).
HEADERS = (
    "From: \"Smith, Joe\" <joe@host.sub.example.test> (the boss)\n"
    "Sender: joe@host.sub.example.test\n"
    "Reply-To: Ann <ann@x.keep.example.test>, other@h.example.test\n"
    "To: a@remote.test, \"Quoted, Name\"@old.test,\n"
    "\tteam: Carl <c@old.test>, dan@h.example.test;, bob\n"
    "Cc: =?UTF-8?B?w4lyaWM=?= <eric@old.test>\n"
    "Subject: about joe@host.sub.example.test and a@remote.test\n"
    "X-Note: a@remote.test\n"
    "Message-ID: <1@host.sub.example.test>\n"
    "Date: Mon, 7 Dec 2026 08:00:00 +0000\n")

# What the sink must get with Postfix's default classes: canonical maps on
# both header classes, masquerading on both (masquerade_classes names
# header_sender and header_recipient by default), bob@$myorigin.
REWRITTEN = (
    "From: \"Smith, Joe\" <jsmith@example.test> (the boss)\n"
    "Sender: jsmith@example.test\n"
    "Reply-To: Ann <ann@x.keep.example.test>, other@example.test\n"
    "To: b@remote.test, \"Quoted, Name\"@remote.test,\n"
    "\tteam: Carl <c@remote.test>, dan@example.test;, bob@sluice.test\n"
    "Cc: =?UTF-8?B?w4lyaWM=?= <eric@remote.test>\n"
    "Subject: about joe@host.sub.example.test and a@remote.test\n"
    "X-Note: a@remote.test\n"
    "Message-ID: <1@host.sub.example.test>\n"
    "Date: Mon, 7 Dec 2026 08:00:00 +0000\n")


def header_block(content):
    """The delivered header block without the Received: fields, LF line ends."""
    text = content.decode().replace("\r\n", "\n")
    head = text.split("\n\n", 1)[0] + "\n"
    out, skip = [], False
    for line in head.splitlines(keepends=True):
        if line[0] in " \t":
            if not skip:
                out.append(line)
            continue
        skip = line.lower().startswith("received:")
        if not skip:
            out.append(line)
    return "".join(out)


def start_sink(instance, sink, **params):
    s = sink()
    instance.write_config(transport_maps=routes({"remote.test": s.port}), **TABLES, **params)
    instance.start()
    return s


def test_default_classes_rewrite_headers(instance, sink):
    s = start_sink(instance, sink)
    instance.sendmail(["a@remote.test"], sender="joe@host.sub.example.test",
                      body=HEADERS + "\nbody joe@host.sub.example.test\n")
    instance.wait_for(lambda: len(s.received()) == 1, 30, "the message at the sink")
    sender, rcpts, content = s.received()[0]
    assert (sender, rcpts) == ("jsmith@example.test", ["b@remote.test"])
    assert header_block(content) == REWRITTEN
    assert content.decode().replace("\r\n", "\n").endswith(
        "\n\nbody joe@host.sub.example.test\n")
    assert "have no effect" not in instance.log()


def test_envelope_classes_leave_headers_alone(instance, sink):
    s = start_sink(instance, sink, canonical_classes="envelope_sender, envelope_recipient",
              sender_canonical_classes="envelope_sender",
              recipient_canonical_classes="envelope_recipient",
              masquerade_classes="envelope_sender")
    instance.sendmail(["a@remote.test"], sender="joe@host.sub.example.test",
                      body=HEADERS.replace(", bob\n", ", bob@x.test\n") + "\nhello\n")
    instance.wait_for(lambda: len(s.received()) == 1, 30, "the message at the sink")
    sender, rcpts, content = s.received()[0]
    assert (sender, rcpts) == ("jsmith@example.test", ["b@remote.test"])
    assert header_block(content) == HEADERS.replace(", bob\n", ", bob@x.test\n")


def test_one_class_each(instance, sink):
    """sender_canonical_maps only for header senders, recipient_canonical_maps
    for no header, canonical_maps for header recipients, masquerading for
    header senders only."""
    s = start_sink(instance, sink, canonical_classes="header_recipient, envelope_recipient",
              sender_canonical_classes="header_sender",
              recipient_canonical_classes="envelope_recipient",
              masquerade_classes="header_sender")
    body = ("From: joe@host.sub.example.test\n"
            "To: a@remote.test, x@old.test, y@h.example.test\n"
            "Resent-From: Joe <joe@host.sub.example.test>\n"
            "Resent-To: a@remote.test\n"
            "Subject: s\n\nhello\n")
    instance.sendmail(["a@remote.test"], sender="joe@host.sub.example.test", body=body)
    instance.wait_for(lambda: len(s.received()) == 1, 30, "the message at the sink")
    sender, rcpts, content = s.received()[0]
    # Envelope: no sender class for the sender tables; recipient tables apply.
    assert (sender, rcpts) == ("joe@host.sub.example.test", ["b@remote.test"])
    head = header_block(content)
    assert "From: jsmith@example.test\n" in head
    assert "To: a@remote.test, x@remote.test, y@h.example.test\n" in head
    assert "Resent-From: Joe <jsmith@example.test>\n" in head
    assert "Resent-To: a@remote.test\n" in head


def smtp_send(instance, body, rcpts=("a@remote.test",)):
    with smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=30) as c:
        c.ehlo("client.example")
        assert c.sendmail("joe@host.sub.example.test", list(rcpts), body) == {}


SMTP_BODY = ("From: Joe <joe@host.sub.example.test>\n"
             "To: a@remote.test, bob\n"
             "Subject: s\n\nhello\n")


def smtpd_head(instance, sink, **params):
    """Send SMTP_BODY through smtpd with params; the header block delivered."""
    s = start_sink(instance, sink, **params)
    smtp_send(instance, SMTP_BODY)
    instance.wait_for(lambda: len(s.received()) == 1, 30, "the message at the sink")
    return s, header_block(s.received()[0][2])


def test_smtpd_local_client_is_rewritten(instance, sink):
    """127.0.0.1 is one of the inet_interfaces addresses: permit_inet_interfaces
    (the default local_header_rewrite_clients) matches it."""
    _, head = smtpd_head(instance, sink)
    assert "From: Joe <jsmith@example.test>\nTo: b@remote.test, bob@sluice.test\n" in head


def test_smtpd_remote_client_untouched(instance, sink):
    """A client local_header_rewrite_clients does not match, with
    remote_header_rewrite_domain empty (the default): headers as sent; the
    envelope is rewritten all the same."""
    s, head = smtpd_head(instance, sink,
                         local_header_rewrite_clients="permit_sasl_authenticated",
                         alias_maps="inline:{ fwd=c@remote.test }")
    assert "From: Joe <joe@host.sub.example.test>\nTo: a@remote.test, bob\n" in head
    assert s.received()[0][:2] == ("jsmith@example.test", ["b@remote.test"])
    # Forwarded by an alias: the copy keeps the remote rewrite context.
    smtp_send(instance, SMTP_BODY, rcpts=["fwd@sluice.test"])
    instance.wait_for(lambda: len(s.received()) == 2, 30, "the forwarded copy at the sink")
    assert s.received()[1][1] == ["c@remote.test"]
    head = header_block(s.received()[1][2])
    assert "From: Joe <joe@host.sub.example.test>\nTo: a@remote.test, bob\n" in head


def test_smtpd_remote_client_with_domain(instance, sink):
    """remote_header_rewrite_domain set: remote headers are rewritten and an
    incomplete address gets that domain."""
    _, head = smtpd_head(instance, sink, local_header_rewrite_clients="",
                         remote_header_rewrite_domain="domain.invalid")
    assert "From: Joe <jsmith@example.test>\nTo: b@remote.test, bob@domain.invalid\n" in head


def test_smtpd_check_address_map(instance, sink):
    _, head = smtpd_head(instance, sink,
                         local_header_rewrite_clients="check_address_map inline:{127.0.0.1=yes}")
    assert "To: b@remote.test, bob@sluice.test\n" in head


def test_bad_rewrite_clients_refused(instance):
    instance.write_config(local_header_rewrite_clients="permit_everyone")
    p = instance.sluice("check", check=False)
    assert p.returncode != 0
    assert ('local_header_rewrite_clients: bad value "permit_everyone" (items must be '
            'permit_inet_interfaces, permit_mynetworks, permit_sasl_authenticated or '
            'check_address_map type:table)') in p.stderr.decode()
