#!/usr/bin/env bash
# deep.sh: what a deep queue costs a receiver, all measured in one run.
#
#   one-shot      one `pq recv QUEUE` (a new process taking one message)
#                 with DEEP ready messages, against the same with SHALLOW
#                 ready; median of RUNS each, the two taking turns.
#                                                   goal: ratio <= 2
#   drain         `pq recv --all QUEUE >/dev/null`, time per message, on a
#                 queue DEEP deep against one SMALL deep (median of
#                 DRAIN_RUNS drains of SMALL). The process start is in both;
#                 spread over SMALL messages it adds a few us a message.
#                                                   goal: ratio <= 1.5
#   drained deep  a queue that held DRAINED messages and was drained with
#                 one `pq recv --all`, then given SHALLOW messages, against
#                 a fresh queue given SHALLOW messages: one-shot `pq recv`,
#                 median of RUNS each, taking turns.
#                                                   goal: ratio ~ 1 (<= 1.25)
#
# Ratios are the deep case's time over the shallow case's. Queues are filled
# by bench/fill, which sends through the spool library as `pq send --lines`
# does but without fsync (FILL=pq fills with `pq send --lines` instead,
# durable and much slower). Each message is 100 bytes. There is a `sync`
# before every timed command, so that one measurement's writes do not land
# on the next.
#
# Settings, from the environment:
#   RUNS=30          one-shot receives behind each median
#   SHALLOW=100      ready messages in the shallow queues
#   DEEP=100000      ready messages in the deep queue
#   SMALL=1000       depth of the small drain
#   DRAIN_RUNS=5     drains of SMALL behind its median
#   DRAINED=300000   depth of the drained-deep queue before its drain;
#                    DEEP_MILLION=1 makes it 1000000 (takes many minutes)
#   FILL=fill        fill, or pq for `pq send --lines`
#   PRIORITIES=1     priorities in use (1 to 10, spread over 0 to 9); fill only
#   BENCH_DIR        where to make the scratch directory (default bench/out/)
#
# Usage: bench/deep.sh    (quick: DEEP=20000 DRAINED=50000 RUNS=15 bench/deep.sh)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-30}
SHALLOW=${SHALLOW:-100}
DEEP=${DEEP:-100000}
SMALL=${SMALL:-1000}
DRAIN_RUNS=${DRAIN_RUNS:-5}
DRAINED=${DRAINED:-300000}
[[ ${DEEP_MILLION:-} != 1 ]] || DRAINED=1000000
FILL=${FILL:-fill}
PRIORITIES=${PRIORITIES:-1}

build pq .
build fill ./bench/fill
pq=$work/bin/pq
spool=$work/spool
line=$(printf '%0100d' 0)

echo "deep: RUNS=$RUNS SHALLOW=$SHALLOW DEEP=$DEEP SMALL=$SMALL DRAIN_RUNS=$DRAIN_RUNS" \
	"DRAINED=$DRAINED FILL=$FILL PRIORITIES=$PRIORITIES scratch=$work"

# fill QUEUE N adds N messages to QUEUE.
fill() {
	if [[ $FILL == pq ]]; then
		head -n "$2" < <(yes "$line") | "$pq" --root "$spool" send --lines "$1" >/dev/null
	else
		"$work/bin/fill" -root "$spool" -queue "$1" -n "$2" -priorities "$PRIORITIES"
	fi
}

# ready QUEUE prints how many messages wait in QUEUE.
ready() {
	files "$spool/$1/new"
}

# oneshots A B sets $A_US and $B_US to the median time of one `pq recv` from
# queues A and B, RUNS each, taking turns (who goes first alternates), after
# one uncounted warm-up each.
oneshots() {
	local a=() b=() i q
	for ((i = 0; i <= RUNS; i++)); do
		local order=("$1" "$2")
		((i % 2)) || order=("$2" "$1")
		for q in "${order[@]}"; do
			sync
			timed "$pq" --root "$spool" recv "$q" >/dev/null
			((RC == 0)) || { echo "pq recv $q failed" >&2; exit 1; }
			((i == 0)) && continue
			if [[ $q == "$1" ]]; then a+=("$US"); else b+=("$US"); fi
		done
	done
	A_US=$(median "${a[@]}")
	B_US=$(median "${b[@]}")
}

# drain QUEUE N times `pq recv --all` of QUEUE, which holds N messages, and
# sets $PER_NS to the nanoseconds it took per message.
drain() {
	sync
	timed "$pq" --root "$spool" recv --all "$1" >/dev/null
	((RC == 0)) || { echo "pq recv --all $1 failed" >&2; exit 1; }
	local left
	left=$(ready "$1")
	((left == 0)) || { echo "pq recv --all left $left messages in $1" >&2; exit 1; }
	PER_NS=$((US * 1000 / $2))
}

# 1. One-shot receive, shallow against deep. Each queue gets RUNS+1 more
# messages than its depth, so that it is never shallower than that.
echo "filling: $((DEEP + RUNS + 1)) + $((SHALLOW + RUNS + 1)) messages"
fill deep $((DEEP + RUNS + 1))
fill shallow $((SHALLOW + RUNS + 1))
echo "one-shot receives..."
oneshots shallow deep
one_shallow=$A_US one_deep=$B_US

# 2. Long-running drain: SMALL deep, DRAIN_RUNS times around one drain of
# the deep queue (left exactly DEEP deep by the one-shots above).
echo "drains..."
left=$(ready deep)
((left == DEEP)) || { echo "queue deep holds $left messages, want $DEEP" >&2; exit 1; }
small=()
for ((i = 0; i < DRAIN_RUNS; i++)); do
	if ((i == DRAIN_RUNS / 2)); then
		drain deep "$DEEP"
		drain_deep=$PER_NS
	fi
	fill small "$SMALL"
	drain small "$SMALL"
	small+=("$PER_NS")
done
drain_small=$(median "${small[@]}")

# 3. A queue that was deep and was drained, against a fresh one.
echo "drained deep: filling $DRAINED messages..."
fill drained "$DRAINED"
echo "drained deep: draining..."
drain drained "$DRAINED"
drain_drained=$PER_NS
dirs_left=$(($(find "$spool/drained/new" -mindepth 1 -type d | wc -l)))
fill drained $((SHALLOW + RUNS + 1))
fill fresh $((SHALLOW + RUNS + 1))
echo "drained deep: one-shot receives..."
oneshots fresh drained
one_fresh=$A_US one_drained=$B_US

r_one=$(ratio100 "$one_deep" "$one_shallow")
r_drain=$(ratio100 "$drain_deep" "$drain_small")
r_drained=$(ratio100 "$one_drained" "$one_fresh")

echo
printf '%-40s %12s %12s %7s %12s %s\n' measure deep shallow ratio goal verdict
printf '%-40s %9s us %9s us %7s %12s %s\n' "one-shot recv, $DEEP vs $SHALLOW ready" \
	"$one_deep" "$one_shallow" "$(ratio "$one_deep" "$one_shallow")" "<= 2" \
	"$(verdict $((r_one <= 200)))"
printf '%-40s %9s us %9s us %7s %12s %s\n' "recv --all per message, $DEEP vs $SMALL" \
	"$(dec $((drain_deep / 10)) 100)" "$(dec $((drain_small / 10)) 100)" \
	"$(ratio "$drain_deep" "$drain_small")" "<= 1.5" "$(verdict $((r_drain <= 150)))"
printf '%-40s %9s us %9s us %7s %12s %s\n' "one-shot recv, drained vs fresh" \
	"$one_drained" "$one_fresh" "$(ratio "$one_drained" "$one_fresh")" "~1, <= 1.25" \
	"$(verdict $((r_drained <= 125)))"
echo
echo "one-shot: median of $RUNS; drain of $SMALL: median of $DRAIN_RUNS"
echo "drained queue: $DRAINED messages drained at $(dec $((drain_drained / 10)) 100) us" \
	"a message; $dirs_left directories left under its new/ afterwards"
