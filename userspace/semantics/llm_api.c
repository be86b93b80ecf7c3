// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which API a request is for, from its method and path alone (never the
 * host: a proxy, a gateway or a local server serve the same APIs), and
 * the registry of the providers' tables, indexed by path hash.
 */
#include <errno.h>
#include <string.h>
#include "util/log.h"
#include "util/url.h"
#include "semantics/llm_internal.h"

#define LLM_MAX_APIS	32

#define LLM_ENTRY(name) &llm_##name,
static const struct llm_provider *const providers[] = { LLM_PROVIDERS(LLM_ENTRY) };
#undef LLM_ENTRY

/* Built on first use; sp_llm_reset() clears it. */
static struct llm_reg reg[LLM_MAX_APIS];
static int nreg;
static int built;	/* 0: not yet, 1: built, -errno: failed */

static int index_add(struct llm_index *ix, const struct llm_table *t, const char *what)
{
	unsigned used = 0;

	for (unsigned i = 0; i < LLM_SLOTS; i++)
		used += ix->e[i] != NULL;
	for (unsigned k = 0; k < t->n; k++) {
		const struct llm_path *e = &t->p[k];
		uint32_t h = jw_hash(e->path, strlen(e->path));
		unsigned i = h & (LLM_SLOTS - 1);

		if (++used > LLM_SLOTS / 2) {
			sp_err("LLM tables: %s has more than %d paths", what, LLM_SLOTS / 2);
			return -E2BIG;
		}
		/* once, or once per record type */
		if (llm_find_in(ix, h, e->path, e->when)) {
			sp_err("LLM tables: %s lists \"%s\" twice", what, e->path);
			return -EEXIST;
		}
		while (ix->e[i])
			i = (i + 1) & (LLM_SLOTS - 1);
		ix->e[i] = e;
		ix->hash[i] = h;
	}
	return 0;
}

static int build(void)
{
	memset(reg, 0, sizeof(reg));
	nreg = 0;
	for (size_t p = 0; p < sizeof(providers) / sizeof(providers[0]); p++) {
		for (unsigned a = 0; a < providers[p]->napis; a++) {
			const struct llm_api *api = &providers[p]->apis[a];
			struct llm_reg *r = &reg[nreg];
			int err = 0;

			if (nreg == LLM_MAX_APIS) {
				sp_err("LLM tables: more than %d APIs", LLM_MAX_APIS);
				return -E2BIG;
			}
			/* ids are positions: the public names must match theirs */
			if (api->id && (int)api->id != nreg + 1) {
				sp_err("LLM tables: %s is API %d, listed at %d (LLM_PROVIDERS order)",
				       api->name, api->id, nreg + 1);
				return -EINVAL;
			}
			r->api = api;
			r->prov = providers[p];
			for (int t = 0; t < LLM_MAX_TABLES && !err; t++) {
				err = index_add(&r->req, &api->req[t], api->name);
				if (!err)
					err = index_add(&r->resp, &api->resp[t], api->name);
			}
			if (err)
				return err;
			nreg++;
		}
	}
	return 0;
}

int sp_llm_init(void)
{
	if (!built) {
		built = build();
		if (!built)
			built = 1;
	}
	return built < 0 ? built : 0;
}

void sp_llm_reset(void)
{
	memset(reg, 0, sizeof(reg));
	nreg = 0;
	built = 0;
}

const struct llm_reg *llm_reg_of(enum sp_llm_api id)
{
	if (sp_llm_init() || (int)id < 1 || (int)id > nreg)
		return NULL;
	return &reg[id - 1];
}

static bool ends_with(const char *s, size_t n, const char *suffix, size_t *k)
{
	*k = strlen(suffix);
	return n >= *k && !memcmp(s + n - *k, suffix, *k);
}

/* Gemini: ".../models/{model}:{verb}"; the model is copied. */
static enum sp_llm_api by_verb(const char *path, const char *colon, const char *end, char *model,
			       size_t cap)
{
	const char *m = memmem(path, colon - path, "/models/", 8);
	const char *verb = colon + 1;

	if (!m)
		return SP_LLM_NONE;
	m += 8;
	for (int i = 0; i < nreg; i++) {
		for (int k = 0; k < LLM_MAX_ROUTES; k++) {
			const struct llm_route *r = &reg[i].api->routes[k];

			if (r->kind != LR_MODEL_VERB || strlen(r->s) != (size_t)(end - verb) ||
			    memcmp(verb, r->s, end - verb))
				continue;
			if (cap)
				llm_copy(model, cap, m, colon - m);
			return i + 1;
		}
	}
	return SP_LLM_NONE;
}

enum sp_llm_api sp_llm_api_of(const char *method, const char *target, char *model, size_t cap)
{
	size_t n, best = 0;
	const char *path, *colon, *dep;
	enum sp_llm_api api = SP_LLM_NONE;

	if (cap)
		model[0] = 0;
	if (strcmp(method, "POST") || sp_llm_init())
		return SP_LLM_NONE;
	/* origin-form, or absolute-form through a proxy */
	path = sp_url_path(target, &n);
	colon = memchr(path, ':', n);
	if (colon && memmem(path, colon - path, "/models/", 8))
		return by_verb(path, colon, path + n, model, cap);
	/* Azure OpenAI: /openai/deployments/{deployment}/... names the model */
	dep = memmem(path, n, "/deployments/", 13);
	if (dep && cap) {
		const char *d = dep + 13, *e = memchr(d, '/', path + n - d);

		llm_copy(model, cap, d, (e ? e : path + n) - d);
	}
	/* under any prefix (/v1, /openai/v1, /api/v1 for OpenRouter): the
	 * longest suffix wins ("/api/embeddings" over "/embeddings") */
	for (int i = 0; i < nreg; i++) {
		for (int k = 0; k < LLM_MAX_ROUTES; k++) {
			const struct llm_route *r = &reg[i].api->routes[k];
			size_t len;

			if ((r->kind == LR_SUFFIX || (r->kind == LR_DEPLOYMENT_SUFFIX && dep)) &&
			    ends_with(path, n, r->s, &len) && len > best) {
				best = len;
				api = i + 1;
			}
		}
	}
	return api;
}
