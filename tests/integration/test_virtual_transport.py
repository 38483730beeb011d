"""virtual_mailbox_domains and virtual_transport: mail for such a domain goes to
the transport named (here a pipe service); and a routing table rebuilt with
`sluice map` while the system runs is used for the next message without a
reload (the queue manager sees the file change, finishes and exits, master
starts it again), as are alias tables in the local agent."""
import os
import re

SCRIPT = """\
#!/bin/sh
# $1 = recipient, $2 = nexthop
cat > {out}/"$1"
echo "$2" > {out}/"$1".nexthop
"""


def pipe_service(instance):
    out = os.path.join(instance.base, "vout")
    os.makedirs(out)
    os.chmod(out, 0o777)
    script = os.path.join(instance.base, "vpipe.sh")
    with open(script, "w") as f:
        f.write(SCRIPT.format(out=out))
    os.chmod(script, 0o755)
    instance.set_master_cf(instance.master_cf + (
        "vpipe  unix  -  n  n  -  -  pipe user=nobody argv=%s ${recipient} ${nexthop}\n"
        % script))
    return out


def test_virtual_mailbox_domain_to_pipe(instance):
    out = pipe_service(instance)
    instance.write_config(virtual_mailbox_domains="vm.test", virtual_transport="vpipe")
    instance.start()
    instance.sendmail(["ann@vm.test", "bob@sluice.test"], sender="owner@sluice.test",
                      subject="virtual")
    instance.wait_for(lambda: os.path.exists(os.path.join(out, "ann@vm.test.nexthop")), 30,
                      "the pipe")
    instance.wait_empty()
    with open(os.path.join(out, "ann@vm.test")) as f:
        assert "Subject: virtual" in f.read()
    with open(os.path.join(out, "ann@vm.test.nexthop")) as f:
        assert f.read().strip() == "vm.test"
    assert re.search(r"to=<ann@vm\.test>, relay=vpipe, .*status=sent", instance.log())
    assert len(instance.maildir_messages("bob")) == 1


def test_rebuilt_tables_are_used_without_reload(instance):
    out = pipe_service(instance)
    domains = os.path.join(instance.base, "vdomains")
    aliases = os.path.join(instance.base, "aliases")
    with open(domains, "w") as f:
        f.write("vm1.test ok\n")
    with open(aliases, "w") as f:
        f.write("team: ann\n")
    instance.sluice("map", "hash:%s" % domains)
    instance.sluice("aliases", "hash:%s" % aliases)
    instance.write_config(virtual_mailbox_domains="hash:%s" % domains,
                          virtual_transport="vpipe", alias_maps="hash:%s" % aliases)
    instance.start()
    instance.sendmail(["a@vm1.test", "b@vm2.test", "team@sluice.test"],
                      sender="owner@sluice.test")
    instance.wait_for(lambda: os.path.exists(os.path.join(out, "a@vm1.test.nexthop")), 30,
                      "vm1 through the pipe")
    instance.wait_for(lambda: instance.maildir_messages("ann"), 30, "the alias")
    # vm2.test is not ours yet: the smtp agent tries it (and defers: no DNS here).
    instance.wait_log(r"to=<b@vm2\.test>, relay=")
    assert not os.path.exists(os.path.join(out, "b@vm2.test"))

    # Rebuild both tables while everything runs; no reload.
    with open(domains, "w") as f:
        f.write("vm1.test ok\nvm2.test ok\n")
    with open(aliases, "w") as f:
        f.write("team: carl\n")
    instance.sluice("map", "hash:%s" % domains)
    instance.sluice("aliases", "hash:%s" % aliases)
    # The queue manager looks at its tables' files once a second (as Postfix's
    # daemons, it may route a message that comes within that moment with the
    # old answer); it restarts when it sees the change.
    instance.wait_log(r"qmgr\[\d+\]: table hash:%s has changed -- restarting"
                      % re.escape(domains))
    instance.sendmail(["c@vm2.test", "team@sluice.test"], sender="owner@sluice.test")
    instance.wait_for(lambda: os.path.exists(os.path.join(out, "c@vm2.test.nexthop")), 60,
                      "vm2 through the pipe after the rebuild")
    instance.wait_for(lambda: instance.maildir_messages("carl"), 60, "the new alias")
    assert len(instance.maildir_messages("ann")) == 1
    log = instance.log()
    assert re.search(r"qmgr\[\d+\]: table hash:%s has changed -- restarting"
                     % re.escape(domains), log)
    assert "reload" not in log
