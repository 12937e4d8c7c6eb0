# Helpers shared by the benchmark scripts; source it, do not run it.
#
# It sets $repo (the repository, found from this file's own place), makes a
# scratch directory $work on the same filesystem as the repository (under
# bench/out/, which git ignores) or under $BENCH_DIR when that is set, and
# removes it again on exit. Times are in microseconds, taken from bash's
# $EPOCHREALTIME where there is one, else from `date +%s%N`.

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=${BENCH_DIR:-$repo/bench/out}
mkdir -p "$base"
work=$(mktemp -d "$base/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"

# build NAME PACKAGE [TAGS] builds a Go package of the repository into
# $work/bin, with the build tags TAGS (comma-separated) added.
build() {
	(cd "$repo" && go build -tags "urfave_cli_no_docs,netgo${3:+,$3}" -o "$work/bin/$1" "$2")
}

# stamp sets $T to the current time in microseconds, without a fork where
# bash offers $EPOCHREALTIME.
stamp() {
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		T=${EPOCHREALTIME/[.,]/}
	else
		T=$(($(date +%s%N) / 1000))
	fi
}

# timed CMD... runs CMD and sets $US to the microseconds it took. The
# command's exit status is kept in $RC; it does not stop the script.
timed() {
	local t0
	stamp
	t0=$T
	RC=0
	"$@" || RC=$?
	stamp
	US=$((T - t0))
}

# median N... prints the median of integers.
median() {
	local -a s
	mapfile -t s < <(printf '%s\n' "$@" | sort -n)
	echo "${s[${#s[@]} / 2]}"
}

# mean N... prints the mean of integers.
mean() {
	local sum=0 x
	for x in "$@"; do sum=$((sum + x)); done
	echo $((sum / $#))
}

# dec N SCALE prints the integer N divided by SCALE (a power of ten) as a
# decimal with as many places as SCALE has zeros: dec 1234 1000 -> 1.234.
dec() {
	local n=$1 scale=$2 sign=""
	if ((n < 0)); then sign=- n=$((-n)); fi
	printf '%s%d.%0*d' "$sign" $((n / scale)) $((${#scale} - 1)) $((n % scale))
}

# ratio A B prints A/B with two decimals, rounded.
ratio() {
	dec $(((${1} * 1000 / ${2} + 5) / 10)) 100
}

# ratio100 A B prints A/B times 100, rounded: ratios as integers to compare.
ratio100() {
	echo $(((${1} * 1000 / ${2} + 5) / 10))
}

# verdict OK prints PASS when OK is 1, else FAIL.
verdict() {
	if (($1)); then echo PASS; else echo FAIL; fi
}

# files DIR prints how many messages lie below DIR: regular files whose
# names do not begin with a dot (those are pq's own, such as .lock).
files() {
	find "$1" -type f ! -name '.*' | wc -l
}
