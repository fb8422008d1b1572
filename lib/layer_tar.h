/* A layer tar generated from a change set, read as a stream of (compressed)
 * bytes: the pull-style source layer_import() reads, so the blob, its
 * DiffID and the extracted layer come out of one pass.
 *
 * Deterministic: entries in path order, PAX restricted format carrying
 * only SCHILY.xattr.* records, numeric owners without names, no atime or
 * ctime, whiteout and opaque markers with mtime 0, gzip without a name or
 * time in its header.  With a clamp every mtime above it becomes it.
 *
 * Deletions become ".wh.NAME", a directory hiding the image's contents
 * gets ".wh..wh..opq", files listed with a hardlink are hardlinks,
 * sockets are left out (a tar cannot hold them). */
#ifndef LAYERFS_LAYER_TAR_H
#define LAYERFS_LAYER_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "errmsg.h"

enum tar_compress { TAR_GZIP, TAR_ZSTD, TAR_NONE };

struct tar_opts {
	enum tar_compress compress;
	bool clamp;
	int64_t timestamp;      /* with CLAMP: the latest time written */
};

struct tar_gen;

/* Parse "gzip", "zstd" or "none". */
int tar_compress_parse(const char *s, enum tar_compress *out);

/* CS must outlive the generator. */
int tar_gen_new(const struct change_set *cs, const struct tar_opts *o, struct tar_gen **out,
		struct errmsg *e);
/* The next bytes (valid until the next call); *LEN 0 at the end. */
int tar_gen_next(void *gen, const void **buf, size_t *len, struct errmsg *e);
void tar_gen_free(struct tar_gen *g);

/* Run G on a helper thread (spipe_finish() joins it): compression then
 * overlaps with what the reader does with the bytes.  tar_pipe_next reads
 * them (a byte_source's NEXT with the pipe as its context). */
struct stream_pipe;
int tar_gen_start(struct tar_gen *g, struct stream_pipe **out);
int tar_pipe_next(void *pipe, const void **buf, size_t *len, struct errmsg *e);

#endif
