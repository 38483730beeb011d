#!/bin/bash
# dead_backlog.sh - re-deferring the backlog of dead destinations: sluice beside Postfix/oqmgr.
#
#   sudo bench/dead_backlog.sh [-n N] [-r RUNS] [-k] [-w WORKDIR] [-S sluice|postfix]
#
# The claim (issue 13): a message whose every recipient waits for a
# destination the queue manager already holds as dead is re-deferred without
# the round trip through active/ and the retry agent; target at least 5x
# Postfix's re-deferrals per second with at most 0.2x its queue manager's CPU
# and 0.2x the CPU of all its processes.
#
# Workload, the same for both: ten destinations d0.test .. d9.test routed by
# transport_maps to smtp:[127.0.0.1]:PORT+i where nothing listens (connection
# refused), queue_run_delay = 3600s (only our triggers scan),
# minimal_backoff_time = 900s (a dead destination stays dead for both cycles
# below, even with 100,000 messages), everything else at its defaults.  deferred/ holds N messages (default 20000), one recipient
# each, spread evenly over the ten domains: copies of one small queue file per
# domain (bench/deferred_scan_fill.py; sluice's template from tests/qfmake,
# Postfix's from its own sendmail/pickup/cleanup), 10 per domain due at the
# start, the others due in a day.  The system is started; the due ones fail
# (connection refused) and the ten destinations are declared dead, as they
# would be after hours of downtime; once those 100 deferrals are logged and
# the queue manager is idle, one trigger makes everything due (sluice kick A D;
# postkick public qmgr AD) and bench/deferred_scan_watch.c measures until the
# maillog holds N more "status=deferred" lines and the queue manager is idle
# (cycle 1: every message gets its first defer log); then the same again
# (cycle 2: the steady state of a long outage, every message has the log of
# its last attempt; the headline figure), within minimal_backoff_time of the
# destinations' death, so they are still dead.  Measured:
# the wall time to the last deferral, the queue manager's CPU (scheduler ns)
# and the CPU of all the system's processes (-M: master, the children it
# reaped and its live children: queue manager, agents, Postfix's postlogd
# and bounce/defer daemons).  Runs alternate (Postfix, sluice, ...), each on a
# fresh queue.  After each run deferred/ must hold N files and active/ none.
#
# Output: raw rows in bench/results/dead_backlog-STAMP.tsv and a summary on
# stdout (medians, ratios sluice/Postfix).  Needs root, Postfix 3.x (not
# running) and the release build (built when missing).  -k keeps WORKDIR
# (default /var/tmp/sluice-backlog); processes it started are stopped by pid.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
WORK=/var/tmp/sluice-backlog
N=20000
RUNS=1
KEEP=0
ONLY=""
DOMAINS=10
PRIME=10	# due at the start, per domain: they kill the destinations

while getopts "n:r:kw:S:" opt; do
	case $opt in
	n) N=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	k) KEEP=1 ;;
	w) WORK=$OPTARG ;;
	S) ONLY=$OPTARG ;;
	*) usage ;;
	esac
done
case $ONLY in "" | sluice | postfix) ;; *) usage ;; esac
[ $((N % DOMAINS)) -eq 0 ] && [ "$N" -ge $((DOMAINS * PRIME)) ] || usage
need postfix postconf postkick sendmail cc cmake ss

build_release 0
SLUICE=$BUILD/sluice
QFMAKE=$BUILD/tests/qfmake
[ -x "$SLUICE" ] && [ -x "$QFMAKE" ] || die "missing $SLUICE or $QFMAKE"
mkdir -p "$WORK/bin" "$RESULTS"
chmod 755 "$WORK"
WATCH=$WORK/bin/deferred_scan_watch
bench_cc -o "$WATCH" "$BENCH/deferred_scan_watch.c"

cleanup_last() { [ $KEEP -eq 1 ] || rm -rf "$WORK"/run-* "$WORK"/tpl-*; }
bench_trap

# Ten consecutive ports nobody listens on.
PORT0=$(pick_ports $DOMAINS)
TM=$(sink_routes "$PORT0" "$DOMAINS")

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$RESULTS/dead_backlog-$STAMP.tsv
{
	echo "# dead_backlog $STAMP: n=$N runs=$RUNS domains=$DOMAINS prime=$PRIME"
	echo "# sluice $(rev), build $BUILD ($(stat -c %y "$BUILD/qmgr" | cut -d. -f1))"
	echo "# postfix $(postconf -d -h mail_version) (oqmgr); $(uname -sr); $(nproc) cpus"
	printf "system\trun\tcycle\tn\twall\tqmgr_cpu_ms\ttree_cpu_ms\tload1\n"
} > "$RAW"

message() {
	printf 'From: s@bench.test\nTo: u@%s\nSubject: dead backlog bench\n' "$1"
	printf 'Message-Id: <dbl.%s.%s@bench.test>\n\nA short body line.\n' "$STAMP" "$1"
}

# ---- templates: one queue file per domain and system ----
mk_templates() {
	local d=$WORK/tpl-sluice id f i
	rm -rf "$d" "$WORK/tpl-postfix"
	for ((i = 0; i < DOMAINS; i++)); do
		id=$(message "d$i.test" | "$QFMAKE" -q hold -f s@bench.test "$d" "u@d$i.test")
		mv "$d/hold/$id" "$WORK/sluice-$i.tpl"
		chown sluice:sluice "$WORK/sluice-$i.tpl"
	done
	d=$WORK/tpl-postfix
	own_postfix "$d"
	"$BENCH/pf_instance.sh" setup "$d" "$PORT0" 0 >/dev/null
	"$BENCH/pf_instance.sh" start "$d"
	for ((i = 0; i < DOMAINS; i++)); do
		message "d$i.test" | sendmail -C "$d/conf" -f s@bench.test "u@d$i.test"
		f=""
		for _ in $(seq 200); do
			# Complete (mode 0700) and under its queue ID: cleanup is done.
			f=$(find "$d/spool/incoming" -type f -perm -u+x | head -n 1)
			[ -n "$f" ] && break
			sleep 0.05
		done
		[ -n "$f" ] || die "Postfix made no queue file (see $d/maillog)"
		mv "$f" "$WORK/postfix-$i.tpl"
	done
	"$BENCH/pf_instance.sh" stop "$d"
}

# run SYSTEM RUN - one measured run on a fresh queue
run() {
	local sys=$1 r=$2 dir=$WORK/run-$1 conf spool maillog master qname t i per line kick
	local wall=-1 cpu_ms=-1 tree_ms=-1 timeout=1 sent=0 load
	rm -rf "$dir"
	if [ "$sys" = sluice ]; then
		conf=$dir/conf spool=$dir/spool maillog=$dir/maillog qname=qmgr
		sluice_main_cf "$dir" "inline:{ $TM }"
		printf 'queue_run_delay = 3600s\nminimal_backoff_time = 900s\n' >> "$conf/main.cf"
		id=$(message x | "$QFMAKE" -q hold -f s@bench.test "$spool" u@x.test)
		rm -f "$spool/hold/$id"
		chown -R sluice:sluice "$spool"
		kick=("$SLUICE" -c "$conf" kick A D)
	else
		conf=$dir/conf spool=$dir/spool maillog=$dir/maillog qname=oqmgr
		own_postfix "$dir"
		"$BENCH/pf_instance.sh" setup "$dir" "$PORT0" 0 >/dev/null
		postconf -c "$conf" -e "queue_run_delay = 3600s" "minimal_backoff_time = 900s"
		"$BENCH/pf_instance.sh" measure "$dir"
		kick=(postkick -c "$conf" public qmgr AD)
	fi
	t=$(date +%s)
	per=$((N / DOMAINS))
	for ((i = 0; i < DOMAINS; i++)); do
		$PY "$BENCH/deferred_scan_fill.py" "$sys" "$WORK/$sys-$i.tpl" "$spool" deferred \
			$PRIME $((t - 60)) $((t - 60))
		$PY "$BENCH/deferred_scan_fill.py" "$sys" "$WORK/$sys-$i.tpl" "$spool" deferred \
			$((per - PRIME)) $((t + 86400)) $((t + 172800))
	done
	settle
	if [ "$sys" = sluice ]; then
		sluice_start "$conf" "$spool"
		master=$MASTER
	else
		"$BENCH/pf_instance.sh" start "$dir"
		master=$("$BENCH/pf_instance.sh" master "$dir")
	fi
	QPID=$(find_child "$master" "$qname")
	# The due ones fail and the destinations die.
	line=$("$WATCH" -s -t 120 -m "$maillog" -n $((DOMAINS * PRIME)) -w status=deferred "$QPID") ||
		die "$sys: the first deferrals did not come: $line"
	# Cycle 1 writes every message's first defer log; cycle 2 is the steady
	# state of a long outage (each message has its log from the last try).
	for cyc in 1 2; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		line=$("$WATCH" -t 900 -m "$maillog" -n $((DOMAINS * PRIME + cyc * N)) -w status=deferred \
			-M "$master" "$QPID" "${kick[@]}") || note "$sys: not all re-deferred: $line"
		eval "$(echo "$line" | tr ' ' '\n' | grep -E '^(wall_sent|cpu_ms|tree_ms|sent|timeout)=' |
			sed 's/^wall_sent/wall/')"
		printf "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n" "$sys" "$r" "$cyc" "$N" "$wall" "$cpu_ms" \
			"$tree_ms" "$load" >> "$RAW"
		note "$(printf '%-7s run %d cycle %d: %d re-deferred in %.2f s (%.0f/s), qmgr cpu %.0f ms, all processes %s ms, load %s' \
			"$sys" "$r" "$cyc" "$N" "$wall" "$(echo "$N / $wall" | bc -l)" "$cpu_ms" "$tree_ms" "$load")"
	done
	if [ "$sys" = sluice ]; then
		sluice_stop "$conf" "$master"
	else
		"$BENCH/pf_instance.sh" stop "$dir"
	fi
	local nd na
	nd=$(find "$spool/deferred" -type f | wc -l)
	na=$(find "$spool/active" -type f | wc -l)
	[ "$nd" -eq "$N" ] && [ "$na" -eq 0 ] || note "$sys: deferred/ holds $nd, active/ $na (expected $N, 0)"
	[ $KEEP -eq 1 ] && cp "$maillog" "$RESULTS/dead_backlog-$STAMP-$sys-$r.maillog"
	[ $KEEP -eq 1 ] || rm -rf "$dir"
}

echo "dead backlog benchmark: $N deferred messages to $DOMAINS dead destinations, $RUNS runs each" >&2
mk_templates
for ((r = 1; r <= RUNS; r++)); do
	[ "$ONLY" = sluice ] || run postfix "$r"
	[ "$ONLY" = postfix ] || run sluice "$r"
done

$PY - "$RAW" <<'SUMMARY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])
        if not l.startswith("#") and not l.startswith("system")]
for cyc, title in (("1", "cycle 1 (each message's first defer log is written)"),
                   ("2", "cycle 2 (steady state: every message has the log of its last try)")):
    print(title)
    print("%-36s %12s %12s %8s" % ("median of runs", "Postfix", "sluice", "ratio"))
    for name, f in (("re-deferrals per second", lambda r: int(r[3]) / float(r[4])),
                    ("qmgr CPU us per message", lambda r: float(r[5]) * 1000 / int(r[3])),
                    ("all processes CPU us per message", lambda r: float(r[6]) * 1000 / int(r[3]))):
        v = {}
        for sys_ in ("postfix", "sluice"):
            xs = [f(r) for r in rows if r[0] == sys_ and r[2] == cyc]
            v[sys_] = statistics.median(xs) if xs else 0
        print("%-36s %12.1f %12.1f %8.3f" % (name, v["postfix"], v["sluice"],
                                             v["sluice"] / v["postfix"] if v["postfix"] else 0))
SUMMARY
echo "raw: $RAW" >&2
