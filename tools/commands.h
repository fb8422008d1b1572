/* The layerctl subcommands, one file each (cmd_*.c). */
#ifndef LAYERCTL_COMMANDS_H
#define LAYERCTL_COMMANDS_H

#include "cli.h"

/* Image store commands (parse their options with cli_parse). */
extern const struct command cmd_import, cmd_images, cmd_layers, cmd_inspect,
	cmd_tag, cmd_untag, cmd_rm, cmd_gc, cmd_verify;
extern const struct command cmd_dedupe;
extern const struct command cmd_export;

/* Container commands (parse their own options). */
int cmd_run(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_rm_containers(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_squash(int argc, char **argv);

/* diff's output (tools/cmd_diff.c); images through the store (B NULL: what
 * A's top layer changes). */
struct diff_line;
int diff_print(const struct diff_line *v, size_t n, bool json);
int diff_images(const char *a, const char *b, bool json);

#endif
