"""The TLS session cache shared between smtp processes
(smtp_tls_session_cache_database): a second agent process resumes the
session the first one made with the same server, under TLS 1.3 tickets and
TLS 1.2 sessions; entries expire after smtp_tls_session_cache_timeout.
The server is the scriptable peer (Python's ssl), which reports whether each
handshake resumed a session."""
import os
import pwd
import re
import shutil
import ssl
import subprocess
import tempfile
import time

import pytest

from smtp_peers import AgentHarness, Peer, make_cert, server_context


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="sluice-certs-")
    os.chmod(d, 0o755)
    server = make_cert(d, "localhost", names=["localhost"], ips=["127.0.0.1"])
    yield server
    subprocess.run(["rm", "-rf", d])


@pytest.fixture
def data_dir():
    """data_directory: owned by the account the agent runs as (mail_owner)."""
    d = tempfile.mkdtemp(prefix="sluice-data-")
    if os.geteuid() == 0:
        pw = pwd.getpwnam("sluice")
        os.chown(d, pw.pw_uid, pw.pw_gid)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def made():
    things = []
    yield things
    for t in reversed(things):
        t.stop()


def deliver_in_new_process(made, p, params, rcpt):
    """One delivery by a fresh agent process, which then exits."""
    params = dict({"smtp_tls_security_level": "encrypt", "smtp_tls_loglevel": "2",
                   "smtp_connection_cache_on_demand": "no"}, **params)
    a = AgentHarness(params)
    try:
        r = a.deliver(a.message([rcpt]), p.nexthop)
        assert r["sent"] == 1, a.log()
        return a.log()
    finally:
        a.stop()


@pytest.mark.parametrize("dbtype", ["lmdb", "btree"])
@pytest.mark.parametrize("proto", ["TLSv1.3", "TLSv1.2"])
def test_second_process_resumes(made, certs, data_dir, dbtype, proto):
    ctx = server_context(*certs)
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, proto.replace(".", "_"))
    p = Peer(tls=ctx)
    made.append(p)
    db = "%s:%s/smtp_scache" % (dbtype, data_dir)
    logs = [deliver_in_new_process(made, p, {"smtp_tls_session_cache_database": db},
                                   "a%d@example.test" % i) for i in range(3)]
    sessions = p.all_sessions()
    assert len(sessions) == 3 and all(s.tls for s in sessions)
    assert [s.tls_resumed for s in sessions] == [False, True, True], logs
    relay = r"127\.0\.0\.1\[127\.0\.0\.1\]:%d" % p.port
    assert [bool(re.search(r"%s: Reusing old session" % relay, x)) for x in logs] == \
        [False, True, True]
    suffix = {"lmdb": ".lmdb", "btree": ".db"}[dbtype]
    st = os.stat(os.path.join(data_dir, "smtp_scache" + suffix))
    assert st.st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert st.st_uid == pwd.getpwnam("sluice").pw_uid


def test_no_database_no_sharing(made, certs, data_dir):
    """Without the table each process starts with no session (the baseline
    the test above differs from)."""
    p = Peer(tls=server_context(*certs))
    made.append(p)
    for i in range(2):
        deliver_in_new_process(made, p, {}, "b%d@example.test" % i)
    assert [s.tls_resumed for s in p.all_sessions()] == [False, False]
    assert os.listdir(data_dir) == []


def test_expired_entry_not_resumed(made, certs, data_dir):
    """An entry older than smtp_tls_session_cache_timeout is not offered: the
    third process (after the timeout) makes a new session; the second
    (within it) resumed.  The lifetime is 10s: a loaded machine may take
    seconds per process."""
    p = Peer(tls=server_context(*certs))
    made.append(p)
    params = {"smtp_tls_session_cache_database": "lmdb:%s/smtp_scache" % data_dir,
              "smtp_tls_session_cache_timeout": "10s"}
    t0 = time.time()	# the session is stored after this
    deliver_in_new_process(made, p, params, "c0@example.test")
    deliver_in_new_process(made, p, params, "c1@example.test")
    t2 = time.time()	# the second process stored its own (resumed) session by now
    assert t2 - t0 < 10
    time.sleep(11)
    deliver_in_new_process(made, p, params, "c2@example.test")
    assert [s.tls_resumed for s in p.all_sessions()] == [False, True, False]


def test_unusable_database_type_warns(made, certs, data_dir):
    """A table type that cannot be updated: a warning, and TLS still works."""
    p = Peer(tls=server_context(*certs))
    made.append(p)
    log = deliver_in_new_process(
        made, p, {"smtp_tls_session_cache_database": "cdb:%s/smtp_scache" % data_dir},
        "d0@example.test")
    assert ('smtp_tls_session_cache_database: "cdb" is not a table type that can be '
            'updated (btree, hash, lmdb): sessions are not shared between processes') in log
    assert p.all_sessions()[0].tls
