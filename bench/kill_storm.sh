#!/bin/bash
# kill_storm.sh - a storm of kill -9 under steady inflow: Postfix beside sluice.
#
#   sudo bench/kill_storm.sh [-r RATE] [-k KILLS] [-s SEED] [-d STORM_S] [-t TAIL_S] [-l LIMIT_S] [-w WORKDIR] [-o NAME=VALUE]... [-b] [-K] [-S sluice|postfix]
#
# The same storm, one system after the other (Postfix first), each the whole
# mail system with every setting at its default, relaying d0.test to a sink
# on 127.0.0.1 through transport_maps, as bench/smtpd.sh sets them up:
#
# Inflow: RATE messages a second (-r, default 40), paced by the clock, each
#   one SMTP session into the system's smtpd carrying a unique tag in its
#   Subject (and Message-ID), sent by 32 smtplib threads (bench/kill_storm.py).
#   A submission that gets no 250 (its smtpd, or the cleanup behind it, was
#   killed) is sent again 1 s later on a new connection under a new tag
#   ("retries"); one still refused after 60 s is given up.
# Sink: aiosmtpd (kill_storm.py sink) records each arrival's time and tag.
# Storm: after 10 s of steady flow (the normal rate: deliveries a second at
#   the sink during seconds 4-10), KILLS (-k, default 20) kill -9 at random
#   moments over STORM_S seconds (-d, default 20), each of one random process
#   of a random role among the master's children: qmgr, smtpd, smtp (the
#   delivery agent), cleanup and trivial-rewrite (Postfix only: sluice's
#   cleanup is a library inside smtpd and pickup, and it has no rewrite
#   service), pickup.  Never master: in Postfix nothing restarts a killed
#   master (sluice's master kill is covered by scripts/torture).  Processes
#   are found as the master's children (pgrep -P) by argv[0] as ps shows it
#   ("qmgr -l -t unix -u"), so only the instance this script started is hit.
#   A role with no process at that moment (waited for 1.5 s) is skipped.  The
#   moments, roles and pids come from -s SEED (printed; random if not given):
#   both systems get the same moments, each draws roles from its own list.
# After the last kill the inflow goes on TAIL_S (-t, default 20) seconds
#   more and stops; then the wait until every accepted tag has arrived, at
#   most LIMIT_S (-l, default 120) seconds.  What is still missing then is
#   flushed (postfix flush, sluice flush: a deferred message waits
#   minimal_backoff_time, 300 s, otherwise) and waited for 60 s more; only
#   what is still missing after that is lost.
#
# Measured per system: accepted (250 received), arrived (accepted tags seen
# at the sink), lost, duplicates (a tag that arrived more than once), retries,
# no-250 copies (a submission that got no 250, was retried, and arrived as
# well: the sender's copy twice, RFC 1047's window, not counted as lost or
# duplicate);
# recover = seconds from the last kill until the first 1 s window (sliding
# in 0.1 s steps) whose deliveries reach 60 % of the normal rate, the
# definition of tests/fault/test_kill_anywhere.py (scripts/torture), and
# "sustained" = the same with the two windows after it at 60 % too (both
# looked for until the last arrival, so a recovery after the inflow stopped
# counts); longest gap = the longest time without an arrival from the first
# kill to the first arrival after the last; longest 250 gap = the same for
# the 250 replies (the intake); inflow stall = the longest a submission
# waited past its moment for one of the 32 threads (all busy in sessions
# that hang); backlog = seconds from the last kill until every message
# accepted before it had arrived (torture's catch-up: mail the system held,
# not mail it did not take in); the kills made, by role.
#
# Output: the table on stdout and bench/results/kill_storm-TIMESTAMP.txt,
# one row per system in .tsv beside it, each system's figures (per-second
# arrivals, the kill list) in -SYSTEM.json and its maillog in -SYSTEM.maillog.
# Needs root, Postfix 3.x installed but not running, aiosmtpd, and a release
# build (-b builds build-release first; SLUICE_BUILD_DIR picks another).  -o
# adds a main.cf setting to both systems; -S runs one system only; -K keeps
# WORKDIR (default /var/tmp/sluice-bench-storm).  Processes it started are
# stopped by pid (or by their configuration) on exit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WORK=/var/tmp/sluice-bench-storm
RATE=40
KILLS=20
SEED=""
STORM=20
TAIL=20
LIMIT=120
BUILD_FIRST=0
KEEP=0
ONLY=""
EXTRA=()

while getopts "r:k:s:d:t:l:w:o:bKS:" opt; do
	case $opt in
	r) RATE=$OPTARG ;;
	k) KILLS=$OPTARG ;;
	s) SEED=$OPTARG ;;
	d) STORM=$OPTARG ;;
	t) TAIL=$OPTARG ;;
	l) LIMIT=$OPTARG ;;
	w) WORK=$OPTARG ;;
	o) [[ $OPTARG == *=* ]] || usage; EXTRA+=("${OPTARG%%=*} = ${OPTARG#*=}") ;;
	b) BUILD_FIRST=1 ;;
	K) KEEP=1 ;;
	S) [[ $OPTARG == sluice || $OPTARG == postfix ]] || usage; ONLY=$OPTARG ;;
	*) usage ;;
	esac
done
[ -n "$SEED" ] || SEED=$(( (RANDOM << 15) | RANDOM ))
need postfix pgrep
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || die "needs /usr/bin/python3 with aiosmtpd"

build_release $BUILD_FIRST
mkdir -p "$WORK" "$RESULTS"
copy_programs

SINK_PID=""
cleanup_first() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	return 0
}
cleanup_last() { [ $KEEP -eq 1 ] || rm -rf "$WORK/sl" "$WORK/pf"; }
bench_trap

STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$RESULTS/kill_storm-$STAMP
HELPER=$BENCH/kill_storm.py

# start_sink PORT FILE - the recording sink, listening when it returns
start_sink() {
	: > "$2"
	/usr/bin/python3 "$HELPER" sink "$1" "$2" > "$WORK/sink.out" 2>&1 &
	SINK_PID=$!
	wait_listen "$1" 20 "the sink"
}
stop_sink() {
	kill "$SINK_PID" 2>/dev/null || true
	wait "$SINK_PID" 2>/dev/null || true
	SINK_PID=""
}

# storm SYSTEM MASTER SMTPD_PORT SPOOL FLUSH_CMD - the helper's run
storm() {
	echo "  $1: load $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%T)" >&2
	cut -d' ' -f1 /proc/loadavg > "$OUT-$1.load"
	/usr/bin/python3 "$HELPER" run --system "$1" --master "$2" --port "$3" \
		--arrivals "$WORK/arrivals-$1" --spool "$4" --flush "$5" --out "$OUT-$1.json" \
		--rate "$RATE" --kills "$KILLS" --seed "$SEED" --storm "$STORM" --tail "$TAIL" --limit "$LIMIT"
}

run_postfix() {
	local dir=$WORK/pf sink_port smtpd_port master
	sink_port=$(pick_ports 2)
	smtpd_port=$((sink_port + 1))
	start_sink "$sink_port" "$WORK/arrivals-postfix"
	own_postfix "$dir"
	rm -rf "$dir"
	"$BENCH/pf_instance.sh" setup "$dir" "$sink_port" "$smtpd_port" >/dev/null
	add_extra "$dir/conf/main.cf"
	"$BENCH/pf_instance.sh" serve "$dir"
	settle
	"$BENCH/pf_instance.sh" start "$dir"
	wait_listen "$smtpd_port" 60 "Postfix's smtpd"
	master=$("$BENCH/pf_instance.sh" master "$dir")
	storm postfix "$master" "$smtpd_port" "$dir/spool" "postfix -c $dir/conf flush"
	"$BENCH/pf_instance.sh" stop "$dir"
	stop_sink
	cp "$dir/maillog" "$OUT-postfix.maillog"
}

run_sluice() {
	local dir=$WORK/sl sink_port smtpd_port
	sink_port=$(pick_ports 2)
	smtpd_port=$((sink_port + 1))
	start_sink "$sink_port" "$WORK/arrivals-sluice"
	rm -rf "$dir"
	sluice_main_cf "$dir" "inline:{ d0.test=smtp:[127.0.0.1]:$sink_port }"
	add_extra "$dir/conf/main.cf"
	"$SLUICE" -c "$dir/conf" config -M > "$dir/master.cf.builtin"
	sed "s/^127\.0\.0\.1:2525 /127.0.0.1:$smtpd_port /" "$dir/master.cf.builtin" > "$dir/conf/master.cf"
	settle
	sluice_start "$dir/conf" "$dir/spool"
	wait_listen "$smtpd_port" 60 sluice
	storm sluice "$MASTER" "$smtpd_port" "$dir/spool" "$SLUICE -c $dir/conf flush"
	sluice_stop "$dir/conf" "$MASTER"
	stop_sink
	cp "$dir/maillog" "$OUT-sluice.maillog"
}

echo "kill storm: $RATE msg/s, $KILLS kills over ${STORM}s, seed $SEED; sluice $(rev) ($BUILD)" >&2
[ "$ONLY" = sluice ] || run_postfix
[ "$ONLY" = postfix ] || run_sluice

# ---- the table ----
/usr/bin/python3 - "$OUT" "$SEED" "$RATE" "$KILLS" "$STORM" "$(rev)" "$(postconf -d -h mail_version)" "$LIMIT" "${EXTRA[*]:-}" <<'EOF'
import json, os, sys
out, seed, rate, kills, storm, rev, pfv, limit, extra = sys.argv[1:]
cols = [("accepted", "accepted"), ("arrived", "arrived"), ("lost", "lost"), ("duplicates", "dups"),
        ("retries", "retries"), ("unconfirmed_arrived", "no-250 copies"), ("normal_rate", "normal/s"), ("recover", "recover s"),
        ("recover_sustained", "sustained s"), ("longest_gap", "longest gap s"), ("accept_gap", "longest 250 gap s"), ("max_lag", "inflow stall s"),
        ("catch_up", "backlog s"), ("kills", "kills")]
rows = []
for s in ("postfix", "sluice"):
    p = "%s-%s.json" % (out, s)
    if os.path.exists(p):
        r = json.load(open(p))
        r["load"] = open("%s-%s.load" % (out, s)).read().strip()
        rows.append(r)
def val(r, k):
    v = r[k]
    if v is None:
        return "never"
    if k == "catch_up" and r["flushed"]:
        return "%s (flushed)" % v
    return str(v)
head = "seed %s, %s msg/s, %s kills over %s s; sluice %s, Postfix %s%s" % (
    seed, rate, kills, storm, rev, pfv, "; both with: " + extra if extra else "")
lines = [head, "", "| system | " + " | ".join(h for _, h in cols) + " | kills by role | load |",
         "|---" * (len(cols) + 3) + "|"]
for r in rows:
    roles = ", ".join("%s %d" % kv for kv in sorted(r["kills_by_role"].items()))
    lines.append("| %s | %s | %s | %s |" % (r["system"], " | ".join(val(r, k) for k, _ in cols),
                                          roles, r["load"]))
for r in rows:
    notes = []
    if r["lost"]:
        notes.append("lost: %s" % " ".join(r["lost_tags"]))
    if r["duplicates"]:
        notes.append("duplicates: %s" % " ".join(r["dup_tags"]))
    if r["given_up"]:
        notes.append("%d submissions given up" % r["given_up"])
    if r["flushed"]:
        notes.append("%d accepted messages still missing %s s after the inflow stopped (queued: %s), flushed"
                     % (r["left_at_limit"], limit, r["queued_at_limit"]))
    if r["queued_end"]:
        notes.append("still queued at the end: %s" % r["queued_end"])
    if r["notices"]:
        notes.append("%d bounce notices" % r["notices"])
    if r["missed"]:
        notes.append("roles with no process to kill: %s" % r["missed"])
    if notes:
        lines.append("%s: %s" % (r["system"], "; ".join(notes)))
with open(out + ".txt", "w") as f:
    f.write("\n".join(lines) + "\n")
with open(out + ".tsv", "w") as f:
    keys = ["system", "seed", "rate"] + [k for k, _ in cols] + ["given_up",
            "flushed", "left_at_limit", "queued_end", "load"]
    f.write("\t".join(keys + ["kills_by_role"]) + "\n")
    for r in rows:
        f.write("\t".join(str(r[k]) for k in keys) + "\t" + json.dumps(r["kills_by_role"]) + "\n")
print("\n".join(lines))
EOF
echo "raw: $OUT.tsv (per system: $OUT-SYSTEM.json, .maillog)" >&2
