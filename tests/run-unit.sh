#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Runs each cmocka unit-test binary given; fails if any fails.
set -u
fail=0
for t in "$@"; do
	"$t" || fail=1
done
exit $fail
