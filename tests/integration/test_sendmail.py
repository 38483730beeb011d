"""Submission end to end: `sluice sendmail` (as root and, through the set-gid
postdrop, as an ordinary user) into maildrop/, pickup and cleanup into the
queue, delivery by the smtp agent to SMTP sinks and by the local agent to
Maildirs, `-bv` probes, and `sendmail -q` / `sluice flush` for deferred mail.

What a submission carries is checked in two places: in the maildrop file
itself while the system is stopped (recipients with build/tests/qfmake -s,
envelope records with qf_records() below, which reads the record format of
docs/QUEUE.md), and in what the peer receives once the system runs.
aiosmtpd answers 555 to DSN parameters, so the DSN checks use DsnPeer, a
small SMTP server below that offers DSN and records MAIL and RCPT verbatim.
"""
import email
import email.utils
import grp
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, QFMAKE, SLUICE, user_programs
from test_qmgr_smtp import routes

IS_ROOT = os.geteuid() == 0

# DSN bits and RET values as stored in queue files (src/global/dsn.h).
NOTIFY_NEVER, NOTIFY_SUCCESS, NOTIFY_FAILURE, NOTIFY_DELAY = 1, 2, 4, 8
RET_FULL, RET_HDRS = 1, 2
QF_FLAG_VERIFY = 2


# ---- reading queue files ----

def qf_records(path):
    """(type, data) for every record of a queue file: a type byte, a length
    of 7-bit groups low-order first (high bit: more follow), the data."""
    with open(path, "rb") as f:
        raw = f.read()
    out, i = [], 0
    while i < len(raw):
        rtype = chr(raw[i])
        i += 1
        length, shift = 0, 0
        while True:
            b = raw[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        out.append((rtype, raw[i:i + length]))
        i += length
    assert i == len(raw), "record overruns the file"
    return out


def qf_summary(path):
    """The parts of a queue file the tests look at."""
    recs = qf_records(path)
    assert recs[0][0] == "C" and recs[-1] == ("E", b"")
    info = {"flags": int(recs[0][1].split()[5]), "envid": None, "ret": None,
            "attrs": [], "content": b"", "rcpts": []}
    notify = None
    for rtype, data in recs[1:]:
        if rtype == "S":
            info["sender"] = data.decode()
        elif rtype == "i":
            info["envid"] = data.decode()
        elif rtype == "<":
            info["ret"] = int(data)
        elif rtype == "A":
            info["attrs"].append(data.decode())
        elif rtype == "B":
            info["content"] += data
        elif rtype == "n":
            notify = int(data)
        elif rtype in "RD":
            info["rcpts"].append({"address": data.decode(), "notify": notify,
                                  "done": rtype == "D"})
            notify = None
    return info


def maildrop_entries(instance):
    """Every name in maildrop/, temporary files included."""
    d = os.path.join(instance.spool, "maildrop")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def only_maildrop_file(instance):
    [qid] = instance.queue_ids("maildrop")
    return qid, os.path.join(instance.spool, "maildrop", qid)


def qfmake_rcpts(instance, queue, qid):
    """qfmake -s: [(done|todo, address)] in file order."""
    p = subprocess.run([QFMAKE, "-s", instance.spool, queue, qid], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    return [tuple(line.split(" ", 1)) for line in p.stdout.decode().splitlines()]


def body_of(content):
    """The body of a message as the sink got it (CRLF) or as stored (LF)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in content:
            return content.split(sep, 1)[1]
    return b""


def assert_nothing_queued(instance):
    assert maildrop_entries(instance) == []
    counts = instance.queue_counts()
    assert all(n == 0 for n in counts.values()), counts


# ---- an SMTP peer that offers DSN ----

class DsnPeer:
    """SMTP server on 127.0.0.1 offering DSN; records each transaction's MAIL
    and RCPT command lines as they came over the wire, and the message."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.transactions = []
        self.lock = threading.Lock()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        conn.settimeout(30)
        f = conn.makefile("rb")

        def reply(text):
            conn.sendall(text.encode() + b"\r\n")

        t = None
        try:
            reply("220 dsn.test ESMTP")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode("ascii", "replace")
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    reply("250-dsn.test\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES")
                elif verb == "HELO":
                    reply("250 dsn.test")
                elif verb == "MAIL":
                    t = {"mail": cmd, "rcpts": [], "data": None}
                    reply("250 2.1.0 Ok")
                elif verb == "RCPT":
                    t["rcpts"].append(cmd)
                    reply("250 2.1.5 Ok")
                elif verb == "DATA":
                    reply("354 End data with <CR><LF>.<CR><LF>")
                    data = b""
                    while True:
                        dl = f.readline()
                        if dl in (b".\r\n", b""):
                            break
                        data += dl[1:] if dl.startswith(b".") else dl
                    t["data"] = data
                    with self.lock:
                        self.transactions.append(t)
                    t = None
                    reply("250 2.0.0 Ok: queued")
                elif verb in ("RSET", "NOOP"):
                    t = None
                    reply("250 2.0.0 Ok")
                elif verb == "QUIT":
                    reply("221 2.0.0 Bye")
                    return
                else:
                    reply("502 5.5.2 Error: command not recognized")
        except OSError:
            pass
        finally:
            conn.close()

    def received(self):
        with self.lock:
            return list(self.transactions)

    def stop(self):
        self.stopping = True
        self.listener.close()


@pytest.fixture
def dsn_peer():
    peers = []

    def make():
        p = DsnPeer()
        peers.append(p)
        return p
    yield make
    for p in peers:
        p.stop()


# ---- 1. submitted while stopped, delivered after start ----

@pytest.mark.parametrize("history", ["never started", "started and stopped"])
def test_submission_while_stopped_is_delivered_after_start(instance, sink, history):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    if history == "started and stopped":
        instance.start()
        instance.stop()
    body = "Subject: while stopped\n\nfirst line\nsecond line\n"
    p = instance.sendmail(["x@a.test", "me@localhost"], body=body, sender="snd@example.test")
    # Exit 0 says nothing, and the message is durably in maildrop/ already.
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    qid, path = only_maildrop_file(instance)
    assert qfmake_rcpts(instance, "maildrop", qid) == [("todo", "x@a.test"),
                                                        ("todo", "me@localhost")]
    assert qf_summary(path)["sender"] == "snd@example.test"
    assert instance.queue_counts()["incoming"] == 0

    instance.start()
    instance.wait_empty()
    instance.wait_log(r": removed")
    log = instance.log()
    new_id = re.search(r"sluice/pickup\[\d+\]: (\w+): uid=0 from=<snd@example\.test>",
                       log).group(1)
    msgid = re.search(r"%s: message-id=(<[^>]+>)" % new_id, log).group(1)
    assert re.search(r"%s: to=<x@a\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d,.*"
                     r"status=sent" % (new_id, s.port), log)
    assert re.search(r"%s: to=<me@localhost>, relay=local,.*status=sent" % new_id, log)
    assert "%s: removed" % new_id in log
    assert maildrop_entries(instance) == []

    # The SMTP copy.
    [(mail_from, rcpts, content)] = s.received()
    assert (mail_from, rcpts) == ("snd@example.test", ["x@a.test"])
    assert body_of(content) == b"first line\r\nsecond line\r\n"

    # The Maildir copy under local_mailbox_base, with the headers cleanup added.
    [m] = instance.maildir_messages("me")
    assert m["Subject"] == "while stopped"
    # From: the envelope sender, with the user's full name (GECOS) when known.
    assert email.utils.parseaddr(m["From"])[1] == "snd@example.test"
    assert m["Message-ID"] == msgid
    assert email.utils.parsedate_to_datetime(m["Date"]).timestamp() == pytest.approx(
        time.time(), abs=120)
    received = m.get_all("Received")
    assert len(received) == 1
    assert re.match(r"by sluice\.test \(sluice, from userid 0\);", received[0])
    assert m.get_payload() == "first line\nsecond line\n"
    # Both copies came from one queue file: the same Message-ID.
    assert email.message_from_bytes(content)["Message-ID"] == msgid


# ---- 2. sendmail's options ----

def test_t_takes_recipients_from_to_cc_bcc_and_removes_bcc(instance, sink):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port, "b.test": s.port}))
    body = ("From: Alice <alice@example.test>\n"
            "To: Bob <bob@a.test>,\n c@a.test\n"
            "Cc: d@b.test\n"
            "Bcc: hidden@b.test\n"
            "Subject: extract\n"
            "\n"
            "Bcc: this is body text, not a header\n")
    # -t plus a command-line recipient (added) and one also in To: (once).
    instance.sendmail(["extra@a.test", "c@a.test"], body=body, sender="alice@example.test",
                      args=["-t"])
    qid, path = only_maildrop_file(instance)
    assert sorted(a for _, a in qfmake_rcpts(instance, "maildrop", qid)) == [
        "bob@a.test", "c@a.test", "d@b.test", "extra@a.test", "hidden@b.test"]
    stored = qf_summary(path)["content"]
    assert b"hidden" not in stored.split(b"\n\n")[0]
    assert b"Bcc: this is body text" in stored

    instance.start()
    instance.wait_for(lambda: len(s.rcpts()) == 5, 20, "five recipients at the sink")
    instance.wait_empty()
    assert s.rcpts() == ["bob@a.test", "c@a.test", "d@b.test", "extra@a.test",
                         "hidden@b.test"]
    for _, _, content in s.received():
        m = email.message_from_bytes(content)
        assert m["Bcc"] is None
        assert "hidden" not in content.split(b"\r\n\r\n")[0].decode()
        assert m["To"].split() == ["Bob", "<bob@a.test>,", "c@a.test"]
        assert m["Cc"] == "d@b.test"
        assert b"Bcc: this is body text" in body_of(content)


def test_t_without_recipient_headers_is_refused(instance):
    p = instance.sendmail([], body="Subject: nobody\n\nhi\n", args=["-t"], check=False)
    assert p.returncode == 64
    assert b"No recipient addresses found in message header" in p.stderr
    assert_nothing_queued(instance)


@pytest.mark.parametrize("given,envelope,from_header", [
    ("jane@example.test", "jane@example.test", ("Jane Q. Doe", "jane@example.test")),
    ("jane", "jane@sluice.test", ("Jane Q. Doe", "jane@sluice.test")),
    ("<>", "", ("", "MAILER-DAEMON@sluice.test")),
])
def test_f_and_F_set_envelope_sender_and_added_from(instance, sink, given, envelope,
                                                    from_header):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    p = instance.sendmail(["r@a.test"], body="Subject: names\n\nhi\n", sender=given,
                          args=["-F", "Jane Q. Doe"])
    assert (p.stdout, p.stderr) == (b"", b"")
    instance.wait_for(lambda: s.received(), 20, "the message at the sink")
    [(mail_from, rcpts, content)] = s.received()
    assert mail_from == (envelope or "<>")         # aiosmtpd's null sender
    assert rcpts == ["r@a.test"]
    m = email.message_from_bytes(content)
    assert email.utils.parseaddr(m["From"]) == from_header
    instance.wait_log(r"uid=0 from=<%s>" % re.escape(envelope))


def test_F_does_not_replace_an_existing_from(instance, sink):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    instance.sendmail(["r@a.test"], body="From: Real <real@example.test>\nSubject: x\n\nhi\n",
                      sender="jane@example.test", args=["-F", "Jane Q. Doe"])
    instance.wait_for(lambda: s.received(), 20, "the message at the sink")
    [(mail_from, _, content)] = s.received()
    m = email.message_from_bytes(content)
    assert mail_from == "jane@example.test"
    assert m.get_all("From") == ["Real <real@example.test>"]


def test_N_R_V_reach_the_queue_file_and_the_smtp_transaction(instance, dsn_peer):
    peer = dsn_peer()
    instance.write_config(transport_maps=routes({"dsn.test": peer.port}))
    instance.sendmail(["one@dsn.test", "two@dsn.test"], sender="s1@example.test",
                      args=["-N", "delay,failure", "-R", "hdrs", "-V", "env-1.A"])
    instance.sendmail(["three@dsn.test"], sender="s2@example.test",
                      args=["-N", "never", "-R", "full", "-V", "x+y=z"])
    instance.sendmail(["four@dsn.test"], sender="s3@example.test")

    # In the maildrop files (system stopped).
    files = {}
    for qid in instance.queue_ids("maildrop"):
        info = qf_summary(os.path.join(instance.spool, "maildrop", qid))
        files[info["sender"]] = info
    assert sorted(files) == ["s1@example.test", "s2@example.test", "s3@example.test"]
    f1, f2, f3 = (files["s%d@example.test" % i] for i in (1, 2, 3))
    assert (f1["envid"], f1["ret"]) == ("env-1.A", RET_HDRS)
    assert [(r["address"], r["notify"]) for r in f1["rcpts"]] == [
        ("one@dsn.test", NOTIFY_DELAY | NOTIFY_FAILURE),
        ("two@dsn.test", NOTIFY_DELAY | NOTIFY_FAILURE)]
    assert (f2["envid"], f2["ret"]) == ("x+y=z", RET_FULL)
    assert [(r["address"], r["notify"]) for r in f2["rcpts"]] == [
        ("three@dsn.test", NOTIFY_NEVER)]
    assert (f3["envid"], f3["ret"]) == (None, None)
    assert [(r["address"], r["notify"]) for r in f3["rcpts"]] == [("four@dsn.test", None)]

    # Through pickup, cleanup and qmgr to a server that offers DSN.
    instance.start()
    instance.wait_for(lambda: len(peer.received()) == 3, 30, "three transactions")
    instance.wait_empty()
    by_sender = {re.match(r"MAIL FROM:<([^>]*)>", t["mail"]).group(1): t
                 for t in peer.received()}

    def params(cmd):
        return sorted(cmd.split()[2:])

    t1 = by_sender["s1@example.test"]
    assert params(t1["mail"]) == ["ENVID=env-1.A", "RET=HDRS"]
    assert [c.split()[1] for c in t1["rcpts"]] == ["TO:<one@dsn.test>", "TO:<two@dsn.test>"]
    for c in t1["rcpts"]:
        [notify] = [p for p in params(c) if p.startswith("NOTIFY=")]
        assert sorted(notify[len("NOTIFY="):].split(",")) == ["DELAY", "FAILURE"]
    t2 = by_sender["s2@example.test"]
    assert params(t2["mail"]) == ["ENVID=x+2By+3Dz", "RET=FULL"]      # xtext
    assert [p for p in params(t2["rcpts"][0]) if p.startswith("NOTIFY=")] == ["NOTIFY=NEVER"]
    t3 = by_sender["s3@example.test"]
    assert params(t3["mail"]) == []
    assert [p for p in params(t3["rcpts"][0]) if p.startswith("NOTIFY=")] == []


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_bare_lf_and_crlf_input(instance, sink, eol):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))

    def text(*lines):
        return eol.join(lines)

    # Without -i a line with only "." ends the input; dots elsewhere are text.
    instance.sendmail(["dot@a.test", "dot@localhost"], body=text(
        "Subject: dot", "X-Folded: one", "\ttwo", "", "line 1", ".leading dot", "..", "end",
        ".", "not part of the message", ""))
    # With -i it is text; a last line without a line end gets one.
    instance.sendmail(["keep@a.test", "keep@localhost"], args=["-i"], body=text(
        "Subject: keep", "", "before", ".", "after", "no line end"))
    instance.start()
    instance.wait_for(lambda: len(s.received()) == 2, 20, "two messages at the sink")
    instance.wait_empty()
    got = {r[0]: c for _, r, c in s.received()}
    assert body_of(got["dot@a.test"]) == b"line 1\r\n.leading dot\r\n..\r\nend\r\n"
    assert body_of(got["keep@a.test"]) == b"before\r\n.\r\nafter\r\nno line end\r\n"
    assert b"X-Folded: one\r\n\ttwo\r\n" in got["dot@a.test"]
    for content in got.values():
        # No stray CR: every CR the sink sees is part of a CRLF line end.
        assert content.count(b"\r") == content.count(b"\r\n")
    # The Maildir copies are stored with LF line ends only.
    [dot] = instance.maildir_messages("dot")
    [keep] = instance.maildir_messages("keep")
    assert dot.get_payload() == "line 1\n.leading dot\n..\nend\n"
    assert keep.get_payload() == "before\n.\nafter\nno line end\n"
    assert dot["X-Folded"] == "one\n\ttwo"


def test_message_size_limit(instance, sink):
    s = sink()
    limit = 4000
    instance.write_config(transport_maps=routes({"a.test": s.port}),
                          message_size_limit=str(limit))

    def message(size, subject):
        head = "Subject: %s\n\n" % subject
        filler = size - len(head)
        lines = ("x" * 63 + "\n") * (filler // 64)
        rest = filler - len(lines)
        text = head + lines + ("y" * (rest - 1) + "\n" if rest else "")
        assert len(text.encode()) == size
        return text

    # One byte too many: refused at once, clearly, nothing left anywhere.
    p = instance.sendmail(["big@a.test"], body=message(limit + 1, "big"), check=False)
    assert p.returncode != 0
    assert b"message size exceeds message_size_limit" in p.stderr
    assert p.stdout == b""
    assert_nothing_queued(instance)
    # Exactly the limit: accepted, and pickup's cleanup accepts it too.
    p = instance.sendmail(["fits@a.test"], body=message(limit, "fits"))
    assert p.returncode == 0
    instance.start()
    instance.wait_for(lambda: s.received(), 20, "the message that fits")
    instance.wait_empty()
    assert s.rcpts() == ["fits@a.test"]
    assert len(body_of(s.received()[0][2]).replace(b"\r\n", b"\n")) == limit - len(
        "Subject: fits\n\n")
    assert instance.count_log(r"uid=0 from=") == 1
    assert "big@a.test" not in instance.log()
    assert instance.queue_counts()["corrupt"] == 0


@pytest.mark.parametrize("args,rcpts,what", [
    ([], [], b"Recipient addresses must be specified"),
    (["-Z"], ["r@a.test"], b"unknown option -Z"),
    (["-N", "sometimes"], ["r@a.test"], b"-N"),
    (["-R", "most"], ["r@a.test"], b"-R"),
])
def test_usage_errors_exit_64_and_queue_nothing(instance, args, rcpts, what):
    p = instance.sendmail(rcpts, args=args, check=False)
    assert p.returncode == 64
    assert what in p.stderr
    assert p.stdout == b""
    assert_nothing_queued(instance)


def test_usage_errors_with_the_system_running(instance, sink):
    """The same refusals while pickup runs: nothing gets delivered, and a
    good message sent afterwards (the synchronisation point) is alone."""
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    assert instance.sendmail([], check=False).returncode == 64
    assert instance.sendmail(["bad@a.test"], args=["-Z"], check=False).returncode == 64
    assert instance.sendmail([], args=["-t"], body="Subject: x\n\n", check=False
                             ).returncode == 64
    instance.sendmail(["good@a.test"])
    instance.wait_for(lambda: s.received(), 20, "the good message")
    instance.wait_empty()
    assert s.rcpts() == ["good@a.test"]
    assert instance.count_log(r"uid=0 from=") == 1


# ---- 3. ordinary users: the set-gid postdrop ----

@pytest.fixture
def setgid_postdrop():
    """(sluice, postdrop) for ordinary users, postdrop set-gid sluicedrop as
    scripts/setup installs it, in a place the nobody account can reach."""
    return user_programs()


def as_nobody(argv, input=b"", default_config=None, scratch=None):
    """Run argv as nobody:nogroup with no supplementary groups.

    With default_config, in a private mount namespace where /etc/sluice
    (the one configuration directory postdrop lets ordinary users name) is
    that directory: /etc gets a throw-away overlay on a tmpfs so the mount
    point can exist; nothing outside the namespace changes."""
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_CONFIG_DIR"}
    switch = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    if default_config is None:
        cmd = switch + argv
    else:
        script = ('set -e; mount -t tmpfs tmpfs "$1"; mkdir "$1/up" "$1/work"; '
                  'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work"'
                  ' /etc; mkdir -p /etc/sluice; mount --bind "$2" /etc/sluice; shift 2; '
                  'exec "$@"')
        os.makedirs(scratch, exist_ok=True)
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
               scratch, default_config] + switch + argv
    return subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60, env=env)


@pytest.mark.parametrize("system", ["running", "stopped"])
def test_ordinary_user_submits_through_setgid_postdrop(instance, sink, setgid_postdrop,
                                                       system):
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()                    # master gives maildrop/ its group and mode
    md = os.stat(os.path.join(instance.spool, "maildrop"))
    assert md.st_gid == grp.getgrnam("sluicedrop").gr_gid and md.st_mode & 0o7777 == 0o1730
    if system == "stopped":
        instance.stop()
    user_sluice, _ = setgid_postdrop
    p = as_nobody([user_sluice, "sendmail", "u@a.test", "u@localhost"],
                  input=b"Subject: from nobody\n\nhello\n",
                  default_config=instance.conf, scratch=os.path.join(instance.base, "ns"))
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    if system == "stopped":
        # postdrop wrote the file as the user; it waits for pickup.
        [qid] = instance.queue_ids("maildrop")
        st = os.stat(os.path.join(instance.spool, "maildrop", qid))
        assert (st.st_uid, st.st_mode & 0o7777) == (65534, 0o744)
        instance.start()
    instance.wait_for(lambda: s.received() and instance.maildir_messages("u"), 20,
                      "delivery of nobody's message")
    instance.wait_empty()
    # The file in maildrop/ was nobody's: pickup says so, the sender is nobody.
    instance.wait_log(r"sluice/pickup\[\d+\]: \w+: uid=65534 from=<nobody@sluice\.test>")
    [(mail_from, rcpts, content)] = s.received()
    assert (mail_from, rcpts) == ("nobody@sluice.test", ["u@a.test"])
    [m] = instance.maildir_messages("u")
    assert m["Subject"] == "from nobody"
    assert "from userid 65534" in m["Received"]


@pytest.mark.parametrize("how", ["-c", "SLUICE_CONFIG_DIR"])
def test_ordinary_user_cannot_name_another_config_dir(instance, setgid_postdrop, how):
    user_sluice, _ = setgid_postdrop
    instance.start()
    if how == "-c":
        argv = [user_sluice, "-c", instance.conf, "sendmail", "u@a.test"]
    else:
        argv = ["env", "SLUICE_CONFIG_DIR=" + instance.conf, user_sluice, "sendmail",
                "u@a.test"]
    p = as_nobody(argv, input=b"Subject: x\n\nhello\n")
    assert p.returncode == 77, p.stderr
    assert re.match(rb"postdrop: fatal: \S+: only the default configuration directory "
                    rb"/etc/sluice may be used by users other than root", p.stderr), p.stderr
    assert_nothing_queued(instance)
    assert instance.count_log(r"from=") == 0


# ---- 6. -bv: verify without delivering ----

def test_bv_queues_a_verify_probe(instance):
    p = instance.sendmail(["v@a.test", "me@localhost"], sender="asker@localhost",
                          args=["-bv"], body="")
    assert p.returncode == 0
    assert p.stdout == b"Mail Delivery Status Report will be mailed to <asker@localhost>.\n"
    qid, path = only_maildrop_file(instance)
    info = qf_summary(path)
    assert info["flags"] & QF_FLAG_VERIFY
    assert info["sender"] == "asker@localhost"
    assert qfmake_rcpts(instance, "maildrop", qid) == [("todo", "v@a.test"),
                                                        ("todo", "me@localhost")]
    m = email.message_from_bytes(info["content"])
    assert m["Subject"] == "probe"


def test_bv_with_t_is_refused(instance):
    p = instance.sendmail([], args=["-bv", "-t"], body="To: a@a.test\n\n", check=False)
    assert p.returncode == 64
    assert_nothing_queued(instance)


NO_BOUNCE = pytest.mark.skipif(
    not os.path.exists(os.path.join(BUILD, "bounce")),
    reason="the bounce service (src/bounce, build/bounce) is not built; it sends -bv reports")


def bv_report(instance, sink, rcpts, timeout=30):
    """Submit sendmail -bv RCPTS from asker@localhost; the report it gets."""
    s = sink()
    instance.write_config(transport_maps=routes({"a.test": s.port}))
    instance.start()
    instance.sendmail(rcpts, sender="asker@localhost", args=["-bv"], body="")
    instance.wait_for(lambda: instance.maildir_messages("asker"), timeout, "the report")
    instance.wait_empty()
    [report] = instance.maildir_messages("asker")
    assert "MAILER-DAEMON" in report["From"]
    assert report.get_content_type() == "multipart/report"
    text = report.as_string()
    for rcpt in rcpts:
        assert re.search(r"Final-Recipient: rfc822; ?%s\s*\n(.+\n)*?Action: deliverable"
                         % re.escape(rcpt), text), text
    # Verified, not delivered: no DATA at the sink.
    assert s.received() == []
    return s


@NO_BOUNCE
def test_bv_reports_without_delivering(instance, sink):
    s = bv_report(instance, sink, ["v@a.test", "w@a.test"])
    assert s.sessions >= 1              # the answer came from the server itself


@NO_BOUNCE
def test_bv_reports_for_a_local_recipient(instance, sink):
    bv_report(instance, sink, ["me@localhost"], timeout=10)
    assert instance.maildir_messages("me") == []


# ---- 7. deferred mail goes on sendmail -q / sluice flush ----

@pytest.mark.parametrize("command", [["sendmail", "-q"], ["flush"]],
                         ids=["sendmail -q", "flush"])
def test_flush_delivers_deferred_mail(instance, sink, command):
    accepting = threading.Event()
    s = sink(rcpt_reply=lambda addr: None if accepting.is_set() else "451 4.3.0 Try later")
    # Timers long enough that nothing retries by itself during the test.
    instance.write_config(transport_maps=routes({"a.test": s.port}), queue_run_delay="300s",
                          minimal_backoff_time="300s", maximal_backoff_time="600s")
    instance.start()
    instance.sendmail(["late@a.test"])
    instance.wait_log(r"to=<late@a\.test>.*status=deferred \(host 127\.0\.0\.1.*451 4\.3\.0")
    instance.wait_for(lambda: instance.queue_counts()["deferred"] == 1, 10, "a deferred file")
    accepting.set()
    time.sleep(3)
    assert s.received() == [], "retried without a flush"
    assert instance.queue_counts()["deferred"] == 1
    p = instance.sluice(*command)
    assert (p.stdout, p.stderr) == (b"", b"")
    instance.wait_for(lambda: s.rcpts() == ["late@a.test"], 15, "delivery after the flush")
    instance.wait_empty()
    instance.wait_log(r"to=<late@a\.test>.*status=sent")


@pytest.mark.parametrize("command", [["sendmail", "-q"], ["flush"]],
                         ids=["sendmail -q", "flush"])
@pytest.mark.parametrize("history", ["never started", "started and stopped"])
def test_flush_with_the_system_down_says_so(instance, command, history):
    if history == "started and stopped":
        instance.start()
        instance.stop()
    p = instance.sluice(*command, check=False)
    assert p.returncode == 75
    assert p.stderr.startswith(b"sluice: %s: Cannot flush mail queue" % command[0].encode())
