# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# shellcheck shell=bash
# shellcheck disable=SC2154 # tmp, BENCH and READY_TIMEOUT come from the caller
#
# What run.sh and mem.sh share: logging, stopping a process with patience,
# waiting for a ready line, the throwaway certificate and tls_server.
# Sourced, not run. The caller sets READY_TIMEOUT (seconds) and tmp (its
# scratch directory), keeps failures (a count) for fail(), and the pids
# cleanup() ends: hold_pid, probe_pid, server_pid (empty when not running).

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
fail() { log "FAILED: $*"; failures=$((failures + 1)); }

# gone_within PID TENTHS: 0 once PID has exited, 1 if still there after
gone_within() {
	local i

	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# stop_pid PID SIGNAL: signal, then escalate to TERM and KILL; returns the
# process's exit status (128+n when a signal killed it). Detaching uprobes
# can take a few seconds, hence the patience.
stop_pid() {
	local pid=$1 sig=$2

	kill "-$sig" "$pid" 2>/dev/null
	if ! gone_within "$pid" 150; then
		log "pid $pid still running 15 s after SIG$sig, sending SIGTERM"
		kill -TERM "$pid" 2>/dev/null
		if ! gone_within "$pid" 50; then
			log "pid $pid ignored SIGTERM too, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
}

# wait_ready PID FILE PREFIX: 0 once a line of FILE starts with PREFIX,
# 1 if PID exits first or READY_TIMEOUT passes.
wait_ready() {
	local pid=$1 file=$2 prefix=$3 deadline=$((SECONDS + READY_TIMEOUT))

	while [ "$SECONDS" -lt "$deadline" ]; do
		grep -q "^$prefix" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# make_cert: a self-signed certificate for this run, $tmp/cert.pem and key.pem
make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
		-keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>"$tmp/openssl.err" ||
		{ cat "$tmp/openssl.err" >&2; die "cannot make a self-signed certificate"; }
}

# start_tls_server [WRAPPER...]: tls_server on 127.0.0.1 (run under WRAPPER,
# e.g. taskset, when given); sets server_pid and port, or dies
start_tls_server() {
	"$@" "$BENCH/tls_server" "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/server.out" 2>"$tmp/server.err" &
	server_pid=$!
	port=
	for _ in $(seq 100); do
		port=$(head -n 1 "$tmp/server.out" 2>/dev/null)
		[ -n "$port" ] && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$port" ] || { cat "$tmp/server.err" >&2; die "tls_server did not start"; }
}

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	exec 7>&-	# mem.sh's hold on conn_hold's stdin
	[ -n "${hold_pid:-}" ] && stop_pid "$hold_pid" TERM
	[ -n "${probe_pid:-}" ] && stop_pid "$probe_pid" INT
	[ -n "${server_pid:-}" ] && stop_pid "$server_pid" TERM
	[ -n "${tmp:-}" ] && rm -rf "$tmp"
	exit "$rc"
}

# trap_cleanup: cleanup() on any exit, Ctrl-C and SIGTERM included
trap_cleanup() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
