"""The queue tools while the system runs: mail in the active queue is held,
deleted or requeued through the queue manager, with exact counts, and
nothing is lost or delivered twice."""
import os
import re
import time

from test_qmgr_smtp import routes


def count(p, what):
    m = re.search(r"%s: (\d+) messages?" % what, p.stderr.decode())
    assert m, p.stderr
    return int(m.group(1))


def slow_setup(instance, sink, n):
    s = sink(delay=1.0)
    instance.write_config(transport_maps=routes({"slow.test": s.port}),
                          initial_destination_concurrency=1,
                          default_destination_concurrency_limit=1)
    ids = [instance.inject(["r%d@slow.test" % i], kick=False) for i in range(n)]
    instance.start()
    # All of them in the active queue, one being delivered.
    instance.wait_for(lambda: instance.queue_counts()["active"] == n, 20, "an active queue")
    instance.wait_for(lambda: s.sessions >= 1, 20, "the first delivery")
    return s, ids


def test_hold_and_release_active_mail(instance, sink):
    s, ids = slow_setup(instance, sink, 8)
    p = instance.sluice("hold", "ALL")
    assert count(p, "Placed on hold") == 8
    # Deliveries under way finish; the rest waits in hold/.
    instance.wait_for(lambda: instance.queue_counts()["active"] == 0, 30, "active to empty")
    delivered = set(s.rcpts())
    held = instance.queue_ids("hold")
    assert 1 <= len(delivered) <= 2
    assert len(held) + len(delivered) == 8
    time.sleep(2)
    assert set(s.rcpts()) == delivered          # nothing leaves hold by itself
    p = instance.sluice("release", "ALL")
    assert count(p, "Released from hold") == len(held)
    instance.wait_for(lambda: len(s.rcpts()) == 8, 60, "all deliveries")
    assert sorted(s.rcpts()) == sorted(set(s.rcpts()))
    instance.wait_empty()


def test_delete_active_and_deferred_mail(instance, sink):
    s, ids = slow_setup(instance, sink, 6)
    p = instance.sluice("delete", ids[3], ids[4], ids[5])
    assert count(p, "Deleted") == 3
    kept = {"r0@slow.test", "r1@slow.test", "r2@slow.test"}
    instance.wait_for(lambda: kept <= set(s.rcpts()), 30, "the other three")
    instance.wait_empty()
    time.sleep(1)
    # A deleted message whose delivery was already under way may complete
    # (one at a time here); the others never leave.
    extra = set(s.rcpts()) - kept
    assert len(extra) <= 1
    assert len(s.rcpts()) == len(set(s.rcpts()))
    for qid in ids[3:]:
        assert "%s: removed" % qid in instance.log()


def test_requeue_applies_new_routing(instance, sink):
    from conftest import free_port
    dead = free_port()
    instance.write_config(transport_maps=routes({"moved.test": dead}),
                          minimal_backoff_time="300s", maximal_backoff_time="300s")
    ids = [instance.inject(["r%d@moved.test" % i], kick=False) for i in range(4)]
    instance.start()
    instance.wait_log(r"to=<r\d@moved.test>.*status=deferred", count=4)
    instance.wait_for(lambda: len(instance.queue_ids("deferred")) == 4, 20, "deferred mail")
    # The destination moves; a requeue re-runs the mail with the new routing.
    s = sink()
    instance.write_config(transport_maps=routes({"moved.test": s.port}))
    instance.reload()
    instance.wait_log(r"qmgr\[\d+\]: reload")
    p = instance.sluice("requeue", "ALL", "deferred")
    assert count(p, "Requeued") == 4
    instance.wait_for(lambda: len(s.rcpts()) == 4, 30, "requeued deliveries")
    assert sorted(s.rcpts()) == ["r%d@moved.test" % i for i in range(4)]
    instance.wait_empty()


def test_listing_agrees_with_disk(instance, sink):
    from conftest import free_port
    import json
    dead = free_port()
    instance.write_config(transport_maps=routes({"down.test": dead}),
                          minimal_backoff_time="300s", maximal_backoff_time="300s")
    ids = [instance.inject(["a%d@down.test" % i, "b%d@down.test" % i], kick=False)
           for i in range(3)]
    instance.start()
    instance.wait_for(lambda: len(instance.queue_ids("deferred")) == 3, 30, "deferred mail")
    instance.sluice("hold", ids[0])
    out = instance.sluice("queue").stdout.decode()
    assert "%s!" % ids[0] in out
    for qid in ids[1:]:
        assert qid in out
    assert "Connection refused" in out
    assert re.search(r"-- \d+ Kbytes in 3 Requests\.", out)
    objs = [json.loads(l) for l in instance.sluice("queue", "--json").stdout.decode().splitlines()]
    assert sorted(o["queue_id"] for o in objs) == sorted(ids)
    byid = {o["queue_id"]: o for o in objs}
    assert byid[ids[0]]["queue_name"] == "hold"
    assert byid[ids[1]]["queue_name"] == "deferred"
    assert sorted(r["address"] for r in byid[ids[1]]["recipients"]) == ["a1@down.test",
                                                                        "b1@down.test"]
    assert all("Connection refused" in r["delay_reason"]
               for r in byid[ids[2]]["recipients"])
    on_disk = set(instance.queue_ids("deferred")) | set(instance.queue_ids("hold"))
    assert on_disk == set(ids)


def test_mailq_for_an_ordinary_user(instance, sink):
    """The queue folders are mail_owner's (mode 0700): an ordinary user's
    listing comes from the showq service, the same text as root's."""
    import pwd
    import subprocess
    from conftest import free_port
    from conftest import user_programs
    sluice, _ = user_programs()         # skips unless root
    dead = free_port()
    instance.write_config(transport_maps=routes({"down.test": dead}),
                          minimal_backoff_time="300s", maximal_backoff_time="300s")
    ids = [instance.inject(["a%d@down.test" % i], kick=False) for i in range(2)]
    instance.start()
    instance.wait_for(lambda: len(instance.queue_ids("deferred")) == 2, 30, "deferred mail")
    as_root = instance.sluice("queue").stdout
    nobody = pwd.getpwnam("nobody")
    p = subprocess.run([sluice, "-c", instance.conf, "queue"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30,
                       preexec_fn=lambda: (os.setgid(nobody.pw_gid), os.setuid(nobody.pw_uid)))
    assert p.returncode == 0, p.stderr
    assert p.stdout == as_root
    for qid in ids:
        assert qid.encode() in p.stdout
    p = subprocess.run([sluice, "-c", instance.conf, "queue", "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30,
                       preexec_fn=lambda: (os.setgid(nobody.pw_gid), os.setuid(nobody.pw_uid)))
    assert p.returncode == 0 and p.stdout.count(b'"queue_id"') == 2
