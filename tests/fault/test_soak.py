"""The soak (issue 17, item 5) in brief: soak.py's whole system -- smtp-source
into smtpd, smtp-sink and the token sink, Maildirs, a pipe command and
bounces out, smtp, local, smtpd, pickup and bounce processes killed and
sinks failing on the way -- with 1,000 messages instead of a million.
Nothing accepted may be lost, nothing delivered twice with both
deliveries on record, no record at a sink that names no message.  The
flatness of memory, descriptors and CPU is the long run's business
(`scripts/soak N`, docs/RELIABILITY.md): 1,000 messages of the ASan build
say nothing about it."""
import os
import random
import shutil

import faultlib  # noqa: F401  (loads itconf through conftest)
import pytest

import soak


@pytest.mark.skipif(shutil.which("smtp-source") is None or shutil.which("smtp-sink") is None,
                    reason="needs Postfix's smtp-source and smtp-sink (package postfix)")
def test_soak_short():
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1 << 30))
    run = soak.Soak(faultlib.rounds(1000), seed, fault_every=150, check_flat=False)
    try:
        rc = run.main()
    finally:
        run.sinks.stop()
        if run.inst.running:
            faultlib.kill_all(run.inst)
    res = run.res
    assert res is not None
    # The faults happened: processes were killed and a sink went away.
    assert res["faults"] >= 4 and res["sink_kills"] >= 1, res
    assert res["accepted_src"] > 700 and res["accepted_trickle"] > 0, res
    assert res["lost"] == 0 and res["queued"] == 0 and res["drained"], res
    assert res["dups_sent_logged_twice"] == [] and res["stray"] == 0, res
    assert res["notices_at_sinks"] == 0 and res["corrupt"] == 0, res
    assert rc == 0, res["problems"]
