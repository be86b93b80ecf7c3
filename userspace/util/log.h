/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Leveled logging to stderr; stdout is for data the user asked for. */
#ifndef SP_LOG_H
#define SP_LOG_H

enum sp_log_level {
	SP_LOG_ERROR = 0,
	SP_LOG_WARN,
	SP_LOG_INFO,
	SP_LOG_DEBUG,
};

/* Messages above this level are dropped; -v raises it to SP_LOG_DEBUG. */
extern int sp_log_level;

void sp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The live run's status line: one line on stderr (a terminal: the caller
 * decides), redrawn in place. Every other write to the terminal (sp_log,
 * the console tree) clears it first with sp_status_clear, so the line
 * never garbles what is printed; the next redraw brings it back. Safe from
 * any thread.
 */
void sp_status_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sp_status_clear(void);

#include <stdint.h>

/*
 * Parses a whole number from min to max for a flag or variable called
 * what: 0, or -EINVAL after a one-line error naming what and the value.
 */
int sp_parse_u32(const char *what, const char *v, uint32_t min, uint32_t max, uint32_t *out);

#define sp_err(...)	sp_log(SP_LOG_ERROR, __VA_ARGS__)
#define sp_warn(...)	sp_log(SP_LOG_WARN, __VA_ARGS__)
#define sp_info(...)	sp_log(SP_LOG_INFO, __VA_ARGS__)
#define sp_dbg(...)	sp_log(SP_LOG_DEBUG, __VA_ARGS__)

#endif
