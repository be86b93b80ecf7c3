/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * LLM prices: model -> USD per million input and output tokens, from the
 * table shipped in userspace/semantics/prices.json (compiled in) or --prices FILE.
 * A model not in the table has no price: spanprobe never guesses one.
 */
#ifndef SP_PRICES_H
#define SP_PRICES_H

#include <stdbool.h>

struct sp_price {
	double input, output;	/* USD per million tokens */
};

/* Loads path, or the built-in table if path is NULL. 0, or -errno after
 * a one-line error. */
int sp_prices_load(const char *path);
/* The price of model: exact name, else without a date suffix
 * ("-2024-07-18", "-20241022") or a "models/" prefix. */
bool sp_prices_lookup(const char *model, struct sp_price *out);
void sp_prices_free(void);

#endif
