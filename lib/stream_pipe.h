/* A byte stream produced in a helper thread and consumed in the caller's,
 * a few chunks apart: reading, hashing, keeping and decompressing a layer
 * blob run beside its extraction instead of before each piece of it. */
#ifndef LAYERFS_STREAM_PIPE_H
#define LAYERFS_STREAM_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "errmsg.h"

/* Fill BUF with up to CAP bytes: returns the count, 0 at the end, or
 * -errno with detail in E.  Runs in the helper thread only. */
typedef ssize_t (*spipe_produce_fn)(void *ctx, char *buf, size_t cap, struct errmsg *e);

struct stream_pipe;

int spipe_start(spipe_produce_fn produce, void *ctx, struct stream_pipe **out);
/* The next chunk, valid until the next call; *LEN 0 at the end.  A
 * producer failure comes back here, its detail copied to E. */
int spipe_next(struct stream_pipe *p, const void **buf, size_t *len, struct errmsg *e);
/* Join the helper and free P.  Without CANCEL the producer first runs to
 * the end of its stream (what is left is read and dropped); with it, it
 * stops after its current chunk.  Returns the producer's failure, if any,
 * with detail in E. */
int spipe_finish(struct stream_pipe *p, bool cancel, struct errmsg *e);

#endif
