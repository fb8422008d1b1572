/* gzip on several threads, byte for byte the same whatever their number:
 * fixed 1 MiB blocks, each deflated with the previous block's last 32 KiB
 * as its dictionary (pigz's scheme), one deflate stream in the end; the
 * header has no name and no time. */
#ifndef LAYERFS_PGZIP_H
#define LAYERFS_PGZIP_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

struct pgzip;

int pgzip_new(int level, unsigned threads, struct pgzip **out);
/* Compress LEN bytes; what is compressed by now is appended to OUT. */
int pgzip_write(struct pgzip *z, const void *data, size_t len, struct strbuf *out);
/* The rest, and the trailer. */
int pgzip_finish(struct pgzip *z, struct strbuf *out);
void pgzip_free(struct pgzip *z);

#endif
