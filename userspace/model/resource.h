/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The resource of a traced process: what its spans are attributed to.
 *
 * Attributes, later ones winning: what spanprobe detects (process.pid,
 * process.executable.name, host.name); spanprobe's own
 * OTEL_RESOURCE_ATTRIBUTES; the process's own OTEL_RESOURCE_ATTRIBUTES.
 * service.name is the process's OTEL_SERVICE_NAME, else service.name from
 * its OTEL_RESOURCE_ATTRIBUTES, else spanprobe's OTEL_SERVICE_NAME (or
 * service.name in spanprobe's OTEL_RESOURCE_ATTRIBUTES), else the
 * executable's name. telemetry.sdk.* always name spanprobe.
 *
 * A resource is immutable once built and refcounted atomically, so the
 * exporter thread may hold references.
 */
#ifndef SP_RESOURCE_H
#define SP_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_RES_MAX_EXTRA	32	/* OTEL_RESOURCE_ATTRIBUTES pairs kept */

/* Parsed OTEL_RESOURCE_ATTRIBUTES: pairs point into buf. */
struct sp_res_kv {
	uint8_t n;
	const char *key[SP_RES_MAX_EXTRA];
	const char *value[SP_RES_MAX_EXTRA];
	char buf[2048];
};

struct sp_resource {
	int refs;
	uint32_t pid;
	char service_name[128];
	char exe_name[64];
	char exe_path[256];
	char command_line[512];
	struct sp_res_kv extra;	/* the process's own OTEL_RESOURCE_ATTRIBUTES */
};

/* A resource attribute, as encoders see it: key and string or int value. */
struct sp_res_attr {
	const char *key;
	const char *s;		/* NULL for an int */
	int64_t i;
};

#define SP_RES_MAX_ATTRS (8 + 2 * SP_RES_MAX_EXTRA)

/*
 * Parses "k1=v1,k2=v2" (values percent-decoded, blanks around keys and
 * values trimmed). 0, or -EINVAL with *bad pointing at the offending
 * entry (the whole value is then ignored, as the OTel SDKs do).
 */
int sp_res_kv_parse(struct sp_res_kv *kv, const char *s, const char **bad);
const char *sp_res_kv_get(const struct sp_res_kv *kv, const char *key);

/* spanprobe's own OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read
 * once at start: 0 or -EINVAL (after a one-line error). */
int sp_resource_defaults_from_env(void);
/* Forgets them (tests and fuzzers running the pipeline again). */
void sp_resource_defaults_reset(void);

struct sp_resource *sp_resource__new(void);
struct sp_resource *sp_resource__get(struct sp_resource *r);
void sp_resource__put(struct sp_resource *r);
/* Picks service.name by the rule above; call after filling the rest. */
void sp_resource__finish(struct sp_resource *r, const char *own_service_name);
/* The attribute list, in order; returns the count. Strings are borrowed
 * from r and static storage. */
size_t sp_resource__attrs(const struct sp_resource *r, struct sp_res_attr *out, size_t max);

/* The host name, read once. */
const char *sp_host_name(void);
/* The host the spans come from, when it is not this one (replay of a
 * recording); NULL or "" goes back to this host's name. */
void sp_host_name_set(const char *name);

#endif
