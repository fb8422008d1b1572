/* Volumes (-v HOST:CONTAINER[:ro]) and --tmpfs mounts. */
#ifndef LAYERFS_LAUNCH_VOLUMES_H
#define LAYERFS_LAUNCH_VOLUMES_H

#include "launch.h"

/* Parse "HOST:CONTAINER[:ro|:rw]" (HOST made absolute). */
int volume_parse(const char *arg, struct volume *out, struct msgbuf *m);
void volume_free(struct volume *v);
/* Mount S's volumes and tmpfs paths inside ROOTFD. */
int volumes_mount(const struct launch_spec *s, int rootfd, struct msgbuf *m);

#endif
