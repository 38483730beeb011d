"""Full disk (issue 17, item 3).

The queue lives on an 8 MB tmpfs.  Mail is queued (some deferred by a sink
that answers 451, some bound to bounce), then the file system is filled:
first to just above queue_minfree, where a big message passes the space
check and runs into ENOSPC while it is written, then to the brim.  Then:

- submissions are refused with a temporary error: sendmail exits 75, smtpd
  says 452 4.3.1 (space check) or 451 4.3.0 (write error), and nothing of a
  refused submission stays behind;
- nothing already accepted is damaged: no file goes to corrupt/, every
  message stays queued;
- the queue manager keeps delivering on the full disk (the sink takes mail
  again) and that frees space, so that submissions are accepted again;
- reports that could not be written (defer logs, bounce notices) are
  retried: at the end every bounce notice arrives and every message is
  delivered once.

FAULT_ROUNDS=N runs N rounds (fresh file system each).
"""
import os
import random
import subprocess
import time

import pytest

import faultlib
import itconf
from faultlib import World

SIZE = "8m"


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave, chunk=65536):
    """Write ballast files under path until at most `leave` bytes are free
    (leave=0: until ENOSPC).  Returns the files."""
    os.makedirs(os.path.join(path, "ballast"), exist_ok=True)
    files = []
    blob = b"\0" * chunk
    while True:
        free = free_bytes(path)
        if leave and free <= leave:
            break
        n = len(os.listdir(os.path.join(path, "ballast")))
        f = os.path.join(path, "ballast", "b%d" % n)
        files.append(f)
        try:
            with open(f, "wb") as fh:
                want = min(chunk, free - leave) if leave else chunk
                fh.write(blob[:max(4096, want)])
        except OSError:
            if leave:
                raise
            # ENOSPC: now byte by byte to the brim.
            try:
                with open(f, "ab") as fh:
                    while True:
                        fh.write(b"\0" * 512)
                        fh.flush()
            except OSError:
                pass
            break
    return files


def smtp_try(w, size=2000):
    """One submission through smtpd: the reply code of the refusal, or 250."""
    import smtplib
    tok, kinds, rcpts, body = w.next_message()
    body += "y" * size
    try:
        c = smtplib.SMTP("127.0.0.1", w.inst.smtpd_port, timeout=15)
        try:
            c.sendmail("snd@sink.test", rcpts, body.replace("\n", "\r\n"))
        finally:
            try:
                c.quit()
            except Exception:
                pass
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error
    except smtplib.SMTPRecipientsRefused as e:
        return list(e.recipients.values())[0]
    w.ledger.accept(tok, kinds, "smtpd")
    return 250, b""


def one_round(instance, seed, log):
    spool = instance.spool
    os.makedirs(spool, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % SIZE, "tmpfs", spool],
                   check=True)
    w = None
    try:
        w = World(instance, seed, postdrop=False, message_size_limit="0",
                  queue_minfree="100000", delay_warning_time="0h")
        # fail.test first goes nowhere (deferred); its bounces are made
        # only once the disk is full (the error transport, after a reload).
        routes = instance.params["transport_maps"]
        dead = itconf.free_port()
        instance.write_config(transport_maps=routes.replace(
            "fail.test=error:5.1.1 no such user here", "fail.test=smtp:[127.0.0.1]:%d" % dead))
        w.sink.fail_next = 10 ** 9          # 451 for now
        instance.start()
        rng = random.Random(seed)
        # Mail queued before the disk fills: ~30 KB each.
        for i in range(24):
            tok, kinds, rcpts, body = w.next_message()
            body += "z" * (30000 + rng.randrange(2000))
            p = instance.sluice("sendmail", "-f", "snd@sink.test", "--", *rcpts, input=body,
                                check=False)
            assert p.returncode == 0, p.stderr
            w.ledger.accept(tok, kinds, "sendmail")
        instance.wait_for(lambda: instance.queue_counts()["deferred"] >= 6, 60,
                          "deferred mail")
        # Quiet: what could be delivered was, so that nothing frees space
        # behind the test's back once the disk is full.

        def quiet():
            c = instance.queue_counts()
            return c["maildrop"] + c["incoming"] + c["active"] == 0
        instance.wait_for(quiet, 60, "a quiet queue")
        figures = dict(refused_sendmail=0, refused_smtpd=0, enospc_submissions=0)
        # 1. Just above queue_minfree: a big message passes the check and
        # meets ENOSPC while it is written.
        fill(spool, 100000 + 60000)
        big = "Subject: big\n\n" + ("b" * 76 + "\n") * 4000      # 308 KB
        before = {q: instance.queue_ids(q) for q in ("maildrop", "incoming")}
        p = instance.sluice("sendmail", "-f", "snd@sink.test", "--", "s1@sink.test",
                            input=big, check=False)
        assert p.returncode == 75, (p.returncode, p.stderr)
        figures["enospc_submissions"] += 1
        code, text = smtp_try(w, size=300000)
        assert 400 <= code < 500, (code, text)
        figures["enospc_submissions"] += 1
        log.append("just above queue_minfree: sendmail 75 (%s), smtpd %d %s" % (
            p.stderr.decode(errors="replace").strip()[-120:], code, text[:80]))
        # 2. To the brim.
        fill(spool, 0)
        assert free_bytes(spool) < 4096
        for i in range(3):
            tok, kinds, rcpts, body = w.next_message()
            p = instance.sluice("sendmail", "-f", "snd@sink.test", "--", *rcpts, input=body,
                                check=False)
            assert p.returncode == 75, (p.returncode, p.stderr)
            figures["refused_sendmail"] += 1
            code, text = smtp_try(w)
            assert code == 452 and b"4.3.1" in text or 400 <= code < 500, (code, text)
            figures["refused_smtpd"] += 1
        # Refused submissions leave nothing behind (temporary files of
        # maildrop/ and incoming/ aside: none must be a queue file).
        for q in ("maildrop", "incoming"):
            new = set(instance.queue_ids(q)) - set(before[q]) - set(instance.queue_ids(q))
            assert not new
        # Deliveries keep failing (451) on the full disk, and the mail for
        # fail.test bounces now: neither the bounce logs nor the notices
        # can be written.  Nothing is lost or damaged meanwhile.
        instance.write_config(transport_maps=routes)
        instance.reload()
        time.sleep(1)
        instance.flush()
        instance.wait_log(r"status=bounced", timeout=30)
        time.sleep(3)
        unwritten = [ln for ln in instance.log().splitlines()
                     if "No space left" in ln and ("log" in ln or "bounce" in ln)]
        figures["report_write_failures"] = len(unwritten)
        c = instance.queue_counts()
        assert c["corrupt"] == 0
        # 3. The sink takes mail again: the queue manager delivers on the
        # full disk, which frees space.
        w.sink.fail_next = 0
        instance.flush()
        t_full = time.time()

        def some_delivered():
            w.scan_files()
            return len([1 for (t, k) in w.ledger.arrivals if k == "smtp"]) >= 5
        instance.wait_for(some_delivered, 60, "deliveries on the full disk")
        instance.wait_for(lambda: free_bytes(spool) >= 200000, 60, "space freed by delivery")
        # 4. Submissions are accepted again.
        ok = False
        deadline = time.time() + 30
        while time.time() < deadline and not ok:
            ok = w.submit_sendmail()[0] == 0
            time.sleep(0.5)
        assert ok, "no submission accepted after delivery freed space"
        figures["recovered_after_s"] = round(time.time() - t_full, 1)
        # 5. Give the space back; everything comes out, bounces included.
        for f in os.listdir(os.path.join(spool, "ballast")):
            os.unlink(os.path.join(spool, "ballast", f))
        drained = w.drain(120)
        res = w.account([])
        res.update(figures, drained=drained)
        log.append("warnings while full: %s" % sorted(set(
            ln.split(": ", 2)[-1][:90] for ln in instance.log().splitlines()
            if "No space left" in ln or "insufficient system storage" in ln))[:8])
        return res
    finally:
        if w:
            w.stop()
        faultlib.kill_all(instance)
        subprocess.run(["umount", "-l", spool], check=False)


def test_full_disk(instance, cleanup):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    n = faultlib.rounds(1)
    n = min(n, 20)
    sums = dict(rounds=0, accepted=0, delivered=0, returned=0, lost=0, duplicates=0,
                corrupt=0, refused_sendmail=0, refused_smtpd=0, enospc_submissions=0,
                report_write_failures=0)
    problems, log = [], []
    for r in range(n):
        inst = instance if r == 0 else faultlib.fresh_instance(cleanup)
        res = one_round(inst, 1000 + r, log)
        print("round %d: %s" % (r, {k: v for k, v in res.items()
                                   if k not in ("explained", "unexplained", "missing",
                                                "unconfirmed_detail")}))
        for k in sums:
            if k == "rounds":
                sums[k] += 1
            elif k == "lost":
                sums[k] += len(res["missing"])
            else:
                sums[k] += res.get(k) or 0
        if res["missing"] or not res["drained"]:
            problems.append("round %d: missing %s queued %d" % (r, res["missing"][:5],
                                                                  res["queued"]))
        if res["corrupt"]:
            problems.append("round %d: %d in corrupt/" % (r, res["corrupt"]))
        if res["duplicates"]:
            problems.append("round %d: %d duplicates (no process was killed)" % (
                r, res["duplicates"]))
    for ln in log:
        print(ln)
    if not sums["report_write_failures"]:
        problems.append("no report failed to be written: the test did not reach that case")
    faultlib.results_file_append(dict(scenario="full_disk", **sums))
    assert not problems, "\n".join(problems)
