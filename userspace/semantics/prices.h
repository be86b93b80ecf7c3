/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * LLM prices: model -> USD per million input and output tokens, from the
 * table shipped in userspace/semantics/prices.json (compiled in) or --prices FILE.
 * A model not in the table has no price: spanprobe never guesses one.
 */
#ifndef SP_PRICES_H
#define SP_PRICES_H

#include <stdbool.h>
#include <stddef.h>

struct sp_price {
	double input, output;	/* USD per million tokens */
};

/* Loads path, or the built-in table if path is NULL, in place of the
 * table loaded before. 0, or -errno after a one-line error (the table
 * loaded before stays). */
int sp_prices_load(const char *path);
/* The price of model: exact name, else without a date suffix
 * ("-2024-07-18", "-20241022") or a "models/" prefix. */
bool sp_prices_lookup(const char *model, struct sp_price *out);
/* Forgets the table (no model has a price until the next load); safe to
 * call at any time, and again. */
void sp_prices_free(void);

/* A model's name without the "models/" of a Gemini resource name
 * ("models/gemini-2.0-flash"): a view into s, *n its length in and out. */
const char *sp_model_name(const char *s, size_t *n);

#endif
