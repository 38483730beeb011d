"""A delivery agent that vanishes mid-delivery costs that one delivery, not
the transport: the queue manager defers the killed delivery alone, goes on
with the other agents at once, and the deferred message is delivered later
(docs/SCHEDULER.md, "Where sluice differs", item 7)."""
import asyncio
import os
import re
import signal
import threading
import time

from conftest import free_port


class HoldingSink:
    """An aiosmtpd server that holds the DATA of one recipient's first
    delivery (until released) and accepts everything else after `delay`."""

    def __init__(self, victim, delay=0.3):
        from aiosmtpd.controller import Controller
        self.victim = victim
        self.delay = delay
        self.lock = threading.Lock()
        self.messages = []          # (time, rcpts)
        self.held_peer = None       # the client (ip, port) of the held delivery
        self.held = threading.Event()
        self.release = threading.Event()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.victim in envelope.rcpt_tos and not sink.held.is_set():
                    sink.held_peer = session.peer
                    sink.held.set()
                    while not sink.release.is_set():
                        await asyncio.sleep(0.05)
                    return "451 4.3.0 held"
                await asyncio.sleep(sink.delay)
                with sink.lock:
                    sink.messages.append((time.time(), list(envelope.rcpt_tos)))
                return "250 2.0.0 Ok: queued"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def rcpts(self):
        with self.lock:
            return sorted(r for _, m in self.messages for r in m)

    def delivered_after(self, t):
        with self.lock:
            return sum(len(m) for when, m in self.messages if when > t)

    def stop(self):
        self.release.set()
        self.controller.stop()


def socket_owner(local_port, remote_port):
    """pid of the process holding the TCP connection 127.0.0.1:local_port ->
    127.0.0.1:remote_port (from /proc/net/tcp and /proc/PID/fd)."""
    want_local = "0100007F:%04X" % local_port
    want_remote = "0100007F:%04X" % remote_port
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want_local and fields[2] == want_remote:
                inode = fields[9]
    assert inode, "no connection from port %d to %d" % (local_port, remote_port)
    target = "socket:[%s]" % inode
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == target:
                    return int(pid)
        except OSError:
            continue
    raise AssertionError("nobody holds " + target)


def test_killed_smtp_agent_costs_one_delivery(instance):
    victim = "victim@slow.test"
    s = HoldingSink(victim)
    try:
        instance.write_config(
            transport_maps="inline:{ slow.test=smtp:[127.0.0.1]:%d }" % s.port,
            default_destination_concurrency_limit=4, initial_destination_concurrency=4,
            transport_retry_time="60s")
        vid = instance.inject([victim], kick=False)
        others = ["r%d@slow.test" % i for i in range(40)]
        for r in others:
            instance.inject([r], kick=False)
        instance.start()
        assert s.held.wait(30), "the victim's delivery never reached DATA"
        pid = socket_owner(s.held_peer[1], s.port)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert b"smtp" in f.read()
        os.kill(pid, signal.SIGKILL)
        t_kill = time.time()
        left = len(others) - len([r for r in s.rcpts() if r != victim])
        instance.wait_log(r"%s: private/smtp: lost connection with the delivery agent; "
                          r"delivery deferred" % vid, timeout=10)
        # The other agents go on at once: deliveries complete within seconds
        # of the kill, long before transport_retry_time (60 s).  (On a quiet
        # machine the three free connections may have carried most of the
        # others before the kill: then what is left must come.)
        if left:
            instance.wait_for(lambda: s.delivered_after(t_kill) >= min(8, left), 10,
                              "deliveries right after the kill")
        instance.wait_for(lambda: len(s.rcpts()) == len(others) + 1, 60,
                          "every message, the victim's again too")
        instance.wait_empty(30)
        log = instance.log()
        # Only the killed delivery was deferred, with Postfix's reason ...
        deferred = re.findall(r"(\w+): to=<([^>]*)>.*status=deferred \(([^)]*)\)", log)
        assert deferred == [(vid, victim, "unknown mail transport error")], deferred
        # ... the transport was never declared dead ...
        assert "mail transport unavailable" not in log
        # ... and the victim came through on a later attempt, once.
        assert re.search(r"%s: to=<%s>.*status=sent" % (vid, re.escape(victim)), log)
        assert s.rcpts() == sorted(set(s.rcpts()))
        assert instance.count_log(r"%s: removed" % vid) == 1
    finally:
        s.stop()
