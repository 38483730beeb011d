"""sluice import-postfix: take over from a stopped Postfix.

A private Postfix instance (the installed package, its own configuration
and queue under the test's folder, loopback only, no listener at all) gets
mail into every queue: a half-delivered message (one recipient accepted,
one refused with 450) and a message to a dead relay in deferred/ with their
delay reasons, one of those put on hold, one message in incoming/ and one
in active/ (queued while no queue manager ran; one then moved to active/ as
a stopped queue manager leaves it), one in maildrop/ (submitted while
Postfix was stopped).  Postfix is stopped, sluice imports it, shows the
delay reasons and the held message in `sluice queue`, a second import adds
nothing, and sluice, started with the relay alive again, delivers every
pending recipient exactly once and leaves the held message on hold.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import Sink, free_port

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

pytestmark = pytest.mark.skipif(
    not os.path.exists(POSTFIX) or os.geteuid() != 0,
    reason="needs the postfix package and root")

SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp -o smtp_helo_timeout=20s -o smtpd_bogus=1
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
QMGR = "qmgr      unix  n       -       n       300     1       qmgr\n"


class Postfix:
    """A private Postfix instance under base."""

    def __init__(self, base, relay_port):
        self.base = base
        self.conf = os.path.join(base, "conf")
        self.spool = os.path.join(base, "spool")
        data = os.path.join(base, "data")
        for d in (self.conf, self.spool, data):
            os.makedirs(d)
        shutil.chown(data, "postfix")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("""\
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
myhostname = pf.test
mydomain = pf.test
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
relayhost = [127.0.0.1]:{port}
smtp_connect_timeout = 2s
minimal_backoff_time = 3600s
maximal_backoff_time = 4000s
queue_run_delay = 3600s
bogus_setting_xyz = 1
""".format(spool=self.spool, data=data, base=base, port=relay_port))
        self.master_cf(with_qmgr=True)
        self.postfix("check")

    def master_cf(self, with_qmgr):
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(SERVICES + (QMGR if with_qmgr else ""))

    def postfix(self, *args):
        p = subprocess.run([POSTFIX, "-c", self.conf] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        assert p.returncode == 0, "postfix %s: %s\n%s" % (
            " ".join(args), p.stdout.decode(errors="replace"), self.log()[-3000:])

    def log(self):
        try:
            with open(os.path.join(self.base, "maillog"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def master_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self):
        self.postfix("start")
        wait(lambda: self.master_pid(), "postfix master")
        # The master creates public/pickup and starts listening.
        wait(lambda: os.path.exists(os.path.join(self.spool, "public", "pickup")), "pickup")

    def stop(self):
        pid = self.master_pid()
        if pid is None:
            return
        self.postfix("stop")
        wait(lambda: not os.path.exists("/proc/%d" % pid), "postfix master to exit")

    def sendmail(self, rcpts, subject, sender="from@pf.test"):
        body = "Subject: %s\nFrom: %s\n\nbody of %s\n" % (subject, sender, subject)
        subprocess.run(["/usr/sbin/sendmail", "-C", self.conf, "-f", sender, "--"] + rcpts,
                       input=body.encode(), check=True, timeout=60)

    def files(self, queue):
        out = {}
        for root, dirs, names in os.walk(os.path.join(self.spool, queue)):
            for n in names:
                out[n] = os.path.join(root, n)
        return out

    def id_of(self, queue, subject):
        """The queue ID of the message with that subject in that folder."""
        for qid, path in self.files(queue).items():
            with open(path, "rb") as f:
                if ("Subject: %s" % subject).encode() in f.read():
                    return qid
        return None


def wait(cond, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def subjects(sink):
    """(subject, recipient) for every recipient of every message received."""
    out = []
    for mail_from, rcpts, content in sink.received():
        m = re.search(rb"^Subject: (\S+)", content, re.M)
        for r in rcpts:
            out.append((m.group(1).decode() if m else "?", r))
    return sorted(out)


def test_import_postfix_queue(instance, sink):
    port = free_port()
    relay = Sink(port=port, rcpt_reply=lambda a: "450 4.2.0 try later" if a.startswith(
        "later@") else None)
    relay_up = True
    pf = Postfix(os.path.join(instance.base, "pf"), port)
    try:
        pf.start()
        # Half delivered: ok1 accepted, later refused for now.
        pf.sendmail(["ok1@dest.test", "later@dest.test"], "half")
        wait(lambda: pf.id_of("deferred", "half"), "half in deferred")
        assert subjects(relay) == [("half", "ok1@dest.test")]
        relay.stop()
        relay_up = False
        # A dead relay: deferred with "Connection refused"; one of them held.
        pf.sendmail(["d1@dest.test"], "deferred")
        pf.sendmail(["h1@dest.test"], "held")
        wait(lambda: pf.id_of("deferred", "deferred") and pf.id_of("deferred", "held"),
             "deferred mail")
        held = pf.id_of("deferred", "held")
        wait(lambda: held in pf.files("defer"), "the held message's defer log")
        subprocess.run(["postsuper", "-c", pf.conf, "-h", held], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert held in pf.files("hold")

        # No queue manager: mail stays in incoming/.
        pf.stop()
        pf.master_cf(with_qmgr=False)
        pf.start()
        pf.sendmail(["i1@dest.test"], "incoming")
        pf.sendmail(["a1@dest.test", "a2@dest.test"], "active")
        wait(lambda: pf.id_of("incoming", "incoming") and pf.id_of("incoming", "active"),
             "incoming mail")
        pf.stop()
        # As a queue manager stopped in the middle of its work leaves it.
        act = pf.id_of("incoming", "active")
        os.makedirs(os.path.join(pf.spool, "active", act[0]), exist_ok=True)
        os.rename(pf.files("incoming")[act],
                  os.path.join(pf.spool, "active", act[0], act))
        # Stopped: sendmail leaves it in maildrop/.
        pf.sendmail(["m1@dest.test"], "maildrop")
        assert len(pf.files("maildrop")) == 1
    finally:
        pf.stop()
        if relay_up:
            relay.stop()
    before = {q: sorted(pf.files(q)) for q in ("maildrop", "incoming", "active", "deferred",
                                                 "hold", "defer")}
    assert [len(before[q]) for q in ("maildrop", "incoming", "active", "deferred", "hold")] \
        == [1, 1, 1, 2, 1]

    # Import into the stopped sluice.
    p = instance.sluice("import-postfix", "-c", pf.conf)
    out = p.stdout.decode()
    # smtpd's parameters exist now: mynetworks is taken over.
    assert not re.search(r"main\.cf:\d+: mynetworks: not supported", out)
    assert re.search(r"main\.cf:\d+: bogus_setting_xyz: not supported by sluice, "
                     r"not imported", out)
    assert re.search(r"main\.cf:\d+: queue_directory: install-specific", out)
    assert re.search(r"master\.cf:\d+: cleanup/unix: program \"cleanup\" not supported", out)
    assert re.search(r"master\.cf:\d+: smtp: -o smtpd_bogus: not supported", out)
    assert "queue: 6 messages imported, 0 skipped, 0 not imported" in out, out
    assert re.search(r"deferred/\w+: imported as \w+ into deferred/ \(1 recipient, "
                     r"1 done left out, 1 delay reason\)", out), out
    with open(os.path.join(instance.conf, "main.cf")) as f:
        main_cf = f.read()
    assert "relayhost = [127.0.0.1]:%d" % port in main_cf
    assert "queue_directory = %s" % instance.spool in main_cf
    with open(os.path.join(instance.conf, "master.cf")) as f:
        master_cf = f.read()
    assert re.search(r"^smtp\s+unix.*smtp -o smtp_helo_timeout=20s$", master_cf, re.M)
    # Postfix's files are untouched.
    assert before == {q: sorted(pf.files(q)) for q in before}

    c = instance.queue_counts()
    assert (c["maildrop"], c["incoming"], c["deferred"], c["hold"]) == (1, 2, 2, 1), c
    listing = instance.sluice("queue").stdout.decode()
    # Postfix's delay reasons, per recipient; done recipients are not listed.
    assert re.search(r"\(.*450 4\.2\.0 try later.*\)\s+later@dest\.test", listing, re.S), listing
    assert "ok1@dest.test" not in listing
    assert re.search(r"\(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: Connection refused\)"
                     r"\s+d1@dest\.test" % port, listing), listing
    assert re.search(r"!\s.*\n(.*\n)?\s+h1@dest\.test", listing), listing

    # Again: nothing new.
    p = instance.sluice("import-postfix", "-c", pf.conf, "-q")
    assert "queue: 0 messages imported, 6 skipped, 0 not imported" in p.stdout.decode()
    assert instance.queue_counts() == c

    # The relay is back; sluice delivers every pending recipient once.
    relay2 = sink(port=port)
    instance.start()
    instance.flush()
    want = sorted([("half", "later@dest.test"), ("deferred", "d1@dest.test"),
                   ("incoming", "i1@dest.test"), ("active", "a1@dest.test"),
                   ("active", "a2@dest.test"), ("maildrop", "m1@dest.test")])
    wait(lambda: len(subjects(relay2)) >= len(want), "the deliveries", timeout=90)
    instance.wait_empty()
    instance.flush()
    time.sleep(2)
    assert subjects(relay2) == want
    c = instance.queue_counts()
    assert c["hold"] == 1 and c["corrupt"] == 0, c
    listing = instance.sluice("queue").stdout.decode()
    assert "h1@dest.test" in listing
