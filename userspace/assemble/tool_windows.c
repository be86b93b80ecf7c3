// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/table.h"
#include "assemble/tool_windows.h"

struct agent_wins {
	uint32_t pid;
	uint32_t used;		/* bit i: win[i] is open */
	struct sp_tool_win win[SP_TOOLS_MAX];
};

struct sp_tool_windows {
	struct sp_table *t;
	void (*evict)(void *ctx, struct sp_tool_win *w);
	void *ctx;
	uint64_t dropped;
};

static void on_evict(void *ctx, void *entry)
{
	struct sp_tool_windows *t = ctx;
	struct agent_wins *a = entry;

	for (int i = 0; i < SP_TOOLS_MAX; i++)
		if (a->used & (1u << i) && t->evict)
			t->evict(t->ctx, &a->win[i]);
	a->used = 0;
}

struct sp_tool_windows *sp_tool_windows__new(uint32_t max_agents,
					     void (*evict)(void *ctx, struct sp_tool_win *w),
					     void *ctx)
{
	struct sp_tool_windows *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->evict = evict;
	t->ctx = ctx;
	t->t = sp_table__new(max_agents, sizeof(struct agent_wins), on_evict, t);
	if (!t->t) {
		free(t);
		return NULL;
	}
	return t;
}

void sp_tool_windows__free(struct sp_tool_windows *t)
{
	struct agent_wins *a;
	uint32_t it = 0;

	if (!t)
		return;
	/* the spans of open windows go back through the callback */
	while ((a = sp_table__next(t->t, &it)))
		on_evict(t, a);
	sp_table__free(t->t);
	free(t);
}

struct sp_tool_win *sp_tool_windows__open(struct sp_tool_windows *t, uint32_t pid)
{
	struct agent_wins *a = sp_table__get(t->t, pid, 0);

	if (!a) {
		a = sp_table__add(t->t, pid, 0);
		if (!a) {
			t->dropped++;
			return NULL;
		}
		a->pid = pid;
	}
	for (int i = 0; i < SP_TOOLS_MAX; i++) {
		if (!(a->used & (1u << i))) {
			a->used |= 1u << i;
			memset(&a->win[i], 0, sizeof(a->win[i]));
			return &a->win[i];
		}
	}
	t->dropped++;
	return NULL;
}

struct sp_tool_win *sp_tool_windows__next(struct sp_tool_windows *t, uint32_t pid, int *it)
{
	struct agent_wins *a = sp_table__get(t->t, pid, 0);

	for (; a && *it < SP_TOOLS_MAX; (*it)++)
		if (a->used & (1u << *it))
			return &a->win[(*it)++];
	return NULL;
}

struct sp_tool_win *sp_tool_windows__find(struct sp_tool_windows *t, uint32_t pid,
					  const char *id, const char *name)
{
	struct sp_tool_win *w, *best = NULL;
	int it = 0;

	while ((w = sp_tool_windows__next(t, pid, &it))) {
		if (id && id[0] && !strcmp(w->id, id))
			return w;
		/* by name when the result has no id, or one the model never
		 * gave (Gemini CLI makes up ids for calls that came without) */
		if (name && name[0] && !strcmp(w->name, name) && (!best || w->start < best->start))
			best = w;
	}
	return best;
}

struct sp_tool_win *sp_tool_windows__pick(struct sp_tool_windows *t, uint32_t pid,
					  const char *cmdline, uint64_t ts, bool *by_cmd)
{
	struct sp_tool_win *w, *latest = NULL;
	int it = 0;

	if (by_cmd)
		*by_cmd = false;
	while ((w = sp_tool_windows__next(t, pid, &it))) {
		if (cmdline && w->cmd[0] && strstr(cmdline, w->cmd)) {
			if (by_cmd)
				*by_cmd = true;
			return w;
		}
		/* a call streamed before the response ended may start its
		 * tool early */
		if (w->call_ts <= ts && (!latest || w->start > latest->start))
			latest = w;
	}
	return latest;
}

struct sp_tool_win *sp_tool_windows__for_tool(struct sp_tool_windows *t, uint32_t pid,
					      const char *tool)
{
	size_t tl = tool ? strlen(tool) : 0;
	struct sp_tool_win *w;
	int it = 0;

	if (!tl)
		return NULL;
	while ((w = sp_tool_windows__next(t, pid, &it))) {
		size_t nl = strlen(w->name);

		if (!strcmp(w->name, tool))
			return w;
		/* mcp__{server}__{tool} (Claude Code, Codex) or mcp_{server}_{tool}
		 * (Gemini CLI) */
		if (nl > tl + 5 && !strncmp(w->name, "mcp_", 4) && !strcmp(w->name + nl - tl, tool) &&
		    w->name[nl - tl - 1] == '_')
			return w;
	}
	return NULL;
}

void sp_tool_windows__close(struct sp_tool_windows *t, uint32_t pid, struct sp_tool_win *w)
{
	struct agent_wins *a = sp_table__get(t->t, pid, 0);

	if (!a || w < a->win || w >= a->win + SP_TOOLS_MAX)
		return;
	a->used &= ~(1u << (w - a->win));
	if (!a->used)
		sp_table__del(t->t, a);
}

uint64_t sp_tool_windows__dropped(const struct sp_tool_windows *t)
{
	return t->dropped;
}

/* The JSON string at s (after its opening quote), unescaped into out, up
 * to its end, a quote or a line break in the value. */
static void json_str_prefix(const char *s, const char *end, char *out, size_t cap)
{
	size_t n = 0;

	while (s < end && *s != '"' && n + 1 < cap) {
		char c = *s++;

		if (c == '\\' && s < end) {
			c = *s++;
			/* a quote or newline ends what shows verbatim */
			if (c == 'n' || c == '"' || c == '\'' || c == 't' || c == 'u')
				break;
		}
		if (c == '\'' || c == '\n')
			break;
		out[n++] = c;
	}
	/* trailing blanks do not help a match */
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	return s;
}

/* The value after key ("command": ...) in the top-level object, or NULL. */
static const char *find_key(const char *args, const char *end, const char *key)
{
	size_t kl = strlen(key);

	for (const char *s = args; s + kl + 2 < end; s++) {
		if (*s != '"' || memcmp(s + 1, key, kl) || s[kl + 1] != '"')
			continue;
		s = skip_ws(s + kl + 2, end);
		if (s < end && *s == ':')
			return skip_ws(s + 1, end);
	}
	return NULL;
}

void sp_tool_args_cmd(const char *args, uint32_t len, char *out, size_t cap)
{
	const char *end = args + len, *v = NULL, *last = NULL;

	out[0] = 0;
	if (!args)
		return;
	v = find_key(args, end, "command");
	if (!v)
		v = find_key(args, end, "cmd");
	if (!v || v >= end)
		return;
	if (*v == '"') {
		json_str_prefix(v + 1, end, out, cap);
	} else if (*v == '[') {
		/* ["bash", "-lc", "ls -la"]: the script is the last string */
		for (const char *s = v + 1; s < end && *s != ']'; s++) {
			if (*s != '"')
				continue;
			last = s + 1;
			for (s++; s < end && *s != '"'; s++)
				if (*s == '\\')
					s++;
		}
		if (last)
			json_str_prefix(last, end, out, cap);
	}
	/* too short to tell one command from another */
	if (strlen(out) < 2)
		out[0] = 0;
}
