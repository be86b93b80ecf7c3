#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The Bun client row of make bench: bun from npm (BoringSSL linked in, no
# symbols: spanprobe finds SSL_write/SSL_read by discovery/tls_boringssl.c)
# doing BENCH_BUN_REQUESTS sequential keep-alive fetches against tls_server,
# untraced and under spanprobe, interleaved over BENCH_BUN_ROUNDS rounds;
# medians printed as run.sh prints its rows. Skipped (exit 0, said why) when
# the Bun of tests/integration/bun is not installed (the Bun tests install
# it: npm ci in tests/integration/bun).
#
# Environment: BENCH_BUN (that bun), BENCH_BUN_ROUNDS (3),
# BENCH_BUN_REQUESTS (5000), BENCH_SPANPROBE, BUILD, BENCH_PIN (1).
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1

BUILD=${BUILD:-build}
BENCH=$BUILD/bench
BUN=${BENCH_BUN:-tests/integration/bun/node_modules/@oven/bun-linux-x64/bin/bun}
ROUNDS=${BENCH_BUN_ROUNDS:-3}
REQUESTS=${BENCH_BUN_REQUESTS:-5000}
SPANPROBE=${BENCH_SPANPROBE:-$BUILD/spanprobe}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-30}
PIN=${BENCH_PIN:-1}

tmp=
server_pid=
probe_pid=
failures=0

# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

trap_cleanup

if [ ! -x "$BUN" ]; then
	log "Bun client row skipped: $BUN not installed (npm ci in tests/integration/bun)"
	exit 0
fi
[ -x "$SPANPROBE" ] || die "$SPANPROBE not built: run make"
tmp=$(mktemp -d /tmp/spanprobe-bench-bun.XXXXXX) || die "cannot create a temporary directory"
: >"$tmp/results"
make_cert
pin=()
if [ "$PIN" != 0 ] && command -v taskset >/dev/null; then
	pin=(taskset -c "$(($(nproc) - 1))")
fi
start_tls_server "${pin[@]}"

for ((r = 0; r < ROUNDS; r++)); do
	for mode in none spanprobe; do
		if [ "$mode" = spanprobe ]; then
			env --default-signal=INT "$SPANPROBE" -o /dev/null >/dev/null 2>"$tmp/probe.err" &
			probe_pid=$!
			wait_ready "$probe_pid" "$tmp/probe.err" "spanprobe: ready" ||
				{ tail -n 5 "$tmp/probe.err" >&2; die "spanprobe did not get ready"; }
		fi
		# a new process each run: spanprobe attaches to it at exec
		if ! out=$("${pin[@]}" "$BUN" tests/bench/bun_client.mjs "$port" "$REQUESTS" 2>"$tmp/bun.err"); then
			tail -n 5 "$tmp/bun.err" >&2
			fail "bun client under $mode"
		fi
		if [ -n "$probe_pid" ]; then
			stop_pid "$probe_pid" INT
			probe_pid=
			sleep 1
		fi
		us=$(sed -n 's/.* us\/request=\([0-9.]*\).*/\1/p' <<<"$out")
		rps=$(sed -n 's/^req\/s=\([0-9.]*\).*/\1/p' <<<"$out")
		[ -n "$us" ] && printf '%s %s %s\n' "$mode" "$us" "$rps" >>"$tmp/results"
		log "bun round $((r + 1))/$ROUNDS $(printf '%-10s %10s req/s %9s us/request' "$mode" "$rps" "$us")"
	done
done

median() {
	awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$tmp/results" | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}
base=$(median none 2)
traced=$(median spanprobe 2)
[ -n "$base" ] && [ -n "$traced" ] || die "no successful Bun run to compare"
echo
echo "Bun client ($("$BUN" --version) fetch, keep-alive, $REQUESTS requests; tls_server as above; medians over $ROUNDS rounds)"
printf '%-16s %10s %11s %10s\n' mode "req/s" "us/request" "added us"
printf '%-16s %10.1f %11.2f %10s\n' bun-none "$(median none 3)" "$base" -
printf '%-16s %10.1f %11.2f %10.2f\n' bun-spanprobe "$(median spanprobe 3)" "$traced" \
	"$(awk -v a="$traced" -v b="$base" 'BEGIN { print a - b }')"
[ "$failures" -eq 0 ]
