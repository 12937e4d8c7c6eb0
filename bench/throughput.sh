#!/usr/bin/env bash
# throughput.sh: how close pq comes to the raw system calls it is built on.
#
# It builds pq and bench/floor, then measures in one run, on a scratch spool
# on the repository's filesystem (or under $BENCH_DIR), after a `sync`
# before each measurement:
#
#   bulk send   `pq send --lines` of N lines of 100 bytes (durable, the
#               default), against the send floor: create, write 100 bytes,
#               close, rename into new/, no fsync.      goal: ratio >= 0.5
#   bulk recv   `pq recv --all QUEUE >/dev/null` of those N messages (in
#               rounds, see ROUNDS: `recv -n` but in the last round),
#               against the claim floor: open, flock, rename into cur/,
#               read, unlink, close, no fsync; the floor makes its files
#               beforehand, untimed.                    goal: ratio >= 0.5
#   one send    one `pq send` of one message (median of RUNS runs), against
#               the start of an empty Go program (median of RUNS runs) plus
#               one durable message (create, write, fsync, close, rename,
#               fsync the directory; mean of about 200).
#                                                       goal: ratio <= 1.25
#
# The ratios are pq's speed over the floor's (messages/s) for the bulk rows,
# and pq's time over the floor's time for the single send. Only the ratios
# mean anything on a shared machine, and only within one run.
#
# Settings, from the environment:
#   N=100000    messages in the bulk rows (N=20000 for a quick run)
#   ROUNDS=10   the bulk rows run in this many rounds of N/ROUNDS messages,
#               pq and the floor taking turns; ROUNDS=1 is one run of N each
#   RUNS=30     runs behind each median of the single send
#   BENCH_DIR   where to make the scratch directory (default bench/out/)
#
# Usage: bench/throughput.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-100000}
RUNS=${RUNS:-30}
ROUNDS=${ROUNDS:-10}
((N >= ROUNDS)) || ROUNDS=1

build pq .
build floor ./bench/floor
pq=$work/bin/pq
floor=$work/bin/floor
spool=$work/spool

echo "throughput: N=$N ROUNDS=$ROUNDS RUNS=$RUNS scratch=$work"

# Input: N lines of 100 bytes, and one message of 100 bytes.
line=$(printf '%0100d' 0)
head -n "$N" < <(yes "$line") >"$work/lines"
printf '%s' "$line" >"$work/one"

"$pq" --root "$spool" init bulk

# Bulk send, then bulk receive of what was sent. pq and the floor take turns
# in ROUNDS rounds of N/ROUNDS messages each, who goes first alternating, so
# that the moods of a shared machine hit both alike. The queue and the
# floor's new/ fill up to N across the rounds. The last receive round is
# `recv --all`, the others `recv -n`.
chunk=$((N / ROUNDS))
pq_send=0 floor_send=0 pq_recv=0 floor_claim=0
send_rounds="" recv_rounds=""
for ((r = 1; r <= ROUNDS; r++)); do
	n=$chunk
	((r < ROUNDS)) || n=$((N - chunk * (ROUNDS - 1)))
	head -n "$n" "$work/lines" >"$work/chunk"
	order=(pq floor)
	((r % 2)) || order=(floor pq)
	for who in "${order[@]}"; do
		sync
		if [[ $who == pq ]]; then
			timed "$pq" --root "$spool" send --lines bulk <"$work/chunk" >"$work/ids"
			((RC == 0)) || { echo "pq send failed" >&2; exit 1; }
			sent=$(wc -l <"$work/ids")
			((sent == n)) || { echo "pq send printed $sent ids, want $n" >&2; exit 1; }
			pq_send=$((pq_send + US)) p_us=$US
		else
			read -r _ _ us _ < <("$floor" -mode send -dir "$work/f-send" -n "$n")
			floor_send=$((floor_send + us)) f_us=$us
		fi
	done
	send_rounds+=" $(ratio "$f_us" "$p_us")"
done
rm -rf "$work/f-send"
for ((r = 1; r <= ROUNDS; r++)); do
	n=$chunk
	((r < ROUNDS)) || n=$((N - chunk * (ROUNDS - 1)))
	order=(floor pq)
	((r % 2)) || order=(pq floor)
	for who in "${order[@]}"; do
		sync
		if [[ $who == pq ]]; then
			how=(-n "$n")
			((r < ROUNDS)) || how=(--all)
			timed "$pq" --root "$spool" recv "${how[@]}" bulk >/dev/null
			((RC == 0)) || { echo "pq recv failed" >&2; exit 1; }
			pq_recv=$((pq_recv + US)) p_us=$US
		else
			read -r _ _ us _ < <("$floor" -mode claim -dir "$work/f-claim" -n "$n")
			floor_claim=$((floor_claim + us)) f_us=$us
			rm -rf "$work/f-claim"
		fi
	done
	recv_rounds+=" $(ratio "$f_us" "$p_us")"
done
left=$(files "$spool/bulk/new")
((left == 0)) || { echo "pq recv left $left messages" >&2; exit 1; }
pq_send_rate=$((N * 1000000 / pq_send))
floor_send_rate=$((N * 1000000 / floor_send))
pq_recv_rate=$((N * 1000000 / pq_recv))
floor_claim_rate=$((N * 1000000 / floor_claim))

# One message at a time. The empty program, one pq send and a few durable
# messages of the floor take turns, so that the machine's moods hit all
# three alike; one round of each first warms the caches and is not counted.
"$pq" --root "$spool" init one
per_round=$(((200 + RUNS - 1) / RUNS))
empty_us=() send_us=() durable_us=()
for ((i = 0; i <= RUNS; i++)); do
	sync
	timed "$floor" -mode empty <"$work/one"
	((i == 0)) || empty_us+=("$US")
	sync
	timed "$pq" --root "$spool" send one <"$work/one" >/dev/null
	((RC == 0)) || { echo "pq send failed" >&2; exit 1; }
	((i == 0)) || send_us+=("$US")
	sync
	read -r _ us _ < <("$floor" -mode durable1 -dir "$work/f-durable" -n "$per_round")
	((i == 0)) || durable_us+=("${us%.*}")
done
sent=$(files "$spool/one/new")
((sent == RUNS + 1)) || { echo "queue one holds $sent messages, want $((RUNS + 1))" >&2; exit 1; }
empty=$(median "${empty_us[@]}")
one=$(median "${send_us[@]}")
durable=$(mean "${durable_us[@]}")
one_floor=$((empty + durable))

r_send=$(ratio100 "$pq_send_rate" "$floor_send_rate")
r_recv=$(ratio100 "$pq_recv_rate" "$floor_claim_rate")
r_one=$(ratio100 "$one" "$one_floor")

echo
printf '%-12s %14s %14s %7s %9s %s\n' measure pq floor ratio goal verdict
printf '%-12s %10s m/s %10s m/s %7s %9s %s\n' "bulk send" "$pq_send_rate" "$floor_send_rate" \
	"$(ratio "$pq_send_rate" "$floor_send_rate")" ">= 0.50" "$(verdict $((r_send >= 50)))"
printf '%-12s %10s m/s %10s m/s %7s %9s %s\n' "bulk recv" "$pq_recv_rate" "$floor_claim_rate" \
	"$(ratio "$pq_recv_rate" "$floor_claim_rate")" ">= 0.50" "$(verdict $((r_recv >= 50)))"
printf '%-12s %11s us %11s us %7s %9s %s\n' "one send" "$one" "$one_floor" \
	"$(ratio "$one" "$one_floor")" "<= 1.25" "$(verdict $((r_one <= 125)))"
echo
echo "bulk: N=$N messages of 100 bytes; m/s = messages per second"
echo "bulk ratio in each of the $ROUNDS rounds: send$send_rounds; recv$recv_rounds"
echo "one send floor = empty Go program ${empty} us (median of $RUNS)" \
	"+ durable message ${durable} us (mean of $((RUNS * per_round)))"
