/* The layerctl subcommands, one file each (cmd_*.c). */
#ifndef LAYERCTL_COMMANDS_H
#define LAYERCTL_COMMANDS_H

#include "cli.h"

extern const struct command cmd_import, cmd_images, cmd_layers, cmd_inspect,
	cmd_tag, cmd_untag, cmd_rm, cmd_gc, cmd_verify;

#endif
