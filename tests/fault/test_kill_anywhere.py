"""kill -9 anywhere (issue 17, item 1).

Mail flows in through sendmail (root), sendmail as nobody (the set-gid
postdrop) and smtpd, and out to an SMTP sink, Maildirs, a pipe command and
bounces, while each round kills one random process of the system (master,
qmgr, pickup, smtpd, smtp, local, pipe, bounce, showq, postdrop, sendmail)
at a random moment.  When master dies the test starts the system again, as
an operator would (`sluice start`).  Then the queue is drained and every
message counted (faultlib): lost must be 0, every duplicate must be
explained by a kill of the agent that delivered it before it logged the
delivery, and delivery must run at its normal rate again within
RECOVER_LIMIT seconds of the last kill.

FAULT_ROUNDS=N (scripts/torture) sets the number of kills; the test command
runs a short campaign.  FAULT_SEED=N repeats a schedule.
"""
import json
import os
import random
import re
import threading
import time

import faultlib
from faultlib import World, kill

VICTIMS = ["master", "qmgr", "pickup", "smtpd", "smtp", "local", "pipe", "bounce",
           "showq", "postdrop", "sendmail"]
PER_BATCH = int(os.environ.get("FAULT_PER_BATCH") or 40)  # kills per system lifetime
WARMUP = 6.0            # seconds of flow before the first kill
BASE_FROM = 3.0         # the normal rate: deliveries from here to WARMUP (start-up is over)
TAIL = 5.0              # seconds of flow after the last kill
RECOVER_LIMIT = 5.0     # delivery back at its normal rate within this


def delivery_rate_back(times, last_kill, base_rate, horizon):
    """Seconds from last_kill until a 1 s window holds >= 60 % of the normal
    number of deliveries (None if never before horizon)."""
    t = last_kill
    while t + 1.0 <= horizon:
        n = sum(1 for x in times if t <= x < t + 1.0)
        if n >= 0.6 * base_rate:
            return t - last_kill
        t += 0.1
    return None


def write_timeline(instance, w, t0, kills, last_kill, base_rate, recover):
    """timeline.json in the instance's folder (kept with
    SLUICE_KEEP_TEST_DIRS=1): what a slow recovery is read from, beside the
    maillog (tests/fault/recovery_report.py)."""
    with w.ledger.lock:
        arrivals = sorted((ts, tok, kind, str(info))
                          for (tok, kind), v in w.ledger.arrivals.items() for ts, info in v)
        accepted = sorted((ts, tok, ch) for tok, (_, ch, ts) in w.ledger.accepted.items())
    with open(os.path.join(instance.base, "timeline.json"), "w") as f:
        json.dump(dict(t0=t0, kills=kills, last_kill=last_kill, base_rate=base_rate,
                       recover=recover, arrivals=arrivals, accepted=accepted), f)


def catch_up(w, last_kill):
    """Seconds from last_kill until every unit accepted before it had
    arrived (its first copy), and that last unit: the backlog of the kills
    is gone.  Independent of how fast the feeders submit."""
    with w.ledger.lock:
        acc = [(tok, kinds) for tok, (kinds, _, ts) in w.ledger.accepted.items()
               if ts <= last_kill]
        first = {u: min(ts for ts, _ in v) for u, v in w.ledger.arrivals.items()}
    worst, unit = 0.0, None
    for tok, kinds in acc:
        for k in kinds:
            if (tok, k) in first and first[(tok, k)] - last_kill > worst:
                worst, unit = first[(tok, k)] - last_kill, "%s/%s" % (tok, k)
    return round(worst, 2), unit


def run_batch(instance, seed, nkills, log):
    rng = random.Random(seed)
    w = World(instance, seed)
    stop = threading.Event()
    kills = []
    try:
        instance.start()
        t0 = time.time()

        def feed_cli():
            i = 0
            while not stop.is_set():
                w.submit_sendmail(as_nobody=(i % 2 == 1))
                i += 1
                time.sleep(0.05)

        def feed_smtp():
            box = [None]
            while not stop.is_set():
                w.submit_smtp(box)
                time.sleep(0.05)
            w._drop(box)

        feeders = [threading.Thread(target=feed_cli), threading.Thread(target=feed_smtp)]
        for f in feeders:
            f.start()
        time.sleep(WARMUP)
        w.scan_files()
        base_times = [x for x in w.ledger.times() if t0 + BASE_FROM <= x < t0 + WARMUP]
        base_rate = len(base_times) / (WARMUP - BASE_FROM)
        for _ in range(nkills):
            time.sleep(rng.uniform(0.2, 0.8))
            want = rng.choice(VICTIMS)
            poke = faultlib.showq_poke(instance) if want == "showq" else None
            deadline = time.time() + 1.5
            pids = []
            while time.time() < deadline:
                pids = w.pids(want)
                if pids:
                    break
                time.sleep(0.01)
            if poke:
                poke.close()
            if not pids:
                log.append("round: no %s process to kill" % want)
                continue
            pid = rng.choice(sorted(pids))
            if kill(pid):
                kills.append((time.time(), want, pid))
            if want == "master":
                # The operator notices and starts the system again.
                time.sleep(rng.uniform(0.2, 1.0))
                for _ in range(50):
                    if not w.pids("qmgr"):
                        break
                    time.sleep(0.1)
                left = faultlib.instance_procs(instance)
                assert not any(name == "qmgr" for _, name in left), \
                    "qmgr outlived its killed master: %s" % left
                instance.sluice("start")
                restarted = time.time()
        last_kill = kills[-1][0] if kills else time.time()
        # After master, the clock starts when the operator's start is done.
        if kills and kills[-1][1] == "master":
            last_kill = restarted
        time.sleep(TAIL)
        stop.set()
        for f in feeders:
            f.join()
        horizon = time.time()
        w.scan_files()
        back = delivery_rate_back(w.ledger.times(), last_kill, base_rate, horizon)
        drained = w.drain(90)
        res = w.account(kills)
        res["catch_up"], res["catch_up_unit"] = catch_up(w, last_kill)
        log_text = instance.log()
        res["log_lines"] = {}
        for e in res["unexplained"]:
            qids = set(re.findall(r"(\w+): message-id=<%s@fault.test>" % e[0], log_text))
            res["log_lines"][e[0]] = [ln for ln in log_text.splitlines()
                                      if any(q in ln for q in qids) or " killed by " in ln][:80]
        res.update(kills=len(kills), base_rate=round(base_rate, 1),
                   last_victim=kills[-1][1] if kills else None,
                   recover=None if back is None else round(back, 2), drained=drained)
        procs = faultlib.instance_procs(instance)
        res["qmgrs"] = sum(1 for _, n in procs if n == "qmgr")
        write_timeline(instance, w, t0, kills, last_kill, base_rate, res["recover"])
        res["dir"] = instance.base
        return res, kills
    finally:
        stop.set()
        w.stop()
        instance.stop()


def w_unconfirmed(res):
    return res.get("unconfirmed_detail", {})


def test_kill_anywhere(instance, cleanup):
    total = faultlib.rounds(6)
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1 << 30))
    print("kill anywhere: %d rounds, seed %d (FAULT_SEED=%d repeats it)" % (total, seed, seed))
    sums = dict(rounds=0, accepted=0, delivered=0, returned=0, lost=0, duplicates=0,
                unexplained=0, unconfirmed=0, unconfirmed_delivered=0, batches=0)
    worst_recover = 0.0
    samples = []
    notes, problems = [], []
    batch = 0
    done = 0
    while done < total:
        n = min(PER_BATCH, total - done)
        if batch > 0:
            # A fresh system per batch, in a fresh folder.
            instance = faultlib.fresh_instance(cleanup)
        res, kills = run_batch(instance, seed + batch, n, notes)
        by = {}
        for _, prog, _ in kills:
            by[prog] = by.get(prog, 0) + 1
        print("batch %d: kills %s (system in %s)" % (batch, by, instance.base))
        print("batch %d: accepted %d units (%d messages), delivered %d, returned %d, lost %s, "
              "duplicates %d (%d unexplained), queued %d, recover %s s after the last kill (%s) (normal rate %s/s), "
              "backlog of the kills delivered %s s after it (last %s)"
              % (batch, res["accepted"], res["accepted_msgs"], res["delivered"],
                 res["returned"], res["lost"], res["duplicates"], len(res["unexplained"]),
                 res["queued"], res["recover"], res["last_victim"], res["base_rate"],
                 res["catch_up"], res["catch_up_unit"]))
        samples.append(dict(recover=res["recover"], catch_up=res["catch_up"],
                            last=res["last_victim"], base_rate=res["base_rate"],
                            dir=res["dir"], load=round(os.getloadavg()[0], 1)))
        why = {}
        for _, (_, channel, reason) in sorted(w_unconfirmed(res).items()):
            key = "%s: %s" % (channel, reason[:60])
            why[key] = why.get(key, 0) + 1
        for k, v in sorted(why.items()):
            print("  not accepted %d x %s" % (v, k))
        for e in res["explained"]:
            print("  duplicate %s/%s: %s" % (e[0], e[1], e[3]))
        for e in res["unexplained"]:
            print("  UNEXPLAINED duplicate %s/%s, copy %s; its log lines:" % e[:3])
            for ln in res["log_lines"].get(e[0], []):
                print("    " + ln[:300])
            problems.append("batch %d: unexplained duplicate %s/%s copy %s" % (
                batch, e[0], e[1], e[2]))
        if res["bounced_unexpectedly"]:
            problems.append("batch %d: bounced %s" % (batch, res["bounced_unexpectedly"][:10]))
        if res["lost"]:
            problems.append("batch %d: lost %s" % (batch, res["missing"][:10]))
        if not res["drained"]:
            problems.append("batch %d: not drained: missing %s, queued %d" % (
                batch, res["missing"][:10], res["queued"]))
        if res["recover"] is None or res["recover"] > RECOVER_LIMIT:
            problems.append("batch %d: delivery not back at its rate in %s s" % (
                batch, RECOVER_LIMIT))
        worst_recover = max(worst_recover, 99.0 if res["recover"] is None else res["recover"])
        sums["rounds"] += len(kills)
        sums["batches"] += 1
        for k in ("accepted", "delivered", "returned", "duplicates", "unconfirmed",
                  "unconfirmed_delivered"):
            sums[k] += res[k]
        sums["lost"] += res["lost"] or len(res["missing"])
        sums["unexplained"] += len(res["unexplained"])
        done += n
        batch += 1
    sums["worst_recover_s"] = worst_recover
    sums["per_batch"] = PER_BATCH
    sums["samples"] = samples
    sums["load"] = os.getloadavg()
    sums["seed"] = seed
    faultlib.results_file_append(dict(scenario="kill_anywhere", **sums))
    for n in notes[:20]:
        print(n)
    assert not problems, "\n".join(problems)
    assert sums["rounds"] >= total * 0.8, "too few kills landed: %d of %d" % (
        sums["rounds"], total)
