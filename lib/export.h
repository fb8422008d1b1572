/* `layerctl export`: one image of the store in the formats other tools
 * read: an OCI image layout directory, the same as a tar (oci-archive),
 * or a docker-save archive (docker-archive).
 *
 * Blobs are copied as they are stored, never changed (reflink or
 * copy_file_range where the file system allows); only docker-archive
 * layers are written uncompressed, as docker load needs, which keeps the
 * config (and so the image id) unchanged: its diff_ids are then the
 * layers' digests.  The output is built beside PATH and renamed into place
 * at the end; the same image always gives the same bytes. */
#ifndef LAYERFS_EXPORT_H
#define LAYERFS_EXPORT_H

#include <stdbool.h>

#include "errmsg.h"
#include "images.h"
#include "store.h"

enum export_format { EXPORT_OCI, EXPORT_OCI_ARCHIVE, EXPORT_DOCKER_ARCHIVE };

/* "oci", "oci-archive" or "docker-archive"; -EINVAL otherwise. */
int export_format_parse(const char *name, enum export_format *out);

struct export_opts {
	enum export_format format;
	const char *path;          /* output; "-" is standard output (archives) */
	char *const *refs;         /* names to record, NULL-terminated */
};

/* Export IMG of store S.  Hold the store's shared lock (blobs must not go
 * away).  Nothing is left at PATH on failure. */
int export_image(struct store *s, const struct image_info *img, const struct export_opts *o,
		 struct errmsg *e);

/* ---- shared by the format writers (export*.c) ---- */

struct tar_writer;

/* The OCI index.json naming the image by REFS (one descriptor each). */
int export_oci_index(const struct image_info *img, int64_t manifest_size, char *const *refs,
		     struct strbuf *out);
/* Open blob DIGEST of the store read-only; its size in *SIZE. */
int export_open_blob(struct store *s, const char *digest, uint64_t *size, struct errmsg *e);
/* The docker-archive format. */
int export_docker_archive(struct store *s, const struct image_info *img, char *const *refs,
			  struct tar_writer *w, struct errmsg *e);

#endif
