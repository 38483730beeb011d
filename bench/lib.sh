# bench/lib.sh - what the benchmark scripts share; sourced, never run:
#
#   . "$(dirname "$0")/lib.sh"
#
# It sets ME (the script's name, for messages), ROOT, BENCH, BUILD
# (SLUICE_BUILD_DIR or build-release) and RESULTS, and defines functions
# for the start-up every side-by-side benchmark repeats: checks, the release
# build and the helper programs, free loopback ports, smtp-sinks, a private
# sluice (main.cf, start, stop), cpuacct cgroups, and one exit trap that
# stops by pid (or by its configuration) only what the script started:
#
#   bench_trap                 install it (EXIT: bench_cleanup; INT/TERM: exit 130)
#   own_sluice CONF            stop this sluice on exit
#   own_postfix DIR            stop this bench/pf_instance.sh instance on exit
#   start_sinks PORT0 COUNT    smtp-sinks, killed on exit
#   cg_new NAME                a cgroup, emptied and removed on exit
#
# A script that has more to undo defines cleanup_first (run before the
# systems are stopped: its own helper processes) and/or cleanup_last (run
# after: scratch folders); bench_cleanup calls them when they exist.

ME=$(basename "$0")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${SLUICE_BUILD_DIR:-$ROOT/build-release}
RESULTS=$BENCH/results
BENCH_CFLAGS="-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror"
CG_ROOT=/sys/fs/cgroup/cpuacct

die() { echo "$ME: $*" >&2; exit 1; }
note() { echo "  $*" >&2; }

# usage [LINE] - print line LINE (default 4) of the script, its synopsis, and exit 64
usage() {
	sed -n "${1:-4}p" "$0" | sed 's/^# */usage: /' >&2
	exit 64
}

# need TOOL... - root, and every TOOL on the PATH
need() {
	local t
	[ "$(id -u)" -eq 0 ] || die "run as root"
	for t in "$@"; do
		command -v "$t" >/dev/null || die "$t is missing"
	done
}

# build_release FORCE [PROGRAM...] - make build-release when FORCE is 1 or
# a PROGRAM (default sluice) is not in $BUILD yet
build_release() {
	local force=$1 p missing=0
	shift
	for p in "${@:-sluice}"; do
		[ -x "$BUILD/$p" ] || missing=1
	done
	if [ "$force" -eq 1 ] || [ $missing -eq 1 ]; then
		(cd "$ROOT" && cmake --preset release >/dev/null && cmake --build build-release -j2 >/dev/null)
	fi
	return 0
}

# bench_cc ARG... - the C compiler with the benchmarks' flags
bench_cc() { cc $BENCH_CFLAGS "$@"; }

# build_qgen OUT - bench/qgen.c (it links sluice's queue-file code) as OUT
build_qgen() {
	bench_cc -I"$ROOT/src" -o "$1" "$BENCH/qgen.c" "$BUILD/libsluice_global.a" "$BUILD/libsluice_util.a"
}

# copy_programs - a private copy of the programs in $WORK/sluice-bin (they
# find each other beside sluice), so that a rebuild of $BUILD during the
# benchmark cannot mix builds; sets SLUICE
copy_programs() {
	rm -rf "$WORK/sluice-bin"
	mkdir -p "$WORK/sluice-bin"
	find "$BUILD" -maxdepth 1 -type f -perm -u+x -exec cp -p {} "$WORK/sluice-bin/" \;
	SLUICE=$WORK/sluice-bin/sluice
}

# rev - the sluice commit, "+dirty" when src/ has uncommitted changes
rev() {
	echo "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')"
}

# ---- ports ----
port_free() { ! ss -Htan "( sport = :$1 )" | grep -q .; }

# pick_ports COUNT - the first of COUNT consecutive free ports
pick_ports() {
	local base tries=0 i ok
	while [ $tries -lt 50 ]; do
		base=$((20000 + RANDOM % 20000))
		ok=1
		for ((i = 0; i < $1; i++)); do
			port_free $((base + i)) || { ok=0; break; }
		done
		[ $ok -eq 1 ] && { echo $base; return 0; }
		tries=$((tries + 1))
	done
	echo "$ME: no free port range" >&2
	return 1
}

# wait_listen PORT SECONDS WHAT - until something listens on PORT
wait_listen() {
	local t0=$SECONDS
	until ! port_free "$1"; do
		[ $((SECONDS - t0)) -lt "$2" ] || die "$3 did not listen on port $1"
		sleep 0.05
	done
}

# start_sinks PORT0 COUNT - smtp-sinks on 127.0.0.1:PORT0.., listening when it returns
start_sinks() {
	local i
	for ((i = 0; i < $2; i++)); do
		smtp-sink -u nobody "127.0.0.1:$(($1 + i))" 256 &
		BENCH_SINKS+=($!)
	done
	for ((i = 0; i < $2; i++)); do
		wait_listen $(($1 + i)) 10 "smtp-sink $i"
	done
}

# sink_routes PORT0 COUNT - transport_maps entries d0.test .. to the sinks
sink_routes() {
	local i tm=""
	for ((i = 0; i < $2; i++)); do
		tm+="${tm:+, }d$i.test=smtp:[127.0.0.1]:$(($1 + i))"
	done
	echo "$tm"
}

# ---- a private sluice ----
# sluice_main_cf DIR TRANSPORT_MAPS - DIR/conf/main.cf: queue, maillog and
# routes under DIR; the caller appends its own settings
sluice_main_cf() {
	mkdir -p "$1/conf"
	cat > "$1/conf/main.cf" <<EOF
queue_directory = $1/spool
maillog_file = $1/maillog
myhostname = bench.test
mydestination = localhost
transport_maps = $2
EOF
}

# add_extra FILE - append the -o settings (array EXTRA) to a main.cf
add_extra() {
	[ ${#EXTRA[@]} -eq 0 ] || printf '%s\n' "${EXTRA[@]}" >> "$1"
}

# sluice_start CONF SPOOL - start it, stopped on exit; sets MASTER once the master wrote its pid
sluice_start() {
	local t0=$SECONDS
	own_sluice "$1"
	"$SLUICE" -c "$1" start >/dev/null 2>&1 || die "sluice did not start (see its maillog)"
	until MASTER=$(tr -d ' \n' < "$2/pid/master.pid" 2>/dev/null) && [ -n "$MASTER" ]; do
		[ $((SECONDS - t0)) -lt 20 ] || die "sluice did not write its pid file"
		sleep 0.02
	done
}

# sluice_stop CONF [MASTER] - stop it, waiting for MASTER to exit
sluice_stop() {
	local t0=$SECONDS
	"$SLUICE" -c "$1" stop >/dev/null 2>&1 || true
	[ -n "${2:-}" ] || return 0
	while kill -0 "$2" 2>/dev/null; do
		[ $((SECONDS - t0)) -lt 30 ] || die "sluice master $2 did not stop"
		sleep 0.1
	done
}

# settle - let the disk write back the fresh queue files before a measurement
settle() { sync; sleep 2; }

# quiesce - before a measured run: sync, then wait until bench/cpuprobe.c's
# figure is within 15% of the fastest this benchmark has seen, at most
# QUIESCE_MAX seconds (default 180), after a cool-down of QUIESCE_MIN
# seconds (default 0).  This machine is a guest whose host
# shares its cores: after a long busy run (and at times on its own) the
# same loop runs 1.5-1.8x slower for tens of seconds, and a run started
# then pays for it (bench/README.md, "smtpd.sh").  Sets PROBE_MS (the last
# figure) and QUIESCE_S (the seconds waited).
PROBE_BEST=""
quiesce() {
	local t0=$SECONDS p
	sync
	sleep "${QUIESCE_MIN:-0}"
	[ "$WORK/cpuprobe" -nt "$BENCH/cpuprobe.c" ] || bench_cc -o "$WORK/cpuprobe" "$BENCH/cpuprobe.c"
	while :; do
		p=$("$WORK/cpuprobe")
		if [ -z "$PROBE_BEST" ] || awk -v p="$p" -v b="$PROBE_BEST" 'BEGIN { exit !(p < b) }'; then
			PROBE_BEST=$p
		fi
		awk -v p="$p" -v b="$PROBE_BEST" 'BEGIN { exit !(p <= 1.15 * b) }' && break
		if [ $((SECONDS - t0)) -ge "${QUIESCE_MAX:-180}" ]; then
			note "CPU probe still at $p ms (fastest $PROBE_BEST ms) after $((SECONDS - t0)) s; measuring anyway"
			break
		fi
		sleep 5
	done
	PROBE_MS=$p
	QUIESCE_S=$((SECONDS - t0))
}

# find_child PARENT NAME - the pid of PARENT's child NAME (the queue manager under the master)
find_child() {
	local q="" t0=$SECONDS
	until q=$(ps -o pid=,comm= --ppid "$1" | awk -v n="$2" '$2 == n {print $1; exit}') && [ -n "$q" ]; do
		[ $((SECONDS - t0)) -lt 20 ] || die "no $2 under master $1"
		sleep 0.02
	done
	echo "$q"
}

# ---- cgroups (v1 cpuacct): the CPU of a process tree, exited processes included ----
cg_need() {
	[ -f $CG_ROOT/cpuacct.usage ] || die "needs the cgroup v1 cpuacct controller at $CG_ROOT"
}
# cg_new NAME - a fresh cpuacct cgroup, removed on exit; sets CG to its path
cg_new() {
	CG=$CG_ROOT/sluice-bench-$1-$$
	[ -d "$CG" ] && rmdir "$CG"
	mkdir "$CG"
	BENCH_CGS+=("$CG")
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

# ---- what we started, stopped on exit ----
BENCH_SINKS=()
BENCH_SLUICE=()
BENCH_PF=()
BENCH_CGS=()
own_sluice() { [[ " ${BENCH_SLUICE[*]} " == *" $1 "* ]] || BENCH_SLUICE+=("$1"); }
own_postfix() { [[ " ${BENCH_PF[*]} " == *" $1 "* ]] || BENCH_PF+=("$1"); }

bench_cleanup() {
	local c p
	set +e
	declare -F cleanup_first >/dev/null && cleanup_first
	for c in "${BENCH_SLUICE[@]}"; do
		[ -f "$c/main.cf" ] && "$SLUICE" -c "$c" stop >/dev/null 2>&1
	done
	for c in "${BENCH_PF[@]}"; do
		[ -d "$c/conf" ] && "$BENCH/pf_instance.sh" stop "$c"
	done
	for p in "${BENCH_SINKS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BENCH_SINKS[@]}"; do wait "$p" 2>/dev/null; done
	for c in "${BENCH_CGS[@]}"; do
		# Whatever is left in it goes back to the root group first.
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do echo "$p" > $CG_ROOT/cgroup.procs; done
		rmdir "$c" 2>/dev/null
	done
	declare -F cleanup_last >/dev/null && cleanup_last
	return 0
}

bench_trap() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# ---- the summary table ----
# AWK_SUMMARY - awk functions for the summary, put before the program:
#   awk -F'\t' -v lw=34 -v cw=24 "$AWK_SUMMARY"'PROGRAM' "$RAW"
# med(a, k, cnt): the median of a[k, 1..cnt], with lo and hi set to the
# smallest and the largest.  row(label, a, fmt): one line of the table,
# label (lw wide), then "median (min..max)" of a for postfix and for sluice
# (cw wide each; n[system] counts the runs, "-" for a system not run), then
# the ratio sluice/postfix when both ran.
AWK_SUMMARY='
function med(a, k, cnt,   i, j, t, v) {
	for (i = 1; i <= cnt; i++) v[i] = a[k, i]
	for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	lo = v[1]; hi = v[cnt]
	return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
}
function row(label, a, fmt,   k, m, s) {
	printf "%-" lw "s", label
	for (k = 1; k <= 2; k++) {
		s = k == 1 ? "postfix" : "sluice"
		if (!(s in n)) { printf "  %-" cw "s", "-"; continue }
		m = med(a, s, n[s]); M[s] = m
		printf "  %-" cw "s", sprintf(fmt " (" fmt ".." fmt ")", m, lo, hi)
	}
	if (("sluice" in n) && ("postfix" in n) && M["postfix"] > 0)
		printf "  %.2f", M["sluice"] / M["postfix"]
	printf "\n"
}
'
