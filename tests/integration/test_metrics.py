"""The metrics service: Prometheus text over HTTP from a master.cf inet
service, parsed with a real Prometheus parser (Debian's
python3-prometheus-client), whose counts must agree with the log lines of
the same run."""
import os
import re
import signal
import smtplib
import socket
import time

from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port

METRICS_LINE = "127.0.0.1:%d inet n - n - 1 metrics\n"


def routes(table):
    return "inline:{ " + ", ".join("%s=smtp:[127.0.0.1]:%d" % (d, p)
                                   for d, p in table.items()) + " }"


def with_metrics(instance, **params):
    port = free_port()
    instance.set_master_cf(instance.master_cf + METRICS_LINE % port)
    instance.write_config(**params)
    return port


def http(port, request):
    """One raw HTTP exchange: (status line, headers dict, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(request)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(l.split(": ", 1) for l in lines[1:])
    return lines[0], headers, body


def scrape(port):
    """GET /metrics, parsed: {(sample name, sorted label items): value}."""
    status, headers, body = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == "HTTP/1.1 200 OK", status
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert int(headers["Content-Length"]) == len(body)
    samples = {}
    families = {}
    for fam in text_string_to_metric_families(body.decode("utf-8")):
        families[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, families


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def total(samples, name, **labels):
    """Sum over the series of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def test_metrics_agree_with_the_log(instance, sink):
    ok = sink()
    picky = sink(rcpt_reply=lambda a: "550 5.1.1 no such user" if a.startswith("no") else None)
    dead_port = free_port()
    port = with_metrics(
        instance, mynetworks="127.0.0.1/32",
        smtpd_relay_restrictions="permit_mynetworks, reject_unauth_destination",
        transport_maps=routes({"ok.test": ok.port, "picky.test": picky.port,
                               "dead.test": dead_port, "example.test": ok.port}),
        minimal_backoff_time="300s", maximal_backoff_time="600s", queue_run_delay="300s")
    for i in range(5):
        instance.inject(["a%d@ok.test" % i, "b%d@ok.test" % i], kick=False)
    for i in range(3):
        instance.inject(["no%d@picky.test" % i, "yes%d@picky.test" % i], kick=False)
    for i in range(4):
        instance.inject(["d%d@dead.test" % i], kick=False)
    instance.start()

    # Through smtpd: one message accepted, one relay attempt from outside refused.
    with smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=30) as c:
        c.sendmail("sender@example.test", ["s@ok.test"], "Subject: s\n\nhi\n")
    with smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=30,
                      source_address=("127.0.0.9", 0)) as c:
        c.ehlo()
        c.mail("x@outside.test")
        code, _ = c.rcpt("y@elsewhere.example")
        assert code == 554

    # 10 + 1 to ok.test, 3 to picky.test, and three bounce notices to example.test.
    instance.wait_for(lambda: len(ok.rcpts()) == 14, 60, "deliveries to ok.test")
    instance.wait_log(r"to=<no\d@picky\.test>.*status=bounced", count=3)
    instance.wait_log(r"to=<d\d@dead\.test>.*status=deferred", count=4)
    instance.wait_for(lambda: len(picky.rcpts()) == 3, 30, "deliveries to picky.test")
    instance.wait_log(r"smtpd\[\d+\]: disconnect from", count=2)

    def log_counts():
        log = instance.log()
        return {w: len(re.findall(r"status=%s \(" % w, log))
                for w in ("sent", "deferred", "bounced")}

    def agree():
        samples, _ = scrape(port)
        got = {w: total(samples, "sluice_delivery_recipients_total", status=w)
               for w in ("sent", "deferred", "bounced")}
        return (samples, got) if got == log_counts() else None
    samples, got = instance.wait_for(agree, 30, "metrics agreeing with the log")
    assert got == {"sent": 17, "deferred": 4, "bounced": 3}, got
    log = instance.log()

    # By transport: smtp delivered what the sinks got, and its delays are
    # a histogram with one observation per delivered recipient.
    assert value(samples, "sluice_delivery_recipients_total",
                 transport="smtp", status="sent") == 17
    assert value(samples, "sluice_delivery_delay_seconds_count", transport="smtp") == 17
    assert value(samples, "sluice_delivery_delay_seconds_bucket",
                 transport="smtp", le="+Inf") == 17
    # By destination domain.
    assert value(samples, "sluice_destination_recipients_total",
                 domain="ok.test", status="sent") == 11
    assert value(samples, "sluice_destination_recipients_total",
                 domain="picky.test", status="bounced") == 3
    assert value(samples, "sluice_destination_recipients_total",
                 domain="dead.test", status="deferred") == 4
    # Messages into the active queue and out of the queue.
    assert (value(samples, "sluice_qmgr_messages_inserted_recipients_count")
            == len(re.findall(r"\(queue active\)", log)))
    assert (value(samples, "sluice_qmgr_messages_removed_total")
            == len(re.findall(r": removed\n", log)))
    assert value(samples, "sluice_queue_messages", queue="deferred") == 4
    # smtpd and cleanup, through the shared counters.
    assert (value(samples, "sluice_smtpd_connects_total")
            == len(re.findall(r"smtpd\[\d+\]: connect from", log)) == 2)
    assert value(samples, "sluice_smtpd_rejects_total", stage="RCPT", code="554") == \
        len(re.findall(r"reject: RCPT from", log)) == 1
    assert value(samples, "sluice_received_messages_total", source="smtpd") == 1
    assert value(samples, "sluice_received_messages_total", source="bounce") == \
        len(re.findall(r"bounce\[\d+\]: \w+: message-id=", log)) == 3
    assert value(samples, "sluice_qmgr_up") == 1
    assert value(samples, "sluice_counters_up") == 1
    assert value(samples, "sluice_master_process_starts_total",
                 service="qmgr", type="fifo") == 1


def test_metrics_count_process_failures(instance):
    port = with_metrics(instance)
    instance.start()
    samples, _ = scrape(port)
    assert value(samples, "sluice_master_process_failures_total",
                 service="pickup", type="fifo") == 0
    starts = value(samples, "sluice_master_process_starts_total", service="pickup", type="fifo")
    assert starts == 1
    master = int(open(os.path.join(instance.spool, "pid", "master.pid")).read().split()[0])
    pickup = None
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % pid).read()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
        if comm == "pickup" and int(rest.split()[1]) == master:
            pickup = int(pid)
    assert pickup is not None
    os.kill(pickup, signal.SIGKILL)
    instance.wait_log(r"process .*pickup pid %d killed by signal 9" % pickup)
    instance.sendmail(["root@localhost"])     # wakes pickup again
    samples = instance.wait_for(
        lambda: (lambda s: s if value(s, "sluice_master_process_starts_total",
                                      service="pickup", type="fifo") == 2 else None)(
                                          scrape(port)[0]), 30, "pickup started again")
    assert value(samples, "sluice_master_process_failures_total",
                 service="pickup", type="fifo") == 1


def test_metrics_top_domains_and_families(instance, sink):
    ok = sink()
    domains = ["d%02d.test" % i for i in range(22)]
    port = with_metrics(instance, transport_maps=routes({d: ok.port for d in domains}))
    for i, d in enumerate(domains):
        for j in range(1 if i < 2 else 2):
            instance.inject(["r%d@%s" % (j, d)], kick=False)
    instance.start()
    instance.wait_for(lambda: len(ok.rcpts()) == 42, 60, "42 deliveries")

    def all_counted():
        s, f = scrape(port)
        return (s, f) if total(s, "sluice_delivery_recipients_total", status="sent") == 42 \
            else None
    samples, families = instance.wait_for(all_counted, 30, "42 sent in the metrics")
    shown = {dict(ls)["domain"] for (n, ls), v in samples.items()
             if n == "sluice_destination_recipients_total"}
    # The 20 busiest: the two domains with one message each are left out.
    assert shown == set(domains[2:]), shown
    assert families["sluice_delivery_recipients"] == "counter"
    assert families["sluice_delivery_delay_seconds"] == "histogram"
    assert families["sluice_queue_messages"] == "gauge"
    assert families["sluice_smtpd_connects"] == "counter"
    assert value(samples, "sluice_queue_messages", queue="active") == 0


def test_metrics_http_errors(instance):
    port = with_metrics(instance)
    instance.start()
    status, _, body = http(port, b"GET / HTTP/1.0\r\n\r\n")
    assert status.startswith("HTTP/1.1 404") and b"/metrics" in body
    status, _, _ = http(port, b"POST /metrics HTTP/1.1\r\n\r\n")
    assert status.startswith("HTTP/1.1 405")
    status, _, _ = http(port, b"hello\r\n\r\n")
    assert status.startswith("HTTP/1.1 400")
    status, headers, body = http(port, b"HEAD /metrics HTTP/1.1\r\n\r\n")
    assert status == "HTTP/1.1 200 OK" and body == b"" and int(headers["Content-Length"]) > 0
    # Without a queue manager the rest is still served, and says so.
    qmgr_sock = os.path.join(instance.spool, "private", "qmgr-control")
    os.rename(qmgr_sock, qmgr_sock + ".away")
    try:
        samples, _ = scrape(port)
    finally:
        os.rename(qmgr_sock + ".away", qmgr_sock)
    assert value(samples, "sluice_qmgr_up") == 0
    assert value(samples, "sluice_counters_up") == 1
    assert ("sluice_smtpd_connects_total", ()) in samples
    instance.wait_log(r"metrics\[\d+\]: warning: cannot reach the queue manager")
