#!/bin/bash
# smtpd.sh - the SMTP server benchmark: sluice's smtpd beside Postfix's, same machine.
#
#   sudo bench/smtpd.sh [-m MESSAGES] [-s SESSIONS] [-r RUNS] [-i IDLE] [-w WORKDIR] [-o NAME=VALUE]... [-b] [-k] [-S sluice|postfix]
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
# Runs alternate (Postfix, sluice, ...), each with a fresh queue.  Output: a
# table of medians with min..max and the sluice/Postfix ratios; raw rows in
# bench/results/smtpd-TIMESTAMP.tsv, the table in .txt beside it.
#
# Needs root (cgroups, the sink drops to nobody), Postfix 3.x installed but
# not running, and a release build (-b builds build-release first; without
# -b it is built only when missing).  -o adds a main.cf setting to both
# systems alike; -S runs one system only.  Processes it started are stopped
# by pid on exit; -k keeps WORKDIR (default /var/tmp/sluice-bench-smtpd).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${SLUICE_BUILD_DIR:-$ROOT/build-release}
RESULTS=$BENCH/results
WORK=/var/tmp/sluice-bench-smtpd
M=20000
S=10
RUNS=3
IDLE=100
BUILD_FIRST=0
KEEP=0
ONLY=""
EXTRA=()

usage() {
	sed -n '4p' "$0" | sed 's/^# */usage: /' >&2
	exit 64
}
while getopts "m:s:r:i:w:o:bkS:" opt; do
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
	*) usage ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "smtpd.sh: run as root" >&2; exit 1; }
for t in postfix smtp-sink smtp-source; do
	command -v $t >/dev/null || { echo "smtpd.sh: $t is missing" >&2; exit 1; }
done
CG_ROOT=/sys/fs/cgroup/cpuacct
[ -f $CG_ROOT/cpuacct.usage ] || { echo "smtpd.sh: needs the cgroup v1 cpuacct controller at $CG_ROOT" >&2; exit 1; }

# ---- build ----
if [ $BUILD_FIRST -eq 1 ] || [ ! -x "$BUILD/sluice" ]; then
	(cd "$ROOT" && cmake --preset release >/dev/null && cmake --build build-release -j2 >/dev/null)
fi
mkdir -p "$WORK" "$RESULTS"
# A private copy of the programs, so that a rebuild cannot mix builds.
rm -rf "$WORK/sluice-bin"
mkdir -p "$WORK/sluice-bin"
find "$BUILD" -maxdepth 1 -type f -perm -u+x -exec cp -p {} "$WORK/sluice-bin/" \;
SLUICE=$WORK/sluice-bin/sluice

# ---- processes we started, stopped by pid on exit ----
SINK_PID=""
SL_CONF=""
PF_DIR=""
IDLE_PID=""
CGS=()
cleanup() {
	set +e
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	[ -n "$SL_CONF" ] && [ -f "$SL_CONF/main.cf" ] && "$SLUICE" -c "$SL_CONF" stop >/dev/null 2>&1
	[ -n "$PF_DIR" ] && [ -d "$PF_DIR/conf" ] && "$BENCH/pf_instance.sh" stop "$PF_DIR"
	[ -n "$SINK_PID" ] && { kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; }
	for cg in "${CGS[@]}"; do
		# Whatever is left in it goes back to the root group first.
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do echo "$p" > $CG_ROOT/cgroup.procs; done
		rmdir "$cg" 2>/dev/null
	done
	[ $KEEP -eq 1 ] || rm -rf "$WORK/sl" "$WORK/pf"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! ss -Htan "( sport = :$1 )" | grep -q .; }
pick_ports() {
	local base tries=0
	while [ $tries -lt 50 ]; do
		base=$((20000 + RANDOM % 20000))
		port_free $base && port_free $((base + 1)) && { echo $base; return 0; }
		tries=$((tries + 1))
	done
	echo "smtpd.sh: no free port" >&2
	return 1
}
SINK_PORT=$(pick_ports)
SMTPD_PORT=$((SINK_PORT + 1))
smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 256 &
SINK_PID=$!
t0=$SECONDS
until ! port_free $SINK_PORT; do
	[ $((SECONDS - t0)) -lt 10 ] || { echo "smtpd.sh: the sink did not listen" >&2; exit 1; }
	sleep 0.05
done

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$RESULTS/smtpd-$STAMP.tsv
TABLE=$RESULTS/smtpd-$STAMP.txt
{
	echo "# smtpd benchmark $STAMP: smtp-source -s $S -m $M -l 1000, runs=$RUNS, idle=$IDLE"
	echo "# sluice $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty'), build $BUILD"
	echo "# extra main.cf settings, both systems: ${EXTRA[*]:-none}"
	echo "# postfix $(postconf -d -h mail_version); $(uname -sr); $(nproc) cpus"
	printf "system\trun\tm\tsource_s\tdrain_s\tcpu_s\tpss_kb_per_conn\trss_kb_per_conn\tload1\n"
} > "$RAW"

# cg_new NAME - a fresh cpuacct cgroup; prints its path
cg_new() {
	local cg=$CG_ROOT/sluice-bench-$1-$$
	[ -d "$cg" ] && rmdir "$cg"
	mkdir "$cg"
	CGS+=("$cg")
	echo "$cg"
}
# cg_cpu CG - CPU seconds used by the group so far
cg_cpu() { awk '{ printf "%.3f", $1 / 1e9 }' "$1/cpuacct.usage"; }
# cg_mem CG - "PSS_KB RSS_KB" summed over the group's processes
cg_mem() {
	local pss=0 rss=0 p v
	for p in $(cat "$1/cgroup.procs"); do
		v=$(awk '/^Pss:/ { p = $2 } /^Rss:/ { r = $2 } END { print p + 0, r + 0 }' \
			"/proc/$p/smaps_rollup" 2>/dev/null) || continue
		pss=$((pss + ${v% *})); rss=$((rss + ${v#* }))
	done
	echo "$pss $rss"
}

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
	printf "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%d\t%d\t%s\n" "$sys" "$run" "$M" \
		"$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t0" | bc)" "$(echo "$c1 - $c0" | bc)" \
		"${mem% *}" "${mem#* }" "$load" >> "$RAW"
	tail -1 "$RAW" | awk -F'\t' '{ printf "  %-8s run %d: %7.0f accepted/s  drained in %6.2fs  %6.1f us CPU/msg  %5d kB PSS/idle conn  (load %s)\n", $1, $2, $3 / $4, $5, $6 * 1e6 / $3, $7, $9 }' >&2
}

run_postfix() {
	local run=$1 cg
	PF_DIR=$WORK/pf
	rm -rf "$PF_DIR"
	"$BENCH/pf_instance.sh" setup "$PF_DIR" "$SINK_PORT" "$SMTPD_PORT" >/dev/null
	# setup routes d0.test .. d9.test to consecutive ports; only d0.test is used.
	[ ${#EXTRA[@]} -eq 0 ] || printf '%s\n' "${EXTRA[@]}" >> "$PF_DIR/conf/main.cf"
	"$BENCH/pf_instance.sh" serve "$PF_DIR"
	sync; sleep 2
	cg=$(cg_new postfix-$run)
	(echo $BASHPID > "$cg/cgroup.procs"; exec "$BENCH/pf_instance.sh" start "$PF_DIR")
	until ! port_free "$SMTPD_PORT"; do sleep 0.05; done
	measure postfix "$run" "$cg" "$PF_DIR/spool"
	"$BENCH/pf_instance.sh" stop "$PF_DIR"
	[ $KEEP -eq 1 ] && cp "$PF_DIR/maillog" "$RESULTS/smtpd-$STAMP-postfix-$run.maillog"
	return 0
}

run_sluice() {
	local run=$1 cg dir=$WORK/sl
	rm -rf "$dir"
	mkdir -p "$dir/conf"
	cat > "$dir/conf/main.cf" <<EOF
queue_directory = $dir/spool
maillog_file = $dir/maillog
myhostname = bench.test
mydestination = localhost
transport_maps = inline:{ d0.test=smtp:[127.0.0.1]:$SINK_PORT }
EOF
	[ ${#EXTRA[@]} -eq 0 ] || printf '%s\n' "${EXTRA[@]}" >> "$dir/conf/main.cf"
	# The built-in master.cf (printed while no master.cf exists yet), on our port.
	"$SLUICE" -c "$dir/conf" config -M > "$dir/master.cf.builtin"
	sed "s/^127\.0\.0\.1:2525 /127.0.0.1:$SMTPD_PORT /" "$dir/master.cf.builtin" \
		> "$dir/conf/master.cf"
	SL_CONF=$dir/conf
	sync; sleep 2
	cg=$(cg_new sluice-$run)
	(echo $BASHPID > "$cg/cgroup.procs"; exec "$SLUICE" -c "$dir/conf" start >/dev/null 2>&1)
	local t0=$SECONDS
	until ! port_free "$SMTPD_PORT"; do
		[ $((SECONDS - t0)) -lt 60 ] || { echo "smtpd.sh: sluice did not listen" >&2; exit 1; }
		sleep 0.05
	done
	measure sluice "$run" "$cg" "$dir/spool"
	"$SLUICE" -c "$dir/conf" stop >/dev/null 2>&1
	[ $KEEP -eq 1 ] && cp "$dir/maillog" "$RESULTS/smtpd-$STAMP-sluice-$run.maillog"
	return 0
}

echo "smtpd benchmark: smtp-source -s $S -m $M into each system, relaying to smtp-sink :$SINK_PORT, $RUNS runs" >&2
for ((r = 1; r <= RUNS; r++)); do
	[ "$ONLY" = sluice ] || run_postfix $r
	[ "$ONLY" = postfix ] || run_sluice $r
done

awk -F'\t' '
/^#/ || $1 == "system" { next }
{
	k = $1; n[k]++
	rate[k, n[k]] = $3 / $4
	drain[k, n[k]] = $3 / $5
	cpu[k, n[k]] = $6 * 1e6 / $3
	pss[k, n[k]] = $7
	rss[k, n[k]] = $8
}
function med(a, k, cnt,   i, j, t, v) {
	for (i = 1; i <= cnt; i++) v[i] = a[k, i]
	for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	lo = v[1]; hi = v[cnt]
	return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
}
function row(label, a, fmt,   k, m, s) {
	printf "%-40s", label
	for (k = 1; k <= 2; k++) {
		s = sysname[k]
		if (!(s in n)) { printf "  %-22s", "-"; continue }
		m = med(a, s, n[s]); M[s] = m
		printf "  %-22s", sprintf(fmt " (" fmt ".." fmt ")", m, lo, hi)
	}
	if (("sluice" in n) && ("postfix" in n) && M["postfix"] > 0)
		printf "  %.2f", M["sluice"] / M["postfix"]
	printf "\n"
}
END {
	sysname[1] = "postfix"; sysname[2] = "sluice"
	printf "%-40s  %-22s  %-22s  %s\n", "median (min..max)", "postfix", "sluice", "sluice/postfix"
	row("messages accepted per second", rate, "%.0f")
	row("messages accepted+relayed per second", drain, "%.0f")
	row("CPU us per message, all processes", cpu, "%.0f")
	row("PSS kB per idle connection", pss, "%.0f")
	row("RSS kB per idle connection", rss, "%.0f")
}' "$RAW" | tee "$TABLE"
[ ${#EXTRA[@]} -eq 0 ] || echo "(both systems with: ${EXTRA[*]})" | tee -a "$TABLE"
echo "raw: $RAW" >&2
