/* The last steps before the command runs: user, environment, working
 * directory, session, capabilities, no_new_privs, fds, exec. */
#ifndef LAYERFS_LAUNCH_EXEC_H
#define LAYERFS_LAUNCH_EXEC_H

#include "launch.h"

/* The command's PATH when its environment has none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Resolve "USER[:GROUP]" (names or ids) against the root's /etc/passwd
 * and /etc/group. */
int user_resolve(const char *spec, uid_t *uid, gid_t *gid, char **home, struct msgbuf *m);
/* Become the command (never returns on success).  KEEP_FD survives until
 * the exec (it is close-on-exec).  The result's sign is -errno, and the
 * exit status the process should end with is set in *STATUS. */
int exec_command(const struct launch_spec *s, int keep_fd, int *status, struct msgbuf *m);

#endif
