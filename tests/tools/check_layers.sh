#!/bin/sh
# check_layers.sh [SRC_DIR] - the layering rule of docs/STYLE.md, checked on
# the #include lines of every .c and .h under src/:
#   util     includes only util/ headers and uses no mail parameter (var_*):
#            it knows no mail;
#   global   includes only util/ and global/: it knows no program;
#   a program folder (src/qmgr, src/agents/smtp, ...) includes util/,
#            global/, its own files and, for agents, agents/common: programs
#            meet through the protocol and the queue, not through each
#            other's code.
# A bare include ("sched.h") is a file of the same folder, or one reached
# through an include path into another folder (then checked as such).
# The exceptions in ALLOWED are the known, deliberate ones; each says why.
# Prints one line per violation and exits 1 if there is any, else 0.
set -u
src=${1:-$(dirname "$0")/../../src}
cd "$src" || exit 2

# "FOLDER TARGET-PREFIX" pairs allowed across program folders:
#   sim qmgr/ - the simulator runs the queue manager's own scheduler.
ALLOWED="sim qmgr/"

files=$(find . -name '*.[ch]' | sed 's|^\./||' | sort)
violations=$(
	{
		echo "$files" | sed 's/^/F /'
		echo "$ALLOWED" | sed 's/^/A /'
		grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files /dev/null |
			sed -E 's/^([^:]+):([0-9]+):.*"([^"]+)".*/I \1 \2 \3/'
	} | awk '
	$1 == "F" { exists[$2] = 1; n = split($2, p, "/"); byname[p[n]] = byname[p[n]] ? byname[p[n]] : $2; next }
	$1 == "A" { allow[$2] = allow[$2] " " $3; next }
	$1 == "I" {
		file = $2; line = $3; inc = $4
		dir = file; sub(/\/[^\/]*$/, "", dir)
		top = dir; sub(/\/.*/, "", top)
		if (inc ~ /\//) target = inc
		else if ((dir "/" inc) in exists) target = dir "/" inc
		else if (inc in byname) target = byname[inc]
		else target = "?/" inc
		ok = 1
		if (top == "util") ok = target ~ /^util\//
		else if (top == "global") ok = target ~ /^(util|global)\//
		else if (target ~ /^(util|global)\// || index(target, dir "/") == 1) ok = 1
		else if (target ~ /^agents\/common\//) ok = top == "agents"
		else {
			ok = 0
			m = split(allow[dir], a, " ")
			for (i = 1; i <= m; i++)
				if (index(target, a[i]) == 1) ok = 1
		}
		if (!ok)
			printf "src/%s:%s: includes %s (layering rule, docs/STYLE.md)\n", file, line, target
	}'
	# util knows no mail: no parameter variables (they live in global/params.c).
	grep -rnE '\bvar_[a-z][a-z0-9_]*\b' util | sed 's|^|src/|; s|$| (util uses a mail parameter)|'
)
if [ -n "$violations" ]; then
	echo "$violations"
	exit 1
fi
echo "check_layers: util, global and the program folders keep to their layers"
exit 0
