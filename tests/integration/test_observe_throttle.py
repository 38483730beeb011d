"""The live state of a rate-throttled destination (smtp_destination_rate_delay):
`sluice status --json` shows it suspended, with when it resumes, what waits
and nothing in flight; the disk agrees (its waiting messages are in active/),
and the metrics service counts the one delivery it made."""
import json
import time

from conftest import free_port
from test_metrics import scrape, value
from test_observe import dest, routes, status


def test_rate_delayed_destination_is_suspended(instance, sink):
    s = sink()
    port = free_port()
    instance.set_master_cf(instance.master_cf + "127.0.0.1:%d inet n - n - 1 metrics\n" % port)
    instance.write_config(transport_maps=routes({"slow.test": s.port}),
                          smtp_destination_rate_delay="60s")
    for i in range(3):
        instance.inject(["r%d@slow.test" % i], kick=False)
    t0 = time.time()
    instance.start()
    instance.wait_for(lambda: len(s.rcpts()) == 1, 30, "the first delivery")

    def suspended():
        d = dest(status(instance), s.port)
        return d if d and d["state"] == "suspended" else None
    d = instance.wait_for(suspended, 30, "slow.test suspended")
    assert d["dead"] is False and d["retry_at"] is None
    assert d["rate_delay"] == 60
    assert t0 + 59 <= d["resume_at"] <= time.time() + 61, d
    assert (d["in_flight"], d["waiting"]) == (0, 2), d
    assert d["delivered_5m"] == 1 and d["failed_5m"] == 0
    # The disk: the two that wait are active messages, the third is gone.
    listing = [json.loads(line) for line in
               instance.sluice("queue", "--json").stdout.decode().splitlines()]
    assert sorted(m["queue_name"] for m in listing) == ["active", "active"]
    # No second delivery within the delay, after the first was seen.
    time.sleep(2)
    assert len(s.rcpts()) == 1
    samples, _ = scrape(port)
    assert value(samples, "sluice_delivery_recipients_total",
                 transport="smtp", status="sent") == 1
    assert value(samples, "sluice_queue_messages", queue="active") == 2
