"""master and privileges: no link in a folder mail_owner controls leads root
elsewhere; import_environment; process_id_directory; trigger_timeout;
service_throttle_time only after a bad start-up."""
import os
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import BUILD
from test_master import pids_of

SHIM = os.path.abspath(os.path.join(BUILD, "tests", "swap_shim.so"))

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="master runs as root here")


def make_canary(path, directory=False):
    """A root-owned file (or folder) mail_owner may not touch; its stat."""
    if directory:
        os.mkdir(path)
        os.chmod(path, 0o750)
    else:
        with open(path, "w") as f:
            f.write("canary\n")
        os.chmod(path, 0o640)
    os.chown(path, 0, 0)
    return os.lstat(path)


def assert_canary(path, before, what):
    st = os.lstat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == \
        (before.st_uid, before.st_gid, stat.S_IMODE(before.st_mode)), \
        "%s: canary %s now %d:%d mode %o" % (what, path, st.st_uid, st.st_gid,
                                             stat.S_IMODE(st.st_mode))
    if not stat.S_ISDIR(st.st_mode):
        assert open(path).read() == "canary\n"


@needs_root
def test_endpoint_replaced_by_link_does_not_reach_root_file(instance):
    """A process running as mail_owner replaces each endpoint master has
    just made (FIFO or socket) with a link to a root file: master must not
    chmod/chown/open the file through it."""
    assert os.path.exists(SHIM), "build tests/swap_shim.so first"
    canary = os.path.join(instance.base, "canary")
    before = make_canary(canary)
    shim_log = os.path.join(instance.base, "shim.log")
    # The shim writes it with master's identity of the moment (mail_owner).
    open(shim_log, "w").close()
    os.chmod(shim_log, 0o666)
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {"LD_PRELOAD": SHIM, "SWAP_SHIM_MATCH": instance.spool + "/",
           "SWAP_SHIM_CANARY": canary, "SWAP_SHIM_LOG": shim_log,
           # The shim is preloaded ahead of the sanitizer runtime.
           "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
    instance.sluice("start", env=env)
    instance.running = True
    instance.wait_log(r"master\[\d+\]: daemon started")
    swapped = open(shim_log).read()
    # The swap happened, for FIFOs and sockets, public and private.
    for ep in ("public/qmgr", "public/pickup", "public/showq", "private/smtp"):
        assert "swapped %s/%s\n" % (instance.spool, ep) in swapped, swapped
    assert "failed" not in swapped
    assert_canary(canary, before, "endpoints")
    # The FIFO services refused the impostor, by name.
    instance.wait_log(r"service qmgr: .*public/qmgr: not the endpoint master made")
    # The daemons that did start did not carry the shim along.
    assert os.path.islink(os.path.join(instance.spool, "public", "qmgr"))


@needs_root
def test_links_in_queue_folders_are_not_followed_at_start(instance):
    """chown_tree: a hash level replaced by a link to a root folder keeps
    that folder's owner and mode when master gives the queue to mail_owner."""
    instance.write_config(default_transport="discard")
    instance.start()
    instance.stop()
    outside = os.path.join(instance.base, "outside")
    before = make_canary(outside, directory=True)
    for q in ("deferred", "defer"):
        hashdir = os.path.join(instance.spool, q, "Z")
        os.rmdir(hashdir)
        os.symlink(outside, hashdir)
    # A single-character entry at the top of an unhashed folder too.
    os.symlink(outside, os.path.join(instance.spool, "incoming", "A"))
    instance.start()
    assert_canary(outside, before, "chown_tree")
    # The rest of the tree did go to mail_owner.
    import pwd
    uid = pwd.getpwnam("sluice").pw_uid
    assert os.stat(os.path.join(instance.spool, "deferred", "Y")).st_uid == uid
    # Mail still flows.
    qid = instance.inject(["a@one.test"])
    instance.wait_log(r"%s: removed" % qid)


@needs_root
def test_import_environment_is_all_daemons_see(instance):
    instance.write_config(import_environment="SLUICE_CONFIG_DIR KEEP_ME SET_ME=fixed LANG=C")
    instance.start()
    env = {"KEEP_ME": "yes", "DROP_ME": "no", "SET_ME": "other", "LANG": "de_DE.UTF-8"}
    instance.stop()
    instance.sluice("start", env=env)
    instance.running = True
    instance.wait_for(lambda: pids_of(instance, "qmgr"), 20, "qmgr")
    [pid] = pids_of(instance, "qmgr")
    got = dict(e.split(b"=", 1) for e in
               open("/proc/%d/environ" % pid, "rb").read().split(b"\0") if e)
    names = set(got) - {b"ASAN_OPTIONS", b"UBSAN_OPTIONS", b"LSAN_OPTIONS"}
    # master always passes its own two; the list decides the rest.
    assert names == {b"SLUICE_CONFIG_DIR", b"SLUICE_MAILLOG_FD", b"KEEP_ME", b"SET_ME",
                     b"LANG"}, got
    assert got[b"KEEP_ME"] == b"yes"
    assert got[b"SET_ME"] == b"fixed"
    assert got[b"LANG"] == b"C"
    assert got[b"SLUICE_CONFIG_DIR"] == instance.conf.encode()
    # Everything still works with that environment.
    qid = instance.inject(["a@one.test"])
    instance.wait_log(r"%s: .*status=" % qid)


def test_default_import_environment_drops_the_rest(instance):
    instance.write_config(default_transport="discard")
    instance.sluice("start", env={"DROP_ME": "no", "TZ": "UTC", "LD_LIBRARY_PATH": "/nowhere"})
    instance.running = True
    instance.wait_for(lambda: pids_of(instance, "qmgr"), 20, "qmgr")
    [pid] = pids_of(instance, "qmgr")
    env = open("/proc/%d/environ" % pid, "rb").read().split(b"\0")
    assert b"TZ=UTC" in env and b"LANG=C" in env
    assert not [e for e in env if e.startswith((b"DROP_ME=", b"LD_LIBRARY_PATH=", b"PATH="))]


def test_process_id_directory(instance):
    instance.write_config(process_id_directory="run/here", default_transport="discard")
    instance.start()
    pid_file = os.path.join(instance.spool, "run", "here", "master.pid")
    master = int(open(pid_file).read())
    assert re.search(rb"PID: %d" % master, instance.sluice("status").stdout)
    assert not os.path.exists(os.path.join(instance.spool, "pid", "master.pid"))
    # A second start sees the lock there.
    p = instance.sluice("start", check=False)
    assert p.returncode != 0 and b"already running" in p.stderr
    instance.stop()
    assert b"not running" in instance.sluice("status", check=False).stdout


def test_kick_times_out_on_a_fifo_nobody_reads(instance):
    """sluice kick/flush wait at most trigger_timeout for a full FIFO."""
    instance.write_config(trigger_timeout="2s")
    public = os.path.join(instance.spool, "public")
    os.makedirs(public)
    fifo = os.path.join(public, "qmgr")
    os.mkfifo(fifo, 0o622)
    # A reader that is alive but never reads; fill the FIFO.
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    wfd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        try:
            while True:
                os.write(wfd, b"W" * 4096)
        except BlockingIOError:
            pass
        try:
            while True:
                os.write(wfd, b"W")
        except BlockingIOError:
            pass
        for cmd in (["kick", "I"], ["flush"]):
            t0 = time.monotonic()
            p = instance.sluice(*cmd, check=False, timeout=30)
            took = time.monotonic() - t0
            assert p.returncode == 75, p.stderr
            assert b"timed out after 2s" in p.stderr, p.stderr
            assert 1.9 <= took < 6, took
    finally:
        os.close(wfd)
        os.close(rfd)


def master_cf_with(instance, extra):
    text = instance.sluice("config", "-M").stdout.decode()
    instance.set_master_cf(text + extra)


def test_bad_startup_throttles_for_service_throttle_time(instance):
    """A process that dies before its start-up is over throttles its
    service for service_throttle_time, then master tries again."""
    instance.write_config(service_throttle_time="3s", default_transport="discard")
    # A program that does not exist: exec fails in the new process.
    master_cf_with(instance, "broken unix - - n - - no-such-daemon\n")
    instance.start()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(instance.spool, "private", "broken"))
    try:
        instance.wait_log(r"no-such-daemon: bad command startup -- throttling", timeout=20)
        t1 = time.monotonic()
        instance.wait_log(r"no-such-daemon: bad command startup -- throttling", count=2,
                          timeout=20)
        gap = time.monotonic() - t1
    finally:
        sock.close()
    # The client kept waiting, so only the pause held the second try back.
    assert 2.5 <= gap < 10, gap


def test_process_killed_after_start_is_replaced_at_once(instance):
    """pickup killed after its start-up: a new one at once, no throttling."""
    instance.write_config(service_throttle_time="60s", default_transport="discard")
    instance.start()
    instance.wait_for(lambda: pids_of(instance, "pickup"), 20, "pickup")
    [old] = pids_of(instance, "pickup")
    time.sleep(0.5)                 # past its start-up
    os.kill(old, signal.SIGKILL)
    instance.wait_log(r"pickup pid %d killed by signal 9" % old)
    t0 = time.monotonic()
    instance.wait_for(lambda: [p for p in pids_of(instance, "pickup") if p != old], 5,
                      "a new pickup")
    assert time.monotonic() - t0 < 5
    assert "bad command startup" not in instance.log()
    # And it works: sendmail's file is picked up and delivered.
    instance.sendmail(["x@one.test"])
    instance.wait_log(r"to=<x@one.test>, relay=none, .*status=sent", timeout=15)


def showq_request(instance, req=b"p\n"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(instance.spool, "public", "showq"))
    s.sendall(req)
    return s


def test_showq_client_that_never_reads_does_not_pin_showq(instance):
    """A client asks for a large listing and never reads: the one showq
    process (maxproc 1) gives up after ipc_timeout and serves the next."""
    text = instance.sluice("config", "-M").stdout.decode()
    text = re.sub(r"(?m)^showq .*$",
                  "showq     unix  n       -       n       -       1       showq "
                  "-o ipc_timeout=2s", text)
    instance.set_master_cf(text)
    instance.write_config(default_transport="discard")
    # About 1.5 MB of listing: far more than the socket buffers hold.
    rcpts = ["recipient-%05d@a-rather-long-domain-name.test" % i for i in range(3000)]
    for _ in range(10):
        instance.inject(rcpts, queue="hold", kick=False)
    instance.start()
    stuck = showq_request(instance)
    try:
        t0 = time.monotonic()
        instance.wait_log(r"showq\[\d+\]: warning: timeout sending the queue listing",
                          timeout=30)
        took = time.monotonic() - t0
        assert took < 2 + 8, took
        # The next client gets the whole listing from the same, free process.
        other = showq_request(instance)
        other.settimeout(30)
        got = b""
        while True:
            chunk = other.recv(65536)
            if not chunk:
                break
            got += chunk
        other.close()
        assert re.search(rb"-- \d+ Kbytes in 10 Requests\.\n$", got), got[-200:]
        assert got.count(b"recipient-02999@") == 10
        # The client that did not read was cut off: what it finds ends early.
        stuck.settimeout(5)
        old = b""
        while True:
            chunk = stuck.recv(65536)
            if not chunk:
                break
            old += chunk
        assert len(old) < len(got)
    finally:
        stuck.close()
