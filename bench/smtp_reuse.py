#!/usr/bin/python3
"""What SMTP connection reuse gains: N back-to-back deliveries by one smtp
agent process to one destination, with and without reuse.

The agent is driven as the queue manager drives it (one qmgr connection,
one request after the other, DEL_REQ_FLAG_REUSE set or not) and delivers
to Postfix's smtp-sink on 127.0.0.1 (our scripted Python peer when
smtp-sink is missing: slower, so the gain looks smaller).  Use a build
without sanitizers for figures worth quoting:

  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSLUICE_SANITIZE=OFF && ninja -C build-release smtp qfmake
  /usr/bin/python3 bench/smtp_reuse.py --build build-release --count 200

Optionally --tls makes the sink a STARTTLS peer (our Python peer with a
throw-away certificate) with smtp_tls_security_level = may, where each new
connection also costs a TLS handshake.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(harness_mod, nexthop, count, reuse, params):
    a = harness_mod.AgentHarness(dict(params, smtp_connection_cache_time_limit="10s"))
    try:
        msgs = [a.message(["user%d@example.test" % i],
                          body="From: bench@example.test\nSubject: bench %d\n\n%s\n"
                          % (i, "x" * 2000)) for i in range(count)]
        c = a.connect()
        flags = harness_mod.FLAG_REUSE if reuse else 0
        lat = []
        t0 = time.perf_counter()
        for m in msgs:
            t = time.perf_counter()
            r = a.request(c, m, nexthop, flags=flags)
            lat.append(time.perf_counter() - t)
            assert r["sent"] == 1, (r, a.log()[-2000:])
        total = time.perf_counter() - t0
        reused = a.log().count("conn_use=")
        return total, lat, reused
    finally:
        a.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    os.environ["SLUICE_BUILD_DIR"] = os.path.abspath(args.build)
    import smtp_peers

    params = {"max_use": str(max(1000, args.count + 1))}
    sink = peer = None
    tmp = tempfile.mkdtemp(prefix="sluice-bench-")
    try:
        if args.tls:
            cert, key = smtp_peers.make_cert(tmp, "localhost", names=["localhost"])
            peer = smtp_peers.Peer(tls=smtp_peers.server_context(cert, key))
            nexthop, kind = peer.nexthop, "python peer with STARTTLS"
            params["smtp_tls_security_level"] = "may"
        elif shutil.which("smtp-sink") or os.path.exists("/usr/sbin/smtp-sink"):
            port = free_port()
            exe = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
            argv = [exe]
            if os.geteuid() == 0:
                argv += ["-u", "nobody"]
            sink = subprocess.Popen(argv + ["127.0.0.1:%d" % port, "256"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            nexthop, kind = "[127.0.0.1]:%d" % port, "postfix smtp-sink"
        else:
            peer = smtp_peers.Peer()
            nexthop, kind = peer.nexthop, "python peer"

        print("%d deliveries, one agent process, one qmgr connection, server: %s"
              % (args.count, kind))
        for reuse in (False, True):
            total, lat, reused = run(smtp_peers, nexthop, args.count, reuse, params)
            print("  %-14s total %6.2f s  %7.1f msg/s  median %5.2f ms  p95 %5.2f ms  "
                  "reused sessions %d" % ("with reuse" if reuse else "without reuse", total,
                                          args.count / total,
                                          statistics.median(lat) * 1000,
                                          sorted(lat)[int(0.95 * len(lat))] * 1000, reused))
    finally:
        if sink:
            sink.terminate()
            sink.wait()
        if peer:
            peer.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
