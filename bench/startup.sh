#!/usr/bin/env bash
# startup.sh: what one pq process costs, for the uses that start one per
# message (shell loops, cron, xargs).
#
# It builds pq, bench/floor and bench/timeit, then times whole processes,
# from before their start to after their exit, on a scratch spool on the
# repository's filesystem (or under $BENCH_DIR). Each pq command and its
# floor take turns, RUNS times each, and the ratio is of their medians:
#
#   empty recv  `pq recv QUEUE` on an empty queue (exit 1), against an
#               empty Go program (floor -mode empty, which links the
#               standard packages a command line tool uses), and, on a
#               second row, against bench/bare, `func main() {}`, which
#               links only the runtime.                 goal: ratio <= 1.30
#   one send    `pq send QUEUE` of one message of 100 bytes, against a Go
#               program that sends one durable message: read stdin, create
#               in tmp/, write, fsync, close, rename into a flat new/, fsync
#               new/, print its name (floor -mode send1). goal: ratio <= 1.20
#   one recv    `pq recv QUEUE` of the one message in the queue, against a
#               Go program that claims and acks one durable message from a
#               flat new/: list it, open, flock, rename into cur/, read,
#               write to stdout, unlink, fsync cur/ and new/ (floor -mode recv1).
#               Before each run, untimed, its own sender puts one message
#               in (pq send, floor -mode send1).        goal: ratio <= 1.20
#
# A second floor binary, bench/floor built with the tag deps, links pq's
# fixed dependencies as well (urfave/cli, BurntSushi/toml, fsnotify, flock,
# filippo.io/age, nats.go: see bench/floor/deps.go) and does the same: the
# rows "deps ..." compare it
# with the plain floor, which is what linking them costs each start, and
# the rows "pq over deps" compare pq with it, which is pq's own share.
#
# Only the ratios mean anything on a shared machine, and only within one
# run. All six commands take turns in each round, in an order that rotates
# from round to round.
#
# Settings, from the environment:
#   RUNS=300    counted runs of each command
#   TAGS        build tags for pq: TAGS=pq_nonats measures pq without its
#               NATS backend (the deps floor links nats.go all the same)
#   BENCH_DIR   where to make the scratch directory (default bench/out/)
#
# Usage: bench/startup.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-300}

build pq . "${TAGS:-}"
build floor ./bench/floor
build timeit ./bench/timeit
build bare ./bench/bare
build floordeps ./bench/floor deps
pq=$work/bin/pq
floor=$work/bin/floor
floordeps=$work/bin/floordeps
spool=$work/spool
# No configuration file: pq looks for one where the user's would be.
export XDG_CONFIG_HOME=$work/xdg
unset PQ_ROOT PQ_CONFIG

echo "startup: RUNS=$RUNS scratch=$work"

printf '%0100d' 0 >"$work/one"
for q in empty send recv; do "$pq" --root "$spool" init "$q"; done
for d in send recv dsend drecv; do mkdir -p "$work/f-$d/tmp" "$work/f-$d/new" "$work/f-$d/cur"; done

# The cases, one a line, fields separated by tabs (see bench/timeit):
# name, exit status, stdin, untimed preparation, command.
tab=$'\t'
{
	echo "floor-empty${tab}0${tab}-${tab}-${tab}$floor${tab}-mode${tab}empty"
	echo "bare${tab}0${tab}-${tab}-${tab}$work/bin/bare"
	echo "pq-empty-recv${tab}1${tab}-${tab}-${tab}$pq${tab}--root${tab}$spool${tab}recv${tab}empty"
	echo "floor-send1${tab}0${tab}$work/one${tab}-${tab}$floor${tab}-mode${tab}send1${tab}-dir${tab}$work/f-send"
	echo "pq-send${tab}0${tab}$work/one${tab}-${tab}$pq${tab}--root${tab}$spool${tab}send${tab}send"
	echo "floor-recv1${tab}0${tab}-${tab}'$floor' -mode send1 -dir '$work/f-recv' <'$work/one' >/dev/null${tab}$floor${tab}-mode${tab}recv1${tab}-dir${tab}$work/f-recv"
	echo "deps-empty${tab}0${tab}-${tab}-${tab}$floordeps${tab}-mode${tab}empty"
	echo "deps-send1${tab}0${tab}$work/one${tab}-${tab}$floordeps${tab}-mode${tab}send1${tab}-dir${tab}$work/f-dsend"
	echo "deps-recv1${tab}0${tab}-${tab}'$floordeps' -mode send1 -dir '$work/f-drecv' <'$work/one' >/dev/null${tab}$floordeps${tab}-mode${tab}recv1${tab}-dir${tab}$work/f-drecv"
	echo "pq-recv${tab}0${tab}-${tab}'$pq' --root '$spool' send recv <'$work/one' >/dev/null${tab}$pq${tab}--root${tab}$spool${tab}recv${tab}recv"
} >"$work/cases"

sync
"$work/bin/timeit" -runs "$RUNS" "$work/cases" >"$work/times"

declare -A med iqr
while read -r name m p25 p75 _ _; do
	med[$name]=$m
	iqr[$name]="$p25-$p75"
done <"$work/times"

# Every message sent was received, and no more.
left=$(files "$spool/recv/new")
((left == 0)) || { echo "queue recv holds $left messages, want 0" >&2; exit 1; }
sent=$(files "$spool/send/new")
((sent == RUNS + 3)) || { echo "queue send holds $sent messages, want $((RUNS + 3))" >&2; exit 1; }

# row LABEL PQ FLOOR GOAL100 prints one line of the table.
row() {
	local p=${med[$2]} f=${med[$3]}
	printf '%-11s %8s us %8s us %6s %8s %s   (IQR pq %s, floor %s us)\n' "$1" "$p" "$f" \
		"$(ratio "$p" "$f")" "<= $(dec "$4" 100)" "$(verdict $(($(ratio100 "$p" "$f") <= $4)))" \
		"${iqr[$2]}" "${iqr[$3]}"
}

# share LABEL A B prints the ratio of A's median to B's, without a goal.
share() {
	printf '  %-26s %8s us / %8s us = %s\n' "$1" "${med[$2]}" "${med[$3]}" "$(ratio "${med[$2]}" "${med[$3]}")"
}

echo
printf '%-11s %11s %11s %6s %8s %s\n' measure "pq (median)" floor ratio goal verdict
row "empty recv" pq-empty-recv floor-empty 130
row "(bare main)" pq-empty-recv bare 130
row "one send" pq-send floor-send1 120
row "one recv" pq-recv floor-recv1 120
echo
echo "what linking the fixed dependencies costs, and pq's share beyond it:"
share "deps, empty" deps-empty floor-empty
share "deps, send" deps-send1 floor-send1
share "deps, recv" deps-recv1 floor-recv1
share "pq over deps, empty recv" pq-empty-recv deps-empty
share "pq over deps, one send" pq-send deps-send1
share "pq over deps, one recv" pq-recv deps-recv1
echo
echo "medians of $RUNS runs each, whole processes, pq and floors taking turns"
