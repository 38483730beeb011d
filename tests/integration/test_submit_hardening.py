"""The submission path under abuse (issue 16): sendmail, the set-gid
postdrop, pickup and the cleanup library.

  - envelope caps: a huge envelope is refused at submission with nothing
    queued, and a maildrop file over the cap goes to corrupt/ while later
    mail is delivered;
  - a non-root submission is durable before sendmail exits (the file's
    fsync after the rename, or syncfs with queue_folder_fsync = yes);
  - temporary files of killed postdrops are swept; postdrop times out;
  - a trigger flood on public/pickup does not stop pickup;
  - postdrop -c: only the default or a listed alternate configuration;
  - stray CR/LF never reach an SMTP peer (SMTP smuggling);
  - queue_minfree and in_flow_delay act.
"""
import fcntl
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import termios
import threading
import time

import pytest

from conftest import BUILD, QFMAKE, SLUICE, names_follow_fsync
from test_pickup import instance_pids
from test_qmgr_smtp import routes
from test_sendmail import setgid_postdrop  # noqa: F401 (fixture)

POSTDROP = os.path.abspath(os.path.join(BUILD, "postdrop"))
IS_ROOT = os.geteuid() == 0


# ---- helpers ----

def rec(kind, data=b""):
    """One record of the sendmail->postdrop stream (submission.h)."""
    return kind + struct.pack(">I", len(data)) + data


def stream_head(sender=b"s@example.test"):
    return rec(b"V", b"sluice-submission-1") + rec(b"S", sender) + rec(b"M")


def run_postdrop(instance, data, timeout=60):
    return subprocess.run([POSTDROP, "-c", instance.conf], input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def maildrop_names(instance):
    return sorted(os.listdir(os.path.join(instance.spool, "maildrop")))


def nothing_queued(instance):
    for q in ("maildrop", "incoming", "active", "deferred"):
        assert instance.queue_ids(q) == [], q
    assert [n for n in maildrop_names(instance) if n.startswith("tmp.")] == []


# ---- 1. envelope caps ----

def test_three_million_recipients_are_refused_by_postdrop(instance):
    os.makedirs(instance.spool + "/maildrop", exist_ok=True)
    one = rec(b"R", b"a@b.test")
    data = (stream_head() + rec(b"B", b"Subject: x\n\nhi\n") + rec(b"X")
            + one * 3_000_000 + rec(b"E"))
    t0 = time.time()
    p = run_postdrop(instance, data)
    took = time.time() - t0
    assert p.returncode == 65, p.stderr
    assert p.stderr == (b"postdrop: fatal: too many recipients "
                        b"(cleanup_recipient_limit is 100000)\n")
    assert took < 10, took
    nothing_queued(instance)


def test_recipient_bytes_cap_in_postdrop(instance):
    instance.write_config(cleanup_envelope_size_limit="100")
    os.makedirs(instance.spool + "/maildrop", exist_ok=True)
    data = (stream_head() + rec(b"B", b"Subject: x\n\nhi\n") + rec(b"X")
            + rec(b"R", b"a" * 60 + b"@b.test") + rec(b"R", b"c" * 60 + b"@b.test")
            + rec(b"E"))
    p = run_postdrop(instance, data)
    assert p.returncode == 65, p.stderr
    assert b"envelope size exceeds cleanup_envelope_size_limit" in p.stderr
    nothing_queued(instance)


@pytest.mark.parametrize("how", ["argv", "-t"])
def test_sendmail_refuses_too_many_recipients(instance, how):
    instance.write_config(cleanup_recipient_limit="3")
    rcpts = ["r%d@a.test" % i for i in range(4)]
    if how == "argv":
        p = instance.sendmail(rcpts, check=False)
    else:
        p = instance.sendmail([], args=["-t"], check=False,
                              body="To: %s\nSubject: x\n\nhi\n" % ", ".join(rcpts))
    assert p.returncode == 65, p.stderr
    assert p.stderr == b"sluice: sendmail: too many recipients (cleanup_recipient_limit is 3)\n"
    nothing_queued(instance)
    # At the limit it goes through.
    assert instance.sendmail(rcpts[:3], check=False).returncode == 0


def test_maildrop_file_over_the_cap_goes_to_corrupt(instance):
    """A file written around the cap (postdrop of another configuration with
    no cap, 300000 recipients) is rejected by pickup, which reads no more
    than the cap's worth of recipients, and mail after it is delivered."""
    instance.start()
    nocap = os.path.join(instance.base, "nocap")
    shutil.copytree(instance.conf, nocap)
    with open(os.path.join(nocap, "main.cf"), "a") as f:
        f.write("cleanup_recipient_limit = 0\n")
    instance.stop()         # so that pickup meets the file only once it is whole
    rcpts = b"".join(rec(b"R", b"r%d@b.test" % i) for i in range(300_000))
    data = (stream_head() + rec(b"B", b"Subject: big\n\nhi\n") + rec(b"X")
            + rcpts + rec(b"E"))
    p = subprocess.run([POSTDROP, "-c", nocap], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr
    [big] = instance.queue_ids("maildrop")
    instance.start()
    instance.sendmail(["u@localhost"], subject="after the big one")
    instance.wait_log(r"%s: 5\.5\.3 too many recipients \(cleanup_recipient_limit is "
                      r"100000\)" % big)
    instance.wait_log(r"%s: rejected maildrop file moved to corrupt/" % big)
    assert os.path.exists(os.path.join(instance.spool, "corrupt", big))
    instance.wait_for(lambda: instance.maildir_messages("u"), 30, "the later message")
    [m] = instance.maildir_messages("u")
    assert m["Subject"] == "after the big one"
    assert instance.queue_ids("maildrop") == []


# ---- 2. a non-root submission is durable before sendmail exits ----

@pytest.mark.skipif(not IS_ROOT, reason="needs root for set-gid postdrop and strace -u")
@pytest.mark.parametrize("folder_fsync", ["yes", "no"])
def test_nonroot_submission_syncs_after_rename_before_exit(instance, setgid_postdrop,  # noqa: F811
                                                           folder_fsync):
    instance.write_config(queue_folder_fsync=folder_fsync)
    instance.start()
    trace = os.path.join(instance.base, "trace")
    scratch = os.path.join(instance.base, "ns")
    os.makedirs(scratch)
    script = ('set -e; mount -t tmpfs tmpfs "$1"; mkdir "$1/up" "$1/work"; '
              'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work"'
              ' /etc; mkdir -p /etc/sluice; mount --bind "$2" /etc/sluice; shift 2; '
              'exec "$@"')
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_CONFIG_DIR"}
    env["ASAN_OPTIONS"] = "detect_leaks=0"          # LeakSanitizer cannot run under ptrace
    p = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
         scratch, instance.conf, "strace", "-f", "-o", trace, "-u", "nobody",
         "-e", "trace=rename,renameat,renameat2,syncfs,fsync,openat,exit_group",
         setgid_postdrop[0], "sendmail", "u@localhost"],
        input=b"Subject: durable\n\nhi\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    lines = open(trace).read().splitlines()

    def first(rx, start=0):
        for i in range(start, len(lines)):
            if re.search(rx, lines[i]):
                return i
        raise AssertionError("no /%s/ in\n%s" % (rx, "\n".join(lines[-60:])))

    ren = first(r"rename\w*\(.*maildrop/tmp\..*maildrop/\w+\"")
    pid = lines[ren].split()[0]
    done = first(r"^%s .*exit_group\(0\)" % pid, ren)
    main_exit = first(r"exit_group\(0\)", done + 1)
    if folder_fsync == "no" and names_follow_fsync(instance.spool):
        # One fsync of the file after the rename commits both (docs/QUEUE.md).
        fd = re.search(r"openat\(.*maildrop/tmp\.[^\"]*\".*= (\d+)$",
                       lines[first(r"^%s .*openat\(.*maildrop/tmp\." % pid)]).group(1)
        sync = first(r"^%s .*fsync\(%s\) += 0" % (pid, fd), ren)
        assert not any(re.search(r"^%s .*syncfs" % pid, ln) for ln in lines)
        assert ren < sync < done < main_exit
    else:
        # The folder cannot be opened by the user's group ...
        opened = first(r"^%s .*openat\(.*maildrop\".*EACCES" % pid, ren)
        sync = first(r"^%s .*syncfs\(\d+\) += 0" % pid, ren)
        assert ren < opened < sync < done < main_exit
    assert lines[main_exit].split()[0] != pid       # sendmail itself, after postdrop
    instance.wait_for(lambda: instance.maildir_messages("u"), 30, "delivery")


# ---- 3. temporary files are swept; postdrop times out ----

def test_killed_postdrops_leave_nothing_after_the_sweep(instance):
    instance.write_config(temp_file_max_age="2s")
    instance.start()
    maildrop = os.path.join(instance.spool, "maildrop")
    chunk = rec(b"B", b"x" * 65536)
    body = stream_head() + chunk * (10_000_000 // 65536)       # ~10 MB, no end
    total, batch = 100, 10
    t0 = time.time()
    for first in range(0, total, batch):
        procs = [subprocess.Popen([POSTDROP, "-c", instance.conf], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(batch)]
        for p in procs:
            p.stdin.write(body)
            p.stdin.flush()

        def written(p):
            names = [n for n in os.listdir(maildrop) if n.endswith(".%d" % p.pid)
                     and n.startswith("tmp.")]
            return names and os.stat(os.path.join(maildrop, names[0])).st_size >= 9_000_000
        for p in procs:
            instance.wait_for(lambda: written(p), 30, "postdrop %d's file" % p.pid)
            p.kill()
            p.wait()
            p.stdin.close()
    left = [n for n in os.listdir(maildrop) if n.startswith("tmp.")]
    assert len(left) == total
    size = sum(os.stat(os.path.join(maildrop, n)).st_size for n in left)
    assert size >= total * 9_000_000
    made = time.time() - t0
    # The next sweep after they are 2 s old (a trigger makes pickup look).
    time.sleep(2.5)
    fd = os.open(os.path.join(instance.spool, "public", "pickup"), os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"W")
    os.close(fd)
    instance.wait_log(r"pickup\[\d+\]: removed %d stale temporary files from maildrop/ "
                      r"\(older than 2s\)" % total)
    assert [n for n in os.listdir(maildrop) if n.startswith("tmp.")] == []
    print("made %d killed 10 MB submissions (%.0f MB) in %.1fs" % (total, size / 1e6, made))


def test_postdrop_times_out_on_silent_input(instance):
    instance.write_config(daemon_timeout="2s")
    os.makedirs(instance.spool + "/maildrop", exist_ok=True)
    p = subprocess.Popen([POSTDROP, "-c", instance.conf], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(stream_head() + rec(b"B", b"Subject: slow\n\n"))
    p.stdin.flush()
    t0 = time.time()
    p.wait(timeout=20)              # stdin stays open: postdrop must give up by itself
    took = time.time() - t0
    err = p.stderr.read()
    p.stdin.close()
    assert p.returncode == 75, err
    assert err == (b"postdrop: fatal: timeout: the submission did not arrive within "
                   b"daemon_timeout (2 seconds)\n")
    assert 1.5 < took < 15, took
    nothing_queued(instance)


# ---- 4. trigger floods ----

def test_trigger_flood_does_not_stop_pickup(instance):
    instance.start()
    fifo = os.path.join(instance.spool, "public", "pickup")
    flood = subprocess.Popen(["sh", "-c", 'exec yes W > "$1"', "sh", fifo])
    try:
        time.sleep(1)
        assert flood.poll() is None                 # still writing
        t0 = time.time()
        instance.sendmail(["u@localhost"], subject="through the flood")
        instance.wait_for(lambda: instance.maildir_messages("u"), 15, "delivery")
        print("delivered through the flood in %.1fs" % (time.time() - t0))
        assert flood.poll() is None
    finally:
        flood.kill()
        flood.wait()


# ---- 5. postdrop -c ----

@pytest.mark.skipif(not IS_ROOT, reason="needs root for set-gid postdrop")
def test_postdrop_c_only_default_or_listed_alternate(instance, setgid_postdrop):  # noqa: F811
    from test_sendmail import as_nobody
    listed = os.path.join(instance.base, "listed")
    unlisted = os.path.join(instance.base, "unlisted")
    instance.write_config(alternate_config_directories=listed)
    instance.start()
    shutil.copytree(instance.conf, listed)
    shutil.copytree(instance.conf, unlisted)
    scratch = os.path.join(instance.base, "ns")

    user_sluice = setgid_postdrop[0]      # where nobody can reach it (conftest.user_programs)
    p = as_nobody([user_sluice, "-c", unlisted, "sendmail", "u@localhost"],
                  input=b"Subject: no\n\n", default_config=instance.conf, scratch=scratch + "1")
    assert p.returncode == 77, p.stderr
    assert re.match(rb"postdrop: fatal: \S+/unlisted: only the default configuration directory "
                    rb"/etc/sluice may be used by users other than root, or one listed in its "
                    rb"alternate_config_directories\n$", p.stderr), p.stderr
    p = as_nobody([user_sluice, "-c", listed, "sendmail", "u@localhost"],
                  input=b"Subject: listed\n\nhi\n", default_config=instance.conf,
                  scratch=scratch + "2")
    assert (p.returncode, p.stderr) == (0, b"")
    instance.wait_for(lambda: instance.maildir_messages("u"), 30, "delivery")
    [m] = instance.maildir_messages("u")
    assert m["Subject"] == "listed"


# ---- 6. stray CR and LF ----

class RawPeer:
    """SMTP server on 127.0.0.1 that keeps the DATA bytes exactly as sent
    (dot-stuffing included), up to the <CR><LF>.<CR><LF> that ends them."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.data = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        conn.settimeout(30)
        buf = b""
        in_data = False
        try:
            conn.sendall(b"220 raw.test ESMTP\r\n")
            while True:
                got = conn.recv(65536)
                if not got:
                    return
                buf += got
                while True:
                    if in_data:
                        end = buf.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        self.data.append(buf[:end + 2])
                        buf = buf[end + 5:]
                        in_data = False
                        conn.sendall(b"250 2.0.0 Ok\r\n")
                        continue
                    nl = buf.find(b"\r\n")
                    if nl < 0:
                        break
                    cmd, buf = buf[:nl].upper(), buf[nl + 2:]
                    if cmd.startswith(b"EHLO"):
                        conn.sendall(b"250-raw.test\r\n250 8BITMIME\r\n")
                    elif cmd.startswith(b"DATA"):
                        conn.sendall(b"354 go\r\n")
                        in_data = True
                        buf = b"\r\n" + buf     # so a first line "." is found too
                    elif cmd.startswith(b"QUIT"):
                        conn.sendall(b"221 bye\r\n")
                        return
                    else:
                        conn.sendall(b"250 Ok\r\n")
        except OSError:
            pass
        finally:
            conn.close()


def test_stray_cr_and_lf_never_reach_the_peer(instance):
    peer = RawPeer()
    instance.write_config(transport_maps=routes({"a.test": peer.port}))
    instance.start()
    smuggle = (b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\n"
               b"Subject: smuggled\r\n\r\nboo\r\n")
    body = (b"Subject: innocent\r\n\r\nline\r.\r" + smuggle + b".\r\n"
            + b"second\n.\n" + smuggle + b"\r\n.\r\n" + b"third\r\r\n\rlast")
    p = subprocess.run([SLUICE, "-c", instance.conf, "sendmail", "-i", "-f", "s@x.test",
                        "v@a.test"], input=body, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr
    instance.wait_for(lambda: peer.data, 30, "the message at the peer")
    [data] = peer.data
    data = data[2:]                 # the CR LF RawPeer put in front
    # Every CR is part of CR LF and every LF is preceded by CR ...
    assert re.search(rb"\r(?!\n)", data) is None, data
    assert re.search(rb"(?<!\r)\n", data) is None, data
    # ... the stray CRs became spaces, the bare LF lines are real lines, and
    # a lone "." line was dot-stuffed, so nothing ends the DATA early.
    assert b"line . MAIL FROM:<evil@x.test>\r\n" in data
    assert b"\r\nsecond\r\n..\r\nMAIL FROM:<evil@x.test>\r\n" in data
    assert b"\r\n..\r\nthird\r\n last\r\n" in data  # CR CR LF: one line end
    assert b"\r\n.\r\n" not in data


# ---- 7. queue_minfree, in_flow_delay ----

HUGE = str(1 << 60)         # more free space than any file system has


def test_queue_minfree_refuses_new_mail_and_pickup_waits(instance):
    instance.write_config(queue_minfree=HUGE)
    instance.start()
    # sendmail (root: straight into maildrop/) and postdrop refuse, 75.
    p = instance.sendmail(["u@localhost"], check=False)
    assert p.returncode == 75, p.stderr
    assert re.match(rb"sluice: sendmail: insufficient system storage: \d+ bytes free in the queue "
                    rb"file system, \d+ needed \(queue_minfree, 1\.5 x message_size_limit\)\n$",
                    p.stderr), p.stderr
    p = run_postdrop(instance, stream_head())
    assert p.returncode == 75 and b"postdrop: fatal: insufficient system storage" in p.stderr
    nothing_queued(instance)
    # Delivery keeps going.
    instance.inject(["u@localhost"], body="Subject: already queued\n\nhi\n")
    instance.wait_for(lambda: instance.maildir_messages("u"), 30, "delivery")

    # A maildrop file waits while space is short ...
    instance.stop()
    instance.write_config(queue_minfree="0")
    instance.sendmail(["u@localhost"], subject="waited")
    [qid] = instance.queue_ids("maildrop")
    instance.write_config(queue_minfree=HUGE)
    instance.start()
    instance.wait_log(r"pickup\[\d+\]: warning: insufficient system storage: .*; maildrop "
                      r"files are left for later")
    assert instance.queue_ids("maildrop") == [qid]
    # ... and goes once there is room (pickup rereads main.cf when restarted).
    instance.stop()
    instance.write_config(queue_minfree="0")
    instance.start()
    instance.wait_for(lambda: len(instance.maildir_messages("u")) == 2, 30, "delivery")
    assert sorted(m["Subject"] for m in instance.maildir_messages("u")) == [
        "already queued", "waited"]


def flow_tokens(instance):
    """Tokens in private/flow; None until qmgr's first loop pass has made the FIFO
    (that comes a moment after its control socket, which start() waits for)."""
    try:
        fd = os.open(os.path.join(instance.spool, "private", "flow"), os.O_RDWR | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    finally:
        os.close(fd)


def test_in_flow_delay_slows_pickup_while_qmgr_is_stopped(instance):
    instance.write_config(in_flow_delay="2s", default_process_limit="3")
    instance.start()
    instance.wait_for(lambda: flow_tokens(instance) == 3, 20, "qmgr's 3 flow tokens")
    [qmgr] = instance_pids(instance, "qmgr")
    incoming = lambda: len(instance.queue_ids("incoming"))  # noqa: E731
    os.kill(qmgr, signal.SIGSTOP)
    try:
        n = 9
        for i in range(n):
            instance.sendmail(["u@localhost"], subject="flow %d" % i)
        # The 3 tokens go at once; after that one message per in_flow_delay.
        t0 = time.time()
        instance.wait_for(lambda: incoming() >= 4, 20, "pickup going on, slowly")
        slow = time.time() - t0
        at4 = time.time()
        instance.wait_for(lambda: incoming() >= 5, 20, "the next one")
        gap = time.time() - at4
        assert gap > 1.0, gap                       # waited for a token (2 s) ...
        assert instance.queue_ids("maildrop")       # ... with mail still waiting
    finally:
        os.kill(qmgr, signal.SIGCONT)
    # qmgr back: tokens flow again, the rest goes without the 2 s waits.
    t1 = time.time()
    left = n - incoming()
    instance.wait_for(lambda: len(instance.maildir_messages("u")) == n, 30, "all delivered")
    fast = time.time() - t1
    print("slowed: %.1fs to the 4th, %.1fs gap; then %d in %.1fs" % (slow, gap, left, fast))
    assert fast < 2.0 * left, (fast, left)
