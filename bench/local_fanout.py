#!/usr/bin/python3
"""local_fanout.py - one message to N local recipients through the local agent.

    local_fanout.py BUILD_DIR QGEN WORKDIR N

Drives BUILD_DIR/local the way the queue manager does for local mail
(local_destination_recipient_limit = 1): one delivery request per recipient,
one after the other, on one connection (max_use is set high so that one
process serves them all; the queue manager would spread them over agent
processes of max_use requests each, which changes nothing per request).
The message (1,000 bytes) is written into active/ by QGEN (bench/qgen.c,
-r N): recipients u0+0@d0.test .. u0+<N-1>@d0.test, all delivered to one
Maildir, local_mailbox_base/u0 (recipient_delimiter = +), so each delivery
is the agent's cheapest real one: fork, write, fsync, link.

The agent is started through tests/integration/agent_harness.py (its own
main.cf, queue and maillog under WORKDIR).  Printed on one line:
"N wall_seconds agent_cpu_seconds" where agent CPU is the agent's utime +
stime plus that of the delivery children it reaped (/proc/PID/stat fields
14-17), read just before the connection is closed.
"""
import os
import pwd
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: local_fanout.py BUILD_DIR QGEN WORKDIR N")
    build, qgen, workdir, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    os.environ["SLUICE_BUILD_DIR"] = build
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
    import agent_harness as ah

    os.makedirs(workdir, exist_ok=True)
    os.environ["TMPDIR"] = workdir
    import tempfile
    tempfile.tempdir = workdir
    h = ah.AgentHarness("local", main_cf=(
        "mydestination = d0.test\nlocal_mailbox_base = %s/mail\n"
        "recipient_delimiter = +\nmax_use = 10000000\n" % workdir))
    try:
        subprocess.run([qgen, "-q", "active", "-d", "1", "-r", str(n), h.spool, "1"],
                       check=True, stdout=subprocess.DEVNULL)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("sluice")
            for root, dirs, files in os.walk(h.spool):
                for name in dirs + files:
                    os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
            os.chown(h.spool, pw.pw_uid, pw.pw_gid)
        qid = os.listdir(os.path.join(h.spool, "active"))[0]
        path = os.path.join(h.spool, "active", qid)
        rcpts = [(off, data.decode()) for off, t, data in ah.read_records(path) if t == "R"]
        assert len(rcpts) == n, len(rcpts)
        h.start()
        start = time.monotonic()
        for off, addr in rcpts:
            now = time.time()
            pairs = [("queue_name", "active"), ("queue_id", qid), ("transport", "local"),
                     ("nexthop", "d0.test"), ("sender", "s@bench.test"), ("envid", ""),
                     ("ret", 0), ("flags", 0), ("offset", 0), ("size", 0),
                     ("arrival_time", "%.6f" % now), ("active_time", "%.6f" % now),
                     ("request_time", "%.6f" % now), ("rcpt_count", 1),
                     ("rcpt", addr), ("orig_rcpt", ""), ("dsn_orcpt", ""), ("notify", 0),
                     ("rcpt_offset", off)]
            h.conn.sendall(ah.encode_frame(pairs))
            reply = dict(ah.read_frame(h.conn, timeout=600))
            if reply.get("sent") != "1":
                sys.exit("delivery to %s failed: %s\n%s" % (addr, reply, h.log()[-2000:]))
        wall = time.monotonic() - start
        with open("/proc/%d/stat" % h.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = sum(int(x) for x in fields[11:15])      # utime stime cutime cstime
        cpu = ticks / os.sysconf("SC_CLK_TCK")
        delivered = len(os.listdir(os.path.join(workdir, "mail", "u0", "new")))
        assert delivered == n, delivered
        print("%d %.2f %.2f" % (n, wall, cpu))
    finally:
        h.cleanup()
        subprocess.run(["rm", "-rf", os.path.join(workdir, "mail")])


if __name__ == "__main__":
    main()
