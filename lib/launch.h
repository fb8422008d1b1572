/* The launcher: everything `layerctl run` decided, and the process tree
 * that carries it out.
 *
 *   caller (host namespaces)      maps ids, makes the cgroup, waits
 *    `- holder (new user, mount, net, uts, ipc namespaces)
 *        |- layerfs daemon        the rootfs; outside the container's
 *        |                        PID namespace and cgroup
 *        `- PID 1 (new pid, cgroup and mount namespaces)
 *            `- the command       (unless --init=false: PID 1 is it) */
#ifndef LAYERFS_LAUNCH_H
#define LAYERFS_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "launch_cgroup.h"
#include "launch_ns.h"
#include "msgbuf.h"

struct volume {
	char *host;            /* absolute host path */
	char *target;          /* path inside the container */
	bool ro;
};

struct launch_spec {
	const char *layerfs;   /* the daemon binary */
	char **lowerdirs;      /* top first */
	size_t nlower;
	const char *cdir;      /* container directory (absolute) */
	char **argv;           /* the command */
	char **env;            /* NULL-terminated KEY=VALUE */
	const char *workdir;   /* NULL: "/" */
	const char *user;      /* NULL: root; "uid[:gid]" or names */
	const char *hostname;
	struct volume *vols;
	size_t nvols;
	char **tmpfs;          /* NULL-terminated container paths */
	bool read_only;
	bool init;             /* a reaping, forwarding PID 1 */
	bool network_host;
	bool tty;              /* stdio is a terminal: make it the controlling one */
	bool remove;           /* delete upper, work, merged on exit */
	const char *etc[3];    /* texts of /etc/hostname, hosts, resolv.conf */
	int stdio[3];          /* the command's stdin, stdout, stderr */
	int tty_sock;          /* with tty: where PID 1 sends the pty master */
	struct winsize ws;     /* with tty: its initial size */
	struct id_plan ids;
	struct cgroup_plan cg; /* where the container's processes go */
};

struct launch {
	pid_t holder;          /* host pid of the namespace holder */
	pid_t init;            /* host pid of the container's PID 1 */
	int status_fd;         /* readable when the container has ended */
	int exit_code;         /* after a failed launch_start: the exit status */
};

/* Start the container described by SPEC.  Returns once its command runs
 * (exec succeeded), with *L describing it.  On failure the message says
 * why and L->exit_code is the status to exit with (126/127 when the
 * command could not be run, 1 otherwise). */
int launch_start(const struct launch_spec *spec, struct launch *l, struct msgbuf *m);
/* Once L->status_fd is readable (or blocking until it is): reap the
 * holder and return the container's exit status (0..255; 128+N when
 * signal N ended it). */
int launch_finish(struct launch *l);

#endif
