"""The queue manager's live state: `sluice status --json` and `sluice top`
compared with what the test arranged (a dead destination, a busy one, a
healthy one, one whose server greets with odd bytes) and with the disk
(`sluice queue --json`)."""
import json
import os
import socket
import threading
import time

import pytest

from conftest import free_port


def routes(table):
    return "inline:{ " + ", ".join("%s=smtp:[127.0.0.1]:%d" % (d, p)
                                   for d, p in table.items()) + " }"


class Refuser:
    """A listening socket that greets with a 421 (odd bytes in the text) and
    hangs up, counting connections."""

    def __init__(self, greeting=b"421 4.3.2 busy \"now\" \\ \xff\xfe \x01 end\r\n"):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.greeting = greeting
        self.connections = 0
        self.stopped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                c.sendall(self.greeting)
                time.sleep(0.05)
            except OSError:
                pass
            c.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


def status(instance):
    p = instance.sluice("status", "--json")
    # Must be valid JSON and valid UTF-8 whatever the reasons held.
    return json.loads(p.stdout.decode("utf-8", errors="strict"))


def dest(st, port):
    found = [d for d in st["destinations"] if d["name"].endswith(":%d" % port)]
    return found[0] if found else None


def test_status_json_shows_what_was_arranged(instance, sink):
    busy = sink(delay=30)              # DATA takes 30 s: deliveries stay in flight
    ok = sink()
    odd = Refuser()
    dead_port = free_port()            # nobody listens
    instance.write_config(
        transport_maps=routes({"busy.test": busy.port, "ok.test": ok.port,
                               "dead.test": dead_port, "odd.test": odd.port}),
        initial_destination_concurrency=3, default_destination_concurrency_limit=3,
        minimal_backoff_time="300s", maximal_backoff_time="600s", queue_run_delay="300s")
    for i in range(10):
        instance.inject(["b%d@busy.test" % i], kick=False)
    for i in range(6):
        instance.inject(["d%d@dead.test" % i], kick=False)
        instance.inject(["o%d@odd.test" % i], kick=False)
    for i in range(4):
        instance.inject(["k%d@ok.test" % i], kick=False)
    t0 = time.time()
    instance.start()
    instance.wait_for(lambda: len(ok.received()) == 4, 30, "ok.test deliveries")
    instance.wait_log(r"to=<d\d@dead\.test>.*status=deferred", count=6)
    instance.wait_log(r"to=<o\d@odd\.test>.*status=deferred", count=6)

    def three_in_flight():
        st = status(instance)
        d = dest(st, busy.port)
        return st if d and d["in_flight"] == 3 else None
    st = instance.wait_for(three_in_flight, 30, "3 deliveries in flight to busy.test")

    assert st["running"] is True
    assert st["active"]["message_limit"] == 20000
    assert st["active"]["recipient_limit"] == 20000
    # busy.test: a full window, the rest waiting, alive.
    b = dest(st, busy.port)
    assert b["transport"] == "smtp"
    assert (b["window"], b["window_limit"], b["in_flight"], b["waiting"]) == (3, 3, 3, 7)
    assert b["dead"] is False and b["retry_at"] is None and b["reason"] == ""
    # dead.test: dead, with the agent's reason, retried minimal_backoff_time later.
    d = dest(st, dead_port)
    assert d["dead"] is True and d["state"] == "dead"
    assert "Connection refused" in d["reason"], d
    assert t0 + 290 <= d["retry_at"] <= time.time() + 301
    assert d["in_flight"] == 0 and d["waiting"] == 0
    assert 1 <= d["failed_5m"] <= 6 and d["delivered_5m"] == 0
    # odd.test: its odd bytes came through as valid JSON.
    o = dest(st, odd.port)
    assert o["dead"] is True and "busy" in o["reason"], o
    # ok.test: four deliveries in the last five minutes.
    k = dest(st, ok.port)
    assert k is not None and k["delivered_5m"] == 4 and k["failed_5m"] == 0
    assert k["dead"] is False
    # The smtp transport: alive, three agents delivering.
    (smtp,) = [t for t in st["transports"] if t["name"] == "smtp"]
    assert smtp["dead"] is False and smtp["reason"] == ""
    assert smtp["agents_busy"] >= 3 and smtp["agents_idle"] >= 0

    # Against the disk: the active messages are busy.test's ten; dead.test's
    # mail is deferred with the reason status gives.
    listing = [json.loads(line) for line in
               instance.sluice("queue", "--json").stdout.decode().splitlines()]
    active = [m for m in listing if m["queue_name"] == "active"]
    assert st["active"]["messages"] == len(active) == 10
    assert st["active"]["recipients"] == b["waiting"] + b["in_flight"] == 10
    deferred = [r for m in listing if m["queue_name"] == "deferred"
                for r in m["recipients"] if r["address"].endswith("@dead.test")]
    assert len(deferred) == 6
    assert all("Connection refused" in r["delay_reason"] for r in deferred), deferred
    odd.stop()


def test_status_plain_and_stopped(instance):
    p = instance.sluice("status", check=False)
    assert p.returncode == 1 and b"not running" in p.stdout
    p = instance.sluice("status", "--json", check=False)
    assert p.returncode == 1 and json.loads(p.stdout) == {"running": False}
    instance.start()
    p = instance.sluice("status")
    assert p.stdout.decode().count("\n") == 1 and "is running: PID:" in p.stdout.decode()
    st = status(instance)
    assert st["active"] == {"messages": 0, "recipients": 0, "message_limit": 20000,
                            "recipient_limit": 20000}
    assert st["destinations"] == []
    p = instance.sluice("status", "--bogus", check=False)
    assert p.returncode == 64


def test_top_once_sorts_stuck_first(instance, sink):
    busy = sink(delay=30)
    dead_port = free_port()
    instance.write_config(
        transport_maps=routes({"busy.test": busy.port, "dead.test": dead_port}),
        initial_destination_concurrency=1, default_destination_concurrency_limit=1,
        minimal_backoff_time="300s", queue_run_delay="300s")
    for i in range(3):
        instance.inject(["b%d@busy.test" % i], kick=False)
    instance.inject(["d@dead.test"], kick=False)
    instance.start()
    instance.wait_log(r"to=<d@dead\.test>.*status=deferred")
    instance.wait_for(lambda: dest(status(instance), busy.port)["in_flight"] == 1, 30,
                      "busy.test in flight")
    p = instance.sluice("top", "-n", "1")
    out = p.stdout.decode()
    assert out.startswith("\033[H\033[2J")
    lines = out.splitlines()
    rows = [l for l in lines if "127.0.0.1" in l]
    assert len(rows) == 2
    assert ":%d" % dead_port in rows[0] and "dead" in rows[0] and "Connection refused" in rows[0]
    assert ":%d" % busy.port in rows[1] and " 1/1 " in rows[1]
    # Batch mode, two iterations, short delay: no clear-screen, two screens.
    t = time.time()
    p = instance.sluice("top", "-b", "-n", "2", "-d", "0.2")
    assert "\033[" not in p.stdout.decode()
    assert p.stdout.decode().count("sluice top - ") == 2
    assert time.time() - t >= 0.2
    for bad in (["-n", "0"], ["-d", "x"], ["extra"]):
        assert instance.sluice("top", *bad, check=False).returncode == 64


def test_restart_keeps_destination_health(instance, sink):
    """A restart in the middle of an outage makes no new connection to the
    dead destination before its retry time, and a busy healthy destination
    starts at the window it had."""
    data = os.path.join(instance.base, "data")
    os.makedirs(data)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("sluice")
        os.chown(data, pw.pw_uid, pw.pw_gid)
    healthy = sink(delay=0.5)
    dead = Refuser(b"421 4.3.2 down for maintenance\r\n")
    instance.write_config(
        data_directory=data,
        transport_maps=routes({"healthy.test": healthy.port, "dead.test": dead.port}),
        initial_destination_concurrency=2, default_destination_concurrency_limit=6,
        default_destination_concurrency_positive_feedback=1,
        minimal_backoff_time="300s", maximal_backoff_time="600s", queue_run_delay="300s")
    for i in range(3):
        instance.inject(["d%d@dead.test" % i], kick=False)
    for i in range(60):
        instance.inject(["h%d@healthy.test" % i], kick=False)
    instance.start()
    instance.wait_log(r"to=<d\d@dead\.test>.*status=deferred", count=3)

    def wide():
        st = status(instance)
        h = dest(st, healthy.port)
        return st if h and h["window"] == 6 and h["in_flight"] >= 4 else None
    st = instance.wait_for(wide, 60, "healthy.test at window 6")
    before = dest(st, dead.port)
    assert before["dead"] is True and before["retry_at"] is not None
    connections = dead.connections
    assert connections >= 1
    # From now on nothing succeeds quickly: the window cannot grow again.
    healthy.delay = 60
    instance.stop()
    assert os.path.exists(os.path.join(data, "qmgr.state"))
    instance.start()
    instance.wait_log(r"destination state from .*: 1 dead, 1 windows")

    def healthy_seen():
        st = status(instance)
        h = dest(st, healthy.port)
        return st if h and h["in_flight"] > 0 else None
    st = instance.wait_for(healthy_seen, 30, "healthy.test after the restart")
    h = dest(st, healthy.port)
    assert h["window"] == 6, h          # not initial_destination_concurrency (2)
    instance.wait_for(lambda: dest(status(instance), healthy.port)["in_flight"] >= 4, 20,
                      "more than the initial window in flight")
    after = dest(st, dead.port)
    assert after is not None and after["dead"] is True, st["destinations"]
    assert abs(after["retry_at"] - before["retry_at"]) <= 1
    assert "down for maintenance" in after["reason"]
    # New mail for the dead destination: deferred at once, no connection.
    instance.inject(["new@dead.test"])
    instance.wait_log(r"to=<new@dead\.test>.*status=deferred.*down for maintenance")
    assert dead.connections == connections
    dead.stop()


def test_old_windows_start_slow(instance, sink):
    """A saved window older than an hour is not used; a damaged file is
    ignored with a warning."""
    data = os.path.join(instance.base, "data")
    os.makedirs(data)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("sluice")
        os.chown(data, pw.pw_uid, pw.pw_gid)
    s = sink(delay=60)
    name = "[127.0.0.1]:%d" % s.port

    def attrs(pairs):
        return b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in pairs)
    now = time.time()
    with open(os.path.join(data, "qmgr.state"), "wb") as f:
        f.write(attrs([("format", "sluice-qmgr-state-1"), ("saved", "%f" % now),
                       ("dest", name), ("transport", "smtp"), ("nexthop", name),
                       ("window", "6"), ("window_time", "%f" % (now - 4000))]))
    instance.write_config(data_directory=data, transport_maps=routes({"a.test": s.port}),
                          initial_destination_concurrency=2,
                          default_destination_concurrency_limit=6)
    for i in range(10):
        instance.inject(["r%d@a.test" % i], kick=False)
    instance.start()
    d = instance.wait_for(lambda: (dest(status(instance), s.port) or {}).get("in_flight") == 2
                          and dest(status(instance), s.port), 30, "two in flight")
    assert d["window"] == 2
    instance.stop()
    with open(os.path.join(data, "qmgr.state"), "wb") as f:
        f.write(b"garbage without terminators")
    instance.start()
    instance.wait_log(r"ignoring damaged destination state")
