/* The layerctl subcommands: one function each, dispatched by layerctl.c. */
#ifndef LAYERCTL_COMMANDS_H
#define LAYERCTL_COMMANDS_H

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_run(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_wait(int argc, char **argv);

#endif
