#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs what spanprobe needs to build, run and test, on Debian 12.
# Idempotent and quiet when everything is there.
set -eu

PKGS="make clang libbpf-dev bpftool libelf-dev zlib1g-dev libyajl-dev \
libhttp-parser-dev libnghttp2-dev libcmocka-dev pkg-config libssl-dev \
protobuf-c-compiler libprotobuf-c-dev libcurl4-openssl-dev libbrotli-dev libzstd-dev \
libcapstone-dev openssl curl wget iproute2 python3 nodejs ca-certificates systemtap-sdt-dev"

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
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root (sudo make deps), or install them with apt-get" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
