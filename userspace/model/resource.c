// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/log.h"
#include "model/resource.h"
#include "util/utf8.h"

static struct sp_res_kv env_kv;		/* spanprobe's OTEL_RESOURCE_ATTRIBUTES */
static char env_service[128];		/* spanprobe's OTEL_SERVICE_NAME */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies [s, e) trimmed and percent-decoded into *out; NULL on bad %xx. */
static char *put_decoded(char **out, char *end, const char *s, const char *e)
{
	char *start = *out;

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	for (; s < e; s++) {
		int c = *s;

		if (c == '%') {
			int h, l;

			if (e - s < 3 || (h = hexval(s[1])) < 0 || (l = hexval(s[2])) < 0)
				return NULL;
			c = h * 16 + l;
			s += 2;
		}
		if (*out + 1 >= end)
			return NULL;
		*(*out)++ = (char)c;
	}
	*(*out)++ = 0;
	return start;
}

int sp_res_kv_parse(struct sp_res_kv *kv, const char *s, const char **bad)
{
	char *out = kv->buf, *end = kv->buf + sizeof(kv->buf);

	kv->n = 0;
	*bad = NULL;
	while (s && *s) {
		const char *comma = strchr(s, ','), *eq;

		if (!comma)
			comma = s + strlen(s);
		eq = memchr(s, '=', comma - s);
		if (comma == s || (eq == NULL && strspn(s, " \t") != (size_t)(comma - s))) {
			*bad = s;
			goto err;
		}
		if (eq) {
			const char *k, *v;

			if (kv->n == SP_RES_MAX_EXTRA) {
				*bad = s;
				goto err;
			}
			k = put_decoded(&out, end, s, eq);
			v = k ? put_decoded(&out, end, eq + 1, comma) : NULL;
			if (!k || !v || !*k) {
				*bad = s;
				goto err;
			}
			/* percent-decoding can make any bytes: JSON wants UTF-8 */
			sp_utf8_fix((char *)k);
			sp_utf8_fix((char *)v);
			kv->key[kv->n] = k;
			kv->value[kv->n++] = v;
		}
		s = *comma ? comma + 1 : comma;
	}
	return 0;
err:
	kv->n = 0;
	return -EINVAL;
}

const char *sp_res_kv_get(const struct sp_res_kv *kv, const char *key)
{
	for (int i = kv->n - 1; i >= 0; i--)
		if (!strcmp(kv->key[i], key))
			return kv->value[i];
	return NULL;
}

int sp_resource_defaults_from_env(void)
{
	const char *v = getenv("OTEL_RESOURCE_ATTRIBUTES"), *bad;

	if (v && sp_res_kv_parse(&env_kv, v, &bad)) {
		sp_err("invalid OTEL_RESOURCE_ATTRIBUTES near '%.40s': expected key=value pairs "
		       "separated by commas, values percent-encoded", bad);
		return -EINVAL;
	}
	v = getenv("OTEL_SERVICE_NAME");
	if (v && *v)
		snprintf(env_service, sizeof(env_service), "%s", v);
	return 0;
}

void sp_resource_defaults_reset(void)
{
	memset(&env_kv, 0, sizeof(env_kv));
	env_service[0] = 0;
}

struct sp_resource *sp_resource__new(void)
{
	struct sp_resource *r = calloc(1, sizeof(*r));

	if (r)
		r->refs = 1;
	return r;
}

struct sp_resource *sp_resource__get(struct sp_resource *r)
{
	if (r)
		__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
	return r;
}

void sp_resource__put(struct sp_resource *r)
{
	if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(r);
}

void sp_resource__finish(struct sp_resource *r, const char *own_service_name)
{
	const char *name = own_service_name && *own_service_name ? own_service_name : NULL;

	if (!name)
		name = sp_res_kv_get(&r->extra, "service.name");
	if (!name && env_service[0])
		name = env_service;
	if (!name)
		name = sp_res_kv_get(&env_kv, "service.name");
	if (!name || !*name)
		name = r->exe_name;
	snprintf(r->service_name, sizeof(r->service_name), "%s", name);
	/* names and paths are bytes, cut to fit: make them UTF-8 */
	sp_utf8_fix(r->service_name);
	sp_utf8_fix(r->exe_name);
	sp_utf8_fix(r->exe_path);
	sp_utf8_fix(r->command_line);
}

/* Sets key in out[0..*n), replacing an earlier value. */
static void set_attr(struct sp_res_attr *out, size_t *n, size_t max, const char *key,
		     const char *s, int64_t i)
{
	size_t k;

	for (k = 0; k < *n && strcmp(out[k].key, key); k++)
		;
	if (k == *n) {
		if (*n == max)
			return;
		(*n)++;
	}
	out[k] = (struct sp_res_attr){ .key = key, .s = s, .i = i };
}

size_t sp_resource__attrs(const struct sp_resource *r, struct sp_res_attr *out, size_t max)
{
	size_t n = 0;

	set_attr(out, &n, max, "service.name", r->service_name, 0);
	set_attr(out, &n, max, "process.pid", NULL, r->pid);
	set_attr(out, &n, max, "process.executable.name", r->exe_name, 0);
	set_attr(out, &n, max, "host.name", sp_host_name(), 0);
	for (int i = 0; i < env_kv.n; i++)
		set_attr(out, &n, max, env_kv.key[i], env_kv.value[i], 0);
	for (int i = 0; i < r->extra.n; i++)
		set_attr(out, &n, max, r->extra.key[i], r->extra.value[i], 0);
	/* decided above, whatever the environments said */
	set_attr(out, &n, max, "service.name", r->service_name, 0);
	set_attr(out, &n, max, "telemetry.sdk.name", "spanprobe", 0);
	set_attr(out, &n, max, "telemetry.sdk.version", SPANPROBE_VERSION, 0);
	return n;
}

static char host_name[256];

const char *sp_host_name(void)
{
	if (!host_name[0] && gethostname(host_name, sizeof(host_name) - 1))
		strcpy(host_name, "unknown");
	return host_name;
}

void sp_host_name_set(const char *name)
{
	snprintf(host_name, sizeof(host_name), "%s", name ? name : "");
	sp_utf8_fix(host_name);	/* from a file: not trusted to be UTF-8 */
}
