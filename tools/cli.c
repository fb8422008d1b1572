/* Shared command-line plumbing of layerctl (see cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"

struct cli_globals cli;

int cli_parse(const struct command *cmd, int argc, char **argv, const struct cli_flag *flags)
{
	struct option opts[16] = {
		{ "root", required_argument, NULL, 'R' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
	};
	char shorts[32] = "+hq";
	size_t n = 3;
	for (size_t k = 0; flags && flags[k].name && n + 1 < ARRAY_SIZE(opts); k++, n++) {
		/* Flags answer with 0x100 + their index, or their short letter. */
		int val = flags[k].shortopt ? flags[k].shortopt : 0x100 + (int)k;
		opts[n] = (struct option){ flags[k].name, no_argument, NULL, val };
		if (flags[k].shortopt && strlen(shorts) + 2 < sizeof(shorts))
			strncat(shorts, &flags[k].shortopt, 1);
	}
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			cli.root = optarg;
			continue;
		case 'q':
			cli.quiet = true;
			continue;
		case 'h':
			fputs(cmd->usage, stdout);
			return 0;
		case '?':
			fprintf(stderr, "Try 'layerctl %s --help'.\n", cmd->name);
			return EXIT_USAGE;
		default:
			break;
		}
		for (size_t k = 0; flags && flags[k].name; k++)
			if (c == (flags[k].shortopt ? flags[k].shortopt : 0x100 + (int)k))
				*flags[k].set = true;
	}
	return -1;
}

int cli_session_open(struct cli_session *cs, int lock, bool want_index, const char *what)
{
	memset(cs, 0, sizeof(*cs));
	if (cli_open_store(true, &cs->s))
		return 1;
	struct errmsg e = { { 0 } };
	int r = store_lock(cs->s, lock, &e);
	if (r == 0)
		r = images_load(cs->s, &cs->images, &e);
	if (r == 0 && want_index)
		r = store_read_index(cs->s, &cs->index, &e);
	if (r < 0) {
		cli_session_close(cs);
		return cli_fail("cannot %s: %s", what, err_text(&e, r));
	}
	return 0;
}

void cli_session_close(struct cli_session *cs)
{
	images_free(&cs->images);
	json_free(cs->index);
	store_close(cs->s);
	memset(cs, 0, sizeof(*cs));
}

int cli_usage_error(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "layerctl %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'layerctl %s --help'.\n", cmd->name);
	return EXIT_USAGE;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("layerctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	fputs("layerctl: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_open_store(bool create, struct store **s)
{
	_cleanup_free_ char *root = NULL;
	int r = store_default_root(cli.root, &root);
	if (r < 0)
		return cli_fail("cannot find the store directory: %s", strerror(-r));
	struct errmsg e = { { 0 } };
	r = store_open(root, create, s, &e);
	if (r < 0)
		return cli_fail("%s", err_text(&e, r));
	return 0;
}

bool cli_stdout_tty(void)
{
	static int tty = -1;
	if (tty < 0)
		tty = isatty(STDOUT_FILENO);
	return tty;
}

static const char *human(uint64_t bytes, char buf[32])
{
	static const char *units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, 32, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, 32, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
	return buf;
}

const char *cli_size(uint64_t bytes, char buf[32])
{
	if (cli_stdout_tty())
		return human(bytes, buf);
	snprintf(buf, 32, "%llu", (unsigned long long)bytes);
	return buf;
}

const char *cli_short_id(const char *digest, char buf[16])
{
	const char *hex = digest && !strncmp(digest, "sha256:", 7) ? digest + 7 : digest ? digest : "";
	snprintf(buf, 16, "%.12s", hex);
	return buf;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_update(void *arg, uint64_t bytes)
{
	struct cli_progress *p = arg;
	if (cli.quiet || !isatty(STDERR_FILENO))
		return;
	double t = now();
	if (!p->start)
		p->start = t;
	/* Ten updates a second at most, and none for quick imports. */
	if (t - p->last < 0.1 || t - p->start < 0.5)
		return;
	p->last = t;
	double rate = (double)bytes / (t - p->start);
	char a[32], b[32], c[32];
	fprintf(stderr, "\r\033[K%s", human(bytes, a));
	if (p->total)
		fprintf(stderr, " of %s", human(p->total, b));
	fprintf(stderr, "  %s/s", human((uint64_t)rate, c));
	if (p->total && rate > 0 && bytes <= p->total) {
		unsigned eta = (unsigned)((double)(p->total - bytes) / rate);
		fprintf(stderr, "  eta %u:%02u", eta / 60, eta % 60);
	}
	p->shown = true;
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = false;
}

int cli_print_json(const struct json *j)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = json_write(j, 2, &sb);
	if (r < 0)
		return cli_fail("cannot format json: %s", strerror(-r));
	fwrite(sb.s, 1, sb.len, stdout);
	fputc('\n', stdout);
	return 0;
}
