#!/bin/bash
# drain.sh - the delivery benchmark: sluice beside Postfix/oqmgr, same machine.
#
#   sudo bench/drain.sh [-n MESSAGES] [-r RUNS] [-w WORKDIR] [-o NAME=VALUE]... [-b] [-k] [-s sluice|postfix]
#
# Workload (identical for both systems): 10 smtp-sink processes on
# 127.0.0.1, destinations d0.test .. d9.test routed to them with
# transport_maps, MESSAGES (default 10000) messages of the same size with
# one recipient each, spread evenly over the ten domains, sitting in the
# incoming queue while the system is stopped.  Then the system is started
# and drainwait (bench/drainwait.c) measures, from the queue manager's start
# to the moment incoming/ and active/ are both empty: the wall time, the
# queue manager's CPU seconds (utime+stime) and its peak resident memory
# (VmHWM).  All concurrency settings are the defaults on both sides
# (initial 5, limit 20 per destination; default_process_limit 100).
#
#   sluice:  build-release/sluice, queue files written by bench/qgen.c
#            (the queue_file API, as cleanup writes them), chowned to the
#            sluice user; `sluice -c DIR start`.
#   Postfix: a private instance (bench/pf_instance.sh) with oqmgr as its
#            queue manager, loaded through its own smtpd with smtp-source
#            while no queue manager runs; `postfix -c DIR start`.
# The message size is Postfix's queued size for smtp-source -l 1000 (1272
# bytes with the headers smtpd and cleanup add); sluice gets the same.
#
# Runs alternate (Postfix, sluice, Postfix, ...), each with a fresh queue.
# Output: a table of medians with min..max, and the ratios sluice/Postfix;
# raw numbers in bench/results/drain-TIMESTAMP.tsv, the table in
# bench/results/drain-TIMESTAMP.txt.  A run also counts the deliveries the
# maillog reports as sent and the messages left in deferred/: the drain
# time is "until nothing is left in incoming/ or active/", so a system that
# defers mail finishes early; the table shows that column so it cannot hide.
#
# Needs root (the sinks drop to nobody, both queue managers run as their
# mail_owner), Postfix 3.x installed but not running, and a release build
# (-b: run `cmake --preset release && cmake --build build-release` first;
# without -b it is built only when build-release/sluice is missing).
# -o adds a main.cf setting to both systems alike (e.g. -o max_use=100000).
# Processes it started are stopped by pid on exit; -k keeps WORKDIR
# (default /var/tmp/sluice-bench) for inspection.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WORK=/var/tmp/sluice-bench
N=10000
RUNS=3
BUILD_FIRST=0
KEEP=0
ONLY=""
EXTRA=()
MSG_SIZE=1272
DOMAINS=10

while getopts "n:r:w:o:bks:" opt; do
	case $opt in
	n) N=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	w) WORK=$OPTARG ;;
	o) [[ $OPTARG == *=* ]] || usage; EXTRA+=("${OPTARG%%=*} = ${OPTARG#*=}") ;;
	b) BUILD_FIRST=1 ;;
	k) KEEP=1 ;;
	s) ONLY=$OPTARG ;;
	*) usage ;;
	esac
done
[ $((N % DOMAINS)) -eq 0 ] || { echo "drain.sh: -n must be a multiple of $DOMAINS" >&2; exit 64; }
need postfix smtp-sink smtp-source cc

# ---- build ----
build_release $BUILD_FIRST
mkdir -p "$WORK/bin" "$RESULTS"
build_qgen "$WORK/bin/qgen"
bench_cc -o "$WORK/bin/drainwait" "$BENCH/drainwait.c"
copy_programs
BUILD_TIME=$(stat -c %y "$BUILD/qmgr" | cut -d. -f1)

# ---- processes we started, stopped on exit (lib.sh) ----
cleanup_last() { [ $KEEP -eq 1 ] || rm -rf "$WORK/sl" "$WORK/pf"; }
bench_trap

# ---- ports: DOMAINS sinks and Postfix's loading smtpd, consecutive, free ----
PORT0=$(pick_ports $((DOMAINS + 1)))
SMTPD_PORT=$((PORT0 + DOMAINS))
start_sinks "$PORT0" "$DOMAINS"

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$RESULTS/drain-$STAMP.tsv
TABLE=$RESULTS/drain-$STAMP.txt
{
	echo "# drain benchmark $STAMP: N=$N runs=$RUNS size=$MSG_SIZE domains=$DOMAINS"
	echo "# sluice $(rev), build $BUILD ($BUILD_TIME; qmgr $(sha1sum "$WORK/sluice-bin/qmgr" | cut -c1-12))"
	echo "# extra main.cf settings, both systems: ${EXTRA[*]:-none}"
	echo "# postfix $(postconf -d -h mail_version) (oqmgr); $(uname -sr); $(nproc) cpus"
	printf "system\trun\tn\telapsed\tsent\tdeferred\tcpu\tutime\tstime\thwm_kb\trss_kb\tsys_busy\tload1\n"
} > "$RAW"

# record SYSTEM RUN DRAINWAIT_LINE SENT DEFERRED LOAD1 - one raw row
record() {
	local sys=$1 run=$2 line=$3 sent=$4 deferred=$5 load=$6
	local elapsed cpu utime stime hwm rss busy
	eval "$(echo "$line" | tr ' ' '\n' | grep -E '^(elapsed|cpu|utime|stime|hwm_kb|rss_kb|sys_busy)=' \
		| sed 's/^hwm_kb/hwm/; s/^rss_kb/rss/; s/^sys_busy/busy/')"
	printf "%s\t%d\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$sys" "$run" "$N" \
		"$elapsed" "$sent" "$deferred" "$cpu" "$utime" "$stime" "$hwm" "$rss" "$busy" "$load" >> "$RAW"
	printf "  %-8s run %d: %6.2fs  %5d sent  %3d deferred  qmgr cpu %5.2fs  hwm %6d kB  (load %s)\n" \
		"$sys" "$run" "$elapsed" "$sent" "$deferred" "$cpu" "$hwm" "$load" >&2
}

# count_deferred SPOOL - files in deferred/ (hashed)
count_deferred() { find "$1/deferred" -type f 2>/dev/null | wc -l; }

run_postfix() {
	local run=$1 line master rc=0 PF_DIR=$WORK/pf
	own_postfix "$PF_DIR"
	rm -rf "$PF_DIR"
	"$BENCH/pf_instance.sh" setup "$PF_DIR" "$PORT0" "$SMTPD_PORT"
	add_extra "$PF_DIR/conf/main.cf"
	"$BENCH/pf_instance.sh" load "$PF_DIR" "$N" >/dev/null
	"$BENCH/pf_instance.sh" measure "$PF_DIR"
	settle
	local load=$(cut -d' ' -f1 /proc/loadavg)
	"$BENCH/pf_instance.sh" start "$PF_DIR"
	master=$("$BENCH/pf_instance.sh" master "$PF_DIR")
	line=$("$WORK/bin/drainwait" -n oqmgr "$master" "$PF_DIR/spool") || rc=$?
	"$BENCH/pf_instance.sh" stop "$PF_DIR"
	[ $rc -eq 0 ] || echo "drain.sh: postfix run $run did not drain: $line" >&2
	record postfix "$run" "$line" "$(grep -c 'status=sent' "$PF_DIR/maillog" || true)" \
		"$(count_deferred "$PF_DIR/spool")" "$load"
	[ $KEEP -eq 1 ] && cp "$PF_DIR/maillog" "$RESULTS/drain-$STAMP-postfix-$run.maillog"
	return 0
}

run_sluice() {
	local run=$1 line rc=0 dir=$WORK/sl
	rm -rf "$dir"
	sluice_main_cf "$dir" "inline:{ $(sink_routes "$PORT0" "$DOMAINS") }"
	add_extra "$dir/conf/main.cf"
	"$WORK/bin/qgen" -s "$MSG_SIZE" -d "$DOMAINS" "$dir/spool" "$N" >/dev/null
	chown -R sluice:sluice "$dir/spool"
	settle
	local load=$(cut -d' ' -f1 /proc/loadavg)
	sluice_start "$dir/conf" "$dir/spool"
	line=$("$WORK/bin/drainwait" -n qmgr "$MASTER" "$dir/spool") || rc=$?
	sluice_stop "$dir/conf"
	[ $rc -eq 0 ] || echo "drain.sh: sluice run $run did not drain: $line" >&2
	record sluice "$run" "$line" "$(grep -c 'status=sent' "$dir/maillog" || true)" \
		"$(count_deferred "$dir/spool")" "$load"
	[ $KEEP -eq 1 ] && cp "$dir/maillog" "$RESULTS/drain-$STAMP-sluice-$run.maillog"
	return 0
}

echo "drain benchmark: $N messages to $DOMAINS local smtp-sinks (ports $PORT0..$((PORT0 + DOMAINS - 1))), $RUNS runs each" >&2
for ((r = 1; r <= RUNS; r++)); do
	[ "$ONLY" = sluice ] || run_postfix $r
	[ "$ONLY" = postfix ] || run_sluice $r
done

# ---- summary: medians, spread, ratios ----
awk -F'\t' -v N="$N" -v lw=34 -v cw=24 "$AWK_SUMMARY"'
/^#/ || $1 == "system" { next }
{
	k = $1; n[k]++
	rate[k, n[k]] = $5 / $4		# delivered (sent) per second
	cpu[k, n[k]] = $7 * 10000 / $5	# qmgr CPU-s per 10,000 deliveries
	hwm[k, n[k]] = $10 / 1024	# MB
	def[k, n[k]] = $6
	sys[k, n[k]] = $12 * 10000 / $5	# whole-machine CPU-s per 10,000
}
END {
	printf "%-34s  %-24s  %-24s  %s\n", "median (min..max), " N " messages", "postfix/oqmgr", "sluice", "sluice/postfix"
	row("deliveries per second", rate, "%.0f")
	row("qmgr CPU-s per 10,000 deliveries", cpu, "%.2f")
	row("qmgr peak RSS (VmHWM, MB)", hwm, "%.1f")
	row("machine CPU-s per 10,000 (all)", sys, "%.2f")
	row("left deferred (of " N ")", def, "%d")
}' "$RAW" | tee "$TABLE"
[ ${#EXTRA[@]} -eq 0 ] || echo "(both systems with: ${EXTRA[*]})" | tee -a "$TABLE"
echo "raw: $RAW" >&2
