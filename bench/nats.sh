#!/usr/bin/env bash
# nats.sh: pq on NATS JetStream against a raw nats.go client, beside the
# spool, on one machine in one run.
#
# It builds pq, bench/natsd and bench/natsfloor, starts one NATS server
# and a cluster of three on loopback (bench/natsd, each with its store in
# the scratch directory, JetStream's default sync interval unless SYNC=1),
# and measures, in ROUNDS rounds, pq and the floor taking turns (who goes
# first alternating) so that the moods of a shared machine hit both alike:
#
#   send    `pq send --lines QUEUE` of N lines of 100 bytes into a spool
#           queue (durable, fsynced), into a queue on the single server
#           (one replica), and into a queue on the cluster made with three
#           replicas. Floor: `natsfloor -mode send`, nats.go publishing the
#           same lines asynchronously (at most 4,000 acks outstanding) into
#           a queue with the same streams and consumer, and waiting for
#           every ack: what `nats pub` does at best. Each round sends into
#           queues made beforehand (untimed) through package jetstream, as
#           `pq init [--replicas 3]` makes them; neither puts an
#           expected-stream header on its messages.
#                                                       goal: ratio >= 0.7
#   worker  `pq recv --exec true -j 4 QUEUE` draining W messages (sent
#           beforehand, untimed): on the spool, the single server and the
#           cluster. Floor: `natsfloor -mode work`, a nats.go consumer bound
#           to the queue's own durable consumer, pulling ahead, running
#           `/bin/sh -c true` with the body on stdin 4 at a time (what pq
#           runs for CMD, a shell command line), and acking each message
#           after its command with the server's confirmation (pq's acks are
#           confirmed too). It leaves out what pq adds per message: the
#           temporary file holding the body, the environment variables,
#           the stderr tail, the log line, the claim's renewal timer, a
#           pull for no more messages than it has commands free. The spool
#           has no floor here (bench/worker.sh
#           gives it one).
#
# With DIAG=1, two more floors split the gaps: the send floor run again
# with an expected-stream header on each message, which pq once put (row
# "floor with pq's header"), and the worker floor run again pulling one
# message at a time, once a command slot is free: pq delivers nothing
# before a command can take it (row "floor pulling one").
#
# Ratios are pq's messages/s over the floor's, from the medians of the
# rounds. Only ratios mean anything on a shared machine, and only within
# one run.
#
# Settings, from the environment:
#   N=100000    messages of each send
#   W=5000      messages of each worker run
#   ROUNDS=3    rounds; medians are reported
#   SYNC=0      SYNC=1 starts the servers with sync_interval: always
#   DIAG=0      DIAG=1 adds the two floors that split the gaps (see above)
#   BENCH_DIR   where to make the scratch directory (default bench/out/)
#
# A run takes 4 to 6 minutes on a shared 2-core machine, most of it in the
# spool's durable send and in the worker's processes.
#
# Usage: bench/nats.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-100000}
W=${W:-5000}
ROUNDS=${ROUNDS:-3}
SYNC=${SYNC:-0}
DIAG=${DIAG:-0}

build pq .
build natsd ./bench/natsd
build natsfloor ./bench/natsfloor
pq=$work/bin/pq
floor=$work/bin/natsfloor
spool=$work/spool
export XDG_CONFIG_HOME=$work/xdg
unset PQ_ROOT PQ_NATS_CREDS

# The servers: stopped, then the scratch directory removed, on exit.
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# serve NAME N starts N servers and sets the variable NAME to their root.
serve() {
	local out=$work/$1.url i
	local -a flags=(-dir "$work/$1" -n "$2")
	((SYNC)) && flags+=(-sync-always)
	"$work/bin/natsd" "${flags[@]}" >"$out" 2>"$work/$1.log" &
	pids+=($!)
	for ((i = 0; i < 600; i++)); do
		[[ -s $out ]] && break
		kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/$1.log" >&2; exit 1; }
		sleep 0.1
	done
	[[ -s $out ]] || { echo "natsd -n $2 did not start" >&2; exit 1; }
	printf -v "$1" '%s' "$(<"$out")"
}
serve one 1
serve three 3

echo "nats: N=$N W=$W ROUNDS=$ROUNDS SYNC=$SYNC DIAG=$DIAG scratch=$work"

line=$(printf '%0100d' 0)
head -n "$N" < <(yes "$line") >"$work/lines"
head -n "$W" "$work/lines" >"$work/wlines"

# rate US COUNT prints COUNT messages in US microseconds as messages/s.
rate() { echo $(($2 * 1000000 / $1)); }

# pqsend ROOT QUEUE times pq send --lines of the N lines and sets $R.
pqsend() {
	sync
	timed "$pq" --root "$1" send --lines "$2" <"$work/lines" >"$work/ids"
	((RC == 0)) || { echo "pq send to $1 failed" >&2; exit 1; }
	local sent
	sent=$(wc -l <"$work/ids")
	((sent == N)) || { echo "pq send printed $sent ids, want $N" >&2; exit 1; }
	R=$(rate "$US" "$N")
}

# floorsend ROOT QUEUE [FLAG] times the floor's send of the N lines, with
# FLAG given to it, and sets $R.
floorsend() {
	sync
	timed "$floor" -mode send -root "$1" -queue "$2" "${@:3}" <"$work/lines" >/dev/null
	((RC == 0)) || { echo "natsfloor send to $1 failed" >&2; exit 1; }
	R=$(rate "$US" "$N")
}

# pqwork ROOT QUEUE times pq recv --exec true -j 4 on W messages sent
# beforehand and sets $R.
pqwork() {
	"$pq" --root "$1" send --lines "$2" <"$work/wlines" >/dev/null
	sync
	timed "$pq" --root "$1" recv --exec true -j 4 "$2" 2>/dev/null
	((RC == 0)) || { echo "pq recv --exec on $1 failed with status $RC" >&2; exit 1; }
	R=$(rate "$US" "$W")
}

# floorwork ROOT QUEUE [FLAG] times the floor's worker on W messages sent
# beforehand, with FLAG given to it, and sets $R.
floorwork() {
	"$pq" --root "$1" send --lines "$2" <"$work/wlines" >/dev/null
	sync
	timed "$floor" -mode work -root "$1" -queue "$2" -n "$W" -j 4 "${@:3}" >/dev/null
	((RC == 0)) || { echo "natsfloor work on $1 failed" >&2; exit 1; }
	R=$(rate "$US" "$W")
}

declare -a s_spool s_one s_one_f s_one_e s_three s_three_f s_three_e
declare -a w_spool w_one w_one_f w_one_1 w_three w_three_f w_three_1
# The queues, made once (untimed), through package jetstream as `pq init
# [--replicas 3]` makes them: s (pq's sends), f (the floor's), w (pq's
# worker), v (the floor's worker). Each round adds N messages to s and f;
# each worker run drains what was sent for it.
"$pq" --root "$spool" init s
"$pq" --root "$spool" init w
for q in s f w v; do
	"$floor" -mode init -root "$one" -queue "$q" -replicas 1
	"$floor" -mode init -root "$three" -queue "$q" -replicas 3
done
for ((r = 1; r <= ROUNDS; r++)); do
	order=(pq floor)
	((r % 2)) || order=(floor pq)

	pqsend "$spool" s
	s_spool+=("$R")
	for who in "${order[@]}"; do
		if [[ $who == pq ]]; then
			pqsend "$one" s
			s_one+=("$R")
			pqsend "$three" s
			s_three+=("$R")
		else
			floorsend "$one" f
			s_one_f+=("$R")
			floorsend "$three" f
			s_three_f+=("$R")
		fi
	done
	pqwork "$spool" w
	w_spool+=("$R")
	for who in "${order[@]}"; do
		if [[ $who == pq ]]; then
			pqwork "$one" w
			w_one+=("$R")
			pqwork "$three" w
			w_three+=("$R")
		else
			floorwork "$one" v
			w_one_f+=("$R")
			floorwork "$three" v
			w_three_f+=("$R")
		fi
	done
	if ((DIAG)); then
		floorsend "$one" f -expect
		s_one_e+=("$R")
		floorsend "$three" f -expect
		s_three_e+=("$R")
		floorwork "$one" v -one
		w_one_1+=("$R")
		floorwork "$three" v -one
		w_three_1+=("$R")
	fi
	echo "round $r: send spool ${s_spool[-1]}, 1 node ${s_one[-1]}/${s_one_f[-1]}," \
		"3 nodes ${s_three[-1]}/${s_three_f[-1]}; worker spool ${w_spool[-1]}," \
		"1 node ${w_one[-1]}/${w_one_f[-1]}, 3 nodes ${w_three[-1]}/${w_three_f[-1]}" \
		"(msg/s, pq/floor)"
done

left=$(files "$spool/w/new")
((left == 0)) || { echo "the spool worker left $left messages" >&2; exit 1; }

# row WHAT PQ FLOOR prints a row with its ratio and verdict.
row() {
	printf '%-34s %10s %10s %7s %9s %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" ">= 0.70" \
		"$(verdict $(($(ratio100 "$2" "$3") >= 70)))"
}
# plain WHAT PQ [FLOOR] prints a row without a goal.
plain() {
	printf '%-34s %10s %10s\n' "$1" "$2" "${3:--}"
}

echo
printf '%-34s %10s %10s %7s %9s %s\n' "measure (msg/s, medians of $ROUNDS)" pq floor ratio goal verdict
plain "send --lines $N, spool" "$(median "${s_spool[@]}")"
row "send --lines $N, 1 node" "$(median "${s_one[@]}")" "$(median "${s_one_f[@]}")"
row "send --lines $N, 3 nodes R3" "$(median "${s_three[@]}")" "$(median "${s_three_f[@]}")"
if ((DIAG)); then
	row "  floor with pq's header, 1 node" "$(median "${s_one[@]}")" "$(median "${s_one_e[@]}")"
	row "  floor with pq's header, 3 nodes" "$(median "${s_three[@]}")" "$(median "${s_three_e[@]}")"
fi
plain "recv --exec true -j 4, $W, spool" "$(median "${w_spool[@]}")"
row "recv --exec true -j 4, $W, 1 node" "$(median "${w_one[@]}")" "$(median "${w_one_f[@]}")"
row "recv --exec true -j 4, $W, 3 nodes" "$(median "${w_three[@]}")" "$(median "${w_three_f[@]}")"
if ((DIAG)); then
	row "  floor pulling one, 1 node" "$(median "${w_one[@]}")" "$(median "${w_one_1[@]}")"
	row "  floor pulling one, 3 nodes" "$(median "${w_three[@]}")" "$(median "${w_three_1[@]}")"
fi
echo
echo "floors: send = nats.go async publish, acks awaited; worker = nats.go pull"
echo "consumer, /bin/sh -c true per message 4 at a time, acks confirmed"
