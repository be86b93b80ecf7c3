// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"
#include "util/table.h"
#include "assemble/links.h"

/* a client's write may return after the server read it, and the other way
 * round: this much either side of containment still matches */
#define SLACK_NS	2000000ull

struct conn_ends {
	struct sp_link_end e[SP_LINKS_DEPTH];
	bool server[SP_LINKS_DEPTH];
	uint8_t n;
};

struct sp_links {
	struct sp_table *t;
};

struct sp_links *sp_links__new(uint32_t cap)
{
	struct sp_links *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->t = sp_table__new(cap, sizeof(struct conn_ends), NULL, NULL);
	if (!l->t) {
		free(l);
		return NULL;
	}
	return l;
}

uint64_t sp_links__evictions(const struct sp_links *l)
{
	return sp_table__evictions(l->t);
}

void sp_links__free(struct sp_links *l)
{
	if (!l)
		return;
	sp_table__free(l->t);
	free(l);
}

bool sp_addr_is_local(const struct sp_addr *a)
{
	static const uint8_t v6_lo[16] = { [15] = 1 };
	static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (a->family == 2)
		return a->v4[0] == 127;
	if (a->family == 10)
		return !memcmp(a->v6, v6_lo, 16) ||
		       (!memcmp(a->v6, v4_mapped, 12) && a->v6[12] == 127);
	return false;
}

static uint64_t addr_hash(uint64_t h, const struct sp_addr *a)
{
	h = sp_fnv1a(h, &a->family, sizeof(a->family));
	h = sp_fnv1a(h, &a->port, sizeof(a->port));
	return sp_fnv1a(h, a->v6, a->family == 10 ? 16 : 4);
}

/* One key for both sides: the server's address, then the client's. */
static void conn_key(bool server, const struct sp_addr *local, const struct sp_addr *remote,
		     uint64_t *k1, uint64_t *k2)
{
	const struct sp_addr *srv = server ? local : remote, *cli = server ? remote : local;

	*k1 = addr_hash(SP_FNV_OFFSET, srv);
	*k2 = addr_hash(0x84222325cbf29ce4ull, cli);
}

static bool within(const struct sp_link_end *srv, const struct sp_link_end *cli)
{
	return srv->start + SLACK_NS >= cli->start && srv->end <= cli->end + SLACK_NS;
}

bool sp_links__meet(struct sp_links *l, bool server, const struct sp_addr *local,
		    const struct sp_addr *remote, const struct sp_link_end *mine,
		    struct sp_link_end *peer)
{
	struct conn_ends *c;
	uint64_t k1, k2;

	if (!local->family || !remote->family || !local->port || !remote->port)
		return false;
	conn_key(server, local, remote, &k1, &k2);
	c = sp_table__get(l->t, k1, k2);
	for (int i = 0; c && i < c->n; i++) {
		if (c->server[i] == server ||
		    !(server ? within(mine, &c->e[i]) : within(&c->e[i], mine)))
			continue;
		*peer = c->e[i];
		memmove(&c->e[i], &c->e[i + 1], (c->n - i - 1) * sizeof(c->e[0]));
		memmove(&c->server[i], &c->server[i + 1], (c->n - i - 1) * sizeof(c->server[0]));
		c->n--;
		return true;
	}
	if (!c && !(c = sp_table__add(l->t, k1, k2)))
		return false;
	if (c->n == SP_LINKS_DEPTH) {
		memmove(&c->e[0], &c->e[1], (SP_LINKS_DEPTH - 1) * sizeof(c->e[0]));
		memmove(&c->server[0], &c->server[1], (SP_LINKS_DEPTH - 1) * sizeof(c->server[0]));
		c->n--;
	}
	c->e[c->n] = *mine;
	c->server[c->n] = server;
	c->n++;
	return false;
}
