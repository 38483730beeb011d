"""Address rewriting in cleanup, end to end through `sluice sendmail`: canonical
maps and masquerading to an SMTP sink, virtual alias expansion to Maildirs and a
sink (unknown users, loops), relocated users, automatic BCC, and a table that
cannot be read (the message waits in maildrop/ and goes once the table is
there)."""
import os
import re

from test_qmgr_smtp import routes


def bounces(instance, user):
    """The delivery status reports in user's Maildir, as text."""
    return [m.as_string() for m in instance.maildir_messages(user)
            if "Delivery Status Notification" in m.get("Subject", "")
            or m.get_content_type() == "multipart/report"]


def test_canonical_and_masquerade(instance, sink):
    s = sink()
    instance.write_config(
        transport_maps=routes({"remote.test": s.port}),
        sender_canonical_maps="inline:{joe@host.sub.example.test=jsmith@host.sub.example.test}",
        recipient_canonical_maps="inline:{a@remote.test=b@remote.test}",
        canonical_maps="inline:{@old.test=@remote.test}",
        masquerade_domains="!keep.example.test, example.test")
    instance.start()
    instance.sendmail(["a@remote.test", "c+tag@old.test"],
                      sender="joe@host.sub.example.test")
    instance.sendmail(["a@remote.test"], sender="ann@x.keep.example.test")
    instance.wait_for(lambda: len(s.received()) == 2, 30, "two messages at the sink")
    got = sorted((m[0], sorted(m[1])) for m in s.received())
    assert got == [("ann@x.keep.example.test", ["b@remote.test"]),
                   ("jsmith@example.test", ["b@remote.test", "c+tag@remote.test"])]
    log = instance.log()
    assert re.search(r"to=<b@remote\.test>, orig_to=<a@remote\.test>.*status=sent", log)
    assert re.search(r"to=<c\+tag@remote\.test>, orig_to=<c\+tag@old\.test>.*status=sent", log)
    # Header addresses are rewritten too (tests/integration/test_header_rewrite.py).
    assert "have no effect" not in log


def test_virtual_alias_expansion(instance, sink):
    s = sink()
    instance.write_config(
        transport_maps=routes({"remote.test": s.port}),
        recipient_delimiter="+",
        virtual_alias_domains="virt.test",
        virtual_alias_maps="inline:{{list@virt.test = ann, team@virt.test, bob@remote.test},"
                           " {team@virt.test = carl, ann}, loop1@virt.test=loop2@virt.test,"
                           " loop2@virt.test=loop1@virt.test, @alias.test=@remote.test}")
    instance.start()
    instance.sendmail(["list+x@virt.test", "nobody@virt.test", "loop1@virt.test",
                       "z@alias.test"], sender="owner@sluice.test")
    instance.wait_for(lambda: len(instance.maildir_messages("ann")) == 1
                      and len(instance.maildir_messages("carl")) == 1, 30, "local copies")
    instance.wait_for(lambda: len(s.rcpts()) == 2, 30, "remote copies")
    assert s.rcpts() == ["bob+x@remote.test", "z@remote.test"]
    instance.wait_for(lambda: len(bounces(instance, "owner")) == 1, 30, "a bounce")
    report = bounces(instance, "owner")[0]
    assert "5.1.1" in report and "User unknown in virtual alias table" in report
    assert "5.4.6" in report and "loop1@virt.test" in report
    instance.wait_empty()
    # ann came twice (list, team): one copy.
    assert len(instance.maildir_messages("ann")) == 1
    assert re.search(r"to=<ann\+x@sluice\.test>, orig_to=<list\+x@virt\.test>",
                     instance.log())


def test_relocated(instance):
    instance.write_config(relocated_maps="inline:{old@sluice.test=new@else.test}")
    instance.start()
    instance.sendmail(["old@sluice.test", "kept@sluice.test"], sender="owner@sluice.test")
    instance.wait_for(lambda: len(bounces(instance, "owner")) == 1, 30, "a bounce")
    report = bounces(instance, "owner")[0]
    assert "5.1.6" in report and "User has moved to new@else.test" in report
    assert len(instance.maildir_messages("kept")) == 1
    assert re.search(r"to=<old@sluice\.test>.*dsn=5\.1\.6, status=bounced", instance.log())


def test_automatic_bcc(instance):
    instance.write_config(always_bcc="archive@sluice.test",
                          sender_bcc_maps="inline:{owner@sluice.test=sbcc}",
                          recipient_bcc_maps="inline:{dave@sluice.test=rbcc}")
    instance.start()
    instance.sendmail(["dave@sluice.test"], sender="owner@sluice.test")
    instance.wait_for(lambda: all(len(instance.maildir_messages(u)) == 1
                                  for u in ("dave", "archive", "sbcc", "rbcc")), 30,
                      "four copies")
    instance.wait_empty()
    assert instance.count_log(r"to=<archive@sluice\.test>.*status=sent") == 1


def test_unreadable_table_defers_then_delivers(instance):
    table = os.path.join(instance.base, "canonical")
    instance.write_config(canonical_maps="hash:%s" % table)
    instance.start()
    instance.sendmail(["who@sluice.test"], sender="owner@sluice.test")
    instance.wait_log(r"4\.3\.0 lookup table not available; will try again")
    assert instance.queue_counts()["maildrop"] == 1
    with open(table, "w") as f:
        f.write("who@sluice.test whom@sluice.test\n")
    instance.sluice("map", "hash:%s" % table)
    instance.sendmail(["other@sluice.test"], sender="owner@sluice.test")   # wakes pickup
    instance.wait_for(lambda: len(instance.maildir_messages("whom")) == 1, 60,
                      "the deferred message")
    assert instance.maildir_messages("who") == []
