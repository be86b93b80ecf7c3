/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Both ends of a connection on this host: when a client and the server it
 * calls are both traced (two local services over loopback, an agent and
 * its local tool server), the SERVER span becomes a child of the CLIENT
 * span, with no header needed. Each side's exchange is noted under the
 * connection's two addresses when it completes; the other side's, when it
 * completes (either may come first: a client can read the answer before
 * the server's write returns), finds it if the server's lies within the
 * client's in time.
 *
 * Bounded: cap connections, least recently used evicted; SP_LINKS_DEPTH
 * exchanges remembered per connection (the oldest go).
 */
#ifndef SP_LINKS_H
#define SP_LINKS_H

#include <stdbool.h>
#include <stdint.h>
#include "spanprobe.h"

#define SP_LINKS_DEPTH	4

struct sp_link_end {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint64_t start, end;	/* Unix ns */
};

struct sp_links;

/* A loopback address (127.0.0.0/8, ::1, ::ffff:127.x): its peer is on this
 * host. */
bool sp_addr_is_local(const struct sp_addr *a);

struct sp_links *sp_links__new(uint32_t cap);
void sp_links__free(struct sp_links *l);
/*
 * An exchange completed on the connection seen from this side (local,
 * remote; server: the traced process accepted it). If the other side's
 * matching exchange was noted, it is taken and copied to *peer (true);
 * else this one is noted for the other side (false).
 */
/* Connections evicted to make room (their links go unmade). */
uint64_t sp_links__evictions(const struct sp_links *l);
bool sp_links__meet(struct sp_links *l, bool server, const struct sp_addr *local,
		    const struct sp_addr *remote, const struct sp_link_end *mine,
		    struct sp_link_end *peer);

#endif
