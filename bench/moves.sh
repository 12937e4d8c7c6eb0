#!/usr/bin/env bash
# moves.sh: the worker loop with --to against the same worker without it.
#
# In one run, on a scratch spool on the repository's filesystem (or under
# $BENCH_DIR), after a `sync` before each measurement:
#
#   moves   `pq recv --exec true -j 4 --to Q2 QUEUE` on a queue of N
#           messages: one /bin/sh -c true per message, four at a time, each
#           one's (empty) output handed over to Q2 exactly once, atomically
#           with the ack of its input (stage, intent, handover: see the
#           README's Protocol and guarantees).
#   floor   `pq recv --exec true -j 4 QUEUE` on a queue of N messages: the
#           same worker, each message acked durably (acks group-committed).
#
# The ratio is the moves' messages/s over the floor's: goal >= 0.7.
#
# Settings, from the environment:
#   N=5000      messages
#   ROUNDS=3    rounds, moves and floor taking turns; medians are reported
#   BENCH_DIR   where to make the scratch directory (default bench/out/)
#
# Usage: bench/moves.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-5000}
ROUNDS=${ROUNDS:-3}

build pq .
pq=$work/bin/pq
export PQ_ROOT=$work/spool XDG_CONFIG_HOME=$work/xdg
seq "$N" >"$work/lines"

# drained QUEUE fails the run unless QUEUE's new/ is empty.
drained() {
	local left
	left=$(files "$PQ_ROOT/$1/new")
	((left == 0)) || { echo "the worker left $left messages in $1" >&2; exit 1; }
}

declare -a mv fl
for ((r = 0; r < ROUNDS; r++)); do
	"$pq" send --lines m <"$work/lines" >/dev/null
	sync
	timed "$pq" recv --exec true -j 4 --to m2 m
	((RC == 0)) || { echo "the worker with --to failed with status $RC" >&2; exit 1; }
	drained m
	moved=$(files "$PQ_ROOT/m2/new")
	((moved == N * (r + 1))) || { echo "m2 holds $moved messages, want $((N * (r + 1)))" >&2; exit 1; }
	mv+=($((N * 1000000 / US)))

	"$pq" send --lines w <"$work/lines" >/dev/null
	sync
	timed "$pq" recv --exec true -j 4 w
	((RC == 0)) || { echo "the worker failed with status $RC" >&2; exit 1; }
	drained w
	fl+=($((N * 1000000 / US)))
done

m=$(median "${mv[@]}")
f=$(median "${fl[@]}")
printf '%-40s %10s\n' "measure ($N messages, $ROUNDS rounds)" "msgs/s"
printf '%-40s %10d\n' "pq recv --exec true -j 4 --to m2" "$m"
printf '%-40s %10d\n' "pq recv --exec true -j 4 (floor)" "$f"
printf '%-40s %10s   goal >= 0.70   %s\n' "ratio" "$(ratio "$m" "$f")" "$(verdict $(($(ratio100 "$m" "$f") >= 70)))"
