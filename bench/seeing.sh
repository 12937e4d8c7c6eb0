#!/usr/bin/env bash
# Benchmark of pq stat and pq ls -n 10 on a deep queue, against the
# floors the issue sets, measured in the same run with caches warm:
#
#   pq stat QUEUE        against  du -s --apparent-size --block-size=1 QUEUE
#                        (lists the queue and stats each file once, as the
#                        counts and bytes need)          goal: ratio <= 1.2
#   pq ls -n 10 QUEUE    against  sh -c 'find QUEUE/new -type f | wc -l'
#                        (one walk of the ready messages) goal: ratio <= 0.1
#
# The queue is filled with bench/fill (the spool library without fsync,
# batches of 1000, as pq send --lines would place them). Cases take turns
# in bench/timeit, which prints medians of whole-process wall times.
#
#   SEEING_N=1000000  messages in the queue
#   RUNS=15           counted runs of each case
#   BENCH_DIR=...     scratch directory (default bench/out)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${SEEING_N:-1000000}
RUNS=${RUNS:-15}

build pq .
build fill ./bench/fill
build timeit ./bench/timeit

spool=$work/spool
q=$spool/deep
echo "filling: $N messages of 100 bytes..."
timed "$work/bin/fill" -root "$spool" -queue deep -n "$N"
((RC == 0)) || { echo "fill failed" >&2; exit 2; }
echo "filled in $(dec $((US / 1000)) 1000) s; $(files "$q/new") ready"

# Warm the caches: every directory and inode once.
du -s --apparent-size --block-size=1 "$q" >/dev/null
PQ_ROOT=$spool "$work/bin/pq" stat deep >/dev/null

cases=$work/cases
{
	printf 'pq-stat\t0\t-\t-\t%s\t--root\t%s\tstat\tdeep\n' "$work/bin/pq" "$spool"
	printf 'du\t0\t-\t-\t%s\t-s\t--apparent-size\t--block-size=1\t%s\n' "$(command -v du)" "$q"
	printf 'pq-ls-10\t0\t-\t-\t%s\t--root\t%s\tls\t-n\t10\tdeep\n' "$work/bin/pq" "$spool"
	printf 'find-wc\t0\t-\t-\t%s\t-c\tfind %s/new -type f | wc -l\n' "$(command -v sh)" "$q"
} >"$cases"

declare -A med
while read -r name m _; do
	med[$name]=$m
done < <("$work/bin/timeit" -runs "$RUNS" -warmup 1 "$cases")

r1=$(ratio100 "${med[pq-stat]}" "${med[du]}")
r2=$(ratio100 "${med[pq-ls-10]}" "${med[find-wc]}")
echo
echo "at $N ready messages, medians of $RUNS runs, cases taking turns:"
printf '%-12s %10s µs\n' "pq stat" "${med[pq-stat]}" "du -s" "${med[du]}" "pq ls -n 10" "${med[pq-ls-10]}" "find | wc -l" "${med[find-wc]}"
echo "pq stat / du:            $(ratio "${med[pq-stat]}" "${med[du]}")  (goal <= 1.2)  $(verdict $((r1 <= 120)))"
echo "pq ls -n 10 / find|wc:   $(ratio "${med[pq-ls-10]}" "${med[find-wc]}")  (goal <= 0.1)  $(verdict $((r2 <= 10)))"
echo
"$work/bin/pq" --root "$spool" stat deep
