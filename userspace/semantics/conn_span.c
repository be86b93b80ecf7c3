// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "semantics/conn_span.h"
#include "semantics/http_span.h"

/*
 * The errnos a TCP connect fails with (connect(2), tcp_v4_connect, ICMP
 * errors through icmp_err_convert), with the status message. error.type
 * is the errno's name, what an OTel error.type for a socket error looks
 * like, except ETIMEDOUT: "timeout" is the conventions' word for it.
 */
#define CONNECT_ERRNOS(X)						\
	X(ECONNREFUSED, "ECONNREFUSED", "connection refused")		\
	X(ETIMEDOUT, "timeout", "connection timed out")			\
	X(ENETUNREACH, "ENETUNREACH", "network unreachable")		\
	X(EHOSTUNREACH, "EHOSTUNREACH", "host unreachable")		\
	X(EHOSTDOWN, "EHOSTDOWN", "host is down")			\
	X(ENETDOWN, "ENETDOWN", "network is down")			\
	X(ECONNRESET, "ECONNRESET", "connection reset")			\
	X(ECONNABORTED, "ECONNABORTED", "connection aborted")		\
	X(EADDRNOTAVAIL, "EADDRNOTAVAIL", "no local address or port free") \
	X(EADDRINUSE, "EADDRINUSE", "local address in use")		\
	X(EACCES, "EACCES", "connect not permitted")			\
	X(EPERM, "EPERM", "connect not permitted (firewall)")		\
	X(EPROTO, "EPROTO", "protocol error")				\
	X(ENOPROTOOPT, "ENOPROTOOPT", "protocol not available")	\
	X(EAFNOSUPPORT, "EAFNOSUPPORT", "address family not supported")	\
	X(ENOBUFS, "ENOBUFS", "no buffer space")			\
	X(EINVAL, "EINVAL", "invalid argument")

struct connect_errno {
	int err;
	const char *type, *msg;
};

static const struct connect_errno ERRNOS[] = {
#define X(e, type, msg) { e, type, msg },
	CONNECT_ERRNOS(X)
#undef X
};

static const struct connect_errno *find_errno(int err)
{
	for (size_t i = 0; i < sizeof(ERRNOS) / sizeof(ERRNOS[0]); i++)
		if (ERRNOS[i].err == err)
			return &ERRNOS[i];
	return NULL;
}

const char *sp_conn_error_type(int err)
{
	const struct connect_errno *e = find_errno(err);

	return e ? e->type : "_OTHER";
}

/* An IPv4 address a dual-stack socket carries as ::ffff:a.b.c.d is IPv4
 * on the wire: say so. */
static struct sp_addr unmapped(const struct sp_addr *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };
	struct sp_addr v4 = *a;

	if (a->family != AF_INET6 || memcmp(a->v6, prefix, sizeof(prefix)))
		return *a;
	v4.family = AF_INET;
	memmove(v4.v4, a->v6 + 12, 4);
	memset(v4.v6 + 4, 0, 12);
	return v4;
}

void sp_conn_span_fill(struct sp_span *s, const struct sp_connect_fail_event *ev)
{
	int err = ev->err < 0 ? -ev->err : ev->err;
	const struct connect_errno *e = find_errno(err);
	struct sp_addr peer = unmapped(&ev->remote);
	const char *type = e ? e->type : "_OTHER";
	char addr[64], msg[96];

	sp_addr_str(&peer, addr, sizeof(addr));
	if (addr[0]) {
		/* only the address is known here: the name it was resolved
		 * from never reaches connect(2) */
		sp_span__set_str(s, "server.address", addr, strlen(addr));
		sp_span__set_str(s, "network.peer.address", addr, strlen(addr));
	}
	sp_span__set_int(s, "server.port", peer.port);
	sp_span__set_int(s, "network.peer.port", peer.port);
	sp_span__set_str(s, "network.transport", "tcp", 3);
	if (peer.family == AF_INET || peer.family == AF_INET6)
		sp_span__set_str(s, "network.type", peer.family == AF_INET ? "ipv4" : "ipv6", 4);
	sp_span__set_str(s, "error.type", type, strlen(type));
	if (ev->how == SP_CONNECT_ABANDONED) {
		/* the process closed it mid-handshake: its own timeout, as
		 * far as anyone can tell from outside */
		sp_span__set_bool(s, "spanprobe.connect.abandoned", true);
		snprintf(msg, sizeof(msg), "connect given up by the process before the handshake "
			 "completed");
	} else if (e) {
		snprintf(msg, sizeof(msg), "%s", e->msg);
	} else {
		snprintf(msg, sizeof(msg), "connect failed: errno %d", err);
	}
	sp_span__set_status(s, SP_STATUS_ERROR, msg);
}
