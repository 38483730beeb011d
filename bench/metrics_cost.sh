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

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${SLUICE_BUILD_DIR:-$ROOT/build-release}
RESULTS=$BENCH/results
WORK=/var/tmp/sluice-bench-metrics
N=20000
RUNS=3
INTERVAL=1
KEEP=0
DOMAINS=10
MSG_SIZE=1272

usage() {
	sed -n '5p' "$0" | sed 's/^# */usage: /' >&2
	exit 64
}
while getopts "n:r:i:w:k" opt; do
	case $opt in
	n) N=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	i) INTERVAL=$OPTARG ;;
	w) WORK=$OPTARG ;;
	k) KEEP=1 ;;
	*) usage ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "metrics_cost.sh: run as root" >&2; exit 1; }
for t in smtp-sink curl cc ss; do
	command -v $t >/dev/null || { echo "metrics_cost.sh: $t is missing" >&2; exit 1; }
done
if [ ! -x "$BUILD/sluice" ] || [ ! -x "$BUILD/metrics" ]; then
	(cd "$ROOT" && cmake --preset release >/dev/null && cmake --build build-release -j2 >/dev/null)
fi
mkdir -p "$WORK/bin" "$RESULTS"
CFLAGS="-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror"
cc $CFLAGS -I"$ROOT/src" -o "$WORK/bin/qgen" "$BENCH/qgen.c" \
	"$BUILD/libsluice_global.a" "$BUILD/libsluice_util.a"
cc $CFLAGS -o "$WORK/bin/drainwait" "$BENCH/drainwait.c"
rm -rf "$WORK/sluice-bin"
mkdir -p "$WORK/sluice-bin"
find "$BUILD" -maxdepth 1 -type f -perm -u+x -exec cp -p {} "$WORK/sluice-bin/" \;
SLUICE=$WORK/sluice-bin/sluice

SINK_PIDS=()
SCRAPER=""
SL_CONF=""
cleanup() {
	set +e
	[ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null && wait "$SCRAPER" 2>/dev/null
	[ -n "$SL_CONF" ] && [ -f "$SL_CONF/main.cf" ] && "$SLUICE" -c "$SL_CONF" stop >/dev/null 2>&1
	for p in "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SINK_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ $KEEP -eq 1 ] || rm -rf "$WORK/sl"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! ss -Htan "( sport = :$1 )" | grep -q .; }
pick_ports() {
	local base tries=0 i ok
	while [ $tries -lt 50 ]; do
		base=$((20000 + RANDOM % 20000))
		ok=1
		for ((i = 0; i <= DOMAINS + 1; i++)); do
			port_free $((base + i)) || { ok=0; break; }
		done
		[ $ok -eq 1 ] && { echo $base; return 0; }
		tries=$((tries + 1))
	done
	echo "metrics_cost.sh: no free port range" >&2
	return 1
}
PORT0=$(pick_ports)
SMTPD_PORT=$((PORT0 + DOMAINS))
METRICS_PORT=$((PORT0 + DOMAINS + 1))
for ((i = 0; i < DOMAINS; i++)); do
	smtp-sink -u nobody "127.0.0.1:$((PORT0 + i))" 256 &
	SINK_PIDS+=($!)
done
for ((i = 0; i < DOMAINS; i++)); do
	t0=$SECONDS
	until ! port_free $((PORT0 + i)); do
		[ $((SECONDS - t0)) -lt 10 ] || { echo "metrics_cost.sh: sink $i did not listen" >&2; exit 1; }
		sleep 0.05
	done
done

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
	local mode=$1 r=$2 dir=$WORK/sl tm="" i line master rc=0 scrapes=0
	rm -rf "$dir"
	mkdir -p "$dir/conf"
	for ((i = 0; i < DOMAINS; i++)); do
		tm+="${tm:+, }d$i.test=smtp:[127.0.0.1]:$((PORT0 + i))"
	done
	cat > "$dir/conf/main.cf" <<EOF
queue_directory = $dir/spool
maillog_file = $dir/maillog
myhostname = bench.test
mydestination = localhost
daemon_directory = $WORK/sluice-bin
transport_maps = inline:{ $tm }
EOF
	# The built-in master.cf (printed before a master.cf exists), plus metrics.
	"$SLUICE" -c "$dir/conf" config -M | sed "s/^127.0.0.1:2525 /127.0.0.1:$SMTPD_PORT /" \
		> "$dir/master.cf.new"
	echo "127.0.0.1:$METRICS_PORT inet n - n - 1 metrics" >> "$dir/master.cf.new"
	mv "$dir/master.cf.new" "$dir/conf/master.cf"
	SL_CONF=$dir/conf
	"$WORK/bin/qgen" -s "$MSG_SIZE" -d "$DOMAINS" "$dir/spool" "$N" >/dev/null
	chown -R sluice:sluice "$dir/spool"
	sync
	sleep 2
	: > "$dir/scrapes"
	"$SLUICE" -c "$dir/conf" start >/dev/null 2>&1
	local t0=$SECONDS
	until master=$(tr -d ' \n' < "$dir/spool/pid/master.pid" 2>/dev/null) && [ -n "$master" ]; do
		[ $((SECONDS - t0)) -lt 20 ] || { echo "metrics_cost.sh: sluice did not start" >&2; exit 1; }
		sleep 0.05
	done
	if [ "$mode" = scrape ]; then
		scraper "$dir/scrapes" &
		SCRAPER=$!
	fi
	line=$("$WORK/bin/drainwait" -t 600 -n qmgr "$master" "$dir/spool") || rc=$?
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
	"$SLUICE" -c "$dir/conf" stop >/dev/null 2>&1
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

awk -F'\t' '
/^#/ || $1 == "mode" { next }
$1 == "per_scrape" { ps_cpu += $6; ps_n += $3; next }
{ k = $1; n[k]++; us[k, n[k]] = $6 * 1e6 / $5; sc[k] += $7; el[k, n[k]] = $4 }
function med(a, k, cnt,   i, j, t, v) {
	for (i = 1; i <= cnt; i++) v[i] = a[k, i]
	for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	lo = v[1]; hi = v[cnt]
	return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
}
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
