#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# spanprobe's memory against issue 7's targets, read from /proc/PID/status
# (VmRSS now, VmHWM the peak so far) of a system-wide spanprobe writing
# JSON lines (-o FILE --no-console):
#   idle       RSS <= 64 MiB, 3 s after "spanprobe: ready"
#   conns      RSS <= 64 MiB while conn_hold keeps BENCH_MEM_CONNS (10000)
#              connections over 127.0.0.1 open, each stopped mid-request
#              (head and part of the body sent, never answered); once with
#              the default --max-connections, once with BENCH_MEM_MAX_CONNS
#              (16384) so that none need be evicted
#   processes  flat: RSS after a quarter, half and all of BENCH_MEM_PROCS
#              (10000; the target is about 20000) short-lived processes that
#              each make one HTTPS call (tls_client N=1 to tls_server),
#              BENCH_MEM_JOBS (2) at a time
# Each part has a spanprobe of its own, so what one leaves behind does not
# count against the next. A table goes to stdout; nothing is asserted about
# the numbers. Exit status is non-zero only when something failed to run.
# Every loop is bounded in count and in time (BENCH_MEM_TIMEOUT, 900 s, for
# all the processes); only 127.0.0.1 is used.
#
# On the 2-vCPU VM this was written on, one tls_client run took ~9 ms with
# or without spanprobe, and two at a time were no faster: 20000 of them took
# 3.3 minutes, hence the default of 10000 (BENCH_MEM_PROCS=20000 for all).
#
# The "bpf maps" column is the part of RSS that is BPF maps mapped into
# spanprobe (the ring buffer: the kernel maps its data pages twice, all at
# mmap time, so --ringbuf-mb 16 alone is 32 MiB of RSS, in "file").
#
# Environment: BENCH_MEM_CONNS, BENCH_MEM_MAX_CONNS, BENCH_MEM_PROCS,
# BENCH_MEM_JOBS, BENCH_MEM_TIMEOUT, BENCH_MEM_SETTLE (2 s of rest after a
# load, before reading, so that spanprobe has drained its ring buffer),
# BENCH_SPANPROBE (build/spanprobe), BUILD (build).
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1

BUILD=${BUILD:-build}
BENCH=$BUILD/bench
SPANPROBE=${BENCH_SPANPROBE:-$BUILD/spanprobe}
CONNS=${BENCH_MEM_CONNS:-10000}
MAX_CONNS=${BENCH_MEM_MAX_CONNS:-16384}
PROCS=${BENCH_MEM_PROCS:-10000}
JOBS=${BENCH_MEM_JOBS:-2}
PROCS_TIMEOUT=${BENCH_MEM_TIMEOUT:-900}
SETTLE=${BENCH_MEM_SETTLE:-2}
IDLE=3
TARGET_MIB=64
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-30}
HOLD_SECONDS=120	# conn_hold lets go by itself after this, whatever happens here

tmp=
server_pid=
port=
probe_pid=
hold_pid=
failures=0

# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

trap_cleanup

# start_probe NAME [ARGS...]: a system-wide spanprobe, ready; sets probe_pid
start_probe() {
	local name=$1

	shift
	# SIGINT is ignored in a non-interactive shell's background jobs:
	# give spanprobe the default back, as run.sh does
	env --default-signal=INT "$SPANPROBE" -o "$tmp/spans.jsonl" --no-console "$@" \
		>/dev/null 2>"$tmp/$name.err" &
	probe_pid=$!
	if ! wait_ready "$probe_pid" "$tmp/$name.err" "spanprobe: ready"; then
		stop_pid "$probe_pid" INT
		probe_pid=
		tail -n 20 "$tmp/$name.err" >&2
		die "spanprobe $* did not print \"spanprobe: ready\" within ${READY_TIMEOUT} s"
	fi
}

# stop_probe NAME: SIGINT, then the exit stats line into $tmp/NAME.stats
stop_probe() {
	local name=$1 rc

	stop_pid "$probe_pid" INT
	rc=$?
	probe_pid=
	grep -E '^spanprobe: [0-9]+ spans, [0-9]+ HTTP exchanges; dropped: ' "$tmp/$name.err" |
		tail -n 1 >"$tmp/$name.stats"
	if [ "$rc" -ne 0 ]; then
		fail "spanprobe ($name) exited with status $rc after SIGINT; its stderr:"
		tail -n 20 "$tmp/$name.err" >&2
	fi
	[ -s "$tmp/$name.stats" ] || fail "spanprobe ($name) printed no exit stats line"
}

# stat_of NAME FIELD: a number from NAME's exit stats line: spans,
# exchanges or evicted (0 when the line does not mention it)
stat_of() {
	sed -n "s/^spanprobe: \([0-9]*\) spans, \([0-9]*\) HTTP exchanges; dropped: \(.*\)/\1 \2 \3/p" \
		"$tmp/$1.stats" 2>/dev/null | awk -v f="$2" '{
			if (f == "spans") print $1
			else if (f == "exchanges") print $2
			else if (match($0, /[0-9]+ connections evicted/)) print substr($0, RSTART) + 0
			else print 0
		}'
}

# row WHAT: one table row from spanprobe's /proc status now
row() {
	local what=$1 status maps

	status=$(cat "/proc/$probe_pid/status" 2>/dev/null) || {
		fail "spanprobe is gone; cannot read its memory for: $what"
		return 1
	}
	# Rss of the mappings of BPF maps (anon_inode:bpf-map), in kB
	maps=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { bpf = ($6 == "anon_inode:bpf-map") }
		    /^Rss:/ && bpf { kb += $2 } END { print kb + 0 }' "/proc/$probe_pid/smaps" 2>/dev/null)
	awk -v what="$what" -v target="$TARGET_MIB" -v maps="${maps:-0}" '
		/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 }
		/^RssAnon:/ { anon = $2 } /^RssFile:/ { file = $2 }
		END {
			printf "%-58s %8.1f %8.1f %7d %6.2f %8.1f %8.1f %9.1f\n", what, rss / 1024,
			       hwm / 1024, target, rss / 1024 / target, anon / 1024, file / 1024,
			       maps / 1024
		}' <<<"$status" >>"$tmp/table"
	awk '/^VmRSS:/ { print $2 }' <<<"$status" >>"$tmp/rss.$2"
}

# hold_conns NAME: conn_hold's connections, held while a row is read
hold_conns() {
	local name=$1 what=$2

	rm -f "$tmp/hold.in"
	mkfifo "$tmp/hold.in" || die "cannot make a fifo in $tmp"
	"$BENCH/conn_hold" "$CONNS" "$HOLD_SECONDS" <"$tmp/hold.in" >"$tmp/hold.out" 2>"$tmp/hold.err" &
	hold_pid=$!
	exec 7>"$tmp/hold.in"	# conn_hold lets go at EOF, when this closes
	if wait_ready "$hold_pid" "$tmp/hold.out" "holding $CONNS connections"; then
		sleep "$SETTLE"
		row "$what" "$name"
	else
		fail "conn_hold did not get its $CONNS connections up; its stderr:"
		tail -n 5 "$tmp/hold.err" >&2
	fi
	exec 7>&-
	gone_within "$hold_pid" 100 || log "conn_hold still running 10 s after its stdin closed"
	stop_pid "$hold_pid" TERM
	hold_pid=
}

# run_procs TOTAL: short-lived HTTPS clients until TOTAL have run in all,
# JOBS at a time; appends to $tmp/procs.fail for each that failed
run_procs() {
	local total=$1 want=$(($1 - procs_done)) j n pids=()

	for ((j = 0; j < JOBS; j++)); do
		n=$((want / JOBS + (j < want % JOBS ? 1 : 0)))
		(
			for ((i = 0; i < n; i++)); do
				if [ "$SECONDS" -ge "$procs_deadline" ]; then
					echo "timeout $((n - i))" >>"$tmp/procs.fail"
					break
				fi
				"$BENCH/tls_client" 127.0.0.1 "$port" 1 >/dev/null 2>>"$tmp/procs.err" ||
					echo "failed 1" >>"$tmp/procs.fail"
			done
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	procs_done=$total
}

# ---- checks ----
for v in CONNS MAX_CONNS PROCS JOBS PROCS_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_MEM_$v must be a positive integer, not ${!v}"
done
[ "$(id -u)" -eq 0 ] || die "spanprobe needs root: run as root (sudo make bench)"
[ -x "$SPANPROBE" ] || die "$SPANPROBE not built: run make"
for b in tls_server tls_client conn_hold; do
	[ -x "$BENCH/$b" ] || die "$BENCH/$b missing: run make -f tests/bench/bench.mk BUILD=$BUILD"
done
tmp=$(mktemp -d /tmp/spanprobe-mem.XXXXXX) || die "cannot create a temporary directory"
: >"$tmp/table"
: >"$tmp/procs.fail"
others=$(pgrep -x spanprobe | tr '\n' ' ')
[ -n "$others" ] && log "warning: another spanprobe is running (pid $others); what it makes its" \
	"traced processes do, this one traces too"

# ---- idle, then connections with the default table size ----
log "memory: idle ${IDLE} s, then $CONNS connections held mid-request"
start_probe conns-default
sleep "$IDLE"
row "idle, system-wide, ${IDLE} s after ready" idle
hold_conns conns-default "$CONNS connections mid-request, default --max-connections"
stop_probe conns-default

# ---- connections with a table that holds them all ----
log "memory: $CONNS connections held mid-request, --max-connections $MAX_CONNS"
start_probe conns-max --max-connections "$MAX_CONNS"
hold_conns conns-max "$CONNS connections mid-request, --max-connections $MAX_CONNS"
stop_probe conns-max

# ---- short-lived processes ----
make_cert
# shellcheck disable=SC2119 # no wrapper: the server floats
start_tls_server
start_probe procs
sleep "$IDLE"
row "before the processes (idle ${IDLE} s)" procs
procs_done=0
procs_deadline=$((SECONDS + PROCS_TIMEOUT))
started=$SECONDS
for total in $((PROCS / 4)) $((PROCS / 2)) "$PROCS"; do
	[ "$total" -gt "$procs_done" ] || continue
	log "memory: short-lived HTTPS clients, $procs_done -> $total"
	run_procs "$total"
	sleep "$SETTLE"
	row "after $total processes, one HTTPS call each" procs
done
procs_secs=$((SECONDS - started))
stop_probe procs
stop_pid "$server_pid" TERM
server_pid=
procs_failed=$(awk '{ n += $2 } END { print n + 0 }' "$tmp/procs.fail")
# a few clients lost to a loaded machine leave the numbers meaningful; more
# than 1% do not
if [ "$procs_failed" -gt 0 ]; then
	msg="$procs_failed of $PROCS client processes failed or did not run; first errors:"
	msg+=" $(head -n 3 "$tmp/procs.err" | tr '\n' ' ')"
	if [ $((procs_failed * 100)) -gt "$PROCS" ]; then
		fail "$msg"
	else
		log "warning: $msg"
	fi
fi

# ---- report ----
echo
echo "spanprobe memory (VmRSS of its process from /proc; HWM: VmHWM, the peak so far;"
echo "ratio: RSS/target; anon + file = RSS; bpf maps: the part of file that is BPF maps)"
printf '%-58s %8s %8s %7s %6s %8s %8s %9s\n' what "RSS MiB" "HWM MiB" "target" ratio \
	"anon" "file" "bpf maps"
cat "$tmp/table"
echo
for name in conns-default conns-max; do
	echo "$name: $(stat_of "$name" evicted) connections evicted;" \
	     "exit line: $(sed 's/^spanprobe: //' "$tmp/$name.stats")"
done
echo "procs: $PROCS processes in ${procs_secs} s ($JOBS at a time), $procs_failed failed;" \
     "spanprobe saw $(stat_of procs exchanges) HTTP exchanges, $((2 * PROCS)) of them theirs" \
     "(client and server side of each call; the rest: other traffic on this host)"
mapfile -t rss <"$tmp/rss.procs"
if [ "${#rss[@]}" -ge 3 ]; then
	awk -v a="${rss[1]}" -v b="${rss[${#rss[@]} - 1]}" -v n1="$((PROCS / 4))" -v n2="$PROCS" \
		'BEGIN { printf "procs: RSS changed %+.1f MiB from %d to %d processes (flat: about 0)\n",
			 (b - a) / 1024, n1, n2 }'
fi

if [ "$failures" -gt 0 ]; then
	log "$failures part(s) failed (see above)"
	exit 1
fi
exit 0
