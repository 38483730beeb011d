"""pickup under stress: hostile files in maildrop/ are quarantined in
corrupt/ while good mail keeps flowing, and a pickup killed outright is
restarted by master without losing or duplicating a message.

The pickup process of a test's instance is found by its environment
(SLUICE_CONFIG_DIR=<the instance's conf directory>, which master passes to
every child), never by name: other tests run sluice on this machine too.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import QFMAKE
from test_qmgr_smtp import routes

ID_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"


def instance_pids(instance, prog):
    """PIDs of this instance's processes whose program is prog."""
    want = ("SLUICE_CONFIG_DIR=" + instance.conf).encode()
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            with open("/proc/%s/environ" % p, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%s/stat" % p) as f:
                state = f.read().rsplit(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if os.path.basename(argv0) == prog.encode() and want in env and state != "Z":
            out.append(int(p))
    return out


def pickup_pid(instance, not_this=None):
    """The one pickup process (waiting for it, and for it to differ from not_this)."""
    def one():
        pids = instance_pids(instance, "pickup")
        return pids if len(pids) == 1 and pids[0] != not_this else None
    return instance.wait_for(one, 20, "one pickup process")[0]


def queue_id(sec, usec, inode):
    """A name pickup takes for a queue ID (docs/QUEUE.md section 2)."""
    def digits(v, width=None):
        s = ""
        while v:
            s = ID_ALPHABET[v % 52] + s
            v //= 52
        return s.rjust(width, "0") if width else s
    return digits(sec, 6) + digits(usec, 4) + digits(inode)


def drop(instance, name, data, mode=0o744):
    """Put a file into maildrop/ complete in one step (made aside, renamed)."""
    tmp = os.path.join(instance.spool, "maildrop", "tmp.garbage.%s" % name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, os.path.join(instance.spool, "maildrop", name))


def valid_submission(instance):
    """The bytes of a complete, valid maildrop file (made with qfmake)."""
    stage = os.path.join(instance.base, "qfstage")
    p = subprocess.run([QFMAKE, "-q", "maildrop", "-f", "s@example.test", stage,
                        "whoever@a.test"], input=b"Subject: t\n\nhello\n",
                       stdout=subprocess.PIPE, check=True)
    path = os.path.join(stage, "maildrop", p.stdout.decode().strip())
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return data


def maildrop_entries(instance):
    return sorted(os.listdir(os.path.join(instance.spool, "maildrop")))


# ---- 4. garbage in maildrop/ ----

GARBAGE = ["random bytes", "empty", "truncated submission", "wrong size in the size record",
           "symbolic link", "hard link"]


@pytest.mark.parametrize("kind", GARBAGE)
def test_garbage_in_maildrop_goes_to_corrupt_and_mail_keeps_flowing(instance, sink, kind):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    instance.sendmail(["before@a.test"])
    instance.wait_for(lambda: s.rcpts() == ["before@a.test"], 20, "the first message")

    now = time.time()
    name = queue_id(int(now), int(now % 1 * 1e6), random.randrange(52 ** 3, 52 ** 4))
    path = os.path.join(instance.spool, "maildrop", name)
    target = os.path.join(instance.base, "precious")
    with open(target, "w") as f:
        f.write("not mail\n")
    if kind == "random bytes":
        drop(instance, name, random.Random(1).randbytes(700))
    elif kind == "empty":
        drop(instance, name, b"")
    elif kind == "truncated submission":
        good = valid_submission(instance)
        drop(instance, name, good[:len(good) // 2])
    elif kind == "wrong size in the size record":
        # The last digit of the file size field (size record: 'C', length,
        # then six %15ld fields; the fifth is the file size).
        good = bytearray(valid_submission(instance))
        assert chr(good[80]).isdigit() and good[81] == ord(" ")
        good[80] = ord("0") + (good[80] - ord("0") + 1) % 10
        drop(instance, name, bytes(good))
    elif kind == "symbolic link":
        os.symlink(target, path)
    elif kind == "hard link":
        os.chmod(target, 0o744)
        os.link(target, path)
    before = os.lstat(path)

    # The next submission wakes pickup; both files are judged in that scan.
    instance.sendmail(["after@a.test"])
    instance.wait_log(r"sluice/pickup\[\d+\]: warning: %s: corrupt maildrop file moved to "
                      r"corrupt/" % name)
    instance.wait_for(lambda: s.rcpts() == ["after@a.test", "before@a.test"], 20,
                      "the second message")
    # The reason comes first, on its own line.
    assert re.search(r"warning: %s: (?!corrupt maildrop file)\S.*\n(.*\n)*.*warning: %s: "
                     r"corrupt maildrop file moved" % (name, name), instance.log())
    # Quarantined as it was: the same inode, nothing followed or changed.
    moved = os.path.join(instance.spool, "corrupt", name)
    after = os.lstat(moved)
    assert (after.st_ino, after.st_size, after.st_mode) == (
        before.st_ino, before.st_size, before.st_mode)
    assert not os.path.lexists(path)
    with open(target) as f:
        assert f.read() == "not mail\n"
    assert instance.queue_ids("corrupt") == [name]

    # Mail keeps flowing, each message once.
    instance.sendmail(["later@a.test"])
    instance.wait_for(lambda: len(s.rcpts()) == 3, 20, "the third message")
    instance.wait_empty()
    assert s.rcpts() == ["after@a.test", "before@a.test", "later@a.test"]
    assert maildrop_entries(instance) == []


def test_garbage_files_among_many_good_ones(instance, sink):
    """Several bad files in one scan, between good ones: every good one is
    delivered once, every bad one quarantined once."""
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    pid = pickup_pid(instance)
    os.kill(pid, signal.SIGSTOP)        # let the files pile up for one scan
    try:
        bad = []
        for i in range(10):
            instance.sendmail(["g%d@a.test" % i])
            if i % 3 == 0:
                now = time.time()
                name = queue_id(int(now), int(now % 1 * 1e6), 1000 + i)
                drop(instance, name, b"junk %d\n" % i)
                bad.append(name)
        assert len(instance.queue_ids("maildrop")) == 10 + len(bad)
    finally:
        os.kill(pid, signal.SIGCONT)
    instance.wait_for(lambda: len(s.rcpts()) == 10, 30, "ten good messages")
    instance.wait_empty()
    assert s.rcpts() == sorted("g%d@a.test" % i for i in range(10))
    assert instance.queue_ids("corrupt") == sorted(bad)
    assert instance.count_log(r"corrupt maildrop file moved to corrupt/") == len(bad)
    assert maildrop_entries(instance) == []


# ---- 5. pickup killed ----

def test_killed_pickup_is_restarted_and_picks_up(instance, sink):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    old = pickup_pid(instance)
    os.kill(old, signal.SIGKILL)
    instance.wait_log(r"process \S*pickup pid %d killed by signal 9" % old)
    new = pickup_pid(instance, not_this=old)
    instance.sendmail(["after-restart@a.test"])
    instance.wait_for(lambda: s.rcpts() == ["after-restart@a.test"], 20, "delivery")
    assert re.search(r"sluice/pickup\[%d\]: \w+: uid=0 from=" % new, instance.log())


def test_twenty_messages_with_pickup_killed_midway(instance, sink):
    """Twenty submissions; pickup is killed while it works through a batch
    of ten, right after it has finished the first file of the batch (so the
    kill lands while it starts on the next one).  Every message is delivered
    exactly once and nothing stays behind.  (A kill between committing a
    copy and removing its maildrop file is the next test.)"""
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    rcpt = ["m%02d@a.test" % i for i in range(20)]

    for r in rcpt[:5]:
        instance.sendmail([r])
    # A batch piles up while pickup is stopped ...
    old = pickup_pid(instance)
    os.kill(old, signal.SIGSTOP)
    try:
        for r in rcpt[5:15]:
            instance.sendmail([r])
        assert len(instance.queue_ids("maildrop")) >= 10
    finally:
        os.kill(old, signal.SIGCONT)
    # ... and pickup dies as soon as it has started on it.
    deadline = time.time() + 20
    while len(maildrop_entries(instance)) >= 10 and time.time() < deadline:
        pass                            # no sleep: pickup takes a file in milliseconds
    os.kill(old, signal.SIGKILL)
    left = len(instance.queue_ids("maildrop"))
    instance.wait_log(r"process \S*pickup pid %d killed by signal 9" % old)
    # Submissions go on while master restarts it.
    for r in rcpt[15:]:
        instance.sendmail([r])
    pickup_pid(instance, not_this=old)

    instance.wait_for(lambda: len(s.rcpts()) >= 20, 60, "twenty deliveries")
    instance.wait_empty()
    time.sleep(1)                       # a duplicate would arrive by now
    assert s.rcpts() == rcpt, "lost or duplicated (%d left in maildrop at the kill)" % left
    assert maildrop_entries(instance) == []
    # Each message is logged once as accepted; a kill between the commit and
    # that log line leaves the restarted pickup to say "already queued"
    # instead (docs/QUEUE.md section 9), and only the one killed pickup can.
    log = instance.log()
    accepted = re.findall(r"sluice/pickup\[\d+\]: (\w+): uid=0 from=", log)
    again = re.findall(r"sluice/pickup\[\d+\]: (\w+): already queued", log)
    assert len(accepted) == len(set(accepted)), accepted
    assert len(set(accepted) | set(again)) == 20 and len(again) <= 1, (accepted, again)


@pytest.mark.skipif(shutil.which("strace") is None,
                    reason="strace (Debian package strace) is needed to stop pickup at the "
                    "exact system call")
def test_pickup_killed_between_commit_and_unlink_delivers_once(instance, sink):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    old = pickup_pid(instance)
    # SIGKILL pickup on its first unlink (that of the maildrop file it has
    # just copied), without letting the unlink happen.
    tracer = subprocess.Popen(
        ["strace", "-p", str(old), "-o", "/dev/null", "-e", "trace=unlink,unlinkat",
         "-e", "inject=unlink,unlinkat:error=EPERM:signal=SIGKILL:when=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        attached = tracer.stderr.readline()
        if b"attached" not in attached:
            pytest.fail("strace did not attach: %r" % attached)
        instance.sendmail(["once@a.test"])
        try:
            instance.wait_log(r"pickup pid %d killed by signal 9" % old)
            tracer.wait(10)
            # The killed pickup had committed its copy (it logs after the rename).
            copied = re.findall(r"sluice/pickup\[%d\]: (\w+): uid=0 from=" % old,
                                instance.log())
            if len(copied) != 1:
                pytest.fail("the kill did not land after the commit: %r" % copied)
            pickup_pid(instance, not_this=old)
            instance.wait_for(lambda: s.received(), 20, "a delivery")
            instance.wait_empty()
        except AssertionError as e:
            pytest.fail("precondition: %s" % e)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    time.sleep(2)                       # the second copy, if any, arrives by now
    assert s.rcpts() == ["once@a.test"], "delivered %d times" % len(s.rcpts())
