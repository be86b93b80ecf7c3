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
/* The offset sp_clock_to_unix adds (Unix ns - CLOCK_MONOTONIC ns). */
int64_t sp_clock_offset(void);
/* Uses offset from now on instead of reading the clocks: a replay takes
 * the offsets the recorded run had, so its spans carry the same times. */
void sp_clock_set_offset(int64_t offset);

#endif
