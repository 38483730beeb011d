#!/bin/bash
# metrics_cost.sh - what a Prometheus scrape every second costs the queue
# manager: its CPU per delivery with scrapes against without.
#
#   sudo bench/metrics_cost.sh [-n MESSAGES] [-r RUNS] [-i INTERVAL] [-w WORKDIR] [-k]
#
# Workload (bench/drain.sh's, sluice only): 10 smtp-sink processes on
# 127.0.0.1, MESSAGES (default 20000) one-recipient messages spread over
# d0.test .. d9.test in incoming/ while the system is stopped; master.cf
# has the metrics service (docs/OBSERVABILITY.md).  Then the system starts
# and bench/drainwait.c reports the queue manager's CPU (utime+stime) when
# incoming/ and active/ are empty.  Runs alternate: "none" (nobody asks
# for metrics) and "scrape" (curl GET /metrics every INTERVAL seconds,
# default 1, for the whole drain; each scrape asks the queue manager).
# Output: qmgr CPU-microseconds per delivery, median (min..max) per mode,
# the ratio scrape/none, and the scrapes made; then the queue manager's
# CPU per scrape alone (200 scrapes back to back after each "scrape"
# drain, from /proc/PID/stat, so at clock-tick resolution); raw numbers in
# bench/results/metrics_cost-TIMESTAMP.tsv.
#
# The machine is shared (2 CPUs): run-to-run noise is several percent, so
# use -r 5 or more and read the ranges, not one run.  Needs root (the sinks
# drop to nobody, qmgr runs as the sluice user), smtp-sink and curl, and a
# release build (build-release/; built when missing).  Processes it started
# are stopped by pid on exit; -k keeps WORKDIR (default
# /var/tmp/sluice-bench-metrics).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WORK=/var/tmp/sluice-bench-metrics
N=20000
RUNS=3
INTERVAL=1
KEEP=0
DOMAINS=10
MSG_SIZE=1272

while getopts "n:r:i:w:k" opt; do
	case $opt in
	n) N=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	i) INTERVAL=$OPTARG ;;
	w) WORK=$OPTARG ;;
	k) KEEP=1 ;;
	*) usage 5 ;;
	esac
done
need smtp-sink curl cc ss
build_release 0 sluice metrics
mkdir -p "$WORK/bin" "$RESULTS"
build_qgen "$WORK/bin/qgen"
bench_cc -o "$WORK/bin/drainwait" "$BENCH/drainwait.c"
copy_programs

SCRAPER=""
cleanup_first() { [ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null && wait "$SCRAPER" 2>/dev/null; }
cleanup_last() { [ $KEEP -eq 1 ] || rm -rf "$WORK/sl"; }
bench_trap

PORT0=$(pick_ports $((DOMAINS + 2)))
SMTPD_PORT=$((PORT0 + DOMAINS))
METRICS_PORT=$((PORT0 + DOMAINS + 1))
start_sinks "$PORT0" "$DOMAINS"

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$RESULTS/metrics_cost-$STAMP.tsv
{
	echo "# metrics_cost $STAMP: N=$N runs=$RUNS interval=${INTERVAL}s domains=$DOMAINS"
	echo "# sluice $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), $(uname -sr), $(nproc) cpus"
	printf "mode\trun\tn\telapsed\tsent\tcpu\tscrapes\n"
} > "$RAW"

# qmgr_ticks PID - utime + stime of a process, in clock ticks
qmgr_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# scraper FILE - GET /metrics every INTERVAL seconds; one line per good scrape
scraper() {
	while :; do
		if curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"; then
			echo ok >> "$1"
		fi
		sleep "$INTERVAL"
	done
}

run() {
	local mode=$1 r=$2 dir=$WORK/sl line rc=0 scrapes=0
	rm -rf "$dir"
	sluice_main_cf "$dir" "inline:{ $(sink_routes "$PORT0" "$DOMAINS") }"
	echo "daemon_directory = $WORK/sluice-bin" >> "$dir/conf/main.cf"
	# The built-in master.cf (printed before a master.cf exists), plus metrics.
	"$SLUICE" -c "$dir/conf" config -M | sed "s/^127.0.0.1:2525 /127.0.0.1:$SMTPD_PORT /" \
		> "$dir/master.cf.new"
	echo "127.0.0.1:$METRICS_PORT inet n - n - 1 metrics" >> "$dir/master.cf.new"
	mv "$dir/master.cf.new" "$dir/conf/master.cf"
	"$WORK/bin/qgen" -s "$MSG_SIZE" -d "$DOMAINS" "$dir/spool" "$N" >/dev/null
	chown -R sluice:sluice "$dir/spool"
	settle
	: > "$dir/scrapes"
	sluice_start "$dir/conf" "$dir/spool"
	if [ "$mode" = scrape ]; then
		scraper "$dir/scrapes" &
		SCRAPER=$!
	fi
	line=$("$WORK/bin/drainwait" -t 600 -n qmgr "$MASTER" "$dir/spool") || rc=$?
	if [ -n "$SCRAPER" ]; then
		kill "$SCRAPER" 2>/dev/null
		wait "$SCRAPER" 2>/dev/null || true
		SCRAPER=""
	fi
	# The cost of one scrape alone: 200 back to back on the drained system.
	if [ "$mode" = scrape ]; then
		local qpid c0 c1 k
		qpid=$(echo "$line" | tr ' ' '\n' | sed -n 's/^qmgr_pid=//p')
		c0=$(qmgr_ticks "$qpid")
		for ((k = 0; k < 200; k++)); do
			curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics" || true
		done
		c1=$(qmgr_ticks "$qpid")
		printf "per_scrape\t%d\t200\t0\t0\t%s\t200\n" "$r" \
			"$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN{print (b - a) / hz}')" >> "$RAW"
	fi
	sluice_stop "$dir/conf"
	[ $rc -eq 0 ] || echo "metrics_cost.sh: $mode run $r did not drain: $line" >&2
	scrapes=$(wc -l < "$dir/scrapes")
	local elapsed cpu sent
	elapsed=$(echo "$line" | tr ' ' '\n' | sed -n 's/^elapsed=//p')
	cpu=$(echo "$line" | tr ' ' '\n' | sed -n 's/^cpu=//p')
	sent=$(grep -c 'status=sent' "$dir/maillog" || true)
	printf "%s\t%d\t%d\t%s\t%d\t%s\t%d\n" "$mode" "$r" "$N" "$elapsed" "$sent" "$cpu" "$scrapes" >> "$RAW"
	printf "  %-6s run %d: %6.2fs  %5d sent  qmgr cpu %5.2fs  %3d scrapes\n" \
		"$mode" "$r" "$elapsed" "$sent" "$cpu" "$scrapes" >&2
}

echo "metrics cost: $N messages to $DOMAINS smtp-sinks, $RUNS runs per mode, scrape every ${INTERVAL}s" >&2
for ((r = 1; r <= RUNS; r++)); do
	run none $r
	run scrape $r
done

awk -F'\t' "$AWK_SUMMARY"'
/^#/ || $1 == "mode" { next }
$1 == "per_scrape" { ps_cpu += $6; ps_n += $3; next }
{ k = $1; n[k]++; us[k, n[k]] = $6 * 1e6 / $5; sc[k] += $7; el[k, n[k]] = $4 }
END {
	m1 = med(us, "none", n["none"]); l1 = lo; h1 = hi
	m2 = med(us, "scrape", n["scrape"]); l2 = lo; h2 = hi
	printf "qmgr CPU per delivery, median (min..max) of %d runs each:\n", n["none"]
	printf "  no scrapes:          %6.1f us (%.1f..%.1f)\n", m1, l1, h1
	printf "  scrape every second: %6.1f us (%.1f..%.1f), %d scrapes in all\n", m2, l2, h2, sc["scrape"]
	printf "  ratio scrape/none:   %.3f\n", m2 / m1
	if (ps_n) printf "qmgr CPU per scrape (%d back to back on the drained system): %.0f us\n", ps_n, ps_cpu * 1e6 / ps_n
}' "$RAW" | tee "$RESULTS/metrics_cost-$STAMP.txt"
echo "raw: $RAW" >&2
