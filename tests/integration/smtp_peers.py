"""Helpers for the smtp agent's end-to-end tests (test_smtp_agent.py).

AgentHarness runs build/smtp alone, the way master runs it (listening UNIX
socket as descriptor 3, SLUICE_CONFIG_DIR pointing at a private main.cf),
and talks to it the way the queue manager does (attr frames: 4-byte
big-endian length, then name NUL value NUL pairs; deliver_request.c).
Queue files come from build/tests/qfmake.

Peer is a scriptable SMTP server on a thread: it offers the EHLO keywords
a test asks for, answers commands from a table, records every read (to
see PIPELINING as one read), every command and every message as it came
over the wire, and can be told to misbehave (garbage, endless replies,
huge lines, one byte per second, silence, hang-ups, TLS trouble).

Dns runs dnsmasq on a loopback address at port 53 for the MX tests; the
agent then runs in a private mount namespace where /etc/resolv.conf is a
bind-mounted file naming that server (the real file is never touched).
"""
import os
import pwd
import random
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

BUILD = os.path.abspath(os.environ.get("SLUICE_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
SMTP = os.path.join(BUILD, "smtp")
QFMAKE = os.path.join(BUILD, "tests", "qfmake")

# Request flags (deliver_request.h).
FLAG_TRACE = 1 << 0
FLAG_VERIFY = 1 << 1
FLAG_RECORD = 1 << 2
FLAG_REUSE = 1 << 3

# DSN bits (dsn.h).
NOTIFY_NEVER, NOTIFY_SUCCESS, NOTIFY_FAILURE, NOTIFY_DELAY = 1, 2, 4, 8


def terminate(proc, timeout=10):
    """SIGTERM, and SIGKILL if it has not exited after timeout seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- frames

def encode_frame(pairs):
    payload = b"".join(k.encode() + b"\0" + (v if isinstance(v, bytes) else str(v).encode())
                       + b"\0" for k, v in pairs)
    return struct.pack(">I", len(payload)) + payload


def read_frame(sock, timeout):
    sock.settimeout(timeout)
    head = _read_exact(sock, 4)
    (n,) = struct.unpack(">I", head)
    payload = _read_exact(sock, n)
    parts = payload.split(b"\0")
    assert parts[-1] == b"", "frame without final NUL"
    parts = parts[:-1]
    return [(parts[i].decode(), parts[i + 1].decode(errors="replace"))
            for i in range(0, len(parts), 2)]


def _read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("agent closed the connection")
        out += chunk
    return out


# ---------------------------------------------------------------- agent

class Message:
    def __init__(self, qid, rcpts, size, sender, envid, ret):
        self.qid = qid
        self.rcpts = rcpts          # list of dicts: address, offset, notify, orcpt, orig
        self.size = size
        self.sender = sender
        self.envid = envid
        self.ret = ret


class AgentHarness:
    """build/smtp with a private configuration, queue and maillog."""

    def __init__(self, params=None, resolv=None, service="smtp", leak_check=False, args=(),
                 program=None, spawn=True):
        """spawn=False: the agent is started later, by spawn() (so that a
        test can make its queue files before the max_idle clock runs)."""
        self.base = tempfile.mkdtemp(prefix="sluice-smtp-")
        os.chmod(self.base, 0o755)
        self.conf = os.path.join(self.base, "conf")
        self.spool = os.path.join(self.base, "spool")
        self.maillog = os.path.join(self.base, "maillog")
        os.makedirs(self.conf)
        self.params = {
            "queue_directory": self.spool,
            "maillog_file": self.maillog,
            "myhostname": "client.sluice.test",
            "smtp_host_lookup": "native",
            "smtp_connect_timeout": "5s",
            "smtp_helo_timeout": "10s",
            "ipc_timeout": "60s",
            "max_idle": "60s",
        }
        self.params.update(params or {})
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in self.params.items():
                f.write("%s = %s\n" % (k, v))
        os.makedirs(self.spool)
        self.sock_path = os.path.join(self.base, "smtp.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.sock_path)
        self.listener.listen(5)
        lfd = self.listener.fileno()
        # master's status pipe (fd 4) goes nowhere here.
        self.devnull = os.open(os.devnull, os.O_WRONLY)
        env = dict(os.environ, SLUICE_CONFIG_DIR=self.conf, SL_LFD=str(lfd),
                   SL_SFD=str(self.devnull), SL_RESOLV=resolv or "")
        env.pop("SLUICE_MAILLOG_FD", None)
        # Most tests end the agent with SIGTERM, where LeakSanitizer cannot
        # run anyway; a test that lets it exit normally asks for leak_check.
        if not leak_check:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        # bash (dash knows only fds 0-9) puts the listening socket on 3 and the status pipe on 4,
        # as master does; with a resolv.conf it first bind-mounts it over
        # /etc/resolv.conf (only inside this private mount namespace).
        script = ('exec 3<&"$SL_LFD" 4>&"$SL_SFD" || exit 1; '
                  'if [ -n "$SL_RESOLV" ]; then '
                  'mount --bind "$SL_RESOLV" /etc/resolv.conf || exit 1; fi; exec "$@"')
        # program: build/lmtp (the smtp program under the name that makes it speak LMTP).
        argv = ["bash", "-c", script, "bash", program or SMTP, "-n", service, "-t",
                "unix"] + list(args)
        if resolv:
            argv = ["unshare", "-m"] + argv
        if os.environ.get("SL_STRACE"):
            argv = ["strace", "-f", "-tt", "-o", os.environ["SL_STRACE"]] + argv
        self._popen = dict(args=argv, pass_fds=(lfd, self.devnull), env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.proc = None
        self.conns = []
        if spawn:
            self.spawn()

    def spawn(self):
        """Start the agent process."""
        self.proc = subprocess.Popen(**self._popen)

    def _own_spool(self):
        """The agent drops to mail_owner: give it the queue."""
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam("sluice")
        for root, dirs, files in os.walk(self.spool):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for n in files:
                os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)

    # ---- queue files ----
    def message(self, rcpts, sender="sender@example.test", body=None, envid="", ret=""):
        """rcpts: addresses, or dicts with address/notify/orcpt/orig."""
        if body is None:
            body = "From: %s\nSubject: test\n\nhello\n" % sender
        if isinstance(body, str):
            body = body.encode()
        specs, want = [], []
        for r in rcpts:
            if isinstance(r, str):
                r = {"address": r}
            r = dict({"notify": 0, "orcpt": "", "orig": ""}, **r)
            spec = r["address"]
            if r["notify"]:
                spec += "|notify=" + ",".join(
                    n for b, n in ((NOTIFY_NEVER, "NEVER"), (NOTIFY_SUCCESS, "SUCCESS"),
                                   (NOTIFY_FAILURE, "FAILURE"), (NOTIFY_DELAY, "DELAY"))
                    if r["notify"] & b)
            if r["orcpt"]:
                spec += "|orcpt=" + r["orcpt"]
            if r["orig"]:
                spec += "|orig=" + r["orig"]
            specs.append(spec)
            want.append(r)
        argv = [QFMAKE, "-q", "active", "-f", sender]
        if envid:
            argv += ["-V", envid]
        if ret:
            argv += ["-R", ret]
        p = subprocess.run(argv + [self.spool] + specs, input=body, capture_output=True,
                           check=True)
        qid = p.stdout.decode().strip()
        p = subprocess.run([QFMAKE, "-l", self.spool, "active", qid], capture_output=True,
                           check=True)
        offsets = [int(line.split()[0]) for line in p.stdout.decode().splitlines()]
        assert len(offsets) == len(want)
        for r, off in zip(want, offsets):
            r["offset"] = off
        self._own_spool()
        size = len(body.replace(b"\r\n", b"\n"))
        return Message(qid, want, size, sender, envid, ret)

    def marks(self, msg):
        p = subprocess.run([QFMAKE, "-s", self.spool, "active", msg.qid], capture_output=True,
                           check=True)
        return dict((line.split()[1], line.split()[0]) for line in p.stdout.decode().splitlines())

    def status_log(self, kind, msg):
        """Records of spool/<kind>/.../<qid> as dicts (values unescaped)."""
        for root, dirs, files in os.walk(os.path.join(self.spool, kind)):
            if msg.qid in files:
                with open(os.path.join(root, msg.qid), encoding="utf-8",
                          errors="replace") as f:
                    text = f.read()
                recs = []
                for block in text.split("\n\n"):
                    if not block.strip():
                        continue
                    rec = {}
                    for line in block.split("\n"):
                        k, _, v = line.partition("=")
                        rec[k] = (v.replace("\\n", "\n").replace("\\r", "\r")
                                  .replace("\\\\", "\\"))
                    recs.append(rec)
                return recs
        return []

    # ---- the queue manager's side ----
    def connect(self):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(self.sock_path)
        hello = dict(read_frame(c, 20))
        assert hello.get("protocol") == "delivery_request", hello
        self.conns.append(c)
        return c

    def request(self, conn, msg, nexthop, flags=0, timeout=60, transport="smtp"):
        now = time.time()
        pairs = [("queue_name", "active"), ("queue_id", msg.qid), ("transport", transport),
                 ("nexthop", nexthop), ("sender", msg.sender), ("envid", msg.envid),
                 ("ret", {"": 0, "FULL": 1, "HDRS": 2}[msg.ret]), ("flags", flags),
                 ("offset", 0), ("size", msg.size), ("arrival_time", "%.6f" % (now - 1)),
                 ("active_time", "%.6f" % (now - 0.5)), ("request_time", "%.6f" % now),
                 ("rcpt_count", len(msg.rcpts))]
        for r in msg.rcpts:
            pairs += [("rcpt", r["address"]), ("orig_rcpt", r["orig"]),
                      ("dsn_orcpt", r["orcpt"]), ("notify", r["notify"]),
                      ("rcpt_offset", r["offset"])]
        conn.sendall(encode_frame(pairs))
        reply = dict(read_frame(conn, timeout))
        for k in ("status", "sent", "bounced", "deferred"):
            reply[k] = int(reply[k])
        return reply

    def deliver(self, msg, nexthop, flags=0, timeout=60):
        """One request on a fresh queue manager connection."""
        c = self.connect()
        try:
            return self.request(c, msg, nexthop, flags, timeout)
        finally:
            c.close()
            self.conns.remove(c)

    # ---- observation ----
    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_lines(self, qid):
        return [l for l in self.log().splitlines() if (qid + ": to=<") in l]

    def wait_log(self, pattern, timeout=10):
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if rx.search(self.log()):
                return True
            time.sleep(0.05)
        raise AssertionError("no /%s/ in maillog:\n%s" % (pattern, self.log()[-4000:]))

    def stop(self):
        for c in self.conns:
            c.close()
        self.conns = []
        err = ""
        if self.proc is not None:
            if self.proc.poll() is None:
                terminate(self.proc)
            err = self.proc.stderr.read().decode(errors="replace")
            self.proc.stderr.close()
        self.listener.close()
        os.close(self.devnull)
        if not os.environ.get("SLUICE_KEEP_TEST_DIRS"):
            shutil.rmtree(self.base, ignore_errors=True)
        # Sanitizer reports or fatal errors in the agent fail the test.
        assert "runtime error" not in err and "AddressSanitizer" not in err, err
        assert "panic:" not in err and "fatal:" not in err, err
        return err


# ---------------------------------------------------------------- peers

class PeerSession:
    """What one SMTP connection to a Peer brought."""

    def __init__(self, addr):
        self.client = addr
        self.reads = []        # raw chunks as received (before TLS: plaintext)
        self.commands = []     # command lines (no CRLF)
        self.messages = []     # dicts: mail, rcpts, data (wire bytes, without ".\r\n")
        self.tls = False
        self.tls_resumed = False   # the client resumed an earlier TLS session
        self.closed_by_client = False


class Peer:
    """A scriptable SMTP server on one address and port.

    ehlo: keywords after the first EHLO line (None: EHLO refused with 502).
    replies: {"MAIL": "...", "RCPT": "...", "RCPT <addr>": "...", "DATA": ...,
              "DOT": ..., "RSET": ..., "HELO": ..., "STARTTLS": ...}; a value may
              be a callable(session) returning the reply or None (default).
    greeting: the greeting reply; behaviour: a callable(conn, session) that
              replaces the whole conversation (hostile servers).
    tls: an ssl.SSLContext for STARTTLS.
    """

    def __init__(self, host="127.0.0.1", port=0, ehlo=("PIPELINING", "SIZE 10240000",
                 "8BITMIME", "DSN", "ENHANCEDSTATUSCODES"), replies=None,
                 greeting="220 peer.test ESMTP ready", behaviour=None, tls=None,
                 family=socket.AF_INET):
        self.ehlo = ehlo
        self.replies = dict(replies or {})
        self.greeting = greeting
        self.behaviour = behaviour
        self.tls = tls
        self.sessions = []
        self.lock = threading.Lock()
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(50)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    @property
    def nexthop(self):
        return "[%s]:%d" % (self.host, self.port)

    def _accept(self):
        while not self.stopping:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            # Replies to pipelined commands go out as separate small writes:
            # without NODELAY, Nagle and delayed ACKs add 40 ms stalls.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s = PeerSession(addr)
            with self.lock:
                self.sessions.append(s)
            t = threading.Thread(target=self._serve, args=(conn, s), daemon=True)
            t.start()
            self.threads.append(t)

    def _reply(self, key, session, default):
        r = self.replies.get(key)
        if callable(r):
            r = r(session)
        return default if r is None else r

    def _serve(self, conn, s):
        try:
            conn.settimeout(30)
            if self.behaviour:
                self.behaviour(conn, s)
                return
            self._conversation(conn, s)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _conversation(self, conn, s):
        conn.sendall((self.greeting + "\r\n").encode())
        if not self.greeting.startswith("2"):
            return
        buf = b""
        in_data = False
        data = b""
        mail, rcpts = None, []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                s.closed_by_client = True
                return
            s.reads.append(chunk)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line += b"\n"
                if in_data:
                    if line == b".\r\n":
                        in_data = False
                        s.messages.append({"mail": mail, "rcpts": list(rcpts), "data": data})
                        out = self._reply("DOT", s, "250 2.0.0 Ok: queued as PEER%d"
                                          % len(s.messages))
                        mail, rcpts, data = None, [], b""
                        if out == "CLOSE":
                            return
                        conn.sendall((out + "\r\n").encode())
                    else:
                        data += line
                    continue
                cmd = line.decode(errors="replace").rstrip("\r\n")
                s.commands.append(cmd)
                verb = cmd.split(" ")[0].split(":")[0].upper()
                if verb == "EHLO":
                    if self.ehlo is None:
                        out = self._reply("EHLO", s, "502 5.5.2 EHLO not implemented")
                    else:
                        kws = list(self.ehlo)
                        if self.tls is not None and not s.tls:
                            kws.append("STARTTLS")
                        lines = ["peer.test greets %s" % cmd[5:]] + kws
                        out = "\r\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ", l)
                                          for i, l in enumerate(lines))
                        out = self._reply("EHLO", s, out)
                elif verb == "HELO":
                    out = self._reply("HELO", s, "250 peer.test")
                elif verb == "STARTTLS":
                    out = self._reply("STARTTLS", s, "220 2.0.0 go ahead")
                    conn.sendall((out + "\r\n").encode())
                    if out.startswith("220") and self.tls is not None:
                        conn = self.tls.wrap_socket(conn, server_side=True)
                        s.tls = True
                        s.tls_resumed = conn.session_reused
                        buf = b""
                    continue
                elif verb == "MAIL":
                    mail = cmd
                    out = self._reply("MAIL", s, "250 2.1.0 Ok")
                    if not out.startswith("2"):
                        mail = None
                elif verb == "RCPT":
                    m = re.match(r"RCPT TO:<([^>]*)>", cmd, re.I)
                    addr = m.group(1) if m else ""
                    out = self._reply("RCPT " + addr, s, None)
                    if out is None:
                        out = self._reply("RCPT", s, "250 2.1.5 Ok")
                    if out.startswith("2") and mail:
                        rcpts.append(cmd)
                elif verb == "DATA":
                    if not mail or not rcpts:
                        out = "503 5.5.1 Error: need RCPT command"
                    else:
                        out = self._reply("DATA", s, "354 End data with <CR><LF>.<CR><LF>")
                    if out.startswith("354"):
                        in_data = True
                        data = b""
                elif verb == "RSET":
                    out = self._reply("RSET", s, "250 2.0.0 Ok")
                    mail, rcpts = None, []
                elif verb == "QUIT":
                    conn.sendall(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    out = self._reply(verb, s, "502 5.5.2 Error: command not recognized")
                if out == "CLOSE":
                    return
                conn.sendall((out + "\r\n").encode())

    def all_sessions(self):
        with self.lock:
            return list(self.sessions)

    def messages(self):
        return [m for s in self.all_sessions() for m in s.messages]

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ---- hostile behaviours (Peer(behaviour=...)) ----

def garbage(conn, s):
    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n<html>nope</html>\r\n")
    time.sleep(2)


def endless_multiline(conn, s):
    line = b"220-this reply goes on and on\r\n" * 64
    while True:
        conn.sendall(line)


def megabyte_line_then_ok(conn, s):
    """A greeting line of two megabytes, then a normal conversation."""
    conn.sendall(b"220-" + b"x" * (2 * 1024 * 1024) + b"\r\n")
    conn.sendall(b"220 ok after all\r\n")
    buf = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd = line.decode().strip().upper()
            if s.messages and s.messages[-1] == "DATA" and cmd != ".":
                continue
            if cmd.startswith("EHLO"):
                conn.sendall(b"250 ok\r\n")
            elif cmd == "DATA":
                s.messages.append("DATA")
                conn.sendall(b"354 go\r\n")
            elif cmd == ".":
                s.messages.append("DONE")
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif cmd == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")


def endless_line(conn, s):
    """A greeting that never ends its first line."""
    conn.sendall(b"220 ")
    chunk = b"y" * 65536
    while True:
        conn.sendall(chunk)


def one_byte_per_second(conn, s):
    for b in b"220 slow.peer.test ESMTP\r\n":
        conn.sendall(bytes([b]))
        time.sleep(1)


def silent(conn, s):
    time.sleep(30)


def hang_up(conn, s):
    pass


# ---------------------------------------------------------------- certificates

def make_cert(directory, cn, names=(), ips=()):
    """A self-signed certificate (its own CA) and key: (certfile, keyfile)."""
    cert = os.path.join(directory, cn + ".crt")
    key = os.path.join(directory, cn + ".key")
    san = ",".join(["DNS:" + n for n in names] + ["IP:" + i for i in ips])
    argv = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
            "-out", cert, "-days", "2", "-subj", "/CN=" + cn]
    if san:
        argv += ["-addext", "subjectAltName=" + san]
    subprocess.run(argv, check=True, capture_output=True)
    os.chmod(key, 0o644)
    os.chmod(cert, 0o644)
    return cert, key


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------- DNS

class LoopbackDns:
    """A DNS server on a loopback address at port 53, picked at random in
    127/8 so that parallel test runs do not meet, and a resolv.conf that
    names it (for the agent's private mount namespace).  A subclass starts
    the server in _start(*args) (self.proc, stderr piped), after
    write_resolv(), and then calls wait_ready(); a RuntimeError from
    _start means "try another address"."""

    NAME = "dns"
    RESOLV_OPTIONS = "attempts:2 timeout:1"
    READY_TIMEOUT = 10
    PROBE_TIMEOUT = 0.2

    def __init__(self, *args):
        last = None
        for attempt in range(8):
            self.address = "127.%d.%d.53" % (random.randint(1, 254), random.randint(1, 254))
            try:
                self._start(*args)
                return
            except RuntimeError as e:
                last = e
        raise last

    def write_resolv(self, base):
        self.resolv = os.path.join(base, "resolv.conf")
        with open(self.resolv, "w") as f:
            f.write("nameserver %s\noptions %s\n" % (self.address, self.RESOLV_OPTIONS))
        os.chmod(self.resolv, 0o644)

    def wait_ready(self):
        """Until it answers a minimal query ("test" SOA)."""
        deadline = time.time() + self.READY_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode()
                self.proc.stderr.close()
                raise RuntimeError("%s: %s" % (self.NAME, err))
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(self.PROBE_TIMEOUT)
                s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                         b"\x04test\x00\x00\x06\x00\x01", (self.address, 53))
                s.recv(512)
                s.close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("%s did not answer" % self.NAME)

    def stop(self):
        terminate(self.proc)
        self.proc.stderr.close()


class Dns(LoopbackDns):
    """dnsmasq answering for the .test domain (LoopbackDns)."""

    NAME = "dnsmasq"

    def __init__(self, base, mx=(), hosts=()):
        """mx: (domain, host, preference); hosts: (name, address)."""
        super().__init__(base, mx, hosts)

    def _start(self, base, mx, hosts):
        self.write_resolv(base)
        argv = ["dnsmasq", "--no-daemon", "--port=53", "--listen-address=" + self.address,
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/test/",
                "--log-facility=" + os.path.join(base, "dnsmasq.log"), "--log-queries",
                "--pid-file=" + os.path.join(base, "dnsmasq.pid"), "--user=root"]
        for domain, host, pref in mx:
            argv.append("--mx-host=%s,%s,%d" % (domain, host, pref))
        for name, addr in hosts:
            argv.append("--host-record=%s,%s" % (name, addr))
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.wait_ready()


def can_run_dns():
    """Why the DNS tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (port 53, mount namespace)"
    if shutil.which("dnsmasq") is None:
        return "dnsmasq is not installed (package dnsmasq-base)"
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    p = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if p.returncode != 0:
        return "cannot make a mount namespace: " + p.stderr.decode().strip()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.254.254.53", 53))
    except OSError as e:
        return "cannot bind a loopback address at port 53: %s" % e
    finally:
        s.close()
    return None
