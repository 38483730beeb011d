"""master: start/stop/status, one master per queue, restarts, reload."""
import os
import re
import signal
import subprocess
import time

from test_qmgr_smtp import routes


def pids_of(instance, prog):
    """PIDs of this instance's processes named prog (by SLUICE_CONFIG_DIR)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            env = open("/proc/%s/environ" % p, "rb").read()
        except OSError:
            continue
        if cmd and os.path.basename(cmd[0]) == prog.encode() \
                and ("SLUICE_CONFIG_DIR=" + instance.conf).encode() in env:
            out.append(int(p))
    return out


def test_status_start_stop_and_second_start_refused(instance):
    p = instance.sluice("status", check=False)
    assert p.returncode == 1
    assert b"not running" in p.stdout
    instance.start()
    p = instance.sluice("status")
    m = re.search(rb"running: PID: (\d+)", p.stdout)
    assert m
    master_pid = int(m.group(1))
    # A second start on the same queue is refused, clearly, and changes nothing.
    p = instance.sluice("start", check=False)
    assert p.returncode != 0
    assert b"already running" in p.stderr
    assert int(re.search(rb"PID: (\d+)", instance.sluice("status").stdout).group(1)) == master_pid
    # The queue folders exist with safe modes.
    mode = lambda d: os.stat(os.path.join(instance.spool, d)).st_mode & 0o7777
    assert mode("maildrop") == 0o1730
    assert mode("incoming") == 0o700
    fifo = os.stat(os.path.join(instance.spool, "public", "qmgr"))
    assert fifo.st_mode & 0o777 == 0o622
    instance.stop()
    p = instance.sluice("status", check=False)
    assert p.returncode == 1
    if os.path.exists("/proc/%d/stat" % master_pid):      # at most a zombie
        assert open("/proc/%d/stat" % master_pid).read().split(") ")[1][0] == "Z"
    assert pids_of(instance, "qmgr") == []
    # Stopping a stopped system says so.
    p = instance.sluice("stop", check=False)
    assert p.returncode == 1 and b"not running" in p.stderr


def test_killed_qmgr_is_restarted_without_losing_mail(instance):
    instance.write_config(default_transport="discard")
    instance.start()
    [old] = pids_of(instance, "qmgr")
    os.kill(old, signal.SIGKILL)
    instance.wait_log(r"qmgr pid %d killed by signal 9" % old)
    instance.wait_for(lambda: pids_of(instance, "qmgr") and pids_of(instance, "qmgr") != [old],
                      20, "a new qmgr")
    qid = instance.inject(["a@one.test"])
    instance.wait_log(r"%s: removed" % qid)


def test_stop_leaves_queue_files_for_the_next_start(instance, sink):
    s = sink(delay=0.5)
    instance.write_config(transport_maps=routes({"slow.test": s.port}),
                          initial_destination_concurrency=2,
                          default_destination_concurrency_limit=2)
    ids = [instance.inject(["r%d@slow.test" % i], kick=False) for i in range(12)]
    instance.start()
    instance.wait_for(lambda: len(s.received()) >= 2, 30, "first deliveries")
    instance.stop()
    delivered = len(s.received())
    assert delivered < 12
    remaining = sum(instance.queue_counts()[q] for q in ("incoming", "active", "deferred"))
    assert remaining >= 12 - delivered - 2     # in flight at stop may have completed
    instance.start()
    instance.wait_for(lambda: len(set(s.rcpts())) == 12, 60, "all deliveries")
    instance.wait_empty()
    assert len(s.rcpts()) == 12                 # nothing twice


def test_stop_waits_for_the_reply_in_flight(instance, sink):
    """The server has the message and is about to say 250 when the operator
    stops the system: the agent finishes and records the outcome, so the
    next start does not send the message again."""
    s = sink(reply_delay=3.0)
    instance.write_config(transport_maps=routes({"wait.test": s.port}))
    instance.inject(["r@wait.test"], kick=False)
    instance.start()
    instance.wait_for(lambda: len(s.received()) == 1, 30, "the message at the server")
    instance.stop()
    instance.wait_log(r"to=<r@wait\.test>.*status=sent")
    instance.start()
    instance.wait_empty()
    assert len(s.received()) == 1             # not sent twice
    assert instance.count_log(r"to=<r@wait\.test>.*status=sent") == 1


def test_reload_changes_concurrency_limit(instance, sink):
    s = sink(delay=0.3)
    instance.write_config(transport_maps=routes({"r.test": s.port}),
                          default_destination_concurrency_limit=2,
                          destination_concurrency_feedback_debug="yes")
    for i in range(80):
        instance.inject(["r%d@r.test" % i], kick=False)
    instance.start()
    instance.wait_for(lambda: len(s.received()) >= 6, 30, "deliveries at limit 2")
    assert instance.count_log(r"limit 2 window [0-9]+") > 0
    assert instance.count_log(r"limit 8 window") == 0
    instance.write_config(default_destination_concurrency_limit=8)
    instance.reload()
    instance.wait_log(r"qmgr\[\d+\]: reload -- configuration")
    instance.wait_log(r"limit 8 window (?:[3-8])")
    instance.wait_for(lambda: len(s.received()) == 80, 60, "all deliveries")
    # The reload dropped nothing: every message delivered exactly once.
    assert len(set(s.rcpts())) == 80 == len(s.rcpts())


def test_embedded_default_runs_under_var():
    """The README's run command: no configuration at all; spool, maillog and
    mailboxes under ./var; mail to @localhost lands in ./var/mail/USER."""
    import pytest
    import subprocess
    from conftest import SLUICE
    if os.path.exists("/etc/sluice"):
        pytest.skip("/etc/sluice exists: the embedded default is not in use here")
    import pathlib
    import shutil
    import tempfile
    # Mail is delivered as mail_owner: the folder must be reachable by it.
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="sluice-embedded-"))
    os.chmod(tmp_path, 0o755)
    env = dict(os.environ)
    env.pop("SLUICE_CONFIG_DIR", None)
    run = lambda *a, **kw: subprocess.run([SLUICE] + list(a), cwd=tmp_path, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          timeout=60, **kw)
    p = run("start")
    assert p.returncode == 0, p.stderr
    try:
        p = run("sendmail", "-f", "me@localhost", "you@localhost",
                input=b"Subject: embedded\n\nhello\n")
        assert p.returncode == 0, p.stderr
        new = tmp_path / "var" / "mail" / "you" / "new"
        deadline = time.time() + 30
        while time.time() < deadline and not (new.exists() and list(new.iterdir())):
            time.sleep(0.1)
        msgs = list(new.iterdir())
        assert len(msgs) == 1
        assert b"Subject: embedded" in msgs[0].read_bytes()
        # The agent logs status=sent just after the mailbox file appears.
        sent = r"to=<you@localhost>, relay=local, .*status=sent"
        deadline = time.time() + 10
        while True:
            log = (tmp_path / "var" / "log" / "maillog").read_text()
            if re.search(sent, log) or time.time() > deadline:
                break
            time.sleep(0.1)
        assert "configuration (embedded default)" in log
        assert re.search(sent, log), log
    finally:
        run("stop")
        shutil.rmtree(tmp_path, ignore_errors=True)
