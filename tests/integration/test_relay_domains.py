"""relay_domains: mail to a relay domain goes through relay_transport (the
default master.cf's `relay` service, an smtp agent), with relayhost as its
next hop, as Postfix's relay address class (docs/PARAMETERS.md)."""


def test_relay_domain_uses_relay_transport(instance, sink):
    s = sink()
    # defer_transports = relay shows which transport the mail was routed to.
    instance.write_config(relay_domains="relay.test", relayhost="[127.0.0.1]:%d" % s.port,
                          default_transport="error:5.7.1 no default route here",
                          defer_transports="relay")
    instance.start()
    rid = instance.inject(["r@mx.relay.test"])
    oid = instance.inject(["o@other.test"])
    instance.wait_log(r"%s: to=<r@mx.relay.test>.*status=deferred \(deferred transport\)" % rid)
    instance.wait_log(r"%s: removed" % oid)
    assert "no default route here" in instance.log()
    assert s.rcpts() == []
    # Flushed: the default master.cf's relay service (an smtp agent)
    # delivers it to relayhost.
    instance.sluice("flush")
    instance.wait_log(r"%s: removed" % rid)
    assert s.rcpts() == ["r@mx.relay.test"]
    assert "to=<r@mx.relay.test>, relay=127.0.0.1[127.0.0.1]:%d" % s.port in instance.log()


def test_relay_domains_table_is_refused(instance):
    instance.write_config(relay_domains="hash:/etc/postfix/relay")
    # qmgr refuses to start rather than route relay mail nowhere.
    instance.sluice("start")
    instance.running = True
    instance.wait_log(r"relay_domains: hash:/etc/postfix/relay: lookup tables and files are "
                      r"not supported", timeout=20)
