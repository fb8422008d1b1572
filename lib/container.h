/* Container directories: STORE/containers/<id>/ (docs/CONTAINERS.md). */
#ifndef LAYERFS_CONTAINER_H
#define LAYERFS_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "launch_ns.h"
#include "msgbuf.h"

struct container_record {
	char *id;              /* 64 hex digits */
	char *name;
	char *image;           /* manifest digest, or NULL for --rootfs */
	char *image_id;        /* config digest, or NULL */
	char *image_name;      /* as the user typed it, or NULL */
	char *rootfs;          /* --rootfs directory, or NULL */
	char **lowerdirs;      /* top first */
	char **command;
	int64_t created;       /* seconds since the epoch */
};

/* The store root: ROOT_OPT, else $LAYERCTL_ROOT, else
 * $XDG_DATA_HOME/layerctl (~/.local/share/layerctl), /var/lib/layerctl
 * for root (store_default_root()). */
int store_root(const char *root_opt, char **out);
/* Make a new container directory with a fresh id: *ID and *CDIR. */
int container_create(const char *root, char **id, char **cdir, struct msgbuf *m);
int container_write_record(const char *cdir, const struct container_record *r);
int container_read_record(const char *cdir, struct container_record *r);
void container_record_free(struct container_record *r);
/* The directory of the container REF (id, unique id prefix or name). */
int container_find(const char *root, const char *ref, char **cdir, struct msgbuf *m);
/* Is NAME already used by a container of ROOT? */
bool container_name_taken(const char *root, const char *name);
/* Remove upper/, work/ and merged/ (as root of the container's user
 * namespace, which owns whatever the container wrote). */
int container_remove_layers(const char *cdir);
/* Remove the whole directory, entering a user namespace mapped by IDS
 * when the container's files are not all the caller's. */
int container_remove(const char *cdir, const struct id_plan *ids, struct msgbuf *m);

/* Run state: the monitor holds an exclusive flock on CDIR/lock while the
 * container runs; CDIR/pid holds "MONITOR INIT"; CDIR/exit the status. */
enum container_state { CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED };
int container_lock(const char *cdir, int *fd);
int container_state(const char *cdir, int *exit_code, pid_t *monitor, pid_t *init);
int container_write_text(const char *cdir, const char *file, const char *text);

#endif
