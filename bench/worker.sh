#!/usr/bin/env bash
# worker.sh: the worker loop's throughput against the cost of spawning.
#
# In one run, on a scratch spool on the repository's filesystem (or under
# $BENCH_DIR), after a `sync` before each measurement:
#
#   worker  `pq recv --exec true -j 2 QUEUE` on a queue of N messages: one
#           /bin/sh -c true per message, two at a time, each message acked
#           durably (acks group-committed).
#   floor   `xargs -P2 -n1 true` on N input lines: the same number of
#           processes, two at a time, and nothing else.
#
# The ratio is the worker's messages/s over the floor's: goal >= 0.8. The
# worker starts a shell per message (CMD is a shell command line), where
# xargs starts `true` directly; the floor is kept as the issue states it.
#
# Settings, from the environment:
#   N=5000      messages
#   ROUNDS=3    rounds, worker and floor taking turns; medians are reported
#   BENCH_DIR   where to make the scratch directory (default bench/out/)
#
# Usage: bench/worker.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-5000}
ROUNDS=${ROUNDS:-3}

build pq .
pq=$work/bin/pq
export PQ_ROOT=$work/spool XDG_CONFIG_HOME=$work/xdg
seq "$N" >"$work/lines"

declare -a wk fl
for ((r = 0; r < ROUNDS; r++)); do
	"$pq" send --lines w <"$work/lines" >/dev/null
	sync
	timed "$pq" recv --exec true -j 2 w
	((RC == 0)) || { echo "worker failed with status $RC" >&2; exit 1; }
	left=$(files "$PQ_ROOT/w/new")
	((left == 0)) || { echo "worker left $left messages" >&2; exit 1; }
	wk+=($((N * 1000000 / US)))

	sync
	timed xargs -P2 -n1 true <"$work/lines"
	fl+=($((N * 1000000 / US)))
done

w=$(median "${wk[@]}")
f=$(median "${fl[@]}")
printf '%-34s %10s\n' "measure ($N messages, $ROUNDS rounds)" "msgs/s"
printf '%-34s %10d\n' "pq recv --exec true -j 2" "$w"
printf '%-34s %10d\n' "xargs -P2 -n1 true (floor)" "$f"
printf '%-34s %10s   goal >= 0.80   %s\n' "ratio" "$(ratio "$w" "$f")" "$(verdict $(($(ratio100 "$w" "$f") >= 80)))"
