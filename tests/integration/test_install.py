"""Installing sluice: `cmake --install` into a staging root (DESTDIR) gives
the documented layout, and the system runs from there; `sluice check`
names each problem with its fix; master reports readiness, reloads and
stops to a service manager (sd_notify) and the systemd unit is sound."""
import email
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD

IS_ROOT = os.geteuid() == 0


def run(argv, env=None, input=None, timeout=60):
    e = dict(os.environ)
    e.pop("SLUICE_CONFIG_DIR", None)
    if env:
        e.update(env)
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=e)


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture
def stage():
    """A staged install of the build under test, configured to run in place."""
    root = tempfile.mkdtemp(prefix="sluice-stage-")
    os.chmod(root, 0o755)
    p = run(["cmake", "--install", BUILD, "--prefix", "/usr"], env={"DESTDIR": root})
    assert p.returncode == 0, p.stderr.decode()
    conf = os.path.join(root, "etc", "sluice")
    with open(os.path.join(conf, "main.cf"), "a") as f:
        f.write("queue_directory = {r}/var/spool/sluice\n"
                "daemon_directory = {r}/usr/lib/sluice\n"
                "maillog_file = {r}/var/log/sluice.log\n"
                "local_mailbox_base = {r}/var/mail\n"
                "myhostname = staged.test\n".format(r=root))
    os.makedirs(os.path.join(root, "var", "mail"))
    os.chmod(os.path.join(root, "var", "mail"), 0o1777)
    yield root
    run([os.path.join(root, "usr", "sbin", "sluice"), "-c", conf, "stop"])
    if not os.environ.get("SLUICE_KEEP_TEST_DIRS"):
        shutil.rmtree(root, ignore_errors=True)


def sluice(root, *args, **kw):
    return run([os.path.join(root, "usr", "sbin", "sluice"), "-c",
                os.path.join(root, "etc", "sluice")] + list(args), **kw)


def test_layout(stage):
    daemons = ["master", "qmgr", "pickup", "postdrop", "bounce", "smtp", "local", "pipe",
               "discard", "error", "showq", "smtpd", "anvil", "metrics"]
    for d in daemons:
        path = os.path.join(stage, "usr", "lib", "sluice", d)
        assert os.access(path, os.X_OK), path
        assert not os.stat(path).st_mode & stat.S_ISUID, path
    assert os.access(os.path.join(stage, "usr", "sbin", "sluice"), os.X_OK)
    for link, target in [("usr/sbin/sendmail", "sluice"), ("usr/bin/mailq", "../sbin/sluice"),
                         ("usr/bin/newaliases", "../sbin/sluice"),
                         ("usr/lib/sendmail", "../sbin/sluice")]:
        assert os.readlink(os.path.join(stage, link)) == target
    if IS_ROOT:
        import grp
        st = os.stat(os.path.join(stage, "usr", "lib", "sluice", "postdrop"))
        assert st.st_mode & 0o7777 == 0o2755
        assert st.st_gid == grp.getgrnam("sluicedrop").gr_gid
    unit = open(os.path.join(stage, "lib", "systemd", "system", "sluice.service")).read()
    assert "Type=notify" in unit and "ExecReload=/usr/sbin/sluice reload" in unit
    main_cf = open(os.path.join(stage, "etc", "sluice", "main.cf")).read()
    assert "queue_directory = /var/spool/sluice" in main_cf
    assert "daemon_directory = /usr/lib/sluice" in main_cf
    assert os.path.exists(os.path.join(stage, "etc", "logrotate.d", "sluice"))


def test_runs_from_the_stage(stage):
    p = sluice(stage, "check")
    assert p.returncode == 0 and b"error" not in p.stderr, p.stderr.decode()
    p = sluice(stage, "start")
    assert p.returncode == 0, p.stderr.decode()
    conf = os.path.join(stage, "etc", "sluice")
    # The sendmail link is sluice's sendmail; it takes the configuration from
    # SLUICE_CONFIG_DIR as Postfix's takes MAIL_CONFIG.
    p = run([os.path.join(stage, "usr", "sbin", "sendmail"), "-f", "me@staged.test",
             "root@localhost"], env={"SLUICE_CONFIG_DIR": conf},
            input=b"Subject: staged\n\nhello from the stage\n")
    assert p.returncode == 0, p.stderr.decode()
    new = os.path.join(stage, "var", "mail", "root", "new")
    files = wait_for(lambda: os.path.isdir(new) and os.listdir(new), 30, "delivery")
    m = email.message_from_bytes(open(os.path.join(new, files[0]), "rb").read())
    assert m["Subject"] == "staged"
    p = run([os.path.join(stage, "usr", "bin", "mailq")], env={"SLUICE_CONFIG_DIR": conf})
    assert p.returncode == 0 and b"Mail queue is empty" in p.stdout, p
    p = sluice(stage, "check")
    assert p.returncode == 0 and b"error" not in p.stderr, p.stderr.decode()
    assert sluice(stage, "stop").returncode == 0


def test_check_names_each_problem_with_its_fix(stage):
    libdir = os.path.join(stage, "usr", "lib", "sluice")
    assert sluice(stage, "start").returncode == 0
    assert sluice(stage, "stop").returncode == 0
    spool = os.path.join(stage, "var", "spool", "sluice")
    os.remove(os.path.join(libdir, "pickup"))
    os.chmod(os.path.join(libdir, "smtp"), 0o777)
    os.symlink("/etc/passwd", os.path.join(spool, "deferred", "evil"))
    with open(os.path.join(stage, "etc", "sluice", "main.cf"), "a") as f:
        f.write("transport_maps = texthash:%s/nonexistent\n" % stage)
        f.write("default_transport = nosuchservice\n")
    with open(os.path.join(stage, "etc", "sluice", "master.cf"), "w") as f:
        f.write("smtp unix - - n - - smtp\n")
    p = sluice(stage, "check")
    err = p.stderr.decode()
    assert p.returncode == 1, err
    lines = [l for l in err.splitlines() if l.startswith("sluice: ")]
    want = [
        "sluice: check: program %s/pickup: No such file or directory; install sluice again"
        % libdir,
        "sluice: check: program %s/smtp is writable by group or others; chmod go-w %s/smtp"
        % (libdir, libdir),
        "sluice: check: warning: %s/deferred/evil is a symbolic link; remove it" % spool,
        'sluice: check: default_transport = nosuchservice: master.cf has no "nosuchservice '
        'unix" service',
        "sluice: check: transport_maps: ",
        "sluice: check: mydestination = ",
    ]
    for w in want:
        assert any(l.startswith(w) for l in lines), (w, err)
    # One line per problem, each with a fix after the semicolon.
    for l in lines:
        if l.startswith("sluice: check: ") and "unknown parameter" not in l:
            assert ";" in l, l


def test_check_configuration_unreadable(stage):
    with open(os.path.join(stage, "etc", "sluice", "main.cf"), "a") as f:
        f.write("hash_queue_depth = 9\n")
    p = sluice(stage, "check")
    assert p.returncode == 78
    assert b"hash_queue_depth" in p.stderr
    assert sluice(stage, "check", "extra").returncode == 64


def test_sd_notify_ready_reload_stop(stage):
    """master -f under a service manager: READY=1 once up (with MAINPID),
    RELOADING=1 then READY=1 around a reload, STOPPING=1 on the way out."""
    sockdir = tempfile.mkdtemp(prefix="sluice-notify-")
    path = os.path.join(sockdir, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(30)
    e = dict(os.environ)
    e.pop("SLUICE_CONFIG_DIR", None)
    e["NOTIFY_SOCKET"] = path
    proc = subprocess.Popen([os.path.join(stage, "usr", "sbin", "sluice"), "-c",
                             os.path.join(stage, "etc", "sluice"), "start", "-f"], env=e,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        msg = s.recv(4096).decode()
        assert "READY=1" in msg and "MAINPID=%d" % proc.pid in msg, msg
        assert sluice(stage, "reload").returncode == 0
        assert s.recv(4096).decode() == "RELOADING=1"
        assert "READY=1" in s.recv(4096).decode()
        assert sluice(stage, "stop").returncode == 0
        assert s.recv(4096).decode() == "STOPPING=1"
        assert proc.wait(30) == 0
        # No child spoke for master: nothing else arrived.
        s.settimeout(0.2)
        with pytest.raises(socket.timeout):
            s.recv(4096)
    finally:
        if proc.poll() is None:
            proc.kill()
        s.close()
        shutil.rmtree(sockdir, ignore_errors=True)


def test_systemd_unit_verifies(stage):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = os.path.join(stage, "lib", "systemd", "system", "sluice.service")
    p = run(["systemd-analyze", "verify", "--man=no", unit])
    # verify checks that ExecStart programs exist: they are in the stage.
    out = (p.stdout + p.stderr).decode()
    problems = [l for l in out.splitlines()
                if "/usr/sbin/sluice" not in l and l.strip()]
    assert not problems, out
