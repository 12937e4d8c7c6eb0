#!/usr/bin/env bash
# encrypt.sh: what encryption at rest costs pq's bulk sends and receives.
#
# It builds pq and bench/agefloor, makes an age key, and measures in one
# run, on a scratch spool on the repository's filesystem (or $BENCH_DIR),
# after a `sync` before each measurement:
#
#   send   `pq send --lines` of N lines of 100 bytes into an encrypted
#          queue, against its floor: the same send into a plain queue plus
#          what filippo.io/age takes to encrypt the same N messages as
#          separate age files in one process (agefloor -mode encrypt).
#          The ratio is the encrypted throughput over the floor's.
#                                                   goal: ratio >= 0.8
#   recv   `pq recv --all -i KEY QUEUE >/dev/null` of those messages,
#          against the same receive from the plain queue plus what age
#          takes to decrypt them (agefloor -mode decrypt).
#                                                   goal: ratio >= 0.8
#
# It also prints the encrypted against the plain alone (no goal): on this
# kind of machine one X25519 costs a few hundred microseconds, more than a
# durable plain send of a message in a bulk send.
#
# Settings, from the environment:
#   N=100000    messages (N=20000 for a quick run)
#
# Usage: bench/encrypt.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-100000}

build pq .
build agefloor ./bench/agefloor
pq=$work/bin/pq
age=$work/bin/agefloor
spool=$work/spool
export XDG_CONFIG_HOME=$work/xdg
unset PQ_ROOT PQ_CONFIG PQ_IDENTITY

echo "encrypt: N=$N scratch=$work"

mkdir -p "$work/age"
"$age" -mode keygen -dir "$work/age"
line=$(printf '%0100d' 0)
head -n "$N" < <(yes "$line") >"$work/lines"

"$pq" --root "$spool" init plain
"$pq" --root "$spool" init --encrypt-to "$(cat "$work/age/recipient")" sealed

sync
timed "$pq" --root "$spool" send --lines plain <"$work/lines" >/dev/null
((RC == 0)) || { echo "plain send failed" >&2; exit 1; }
plain_send=$US
sync
timed "$pq" --root "$spool" send --lines sealed <"$work/lines" >/dev/null
((RC == 0)) || { echo "encrypted send failed" >&2; exit 1; }
sealed_send=$US
sync
read -r secs _ < <("$age" -mode encrypt -dir "$work/age" -n "$N")
age_enc=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000000 }')

sync
timed "$pq" --root "$spool" recv --all plain >/dev/null
((RC == 0)) || { echo "plain recv failed" >&2; exit 1; }
plain_recv=$US
sync
timed "$pq" --root "$spool" recv --all -i "$work/age/key" sealed >/dev/null
((RC == 0)) || { echo "encrypted recv failed" >&2; exit 1; }
sealed_recv=$US
sync
read -r secs _ < <("$age" -mode decrypt -dir "$work/age")
age_dec=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000000 }')

for q in plain sealed; do
	left=$(files "$spool/$q/new")
	((left == 0)) || { echo "queue $q holds $left messages, want 0" >&2; exit 1; }
done

# row LABEL PQ_US FLOOR_US GOAL100: throughput ratio, the floor's time
# over pq's.
row() {
	printf '%-6s %10s m/s %10s m/s %6s %8s %s\n' "$1" "$((N * 1000000 / $2))" "$((N * 1000000 / $3))" \
		"$(ratio "$3" "$2")" ">= $(dec "$4" 100)" "$(verdict $(($(ratio100 "$3" "$2") >= $4)))"
}

echo
printf '%-6s %14s %14s %6s %8s %s\n' what "encrypted pq" floor ratio goal verdict
row send "$sealed_send" "$((plain_send + age_enc))" 80
row recv "$sealed_recv" "$((plain_recv + age_dec))" 80
echo
echo "floor = the same pq command on a plain queue + age alone in one process:"
printf '  send: plain pq %d us + age encrypt %d us; recv: plain pq %d us + age decrypt %d us\n' \
	"$plain_send" "$age_enc" "$plain_recv" "$age_dec"
echo "encrypted against plain alone: send $(ratio "$plain_send" "$sealed_send"), recv $(ratio "$plain_recv" "$sealed_recv") (throughput)"
