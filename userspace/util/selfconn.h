/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * spanprobe's own connections. spanprobe never traces itself, but in
 * system-wide mode it traces a local OTLP backend, whose SERVER span for
 * each export would be exported in turn, once a second, forever. The
 * exporter records the local port of every connection it opens; the
 * pipeline drops the server side of exchanges that come from one.
 */
#ifndef SP_SELFCONN_H
#define SP_SELFCONN_H

#include <stdbool.h>
#include <stdint.h>

/* Called by exporters (any thread) when a connection of theirs is up. */
void sp_selfconn_add(uint16_t local_port);
/* True if port is the local port of one of spanprobe's recent connections. */
bool sp_selfconn_has(uint16_t port);
/* Forgets every port (tests and fuzzers running the pipeline again). */
void sp_selfconn_reset(void);

#endif
