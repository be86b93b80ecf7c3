/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A TCP connect that failed (SP_EV_CONNECT_FAIL) as a span: name
 * "connect", kind CLIENT, status ERROR, error.type the errno name
 * (ETIMEDOUT as "timeout", /work/shared/CONVENTIONS.md), and where it was
 * going as server.* / network.peer.*.
 */
#ifndef SP_CONN_SPAN_H
#define SP_CONN_SPAN_H

#include "model/span.h"
#include "spanprobe.h"

/* Low cardinality: the address is an attribute, not part of the name. */
#define SP_CONN_SPAN_NAME	"connect"

/* error.type of a connect failure with errno err (positive): a static
 * string, "_OTHER" (the OTel fallback) for an errno not in the table. */
const char *sp_conn_error_type(int err);
/* Sets the attributes and the ERROR status of the failed connect ev on s. */
void sp_conn_span_fill(struct sp_span *s, const struct sp_connect_fail_event *ev);

#endif
