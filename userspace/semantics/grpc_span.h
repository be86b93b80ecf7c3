/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gRPC over HTTP/2 (content-type application/grpc*): the service and
 * method from :path, the status from grpc-status in the trailers (or a
 * trailers-only response), mapped to the OTel RPC conventions.
 */
#ifndef SP_GRPC_SPAN_H
#define SP_GRPC_SPAN_H

#include <stdbool.h>
#include <stddef.h>

struct sp_span;
struct sp_http_exchange;

struct sp_grpc_info {
	char service[128];	/* "helloworld.Greeter" */
	char method[64];	/* "SayHello" */
	int status;		/* grpc-status, -1 if none came */
	char message[128];	/* grpc-message, cut */
};

/* True if a content-type value is gRPC's. */
bool sp_grpc_content_type(const char *v, size_t len);
/* Sets service and method from a :path "/pkg.Service/Method"; status -1. */
void sp_grpc_info__init(struct sp_grpc_info *g, const char *path, size_t len);
/* A grpc-status / grpc-message header value. */
void sp_grpc_info__status(struct sp_grpc_info *g, const char *v, size_t len);
void sp_grpc_info__message(struct sp_grpc_info *g, const char *v, size_t len);
/* "{service}/{method}" */
void sp_grpc_span_name(const struct sp_grpc_info *g, char *out, size_t cap);
/* rpc.* attributes and the status of ex->grpc on s (after the HTTP ones). */
void sp_grpc_span_fill(struct sp_span *s, const struct sp_http_exchange *ex);

#endif
