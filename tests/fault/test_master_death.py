"""A killed master takes its daemons with it (finding of the kill -9 suite).

Before: qmgr, pickup and the rest went on after master was killed, and the
operator's `sluice start` started a second queue manager and pickup on the
same queue beside them.  Now every daemon master started gets SIGTERM when
master exits (what `sluice stop` sends), and the next start is the only
system on the queue.
"""
import os
import signal
import time

import faultlib


def test_daemons_end_with_master(instance):
    instance.start()
    w_pids = lambda prog: faultlib.itconf_pids_of(instance, prog)  # noqa: E731
    instance.wait_for(lambda: w_pids("qmgr") and w_pids("pickup"), 20, "qmgr and pickup")
    sock = faultlib.showq_poke(instance)
    instance.wait_for(lambda: w_pids("showq"), 20, "a showq process")
    with open(os.path.join(instance.spool, "pid", "master.pid")) as f:
        master = int(f.read())
    before = faultlib.instance_procs(instance)
    assert {"qmgr", "pickup", "showq"} <= {n for _, n in before}, before
    os.kill(master, signal.SIGKILL)
    deadline = time.time() + 10
    while faultlib.instance_procs(instance) and time.time() < deadline:
        time.sleep(0.05)
    left = [(pid, name, open("/proc/%d/status" % pid).read().split("PPid:")[1].split()[0])
            for pid, name in faultlib.instance_procs(instance)]
    assert not left, "daemons outlived master %d: %s" % (master, left)
    sock.close()
    instance.sluice("start")
    instance.wait_for(lambda: w_pids("qmgr"), 20, "the new qmgr")
    time.sleep(0.5)
    assert len(w_pids("qmgr")) == 1 and len(w_pids("pickup")) == 1
    # The new system delivers.
    instance.sendmail(["someone@localhost"])
    instance.wait_for(lambda: instance.maildir_messages("someone"), 20, "delivery")
