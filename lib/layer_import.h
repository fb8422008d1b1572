/* Import one layer blob from a byte stream, in one pass: the raw bytes are
 * hashed (blob digest) and kept as the blob, decompressed on the fly and
 * hashed again (DiffID), and the tar extracted into a new temp layer
 * directory holding tree/ and layer.json. */
#ifndef LAYERFS_LAYER_IMPORT_H
#define LAYERFS_LAYER_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "errmsg.h"
#include "json.h"

/* A pull-style stream of bytes: NEXT sets *LEN = 0 at the end. */
struct byte_source {
	int (*next)(void *ctx, const void **buf, size_t *len, struct errmsg *e);
	void *ctx;
};

struct progress {
	void (*fn)(void *arg, uint64_t bytes);   /* bytes read so far */
	void *arg;
};

struct layer_result {
	char blob_digest[DIGEST_STR_LEN + 1];
	char diff_id[DIGEST_STR_LEN + 1];
	uint64_t blob_size;
	uint64_t tar_size;
	const char *media_type;     /* MT_OCI_LAYER[+gzip|+zstd] */
	char dir[32];               /* temp layer directory (tree/, layer.json);
				       empty when the store has the layer */
	char blob[32];              /* temp blob file, or empty when not kept */
	uint64_t files;
	uint64_t bytes;
};

/* Sniff the compression of a blob from its first bytes: "gzip", "zstd",
 * "bzip2", "xz" or NULL (plain). */
const char *sniff_compression(const unsigned char *p, size_t len);
/* True when P (at least 512 bytes) starts like a tar header. */
bool sniff_tar_header(const unsigned char *p, size_t len);

struct archive;
/* Enable on A the decompressors an input may use: gzip and zstd (layers),
 * and for whole image archives also bzip2 and xz.  Never libarchive's
 * "all", which runs external programs (lrzip, lzop, grzip...) on bytes
 * that merely start with their magic. */
void archive_support_filters(struct archive *a, bool image_archive);

/* Import from SRC into temp directory TMPFD; LABEL names the blob in
 * messages; SEQ makes the temp names unique within TMPFD. */
int layer_import(struct byte_source *src, int tmpfd, const char *label, unsigned seq,
		 struct layer_result *res, struct errmsg *e);

/* Read a layer the store already holds: hash it (blob digest, DiffID)
 * without extracting it.  With KEEP_BLOB the raw bytes are kept as the temp
 * blob RES->blob (a new compression of the layer, or the input to extract
 * after all when the DiffID is not the one expected); RES->dir stays
 * empty. */
int layer_hash_only(struct byte_source *src, int tmpfd, const char *label, unsigned seq,
		    bool keep_blob, struct layer_result *res, struct errmsg *e);

/* The layer.json record for RES plus its entries (moved from ENTRIES). */
int layer_record_new(const struct layer_result *res, struct json *entries, struct json **out);

#endif
