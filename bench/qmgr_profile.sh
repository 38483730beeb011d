#!/bin/bash
# qmgr_profile.sh - where sluice's queue manager spends its CPU while draining.
#
#   sudo bench/qmgr_profile.sh [-n MESSAGES] [-w WORKDIR] [-o NAME=VALUE]...
#
# The drain.sh workload on the sluice side only (MESSAGES one-recipient
# messages in incoming/, ten smtp-sinks on 127.0.0.1), with the queue
# manager under `perf record -e cpu-clock --call-graph dwarf` from its
# first instruction to the empty queue (a software clock: this machine's
# perf has no hardware counters).  Prints the drainwait line, then the
# profile two ways: by system call (kernel time is most of the cost) and by
# call path inside qmgr down to the system call or leaf function.  The
# perf.data file and the folded stacks stay in bench/results/.
#
# Needs root, perf, and drain.sh's helpers built (run drain.sh once, or -b
# there); it uses the same private copy of the programs when present.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WORK=/var/tmp/sluice-bench
N=10000
EXTRA=()
while getopts "n:w:o:" opt; do
	case $opt in
	n) N=$OPTARG ;;
	w) WORK=$OPTARG ;;
	o) EXTRA+=("${OPTARG%%=*} = ${OPTARG#*=}") ;;
	*) usage ;;
	esac
done
need perf smtp-sink
[ -x "$WORK/bin/qgen" ] && [ -x "$WORK/bin/drainwait" ] \
	|| { echo "qmgr_profile.sh: run bench/drain.sh once first (builds the helpers)" >&2; exit 1; }
SLUICE=$WORK/sluice-bin/sluice
[ -x "$SLUICE" ] || SLUICE=$BUILD/sluice

DIR=$WORK/prof
STAMP=$(date +%Y%m%d-%H%M%S)
DATA=$RESULTS/qmgr_profile-$STAMP.perf.data
FOLDED=$RESULTS/qmgr_profile-$STAMP.folded
mkdir -p "$RESULTS"
PERF=""
cleanup_first() { [ -n "$PERF" ] && kill -INT "$PERF" 2>/dev/null && wait "$PERF"; }
cleanup_last() { rm -rf "$DIR"; }
bench_trap

# Ten free consecutive ports for the sinks.
PORT0=$(pick_ports 10)
start_sinks "$PORT0" 10
rm -rf "$DIR"
sluice_main_cf "$DIR" "inline:{ $(sink_routes "$PORT0" 10) }"
add_extra "$DIR/conf/main.cf"
"$WORK/bin/qgen" -s 1272 "$DIR/spool" "$N" >/dev/null
chown -R sluice:sluice "$DIR/spool"
sync
sleep 1

own_sluice "$DIR/conf"
"$SLUICE" -c "$DIR/conf" start >/dev/null 2>&1
for ((k = 0; k < 400; k++)); do
	master=$(tr -d ' \n' < "$DIR/spool/pid/master.pid" 2>/dev/null) || true
	[ -n "${master:-}" ] && qmgr=$(pgrep -P "$master" -x qmgr) && break
	sleep 0.005
done
[ -n "${qmgr:-}" ] || { echo "qmgr_profile.sh: no qmgr process" >&2; exit 1; }
perf record -q -e cpu-clock -F 1000 --call-graph dwarf,16384 -o "$DATA" -p "$qmgr" 2>/dev/null &
PERF=$!
"$WORK/bin/drainwait" "$master" "$DIR/spool"
kill -INT "$PERF"
wait "$PERF" || true
PERF=""
echo "delivered: $(grep -c 'status=sent' "$DIR/maillog")"

# Folded stacks, outermost first: "count frame;frame;...".
perf script -i "$DATA" -F ip,sym 2>/dev/null | awk '
function flush(  s, i) { if (n) { s = ""; for (i = n; i >= 1; i--) s = s (s ? ";" : "") st[i]; c[s]++ } n = 0 }
/^$/ { flush(); next }
{ $1 = ""; sub(/^ /, ""); sub(/ \(inlined\)/, ""); st[++n] = $0 }
END { flush(); for (k in c) print c[k], k }' > "$FOLDED"

echo
echo "== qmgr CPU by system call (share of all samples) =="
awk '{ n = $1; $1 = ""; k = "(user space)"; m = split($0, f, ";")
	for (i = 1; i <= m; i++) if (f[i] ~ /^__(x64|ia32)_sys_/) { k = f[i]; sub(/^__(x64|ia32)_sys_/, "", k); break }
	p[k] += n; t += n }
	END { for (k in p) printf "%6.1f%%  %s\n", 100 * p[k] / t, k }' "$FOLDED" | sort -rn | head -15
echo
echo "== qmgr CPU by call path, qmgr code down to the system call (top 25) =="
awk '{ n = $1; $1 = ""; m = split($0, f, ";"); path = ""
	for (i = 1; i <= m; i++) {
		if (f[i] ~ /^(_start|__libc_start|main$|0x|\[unknown\])/) continue
		if (f[i] ~ /^(entry_SYSCALL|do_syscall|__x64_sys|x64_sys)/) break
		path = path (path ? " > " : "") f[i]
	}
	p[path] += n; t += n }
	END { for (k in p) printf "%6.1f%%  %s\n", 100 * p[k] / t, k }' "$FOLDED" | sort -rn | head -25
echo
echo "perf data: $DATA"
