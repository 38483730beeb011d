"""The local and pipe delivery agents, driven directly like the queue
manager drives them (agent_harness.py): a request over the agent's socket,
the reply, and what the delivery left behind (mailboxes, files, command
output, log lines, status logs, done marks, forwarded queue files).

Run as root these tests also check the privilege rules: mailboxes are
written as their owners, alias commands and files run as default_privs,
pipe commands as the user= account, forwarded mail is owned by mail_owner.
"""
import os
import pwd
import random
import re
import stat
import subprocess
import tempfile
import time

import pytest

from agent_harness import AgentHarness, find_file, queue_file_info

IS_ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody").pw_uid


def owner(path):
    return os.stat(path).st_uid


def files_in(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder))


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


@pytest.fixture
def work():
    """A scratch folder every account may write to (commands run as nobody)."""
    d = tempfile.mkdtemp(prefix="sluice-lp-")
    os.chmod(d, 0o1777)
    yield d
    subprocess.run(["rm", "-rf", d])


@pytest.fixture
def harnesses():
    made = []

    def make(*args, **kw):
        h = AgentHarness(*args, **kw)
        made.append(h)
        return h.start()
    yield make
    for h in made:
        h.cleanup()


# ---------------------------------------------------------------- local

def test_maildir_embedded_default(harnesses, work):
    """local_mailbox_base: every local part gets its own Maildir, no account."""
    base = os.path.join(work, "mail")
    h = harnesses("local", main_cf="local_mailbox_base = %s\nrecipient_delimiter = +\n" % base)
    qid = h.make_message(["Joe+Lists@sluice.test", ".hidden@sluice.test"],
                         body="Subject: hi\n\nFrom me, unquoted in a Maildir\nbye\n")
    reply = h.deliver(qid, orig={"Joe+Lists@sluice.test": "joe+lists@orig.test"})
    assert reply["status"] == "0"           # every recipient final: sent or bounced
    assert (reply["sent"], reply["bounced"], reply["deferred"]) == ("1", "1", "0")
    assert h.outcome(qid, "Joe+Lists@sluice.test") == ("sent", "2.0.0", "delivered to maildir")
    word, dsn, reason = h.outcome(qid, ".hidden@sluice.test")
    assert (word, dsn) == ("bounced", "5.1.3") and "invalid mailbox name" in reason
    assert h.done_marks(qid) == {"Joe+Lists@sluice.test": True, ".hidden@sluice.test": True}

    # The extension is stripped and the name lower-cased for the folder.
    msgs = files_in(os.path.join(base, "joe", "new"))
    assert len(msgs) == 1
    assert files_in(os.path.join(base, "joe", "tmp")) == []
    text = read(msgs[0])
    assert text.startswith("Return-Path: <sender@example.test>\n"
                           "X-Original-To: joe+lists@orig.test\n"
                           "Delivered-To: joe+lists@sluice.test\n")
    assert "\nFrom me, unquoted in a Maildir\nbye\n" in text
    assert not os.path.exists(os.path.join(base, ".hidden"))
    if IS_ROOT:
        assert owner(msgs[0]) == pwd.getpwnam("sluice").pw_uid
    # A bounce leaves its record in bounce/ for the bounce service.
    recs = h.status_log("bounce", qid)
    assert [r["recipient"] for r in recs] == [".hidden@sluice.test"]
    assert recs[0]["status"] == "5.1.3"


def test_maildir_base_created(harnesses, work):
    """A missing local_mailbox_base is made (in a root-owned folder, too)."""
    parent = os.path.join(work, "instance")
    os.mkdir(parent)
    os.chmod(parent, 0o755)
    base = os.path.join(parent, "var", "mail")
    h = harnesses("local", main_cf="local_mailbox_base = %s\n" % base)
    qid = h.make_message(["ann@sluice.test"])
    assert h.deliver(qid)["sent"] == "1", h.log()
    assert len(files_in(os.path.join(base, "ann", "new"))) == 1
    if IS_ROOT:
        assert owner(base) == pwd.getpwnam("sluice").pw_uid


def test_unknown_user_bounces(harnesses, work):
    """Without local_mailbox_base, a local part with no account bounces 5.1.1."""
    h = harnesses("local", main_cf="local_mailbox_base =\nmail_spool_directory = %s\n" % work)
    name = "nosuchuser%d" % random.randrange(10**6)
    qid = h.make_message(["%s@sluice.test" % name])
    reply = h.deliver(qid)
    assert reply["status"] == "0" and reply["bounced"] == "1"
    assert h.outcome(qid, name + "@sluice.test") == (
        "bounced", "5.1.1", 'unknown user: "%s"' % name)
    recs = h.status_log("bounce", qid)
    assert len(recs) == 1
    assert recs[0]["recipient"] == name + "@sluice.test"
    assert recs[0]["status"] == "5.1.1"
    assert recs[0]["action"] == "failed"
    assert recs[0]["reason"] == 'unknown user: "%s"' % name
    assert h.done_marks(qid)[name + "@sluice.test"] is True


@pytest.fixture
def system_user(work):
    """A throwaway account with a home folder (root only)."""
    if not IS_ROOT:
        pytest.skip("creating a system user for mbox delivery needs root")
    name = "sluicet%d" % random.randrange(10**6)
    home = os.path.join(work, "home-" + name)
    subprocess.run(["useradd", "-m", "-d", home, "-s", "/bin/sh", name], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_mbox_system_user(harnesses, work, system_user):
    """The mail spool: dot-lock, From_ line, >From quoting, owned by the user."""
    spool = os.path.join(work, "spool-mail")
    os.mkdir(spool)
    os.chmod(spool, 0o755)      # only root may create files here, as in /var/mail
    h = harnesses("local", main_cf="local_mailbox_base =\nmail_spool_directory = %s\n" % spool)
    rcpt = "%s@sluice.test" % system_user.pw_name.upper()
    body = "Subject: mbox\n\nFrom the start of a line\n>From already quoted\nend\n"
    for _ in range(2):
        qid = h.make_message([rcpt], body=body)
        reply = h.deliver(qid)
        assert reply["sent"] == "1", h.log()
        assert h.outcome(qid, rcpt) == ("sent", "2.0.0", "delivered to mailbox")
    box = os.path.join(spool, system_user.pw_name)
    st = os.stat(box)
    assert st.st_uid == system_user.pw_uid and st.st_gid == system_user.pw_gid
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert not os.path.exists(box + ".lock")
    text = read(box)
    separators = re.findall(r"^From sender@example\.test  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$",
                            text, re.M)
    assert len(separators) == 2
    one = text.split("\n\nFrom sender@example.test  ")[0]
    assert "\nReturn-Path: <sender@example.test>\n" in one
    assert "\nDelivered-To: %s\n" % rcpt.lower() in one
    # Postfix's mbox quoting: only lines that start with "From " (not mboxrd).
    assert "\n>From the start of a line\n>From already quoted\nend" in one
    assert text.endswith("end\n\n")


def test_home_maildir_system_user(harnesses, work, system_user):
    """home_mailbox ending in "/": a Maildir in the home folder, as the user."""
    h = harnesses("local", main_cf="local_mailbox_base =\nhome_mailbox = Maildir/\n")
    rcpt = "%s@sluice.test" % system_user.pw_name
    qid = h.make_message([rcpt])
    assert h.deliver(qid)["sent"] == "1", h.log()
    msgs = files_in(os.path.join(system_user.pw_dir, "Maildir", "new"))
    assert len(msgs) == 1
    assert owner(msgs[0]) == system_user.pw_uid
    assert owner(os.path.join(system_user.pw_dir, "Maildir")) == system_user.pw_uid


ALIASES = """\
# texthash: key, white space, value
fwd         other@elsewhere.test, second@elsewhere.test
cmd         "|/bin/sh -c 'id -u >> {w}/cmd.uid; cat >> {w}/cmd.msg'"
tofile      {w}/file.mbox
self        self, copy@elsewhere.test
list        :include:{w}/list.inc
inclcmd     :include:{w}/cmd.inc
broken      "|unbalanced
"""


@pytest.fixture
def alias_agent(harnesses, work):
    aliases = os.path.join(work, "aliases")
    with open(aliases, "w") as f:
        f.write(ALIASES.format(w=work))
    with open(os.path.join(work, "list.inc"), "w") as f:
        f.write("# members\nmember1@elsewhere.test\n  member2@elsewhere.test, \n")
    with open(os.path.join(work, "cmd.inc"), "w") as f:
        f.write("|/bin/true\n")
    return harnesses("local", main_cf=(
        "local_mailbox_base = {w}/mail\nalias_maps = texthash:{a}\n"
        "recipient_delimiter = +\n").format(w=work, a=aliases))


def forwarded(h, reason):
    """The queue file a 'forwarded as ID' reason names."""
    m = re.search(r"forwarded as (\w+)", reason)
    assert m, reason
    path = find_file(os.path.join(h.spool, "incoming"), m.group(1))
    assert path, "no queue file %s in incoming/" % m.group(1)
    return path


def test_alias_to_addresses(alias_agent):
    h = alias_agent
    qid = h.make_message(["fwd+x@sluice.test"])
    assert h.deliver(qid)["sent"] == "1", h.log()
    word, dsn, reason = h.outcome(qid, "fwd+x@sluice.test")
    assert (word, dsn) == ("sent", "2.0.0")
    path = forwarded(h, reason)
    info = queue_file_info(path)
    # Matched without its extension, so the extension travels on (Postfix default).
    assert [a for _o, a, done in info["rcpts"]] == ["other+x@elsewhere.test",
                                                    "second+x@elsewhere.test"]
    assert not any(done for _o, _a, done in info["rcpts"])
    with open(path, "rb") as f:
        content = f.read()
    assert b"Delivered-To: fwd+x@sluice.test\n" in content
    if IS_ROOT:
        assert owner(path) == pwd.getpwnam("sluice").pw_uid
    assert h.done_marks(qid)["fwd+x@sluice.test"] is True


def test_alias_to_command(alias_agent, work):
    h = alias_agent
    qid = h.make_message(["cmd@sluice.test"], body="Subject: to a command\n\nFrom here\n")
    assert h.deliver(qid)["sent"] == "1", h.log()
    word, dsn, reason = h.outcome(qid, "cmd@sluice.test")
    assert (word, dsn) == ("sent", "2.0.0")
    assert reason.startswith("delivered to command: /bin/sh -c ")
    if IS_ROOT:
        # The alias table belongs to root: the command runs as default_privs.
        assert read(os.path.join(work, "cmd.uid")).strip() == str(NOBODY)
    msg = read(os.path.join(work, "cmd.msg"))
    assert msg.startswith("From sender@example.test  ")
    assert "\nDelivered-To: cmd@sluice.test\n" in msg
    assert "\nFrom here\n" in msg          # commands get the message unquoted


def test_alias_to_file(alias_agent, work):
    h = alias_agent
    qid = h.make_message(["tofile@sluice.test"], body="Subject: f\n\nFrom x\n")
    assert h.deliver(qid)["sent"] == "1", h.log()
    path = os.path.join(work, "file.mbox")
    assert h.outcome(qid, "tofile@sluice.test") == (
        "sent", "2.0.0", "delivered to file: %s" % path)
    text = read(path)
    assert text.startswith("From sender@example.test  ")
    assert "\n>From x\n\n" in text
    if IS_ROOT:
        assert owner(path) == NOBODY


def test_alias_to_itself_and_include(alias_agent, work):
    h = alias_agent
    qid = h.make_message(["self@sluice.test", "list@sluice.test", "inclcmd@sluice.test"])
    reply = h.deliver(qid)
    assert (reply["sent"], reply["bounced"]) == ("2", "1"), h.log()
    # "self: self, copy": the mailbox of self, not another expansion.
    word, _dsn, reason = h.outcome(qid, "self@sluice.test")
    assert word == "sent" and reason.startswith("delivered to maildir; forwarded as ")
    assert len(files_in(os.path.join(work, "mail", "self", "new"))) == 1
    assert [a for _o, a, _d in queue_file_info(forwarded(h, reason))["rcpts"]] == [
        "copy@elsewhere.test"]
    # :include: lists addresses...
    word, _dsn, reason = h.outcome(qid, "list@sluice.test")
    assert word == "sent"
    assert [a for _o, a, _d in queue_file_info(forwarded(h, reason))["rcpts"]] == [
        "member1@elsewhere.test", "member2@elsewhere.test"]
    # ...but commands from an include file need "include" in allow_mail_to_commands.
    assert h.outcome(qid, "inclcmd@sluice.test") == (
        "bounced", "5.7.1", "mail to command is restricted")


def test_alias_problems(alias_agent):
    h = alias_agent
    # A message that was here before loops: bounce, do not forward again.
    qid = h.make_message(["fwd@sluice.test"],
                         body="Delivered-To: fwd@sluice.test\nSubject: again\n\nx\n")
    assert h.deliver(qid)["bounced"] == "1"
    assert h.outcome(qid, "fwd@sluice.test") == (
        "bounced", "5.4.6", "mail forwarding loop for fwd@sluice.test")
    # A broken alias value is a configuration error: defer, and say why in the log.
    qid = h.make_message(["broken@sluice.test"])
    reply = h.deliver(qid)
    assert reply["status"] == "1" and reply["deferred"] == "1"
    assert h.outcome(qid, "broken@sluice.test") == (
        "deferred", "4.3.5", "mail system configuration error")
    assert 'alias "broken": unbalanced double quote' in h.log()
    assert h.done_marks(qid)["broken@sluice.test"] is False
    assert [r["status"] for r in h.status_log("defer", qid)] == ["4.3.5"]


def test_alias_verify_only(alias_agent, work):
    """sendmail -bv: the agent says what would happen and does nothing."""
    h = alias_agent
    verify = 1 << 1                          # DEL_REQ_FLAG_VERIFY
    qid = h.make_message(["cmd@sluice.test", "fwd@sluice.test", "self@sluice.test",
                          "inclcmd@sluice.test"])
    reply = h.deliver(qid, flags=verify)
    assert (reply["sent"], reply["bounced"]) == ("3", "1"), h.log()
    word, _dsn, reason = h.outcome(qid, "cmd@sluice.test")
    assert word == "deliverable" and reason.startswith("delivers to command: /bin/sh -c ")
    assert h.outcome(qid, "fwd@sluice.test") == (
        "deliverable", "2.0.0", "forwards to other@elsewhere.test, second@elsewhere.test")
    assert h.outcome(qid, "self@sluice.test") == (
        "deliverable", "2.0.0", "delivers to maildir; forwards to copy@elsewhere.test")
    assert h.outcome(qid, "inclcmd@sluice.test") == (
        "undeliverable", "5.7.1", "mail to command is restricted")
    # Nothing ran, nothing was written, nothing was forwarded.
    assert not os.path.exists(os.path.join(work, "cmd.msg"))
    assert not os.path.exists(os.path.join(work, "mail", "self"))
    assert files_in(os.path.join(h.spool, "incoming")) == []
    assert len(h.status_log("trace", qid)) == 4


# ---------------------------------------------------------------- pipe

PIPE_SCRIPT = """\
#!/bin/sh
# pipe test command: $1 = exit status, then the expanded arguments
code=$1; shift
out={w}/pipe-$code
id -u > $out.uid
printf '%s\\n' "$@" > $out.args
cat > $out.stdin
echo "output from the command"
exit $code
"""

MASTER_CF = """\
p0     unix  -  n  n  -  -  pipe flags=FRq user=nobody argv={s} 0 ${{sender}} ${{recipient}}
p75    unix  -  n  n  -  -  pipe user=nobody argv={s} 75 ${{recipient}}
p67    unix  -  n  n  -  -  pipe user=nobody argv={s} 67 ${{recipient}}
p1     unix  -  n  n  -  -  pipe user=nobody argv={s} 1 ${{user}} ${{nexthop}}
slow   unix  -  n  n  -  -  pipe user=nobody argv=/bin/sh -c {{ sleep 60 & echo started; sleep 60 }}
asroot unix  -  n  n  -  -  pipe user=root argv=/bin/true
"""


@pytest.fixture
def pipe_agent(harnesses, work):
    script = os.path.join(work, "pipe.sh")
    with open(script, "w") as f:
        f.write(PIPE_SCRIPT.format(w=work))
    os.chmod(script, 0o755)
    master_cf = MASTER_CF.format(s=script)

    def make(service):
        return harnesses("pipe", service=service, master_cf=master_cf,
                         main_cf="slow_time_limit = 2s\n")
    return make


def test_pipe_success_as_user(pipe_agent, work):
    h = pipe_agent("p0")
    qid = h.make_message(["a@x.test", "john doe@y.test"], body="Subject: p\n\nbody\n")
    reply = h.deliver(qid)
    assert (reply["status"], reply["sent"]) == ("0", "2"), h.log()
    assert h.outcome(qid, "a@x.test") == ("sent", "2.0.0", "delivered via p0 service")
    assert h.log_lines(qid)[0].count("relay=p0") == 1
    # ${recipient} became one argument per recipient; q quoted the local part.
    assert read(os.path.join(work, "pipe-0.args")).splitlines() == [
        "sender@example.test", "a@x.test", '"john doe"@y.test']
    stdin = read(os.path.join(work, "pipe-0.stdin"))
    assert stdin.startswith("From sender@example.test  ")
    assert "\nReturn-Path: <sender@example.test>\nSubject: p\n\nbody\n" in stdin
    if IS_ROOT:
        assert read(os.path.join(work, "pipe-0.uid")).strip() == str(NOBODY)
    assert h.done_marks(qid) == {"a@x.test": True, "john doe@y.test": True}


def test_pipe_tempfail_defers(pipe_agent):
    h = pipe_agent("p75")
    qid = h.make_message(["r@x.test"])
    reply = h.deliver(qid)
    assert (reply["status"], reply["deferred"]) == ("1", "1")
    assert h.outcome(qid, "r@x.test") == (
        "deferred", "4.3.0", "temporary failure. Command output: output from the command")
    assert h.done_marks(qid)["r@x.test"] is False
    assert [r["status"] for r in h.status_log("defer", qid)] == ["4.3.0"]


def test_pipe_nouser_bounces(pipe_agent):
    h = pipe_agent("p67")
    qid = h.make_message(["r@x.test"])
    reply = h.deliver(qid)
    assert (reply["status"], reply["bounced"]) == ("0", "1")
    assert h.outcome(qid, "r@x.test") == (
        "bounced", "5.1.1", "user unknown. Command output: output from the command")
    assert h.done_marks(qid)["r@x.test"] is True
    recs = h.status_log("bounce", qid)
    assert [(r["status"], r["action"]) for r in recs] == [("5.1.1", "failed")]


def test_pipe_other_status_bounces(pipe_agent, work):
    h = pipe_agent("p1")
    qid = h.make_message(["Joe@X.test"])
    assert h.deliver(qid, nexthop="Next.Hop")["bounced"] == "1"
    script = os.path.join(work, "pipe.sh")
    assert h.outcome(qid, "Joe@X.test") == (
        "bounced", "5.3.0", 'Command died with status 1: "%s 1 Joe Next.Hop". '
        "Command output: output from the command" % script)


def test_pipe_time_limit(pipe_agent):
    h = pipe_agent("slow")
    qid = h.make_message(["r@x.test"])
    t0 = time.time()
    reply = h.deliver(qid)
    assert time.time() - t0 < 15
    assert reply["deferred"] == "1"
    word, dsn, reason = h.outcome(qid, "r@x.test")
    assert (word, dsn) == ("deferred", "4.3.0")
    assert reason.startswith('Command time limit exceeded: "/bin/sh -c sleep 60 & echo started; '
                             'sleep 60". Command output: started')
    # The whole process group is gone, the background sleep included.
    time.sleep(0.5)
    ps = subprocess.run(["pgrep", "-f", "sleep 60"], stdout=subprocess.PIPE).stdout.split()
    assert ps == []


def test_pipe_verify_only(pipe_agent, work):
    h = pipe_agent("p0")
    qid = h.make_message(["r@x.test"])
    assert h.deliver(qid, flags=1 << 1)["sent"] == "1"
    assert h.outcome(qid, "r@x.test") == (
        "deliverable", "2.0.0", "delivers to command: %s" % os.path.join(work, "pipe.sh"))
    assert not os.path.exists(os.path.join(work, "pipe-0.stdin"))


def test_pipe_refuses_root(pipe_agent):
    h = pipe_agent("asroot")
    qid = h.make_message(["r@x.test"])
    reply = h.deliver(qid)
    assert reply["deferred"] == "1"
    assert h.outcome(qid, "r@x.test") == ("deferred", "4.3.0", "user= must not be root")
    assert "service asroot: user= must not be root" in h.log()


# ---------------------------------------------------------------- both

def damage_content(path):
    """Turn the first content record into an unknown record type."""
    from agent_harness import read_records
    off = [o for o, t, _d in read_records(path) if t == "B"][0]
    mode = os.stat(path).st_mode
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(b"Z")
    os.chmod(path, mode)


@pytest.mark.parametrize("program,service", [("local", "local"), ("pipe", "p0")])
def test_damaged_queue_file(pipe_agent, harnesses, work, program, service):
    """A queue file whose content is damaged is reported corrupt, never half delivered."""
    if program == "pipe":
        h = pipe_agent(service)
    else:
        h = harnesses("local", main_cf="local_mailbox_base = %s/mail\n" % work)
    qid = h.make_message(["r@sluice.test"])
    path = h.queue_file(qid)
    damage_content(path)
    reply = h.deliver(qid)
    assert reply["status"] == "2"            # DEL_STAT_CORRUPT
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o400
    assert h.log_lines(qid) == []            # no outcome was recorded
    assert not os.path.exists(os.path.join(work, "pipe-0.stdin"))
    assert files_in(os.path.join(work, "mail", "r", "new")) == []


def test_agents_exit_cleanly(harnesses, work):
    """After max_use requests of every kind the agents exit 0, and (in a
    sanitizer build) without a leak or error report."""
    aliases = os.path.join(work, "aliases")
    with open(aliases, "w") as f:
        f.write(ALIASES.format(w=work))
    with open(os.path.join(work, "list.inc"), "w") as f:
        f.write("member1@elsewhere.test\n")
    h = harnesses("local", main_cf=("local_mailbox_base = {w}/mail\nalias_maps = texthash:{a}\n"
                                    "max_use = 2\n").format(w=work, a=aliases))
    qid = h.make_message(["fwd@sluice.test", "cmd@sluice.test", "tofile@sluice.test",
                          "self@sluice.test", "list@sluice.test", "broken@sluice.test",
                          "plain@sluice.test"])
    h.deliver(qid)
    h.deliver(h.make_message(["cmd@sluice.test"]), flags=1 << 1)
    rc, err = h.finish()
    assert rc == 0 and "Sanitizer" not in err and "runtime error" not in err, err

    p = harnesses("pipe", service="p0", master_cf=MASTER_CF.format(s="/bin/true"),
                  main_cf="max_use = 2\n")
    p.deliver(p.make_message(["a@x.test", "b@y.test"]))
    p.deliver(p.make_message(["a@x.test"]), flags=1 << 1)
    rc, err = p.finish()
    assert rc == 0 and "Sanitizer" not in err and "runtime error" not in err, err


# ---------------------------------------------------------------- whole system

BUILTIN_MASTER_CF = """\
pickup    fifo  n       -       n       60      1       pickup
qmgr      fifo  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
local     unix  -       n       n       -       -       local
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
"""


def test_system_alias_forward_round_trip(instance):
    """master, qmgr and local together: an alias forwards, the copy comes back
    through the queue and lands in two Maildirs."""
    aliases = os.path.join(instance.base, "aliases")
    with open(aliases, "w") as f:
        f.write("team joe, ann@sluice.test\n")
    instance.write_config(alias_maps="texthash:" + aliases, default_transport="discard")
    instance.start()
    qid = instance.inject(["team@sluice.test"])
    instance.wait_log(r"%s: to=<team@sluice.test>, relay=local, .*status=sent "
                      r"\(forwarded as \w+\)" % qid)
    instance.wait_log(r"to=<joe@sluice.test>, orig_to=<team@sluice.test>, relay=local, "
                      r".*status=sent \(delivered to maildir\)")
    instance.wait_log(r"to=<ann@sluice.test>, orig_to=<team@sluice.test>, .*status=sent")
    joe = instance.maildir_messages("joe")
    assert len(joe) == 1 and len(instance.maildir_messages("ann")) == 1
    assert joe[0].get_all("Delivered-To") == ["joe@sluice.test", "team@sluice.test"]
    instance.wait_empty()


def test_system_pipe_transport(instance):
    """A pipe service from master.cf, chosen by transport_maps."""
    out = os.path.join(instance.base, "out")
    os.mkdir(out)
    os.chmod(out, 0o1777)
    instance.set_master_cf(
        BUILTIN_MASTER_CF + "mycmd unix - n n - - pipe flags=FR user=nobody "
        "argv=/bin/sh -c { cat > %s/msg; echo $$0 $$1 > %s/args } ${sender} ${recipient}\n"
        % (out, out))
    instance.write_config(transport_maps="inline:{ pipe.test=mycmd: }",
                          default_transport="discard")
    instance.start()
    qid = instance.inject(["someone@pipe.test"])
    instance.wait_log(r"%s: to=<someone@pipe.test>, relay=mycmd, .*dsn=2\.0\.0, "
                      r"status=sent \(delivered via mycmd service\)" % qid)
    assert read(os.path.join(out, "args")) == "sender@example.test someone@pipe.test\n"
    assert read(os.path.join(out, "msg")).startswith(
        "From sender@example.test  ")
    if IS_ROOT:
        assert owner(os.path.join(out, "msg")) == NOBODY
    instance.wait_empty()
