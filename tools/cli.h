/* Shared command-line plumbing of layerctl: options every command takes,
 * exit codes, messages, sizes and the progress line. */
#ifndef LAYERCTL_CLI_H
#define LAYERCTL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "images.h"
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

/* A boolean option of one command (--NAME, or -SHORT when not 0). */
struct cli_flag {
	const char *name;
	char shortopt;
	bool *set;
};

/* Parse the options of CMD: --root, --quiet, --help and FLAGS (ended by
 * a NULL name, or FLAGS NULL).  Returns -1 with optind at the first
 * operand, or the exit code to return now (0 after --help, 2 on bad
 * usage). */
int cli_parse(const struct command *cmd, int argc, char **argv, const struct cli_flag *flags);

/* What most commands work on: the store, locked, and its images. */
struct cli_session {
	struct store *s;
	struct image_list images;
	struct json *index;        /* only when asked for */
};
/* Open the store, lock it (LOCK_SH or LOCK_EX), load the images and, with
 * WANT_INDEX, index.json.  On failure prints "cannot WHAT: reason" and
 * returns 1. */
int cli_session_open(struct cli_session *cs, int lock, bool want_index, const char *what);
void cli_session_close(struct cli_session *cs);
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
