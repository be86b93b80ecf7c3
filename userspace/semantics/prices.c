// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>
#include "util/log.h"
#include "semantics/prices.h"
#include "prices_json.h"	/* build/gen: userspace/semantics/prices.json as a string */

#define MAX_MODELS 512

static struct entry {
	char model[96];
	struct sp_price p;
} *table;
static int nmodels;

void sp_prices_free(void)
{
	free(table);
	table = NULL;
	nmodels = 0;
}

static int parse(const char *text, const char *what)
{
	const char *models_path[] = { "models", NULL };
	char err[256];
	yajl_val root = yajl_tree_parse(text, err, sizeof(err)), models;
	struct entry *t;
	int n = 0;

	if (!root) {
		sp_err("cannot read prices from %s: %s", what, err);
		return -EINVAL;
	}
	models = yajl_tree_get(root, models_path, yajl_t_object);
	if (!models) {
		sp_err("cannot read prices from %s: no \"models\" object", what);
		yajl_tree_free(root);
		return -EINVAL;
	}
	t = calloc(MAX_MODELS, sizeof(*t));
	if (!t) {
		yajl_tree_free(root);
		return -ENOMEM;
	}
	for (size_t i = 0; i < models->u.object.len && n < MAX_MODELS; i++) {
		const char *in_path[] = { "input", NULL }, *out_path[] = { "output", NULL };
		yajl_val m = models->u.object.values[i];
		yajl_val in = yajl_tree_get(m, in_path, yajl_t_number);
		yajl_val out = yajl_tree_get(m, out_path, yajl_t_number);

		if (!in || !out || YAJL_GET_DOUBLE(in) < 0 || YAJL_GET_DOUBLE(out) < 0) {
			sp_err("cannot read prices from %s: model \"%s\" needs numbers "
			       "\"input\" and \"output\" (USD per million tokens)",
			       what, models->u.object.keys[i]);
			yajl_tree_free(root);
			free(t);
			return -EINVAL;
		}
		snprintf(t[n].model, sizeof(t[n].model), "%s", models->u.object.keys[i]);
		t[n].p.input = YAJL_GET_DOUBLE(in);
		t[n].p.output = YAJL_GET_DOUBLE(out);
		n++;
	}
	yajl_tree_free(root);
	sp_prices_free();
	table = t;
	nmodels = n;
	return 0;
}

int sp_prices_load(const char *path)
{
	char *text;
	long n;
	FILE *f;
	int err;

	if (!path)
		return parse(prices_json, "the built-in table");
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		sp_err("cannot open prices file %s: %s", path, strerror(-err));
		return err;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if (n < 0 || n > (8 << 20)) {
		fclose(f);
		sp_err("prices file %s is not a readable JSON file under 8 MiB", path);
		return -EINVAL;
	}
	text = malloc(n + 1);
	if (!text || fread(text, 1, n, f) != (size_t)n) {
		free(text);
		fclose(f);
		sp_err("cannot read prices file %s", path);
		return -EIO;
	}
	text[n] = 0;
	fclose(f);
	err = parse(text, path);
	free(text);
	return err;
}

static bool find(const char *model, struct sp_price *out)
{
	for (int i = 0; i < nmodels; i++) {
		if (!strcmp(table[i].model, model)) {
			*out = table[i].p;
			return true;
		}
	}
	return false;
}

/* Length of model without a trailing -YYYY-MM-DD or -YYYYMMDD. */
static size_t undated_len(const char *m)
{
	size_t n = strlen(m);
	int digits = 0;

	/* -YYYY-MM-DD: dashes at n-11, n-6, n-3 */
	if (n > 11 && m[n - 11] == '-' && m[n - 6] == '-' && m[n - 3] == '-') {
		for (size_t i = n - 10; i < n; i++)
			digits += isdigit((unsigned char)m[i]) != 0;
		if (digits == 8)
			return n - 11;
	}
	digits = 0;
	if (n > 9 && m[n - 9] == '-') {
		for (size_t i = n - 8; i < n; i++)
			digits += isdigit((unsigned char)m[i]) != 0;
		if (digits == 8)
			return n - 9;
	}
	return n;
}

bool sp_prices_lookup(const char *model, struct sp_price *out)
{
	char base[96];
	size_t n;

	if (!model || !*model || !table)
		return false;
	n = strlen(model);
	model = sp_model_name(model, &n);
	if (find(model, out))
		return true;
	n = undated_len(model);
	if (n == strlen(model) || n >= sizeof(base))
		return false;
	snprintf(base, sizeof(base), "%.*s", (int)n, model);
	return find(base, out);
}

const char *sp_model_name(const char *s, size_t *n)
{
	if (*n > 7 && !memcmp(s, "models/", 7)) {
		*n -= 7;
		return s + 7;
	}
	return s;
}
