#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# What spanprobe costs an HTTPS workload, against what the kernel charges
# for the uprobe traps alone.
#
# One tls_server and, per run, one tls_client doing BENCH_REQUESTS sequential
# keep-alive requests. Modes, interleaved round by round so that drift in the
# machine (other load, frequency, caches) spreads over all of them:
#   none             no probes
#   floor-exported   empty uprobe+uretprobe at SSL_write/_read/_write_ex/_read_ex
#   floor-spanprobe  empty uprobe+uretprobe at what
#                    `spanprobe --list-tls-probes LIBSSL` prints
#   spanprobe        spanprobe itself, system-wide, writing JSON lines
# The medians are reported; nothing is asserted about them. Exit status is
# non-zero only when something failed to run.
#
# Client and server share one CPU (the last) unless BENCH_PIN=0: on the
# 2-vCPU VM this was written on, a cross-CPU wakeup per message cost ~70 us
# and varied by +-20% run to run, while the same exchange on one CPU took
# ~22 us and varied little; the probes' cost is what should stand out.
#
# Environment: BENCH_ROUNDS (5), BENCH_REQUESTS (20000), BENCH_LIBSSL,
# BENCH_SPANPROBE (build/spanprobe), BENCH_SPANS (/tmp/bench-spans.jsonl),
# BENCH_MODES (all that can run), BENCH_PIN (1), BENCH_SETTLE (1 s of rest
# after a run with probes), BUILD (build), BENCH_MEM (1; 0 skips the memory
# part at the end, tests/bench/mem.sh, which has its own variables),
# BENCH_BUN_ROW (1; 0 skips the Bun client row, tests/bench/bun.sh).
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1

BUILD=${BUILD:-build}
BENCH=$BUILD/bench
ROUNDS=${BENCH_ROUNDS:-5}
REQUESTS=${BENCH_REQUESTS:-20000}
LIBSSL=${BENCH_LIBSSL:-/lib/x86_64-linux-gnu/libssl.so.3}
SPANPROBE=${BENCH_SPANPROBE:-$BUILD/spanprobe}
SPANS=${BENCH_SPANS:-/tmp/bench-spans.jsonl}
# spanprobe loads and attaches everything before "ready"; give it time on a
# busy 2-core machine, but not forever
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-30}
CLIENT_TIMEOUT=${BENCH_CLIENT_TIMEOUT:-120}
PIN=${BENCH_PIN:-1}
SETTLE=${BENCH_SETTLE:-1}

tmp=
server_pid=
port=
probe_pid=
failures=0

# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

trap_cleanup

# start_probe MODE: leaves probe_pid set (empty for "none"); 0 or 1
start_probe() {
	local mode=$1 ready

	: >"$tmp/probe.err"
	# A non-interactive shell starts background jobs with SIGINT ignored;
	# env --default-signal gives the probe the SIGINT a terminal user's
	# Ctrl-C would deliver, so a program without a handler still stops.
	case $mode in
	none)
		return 0 ;;
	floor-exported)
		env --default-signal=INT "$BENCH/floor" --exported "$LIBSSL" >/dev/null 2>"$tmp/probe.err" &
		ready="floor: ready" ;;
	floor-spanprobe)
		env --default-signal=INT "$BENCH/floor" --points "$tmp/points" >/dev/null 2>"$tmp/probe.err" &
		ready="floor: ready" ;;
	floor-go)
		# no uretprobes on Go: each point (entry, every ret) a uprobe
		env --default-signal=INT "$BENCH/floor" --uprobes-only --points "$tmp/gopoints" \
			>/dev/null 2>"$tmp/probe.err" &
		ready="floor: ready" ;;
	insn-*)
		env --default-signal=INT "$BENCH/floor" --uprobes-only "$BENCH/insn_cost" \
			"$(awk -v i="${mode#insn-}" '$1 == i { print $2 }' "$tmp/insn")" \
			>/dev/null 2>"$tmp/probe.err" &
		ready="floor: ready" ;;
	spanprobe)
		rm -f "$SPANS"
		env --default-signal=INT "$SPANPROBE" -o "$SPANS" >"$tmp/probe.out" 2>"$tmp/probe.err" &
		ready="spanprobe: ready" ;;
	esac
	probe_pid=$!
	if ! wait_ready "$probe_pid" "$tmp/probe.err" "$ready"; then
		stop_pid "$probe_pid" INT
		probe_pid=
		fail "$mode did not print \"$ready\" within ${READY_TIMEOUT} s; its stderr:"
		tail -n 20 "$tmp/probe.err" >&2
		return 1
	fi
	return 0
}

stop_probe() {
	local mode=$1 rc

	[ -n "$probe_pid" ] || return 0
	stop_pid "$probe_pid" INT
	rc=$?
	probe_pid=
	if [ "$rc" -ne 0 ]; then
		fail "$mode exited with status $rc after SIGINT; its stderr:"
		tail -n 20 "$tmp/probe.err" >&2
		return 1
	fi
	return 0
}

# run_one ROUND MODE: one client run under MODE, appended to results
run_one() {
	local round=$1 mode=$2 out us rps

	start_probe "$mode" || return 1
	[ "$mode" = spanprobe ] && cpu0=$(cpu_ticks "$probe_pid")
	if ! out=$(timeout "$CLIENT_TIMEOUT" "${pin[@]}" "$BENCH/tls_client" 127.0.0.1 "$port" \
		   "$REQUESTS" 2>"$tmp/client.err"); then
		fail "tls_client under $mode (round $round); its stderr:"
		tail -n 20 "$tmp/client.err" >&2
		stop_probe "$mode"
		return 1
	fi
	[ "$mode" = spanprobe ] && cpu1=$(cpu_ticks "$probe_pid")
	stop_probe "$mode" || return 1
	# Let the kernel finish what the run left behind before the next one:
	# "none" right after spanprobe ran up to 50% slower while the ~40 MB of
	# spans it wrote were still being written back.
	if [ "$mode" != none ]; then
		sync
		sleep "$SETTLE"
	fi
	rps=$(sed -n 's/.* req\/s=\([0-9.]*\).*/\1/p' <<<"$out")
	us=$(sed -n 's/.* us\/request=\([0-9.]*\).*/\1/p' <<<"$out")
	if [ -z "$rps" ] || [ -z "$us" ]; then
		fail "cannot read tls_client's output: $out"
		return 1
	fi
	if [ "$mode" = spanprobe ]; then
		spans_last=$(grep -o -F '"name":"GET /bench"' "$SPANS" 2>/dev/null | wc -l)
		[ -n "$cpu0" ] && [ -n "$cpu1" ] &&
			awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" -v n="$REQUESTS" \
				'BEGIN { printf "spanprobe-cpu %.3f\n", (b - a) / hz * 1e6 / n }' >>"$tmp/results"
	fi
	printf '%s %s %s\n' "$mode" "$us" "$rps" >>"$tmp/results"
	log "round $round/$ROUNDS $(printf '%-16s %10s req/s %9s us/request' "$mode" "$rps" "$us")"
}

# cpu_ticks PID: user+system clock ticks PID has used so far; it is how much
# CPU spanprobe's own process spends, apart from what its probes cost the
# traced processes
cpu_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null
}

# median MODE COLUMN (2 = us/request, 3 = req/s); empty when no runs
median() {
	awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$tmp/results" | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

range() {
	awk -v m="$1" '$1 == m { print $2 }' "$tmp/results" | sort -g |
		awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.1f..%.1f", lo, hi }'
}

# ---- checks ----
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $REQUESTS =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_ROUNDS and BENCH_REQUESTS must be positive integers"
[ "$(id -u)" -eq 0 ] || die "uprobes need root: run as root (sudo make bench)"
for b in floor tls_server tls_client; do
	[ -x "$BENCH/$b" ] || die "$BENCH/$b missing: run make -f tests/bench/bench.mk BUILD=$BUILD"
done
[ -r "$LIBSSL" ] || die "$LIBSSL not found: set BENCH_LIBSSL to the libssl tls_server uses"
if ! ldd "$BENCH/tls_server" | grep -q "$(readlink -f "$LIBSSL")\|$LIBSSL"; then
	log "warning: tls_server does not seem to load $LIBSSL; probes there may never fire"
fi

tmp=$(mktemp -d /tmp/spanprobe-bench.XXXXXX) || die "cannot create a temporary directory"
: >"$tmp/results"

modes=(none floor-exported)
skipped=()
if [ -x "$SPANPROBE" ]; then
	if "$SPANPROBE" --list-tls-probes "$LIBSSL" >"$tmp/points.raw" 2>"$tmp/list.err" &&
	   awk 'NF >= 2 && $2 ~ /^0[xX][0-9a-fA-F]+$/' "$tmp/points.raw" >"$tmp/points" &&
	   [ -s "$tmp/points" ]; then
		modes+=(floor-spanprobe)
		log "spanprobe's TLS attach points in $LIBSSL:"
		sed 's/^/bench:   /' "$tmp/points" >&2
	else
		skipped+=("floor-spanprobe ($SPANPROBE --list-tls-probes $LIBSSL gave no points: $(head -n 1 "$tmp/list.err"))")
	fi
	modes+=(spanprobe)
else
	skipped+=("floor-spanprobe and spanprobe ($SPANPROBE not built: run make)")
fi
if [ -n "${BENCH_MODES:-}" ]; then
	read -r -a wanted <<<"$BENCH_MODES"
	keep=()
	for m in "${modes[@]}"; do
		[[ " ${wanted[*]} " == *" $m "* ]] && keep+=("$m")
	done
	modes=("${keep[@]}")
	[[ " ${modes[*]} " == *" none "* ]] || die "BENCH_MODES must include none (the baseline)"
fi

make_cert

pin=()
where="floating"
if [ "$PIN" != 0 ] && command -v taskset >/dev/null; then
	cpu=$(($(nproc) - 1))
	pin=(taskset -c "$cpu")
	where="both on CPU $cpu"
fi

start_tls_server "${pin[@]}"

log "$ROUNDS rounds x ${#modes[@]} modes x $REQUESTS requests, tls_server on 127.0.0.1:$port, client and server $where"
for s in "${skipped[@]}"; do
	log "skipped: $s"
done

spans_last=
cpu0=''
cpu1=''
# Probes are system-wide: another tracer's fire in this benchmark too, in
# every mode, and shrink or swamp the differences it reports.
others=$(pgrep -x spanprobe | tr '\n' ' ')
[ -n "$others" ] && log "warning: spanprobe already running (pid $others); its probes will skew every mode"
for ((r = 0; r < ROUNDS; r++)); do
	# rotate the order too, so no mode always runs right after another
	for ((i = 0; i < ${#modes[@]}; i++)); do
		mode=${modes[(i + r) % ${#modes[@]}]}
		run_one $((r + 1)) "$mode"
	done
	kill -0 "$server_pid" 2>/dev/null ||
		{ cat "$tmp/server.err" >&2; server_pid=; die "tls_server died"; }
done

# ---- report ----
base_us=$(median none 2)
[ -n "$base_us" ] || die "no successful run without probes: nothing to compare with"

declare -A added
echo
echo "spanprobe bench: $ROUNDS rounds x $REQUESTS sequential HTTPS/1.1 keep-alive requests over 127.0.0.1"
echo "(one connection per run; client and server $where; medians over rounds)"
echo "Probes are system-wide, so they fire in tls_client and tls_server alike: each request"
echo "is 2 SSL_write + 2 SSL_read calls (client and server), each trapped on entry and return."
echo "spanprobe also traces the socket syscalls under them; the floors trap only the TLS calls."
echo
printf '%-16s %10s %11s %15s %10s %15s\n' mode "req/s" "us/request" "(min..max)" "added us" "spanprobe/this"
for m in "${modes[@]}"; do
	us=$(median "$m" 2)
	[ -n "$us" ] && added[$m]=$(awk -v a="$us" -v b="$base_us" 'BEGIN { printf "%.2f", a - b }')
done
for m in "${modes[@]}"; do
	us=$(median "$m" 2)
	if [ -z "$us" ]; then
		printf '%-16s %s\n' "$m" "no successful run"
		continue
	fi
	if [ "$m" = none ]; then
		add=- ratio=-
	else
		add=${added[$m]}
		ratio=-
		if [[ $m == floor-* ]] && [ -n "${added[spanprobe]:-}" ]; then
			ratio=$(awk -v s="${added[spanprobe]}" -v f="$add" \
				'BEGIN { if (f > 0) printf "%.2f", s / f; else print "n/a" }')
		fi
	fi
	printf '%-16s %10.1f %11.2f %15s %10s %15s\n' "$m" "$(median "$m" 3)" "$us" \
		"($(range "$m"))" "$add" "$ratio"
done
echo
per_call=
for m in "${modes[@]}"; do
	[ "$m" != none ] && [ -n "${added[$m]:-}" ] &&
		per_call+=" $m $(awk -v a="${added[$m]}" 'BEGIN { printf "%.2f", a / 4 }') us;"
done
[ -n "$per_call" ] && echo "added per SSL call (4 per request, entry+return):${per_call%;}"
if [ -n "$spans_last" ]; then
	echo "spanprobe's own process used $(median spanprobe-cpu 2) us of CPU per request (median);" \
	     "it shows in us/request only where it takes the client's or server's CPU"
	# one span on each side per request, warm-up included (tls_client.c
	# warms up with min(N/20, 1000) requests)
	warmup=$((REQUESTS / 20 < 1000 ? REQUESTS / 20 : 1000))
	expected=$((2 * (REQUESTS + warmup)))
	echo "spanprobe's last round: $spans_last \"GET /bench\" spans of $expected expected" \
	     "(client and server side) in $SPANS"
	[ "$spans_last" -ge "$expected" ] ||
		echo "warning: spanprobe missed some of the traffic, so part of its cost may be missing too"
fi

[ -n "$others" ] && echo "warning: another spanprobe (pid $others) was running when this started; its probes fired in every mode"

summary="bench:"
if [ -n "${added[spanprobe]:-}" ]; then
	summary+=" spanprobe adds $(printf '%.1f' "${added[spanprobe]}") us/request"
else
	summary+=" spanprobe not measured"
fi
for f in floor-exported floor-spanprobe; do
	[ -n "${added[$f]:-}" ] || continue
	summary+="; $f adds $(printf '%.1f' "${added[$f]}") us"
	if [ -n "${added[spanprobe]:-}" ]; then
		summary+="; ratio $(awk -v s="${added[spanprobe]}" -v f="${added[$f]}" \
			'BEGIN { if (f > 0) printf "%.2f", s / f; else print "n/a" }')"
	fi
done
echo "$summary"

# ---- the Go client: crypto/tls, probed at its entry and every ret ----
# go_tls bench against the same tls_server (OpenSSL), modes as above but
# with floor-go, empty uprobes at what --list-tls-probes prints for the Go
# binary. Then insn_cost: one empty uprobe on each instruction of a Go
# function's shape (cmp of the stack check, its jbe, a ret), the answer to
# "which does this kernel emulate".
go_rows() {
	local gomodes=(none) r i m out us rps

	if [ ! -x "$BENCH/go_tls" ]; then
		log "skipped: the Go client row ($BENCH/go_tls not built: no go toolchain)"
		return 0
	fi
	if [ -x "$SPANPROBE" ] && "$SPANPROBE" --list-tls-probes "$BENCH/go_tls" 2>/dev/null |
		awk 'NF >= 2 && $2 ~ /^0[xX]/' >"$tmp/gopoints" && [ -s "$tmp/gopoints" ]; then
		gomodes+=(floor-go spanprobe)
	fi
	for ((r = 0; r < ROUNDS; r++)); do
		for ((i = 0; i < ${#gomodes[@]}; i++)); do
			m=${gomodes[(i + r) % ${#gomodes[@]}]}
			start_probe "$m" || continue
			if ! out=$(timeout "$CLIENT_TIMEOUT" "${pin[@]}" "$BENCH/go_tls" bench \
				   -url "https://127.0.0.1:$port/bench" -n "$REQUESTS" 2>"$tmp/client.err"); then
				fail "go_tls bench under $m (round $((r + 1))); its stderr:"
				tail -n 20 "$tmp/client.err" >&2
				stop_probe "$m"
				continue
			fi
			stop_probe "$m" || continue
			[ "$m" != none ] && { sync; sleep "$SETTLE"; }
			rps=$(sed -n 's/.* req\/s=\([0-9.]*\).*/\1/p' <<<"$out")
			us=$(sed -n 's/.* us\/request=\([0-9.]*\).*/\1/p' <<<"$out")
			printf 'go-%s %s %s\n' "$m" "$us" "$rps" >>"$tmp/results"
			log "go round $((r + 1))/$ROUNDS $(printf '%-16s %10s req/s %9s us/request' "$m" "$rps" "$us")"
		done
	done
	local gbase
	gbase=$(median go-none 2)
	[ -n "$gbase" ] || { fail "no Go client run without probes"; return 0; }
	echo
	echo "Go client (go_tls bench: net/http over crypto/tls, HTTP/1.1 keep-alive) against tls_server:"
	echo "each request is 1 tls.Conn Write + 1 Read in the client (uprobes at the entry's jbe and"
	echo "at the ret it returns through) and 2 SSL_write + 2 SSL_read in the server (floor-go"
	echo "traps only the Go side; spanprobe traces both, and the syscalls)"
	printf '%-16s %10s %11s %15s %10s\n' mode "req/s" "us/request" "(min..max)" "added us"
	for m in "${gomodes[@]}"; do
		us=$(median "go-$m" 2)
		[ -n "$us" ] || { printf '%-16s %s\n' "go $m" "no successful run"; continue; }
		add=$(awk -v a="$us" -v b="$gbase" 'BEGIN { printf "%.2f", a - b }')
		[ "$m" = none ] && add=-
		printf '%-16s %10.1f %11.2f %15s %10s\n' "go $m" "$(median "go-$m" 3)" "$us" \
			"($(range "go-$m"))" "$add"
	done
	# the instructions
	"$BENCH/insn_cost" --offsets >"$tmp/insn" || { fail "insn_cost --offsets"; return 0; }
	for ((r = 0; r < ROUNDS; r++)); do
		for m in insn-none insn-cmp insn-jbe insn-ret; do
			local pm=$m
			[ "$m" = insn-none ] && pm=none
			start_probe "$pm" || continue
			us=$("$BENCH/insn_cost" 200000) || fail "insn_cost under $m"
			stop_probe "$pm"
			printf '%s %s 0\n' "$m" "$us" >>"$tmp/results"
		done
	done
	echo
	echo "one empty uprobe on each instruction of a Go function's shape (insn_cost, ns per call):"
	for m in insn-none insn-cmp insn-jbe insn-ret; do
		printf '  %-10s %8s ns  (%s)\n' "${m#insn-}" "$(median "$m" 2)" "$(range "$m")"
	done
}
go_rows

# the Bun client row (tests/bench/bun.sh; says why when Bun is not installed)
if [ "${BENCH_BUN_ROW:-1}" != 0 ]; then
	echo
	BUILD=$BUILD tests/bench/bun.sh || fail "tests/bench/bun.sh (Bun client) failed"
fi

# memory, on a machine this run no longer loads
if [ "${BENCH_MEM:-1}" != 0 ]; then
	stop_pid "$server_pid" TERM
	server_pid=
	echo
	BUILD=$BUILD tests/bench/mem.sh || fail "tests/bench/mem.sh (memory) failed"
fi

if [ "$failures" -gt 0 ]; then
	log "$failures run(s) failed (see above)"
	exit 1
fi
exit 0
