/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Retries: a request repeated after its previous attempt failed (a 429 or
 * 5xx answer, a reset, a timeout, no answer) is a resend of it: OTel's
 * http.request.resend_count on the repeat, counting from 1. The same
 * request means the same scope (the process, or for curl and the like the
 * process that ran them, so a shell agent's second curl retries its
 * first), method, host and path (the query is left out: a retry may carry
 * a new nonce), within SP_RETRY_WINDOW_NS of the failure's end.
 *
 * Bounded: cap entries, least recently used evicted (a retry of it then
 * goes unmarked).
 */
#ifndef SP_RETRIES_H
#define SP_RETRIES_H

#include <stdbool.h>
#include <stdint.h>

#define SP_RETRY_WINDOW_NS	(120 * 1000000000ull)

struct sp_retries;

struct sp_retries *sp_retries__new(uint32_t cap);
void sp_retries__free(struct sp_retries *r);
/* Attempts forgotten to make room (a retry of one goes unmarked). */
uint64_t sp_retries__evictions(const struct sp_retries *r);
/*
 * One attempt of (scope, method, host, path) over [start, end]; failed:
 * it did not succeed in a way worth retrying. Returns its resend count: 0
 * for a first attempt, n for the n-th repeat of a failed one.
 */
uint32_t sp_retries__note(struct sp_retries *r, uint32_t scope, const char *method,
			  const char *host, const char *path, bool failed, uint64_t start,
			  uint64_t end);
/* Whether an HTTP attempt with this status (0: no answer) and error type
 * (NULL: none) failed in a way a client retries. */
bool sp_retry_worthy(uint16_t status, const char *error_type);

#endif
