#!/bin/bash
# local_fanout.sh - cost of one message to many local recipients.
#
#   bench/local_fanout.sh [-B BUILD_DIR] [-w WORKDIR] [-b] [N...]
#
# For each N (default: 10000 100000) one message of 1,000 bytes to N local
# recipients is delivered by the local agent, one recipient per request as
# the queue manager sends local mail (local_destination_recipient_limit = 1),
# every recipient into the same Maildir (bench/local_fanout.py says exactly
# how).  Prints per N the wall time, the agent's CPU time (with its delivery
# children) and microseconds per recipient, then the ratio of the times of
# the largest and the smallest N beside the ratio of the N: linear cost
# means the two ratios agree, quadratic cost means the time ratio is their
# square.
#
# BUILD_DIR (default build-release, made with `cmake --preset release` when
# missing or with -b) holds the local agent; -B points at another build,
# e.g. an older tree's, to compare.  WORKDIR (default /dev/shm/sluice-fanout,
# a tmpfs) holds the queue, the Maildir and the maillog; on tmpfs fsync
# costs nothing, so the figures are the agent's CPU work, which is what the
# recipient count can make grow.  Results are appended to
# bench/results/local_fanout-TIMESTAMP.txt.  Run as root the agent runs as
# it would installed (root, writing the Maildir as mail_owner "sluice").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BUILD=$ROOT/build-release
WORK=/dev/shm/sluice-fanout
BUILD_FIRST=0
while getopts "B:w:b" opt; do
	case $opt in
	B) BUILD=$(cd "$OPTARG" && pwd) ;;
	w) WORK=$OPTARG ;;
	b) BUILD_FIRST=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)

[ "$BUILD" != "$ROOT/build-release" ] || build_release $BUILD_FIRST local
mkdir -p "$WORK/bin" "$BENCH/results"
build_qgen "$WORK/bin/qgen"
chmod 755 "$WORK"

OUT=$BENCH/results/local_fanout-$(date +%Y%m%d-%H%M%S).txt
{
	echo "# build $BUILD ($(stat -c %y "$BUILD/local" | cut -d. -f1)), work $WORK, load $(cut -d' ' -f1 /proc/loadavg)"
	printf "%10s %10s %12s %14s\n" recipients wall_s agent_cpu_s us_per_rcpt
} | tee "$OUT"
declare -a WALL
for n in "${SIZES[@]}"; do
	read -r got wall cpu < <(/usr/bin/python3 "$BENCH/local_fanout.py" "$BUILD" "$WORK/bin/qgen" "$WORK" "$n")
	WALL+=("$wall")
	awk -v n="$got" -v w="$wall" -v c="$cpu" \
		'BEGIN { printf "%10d %10.2f %12.2f %14.0f\n", n, w, c, w * 1e6 / n }' | tee -a "$OUT"
done
if [ ${#SIZES[@]} -gt 1 ]; then
	last=$((${#SIZES[@]} - 1))
	awk -v n0="${SIZES[0]}" -v n1="${SIZES[$last]}" -v w0="${WALL[0]}" -v w1="${WALL[$last]}" \
		'BEGIN { printf "recipients x%.1f, time x%.2f (linear: x%.1f, quadratic: x%.0f)\n",
			 n1 / n0, w1 / w0, n1 / n0, (n1 / n0) ^ 2 }' | tee -a "$OUT"
fi
