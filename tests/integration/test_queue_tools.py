"""The queue tools through build/sluice, on a queue directory and no daemon.

Queue files are made with tests/qfmake; done marks are set and defer logs
written here in Python from docs/QUEUE.md's description of the formats (so
the tools are also checked against the documented formats, not only
against the C library that writes them).  Nothing runs but the command
under test: the qmgr-control fallback (no socket: the system is stopped)
handles active/ directly.  The tests that need the running system (active
mail handed to the queue manager, requeued mail delivered again) belong to
the whole-system suite.
"""
import json
import os
import re
import subprocess
import time

import pytest

BUILD = os.environ.get("SLUICE_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SLUICE = os.path.abspath(os.path.join(BUILD, "sluice"))
QFMAKE = os.path.abspath(os.path.join(BUILD, "tests", "qfmake"))

HEADING = ("----Queue ID----- --Size-- ---Arrival Time---- "
           "--Sender/Recipient------\n")
MESSAGE = b"Subject: test\n\nbody\n"          # 20 bytes of content


class Queue:
    """A configuration directory and its queue directory."""

    def __init__(self, base):
        self.conf = os.path.join(base, "conf")
        self.spool = os.path.join(base, "spool")
        os.makedirs(self.conf)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"queue_directory = {self.spool}\n")

    def run(self, *args, stdin=b""):
        """sluice -c CONF ARGS...; (status, stdout, stderr)."""
        p = subprocess.run([SLUICE, "-c", self.conf, *args], input=stdin,
                           capture_output=True, timeout=60,
                           env=dict(os.environ, TZ="UTC"))
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def make(self, queue, rcpts, sender="s@x.test", arrival=1606557600):
        """A queue file made by qfmake; its ID."""
        p = subprocess.run([QFMAKE, "-q", queue, "-f", sender, "-t", str(arrival),
                            self.spool, *rcpts], input=MESSAGE,
                           capture_output=True, check=True, timeout=30)
        return p.stdout.decode().strip()

    def path(self, queue, qid):
        """Where qid lives in queue (default hashing: deferred, defer, depth 1)."""
        if queue in ("deferred", "defer"):
            return os.path.join(self.spool, queue, qid[9], qid)
        return os.path.join(self.spool, queue, qid)

    def exists(self, queue, qid):
        return os.path.exists(self.path(queue, qid))

    def count(self, queue):
        return sum(len(files) for _, _, files in os.walk(os.path.join(self.spool, queue)))


def records(data):
    """(type, offset, data) of every record of a queue file (QUEUE.md 3)."""
    out, off = [], 0
    while off < len(data):
        rtype, length, shift, pos = data[off], 0, 0, off + 1
        while True:
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7f) << shift
            shift += 7
            if not byte & 0x80:
                break
        out.append((chr(rtype), off, data[pos:pos + length]))
        off = pos + length
    return out


def rcpt_offsets(path):
    """{address: offset} of the R/D records."""
    with open(path, "rb") as f:
        data = f.read()
    return {d.decode(): off for t, off, d in records(data) if t in "RD"}


def mark_done(path, address):
    """Turn the recipient's R record into D, in place."""
    off = rcpt_offsets(path)[address]
    with open(path, "r+b") as f:
        f.seek(off)
        assert f.read(1) == b"R"
        f.seek(off)
        f.write(b"D")


def defer_log(q, qid, entries):
    """Write defer/ID with one record per (address, reason) (QUEUE.md 6)."""
    offsets = rcpt_offsets(q.path("deferred", qid))
    path = q.path("defer", qid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for address, reason in entries:
            f.write(f"recipient={address}\noffset={offsets[address]}\nstatus=4.4.1\n"
                    f"action=delayed\nreason={reason}\ntime=1606557600.000000\n\n")


@pytest.fixture
def q(tmp_path):
    queue = Queue(str(tmp_path))
    for tool in (SLUICE, QFMAKE):
        if not os.access(tool, os.X_OK):
            pytest.fail(f"{tool} is not built")
    status, _, err = queue.run("queue")
    if status == 64 and "unknown command" in err:
        pytest.skip("the dispatcher (src/cli/sluice.c) does not know the queue tools yet")
    return queue


def sender_line(qid, mark, size, when, sender):
    return "%-17s %8d %-19s %s\n" % (qid + mark, size, when, sender)


def rcpt_line(address):
    return " " * 47 + address + "\n"


def test_listing_text_and_json(q):
    a = q.make("active", ["a1@x.test", "a2@x.test"])
    d = q.make("deferred", ["d1@x.test", "d2@y.test", "d3@y.test"], sender="")
    h = q.make("hold", ["h@x.test"])
    i = q.make("incoming", ["i@x.test"], arrival=1609837387)
    mark_done(q.path("active", a), "a1@x.test")
    defer_log(q, d, [("d2@y.test", "connect to mx.y.test[127.0.0.1]:25: Connection refused")])

    status, out, err = q.run("queue")
    assert status == 0, err
    reason = "(connect to mx.y.test[127.0.0.1]:25: Connection refused)"
    want = (HEADING
            + sender_line(a, "*", 20, "Sat Nov 28 10:00:00", "s@x.test")
            + rcpt_line("a2@x.test") + "\n"
            + sender_line(i, "", 20, "Tue Jan  5 09:03:07", "s@x.test")
            + rcpt_line("i@x.test") + "\n"
            + sender_line(d, "", 20, "Sat Nov 28 10:00:00", "MAILER-DAEMON")
            + " " * (78 - len(reason)) + reason + "\n"
            + rcpt_line("d2@y.test")
            + " " * 58 + "(reason unavailable)\n"
            + rcpt_line("d1@x.test") + rcpt_line("d3@y.test") + "\n"
            + sender_line(h, "!", 20, "Sat Nov 28 10:00:00", "s@x.test")
            + rcpt_line("h@x.test")
            + "\n-- 0 Kbytes in 4 Requests.\n")
    assert out == want
    assert err == ""

    status, out, err = q.run("queue", "--json")
    assert status == 0, err
    objs = [json.loads(line) for line in out.splitlines()]
    assert [o["queue_id"] for o in objs] == [a, i, d, h]
    assert [o["queue_name"] for o in objs] == ["active", "incoming", "deferred", "hold"]
    assert objs[1]["arrival_time"] == 1609837387
    assert all(o["message_size"] == 20 and o["forced_expire"] is False for o in objs)
    assert objs[2]["sender"] == "MAILER-DAEMON"
    assert objs[2]["recipients"] == [
        {"address": "d2@y.test",
         "delay_reason": "connect to mx.y.test[127.0.0.1]:25: Connection refused"},
        {"address": "d1@x.test"}, {"address": "d3@y.test"}]
    assert objs[0]["recipients"] == [{"address": "a2@x.test"}]


def test_listing_empty_damaged_and_vanishing_files(q):
    status, out, err = q.run("queue")
    assert (status, out) == (0, "Mail queue is empty\n")
    good = q.make("incoming", ["g@x.test"])
    bad = q.make("incoming", ["b@x.test"])
    os.truncate(q.path("incoming", bad), 120)
    with open(os.path.join(q.spool, "incoming", "tmp.1.2.3"), "w"):
        pass
    status, out, err = q.run("queue")
    assert status == 0
    assert good in out and bad not in out
    assert out.endswith("\n-- 0 Kbytes in 1 Request.\n")
    assert re.search(rf"warning: incoming/{bad}: damaged queue file", err)
    assert err.count("\n") == 1


def test_hold_release_delete(q):
    a = q.make("incoming", ["a@x.test"])
    b = q.make("active", ["b@x.test"])
    c = q.make("deferred", ["c@x.test"])
    unknown = q.make("incoming", ["u@x.test"])
    os.unlink(q.path("incoming", unknown))

    status, _, err = q.run("hold", a, b, c, a, unknown)
    assert status == 0, err
    assert "sluice: Placed on hold: 3 messages\n" in err
    assert all(q.exists("hold", x) for x in (a, b, c))
    assert q.count("incoming") + q.count("active") + q.count("deferred") == 0
    status, out, _ = q.run("queue")
    assert out.count("!") == 3

    status, _, err = q.run("release", a)
    assert status == 0
    assert "sluice: Released from hold: 1 message\n" in err
    assert q.exists("deferred", a)
    assert abs(os.stat(q.path("deferred", a)).st_mtime - time.time()) < 60

    status, _, err = q.run("delete", "-", stdin=f"{b}\n\n{c}\n".encode())
    assert status == 0
    assert "sluice: Deleted: 2 messages\n" in err
    assert q.count("hold") == 0

    status, _, err = q.run("delete", "ALL")
    assert status == 0
    assert "sluice: Deleted: 1 message\n" in err
    assert q.run("queue")[1] == "Mail queue is empty\n"


def test_bad_arguments_touch_nothing(q):
    a = q.make("deferred", ["a@x.test"])
    status, _, err = q.run("delete", a, "NOT-AN-ID")
    assert status == 1 and "invalid mail queue id: NOT-AN-ID" in err
    status, _, err = q.run("hold", a, "maildrop")
    assert status == 64
    status, _, err = q.run("delete", "all")
    assert status == 1
    assert q.exists("deferred", a)


def test_requeue_to_maildrop(q):
    a = q.make("deferred", ["a@x.test", "b@x.test"])
    mark_done(q.path("deferred", a), "a@x.test")
    defer_log(q, a, [("b@x.test", "later")])
    status, _, err = q.run("requeue", a)
    assert status == 0, err
    assert "sluice: Requeued: 1 message\n" in err
    path = q.path("maildrop", a)
    assert os.stat(path).st_mode & 0o7777 == 0o700
    assert not os.path.exists(q.path("defer", a))
    types = {d.decode(): t for t, _, d in records(open(path, "rb").read()) if t in "RD"}
    assert types == {"a@x.test": "D", "b@x.test": "R"}


def test_shape(q):
    now = int(time.time())
    q.make("incoming", ["a@x.test", "b@y.test"], arrival=now - 30)
    q.make("active", ["c@x.test"], arrival=now - 7 * 60)
    q.make("deferred", ["d@z.test"], arrival=now - 3 * 86400)
    status, out, err = q.run("shape")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["T", "5", "10", "20", "40", "80", "160", "320", "640",
                                "1280", "1280+"]
    assert all(len(line) == 80 for line in lines)
    assert lines[1].split() == ["TOTAL", "3", "2", "1"] + ["0"] * 8
    assert lines[2].split() == ["x.test", "2", "1", "1"] + ["0"] * 8
    assert lines[3].split() == ["y.test", "1", "1"] + ["0"] * 9
    status, out, _ = q.run("shape", "deferred")
    assert out.splitlines()[2].split() == ["z.test", "1"] + ["0"] * 9 + ["1"]


def test_flush_and_kick_without_a_system(q):
    status, _, err = q.run("flush")
    assert status == 75
    status, _, err = q.run("kick", "FAX")
    assert status == 64
