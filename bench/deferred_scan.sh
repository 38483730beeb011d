#!/bin/bash
# deferred_scan.sh - what one deferred-queue scan costs: sluice beside Postfix/oqmgr.
#
#   sudo bench/deferred_scan.sh [-n NOTDUE] [-d DUE] [-r ROUNDS] [-g GAP] [-s SETTLE] [-a A_NOTDUE] [-q] [-k] [-w WORKDIR] [-S sluice|postfix]
#
# The claim: a deferred scan of a queue holding NOTDUE (default 100,000)
# messages of which DUE (default 100) are due costs about what DUE messages
# cost, not NOTDUE lstat()s, and files moved into deferred/ behind the queue
# manager's back are still found (A trigger, periodic full pass).  sluice's
# qmgr keeps a min-heap of (due time, queue ID) built by a full pass at
# start-up (src/qmgr/qmgr_scan.c); Postfix's oqmgr lstat()s every file of
# deferred/ at every deferred scan.
#
# Set-up, the same for both: one smtp-sink on 127.0.0.1, transport_maps
# inline:{ d.test=smtp:[127.0.0.1]:PORT }, queue_run_delay = 3600s (so that
# only our triggers scan), everything else at its defaults.  deferred/ gets
# NOTDUE copies of one small queue file (bench/deferred_scan_fill.py, named
# after their inodes as each system names files, hashed one level) with
# time stamps 1 to 2 days ahead, plus ROUNDS+1 batches of DUE copies whose
# time stamps are SETTLE, SETTLE+GAP, ... seconds after the fill: not due
# when the system starts (a due file would be taken by the start-up pass),
# due later.  sluice: build-release/sluice, template from tests/qfmake;
# Postfix: a private instance (bench/pf_instance.sh) with oqmgr, template
# made by its own sendmail/pickup/cleanup.
#
# Per system, with the queue manager found as the master's child "qmgr" /
# "oqmgr", bench/deferred_scan_watch.c measures:
#   start-up  from the queue manager's start until it is idle (its start-up
#             scan of deferred/: a full pass with one lstat per file, both);
#   due       ROUNDS times, once a batch is due: one D trigger (sluice -c DIR
#             kick D; postkick -c DIR public qmgr D), then the queue
#             manager's CPU (scheduler ns, /proc/PID/schedstat) until it is
#             idle again, and the wall time until the DUE-th "status=sent";
#   due-strace  the last batch the same way under strace -c -f -p PID: the
#             system calls of one scan with its deliveries;
#   empty, empty-strace  a D trigger with nothing due: the scan alone.
# With -q the control run (the same with NOTDUE = 0: what DUE messages cost
# on their own) is skipped.  Then the second half of the claim, on the big
# queue: a file made in hold/ and moved by mv into deferred/ (mtime in the
# past): Postfix's next D scan finds it; sluice's D (index) pass does not
# (waited 5 s), its restart's start-up pass does, and with
# deferred_rescan_time = 20s, queue_run_delay = 5s it is found with no
# trigger at all by the periodic full pass.  The A trigger (kick A D) is
# checked on a separate sluice queue of A_NOTDUE (default 1000) not-due
# files: A ignores time stamps (as in Postfix), so everything is delivered,
# the moved file among it.
#
# Output: the table on stdout (bench/deferred_scan_table.py), raw rows in
# bench/results/deferred_scan-STAMP.tsv, the table in ...-STAMP.txt, the
# strace summaries in ...-STAMP-SYSTEM-NOTDUE-PHASE.strace.  Needs root,
# Postfix 3.x and strace installed (the system's own Postfix is not
# touched).  Builds build-release first (cmake --preset release when it
# does not exist; log in bench/results/deferred_scan-build.log).  Takes
# about ten minutes with the defaults (the strace-d Postfix scans alone
# take half a minute).  Processes it started are stopped by pid on exit;
# -k keeps WORKDIR (default /var/tmp/sluice-defscan).  -S runs one system
# only (with -S postfix, no A-trigger check).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
WORK=/var/tmp/sluice-defscan
NOTDUE=100000
DUE=100
ROUNDS=3
GAP=15
SETTLE=40
A_NOTDUE=1000
CONTROL=1
KEEP=0
ONLY=""

while getopts "n:d:r:g:s:a:qkw:S:" opt; do
	case $opt in
	n) NOTDUE=$OPTARG ;;
	d) DUE=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	g) GAP=$OPTARG ;;
	s) SETTLE=$OPTARG ;;
	a) A_NOTDUE=$OPTARG ;;
	q) CONTROL=0 ;;
	k) KEEP=1 ;;
	w) WORK=$OPTARG ;;
	S) ONLY=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
case $ONLY in "" | sluice | postfix) ;; *) usage ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$DUE" -ge 1 ] || usage
need postfix postconf postkick sendmail smtp-sink strace cc cmake ss

# ---- build ----
if [ "$BUILD" = "$ROOT/build-release" ]; then
	mkdir -p "$RESULTS"
	if ! (cd "$ROOT" && { [ -d build-release ] || cmake --preset release; } &&
		cmake --build build-release -j2) > "$RESULTS/deferred_scan-build.log" 2>&1; then
		tail -20 "$RESULTS/deferred_scan-build.log" >&2
		die "the release build failed (log: $RESULTS/deferred_scan-build.log)"
	fi
fi
SLUICE=$BUILD/sluice
QFMAKE=$BUILD/tests/qfmake
[ -x "$SLUICE" ] && [ -x "$QFMAKE" ] || die "missing $SLUICE or $QFMAKE"
mkdir -p "$WORK/bin" "$RESULTS"
chmod 755 "$WORK"	# Postfix runs as postfix, sluice as sluice
WATCH=$WORK/bin/deferred_scan_watch
bench_cc -o "$WATCH" "$BENCH/deferred_scan_watch.c"

# ---- processes we started, stopped on exit (lib.sh) ----
STRACE_PID=""
cleanup_first() { [ -n "$STRACE_PID" ] && { kill -INT "$STRACE_PID" 2>/dev/null; wait "$STRACE_PID" 2>/dev/null; }; }
cleanup_last() { [ $KEEP -eq 1 ] || rm -rf "$WORK"/run-* "$WORK"/tpl-*; }
bench_trap

# ---- the sink ----
PORT=$(pick_ports 1)
start_sinks "$PORT" 1
TRANSPORT="inline:{ d.test=smtp:[127.0.0.1]:$PORT }"

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$RESULTS/deferred_scan-$STAMP.tsv
TABLE=$RESULTS/deferred_scan-$STAMP.txt
{
	echo "# deferred_scan $STAMP: notdue=$NOTDUE due=$DUE rounds=$ROUNDS gap=$GAP settle=$SETTLE a_notdue=$A_NOTDUE"
	echo "# sluice $(rev), build $BUILD ($(stat -c %y "$BUILD/qmgr" | cut -d. -f1))"
	echo "# postfix $(postconf -d -h mail_version) (oqmgr); $(uname -sr); $(nproc) cpus; $(df -T "$WORK" | awk 'NR==2{print $2}') on $WORK"
	printf "system\tnotdue\tphase\tround\twall_sent\twall_busy\tcpu_ms\tutime_ms\tstime_ms\tsent\ttimeout\tload1\tcalls\tstat\tgetdents\trename\topenat\tepoll\n"
} > "$RAW"

# ---- the message and the templates ----
message() {
	printf 'From: s@bench.test\nTo: u@d.test\nSubject: deferred scan bench\n'
	printf 'Message-Id: <dsc.%s@bench.test>\n\nA short body line.\n' "$STAMP"
}
SL_TPL=$WORK/sluice.tpl
PF_TPL=$WORK/postfix.tpl
mk_templates() {
	local d=$WORK/tpl-sluice id f
	rm -rf "$d" "$WORK/tpl-postfix"
	id=$(message | "$QFMAKE" -q hold -f s@bench.test "$d" u@d.test)
	mv "$d/hold/$id" "$SL_TPL"
	chown sluice:sluice "$SL_TPL"
	# Postfix: its own sendmail, pickup and cleanup; no queue manager yet.
	d=$WORK/tpl-postfix
	own_postfix "$d"
	"$BENCH/pf_instance.sh" setup "$d" "$PORT" 0 >/dev/null
	"$BENCH/pf_instance.sh" start "$d"
	message | sendmail -C "$d/conf" -f s@bench.test u@d.test
	for _ in $(seq 200); do
		f=$(find "$d/spool/incoming" -type f | head -n 1)
		[ -n "$f" ] && break
		sleep 0.05
	done
	"$BENCH/pf_instance.sh" stop "$d"
	[ -n "$f" ] || die "Postfix made no queue file (see $d/maillog)"
	mv "$f" "$PF_TPL"
}

# ---- helpers ----
# wait_until EPOCH - sleep until that second has begun
wait_until() {
	while [ "$(date +%s)" -lt "$1" ]; do
		sleep 0.1
	done
}
sent_count() { grep -c 'status=sent' "$1" 2>/dev/null || true; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# record SYSTEM NOTDUE PHASE ROUND WATCH_LINE [STRACE_FILE] - one raw row
record() {
	local sys=$1 nd=$2 phase=$3 round=$4 line=$5 st=${6:-} calls="-" stat="-" gd="-" ren="-" opn="-" ep="-"
	local pid=0 wall_sent=-1 wall_busy=-1 cpu_ms=-1 utime_ms=-1 stime_ms=-1 runs=0 sent=0 timeout=1
	eval "$(echo "$line" | tr ' ' '\n' | grep -E '^[a-z_]+=[-0-9.]+$')"
	if [ -n "$st" ]; then
		eval "$(awk '$4 ~ /^[0-9]+$/ { c[$NF] += $4 }
			END {
				printf "calls=%d stat=%d gd=%d ren=%d opn=%d ep=%d\n", c["total"],
					c["newfstatat"] + c["lstat"] + c["stat"] + c["statx"] + c["fstatat64"],
					c["getdents64"] + c["getdents"], c["rename"] + c["renameat"] + c["renameat2"],
					c["openat"] + c["open"], c["epoll_wait"] + c["epoll_pwait"] + c["epoll_pwait2"]
			}' "$st")"
	fi
	printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$sys" "$nd" "$phase" \
		"$round" "$wall_sent" "$wall_busy" "$cpu_ms" "$utime_ms" "$stime_ms" "$sent" "$timeout" "$(load1)" \
		"$calls" "$stat" "$gd" "$ren" "$opn" "$ep" >> "$RAW"
	note "$(printf '%-7s %6s %-12s %s: cpu %9.3f ms  busy %7.3f s  sent-wall %7.3f s  sent %d%s%s' \
		"$sys" "$nd" "$phase" "$round" "$cpu_ms" "$wall_busy" "$wall_sent" "$sent" \
		"$([ "$timeout" = 1 ] && echo '  (timeout)')" "$([ -n "$st" ] && echo "  syscalls $calls, stat $stat")")"
}

# strace_start PID FILE / strace_stop - strace -c around one measurement
strace_start() {
	strace -c -f -p "$1" -o "$2" 2>/dev/null &
	STRACE_PID=$!
	local t0=$SECONDS
	until grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$1/status"; do
		[ $((SECONDS - t0)) -lt 10 ] || die "strace did not attach to $1"
		sleep 0.01
	done
}
strace_stop() {
	kill -INT "$STRACE_PID"
	wait "$STRACE_PID" || true
	STRACE_PID=""
}

# ---- one system, one queue ----
# Globals set by setup_*: SYS DIR CONF SPOOL MAILLOG QNAME TPL HASHPOS KICK_D
setup_sluice() {
	SYS=sluice DIR=$1 CONF=$1/conf SPOOL=$1/spool MAILLOG=$1/maillog QNAME=qmgr TPL=$SL_TPL HASHPOS=9
	KICK=("$SLUICE" -c "$CONF" kick)
	rm -rf "$DIR"
	sluice_main_cf "$DIR" "$TRANSPORT"
	echo "queue_run_delay = 3600s" >> "$CONF/main.cf"
	# qfmake makes the queue folders; the file itself is not wanted.
	local id
	id=$(message | "$QFMAKE" -q hold -f s@bench.test "$SPOOL" u@d.test)
	rm -f "$SPOOL/hold/$id"
	chown -R sluice:sluice "$SPOOL"
	own_sluice "$CONF"
}
setup_postfix() {
	SYS=postfix DIR=$1 CONF=$1/conf SPOOL=$1/spool MAILLOG=$1/maillog QNAME=oqmgr TPL=$PF_TPL HASHPOS=0
	KICK=(postkick -c "$CONF" public qmgr)
	rm -rf "$DIR"
	"$BENCH/pf_instance.sh" setup "$DIR" "$PORT" 0 >/dev/null
	postconf -c "$CONF" -e "transport_maps = $TRANSPORT" "queue_run_delay = 3600s"
	"$BENCH/pf_instance.sh" measure "$DIR"
	own_postfix "$DIR"
}
# start_system - start, set MASTER and QPID
start_system() {
	if [ "$SYS" = sluice ]; then
		sluice_start "$CONF" "$SPOOL"
	else
		"$BENCH/pf_instance.sh" start "$DIR"
		MASTER=$("$BENCH/pf_instance.sh" master "$DIR")
	fi
	QPID=$(find_child "$MASTER" "$QNAME")
}
stop_system() {
	if [ "$SYS" = sluice ]; then
		sluice_stop "$CONF" "$MASTER"
	else
		"$BENCH/pf_instance.sh" stop "$DIR"
	fi
}
# fill QUEUE COUNT LO HI [-p] - copies of the template
fill() {
	local p=()
	[ "${5:-}" = -p ] && p=(-p)
	$PY "$BENCH/deferred_scan_fill.py" "${p[@]}" "$SYS" "$TPL" "$SPOOL" "$1" "$2" "$3" "$4"
}
# move_behind_back - a due file made in hold/, moved into deferred/ with mv; prints its ID
move_behind_back() {
	local t id h
	t=$(date +%s)
	id=$(fill hold 1 $((t - 60)) $((t - 60)) -p)
	h=${id:$HASHPOS:1}
	install -d -o "$(stat -c %u "$SPOOL/deferred")" -m 700 "$SPOOL/deferred/$h"
	mv "$SPOOL/hold/$id" "$SPOOL/deferred/$h/$id"
	echo "$id"
}

# measure_queue SYSTEM NOTDUE - start-up, due rounds, empty rounds; leaves the system running
measure_queue() {
	local sys=$1 nd=$2 nb=$((ROUNDS + 1)) t_fill t1 k line sent_before st far_lo
	"setup_$sys" "$WORK/run-$sys-$nd"
	t_fill=$(date +%s)
	far_lo=$((t_fill + 86400))
	[ "$nd" -gt 0 ] && fill deferred "$nd" $far_lo $((far_lo + 86400))
	t1=$(($(date +%s) + SETTLE))
	for ((k = 1; k <= nb; k++)); do
		fill deferred "$DUE" $((t1 + (k - 1) * GAP)) $((t1 + (k - 1) * GAP))
	done
	note "$sys: $nd not due + $nb x $DUE due files made in $(($(date +%s) - t_fill)) s; first batch due at +$((t1 - $(date +%s))) s"
	sync
	sleep 1
	start_system
	line=$("$WATCH" -s -t 120 "$QPID") || die "$sys start-up did not settle: $line"
	record "$sys" "$nd" startup 1 "$line"
	[ "$(date +%s)" -lt $((t1 - 1)) ] || die "$sys start-up ended after the first batch came due: raise -s (now $SETTLE)"
	for ((k = 1; k <= nb; k++)); do
		wait_until $((t1 + (k - 1) * GAP + 2))
		sent_before=$(sent_count "$MAILLOG")
		[ "$sent_before" -eq $(((k - 1) * DUE)) ] ||
			die "$sys: $sent_before delivered before batch $k's trigger, expected $(((k - 1) * DUE)): raise -g (now $GAP)"
		st=""
		if [ $k -eq $nb ]; then
			st=$RESULTS/deferred_scan-$STAMP-$sys-$nd-due.strace
			strace_start "$QPID" "$st"
		fi
		line=$("$WATCH" -t 300 -m "$MAILLOG" -n $((k * DUE)) "$QPID" "${KICK[@]}" D) ||
			note "$sys: batch $k: not all delivered: $line"
		[ -n "$st" ] && strace_stop
		record "$sys" "$nd" "due${st:+-strace}" "$k" "$line" "$st"
		[ $k -eq $nb ] || [ "$(date +%s)" -lt $((t1 + k * GAP - 1)) ] ||
			die "$sys: batch $k took until the next batch was due: raise -g (now $GAP)"
	done
	for ((k = 1; k <= ROUNDS; k++)); do
		line=$("$WATCH" -t 120 "$QPID" "${KICK[@]}" D)
		record "$sys" "$nd" empty "$k" "$line"
	done
	st=$RESULTS/deferred_scan-$STAMP-$sys-$nd-empty.strace
	strace_start "$QPID" "$st"
	line=$("$WATCH" -t 300 "$QPID" "${KICK[@]}" D)
	strace_stop
	record "$sys" "$nd" empty-strace 1 "$line" "$st"
	[ "$(sent_count "$MAILLOG")" -eq $((nb * DUE)) ] || die "$sys: $(sent_count "$MAILLOG") delivered, expected $((nb * DUE))"
}

# behind_back_postfix - after measure_queue: a moved file and one D trigger
behind_back_postfix() {
	local id line n
	n=$(sent_count "$MAILLOG")
	id=$(move_behind_back)
	line=$("$WATCH" -t 60 -m "$MAILLOG" -n $((n + 1)) "$QPID" "${KICK[@]}" D) || true
	grep -q "$id: to=.*status=sent" "$MAILLOG" || note "postfix: moved file $id not delivered after D"
	record postfix "$NOTDUE" moved-D 1 "$line"
}

# behind_back_sluice - after measure_queue: D does not see a moved file, a
# restart does, and so does the periodic full pass (deferred_rescan_time 20s)
behind_back_sluice() {
	local id line n
	n=$(sent_count "$MAILLOG")
	id=$(move_behind_back)
	line=$("$WATCH" -t 5 -m "$MAILLOG" -n $((n + 1)) "$QPID" "${KICK[@]}" D) || true
	record sluice "$NOTDUE" moved-D 1 "$line"
	stop_system
	printf 'deferred_rescan_time = 20s\nqueue_run_delay = 5s\n' >> "$CONF/main.cf"
	start_system
	line=$("$WATCH" -s -t 120 -m "$MAILLOG" -n $((n + 1)) "$QPID") || true
	grep -q "$id: to=.*status=sent" "$MAILLOG" || note "sluice: moved file $id not delivered by the restart"
	record sluice "$NOTDUE" moved-restart 1 "$line"
	sleep 2
	id=$(move_behind_back)
	line=$("$WATCH" -t 90 -m "$MAILLOG" -n $((n + 2)) "$QPID") || true
	grep -q "$id: to=.*status=sent" "$MAILLOG" || note "sluice: moved file $id not found by the periodic pass"
	record sluice "$NOTDUE" moved-periodic 1 "$line"
}

# a_trigger_sluice - a small queue: kick A D finds a moved file (and, A
# ignoring time stamps, releases everything)
a_trigger_sluice() {
	local id line t
	setup_sluice "$WORK/run-sluice-a"
	t=$(date +%s)
	fill deferred "$A_NOTDUE" $((t + 86400)) $((t + 172800))
	start_system
	line=$("$WATCH" -s -t 60 "$QPID")
	record sluice "$A_NOTDUE" startup 1 "$line"
	id=$(move_behind_back)
	line=$("$WATCH" -t 5 -m "$MAILLOG" -n 1 "$QPID" "${KICK[@]}" D) || true
	record sluice "$A_NOTDUE" moved-D 1 "$line"
	line=$("$WATCH" -t 300 -m "$MAILLOG" -n $((A_NOTDUE + 1)) "$QPID" "${KICK[@]}" A D) || true
	grep -q "$id: to=.*status=sent" "$MAILLOG" || note "sluice: moved file $id not delivered after kick A D"
	record sluice "$A_NOTDUE" moved-AD 1 "$line"
	stop_system
}

echo "deferred scan benchmark: $DUE due among $NOTDUE not due, smtp-sink on 127.0.0.1:$PORT" >&2
mk_templates
for sys in postfix sluice; do
	[ -z "$ONLY" ] || [ "$ONLY" = $sys ] || continue
	measure_queue $sys "$NOTDUE"
	"behind_back_$sys"
	stop_system
	[ $KEEP -eq 1 ] || rm -rf "$DIR"
	if [ $CONTROL -eq 1 ]; then
		measure_queue $sys 0
		stop_system
		[ $KEEP -eq 1 ] || rm -rf "$DIR"
	fi
done
[ -n "$ONLY" ] && [ "$ONLY" != sluice ] || a_trigger_sluice

$PY "$BENCH/deferred_scan_table.py" "$RAW" | tee "$TABLE"
echo "raw: $RAW" >&2
