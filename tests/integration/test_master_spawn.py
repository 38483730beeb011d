"""How master starts its children (posix_spawn): the endpoint on 3, the
status pipe on 4, further inet sockets from 5 on, the child's own process
group, no blocked signals, and a program that cannot run is a bad start-up."""
import os
import socket
import time

from conftest import free_port
from test_master import pids_of


def greeting(host, port):
    with socket.create_connection((host, port), timeout=20) as s:
        f = s.makefile("rb")
        line = f.readline()
        s.sendall(b"QUIT\r\n")
        f.readline()
        return line


def served_by_two_sockets(instance):
    """PIDs of the smtpd processes started with -s (a process gone is skipped)."""
    out = []
    for p in pids_of(instance, "smtpd"):
        try:
            if b"-s" in open("/proc/%d/cmdline" % p, "rb").read().split(b"\0"):
                out.append(p)
        except OSError:
            pass
    return out


def test_smtpd_on_two_addresses_each_new_process(instance):
    """A service on every inet_interfaces address gets one socket each; with
    max_use = 1 every session is served by a newly started smtpd, and each
    one answers on either socket (the second socket is "-s 2"'s fd 5)."""
    port = free_port()
    instance.write_config(inet_interfaces="127.0.0.1, 127.0.0.3")
    text = instance.sluice("config", "-M").stdout.decode()
    instance.set_master_cf(text + "%d inet n - n - - smtpd -o max_use=1\n" % port)
    instance.start()
    for i in range(6):
        host = "127.0.0.1" if i % 2 else "127.0.0.3"
        assert greeting(host, port).startswith(b"220 "), (host, i)
    instance.wait_log(r"disconnect from .*quit=1", count=6)
    # One held open: its smtpd has both sockets, on 3 and on 5.
    with socket.create_connection(("127.0.0.3", port), timeout=20) as s:
        assert s.makefile("rb").readline().startswith(b"220 ")
        # The smtpd of the sixth session may still be on its way out.
        [pid] = instance.wait_for(lambda: served_by_two_sockets(instance) if len(
            served_by_two_sockets(instance)) == 1 else None, 20, "one smtpd left")
        socks = {}
        for fd in ("3", "5"):
            socks[fd] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            assert socks[fd].startswith("socket:"), (fd, socks[fd])
        assert socks["3"] != socks["5"]
    assert "warning:" not in instance.log(), instance.log()


def test_children_own_group_no_blocked_signals(instance):
    """Each child leads its own process group (Ctrl-C on master's terminal
    reaches master only) and starts with no signal blocked."""
    instance.start()
    for prog in ("qmgr", "pickup"):
        instance.wait_for(lambda: pids_of(instance, prog), 20, prog)
        [pid] = pids_of(instance, prog)
        master = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
        assert os.getpgid(pid) == pid != os.getpgid(master), prog
        status = dict(l.split(":", 1) for l in open("/proc/%d/status" % pid)
                      if ":" in l)
        assert int(status["SigBlk"].strip(), 16) == 0, (prog, status["SigBlk"])
        fds = os.listdir("/proc/%d/fd" % pid)
        assert "3" in fds and "4" in fds, (prog, fds)
        assert not [f for f in fds if int(f) >= 256], (prog, fds)


def test_missing_program_is_bad_startup(instance):
    """A program that cannot be run: logged, throttled, counted as a failure."""
    instance.write_config(service_throttle_time="60s", default_transport="discard")
    text = instance.sluice("config", "-M").stdout.decode()
    instance.set_master_cf(text + "broken unix - - n - - no-such-daemon\n")
    instance.start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(os.path.join(instance.spool, "private", "broken"))
        instance.wait_log(r"warning: exec \S+/no-such-daemon: No such file or directory")
        instance.wait_log(r"no-such-daemon: bad command startup -- throttling")
    time.sleep(0.5)
    assert len([l for l in instance.log().splitlines() if "bad command startup" in l]) == 1
