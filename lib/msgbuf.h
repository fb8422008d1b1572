/* A message buffer: lib/ functions never print; on failure they return
 * -errno and may leave a sentence here for the command to print. */
#ifndef LAYERFS_MSGBUF_H
#define LAYERFS_MSGBUF_H

#include <stddef.h>

struct msgbuf {
	char text[1024];
};

/* Set the message (printf style); always returns -ERR so a caller can
 * `return msg_fail(m, -errno, "...")`. A NULL M is allowed. */
int msg_fail(struct msgbuf *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The message, or strerror(-ERR) when none was set. */
const char *msg_text(const struct msgbuf *m, int err);

#endif
