// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Defines the maps and rodata declared in spanprobe.bpf.h, once. */
#define SP_DEFINE_MAPS
#include "spanprobe.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
