// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spanprobe: turns what processes do on the wire into spans, without
 * touching them. Kernel probes (bpf/) -> ring buffer (kernel/loader.c) ->
 * pipeline (decoders, span assembly) -> exporters.
 *
 * This file only picks the subcommand: options.c parses, trace_cmd.c and
 * replay_cmd.c run.
 */
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"
#include "cli/options.h"
#include "util/log.h"

/* "record FILE ..." and "replay FILE ...": the FILE, or NULL after an error */
static const char *cmd_file(int argc, char **argv)
{
	if (argc < 3 || !argv[2][0] || argv[2][0] == '-') {
		sp_err("%s needs a FILE: spanprobe %s FILE [OPTIONS]%s (see spanprobe --help)",
		       argv[1], argv[1], strcmp(argv[1], "record") ? "" : " [-- COMMAND]");
		return NULL;
	}
	return argv[2];
}

int main(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	struct sp_config c;
	int err;

	if (!strcmp(sub, "help")) {
		sp_config_usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "report"))
		return sp_report_cmd(argc - 1, argv + 1);
	if (!strcmp(sub, "record") || !strcmp(sub, "replay")) {
		bool replay = sub[2] == 'p';
		const char *file = cmd_file(argc, argv);

		if (!file)
			return 1;
		sp_config_init(&c, replay ? SP_CMD_REPLAY : SP_CMD_TRACE);
		if (replay)
			c.replay = file;
		else
			c.record = file;
		/* argv[2], the FILE, stands where getopt expects the program name */
		err = sp_config_parse(&c, argc - 2, argv + 2);
	} else {
		sp_config_init(&c, SP_CMD_TRACE);
		err = sp_config_parse(&c, argc, argv);
	}
	if (err)
		return err > 0 ? 0 : 1;
	if (sp_config_load_env(&c))
		return 1;
	return c.cmd == SP_CMD_REPLAY ? sp_replay_cmd(&c) : sp_trace_cmd(&c);
}
