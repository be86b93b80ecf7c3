/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tool windows: the tool calls a model asked an agent to make, from the end
 * of the response that asked (or the moment the call was streamed) to the
 * request that sends the result back. Span assembly (span_asm.c) makes an
 * execute_tool span of each and nests under it what the agent does inside
 * the window; this file only keeps the books: which windows each agent has
 * open, and which one a subprocess or a call belongs to.
 *
 * Bounded: SP_TOOLS_MAX open windows per agent (more are counted and get
 * no span), max_agents agents (the least recently active is evicted, its
 * windows handed to the evict callback to be ended).
 */
#ifndef SP_TOOL_WINDOWS_H
#define SP_TOOL_WINDOWS_H

#include <stdbool.h>
#include <stdint.h>
#include "semantics/body_sub.h"

struct sp_span;

struct sp_tool_win {
	char id[96];
	char name[128];
	/* what it runs, if its arguments name a command ("command", "cmd"):
	 * the part a subprocess's command line must contain to be its own */
	char cmd[160];
	struct sp_span *span;	/* the open span; span assembly owns it */
	/* a second conversation the agent held inside this window (a Task
	 * tool's sub-agent): its invoke_agent span, owned likewise, and the
	 * conversation */
	struct sp_span *sub_agent;
	uint64_t sub_conv;
	uint64_t call_ts;	/* the model streamed the call (CLOCK_MONOTONIC) */
	uint64_t start;		/* the window opened */
};

struct sp_tool_windows;

/* evict: called on each open window of an agent evicted to make room. */
struct sp_tool_windows *sp_tool_windows__new(uint32_t max_agents,
					     void (*evict)(void *ctx, struct sp_tool_win *w),
					     void *ctx);
/* Hands every open window to evict first. Accepts NULL. */
void sp_tool_windows__free(struct sp_tool_windows *t);
/* A free window of agent pid for the caller to fill, or NULL (counted). */
struct sp_tool_win *sp_tool_windows__open(struct sp_tool_windows *t, uint32_t pid);
/* The open window a result answers: by call id, else by tool name (the
 * oldest such: a result without an id, or with one its agent made up for
 * a call that had none). NULL if none. */
struct sp_tool_win *sp_tool_windows__find(struct sp_tool_windows *t, uint32_t pid,
					  const char *id, const char *name);
/*
 * Which open window of agent pid a subprocess or call at ts belongs to:
 * the one whose command the command line cmdline contains (cmdline may be
 * NULL), else the latest opened at or before ts. NULL if none. *by_cmd
 * (may be NULL) says whether the command matched.
 */
struct sp_tool_win *sp_tool_windows__pick(struct sp_tool_windows *t, uint32_t pid,
					  const char *cmdline, uint64_t ts, bool *by_cmd);
/* The open window of pid for a tool named tool: exactly, or as agents
 * name MCP tools: mcp__{server}__{tool} (Claude Code, Codex) or
 * mcp_{server}_{tool} (Gemini CLI). NULL if none. */
struct sp_tool_win *sp_tool_windows__for_tool(struct sp_tool_windows *t, uint32_t pid,
					      const char *tool);
/* The window is answered or ended: its slot is free again. */
void sp_tool_windows__close(struct sp_tool_windows *t, uint32_t pid, struct sp_tool_win *w);
/* Open windows of pid in turn: start with *it = 0. */
struct sp_tool_win *sp_tool_windows__next(struct sp_tool_windows *t, uint32_t pid, int *it);
uint64_t sp_tool_windows__dropped(const struct sp_tool_windows *t);

/* The command a tool's JSON arguments name ("command": "ls -la", or the
 * last element of "command": ["bash", "-lc", "ls"]; "cmd" likewise), cut
 * at its first quote or line break: what shows verbatim in the command
 * line of the process it starts. "" if none. */
void sp_tool_args_cmd(const char *args, uint32_t len, char *out, size_t cap);

#endif
