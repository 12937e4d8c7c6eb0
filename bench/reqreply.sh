#!/usr/bin/env bash
# reqreply.sh: the round trip of `pq request` against one waiting
# `pq recv --exec cat --wait` worker, against its floor measured in the
# same run (see bench/reqreply/main.go): the start of an empty Go program,
# plus `sh -c cat` spawned by a Go program, plus a durable rename round
# trip between two processes woken by inotify. Prints p50 and p99 of each
# over N rounds, the cases taking turns, and the ratio of pq's p50 to the
# floor's: goal at most 1.5.
#
# Settings, from the environment:
#   N=1000      round trips of each case
#   BENCH_DIR   where to make the scratch directory (default bench/out/)
#
# Usage: bench/reqreply.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-1000}

build pq .
build bare ./bench/bare
build reqreply ./bench/reqreply
echo "reqreply: N=$N scratch=$work"
sync
"$work/bin/reqreply" -pq "$work/bin/pq" -bare "$work/bin/bare" -dir "$work" -n "$N"
