#!/usr/bin/env bash
# dedup.sh: what a dedup id costs a single send.
#
# It builds pq and bench/timeit, then times whole processes on a scratch
# spool on the repository's filesystem (or under $BENCH_DIR): RUNS single
# `pq send --dedup-id KEY-i QUEUE` of 100 bytes, each with a key of its own
# (so every one makes a message, as a producer's first try does), against
# RUNS plain single `pq send QUEUE` of the same body, to a queue of their
# own, the two taking turns. The ratio is of their medians.
#                                                        goal: ratio <= 1.30
#
# Only the ratio means anything on a shared machine, and only within one
# run.
#
# Settings, from the environment:
#   RUNS=300    counted runs of each command
#   BENCH_DIR   where to make the scratch directory (default bench/out/)
#
# Usage: bench/dedup.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-300}

build pq .
build timeit ./bench/timeit
pq=$work/bin/pq
spool=$work/spool
# No configuration file: pq looks for one where the user's would be.
export XDG_CONFIG_HOME=$work/xdg
unset PQ_ROOT PQ_CONFIG

echo "dedup: RUNS=$RUNS scratch=$work"

printf '%0100d' 0 >"$work/one"
for q in plain dedup; do "$pq" --root "$spool" init "$q"; done

tab=$'\t'
{
	echo "plain${tab}0${tab}$work/one${tab}-${tab}$pq${tab}--root${tab}$spool${tab}send${tab}plain"
	echo "dedup${tab}0${tab}$work/one${tab}-${tab}$pq${tab}--root${tab}$spool${tab}send${tab}--dedup-id${tab}KEY-{RUN}${tab}dedup"
} >"$work/cases"

sync
"$work/bin/timeit" -runs "$RUNS" "$work/cases" >"$work/times"

declare -A med iqr
while read -r name m p25 p75 _ _; do
	med[$name]=$m
	iqr[$name]="$p25-$p75"
done <"$work/times"

# Every send made a message: the keys were all new.
for q in plain dedup; do
	n=$(files "$spool/$q/new")
	((n == RUNS + 3)) || { echo "queue $q holds $n messages, want $((RUNS + 3))" >&2; exit 1; }
done

p=${med[dedup]} f=${med[plain]}
echo
printf '%-22s %11s %11s %6s %8s %s\n' measure "dedup" "plain" ratio goal verdict
printf '%-22s %8s us %8s us %6s %8s %s   (IQR dedup %s, plain %s us)\n' "one send, --dedup-id" "$p" "$f" \
	"$(ratio "$p" "$f")" "<= 1.30" "$(verdict $(($(ratio100 "$p" "$f") <= 130)))" "${iqr[dedup]}" "${iqr[plain]}"
echo
echo "medians of $RUNS runs each, whole processes, taking turns"
