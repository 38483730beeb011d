#!/bin/bash
# smtpd.sh - the SMTP server benchmark: sluice's smtpd beside Postfix's, same machine.
#
#   sudo bench/smtpd.sh [-m MESSAGES] [-s SESSIONS] [-r RUNS] [-i IDLE] [-c COOL] [-w WORKDIR] [-o NAME=VALUE]... [-b] [-k] [-S sluice|postfix]
#
# Workload (identical for both systems): the whole mail system runs
# (master, smtpd, queue manager, smtp client, ...), every setting at its
# default, relaying to an smtp-sink on 127.0.0.1 (the destination d0.test
# routed there with transport_maps).  One
#
#   smtp-source -s SESSIONS -m MESSAGES -l 1000 -f s@bench.test -t u@d0.test 127.0.0.1:PORT
#
# (defaults -s 10 -m 20000) sends into the system's smtpd; each message is
# one SMTP transaction of ~1 kB with one recipient, 1 message per session
# (smtp-source's default), so every message is also a connection.
#
# Measured per run:
#   accept/s    MESSAGES / the wall time of smtp-source (every 250 came
#               back: with both systems that is after the queue file is on
#               disk, fsync'd);
#   drain       the time until the queue is empty again (all delivered to
#               the sink), from smtp-source's start;
#   cpu/msg     the CPU time (user+system) of every process of the system
#               (each one started into its own cpuacct cgroup, so processes
#               that exited are counted too: smtpd, cleanup, trivial-rewrite,
#               qmgr, smtp, anvil, ...) from smtp-source's start to the empty
#               queue, divided by MESSAGES: accepting and relaying;
#   idle conn   before the load, on the freshly started system (no smtpd
#               process yet): IDLE (default 100) connections opened and held
#               after their 220 greeting; the growth of the sum of PSS (and
#               of RSS) over the system's processes, divided by IDLE.
# smtp-source and the sink are outside the cgroups and not counted.
#
# Runs alternate (Postfix, sluice, ...), each with a fresh queue.  Before
# each measured run (after the idle connections) the machine cools down for
# COOL seconds (default 60; lib.sh: quiesce), then waits until a CPU probe
# runs near its best speed: a run started right after the previous one's
# heavy load runs slower (bench/README.md, "smtpd.sh").  Output: a
# table of medians with min..max and the sluice/Postfix ratios; raw rows in
# bench/results/smtpd-TIMESTAMP.tsv, the table in .txt beside it.
#
# Needs root (cgroups, the sink drops to nobody), Postfix 3.x installed but
# not running, and a release build (-b builds build-release first; without
# -b it is built only when missing).  -o adds a main.cf setting to both
# systems alike; -S runs one system only.  Processes it started are stopped
# by pid on exit; -k keeps WORKDIR (default /var/tmp/sluice-bench-smtpd).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WORK=/var/tmp/sluice-bench-smtpd
M=20000
S=10
RUNS=3
IDLE=100
QUIESCE_MIN=60
BUILD_FIRST=0
KEEP=0
ONLY=""
EXTRA=()

while getopts "m:s:r:i:w:o:bkS:c:" opt; do
	case $opt in
	m) M=$OPTARG ;;
	s) S=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	i) IDLE=$OPTARG ;;
	w) WORK=$OPTARG ;;
	o) [[ $OPTARG == *=* ]] || usage; EXTRA+=("${OPTARG%%=*} = ${OPTARG#*=}") ;;
	b) BUILD_FIRST=1 ;;
	k) KEEP=1 ;;
	S) ONLY=$OPTARG ;;
	c) QUIESCE_MIN=$OPTARG ;;
	*) usage ;;
	esac
done
need postfix smtp-sink smtp-source
cg_need

# ---- build ----
build_release $BUILD_FIRST
mkdir -p "$WORK" "$RESULTS"
copy_programs

# ---- processes we started, stopped on exit (lib.sh) ----
IDLE_PID=""
cleanup_first() { [ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null; }
cleanup_last() { [ $KEEP -eq 1 ] || rm -rf "$WORK/sl" "$WORK/pf"; }
bench_trap

SINK_PORT=$(pick_ports 2)
SMTPD_PORT=$((SINK_PORT + 1))
start_sinks "$SINK_PORT" 1

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$RESULTS/smtpd-$STAMP.tsv
TABLE=$RESULTS/smtpd-$STAMP.txt
{
	echo "# smtpd benchmark $STAMP: smtp-source -s $S -m $M -l 1000, runs=$RUNS, idle=$IDLE"
	echo "# sluice $(rev), build $BUILD"
	echo "# extra main.cf settings, both systems: ${EXTRA[*]:-none}"
	echo "# postfix $(postconf -d -h mail_version); $(uname -sr); $(nproc) cpus"
	printf "system\trun\tm\tsource_s\tdrain_s\tcpu_s\tpss_kb_per_conn\trss_kb_per_conn\tload1\tprobe_ms\tquiesce_s\n"
} > "$RAW"

# queue_empty SPOOL - nothing left in incoming, active, deferred, maildrop
queue_empty() {
	[ -z "$(find "$1/incoming" "$1/active" "$1/deferred" "$1/maildrop" -type f -print -quit 2>/dev/null)" ]
}

# idle_conns PORT N - open N connections, wait for each 220, hold them until killed
idle_conns() {
	/usr/bin/python3 - "$1" "$2" <<'EOF' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    conns.append(s)
for s in conns:
    s.settimeout(60)
    buf = b""
    while b"\r\n" not in buf:
        buf += s.recv(512)
    assert buf.startswith(b"220"), buf
print("ready", flush=True)
time.sleep(3600)
EOF
	IDLE_PID=$!
}

# idle_mem CG - kB "PSS RSS" per idle connection: IDLE connections opened
# on the freshly started system (no smtpd runs yet) and held after their
# 220; the growth of the group's memory divided by IDLE
idle_mem() {
	local cg=$1 m0 m1 out=$WORK/idle.out w0
	sleep 1
	m0=$(cg_mem "$cg")
	idle_conns "$SMTPD_PORT" "$IDLE" > "$out"
	w0=$SECONDS
	until grep -q ready "$out"; do
		[ $((SECONDS - w0)) -lt 120 ] || { echo "smtpd.sh: idle connections not greeted" >&2; break; }
		kill -0 "$IDLE_PID" 2>/dev/null || { echo "smtpd.sh: idle client failed" >&2; break; }
		sleep 0.2
	done
	sleep 1
	m1=$(cg_mem "$cg")
	kill "$IDLE_PID" 2>/dev/null; wait "$IDLE_PID" 2>/dev/null || true
	IDLE_PID=""
	echo "$(( (${m1% *} - ${m0% *}) / IDLE )) $(( (${m1#* } - ${m0#* }) / IDLE ))"
}

# measure SYSTEM RUN CG SPOOL - idle connections, then the load and the drain
measure() {
	local sys=$1 run=$2 cg=$3 spool=$4 c0 c1 t0 t1 t2 load mem
	mem=$(idle_mem "$cg")
	quiesce
	load=$(cut -d' ' -f1 /proc/loadavg)
	c0=$(cg_cpu "$cg")
	t0=$(date +%s.%N)
	smtp-source -s "$S" -m "$M" -l 1000 -f s@bench.test -t u@d0.test "127.0.0.1:$SMTPD_PORT"
	t1=$(date +%s.%N)
	local w0=$SECONDS
	until queue_empty "$spool"; do
		[ $((SECONDS - w0)) -lt 600 ] || { echo "smtpd.sh: $sys did not drain" >&2; break; }
		sleep 0.05
	done
	t2=$(date +%s.%N)
	c1=$(cg_cpu "$cg")
	printf "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%d\t%d\t%s\t%s\t%d\n" "$sys" "$run" "$M" \
		"$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t0" | bc)" "$(echo "$c1 - $c0" | bc)" \
		"${mem% *}" "${mem#* }" "$load" "$PROBE_MS" "$QUIESCE_S" >> "$RAW"
	tail -1 "$RAW" | awk -F'\t' '{ printf "  %-8s run %d: %7.0f accepted/s  drained in %6.2fs  %6.1f us CPU/msg  %5d kB PSS/idle conn  (load %s, probe %s ms after %d s)\n", $1, $2, $3 / $4, $5, $6 * 1e6 / $3, $7, $9, $10, $11 }' >&2
}

run_postfix() {
	local run=$1 PF_DIR=$WORK/pf
	own_postfix "$PF_DIR"
	rm -rf "$PF_DIR"
	"$BENCH/pf_instance.sh" setup "$PF_DIR" "$SINK_PORT" "$SMTPD_PORT" >/dev/null
	# setup routes d0.test .. d9.test to consecutive ports; only d0.test is used.
	add_extra "$PF_DIR/conf/main.cf"
	"$BENCH/pf_instance.sh" serve "$PF_DIR"
	settle
	cg_new postfix-$run
	(echo $BASHPID > "$CG/cgroup.procs"; exec "$BENCH/pf_instance.sh" start "$PF_DIR")
	wait_listen "$SMTPD_PORT" 60 "Postfix's smtpd"
	measure postfix "$run" "$CG" "$PF_DIR/spool"
	"$BENCH/pf_instance.sh" stop "$PF_DIR"
	[ $KEEP -eq 1 ] && cp "$PF_DIR/maillog" "$RESULTS/smtpd-$STAMP-postfix-$run.maillog"
	return 0
}

run_sluice() {
	local run=$1 dir=$WORK/sl
	rm -rf "$dir"
	sluice_main_cf "$dir" "inline:{ d0.test=smtp:[127.0.0.1]:$SINK_PORT }"
	add_extra "$dir/conf/main.cf"
	# The built-in master.cf (printed while no master.cf exists yet), on our port.
	"$SLUICE" -c "$dir/conf" config -M > "$dir/master.cf.builtin"
	sed "s/^127\.0\.0\.1:2525 /127.0.0.1:$SMTPD_PORT /" "$dir/master.cf.builtin" \
		> "$dir/conf/master.cf"
	own_sluice "$dir/conf"
	settle
	cg_new sluice-$run
	(echo $BASHPID > "$CG/cgroup.procs"; exec "$SLUICE" -c "$dir/conf" start >/dev/null 2>&1)
	wait_listen "$SMTPD_PORT" 60 sluice
	measure sluice "$run" "$CG" "$dir/spool"
	sluice_stop "$dir/conf"
	[ $KEEP -eq 1 ] && cp "$dir/maillog" "$RESULTS/smtpd-$STAMP-sluice-$run.maillog"
	return 0
}

echo "smtpd benchmark: smtp-source -s $S -m $M into each system, relaying to smtp-sink :$SINK_PORT, $RUNS runs" >&2
for ((r = 1; r <= RUNS; r++)); do
	[ "$ONLY" = sluice ] || run_postfix $r
	[ "$ONLY" = postfix ] || run_sluice $r
done

awk -F'\t' -v lw=40 -v cw=22 "$AWK_SUMMARY"'
/^#/ || $1 == "system" { next }
{
	k = $1; n[k]++
	rate[k, n[k]] = $3 / $4
	drain[k, n[k]] = $3 / $5
	cpu[k, n[k]] = $6 * 1e6 / $3
	pss[k, n[k]] = $7
	rss[k, n[k]] = $8
}
END {
	printf "%-40s  %-22s  %-22s  %s\n", "median (min..max)", "postfix", "sluice", "sluice/postfix"
	row("messages accepted per second", rate, "%.0f")
	row("messages accepted+relayed per second", drain, "%.0f")
	row("CPU us per message, all processes", cpu, "%.0f")
	row("PSS kB per idle connection", pss, "%.0f")
	row("RSS kB per idle connection", rss, "%.0f")
	if (("sluice" in n) && ("postfix" in n)) {
		printf "accepted/s, sluice/postfix, run by run:"
		for (i = 1; i <= n["sluice"] && i <= n["postfix"]; i++) {
			pr["r", i] = rate["sluice", i] / rate["postfix", i]
			printf " %.2f", pr["r", i]
		}
		printf " (median %.2f)\n", med(pr, "r", i - 1)
	}
}' "$RAW" | tee "$TABLE"
[ ${#EXTRA[@]} -eq 0 ] || echo "(both systems with: ${EXTRA[*]})" | tee -a "$TABLE"
echo "raw: $RAW" >&2
