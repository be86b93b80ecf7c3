#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs what spanprobe needs to build, run and test, on Debian 12.
# Idempotent and quiet when everything is there.
set -eu

# what building and running spanprobe needs (make deps, make run)
PKGS="make clang libbpf-dev bpftool libelf-dev zlib1g-dev libyajl-dev \
libhttp-parser-dev libnghttp2-dev libcmocka-dev pkg-config libssl-dev \
protobuf-c-compiler libprotobuf-c-dev libcurl4-openssl-dev libbrotli-dev libzstd-dev \
libcapstone-dev openssl curl wget iproute2 python3 nodejs ca-certificates systemtap-sdt-dev"
# and what only the tests need (--tests: make test): the clients and
# servers the integration tests build and trace (Go, Rust with Debian's
# rustls crates), and chromium, which renders the HTML report
TESTS=false
[ "${1:-}" = --tests ] && TESTS=true
if $TESTS; then
	PKGS="$PKGS golang-go cargo librust-rustls-dev librust-rustls-pemfile-dev binutils chromium"
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node may come from elsewhere than Debian's nodejs package; the OTLP test
# receiver's packages come from the npm registry
if command -v node >/dev/null 2>&1; then
	missing=$(echo "$missing" | sed 's/ nodejs//')
fi
command -v npm >/dev/null 2>&1 || missing="$missing npm"
# A newer Go than bookworm's 1.19 for the Go crypto/tls tests (the Go 1.20+
# .gopclntab format): golang-1.23-go from Debian's own bookworm-backports,
# whose apt source is added here only (tests/integration/go_cases.py skips
# that case without it).
BPO=""
if $TESTS && grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null &&
	! dpkg-query -W -f='${Status}' golang-1.23-go 2>/dev/null | grep -q "ok installed"; then
	BPO=golang-1.23-go
fi
[ -z "$missing" ] && [ -z "$BPO" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root (sudo make deps), or install them with apt-get" >&2
	exit 1
fi
echo "install-deps: installing$missing${BPO:+ $BPO (bookworm-backports)}"
export DEBIAN_FRONTEND=noninteractive
if [ -n "$BPO" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d; then
	cat >/etc/apt/sources.list.d/spanprobe-backports.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
apt-get update -qq
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ -n "$BPO" ]; then
	apt-get install -y -qq --no-install-recommends -t bookworm-backports "$BPO" >/dev/null ||
		echo "install-deps: cannot install $BPO from bookworm-backports (the newer-Go test will skip)" >&2
fi
