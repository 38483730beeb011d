"""The fault suite's world: a running sluice system with mail flowing in
(sendmail as root, sendmail as nobody through the set-gid postdrop, smtpd)
and out (an SMTP sink, Maildirs, a pipe command, bounces to the SMTP sink),
and a ledger that counts every message by a unique token.

Each message carries a token `tok<seed>x<n>` (in its Message-ID, Subject and
body) and goes to one or more of four kinds of destination:

  smtp   s<n>@sink.test       smtp agent -> SMTP sink
  local  box<k>@localhost     local agent -> Maildir
  pipe   p<n>@pipe.test       pipe agent (service fpipe) -> a file per run
  fail   f<n>@fail.test       error agent -> bounce notice -> SMTP sink

A (token, kind) pair is a unit.  After a run: accepted units (the submitter
was told so: exit 0 or 250) are delivered (or, for fail, returned) once;
lost = accepted, not delivered/returned, not queued; a duplicate is a unit
delivered more than once.
"""
import json
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time

from aiosmtpd.controller import Controller

import itconf

TOKEN_RX = re.compile(rb"tok\d+x\d+")
KINDS = ("smtp", "local", "pipe", "fail")
HERE = os.path.dirname(os.path.abspath(__file__))

PIPE_SINK = """import os, sys, time
# Store stdin as one file in argv[1], named after the pipe agent that ran us
# (our parent) so that a duplicate can be traced to the agent that delivered
# it.  No child processes (a shell that cannot fork exits 2, which bounces);
# any failure is temporary: exit 75 (EX_TEMPFAIL).
try:
    d = sys.argv[1]
    t = os.path.join(d, ".tmp.%d" % os.getpid())
    with open(t, "wb") as f:
        f.write(sys.stdin.buffer.read())
    os.rename(t, os.path.join(d, "%d.%d.%d" % (os.getppid(), os.getpid(), time.time_ns())))
except BaseException:
    sys.exit(75)
"""


NS_SCRIPT = ('set -e; mount -t tmpfs tmpfs "$1"; mkdir "$1/up" "$1/work"; '
             'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work"'
             ' /etc; mkdir -p /etc/sluice; mount --bind "$2" /etc/sluice; shift 2; '
             'exec "$@"')


def results_file_append(record):
    """Append one scenario's figures to $FAULT_RESULTS (scripts/torture)."""
    import datetime
    path = os.environ.get("FAULT_RESULTS")
    record = dict(record, date=datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                  commit=os.environ.get("FAULT_COMMIT", ""))
    line = json.dumps(record, sort_keys=True)
    print("FAULT-RESULT " + line)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def rounds(default):
    """FAULT_ROUNDS (scripts/torture) or the short default of the test command."""
    return int(os.environ.get("FAULT_ROUNDS") or default)


def proc_children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def proc_name(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0]).decode(errors="replace")
    except OSError:
        return None


def kind_of(rcpt):
    domain = rcpt.rsplit("@", 1)[-1].lower()
    return {"sink.test": "smtp", "localhost": "local", "pipe.test": "pipe"}.get(domain, "fail")


class TokenSink:
    """SMTP sink recording (time, token, kind, peer) for every delivery;
    a message from <> is a bounce notice and returns the tokens it quotes."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.fail_next = 0          # tempfail this many DATA commands
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.fail_next > 0:
                    sink.fail_next -= 1
                    return "451 4.3.0 try again"
                toks = set(TOKEN_RX.findall(envelope.content))
                if envelope.mail_from in ("", "<>"):
                    # A notice returns the units of the recipients it names.
                    kinds = set()
                    for r in re.findall(rb"(?im)^Final-Recipient:\s*rfc822;\s*<?([^>\s]+)",
                                        envelope.content):
                        kinds.add(kind_of(r.decode(errors="replace")))
                    for t in toks:
                        for k in kinds or {"fail"}:
                            sink.ledger.delivered(t.decode(), k, "notice")
                else:
                    for t in toks:
                        for r in envelope.rcpt_tos:
                            if r.endswith("@sink.test"):
                                sink.ledger.delivered(t.decode(), "smtp", r)
                return "250 2.0.0 Ok: queued"

        self.port = itconf.free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = {}          # token -> (kinds, channel, time)
        self.unconfirmed = {}       # token -> (kinds, channel, why)
        self.refused = 0
        self.arrivals = {}          # (token, kind) -> [(time, info)]

    def delivered(self, token, kind, info, when=None):
        with self.lock:
            self.arrivals.setdefault((token, kind), []).append(
                (when if when is not None else time.time(), info))

    def accept(self, token, kinds, channel):
        with self.lock:
            self.accepted[token] = (kinds, channel, time.time())

    def unconfirm(self, token, kinds, channel, why):
        with self.lock:
            self.unconfirmed[token] = (kinds, channel, why)

    def units(self):
        with self.lock:
            return [(t, k) for t, (kinds, _, _) in self.accepted.items() for k in kinds]

    def times(self):
        with self.lock:
            return sorted(ts for v in self.arrivals.values() for ts, _ in v)


class World:
    """One sluice instance wired to the four kinds of destination."""

    def __init__(self, instance, seed, postdrop=True, **params):
        self.inst = instance
        self.extra_env = {}         # for the submitters (faketime, shims)
        self.seed = seed
        self.rng = random.Random(seed)
        self.ledger = Ledger()
        self.sink = TokenSink(self.ledger)
        self.n = 0
        self.nlock = threading.Lock()
        self.pipe_dir = os.path.join(instance.base, "pipe")
        os.makedirs(self.pipe_dir)
        os.chmod(self.pipe_dir, 0o1777)
        script = os.path.join(instance.base, "pipe_sink.py")
        with open(script, "w") as f:
            f.write(PIPE_SINK)
        os.chmod(script, 0o755)
        self.seen_files = set()
        self.submitters = set()     # Popen objects of running submissions
        self.plock = threading.Lock()
        self.user_sluice = None
        if postdrop and os.geteuid() == 0:
            self.user_sluice = itconf.user_programs()[0]
        conf = dict(
            transport_maps="inline:{ sink.test=smtp:[127.0.0.1]:%d, pipe.test=fpipe:, "
                           "fail.test=error:5.1.1 no such user here }" % self.sink.port,
            minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s",
            service_throttle_time="60s")
        conf.update(params)
        instance.write_config(**conf)
        instance.set_master_cf(instance.master_cf + (
            "fpipe unix - n n - - pipe flags=FR user=nobody:nogroup "
            "argv=/usr/bin/python3 -I -S %s %s\n" % (script, self.pipe_dir)))

    # ---- messages ----
    def next_message(self):
        with self.nlock:
            n = self.n
            self.n += 1
        tok = "tok%dx%d" % (self.seed, n)
        if n % 5 == 4:
            kinds = ("smtp", "local", "pipe")
        else:
            kinds = (KINDS[self.rng.randrange(4)],)
        rcpts = []
        for k in kinds:
            rcpts.append({"smtp": "s%d@sink.test", "local": "box%d@localhost",
                          "pipe": "p%d@pipe.test", "fail": "f%d@fail.test"}[k]
                         % (n % 4 if k == "local" else n))
        body = ("Subject: fault %s\nMessage-ID: <%s@fault.test>\nFrom: snd@sink.test\n\n"
                "token %s\n%s\n" % (tok, tok, tok, "x" * (n % 7 * 300)))
        return tok, kinds, rcpts, body

    # ---- submission channels ----
    def _run(self, argv, body, env=None, timeout=60):
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        with self.plock:
            self.submitters.add(p)
        try:
            out, err = p.communicate(body.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        finally:
            with self.plock:
                self.submitters.discard(p)
        return p.returncode, err

    def submit_sendmail(self, as_nobody=False):
        tok, kinds, rcpts, body = self.next_message()
        env = {k: v for k, v in os.environ.items() if k != "SLUICE_CONFIG_DIR"}
        env.update(self.extra_env)
        if as_nobody and self.user_sluice:
            # postdrop reads only /etc/sluice: a private mount namespace
            # where that is this instance's configuration (as test_sendmail).
            scratch = os.path.join(self.inst.base, "ns%d" % threading.get_ident())
            os.makedirs(scratch, exist_ok=True)
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", NS_SCRIPT,
                    "sh", scratch, self.inst.conf,
                    "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                    self.user_sluice, "sendmail", "-f", "snd@sink.test", "--"] + rcpts
            channel = "postdrop"
        else:
            argv = [itconf.SLUICE, "-c", self.inst.conf, "sendmail", "-f", "snd@sink.test",
                    "--"] + rcpts
            channel = "sendmail"
        rc, err = self._run(argv, body, env)
        if rc == 0:
            self.ledger.accept(tok, kinds, channel)
        elif rc == 75:
            self.ledger.refused += 1
            self.ledger.unconfirm(tok, kinds, channel, "exit 75")
        else:
            self.ledger.unconfirm(tok, kinds, channel, "exit %s: %s" % (rc, err[-200:]))
        return rc, err

    def submit_smtp(self, conn_box):
        """One message through smtpd on one kept connection (conn_box[0])."""
        tok, kinds, rcpts, body = self.next_message()
        try:
            if conn_box[0] is None:
                conn_box[0] = smtplib.SMTP("127.0.0.1", self.inst.smtpd_port, timeout=15)
                conn_box[0].ehlo("client.test")
            conn_box[0].sendmail("snd@sink.test", rcpts, body.replace("\n", "\r\n"))
        except smtplib.SMTPResponseException as e:
            if e.smtp_code == 452:
                self.ledger.refused += 1
            self.ledger.unconfirm(tok, kinds, "smtpd", "%d %s" % (e.smtp_code, e.smtp_error))
            self._drop(conn_box)
            return e.smtp_code
        except (OSError, smtplib.SMTPException) as e:
            self.ledger.unconfirm(tok, kinds, "smtpd", repr(e))
            self._drop(conn_box)
            return -1
        self.ledger.accept(tok, kinds, "smtpd")
        return 250

    @staticmethod
    def _drop(conn_box):
        if conn_box[0] is not None:
            try:
                conn_box[0].close()
            except OSError:
                pass
        conn_box[0] = None

    # ---- observation ----
    def scan_files(self):
        """Record Maildir and pipe deliveries not seen yet (time = mtime)."""
        spots = [(os.path.join(self.pipe_dir, n), "pipe") for n in os.listdir(self.pipe_dir)
                 if not n.startswith(".")]
        if os.path.isdir(self.inst.maildir):
            for user in os.listdir(self.inst.maildir):
                new = os.path.join(self.inst.maildir, user, "new")
                if os.path.isdir(new):
                    spots += [(os.path.join(new, n), "local") for n in os.listdir(new)]
        for path, kind in spots:
            if path in self.seen_files:
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read()
                mtime = os.stat(path).st_mtime
            except OSError:
                continue
            self.seen_files.add(path)
            for t in set(TOKEN_RX.findall(data)):
                self.ledger.delivered(t.decode(), kind, os.path.basename(path), mtime)

    def pids(self, prog):
        if prog == "master":
            try:
                with open(os.path.join(self.inst.spool, "pid", "master.pid")) as f:
                    pid = int(f.read())
                return [pid] if proc_name(pid) == "master" else []
            except (OSError, ValueError):
                return []
        if prog in ("sendmail", "postdrop"):
            with self.plock:
                subs = [p.pid for p in self.submitters if p.returncode is None]
            out = []
            for pid in subs:
                todo = [pid]
                while todo:
                    p = todo.pop()
                    name = proc_name(p)
                    if name == "sluice" and prog == "sendmail" or name == prog:
                        out.append(p)
                    todo += proc_children(p)
            return out
        return itconf_pids_of(self.inst, prog)

    def units_state(self):
        """accepted units, delivered, missing (accepted, not arrived)."""
        self.scan_files()
        units = self.ledger.units()
        with self.ledger.lock:
            arr = dict(self.ledger.arrivals)
        missing = [u for u in units if u not in arr]
        return units, arr, missing

    def drain(self, timeout=90):
        """Wait until every accepted unit has arrived and the queue is empty."""
        deadline = time.time() + timeout
        kicked = 0
        while time.time() < deadline:
            units, arr, missing = self.units_state()
            counts = self.inst.queue_counts()
            queued = sum(counts[q] for q in ("maildrop", "incoming", "active", "deferred"))
            if not missing and queued == 0:
                return True
            if time.time() > kicked + 3 and self.inst.running:
                try:
                    self.inst.flush()
                except OSError:
                    pass
                kicked = time.time()
            time.sleep(0.2)
        return False

    def account(self, kills):
        """Figures of a finished run: dict with accepted, delivered, returned,
        lost, duplicates, queued, explained, unexplained."""
        units, arr, missing = self.units_state()
        counts = self.inst.queue_counts()
        queued = sum(counts[q] for q in ("maildrop", "incoming", "active", "deferred", "hold"))
        log = self.inst.log()
        dups, unexplained, explained = [], [], []
        used = set()
        for (tok, kind), lst in sorted(arr.items()):
            if len(lst) < 2:
                continue
            dups.append(((tok, kind), len(lst)))
            for extra in sorted(lst)[:-1]:
                why = explain_duplicate(tok, kind, extra, kills, log, used)
                (explained if why else unexplained).append((tok, kind, extra, why))
        def notice(u):
            return any(info == "notice" for _, info in arr[u])
        delivered = sum(1 for u in units if u in arr and not notice(u))
        returned = sum(1 for u in units if u in arr and notice(u))
        bounced_unexpectedly = sorted(u for u in units if u in arr and u[1] != "fail"
                                      and notice(u))
        return dict(accepted_msgs=len(self.ledger.accepted), accepted=len(units),
                    delivered=delivered, returned=returned,
                    bounced_unexpectedly=bounced_unexpectedly,
                    lost=len(missing) if queued == 0 else None, missing=missing,
                    queued=queued, corrupt=counts["corrupt"],
                    duplicates=sum(n - 1 for _, n in dups), explained=explained,
                    unexplained=unexplained, unconfirmed=len(self.ledger.unconfirmed),
                    unconfirmed_detail=dict(self.ledger.unconfirmed),
                    unconfirmed_delivered=sum(
                        1 for t, (kinds, _, _) in self.ledger.unconfirmed.items()
                        for k in kinds if (t, k) in arr))

    def stop(self):
        self.sink.stop()


AGENT_OF = {"smtp": ("smtp",), "local": ("local",), "pipe": ("pipe",),
            "fail": ("bounce", "smtp", "error", "qmgr")}
DUP_WINDOW = 4.0
# A notice is sent again when the bounce service (or the queue manager
# waiting for its answer) died after the notice was queued and before the
# log was removed; the first copy arrives later than that kill, through smtp.
NOTICE_BEFORE = 20.0


def explain_duplicate(tok, kind, first, kills, log, used):
    """A copy delivered before a kill that came before its outcome was
    recorded: a kill of the kind of agent that delivers `kind` (or of master,
    whose death ends every daemon), right after that copy arrived, whose
    process never logged that delivery as sent.  Returns a text or None."""
    when, info = first
    mid = re.search(r"(\w+): message-id=<%s@fault.test>" % tok, log)
    qids = set(re.findall(r"(\w+): message-id=<%s@fault.test>" % tok, log))
    pipe_pid = None
    orphan = False
    if kind == "pipe":
        pipe_pid = int(info.split(".")[0])
        # Parent 1: the agent was gone before its command ended (the
        # command runs in a session of its own and finishes anyway).
        orphan = pipe_pid == 1
    for i, (t, prog, pid) in enumerate(kills):
        if i in used:
            continue
        if prog not in AGENT_OF[kind] + ("master",):
            continue
        if pipe_pid is not None and prog == "pipe" and pid != pipe_pid and not orphan:
            continue
        before = NOTICE_BEFORE if kind == "fail" or orphan else 0.5
        if not (when - before <= t <= when + DUP_WINDOW):
            continue
        if prog != "master":
            sent = [q for q in qids if re.search(
                r"%s\[%d\]: %s: to=<[^>]*>,.*status=sent" % (prog, pid, q), log)]
            if sent:
                continue
        used.add(i)
        return "%s pid %d killed %.2f s after the copy at %s, before it logged the " \
               "delivery (message %s)" % (prog, pid, t - when, info,
                                          ",".join(sorted(qids)) or "?")
    del mid
    return None


def itconf_pids_of(instance, prog):
    out = []
    want = ("SLUICE_CONFIG_DIR=" + instance.conf).encode()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().split(b"\0")
            with open("/proc/%s/environ" % p, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if cmd and os.path.basename(cmd[0]) == prog.encode() and want in env.split(b"\0"):
            out.append(int(p))
    return out


def instance_procs(instance):
    """Every live process of the instance's daemons (by SLUICE_CONFIG_DIR)."""
    out = []
    want = ("SLUICE_CONFIG_DIR=" + instance.conf).encode()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % p, "rb") as f:
                if want in f.read().split(b"\0"):
                    out.append((int(p), proc_name(int(p))))
        except OSError:
            continue
    return out


def wipe(path):
    shutil.rmtree(path, ignore_errors=True)


def showq_poke(instance):
    """Connect to public/showq so that master starts a showq process."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(os.path.join(instance.spool, "public", "showq"))
    except OSError:
        s.close()
        return None
    return s


def kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def fresh_instance(cleanup):
    """Another Instance like the fixture's (a mode-0755 folder under /tmp);
    cleanup is the fixture list that removes it afterwards."""
    import tempfile
    base = tempfile.mkdtemp(prefix="sluice-test-")
    os.chmod(base, 0o755)
    inst = itconf.Instance(base)
    cleanup.append(inst)
    return inst


def kill_all(instance):
    """SIGKILL master and every daemon of the instance (a fast stop; the
    queue copes with it as with any kill)."""
    try:
        with open(os.path.join(instance.spool, "pid", "master.pid")) as f:
            kill(int(f.read()))
    except (OSError, ValueError):
        pass
    for _ in range(50):
        procs = instance_procs(instance)
        if not procs:
            break
        for pid, _ in procs:
            kill(pid)
        time.sleep(0.05)
    instance.running = False


def mail_owner_ids():
    import pwd
    pw = pwd.getpwnam("sluice")
    return pw.pw_uid, pw.pw_gid


def cpu_seconds(pid):
    """User + system CPU seconds of a live process (0 if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_rates(instance, seconds):
    """{program: CPU share} of the instance's daemons over `seconds`."""
    before = {pid: (name, cpu_seconds(pid)) for pid, name in instance_procs(instance)}
    t0 = time.time()
    time.sleep(seconds)
    dt = time.time() - t0
    out = {}
    for pid, name in instance_procs(instance):
        c0 = before.get(pid, (name, 0.0))[1]
        out[name] = out.get(name, 0.0) + (cpu_seconds(pid) - c0) / dt
    return out


class Feeder:
    """Background submissions (sendmail as root and smtpd) until stopped."""

    def __init__(self, world, pause=0.1):
        self.w = world
        self.pause = pause
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self._cli), threading.Thread(target=self._smtp)]
        for t in self.threads:
            t.start()

    def _cli(self):
        while not self.stop_ev.is_set():
            self.w.submit_sendmail()
            time.sleep(self.pause)

    def _smtp(self):
        box = [None]
        while not self.stop_ev.is_set():
            self.w.submit_smtp(box)
            time.sleep(self.pause)
        self.w._drop(box)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join()


def start_with_env(instance, env):
    """sluice start with extra environment for master (and, through
    import_environment, its daemons)."""
    instance.sluice("start", env=env)
    instance.running = True
    instance.wait_for(lambda: os.path.exists(
        os.path.join(instance.spool, "private", "qmgr-control")), 30, "qmgr")
