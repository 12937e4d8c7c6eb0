#!/usr/bin/env bash
# groups.sh: what message groups cost a worker.
#
# In one run, on a scratch spool on the repository's filesystem (or under
# $BENCH_DIR), after a `sync` before each measurement:
#
#   grouped    `pq recv --exec true -j 4 QUEUE` on N messages spread over
#              NGROUPS groups (sent group after group, as `pq send -g`):
#              one message of a group at a time, groups in parallel.
#   ungrouped  the same worker on N messages without groups.
#
# The ratio is grouped messages/s over ungrouped: goal >= 0.8.
#
# Settings, from the environment:
#   N=5000      messages
#   NGROUPS=20   groups
#   ROUNDS=3    rounds, taking turns; medians are reported
#   BENCH_DIR   where to make the scratch directory (default bench/out/)
#
# Usage: bench/groups.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-5000}
NGROUPS=${NGROUPS:-20}
ROUNDS=${ROUNDS:-3}

build pq .
pq=$work/bin/pq
export PQ_ROOT=$work/spool XDG_CONFIG_HOME=$work/xdg
seq $((N / NGROUPS)) >"$work/lines"

# run QUEUE fills nothing; it times the worker on QUEUE and sets $RATE.
run() {
	sync
	timed "$pq" recv --exec true -j 4 "$1"
	((RC == 0)) || { echo "worker failed with status $RC" >&2; exit 1; }
	left=$(files "$PQ_ROOT/$1/new")
	((left == 0)) || { echo "worker left $left messages in $1" >&2; exit 1; }
	RATE=$((N * 1000000 / US))
}

declare -a gr un
for ((r = 0; r < ROUNDS; r++)); do
	for ((g = 0; g < NGROUPS; g++)); do
		"$pq" send --lines -g "g$g" grouped <"$work/lines" >/dev/null
		"$pq" send --lines plain <"$work/lines" >/dev/null
	done
	run grouped
	gr+=("$RATE")
	run plain
	un+=("$RATE")
done

g=$(median "${gr[@]}")
u=$(median "${un[@]}")
printf '%-40s %10s\n' "measure ($N messages, $NGROUPS groups, $ROUNDS rounds)" "msgs/s"
printf '%-40s %10d\n' "pq recv --exec true -j 4, grouped" "$g"
printf '%-40s %10d\n' "pq recv --exec true -j 4, no groups" "$u"
printf '%-40s %10s   goal >= 0.80   %s\n' "ratio" "$(ratio "$g" "$u")" "$(verdict $(($(ratio100 "$g" "$u") >= 80)))"
