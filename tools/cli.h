/* Shared command-line plumbing of layerctl: options every command takes,
 * exit codes, messages, sizes and the progress line. */
#ifndef LAYERCTL_CLI_H
#define LAYERCTL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "store.h"

#define EXIT_USAGE 2

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;     /* full --help text */
};

struct cli_globals {
	const char *root;
	bool quiet;
};
extern struct cli_globals cli;

/* Options every command accepts, for getopt_long tables. */
#define CLI_COMMON_OPTS \
	{ "root", required_argument, NULL, 'R' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "help", no_argument, NULL, 'h' }

/* Handle a common option C for command CMD: returns -1 when C is not one,
 * else the exit code to return now (0 after --help) or -2 to go on. */
int cli_common_opt(const struct command *cmd, int c, const char *arg);
int cli_usage_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One lowercase line on stderr; returns 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Open the store (creating it when CREATE); prints the error itself. */
int cli_open_store(bool create, struct store **s);

/* Sizes: human-readable on a terminal, plain bytes otherwise. */
const char *cli_size(uint64_t bytes, char buf[32]);
bool cli_stdout_tty(void);
const char *cli_short_id(const char *digest, char buf[16]);

/* Progress line on stderr (only on a terminal and without --quiet). */
struct cli_progress {
	uint64_t total;       /* 0 when unknown */
	double start, last;
	bool shown;
};
void cli_progress_update(void *arg, uint64_t bytes);
void cli_progress_end(struct cli_progress *p);

/* Print a JSON tree on stdout, pretty. */
int cli_print_json(const struct json *j);

#endif
