#!/bin/bash
# pf_instance.sh - a private Postfix instance for the side-by-side benchmarks.
#
#   pf_instance.sh setup   DIR SINK_PORT0 SMTPD_PORT  write DIR/conf, create DIR/spool
#   pf_instance.sh load    DIR N                      queue N messages in incoming/ (no qmgr)
#   pf_instance.sh measure DIR                        switch master.cf to the oqmgr variant
#   pf_instance.sh serve   DIR                        master.cf with smtpd and qmgr (bench/smtpd.sh)
#   pf_instance.sh start   DIR / stop DIR             start / stop, waiting for the master
#   pf_instance.sh master  DIR                        print the running master's pid
#
# The instance lives entirely under DIR (configuration, queue, maillog via
# postlogd) and never touches /etc/postfix or port 25: it listens only on
# 127.0.0.1:SMTPD_PORT, and only while loading.  Destinations d0.test ..
# d9.test go to smtp:[127.0.0.1]:SINK_PORT0+i through transport_maps, as on
# the sluice side.  Every service runs unchrooted (chroot would need copies
# of /etc inside the queue directory); otherwise master.cf is Debian's stock
# one, with oqmgr as the queue manager (the reference the benchmark targets)
# and every other setting at its default.
#
# Loading: master.cf without any queue manager and with an smtpd on
# 127.0.0.1:SMTPD_PORT; ten smtp-source runs (one per domain, in parallel)
# inject N/10 messages each; once incoming/ holds N files the instance is
# stopped.  in_flow_delay is 0 for smtpd and cleanup during loading only:
# with no queue manager to hand out flow-control tokens every message would
# otherwise wait in_flow_delay (1s).
#
# Running `postfix -c DIR` as root needs no alternate_config_directories
# (that check applies to the set-gid commands, and to non-root users), but
# maillog_file must match maillog_file_prefixes, so that is set to DIR.
# Postfix's own diagnostics go to the maillog; with no /dev/log here the
# postfix command prints nothing when it fails, so look there first.
set -euo pipefail

PF_DOMAINS=10

die() { echo "pf_instance.sh: $*" >&2; exit 1; }

# pf - run the postfix command for instance DIR (stdout kept quiet)
pf() {
	local dir=$1 out; shift
	# Under script(1): the postfix command prints its diagnostics only to a tty.
	out=$(script -qec "postfix -c $dir/conf $*" /dev/null 2>&1 | tr -d '\r') || {
		echo "pf_instance.sh: postfix $* failed: $out" >&2
		tail -5 "$dir/maillog" >&2 2>/dev/null || true
		return 1
	}
}

# master_pid - the running master's pid, or nothing
master_pid() {
	local f=$1/spool/pid/master.pid pid
	[ -r "$f" ] || return 0
	pid=$(tr -d ' \n' < "$f")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
	return 0
}

# services - master.cf lines shared by both variants (Debian's stock set, unchrooted)
services() {
	cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

cmd_setup() {
	local dir=$1 port0=$2 smtpd_port=$3 tm="" i
	[ -n "$smtpd_port" ] || die "usage: setup DIR SINK_PORT0 SMTPD_PORT"
	for ((i = 0; i < PF_DOMAINS; i++)); do
		tm+="${tm:+, }d$i.test=smtp:[127.0.0.1]:$((port0 + i))"
	done
	mkdir -p "$dir/conf" "$dir/spool" "$dir/data"
	chown postfix "$dir/data"
	echo "$smtpd_port" > "$dir/conf/smtpd_port"
	cat > "$dir/conf/main.cf" <<EOF
# Private Postfix instance for sluice's bench/ (written by pf_instance.sh).
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = bench.test
mydomain = bench.test
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
transport_maps = inline:{ $tm }
EOF
	services > "$dir/conf/master.cf"
	# Creates the queue folders with Postfix's owners and modes.
	pf "$dir" check
}

cmd_load() {
	local dir=$1 n=$2 port per i n_in t0 pids=()
	[ -n "$n" ] || die "usage: load DIR N"
	[ $((n % PF_DOMAINS)) -eq 0 ] || die "N must be a multiple of $PF_DOMAINS"
	[ -z "$(master_pid "$dir")" ] || die "instance $dir is running"
	port=$(cat "$dir/conf/smtpd_port")
	{
		echo "127.0.0.1:$port inet n - n - - smtpd -o in_flow_delay=0"
		services | sed 's/^\(cleanup .*cleanup\)$/\1 -o in_flow_delay=0/'
	} > "$dir/conf/master.cf"
	cmd_start "$dir"
	per=$((n / PF_DOMAINS))
	for ((i = 0; i < PF_DOMAINS; i++)); do
		smtp-source -s 2 -m "$per" -l 1000 -f s@bench.test -t "u@d$i.test" \
			"127.0.0.1:$port" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || die "smtp-source failed"
	done
	# cleanup has answered 250 to every message, so every file is in place.
	t0=$SECONDS
	while n_in=$(find "$dir/spool/incoming" -type f | wc -l); [ "$n_in" -lt "$n" ]; do
		[ $((SECONDS - t0)) -lt 60 ] || die "incoming holds $n_in of $n files"
		sleep 0.5
	done
	cmd_stop "$dir"
	[ "$n_in" -eq "$n" ] || die "incoming holds $n_in files, expected $n"
}

cmd_measure() {
	local dir=$1
	{
		services
		echo "qmgr      unix  n       -       n       300     1       oqmgr"
	} > "$dir/conf/master.cf"
}

# serve: the whole system as Debian ships it, smtpd on 127.0.0.1:SMTPD_PORT
# and the stock queue manager (qmgr), every setting at its default.
cmd_serve() {
	local dir=$1 port
	port=$(cat "$dir/conf/smtpd_port")
	{
		echo "127.0.0.1:$port inet n - n - - smtpd"
		services
		echo "qmgr      unix  n       -       n       300     1       qmgr"
	} > "$dir/conf/master.cf"
}

cmd_start() {
	local dir=$1 t0=$SECONDS
	pf "$dir" start
	until [ -n "$(master_pid "$dir")" ]; do
		[ $((SECONDS - t0)) -lt 20 ] || die "master did not start"
		sleep 0.05
	done
}

cmd_stop() {
	local dir=$1 pid t0=$SECONDS
	pid=$(master_pid "$dir")
	[ -n "$pid" ] || return 0
	pf "$dir" stop || true
	while kill -0 "$pid" 2>/dev/null; do
		[ $((SECONDS - t0)) -lt 30 ] || die "master $pid did not stop"
		sleep 0.1
	done
}

[ $# -ge 2 ] || die "usage: pf_instance.sh setup|load|measure|serve|start|stop|master DIR ..."
cmd=$1; shift
case $cmd in
setup)   cmd_setup "$1" "${2:-}" "${3:-}" ;;
load)    cmd_load "$1" "${2:-}" ;;
measure) cmd_measure "$1" ;;
serve)   cmd_serve "$1" ;;
start)   cmd_start "$1" ;;
stop)    cmd_stop "$1" ;;
master)  master_pid "$1" ;;
*)       die "unknown command $cmd" ;;
esac
