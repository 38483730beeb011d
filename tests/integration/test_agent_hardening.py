"""Delivery agents against costly, hostile or hanging input (issue 16):

* a message to many local recipients, sent one recipient per request as
  the queue manager does for local (local_destination_recipient_limit = 1),
  costs each request the same number of queue file record reads however
  many recipients the message has (no N * N walk of the recipient records);
* a request whose queue name or queue ID would lead outside active/ is
  refused before anything is opened;
* a FIFO where a mailbox or an :include: file should be defers at once
  (the agent never blocks in open), and a delivery child that hangs is
  killed at the time limit.
"""
import os
import re
import subprocess
import tempfile
import time

import pytest

from agent_harness import (AgentHarness, encode_frame, find_file, queue_file_info,
                           read_frame)

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def work():
    d = tempfile.mkdtemp(prefix="sluice-hard-")
    os.chmod(d, 0o1777)
    yield d
    subprocess.run(["rm", "-rf", d])


@pytest.fixture
def harnesses():
    made = []

    def make(*args, verbose=False, **kw):
        h = AgentHarness(*args, **kw)
        if verbose:
            h.extra_args = ["-v"]
        made.append(h)
        return h.start()
    yield make
    for h in made:
        h.cleanup()


def request(h, qid, rcpts, queue_name="active", flags=0):
    """One request for rcpts [(offset, address)] of qid; the reply dict."""
    now = time.time()
    pairs = [("queue_name", queue_name), ("queue_id", qid), ("transport", h.service),
             ("nexthop", "sluice.test"), ("sender", "sender@example.test"), ("envid", ""),
             ("ret", 0), ("flags", flags), ("offset", 0), ("size", 0),
             ("arrival_time", "%.6f" % (now - 1)), ("active_time", "%.6f" % now),
             ("request_time", "%.6f" % now), ("rcpt_count", len(rcpts))]
    for off, addr in rcpts:
        pairs += [("rcpt", addr), ("orig_rcpt", ""), ("dsn_orcpt", ""), ("notify", 0),
                  ("rcpt_offset", off)]
    h.conn.sendall(encode_frame(pairs))
    return dict(read_frame(h.conn, timeout=120))


# ---------------------------------------------------------------- fan-out cost

def records_per_request(h, qid):
    """The verbose 'N queue file records read' figure of every request for qid."""
    return [int(n) for n in re.findall(r"%s: (\d+) queue file records read" % qid, h.log())]


@pytest.mark.parametrize("count", [200, 400])
def test_fanout_cost_does_not_grow_with_recipients(harnesses, work, count):
    """One request per recipient: the queue file records each request reads
    stay the same small number for 200 and 400 recipients.  (Walking every
    recipient record per request, as the agents once did, reads more than
    `count` records per request: 200 * 200 and 400 * 400 in all.)"""
    h = harnesses("local", verbose=True, main_cf=(
        "local_mailbox_base = %s/mail\nrecipient_delimiter = +\nmax_use = 100000\n" % work))
    qid = h.make_message(["box+%d@sluice.test" % i for i in range(count)])
    rcpts = queue_file_info(h.queue_file(qid))["rcpts"]
    assert len(rcpts) == count
    for off, addr, _done in rcpts:
        reply = request(h, qid, [(off, addr)])
        assert reply["sent"] == "1", h.log()[-2000:]
    per = records_per_request(h, qid)
    assert len(per) == count
    # Envelope (W T S M), header and content records, the recipient's own
    # record: a handful, and the same for every request.
    assert max(per) == min(per) and max(per) < 20, per[:10]
    assert len(os.listdir(os.path.join(work, "mail", "box", "new"))) == count
    assert all(h.done_marks(qid).values())


def test_damaged_recipient_record_is_corrupt(harnesses, work):
    """A request recipient whose record is not where the request says (or
    names another address) makes the file corrupt before any delivery."""
    h = harnesses("local", main_cf="local_mailbox_base = %s/mail\n" % work)
    qid = h.make_message(["a@sluice.test", "b@sluice.test"])
    (off_a, _a, _), (off_b, _b, _) = queue_file_info(h.queue_file(qid))["rcpts"]
    reply = request(h, qid, [(off_a, "b@sluice.test")])
    assert reply["status"] == "2", h.log()           # DEL_STAT_CORRUPT
    assert "names another address" in h.log()
    assert not os.path.exists(os.path.join(work, "mail", "b"))
    assert h.log_lines(qid) == []


# ---------------------------------------------------------------- request paths

@pytest.mark.parametrize("queue_name,make_id", [
    ("active", lambda qid: "../hold/" + qid),         # a real queue file, another folder
    ("active", lambda qid: "../../../../../../etc/passwd"),
    ("active", lambda qid: qid + "/.."),
    ("hold", lambda qid: qid),                        # agents deliver from active/ only
    ("../hold", lambda qid: qid),
])
def test_request_path_refused(harnesses, work, queue_name, make_id):
    """Queue names and IDs that would lead outside active/ are refused with a
    warning and a deferral reply; the queue file they point at is not
    delivered from (its recipients stay to do, no mailbox appears)."""
    h = harnesses("local", main_cf="local_mailbox_base = %s/mail\n" % work)
    p = subprocess.run([os.path.join(os.path.dirname(h.program), "tests", "qfmake"), "-q",
                        "hold", "-f", "sender@example.test", h.spool, "held@sluice.test"],
                       input=b"Subject: x\n\nbody\n", stdout=subprocess.PIPE, check=True)
    qid = p.stdout.decode().strip()
    path = find_file(os.path.join(h.spool, "hold"), qid)
    off = queue_file_info(path)["rcpts"][0][0]
    bad_id = make_id(qid)
    reply = request(h, bad_id, [(off, "held@sluice.test")], queue_name=queue_name)
    assert reply["status"] == "1"
    assert (reply["sent"], reply["bounced"]) == ("0", "0")
    assert re.search(r"warning: refusing delivery request for queue_name \"[^\"]*\", "
                     r"queue_id \"[^\"]*\": queue_(name|id) is not", h.log()), h.log()
    assert [d for _o, _a, d in queue_file_info(path)["rcpts"]] == [False]
    assert not os.path.exists(os.path.join(work, "mail", "held"))
    assert "to=<" not in h.log()
    # The agent carries on with the next, good request.
    good = h.make_message(["ok@sluice.test"])
    assert h.deliver(good)["sent"] == "1", h.log()


# ---------------------------------------------------------------- hanging deliveries

@pytest.fixture
def system_user(work):
    """A throwaway account with a home folder (root only)."""
    if not IS_ROOT:
        pytest.skip("a system user with a home mailbox needs root")
    import pwd
    import random
    name = "sluiceh%d" % random.randrange(10**6)
    home = os.path.join(work, "home-" + name)
    subprocess.run(["useradd", "-m", "-d", home, "-s", "/bin/sh", name], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed_deliver(h, qid):
    start = time.monotonic()
    reply = h.deliver(qid, timeout=60)
    return reply, time.monotonic() - start


def test_fifo_mailbox_defers_at_once(harnesses, system_user):
    """~/Mailbox is a FIFO nobody reads: the agent does not wait in open()
    (it used to, for ever); the mail is deferred, saying why, well within
    the time limit, and no lock file stays behind."""
    box = os.path.join(system_user.pw_dir, "Mailbox")
    os.mkfifo(box, 0o600)
    os.chown(box, system_user.pw_uid, system_user.pw_gid)
    h = harnesses("local", main_cf="local_mailbox_base =\nhome_mailbox = Mailbox\n"
                  "local_time_limit = 30s\n")
    rcpt = "%s@sluice.test" % system_user.pw_name
    qid = h.make_message([rcpt])
    reply, took = timed_deliver(h, qid)
    assert reply["deferred"] == "1", h.log()
    word, dsn, reason = h.outcome(qid, rcpt)
    assert (word, dsn) == ("deferred", "4.2.0")
    assert "file %s is not a regular file" % box in reason, reason
    assert took < 15, took
    assert not os.path.exists(box + ".lock")
    assert h.done_marks(qid)[rcpt] is False


def test_fifo_include_defers_at_once(harnesses, work):
    """An :include: file that is a FIFO: not read (no wait for a writer),
    the recipient deferred as a configuration problem."""
    fifo = os.path.join(work, "list.inc")
    os.mkfifo(fifo, 0o644)
    aliases = os.path.join(work, "aliases")
    with open(aliases, "w") as f:
        f.write("list :include:%s\n" % fifo)
    h = harnesses("local", main_cf=("local_mailbox_base = %s/mail\nalias_maps = texthash:%s\n"
                                    "local_time_limit = 30s\n" % (work, aliases)))
    qid = h.make_message(["list@sluice.test"])
    reply, took = timed_deliver(h, qid)
    assert reply["deferred"] == "1", h.log()
    assert h.outcome(qid, "list@sluice.test") == (
        "deferred", "4.3.5", "include file %s is not a regular file" % fifo)
    assert took < 15, took


def test_delivery_child_time_limit(harnesses, system_user):
    """A mailbox delivery that cannot finish (here: another process holds
    the mailbox's fcntl lock, which the child would wait 20 s for) is
    stopped at local_time_limit and deferred with that reason; its dot-lock
    is removed and the mailbox is unchanged."""
    import fcntl
    box = os.path.join(system_user.pw_dir, "Mailbox")
    with open(box, "w") as f:
        f.write("From old  Thu Jan  1 00:00:00 1970\n\nold\n\n")
    os.chown(box, system_user.pw_uid, system_user.pw_gid)
    os.chmod(box, 0o600)
    before = open(box).read()
    h = harnesses("local", main_cf="local_mailbox_base =\nhome_mailbox = Mailbox\n"
                  "local_time_limit = 2s\n")
    rcpt = "%s@sluice.test" % system_user.pw_name
    qid = h.make_message([rcpt])
    with open(box, "r+") as holder:
        fcntl.lockf(holder, fcntl.LOCK_EX)
        reply, took = timed_deliver(h, qid)
    assert reply["deferred"] == "1", h.log()
    word, dsn, reason = h.outcome(qid, rcpt)
    assert (word, dsn) == ("deferred", "4.3.0")
    assert reason == "time limit of 2 s exceeded delivering to mailbox %s" % box
    assert 2 <= took < 12, took
    assert not os.path.exists(box + ".lock")
    assert open(box).read() == before
    # Without the lock holder the same mail is delivered.
    assert h.deliver(qid)["sent"] == "1", h.log()
