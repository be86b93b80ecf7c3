// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <time.h>
#include "util/clock.h"

static int64_t mono_to_real;

static uint64_t read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void sp_clock_sync(void)
{
	/* bracket the realtime read to keep the error under a microsecond */
	uint64_t m0 = read_ns(CLOCK_MONOTONIC);
	uint64_t r = read_ns(CLOCK_REALTIME);
	uint64_t m1 = read_ns(CLOCK_MONOTONIC);

	mono_to_real = (int64_t)r - (int64_t)(m0 + (m1 - m0) / 2);
}

uint64_t sp_clock_mono_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

uint64_t sp_clock_to_unix(uint64_t mono_ns)
{
	if (!mono_to_real)
		sp_clock_sync();
	return (uint64_t)((int64_t)mono_ns + mono_to_real);
}
