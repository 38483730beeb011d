"""No timer runs wild: a message that fails at once is not retried in a
busy loop (finding of the power-loss suite).

A queue file the queue manager cannot open (here: owned by root, mode 0700,
as a restore by hand can leave it) fails its import at once and is deferred
for minimal_backoff_time.  With a backoff within the deferred scan's
one-second slop (minimal_backoff_time = 1s) the same scan took it again at
once: 5,373 attempts and warnings in 3 s.  Now a scan takes each message
once; the next scan retries it.
"""
import os
import time

import pytest

import faultlib


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_unreadable_file_not_retried_in_a_loop(instance):
    how = "short_backoff"
    if os.geteuid() != 0:
        pytest.skip("needs root: the queue manager must not be able to read the file")
    instance.write_config(minimal_backoff_time="1s", maximal_backoff_time="2s",
                          queue_run_delay="1s")
    qid = instance.inject(["x@localhost"], kick=False, queue="active")
    for root, _, files in os.walk(os.path.join(instance.spool, "active")):
        if qid in files:
            os.chown(os.path.join(root, qid), 0, 0)
    instance.start()
    instance.wait_log(r"%s: open .*: Permission denied" % qid)
    qmgr = faultlib.itconf_pids_of(instance, "qmgr")[0]
    c0, n0, t0 = cpu_seconds(qmgr), instance.count_log(qid), time.time()
    time.sleep(3)
    cpu = (cpu_seconds(qmgr) - c0) / (time.time() - t0)
    tries = instance.count_log(r"%s: open" % qid) - n0
    print("%s: %d attempts in %.1f s, qmgr CPU %.0f %%" % (how, tries, time.time() - t0,
                                                         cpu * 100))
    assert tries <= 12, "%d attempts in 3 s" % tries
    assert cpu < 0.3
    # It is still there, and goes once it can be read.
    for root, _, files in os.walk(instance.spool):
        if qid in files:
            os.chown(os.path.join(root, qid), *faultlib.mail_owner_ids())
    instance.flush()
    instance.wait_for(lambda: instance.maildir_messages("x"), 30, "the delivery")
