// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdbool.h>
#include <time.h>
#include "util/clock.h"

static int64_t mono_to_real;
static bool have_offset;

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
	have_offset = true;
}

uint64_t sp_clock_mono_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

uint64_t sp_clock_to_unix(uint64_t mono_ns)
{
	if (!have_offset)
		sp_clock_sync();
	return (uint64_t)((int64_t)mono_ns + mono_to_real);
}

int64_t sp_clock_offset(void)
{
	if (!have_offset)
		sp_clock_sync();
	return mono_to_real;
}

void sp_clock_set_offset(int64_t offset)
{
	mono_to_real = offset;
	have_offset = true;
}
