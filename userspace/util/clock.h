/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* BPF stamps events with CLOCK_MONOTONIC; spans carry Unix time. */
#ifndef SP_CLOCK_H
#define SP_CLOCK_H
#include <stdint.h>

/* Re-reads the offset between the two clocks (it moves with NTP steps). */
void sp_clock_sync(void);
uint64_t sp_clock_mono_ns(void);
/* Unix-epoch nanoseconds of a CLOCK_MONOTONIC timestamp. */
uint64_t sp_clock_to_unix(uint64_t mono_ns);

#endif
