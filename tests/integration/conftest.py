"""Shared fixtures for sluice's end-to-end tests.

Everything runs for real: build/sluice starts master, which starts qmgr,
pickup, bounce and the delivery agents; SMTP peers are aiosmtpd servers (or
Postfix's smtp-sink) on 127.0.0.1.  Each test gets its own configuration
directory, queue directory and maillog under a temporary folder.
"""
import asyncio
import email
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

BUILD = os.environ.get("SLUICE_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SLUICE = os.path.abspath(os.path.join(BUILD, "sluice"))
QFMAKE = os.path.abspath(os.path.join(BUILD, "tests", "qfmake"))

# Parameters every test instance starts from; tests add or override.
BASE_MAIN_CF = """\
queue_directory = {base}/spool
maillog_file = {base}/maillog
myhostname = sluice.test
mydomain = test
mydestination = localhost, $myhostname
local_mailbox_base = {base}/mail
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 8s
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
delay_warning_time = 0h
"""


def nobody_can_reach(path, test="-x"):
    """The nobody account can reach path (every folder above it searchable)."""
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "test", test, path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return r.returncode == 0


_user_bin = None


def user_programs():
    """(sluice, postdrop) that an ordinary user can run, postdrop set-gid
    sluicedrop as scripts/setup installs it.  The build tree's own when the
    nobody account can reach it; otherwise (a checkout inside a mode-0700
    folder) copies in a folder of their own under /tmp, made once per run.
    A test that switches users must run these, not the build tree's."""
    global _user_bin
    import atexit
    import grp
    if os.geteuid() != 0:
        pytest.skip("needs root to make postdrop set-gid and to switch users")
    if _user_bin is None:
        if nobody_can_reach(SLUICE):
            _user_bin = os.path.dirname(SLUICE)
        else:
            _user_bin = tempfile.mkdtemp(prefix="sluice-userbin-", dir="/tmp")
            os.chmod(_user_bin, 0o755)
            for prog in ("sluice", "postdrop"):
                shutil.copy2(os.path.join(BUILD, prog), os.path.join(_user_bin, prog))
            atexit.register(shutil.rmtree, _user_bin, True)
        postdrop = os.path.join(_user_bin, "postdrop")
        os.chown(postdrop, 0, grp.getgrnam("sluicedrop").gr_gid)   # clears set-gid
        os.chmod(postdrop, 0o2755)
    sluice = os.path.join(_user_bin, "sluice")
    if not nobody_can_reach(sluice):
        pytest.skip("the nobody account cannot reach %s" % sluice)
    return sluice, os.path.join(_user_bin, "postdrop")


def names_follow_fsync(path):
    """Is path on ext4, XFS or btrfs, whose fsync of a file also commits its
    names (statfs f_type)?  sluice commits queue files there with one fsync
    after the rename (queue_folder_fsync = no, docs/QUEUE.md)."""
    out = subprocess.run(["stat", "-f", "-c", "%t", path], stdout=subprocess.PIPE,
                         check=True, text=True).stdout.strip()
    return int(out, 16) in (0xEF53, 0x58465342, 0x9123683E)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def made_and_stopped(make, stop="stop"):
    """The body of a factory fixture: `yield from made_and_stopped(Peer)`
    gives the test a function that calls make(...) and remembers what it
    returns; after the test each of those is stopped (its method stop)."""
    made = []

    def factory(*args, **kw):
        x = make(*args, **kw)
        made.append(x)
        return x
    yield factory
    for x in made:
        getattr(x, stop)()


class Recording:
    """What the recording test servers share: what they got, appended under
    a lock (record) and read as a copy (received); stop() stops
    self.controller (an aiosmtpd controller)."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    def record(self, item):
        with self.lock:
            self.messages.append(item)

    def received(self):
        with self.lock:
            return list(self.messages)

    def stop(self):
        self.controller.stop()


class Instance:
    """One sluice system under test."""

    def __init__(self, base):
        self.base = base
        self.conf = os.path.join(base, "conf")
        self.spool = os.path.join(base, "spool")
        self.maillog = os.path.join(base, "maillog")
        self.maildir = os.path.join(base, "mail")
        os.makedirs(self.conf)
        os.makedirs(self.maildir)
        os.chmod(self.maildir, 0o1777)
        self.params = {}
        # The built-in master.cf has an smtpd on 127.0.0.1:2525; tests run
        # in parallel, so each instance gets that service on a port of its own.
        self.smtpd_port = free_port()
        self.master_cf = None
        self.running = False
        self.write_config()
        self.master_cf = self.sluice("config", "-M").stdout.decode().replace(
            "127.0.0.1:2525 ", "127.0.0.1:%d " % self.smtpd_port)
        self.write_config()

    # ---- configuration ----
    def write_config(self, **params):
        self.params.update(params)
        text = BASE_MAIN_CF.format(base=self.base)
        for k, v in self.params.items():
            text += "%s = %s\n" % (k, v)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(text)
        if self.master_cf is not None:
            with open(os.path.join(self.conf, "master.cf"), "w") as f:
                f.write(self.master_cf)

    def set_master_cf(self, text):
        self.master_cf = text
        self.write_config()

    # ---- commands ----
    def sluice(self, *args, input=None, check=True, timeout=60, env=None):
        e = dict(os.environ)
        e.pop("SLUICE_CONFIG_DIR", None)
        if env:
            e.update(env)
        if isinstance(input, str):
            input = input.encode()
        p = subprocess.run([SLUICE, "-c", self.conf] + list(args), input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=e)
        if check and p.returncode != 0:
            raise AssertionError("sluice %s failed (%d): %s %s" % (
                " ".join(args), p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace")))
        return p

    def start(self):
        self.sluice("start")
        self.running = True
        # qmgr creates its control socket once it runs.
        self.wait_for(lambda: os.path.exists(
            os.path.join(self.spool, "private", "qmgr-control")), 20,
            "qmgr did not start")

    def stop(self):
        if self.running:
            self.sluice("stop", check=False)
            self.running = False

    def reload(self):
        self.sluice("reload")

    def sendmail(self, rcpts, body=None, sender="sender@example.test", args=(),
                 subject="test", check=True):
        if body is None:
            body = "Subject: %s\nFrom: %s\n\nhello\n" % (subject, sender)
        argv = ["sendmail"]
        if sender is not None:
            argv += ["-f", sender]
        argv += list(args) + ["--"] + list(rcpts)
        return self.sluice(*argv, input=body, check=check)

    def inject(self, rcpts, sender="sender@example.test", body="Subject: t\n\nhello\n",
               queue="incoming", kick=True):
        """Put a queue file into a queue folder the way cleanup would, without
        pickup (qfmake): made in a staging folder, given to mail_owner, then
        renamed into place, so the queue manager never sees it half-made.
        Returns its queue ID."""
        stage = os.path.join(self.base, "stage")
        os.makedirs(os.path.join(stage, queue), exist_ok=True)
        p = subprocess.run([QFMAKE, "-q", queue, "-f", sender, "--", stage] + list(rcpts),
                           input=body.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=True)
        qid = p.stdout.decode().strip()
        src = None
        for root, dirs, files in os.walk(os.path.join(stage, queue)):
            if qid in files:
                src = os.path.join(root, qid)
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("sluice")
            os.chown(src, pw.pw_uid, pw.pw_gid)
        # Same relative (hashed) path as qfmake chose.
        dst = os.path.join(self.spool, queue,
                           os.path.relpath(src, os.path.join(stage, queue)))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.rename(src, dst)
        if kick and self.running:
            self.kick("I")
        return qid

    def kick(self, chars):
        """Write trigger bytes to public/qmgr (what `sluice kick` does)."""
        fd = os.open(os.path.join(self.spool, "public", "qmgr"), os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, chars.encode() if isinstance(chars, str) else chars)
        finally:
            os.close(fd)

    def flush(self):
        self.kick("FADI")

    # ---- observation ----
    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for(self, cond, timeout=30, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s\n--- maillog ---\n%s" % (
            what, self.log()[-6000:]))

    def wait_log(self, pattern, count=1, timeout=30):
        rx = re.compile(pattern)
        return self.wait_for(lambda: len(rx.findall(self.log())) >= count
                             and rx.findall(self.log()), timeout,
                             "%d x /%s/ in the maillog" % (count, pattern))

    def count_log(self, pattern):
        return len(re.findall(pattern, self.log()))

    def queue_ids(self, queue):
        top = os.path.join(self.spool, queue)
        ids = []
        for dirpath, dirnames, filenames in os.walk(top):
            for n in filenames:
                if not n.startswith("tmp") and "." not in n:
                    ids.append(n)
        return sorted(ids)

    def queue_counts(self):
        return {q: len(self.queue_ids(q)) for q in
                ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")}

    def wait_empty(self, timeout=30):
        def empty():
            c = self.queue_counts()
            return all(c[q] == 0 for q in ("maildrop", "incoming", "active", "deferred"))
        self.wait_for(empty, timeout, "an empty queue")

    def maildir_messages(self, user):
        new = os.path.join(self.maildir, user, "new")
        if not os.path.isdir(new):
            return []
        out = []
        for n in sorted(os.listdir(new)):
            with open(os.path.join(new, n), "rb") as f:
                out.append(email.message_from_bytes(f.read()))
        return out


@pytest.fixture
def instance():
    base = tempfile.mkdtemp(prefix="sluice-test-")
    os.chmod(base, 0o755)
    inst = Instance(base)
    try:
        yield inst
    finally:
        inst.stop()
        if os.environ.get("SLUICE_KEEP_TEST_DIRS"):
            print("kept", base)
        else:
            shutil.rmtree(base, ignore_errors=True)


class Sink:
    """An aiosmtpd SMTP server on 127.0.0.1 that records what it gets.

    handler(envelope) may return an SMTP reply string to refuse; rcpt_handler
    (address) may return a reply for RCPT TO.
    """

    def __init__(self, port=None, data_reply=None, rcpt_reply=None, delay=0.0,
                 reply_delay=0.0):
        """delay: before the message is recorded; reply_delay: after it is
        recorded, before the 250 (the window where a sender knows nothing)."""
        from aiosmtpd.controller import Controller
        self.messages = []
        self.sessions = 0
        self.lock = threading.Lock()
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.delay = delay
        self.reply_delay = reply_delay
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                with sink.lock:
                    sink.sessions += 1
                session.host_name = hostname
                return responses

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if sink.rcpt_reply:
                    r = sink.rcpt_reply(address)
                    if r:
                        return r
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 Ok"

            async def handle_DATA(self, server, session, envelope):
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                if sink.data_reply:
                    r = sink.data_reply(envelope)
                    if r:
                        return r
                with sink.lock:
                    sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.content))
                if sink.reply_delay:
                    await asyncio.sleep(sink.reply_delay)
                return "250 2.0.0 Ok: queued"

        self.port = port or free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def received(self):
        with self.lock:
            return list(self.messages)

    def rcpts(self):
        return sorted(r for m in self.received() for r in m[1])

    def stop(self):
        self.controller.stop()


@pytest.fixture
def sink():
    sinks = []

    def make(**kw):
        s = Sink(**kw)
        sinks.append(s)
        return s
    yield make
    for s in sinks:
        s.stop()
