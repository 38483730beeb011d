#!/bin/bash
# queue_listing - how long does the queue listing take on a big queue?
#
#   bench/queue_listing.sh            (from the top of the tree)
#   N=100000 RUNS=3 SLUICE_BUILD_DIR=build-release bench/queue_listing.sh
#
# Builds a queue of N (default 20,000) small messages and times
# "sluice -c DIR queue > /dev/null" (flat incoming/, then hashed deferred/,
# then --json), best of RUNS runs after one warm-up, with the peak memory.
# Then the case that matters in an outage: every deferred message with its
# defer log (one record, "connect to ...: Connection refused"), listed with
# its delay reason, for sluice and for postqueue, and the ratio.
# Where Postfix is installed (/usr/sbin/postqueue) and we are root, it does
# the same for "postqueue -c DIR -p" on N Postfix queue files: a private
# Postfix instance (its own config and queue under the scratch folder, no
# network listener, no queue manager) takes one message through
# sendmail/pickup/cleanup into incoming/, is stopped, and that file is
# cloned N times; with the system down, postqueue runs showq itself.
#
# The queue files are clones of one file (bench/queue_clone.py), so making
# 100,000 of them takes seconds.  The page cache is warm in every timed run
# (the warm-up run reads everything once): this measures the listing's own
# cost, not the disk.  Results go to stdout; the scratch folder is removed
# unless KEEP=1.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SLUICE_BUILD_DIR:-$top/build-release}
sluice=${SLUICE:-$build/sluice}
qfmake=${QFMAKE:-$build/tests/qfmake}
n=${N:-20000}
runs=${RUNS:-3}
clone="/usr/bin/python3 $top/bench/queue_clone.py"
work=$(mktemp -d /tmp/sluice-bench-queue.XXXXXX)
chmod 755 "$work"	# the private Postfix runs as postfix
pf_etc=$work/postfix/etc
pf_started=0

cleanup() {
	if [ "$pf_started" = 1 ]; then
		postfix -c "$pf_etc" stop >/dev/null 2>&1 || true
	fi
	if [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	else
		echo "kept $work"
	fi
}
trap cleanup EXIT

for f in "$sluice" "$qfmake"; do
	[ -x "$f" ] || { echo "missing $f (build first, or set SLUICE_BUILD_DIR)" >&2; exit 1; }
done

# The message, about the size of a small notification.
message() {
	printf 'Received: by bench.example.test (sluice, from userid 0)\n'
	printf '\tid 4jc9X01bFpz1bw32; Sat, 28 Nov 2020 13:06:07 +0000 (UTC)\n'
	printf 'From: sender@example.test\nTo: rcpt@example.test\nSubject: bench\n'
	printf 'Message-Id: <20201128130607.4jc9X01bFpz1bw32@bench.example.test>\n'
	printf 'Date: Sat, 28 Nov 2020 13:06:07 +0000 (UTC)\n\n'
	printf 'A short body line.\n'
}

# measure LABEL CMD... - best wall time of $runs runs (after a warm-up), the
# best CPU time (user + system, all threads) and peak RSS.  On a shared,
# loaded machine the CPU time is the steadier figure.
measure() {
	local label=$1 best= cpu= rss= t m u s
	last_best=
	shift
	"$@" >/dev/null 2>&1 || true
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || true
		read -r t m u s < "$work/time.txt"
		u=$(awk "BEGIN{print $u + $s}")
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
		if [ -z "$cpu" ] || awk "BEGIN{exit !($u < $cpu)}"; then cpu=$u; fi
		if [ -z "$rss" ] || [ "$m" -gt "$rss" ]; then rss=$m; fi
	done
	printf '%-44s %6s s wall %6s s cpu %5s MB\n' "$label" "$best" "$cpu" "$((rss / 1024))"
	last_best=$best
	last_cpu=$cpu
}
reason="connect to mx.example.test[192.0.2.1]:25: Connection refused"

# check_count WHAT OUTPUT - the footer must count all n messages
check_count() {
	if ! tail -n 1 "$2" | grep -q " in $n Requests\.$"; then
		echo "$1: unexpected listing footer: $(tail -n 1 "$2")" >&2
		exit 1
	fi
}

echo "queue listing, $n messages, best of $runs runs (warm cache), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"

# ---- sluice ----
mkdir -p "$work/sluice"
printf 'queue_directory = %s\n' "$work/sluice/queue" > "$work/sluice/main.cf"
id=$(message | "$qfmake" -q incoming -f sender@example.test "$work/sluice/queue" rcpt@example.test)
mv "$work/sluice/queue/incoming/$id" "$work/sluice/template"
$clone "$work/sluice/template" "$work/sluice/queue/incoming" "$n" sluice
"$sluice" -c "$work/sluice" queue > "$work/sluice.txt"
check_count "sluice queue" "$work/sluice.txt"
measure "sluice queue (incoming/, flat)" "$sluice" -c "$work/sluice" queue
measure "sluice queue --json (incoming/, flat)" "$sluice" -c "$work/sluice" queue --json
find "$work/sluice/queue/incoming" -type f -delete
$clone "$work/sluice/template" "$work/sluice/queue/deferred" "$n" sluice 1
"$sluice" -c "$work/sluice" queue > "$work/sluice.txt"
check_count "sluice queue" "$work/sluice.txt"
measure "sluice queue (deferred/, hashed)" "$sluice" -c "$work/sluice" queue
measure "sluice shape deferred" "$sluice" -c "$work/sluice" shape deferred
/usr/bin/python3 "$top/bench/defer_log_make.py" sluice "$work/sluice/template" "$reason" \
	> "$work/sluice/defer.template"
find "$work/sluice/queue/deferred" -type f -delete
$clone "$work/sluice/template" "$work/sluice/queue/deferred" "$n" sluice 1 \
	"$work/sluice/defer.template" "$work/sluice/queue/defer"
"$sluice" -c "$work/sluice" queue > "$work/sluice.txt"
check_count "sluice queue" "$work/sluice.txt"
grep -qF "(${reason%%:*}" "$work/sluice.txt" || { echo "sluice queue: no delay reason shown" >&2; exit 1; }
measure "sluice queue (deferred/ + defer logs)" "$sluice" -c "$work/sluice" queue
sl_logs=$last_best
sl_logs_cpu=$last_cpu
measure "sluice queue --json (deferred/ + defer logs)" "$sluice" -c "$work/sluice" queue --json
sl_logs_json=$last_best

# ---- Postfix ----
if [ ! -x /usr/sbin/postqueue ] || [ "$(id -u)" != 0 ]; then
	echo "postqueue -p: skipped (needs /usr/sbin/postqueue and root)"
	exit 0
fi
mkdir -p "$pf_etc" "$work/postfix/spool" "$work/postfix/data"
chown postfix "$work/postfix/data"
cat > "$pf_etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $work/postfix/spool
data_directory = $work/postfix/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = bench.example.test
mydestination =
enable_long_queue_ids = yes
maillog_file = $work/postfix/maillog
maillog_file_prefixes = $work/postfix
EOF
# Flat deferred/ and defer/: the clones need not know Postfix's hashing.
echo "hash_queue_names = flush" >> "$pf_etc/main.cf"
# No smtpd (no port), no qmgr (the message stays in incoming/).
cat > "$pf_etc/master.cf" <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
rewrite   unix  -       -       n       -       -       trivial-rewrite
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
postfix -c "$pf_etc" start >/dev/null 2>&1 || {
	echo "postqueue -p: skipped (private Postfix did not start; see $work/postfix/maillog)"
	exit 0
}
pf_started=1
message | /usr/sbin/sendmail -C "$pf_etc" -f sender@example.test rcpt@example.test
for _ in $(seq 100); do
	pf_file=$(find "$work/postfix/spool/incoming" -type f | head -n 1)
	[ -n "$pf_file" ] && break
	sleep 0.1
done
postfix -c "$pf_etc" stop >/dev/null 2>&1
pf_started=0
[ -n "$pf_file" ] || { echo "postqueue -p: skipped (no queue file made)"; exit 0; }
mv "$pf_file" "$work/postfix/template"
$clone "$work/postfix/template" "$work/postfix/spool/incoming" "$n" postfix
/usr/sbin/postqueue -c "$pf_etc" -p > "$work/postfix.txt" 2>/dev/null
check_count "postqueue -p" "$work/postfix.txt"
measure "postqueue -p (incoming/, flat)" /usr/sbin/postqueue -c "$pf_etc" -p
measure "postqueue -j (incoming/, flat)" /usr/sbin/postqueue -c "$pf_etc" -j
/usr/bin/python3 "$top/bench/defer_log_make.py" postfix "$work/postfix/template" "$reason" \
	> "$work/postfix/defer.template"
find "$work/postfix/spool/incoming" -type f -delete
mkdir -p "$work/postfix/spool/defer"
chown postfix "$work/postfix/spool/defer"
$clone "$work/postfix/template" "$work/postfix/spool/deferred" "$n" postfix 0 \
	"$work/postfix/defer.template" "$work/postfix/spool/defer"
/usr/sbin/postqueue -c "$pf_etc" -p > "$work/postfix.txt" 2>/dev/null
check_count "postqueue -p" "$work/postfix.txt"
grep -qF "(${reason%%:*}" "$work/postfix.txt" || { echo "postqueue -p: no delay reason shown" >&2; exit 1; }
measure "postqueue -p (deferred/ + defer logs)" /usr/sbin/postqueue -c "$pf_etc" -p
pf_logs=$last_best
pf_logs_cpu=$last_cpu
measure "postqueue -j (deferred/ + defer logs)" /usr/sbin/postqueue -c "$pf_etc" -j
pf_logs_json=$last_best
awk -v a="$pf_logs" -v b="$sl_logs" -v c="$pf_logs_json" -v d="$sl_logs_json" \
	-v e="$pf_logs_cpu" -v f="$sl_logs_cpu" 'BEGIN {
	printf "deferred + defer logs: postqueue -p / sluice queue = %.1fx wall, %.1fx cpu; -j / --json = %.1fx wall\n",
		a / (b > 0 ? b : 0.001), e / (f > 0 ? f : 0.001), c / (d > 0 ? d : 0.001) }'
