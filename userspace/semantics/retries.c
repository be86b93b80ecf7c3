// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"
#include "util/table.h"
#include "semantics/retries.h"

struct attempt {
	uint32_t resends;	/* of the latest attempt */
	bool failed;
	uint64_t end;
};

struct sp_retries {
	struct sp_table *t;
};

struct sp_retries *sp_retries__new(uint32_t cap)
{
	struct sp_retries *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->t = sp_table__new(cap, sizeof(struct attempt), NULL, NULL);
	if (!r->t) {
		free(r);
		return NULL;
	}
	return r;
}

uint64_t sp_retries__evictions(const struct sp_retries *r)
{
	return sp_table__evictions(r->t);
}

void sp_retries__free(struct sp_retries *r)
{
	if (!r)
		return;
	sp_table__free(r->t);
	free(r);
}

/* The strings hashed, each with its NUL */
static uint64_t key_of(const char *method, const char *host, const char *path)
{
	const char *parts[] = { method, host, path };
	uint64_t h = SP_FNV_OFFSET;

	for (int i = 0; i < 3; i++) {
		const char *s = parts[i] ? parts[i] : "";

		/* the path without its query */
		h = sp_fnv1a(h, s, i == 2 ? strcspn(s, "?") : strlen(s));
		h = sp_fnv1a(h, "", 1);
	}
	return h;
}

uint32_t sp_retries__note(struct sp_retries *r, uint32_t scope, const char *method,
			  const char *host, const char *path, bool failed, uint64_t start,
			  uint64_t end)
{
	uint64_t k = key_of(method, host, path);
	struct attempt *a = sp_table__get(r->t, scope, k);

	if (!a) {
		a = sp_table__add(r->t, scope, k);
		if (!a)
			return 0;
	} else if (a->failed && start + 1000000 >= a->end &&
		   (start > a->end ? start - a->end : 0) <= SP_RETRY_WINDOW_NS) {
		/* after a failure (a client may send its retry a hair before
		 * the failed exchange's last byte is accounted): a resend */
		a->resends++;
		a->failed = failed;
		a->end = end;
		return a->resends;
	}
	a->resends = 0;
	a->failed = failed;
	a->end = end;
	return 0;
}

bool sp_retry_worthy(uint16_t status, const char *error_type)
{
	if (status)
		return status == 408 || status == 429 || status >= 500;
	return true;	/* reset, timeout, no answer */
}
