"""Resource exhaustion (issue 17, item 4).

While mail flows (sendmail and smtpd in, SMTP sink, Maildirs, a pipe and
bounces out), one resource is taken away from running daemons and then
given back:

- descriptors: `prlimit --nofile` of qmgr, smtpd and pickup squeezed to a
  handful;
- processes: `prlimit --nproc=1` on the pipe agents (their commands cannot
  start);
- memory: `prlimit --as` of each kind of daemon just above what it uses;
- a slow disk: every fsync sleeps (LD_PRELOAD tests/tools/slow_fsync.c);
- the clock jumps an hour forwards, then two hours back (Debian's faketime:
  libfaketime with a time-stamp file; the monotonic clock is left alone, as
  a real jump would).

Each time the system must degrade and recover: no message lost, every
accepted message delivered (or returned) once the resource is back, the
daemons' CPU low while they are starved and after the clock went back (no
busy loop, no timer running wild), and delivery at work again afterwards.
"""
import os
import random
import subprocess
import time

import pytest

import faultlib
import itconf
from faultlib import Feeder, World

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SLOW_FSYNC = os.path.join(itconf.BUILD, "tests", "slow_fsync.so")
CPU_LIMIT = 0.5         # a daemon's CPU share while starved or after a jump
# The test command runs the descriptor/process and clock scenarios;
# scripts/torture (FAULT_ROUNDS) adds the memory and slow-disk ones.
long_only = pytest.mark.skipif(not os.environ.get("FAULT_ROUNDS"),
                               reason="long campaign only (scripts/torture)")


def prlimit(pid, *args):
    return subprocess.run(["prlimit", "--pid", str(pid)] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).returncode == 0


def finish(w, name, extra, problems):
    """Drain, count, record."""
    drained = w.drain(120)
    res = w.account([])
    figures = dict(scenario="exhaustion_" + name, rounds=1, accepted=res["accepted"],
                   delivered=res["delivered"], returned=res["returned"],
                   lost=len(res["missing"]), duplicates=res["duplicates"], **extra)
    print("%s: %s" % (name, figures))
    faultlib.results_file_append(figures)
    if res["missing"] or not drained:
        problems.append("%s: missing %s, queued %d" % (name, res["missing"][:5], res["queued"]))
    if res["bounced_unexpectedly"]:
        problems.append("%s: bounced though nothing was wrong with them: %s" % (
            name, res["bounced_unexpectedly"][:5]))
    if res["duplicates"]:
        problems.append("%s: %d duplicates without a kill" % (name, res["duplicates"]))
    if res["corrupt"]:
        problems.append("%s: %d files in corrupt/" % (name, res["corrupt"]))
    return res


def delivering(w, within=20):
    """A new message gets through within `within` seconds."""
    n0 = len(w.ledger.arrivals)
    rc, _ = w.submit_sendmail()
    deadline = time.time() + within
    while time.time() < deadline:
        w.scan_files()
        if len(w.ledger.arrivals) > n0:
            return True
        time.sleep(0.2)
    return rc != 0 and False


def busy(rates):
    return {k: round(v, 2) for k, v in rates.items() if v > CPU_LIMIT}


def test_descriptor_and_process_limits(instance):
    w = World(instance, random.randrange(1 << 30), postdrop=False)
    problems = []
    try:
        instance.start()
        f = Feeder(w)
        progs = ("qmgr", "pickup", "smtpd", "smtp", "local", "bounce", "pipe")
        instance.wait_for(lambda: all(w.pids(p) for p in progs), 30, "every daemon at work")
        limited = []
        for prog in progs:
            for pid in w.pids(prog):
                if prog == "pipe":
                    ok = prlimit(pid, "--nproc=1:1")
                else:
                    # One descriptor more than it has open now.
                    try:
                        n = len(os.listdir("/proc/%d/fd" % pid)) + 1
                    except OSError:
                        continue
                    ok = prlimit(pid, "--nofile=%d:%d" % (n, n))
                if ok:
                    limited.append((prog, pid))
        rates = faultlib.cpu_rates(instance, 4)
        if busy(rates):
            problems.append("busy while starved: %s" % busy(rates))
        for prog, pid in limited:
            prlimit(pid, "--nofile=1024:1024" if prog != "pipe" else "--nproc=unlimited:unlimited")
        time.sleep(2)
        f.stop()
        if not delivering(w):
            problems.append("no delivery after the limits were lifted")
        log = instance.log()
        finish(w, "fd_nproc", dict(limited=len(limited),
                                   emfile=log.count("Too many open files"),
                                   nproc=log.count("Resource temporarily unavailable"),
                                   restarts=log.count("killed by signal") +
                                   log.count("exit status")), problems)
    finally:
        w.stop()
    assert limited, "no daemon to limit"
    assert not problems, "\n".join(problems)


@long_only
def test_memory_limits(instance):
    w = World(instance, random.randrange(1 << 30), postdrop=False)
    problems = []
    limited = []
    try:
        instance.start()
        f = Feeder(w)
        time.sleep(2)
        for prog in ("qmgr", "pickup", "smtpd", "smtp", "local", "pipe", "bounce", "master"):
            for pid in w.pids(prog):
                try:
                    with open("/proc/%d/status" % pid) as st:
                        vm = [int(ln.split()[1]) * 1024 for ln in st
                              if ln.startswith("VmSize:")][0]
                except (OSError, IndexError):
                    continue
                lim = vm + (16 << 20)
                if prlimit(pid, "--as=%d:%d" % (lim, lim)):
                    limited.append((prog, pid))
        time.sleep(4)
        rates = faultlib.cpu_rates(instance, 2)
        if busy(rates):
            problems.append("busy under memory limits: %s" % busy(rates))
        for prog, pid in limited:
            prlimit(pid, "--as=unlimited:unlimited")
        f.stop()
        if not faultlib.itconf_pids_of(instance, "qmgr"):
            problems.append("no qmgr after the memory limits")
        if not delivering(w):
            problems.append("no delivery after the memory limits were lifted")
        log = instance.log()
        finish(w, "memory", dict(limited=len(limited),
                                 restarts=log.count("killed by signal") +
                                 log.count("exit status")), problems)
    finally:
        w.stop()
    assert limited
    assert not problems, "\n".join(problems)


@long_only
def test_slow_fsync(instance):
    if not os.path.exists(SLOW_FSYNC):
        pytest.skip("build tests/slow_fsync.so first")
    ctl = os.path.join(instance.base, "fsync_ms")
    with open(ctl, "w") as f:
        f.write("0")
    os.chmod(ctl, 0o644)
    w = World(instance, random.randrange(1 << 30), postdrop=False)
    instance.write_config(import_environment=(
        "SLUICE_CONFIG_DIR SLUICE_DAEMON_DIR SLUICE_MAILLOG_FD TZ LANG=C "
        "LD_PRELOAD SLOW_FSYNC_CTL"))
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {"LD_PRELOAD": SLOW_FSYNC, "SLOW_FSYNC_CTL": ctl,
           "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
    w.extra_env = env
    problems = []
    try:
        faultlib.start_with_env(instance, env)
        f = Feeder(w, pause=0.05)
        time.sleep(3)
        n_fast = len(w.ledger.accepted)
        with open(ctl, "w") as fh:
            fh.write("400")
        time.sleep(5)
        n_slow = len(w.ledger.accepted) - n_fast
        rates = faultlib.cpu_rates(instance, 2)
        if busy(rates):
            problems.append("busy on a slow disk: %s" % busy(rates))
        with open(ctl, "w") as fh:
            fh.write("0")
        time.sleep(3)
        f.stop()
        if not delivering(w):
            problems.append("no delivery once the disk was fast again")
        finish(w, "slow_fsync", dict(accepted_first_3s=n_fast, accepted_slow_7s=n_slow),
               problems)
        print("accepted in 3 s with fast fsync: %d; in 7 s with 400 ms fsync: %d" % (
            n_fast, n_slow))
    finally:
        w.stop()
    assert not problems, "\n".join(problems)


def test_clock_jumps(instance):
    if not os.path.exists(FAKETIME):
        pytest.skip("Debian's faketime is not installed")
    stamp = os.path.join(instance.base, "faketime")
    with open(stamp, "w") as f:
        f.write("+0\n")
    os.chmod(stamp, 0o644)
    w = World(instance, random.randrange(1 << 30), postdrop=False)
    fake = ("FAKETIME_TIMESTAMP_FILE FAKETIME_CACHE_DURATION FAKETIME_DONT_FAKE_MONOTONIC "
            "NO_FAKE_STAT")
    instance.write_config(import_environment=(
        "SLUICE_CONFIG_DIR SLUICE_DAEMON_DIR SLUICE_MAILLOG_FD TZ LANG=C LD_PRELOAD " + fake))
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {"LD_PRELOAD": FAKETIME, "FAKETIME_TIMESTAMP_FILE": stamp,
           "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "NO_FAKE_STAT": "1",
           "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
    w.extra_env = env
    problems = []
    figures = {}
    try:
        faultlib.start_with_env(instance, env)
        # Mail that waits: the sink says 451 to the first few.
        w.sink.fail_next = 6
        f = Feeder(w)
        time.sleep(3)
        for name, offset in (("forwards", "+3600"), ("backwards", "-3600")):
            with open(stamp, "w") as fh:
                fh.write(offset + "\n")
            time.sleep(1.5)
            rates = faultlib.cpu_rates(instance, 4)
            figures["cpu_after_" + name] = round(max(rates.values() or [0]), 2)
            if busy(rates):
                problems.append("busy after jumping %s: %s" % (name, busy(rates)))
            t = time.time()
            if not delivering(w):
                problems.append("no delivery after jumping %s" % name)
            figures["delivery_after_" + name + "_s"] = round(time.time() - t, 1)
        f.stop()
        with open(stamp, "w") as fh:
            fh.write("+0\n")
        finish(w, "clock", figures, problems)
    finally:
        w.stop()
    assert not problems, "\n".join(problems)
