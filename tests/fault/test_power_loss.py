"""Power loss: crash consistency of the queue (issue 17, item 2).

The file system calls of a small run are recorded with strace: submission
(sendmail as root, and as nobody through the set-gid postdrop), pickup and
cleanup, the queue manager's moves, the smtp agent's done marks and defer
log (one recipient is refused with 451 the first time, so its message is
deferred with one recipient done).  crashsim replays every prefix of that
trace onto a copy of the queue under three crash models (see crashsim.py),
and each distinct crash state is recovered by starting sluice on it.  It
runs once for each way a new queue file is committed: queue_folder_fsync =
yes (fsync, rename, folder fsync) under prefix, data and strict, POSIX's
promise; and the default, no (rename, then one fsync of the file) under
prefix, data and names, the promise of ext4, XFS and btrfs that the default
relies on (on another file system the default takes the first order, which
names also checks).  Every message whose sendmail had exited 0 before
the crash must then be delivered intact to every recipient the sink had not
already got before the crash; recovery must not crash (no fatal or panic,
nothing accepted in corrupt/).

FAULT_ROUNDS=N: how many crash states per model are recovered (all distinct
ones when N is large; the test command takes a few, spread over the trace).
"""
import grp
import hashlib
import os
import pwd
import re
import signal
import subprocess
import time

import pytest

import crashsim
import faultlib
import itconf

# queue_folder_fsync: the crash models its commit order must survive
MODELS = {"yes": ("prefix", "data", "strict"), "no": ("prefix", "data", "names")}


class RecSink:
    """Two SMTP sinks in one: ok.test accepts; later.test refuses with 451
    until told otherwise.  Records (time, rcpt, body digest)."""

    def __init__(self, refuse_later=True, got=None):
        from aiosmtpd.controller import Controller
        self.got = [] if got is None else got
        self.refuse_later = refuse_later
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.refuse_later and any(r.endswith("@later.test")
                                             for r in envelope.rcpt_tos):
                    return "451 4.3.0 come back later"
                body = envelope.content.replace(b"\r\n", b"\n").split(b"\n\n", 1)[-1]
                for r in envelope.rcpt_tos:
                    sink.got.append((time.time(), r, hashlib.sha1(body).hexdigest(), body))
                return "250 2.0.0 Ok"

        self.port = itconf.free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()


def message(i):
    body = "token pl%d\n%s\n" % (i, "".join("line %d of message %d\n" % (j, i)
                                            for j in range(40 + 200 * i)))
    return ("Subject: power loss %d\nMessage-ID: <pl%d@fault.test>\n\n%s" % (i, i, body),
            hashlib.sha1(body.encode()).hexdigest())


def traced_env():
    """LeakSanitizer cannot run under ptrace: leak checks off while traced."""
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_CONFIG_DIR"}
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    return env


def strace_cmd(out):
    return ["strace", "-f", "-ttt", "-q", "-yy", "-xx", "-s", "4000000",
            "-e", "trace=" + crashsim.TRACED, "-o", out]


def record(inst, rec_dir, folder_fsync):
    """Run the recorded workload; returns (Trace, accepted, delivered)."""
    sink = RecSink(refuse_later=False)
    later = RecSink(refuse_later=True, got=sink.got)
    inst.write_config(transport_maps="inline:{ ok.test=smtp:[127.0.0.1]:%d, "
                      "later.test=smtp:[127.0.0.1]:%d }" % (sink.port, later.port),
                      minimal_backoff_time="60s", maximal_backoff_time="60s",
                      queue_run_delay="60s", queue_folder_fsync=folder_fsync)
    os.makedirs(rec_dir)
    daemons = os.path.join(rec_dir, "daemons.txt")
    tracer = subprocess.Popen(strace_cmd(daemons) + [
        itconf.SLUICE, "-c", inst.conf, "start", "-f"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=traced_env())
    try:
        inst.running = True
        inst.wait_for(lambda: os.path.exists(os.path.join(inst.spool, "private",
                                                          "qmgr-control")), 60, "qmgr")
        time.sleep(1.0)
        t0 = time.time()
        snap = os.path.join(rec_dir, "snapshot")
        subprocess.run(["cp", "-a", inst.spool, snap], check=True)
        user_sluice = itconf.user_programs()[0] if os.geteuid() == 0 else None
        subs, accepted = [], {}
        plan = [("root", ["a@ok.test"]), ("nobody", ["b@ok.test", "c@later.test"]),
                ("root", ["d@ok.test", "e@ok.test"])]
        for i, (who, rcpts) in enumerate(plan):
            text, digest = message(i)
            out = os.path.join(rec_dir, "sub%d.txt" % i)
            subs.append(out)
            if who == "nobody" and user_sluice:
                scratch = os.path.join(inst.base, "ns")
                os.makedirs(scratch, exist_ok=True)
                argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        faultlib.NS_SCRIPT, "sh", scratch, inst.conf, "setpriv",
                        "--reuid=nobody", "--regid=nogroup", "--clear-groups", user_sluice,
                        "sendmail", "--"] + rcpts
            else:
                argv = [itconf.SLUICE, "-c", inst.conf, "sendmail", "--"] + rcpts
            p = subprocess.run(strace_cmd(out) + argv, input=text.encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                               env=traced_env())
            assert p.returncode == 0, p.stderr
            accepted[i] = (rcpts, digest, out)
        inst.wait_for(lambda: len(sink.got) >= 4 and inst.count_log("status=deferred") >= 1,
                      90, "the deliveries and the deferral")
        time.sleep(1.0)
    finally:
        tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(30)
        except subprocess.TimeoutExpired:
            tracer.kill()
        inst.running = True
        inst.stop()
        sink.stop()
        later.stop()
    # When was each submission told "accepted": its first process's exit.
    acc_time = {}
    for i, (rcpts, digest, out) in accepted.items():
        with open(out) as f:
            first = int(f.readline().split()[0])
        for ts, pid, call, st, _ in crashsim.parse_lines([out]):
            if call == "+exit" and pid == first:
                acc_time[i] = ts
    nobody = pwd.getpwnam("nobody").pw_uid
    drop = grp.getgrnam("sluicedrop").gr_gid if os.geteuid() == 0 else 0
    owners = {1 + i: ((nobody, drop) if who == "nobody" and user_sluice else (0, 0))
              for i, (who, _) in enumerate(plan)}
    trace = crashsim.Trace(inst.spool, [daemons] + subs, t0, snap, owners)
    return trace, accepted, acc_time, list(sink.got)


def cut_points(trace, n):
    """Every operation index, or n of them: first the moments submitters
    were told "accepted" (their exits), then renames and syncs spread over
    the trace."""
    all_k = list(range(-1, len(trace.ops)))
    if n >= len(all_k):
        return all_k
    exits = [k for k in all_k if k >= 0 and trace.ops[k][1][0] == "exit"]
    key = [k for k in all_k if k >= 0 and trace.ops[k][1][0] in ("rename", "fsync", "syncall")]
    step = max(1, len(key) // max(1, n - len(exits)))
    return sorted(set((exits + key[::step])[:n]))


def folder_fsyncs(trace, folder):
    """How many times the trace fsyncs a queue folder."""
    ino = trace.ns0.get(os.path.join(trace.root, folder))
    return sum(1 for _, op in trace.ops if op[0] == "fsync" and op[1] == ino)


@pytest.mark.parametrize("folder_fsync", ["yes", "no"])
def test_power_loss(instance, cleanup, folder_fsync):
    n = faultlib.rounds(1)
    # The recording's paths must be reproducible in the recovery instance:
    # record in one, recover in another, mapping spool to spool.
    trace, accepted, acc_time, rec_got = None, None, None, None
    trace, accepted, acc_time, rec_got = record(instance, os.path.join(instance.base, "rec"),
                                                folder_fsync)
    ops = trace.ops
    kinds = {}
    for _, op in ops:
        kinds[op[0]] = kinds.get(op[0], 0) + 1
    one_sync = folder_fsync == "no" and itconf.names_follow_fsync(instance.spool)
    print("trace: %d operations %s; maildrop/ fsync'd %d times, incoming/ %d times; "
          "one-fsync commits: %s" % (len(ops), kinds, folder_fsyncs(trace, "maildrop"),
                                     folder_fsyncs(trace, "incoming"), one_sync))
    assert kinds.get("rename", 0) >= 6 and kinds.get("fsync", 0) + kinds.get("syncall", 0) >= 3
    # The order under test is the one that ran: sendmail's commits into
    # maildrop/ sync that folder (root) or the file system (syncfs, the
    # user's postdrop) only in the folder order ...
    assert (folder_fsyncs(trace, "maildrop") + kinds.get("syncall", 0) == 0) == one_sync
    # ... and pickup's copies, under the maildrop file's ID, always take it:
    # that ID in incoming/ tells a restarted pickup the copy is complete.
    assert folder_fsyncs(trace, "incoming") >= len(accepted)

    sink = RecSink(refuse_later=False)
    rinst = faultlib.fresh_instance(cleanup)
    rinst.write_config(transport_maps="inline:{ ok.test=smtp:[127.0.0.1]:%d, "
                       "later.test=smtp:[127.0.0.1]:%d }" % (sink.port, sink.port),
                       minimal_backoff_time="1s", maximal_backoff_time="2s",
                       queue_run_delay="1s")
    figures = dict(states=0, accepted=0, delivered=0, lost=0, duplicates=0, damaged=0,
                   crashes=0)
    problems = []
    seen = set()
    try:
        for model in MODELS[folder_fsync]:
            for k in cut_points(trace, n):
                tcut = ops[k][0] if k >= 0 else 0.0
                state = trace.state_at(k, model)
                key = digest_state(trace, state)
                if key in seen:
                    continue
                seen.add(key)
                # What must come out of this state.
                want = []
                for i, (rcpts, digest, _) in accepted.items():
                    if acc_time.get(i, 1e18) > tcut:
                        continue
                    for r in rcpts:
                        if any(t <= tcut and gr == r for t, gr, _, _ in rec_got):
                            continue        # the sink had it before the crash
                        want.append((i, r, digest))
                res = recover(trace, state, rinst, sink, want)
                figures["states"] += 1
                figures["accepted"] += len(want)
                figures["delivered"] += res["delivered"]
                figures["duplicates"] += res["duplicates"]
                for what in ("lost", "damaged", "crashes"):
                    if res[what]:
                        figures[what] += len(res[what])
                        problems.append("%s after op %d (%s, %s): %s %s" % (
                            model, k, ops[k][1][0] if k >= 0 else "start",
                            describe(ops[k][1]) if k >= 0 else "", what, res[what]))
    finally:
        sink.stop()
    print("power loss: %s" % figures)
    faultlib.results_file_append(dict(scenario="power_loss", rounds=figures["states"],
                                      queue_folder_fsync=folder_fsync,
                                      operations=len(ops), **figures))
    assert figures["states"] >= min(n, 3)
    assert figures["accepted"] >= 1, "no crash state had an accepted message to check"
    assert not problems, "\n".join(problems[:20])


def describe(op):
    return " ".join(str(x)[:80] for x in op[1:] if not isinstance(x, (bytes, bytearray)))


def digest_state(trace, state):
    ns, inodes = state
    h = hashlib.sha1()
    for p in sorted(ns):
        n = inodes[ns[p]]
        h.update(p.encode(errors="surrogateescape") + b"\0" + bytes(n.data) + b"\0" +
                 str((n.kind, n.mode)).encode())
    return h.hexdigest()


def recover(trace, state, rinst, sink, want):
    """Start sluice on a crash state; wait for what must come out."""
    faultlib.wipe(rinst.spool)
    os.makedirs(rinst.spool)
    os.chmod(rinst.spool, 0o755)
    trace.materialize(state, rinst.spool)
    before = len(sink.got)
    res = dict(delivered=0, duplicates=0, lost=[], damaged=[], crashes=[])
    try:
        rinst.start()
    except AssertionError as e:
        res["crashes"].append("start: %s" % str(e)[:300])
        return res

    def got():
        return sink.got[before:]

    def done():
        have = {(r, d) for _, r, d, _ in got()}
        c = rinst.queue_counts()
        return all((r, d) in have for _, r, d in want) and \
            c["maildrop"] + c["incoming"] + c["active"] == 0
    try:
        rinst.wait_for(done, 20, "recovery")
    except AssertionError:
        pass
    rinst.flush()
    time.sleep(0.3)
    faultlib.kill_all(rinst)
    g = got()
    have = {}
    for _, r, d, _ in g:
        have[(r, d)] = have.get((r, d), 0) + 1
    rcpt_digests = {}
    for _, r, d, _ in g:
        rcpt_digests.setdefault(r, set()).add(d)
    wanted = {(r, d) for _, r, d in want}
    # Copies of what the sink already had before the crash: delivered twice
    # (a done mark that did not survive; docs/QUEUE.md section 5, window b).
    res["duplicates"] += sum(n for k, n in have.items() if k not in wanted)
    for i, r, d in want:
        if (r, d) in have:
            res["delivered"] += 1
            res["duplicates"] += have[(r, d)] - 1
        elif r in rcpt_digests:
            res["damaged"].append((i, r))
        else:
            res["lost"].append((i, r))
    log = rinst.log()
    bad = [ln for ln in log.splitlines() if re.search(r": (fatal|panic): ", ln)
           or "AddressSanitizer" in ln or "runtime error" in ln]
    res["crashes"] += bad[:3]
    if len(log.splitlines()) > 1000:
        res["crashes"].append("%d log lines: a process in a loop? %s" % (
            len(log.splitlines()), log.splitlines()[len(log.splitlines()) // 2][:200]))
    corrupt = rinst.queue_ids("corrupt")
    # A message moved aside must not be one that was accepted.
    for qid in corrupt:
        for dirpath, _, files in os.walk(os.path.join(rinst.spool, "corrupt")):
            if qid in files:
                data = open(os.path.join(dirpath, qid), "rb").read()
                for i, r, d in want:
                    if b"token pl%d\n" % i in data and (r, d) not in have:
                        res["damaged"].append((i, r, "corrupt/" + qid))
    with open(rinst.maillog, "a") as f:
        f.write("---- end of recovery ----\n")
    os.rename(rinst.maillog, rinst.maillog + ".%d" % time.time_ns())
    return res
