"""The local agent with real system users (made with useradd, removed after):
.forward to a file and to a command, each run as the user; mailbox_command with
Postfix's environment; allow_mail_to_files; and, with the embedded mailboxes,
local_recipient_maps, luser_relay and owner- aliases."""
import os
import pwd
import random
import re
import subprocess

import pytest

SENDER = "poster@example.test"


@pytest.fixture
def make_user(instance):
    """make_user() -> pwd entry of a new account with a home under the instance."""
    if os.geteuid() != 0:
        pytest.skip("system users need root")
    made = []

    def make():
        name = "sluicef%d" % random.randrange(10**6)
        home = os.path.join(instance.base, "home-" + name)
        subprocess.run(["useradd", "-m", "-d", home, "-s", "/bin/sh", name], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        made.append(name)
        return pwd.getpwnam(name)

    yield make
    for name in made:
        subprocess.run(["userdel", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def write_as(user, path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, user.pw_uid, user.pw_gid)


def read(path):
    with open(path) as f:
        return f.read()


def maildir_count(user):
    new = os.path.join(user.pw_dir, "Maildir", "new")
    return len(os.listdir(new)) if os.path.isdir(new) else 0


def system_mode(instance, **params):
    instance.write_config(local_mailbox_base="", home_mailbox="Maildir/",
                          recipient_delimiter="+", **params)
    instance.start()


def test_forward_to_file_command_and_self(instance, make_user):
    u = make_user()
    home = u.pw_dir
    write_as(u, os.path.join(home, ".forward"),
             "# saved, piped and kept\n%s/saved.mbox\n"
             "\"|id -un > %s/cmd.id; env > %s/cmd.env; cat > %s/cmd.msg\"\n\\%s\n"
             % (home, home, home, home, u.pw_name))
    system_mode(instance)
    instance.sendmail(["%s@sluice.test" % u.pw_name], sender=SENDER, subject="fwd")
    instance.wait_for(lambda: os.path.exists(os.path.join(home, "cmd.msg"))
                      and maildir_count(u) == 1, 30, "the three deliveries")
    instance.wait_empty()
    # The file: written as the user, mbox style.
    st = os.stat(os.path.join(home, "saved.mbox"))
    assert (st.st_uid, st.st_gid) == (u.pw_uid, u.pw_gid)
    assert "Subject: fwd" in read(os.path.join(home, "saved.mbox"))
    # The command: run as the user, with Postfix's environment.
    assert read(os.path.join(home, "cmd.id")).strip() == u.pw_name
    assert os.stat(os.path.join(home, "cmd.msg")).st_uid == u.pw_uid
    env = dict(line.split("=", 1) for line in read(os.path.join(home, "cmd.env")).splitlines()
               if "=" in line)
    assert env["HOME"] == home and env["USER"] == u.pw_name and env["LOGNAME"] == u.pw_name
    assert env["SHELL"] == "/bin/sh" and env["SENDER"] == SENDER
    assert env["RECIPIENT"] == "%s@sluice.test" % u.pw_name and env["LOCAL"] == u.pw_name
    assert "Subject: fwd" in read(os.path.join(home, "cmd.msg"))
    # "\user": the mailbox, not the .forward again.
    assert maildir_count(u) == 1
    assert re.search(r"to=<%s@sluice\.test>, relay=local, .*status=sent \(delivered to file: "
                     r"%s/saved\.mbox; delivered to command: .*; delivered to maildir\)"
                     % (u.pw_name, re.escape(home)), instance.log())


def test_forward_with_extension_and_to_address(instance, make_user):
    u, other = make_user(), make_user()
    write_as(u, os.path.join(u.pw_dir, ".forward+lists"), "%s\n" % other.pw_name)
    write_as(u, os.path.join(u.pw_dir, ".forward"), "\\%s\n" % u.pw_name)
    system_mode(instance)
    instance.sendmail(["%s+lists@sluice.test" % u.pw_name], sender=SENDER)
    instance.sendmail(["%s@sluice.test" % u.pw_name], sender=SENDER)
    instance.wait_for(lambda: maildir_count(other) == 1 and maildir_count(u) == 1, 30,
                      "one copy each")
    instance.wait_empty()
    assert re.search(r"to=<%s\+lists@sluice\.test>, relay=local, .*status=sent "
                     r"\(forwarded as \w+\)" % u.pw_name, instance.log())


def test_forward_file_restricted_and_foreign_owner(instance, make_user):
    u, v = make_user(), make_user()
    write_as(u, os.path.join(u.pw_dir, ".forward"), "%s/saved.mbox\n" % u.pw_dir)
    # v's .forward belongs to u: ignored, the mail goes to v's mailbox.
    write_as(u, os.path.join(v.pw_dir, ".forward"), "%s\n" % u.pw_name)
    system_mode(instance, allow_mail_to_files="alias")
    instance.sendmail(["%s@sluice.test" % u.pw_name, "%s@sluice.test" % v.pw_name],
                      sender="owner@sluice.test")
    instance.wait_for(lambda: maildir_count(v) == 1, 30, "v's mailbox")
    instance.wait_log(r"to=<%s@sluice\.test>, .*dsn=5\.7\.1, status=bounced "
                      r"\(mail to file is restricted\)" % u.pw_name)
    assert not os.path.exists(os.path.join(u.pw_dir, "saved.mbox"))
    assert re.search(r"warning: \w+: %s/\.forward is owned by uid %d, not by %s; ignored"
                     % (re.escape(v.pw_dir), u.pw_uid, v.pw_name), instance.log())


def test_mailbox_command(instance, make_user):
    u = make_user()
    system_mode(instance, mailbox_command="id -u > $HOME/mc.uid; env > $HOME/mc.env; "
                "cat > $HOME/mc.msg")
    instance.sendmail(["%s+ext@sluice.test" % u.pw_name], sender=SENDER, subject="mc")
    instance.wait_for(lambda: os.path.exists(os.path.join(u.pw_dir, "mc.msg")), 30,
                      "the command")
    instance.wait_empty()
    assert read(os.path.join(u.pw_dir, "mc.uid")).strip() == str(u.pw_uid)
    env = dict(line.split("=", 1) for line in
               read(os.path.join(u.pw_dir, "mc.env")).splitlines() if "=" in line)
    assert env["USER"] == u.pw_name and env["HOME"] == u.pw_dir
    assert env["EXTENSION"] == "ext" and env["DOMAIN"] == "sluice.test"
    assert env["LOCAL"] == "%s+ext" % u.pw_name
    assert env["ORIGINAL_RECIPIENT"] == "%s+ext@sluice.test" % u.pw_name
    assert "Subject: mc" in read(os.path.join(u.pw_dir, "mc.msg"))
    assert re.search(r"status=sent \(delivered to command: id -u", instance.log())


def reports(instance, user):
    return [m.as_string() for m in instance.maildir_messages(user)
            if m.get_content_type() == "multipart/report"]


def test_local_recipient_maps_and_luser_relay(instance):
    users = os.path.join(instance.base, "users")
    with open(users, "w") as f:
        f.write("bob x\nowner x\n")
    instance.write_config(local_recipient_maps="texthash:%s" % users,
                          recipient_delimiter="+")
    instance.start()
    instance.sendmail(["bob+x@sluice.test", "stranger@sluice.test"], sender="owner@sluice.test")
    instance.wait_for(lambda: reports(instance, "owner"), 30, "a bounce")
    assert len(instance.maildir_messages("bob")) == 1
    assert instance.maildir_messages("stranger") == []
    report = reports(instance, "owner")[0]
    assert "5.1.1" in report and 'unknown user: "stranger"' in report
    # luser_relay takes the unknown ones instead.
    instance.stop()
    instance.write_config(luser_relay="catchall+$user@sluice.test")
    with open(users, "a") as f:
        f.write("catchall x\n")
    instance.start()
    instance.sendmail(["stranger@sluice.test"], sender="owner@sluice.test")
    instance.wait_for(lambda: instance.maildir_messages("catchall"), 30, "the catch-all")
    # The agent logs the delivery after the Maildir file is in place.
    instance.wait_log(r"to=<catchall\+stranger@sluice\.test>, orig_to=<stranger@sluice\.test>")


def test_owner_alias_is_the_list_sender(instance):
    aliases = os.path.join(instance.base, "aliases")
    with open(aliases, "w") as f:
        f.write("list ann, bob\nowner-list listadmin\nplain carl\n")
    instance.write_config(alias_maps="texthash:%s" % aliases)
    instance.start()
    instance.sendmail(["list@sluice.test", "plain@sluice.test"], sender=SENDER)
    instance.wait_for(lambda: all(instance.maildir_messages(u) for u in ("ann", "bob", "carl")),
                      30, "the expansions")
    instance.wait_empty()
    for u in ("ann", "bob"):
        assert instance.maildir_messages(u)[0]["Return-Path"] == "<owner-list@sluice.test>"
    assert instance.maildir_messages("carl")[0]["Return-Path"] == "<%s>" % SENDER
