"""Drive one delivery agent directly, the way the queue manager does.

An AgentHarness owns a temporary configuration directory (main.cf,
optionally master.cf), a queue directory and a maillog.  It makes queue
files with the qfmake test tool, starts the agent program with a listening
UNIX socket on descriptor 3 (as master would), and speaks the delivery
protocol (src/util/attr.h frames, src/global/deliver_request.c attributes):
hello, request, reply.  Results are checked through the reply, the maillog
lines, the status logs (bounce/, defer/) and the queue file's done marks.
"""
import os
import pwd
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

BUILD = os.path.abspath(os.environ.get("SLUICE_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
QFMAKE = os.path.join(BUILD, "tests", "qfmake")


# ---- frames ----

def encode_frame(pairs):
    """[(name, value), ...] -> 4-byte big-endian length + name\\0value\\0..."""
    payload = b"".join(n.encode() + b"\0" + (v if isinstance(v, bytes) else str(v).encode())
                       + b"\0" for n, v in pairs)
    return struct.pack(">I", len(payload)) + payload


def unquote(addr):
    """'"john doe"@x' -> 'john doe@x' (enough for the addresses in these tests)."""
    if addr.startswith('"') and '"@' in addr:
        end = addr.rfind('"@')
        return addr[1:end].replace('\\"', '"').replace('\\\\', '\\') + addr[end + 1:]
    return addr


def read_exact(sock, n, timeout):
    sock.settimeout(timeout)
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("agent closed the connection")
        data += chunk
    return data


def read_frame(sock, timeout=60):
    """One frame as a list of (name, value) strings."""
    (length,) = struct.unpack(">I", read_exact(sock, 4, timeout))
    payload = read_exact(sock, length, timeout)
    fields = payload.split(b"\0")
    assert fields[-1] == b"", "frame payload must end with NUL"
    fields = fields[:-1]
    assert len(fields) % 2 == 0
    return [(fields[i].decode(), fields[i + 1].decode(errors="replace"))
            for i in range(0, len(fields), 2)]


# ---- queue files ----

def read_records(path):
    """Walk a queue file: [(offset, type, data), ...] (docs/QUEUE.md)."""
    with open(path, "rb") as f:
        data = f.read()
    out, off = [], 0
    while off < len(data):
        start, rtype = off, chr(data[off])
        off += 1
        length, shift = 0, 0
        while True:
            b = data[off]
            off += 1
            length |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                break
        out.append((start, rtype, data[off:off + length]))
        off += length
    return out


def queue_file_info(path):
    """Content offset/size and the recipients (offset, address, done)."""
    recs = read_records(path)
    assert recs[0][1] == "C"
    fields = [int(x) for x in recs[0][2].split()]
    rcpts = [(off, data.decode(), t == "D") for off, t, data in recs if t in "RD"]
    return {"content_offset": fields[0], "content_size": fields[1], "rcpts": rcpts}


def find_file(top, name):
    for root, _dirs, files in os.walk(top):
        if name in files:
            return os.path.join(root, name)
    return None


def read_status_log(path):
    """A status log (src/global/status_log.h) as a list of dicts."""
    recs, cur = [], {}
    with open(path, errors="replace") as f:
        for line in f.read().split("\n"):
            if line == "":
                if cur:
                    recs.append(cur)
                cur = {}
                continue
            name, _, value = line.partition("=")
            cur[name] = value
    if cur:
        recs.append(cur)
    return recs


class AgentHarness:
    """One agent program under test with its own configuration and queue."""

    def __init__(self, program, service=None, main_cf="", master_cf=None):
        self.program = os.path.join(BUILD, program)
        self.service = service or program
        self.base = tempfile.mkdtemp(prefix="sluice-agent-")
        os.chmod(self.base, 0o755)
        self.conf = os.path.join(self.base, "conf")
        self.spool = os.path.join(self.base, "spool")
        self.maillog = os.path.join(self.base, "maillog")
        os.makedirs(self.conf)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("queue_directory = %s\n" % self.spool)
            f.write("maillog_file = %s\n" % self.maillog)
            f.write("myhostname = sluice.test\nmydomain = test\n")
            f.write("mydestination = localhost, $myhostname\n")
            f.write(main_cf)
        if master_cf is not None:
            with open(os.path.join(self.conf, "master.cf"), "w") as f:
                f.write(master_cf)
        self.proc = None
        self.conn = None
        self.listener = None
        self.extra_args = []        # more agent options, e.g. ["-v"]

    # ---- life cycle ----
    def start(self):
        """Start the agent with a listening socket on fd 3 and read its hello."""
        path = os.path.join(self.base, "agent.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        lfd = self.listener.fileno()
        env = dict(os.environ, SLUICE_CONFIG_DIR=self.conf)
        env.pop("SLUICE_MAILLOG_FD", None)

        def to_fd3():
            # The socket goes to fd 3 in the child only (close_fds=False keeps
            # it); dup2 makes the copy inheritable, and so must we when the
            # socket already is fd 3.
            if lfd == 3:
                os.set_inheritable(3, True)
            else:
                os.dup2(lfd, 3)
            # fd 4 is master's status pipe; without one the agent would
            # take it for its maillog and write status records there.
            null = os.open("/dev/null", os.O_WRONLY)
            if null != 4:
                os.dup2(null, 4)
                os.close(null)
        self.proc = subprocess.Popen(
            [self.program, "-n", self.service, "-t", "unix"] + self.extra_args, env=env,
            preexec_fn=to_fd3, close_fds=False,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn.connect(path)
        hello = dict(read_frame(self.conn, timeout=30))
        assert hello.get("protocol") == "delivery_request", hello
        return self

    def finish(self, timeout=30):
        """Wait for the agent to exit by itself (max_use reached); returns its
        exit status and standard error (where the sanitizers report)."""
        rc = self.proc.wait(timeout=timeout)
        _out, err = self.proc.communicate()
        self.proc = None
        return rc, err.decode(errors="replace")

    def stop(self):
        if self.conn:
            self.conn.close()
            self.conn = None
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.listener:
            self.listener.close()
            self.listener = None

    def cleanup(self):
        self.stop()
        if os.environ.get("SLUICE_KEEP_TEST_DIRS"):
            print("kept", self.base)
        else:
            shutil.rmtree(self.base, ignore_errors=True)

    # ---- queue files and requests ----
    def make_message(self, rcpts, sender="sender@example.test",
                     body="Subject: test\n\nhello\n"):
        """A queue file in active/ (via qfmake); returns its ID."""
        p = subprocess.run([QFMAKE, "-q", "active", "-f", sender, self.spool] + list(rcpts),
                           input=body.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=True)
        qid = p.stdout.decode().strip()
        if os.geteuid() == 0:
            # As installed: the queue belongs to mail_owner.
            pw = pwd.getpwnam("sluice")
            for root, dirs, files in os.walk(self.spool):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
            os.chown(self.spool, pw.pw_uid, pw.pw_gid)
        return qid

    def queue_file(self, qid, queue="active"):
        return find_file(os.path.join(self.spool, queue), qid)

    def deliver(self, qid, sender="sender@example.test", nexthop="sluice.test",
                orig=None, notify=0, flags=0, timeout=120):
        """Send one request for every recipient of qid; return the reply dict."""
        info = queue_file_info(self.queue_file(qid))
        now = time.time()
        pairs = [("queue_name", "active"), ("queue_id", qid), ("transport", self.service),
                 ("nexthop", nexthop), ("sender", sender), ("envid", ""), ("ret", 0),
                 ("flags", flags), ("offset", info["content_offset"]),
                 ("size", info["content_size"]), ("arrival_time", "%.6f" % (now - 1)),
                 ("active_time", "%.6f" % now), ("request_time", "%.6f" % now),
                 ("rcpt_count", len(info["rcpts"]))]
        for off, addr, _done in info["rcpts"]:
            pairs += [("rcpt", addr), ("orig_rcpt", (orig or {}).get(addr, "")),
                      ("dsn_orcpt", ""), ("notify", notify), ("rcpt_offset", off)]
        self.conn.sendall(encode_frame(pairs))
        return dict(read_frame(self.conn, timeout=timeout))

    # ---- observation ----
    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_lines(self, qid):
        return [l for l in self.log().splitlines() if (qid + ": to=<") in l]

    def outcome(self, qid, rcpt):
        """(status word, dsn, reason) from the log line for rcpt (internal form;
        the log may show it quoted: "john doe"@x)."""
        for line in self.log_lines(qid):
            m = re.search(r"to=<([^>]*)>.*dsn=([0-9.]+), status=(\w+) \((.*)\)$", line)
            if m and unquote(m.group(1)) == rcpt:
                return m.group(3), m.group(2), m.group(4)
        return None

    def done_marks(self, qid):
        return {addr: done for _o, addr, done in
                queue_file_info(self.queue_file(qid))["rcpts"]}

    def status_log(self, log, qid):
        path = find_file(os.path.join(self.spool, log), qid)
        return read_status_log(path) if path else []
