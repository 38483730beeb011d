"""A message whose delivery agent died while delivering it is tried again
about a second later, not after its backoff (qmgr_active.c): the agent was
killed (an operator, a supervisor, the OOM killer), which says nothing about
the message.  The queue manager logs that deferral itself (no retry agent
in between).  Only once: when the agent dies on that retry too (a message
that crashes its agent), the message waits for its ordinary backoff.

minimal_backoff_time and queue_run_delay are 60 s here, so a retry within
15 s of the kill can only be the prompt one."""
import asyncio
import os
import signal
import threading
import time

from conftest import free_port
from test_agent_death import socket_owner

BACKOFF = 60


class HoldingSink:
    """Holds the DATA of the victim's first `holds` deliveries (each until
    the agent delivering it is gone) and accepts everything else."""

    def __init__(self, victim, holds):
        from aiosmtpd.controller import Controller
        self.victim = victim
        self.holds = holds
        self.lock = threading.Lock()
        self.held_peers = []        # (ip, port) of each held delivery, in order
        self.delivered = []         # (time, rcpts)
        self.release = threading.Event()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.victim in envelope.rcpt_tos:
                    with sink.lock:
                        hold = len(sink.held_peers) < sink.holds
                        if hold:
                            sink.held_peers.append(session.peer)
                    if hold:
                        while not sink.release.is_set():
                            await asyncio.sleep(0.05)
                        return "451 4.3.0 held"
                with sink.lock:
                    sink.delivered.append((time.time(), list(envelope.rcpt_tos)))
                return "250 2.0.0 Ok: queued"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def held(self):
        with self.lock:
            return len(self.held_peers)

    def got_victim(self):
        with self.lock:
            return [t for t, r in self.delivered if self.victim in r]

    def stop(self):
        self.release.set()
        self.controller.stop()


def kill_holder(instance, s, n):
    """SIGKILL the smtp agent of the n-th held delivery; returns the time."""
    instance.wait_for(lambda: s.held() >= n, 30, "held delivery %d" % n)
    pid = socket_owner(s.held_peers[n - 1][1], s.port)
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        assert b"smtp" in f.read()
    os.kill(pid, signal.SIGKILL)
    return time.time()


def deferred_path(instance, qid):
    for dirpath, _, names in os.walk(os.path.join(instance.spool, "deferred")):
        if qid in names:
            return os.path.join(dirpath, qid)
    return None


def configure(instance, s):
    instance.write_config(
        transport_maps="inline:{ slow.test=smtp:[127.0.0.1]:%d }" % s.port,
        minimal_backoff_time="%ds" % BACKOFF, maximal_backoff_time="%ds" % (2 * BACKOFF),
        queue_run_delay="%ds" % BACKOFF)


def test_killed_agent_message_retried_promptly(instance):
    victim = "victim@slow.test"
    s = HoldingSink(victim, holds=1)
    try:
        configure(instance, s)
        vid = instance.inject([victim], kick=False)
        instance.start()
        t_kill = kill_holder(instance, s, 1)
        # The queue manager records that deferral itself, at once: the retry
        # agent (error) would cost a process start and a round trip first.
        instance.wait_log(r"qmgr\[\d+\]: %s: to=<%s>.*status=deferred "
                          r"\(unknown mail transport error\)" % (vid, victim), timeout=10)
        # Delivered again within seconds, long before the 60 s backoff.
        instance.wait_for(lambda: s.got_victim(), 15, "the prompt retry's delivery")
        took = s.got_victim()[0] - t_kill
        assert took < 15, took
        instance.wait_log(r"%s: removed" % vid)
        assert len(s.got_victim()) == 1
    finally:
        s.stop()


def test_second_crash_waits_for_backoff(instance):
    victim = "victim@slow.test"
    s = HoldingSink(victim, holds=2)
    try:
        configure(instance, s)
        vid = instance.inject([victim], kick=False)
        instance.start()
        kill_holder(instance, s, 1)
        # The prompt retry reaches the sink again ...
        t_kill2 = kill_holder(instance, s, 2)
        # ... and dies too: now the message waits for its backoff.
        instance.wait_log(r"%s: to=<%s>.*status=deferred \(unknown mail transport error\)"
                          % (vid, victim), count=2, timeout=10)
        path = instance.wait_for(lambda: deferred_path(instance, vid), 10,
                                 "the file in deferred/")
        due = os.stat(path).st_mtime
        assert due >= t_kill2 + BACKOFF * 0.8, "next attempt %.1f s after the kill" % (
            due - t_kill2)
        assert s.got_victim() == []
    finally:
        s.stop()
