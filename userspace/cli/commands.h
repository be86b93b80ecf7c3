/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The subcommands main.c dispatches to; each returns the exit status. */
#ifndef SP_CLI_COMMANDS_H
#define SP_CLI_COMMANDS_H

#include "cli/options.h"

/* spanprobe [OPTIONS] [-- COMMAND], and spanprobe record FILE ... */
int sp_trace_cmd(const struct sp_config *c);
/* spanprobe replay FILE [SINK OPTIONS] */
int sp_replay_cmd(const struct sp_config *c);
/* spanprobe report FILE... [REPORT OPTIONS] */
int sp_report_cmd(int argc, char **argv);

#endif
