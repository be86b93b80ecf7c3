// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "util/selfconn.h"

/* The last ports used; a connection lives at most a few seconds past its
 * last request, and an exporter opens at most a few a second. */
#define SELF_PORTS 64

static uint16_t ports[SELF_PORTS];
static unsigned next;

void sp_selfconn_add(uint16_t port)
{
	unsigned i = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % SELF_PORTS;

	__atomic_store_n(&ports[i], port, __ATOMIC_RELEASE);
}

bool sp_selfconn_has(uint16_t port)
{
	if (!port)
		return false;
	for (unsigned i = 0; i < SELF_PORTS; i++)
		if (__atomic_load_n(&ports[i], __ATOMIC_ACQUIRE) == port)
			return true;
	return false;
}

void sp_selfconn_reset(void)
{
	for (unsigned i = 0; i < SELF_PORTS; i++)
		__atomic_store_n(&ports[i], 0, __ATOMIC_RELEASE);
	__atomic_store_n(&next, 0, __ATOMIC_RELAXED);
}
