#!/usr/bin/env bash
# memory.sh: peak memory of pq moving one big message.
#
# It sends one message of SIZE_MB MiB (1 GiB by default) of zeros from
# stdin with `pq send QUEUE`, then receives it with `pq recv QUEUE
# >/dev/null`, and reports each process's peak resident set. pq streams
# bodies, so neither should hold the message in memory.
#                                               goal: < 64 MiB each
#
# The peak comes from /usr/bin/time -v where that exists, else from the
# VmHWM line of /proc/PID/status, read every 20 ms while the process runs
# (VmHWM is the high-water mark, so a late read still sees an early peak).
#
# Settings, from the environment:
#   SIZE_MB=1024     size of the message in MiB
#   MEM_METHOD=auto  auto, time (/usr/bin/time -v) or poll (/proc)
#   BENCH_DIR        where to make the scratch directory (default bench/out/)
#
# Usage: bench/memory.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE_MB=${SIZE_MB:-1024}
MEM_METHOD=${MEM_METHOD:-auto}
GOAL_KB=$((64 * 1024))
if [[ $MEM_METHOD == auto ]]; then
	MEM_METHOD=poll
	[[ ! -x /usr/bin/time ]] || MEM_METHOD=time
fi

build pq .
pq=$work/bin/pq
spool=$work/spool
bytes=$((SIZE_MB * 1024 * 1024))

echo "memory: SIZE_MB=$SIZE_MB MEM_METHOD=$MEM_METHOD scratch=$work"

# peak IN OUT CMD... runs CMD with stdin from the command line IN (run by
# bash) and stdout to the file OUT, and sets $PEAK_KB to its peak resident
# set in KiB, $RC to its exit status and $US to the microseconds it took.
peak() {
	local in=$1 out=$2 t0 pid hwm line
	shift 2
	stamp
	t0=$T
	PEAK_KB=0 RC=0
	if [[ $MEM_METHOD == time ]]; then
		/usr/bin/time -v -o "$work/time.txt" "$@" < <(eval "$in") >"$out" || RC=$?
		while IFS= read -r line; do
			if [[ $line == *"Maximum resident set size (kbytes):"* ]]; then
				PEAK_KB=${line##*: }
			fi
		done <"$work/time.txt"
	else
		"$@" < <(eval "$in") >"$out" &
		pid=$!
		while [[ -r /proc/$pid/status ]]; do
			hwm=
			while IFS=$' \t' read -r key val _; do
				[[ $key == VmHWM: ]] && hwm=$val
			done 2>/dev/null <"/proc/$pid/status" || true
			[[ -z $hwm ]] || ((hwm <= PEAK_KB)) || PEAK_KB=$hwm
			# A process that has exited but is not yet waited for
			# has no VmHWM any more: stop looking.
			[[ -n $hwm ]] || break
			sleep 0.02
		done
		wait "$pid" || RC=$?
		((PEAK_KB > 0)) || echo "memory: $1 ended before its memory could be read" >&2
	fi
	stamp
	US=$((T - t0))
}

mib() {
	dec $(($1 * 10 / 1024)) 10
}

"$pq" --root "$spool" init big
sync
peak "head -c $bytes /dev/zero" "$work/id" "$pq" --root "$spool" send big
((RC == 0)) || { echo "pq send failed" >&2; exit 1; }
send_kb=$PEAK_KB send_us=$US
got=0
while IFS= read -r -d '' f; do got=$(($(wc -c <"$f"))); done < <(find "$spool/big/new" -type f -print0)
((got == bytes)) || { echo "the message holds $got bytes, want $bytes" >&2; exit 1; }

sync
peak ":" /dev/null "$pq" --root "$spool" recv big
((RC == 0)) || { echo "pq recv failed" >&2; exit 1; }
recv_kb=$PEAK_KB recv_us=$US
left=$(files "$spool/big")
((left == 0)) || { echo "pq recv left $left files in the queue" >&2; exit 1; }

echo
printf '%-10s %14s %12s %10s %s\n' command "peak RSS" time goal verdict
printf '%-10s %10s MiB %10s s %10s %s\n' "pq send" "$(mib "$send_kb")" \
	"$(dec $((send_us / 10000)) 100)" "< 64 MiB" "$(verdict $((send_kb < GOAL_KB)))"
printf '%-10s %10s MiB %10s s %10s %s\n' "pq recv" "$(mib "$recv_kb")" \
	"$(dec $((recv_us / 10000)) 100)" "< 64 MiB" "$(verdict $((recv_kb < GOAL_KB)))"
echo
how="/usr/bin/time -v"
[[ $MEM_METHOD == time ]] || how="VmHWM in /proc/PID/status"
echo "one message of $SIZE_MB MiB; peak resident set from $how"
