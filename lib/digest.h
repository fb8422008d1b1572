/* sha256 digests (OpenSSL EVP) in the OCI "sha256:<64 hex>" form. */
#ifndef LAYERFS_DIGEST_H
#define LAYERFS_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_HEX_LEN 64
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN)   /* "sha256:" + hex */

struct hasher {
	void *ctx;        /* EVP_MD_CTX */
	uint64_t bytes;
};

int hasher_init(struct hasher *h);
void hasher_update(struct hasher *h, const void *data, size_t len);
/* Writes "sha256:<hex>" (DIGEST_STR_LEN + 1 bytes) and resets nothing. */
void hasher_final(struct hasher *h, char out[DIGEST_STR_LEN + 1]);
void hasher_free(struct hasher *h);
static inline void cleanup_hasher(struct hasher *h) { hasher_free(h); }
#define _cleanup_hasher_ __attribute__((cleanup(cleanup_hasher)))

/* One-shot digest of a buffer. */
int digest_buffer(const void *data, size_t len, char out[DIGEST_STR_LEN + 1]);
/* Digest of everything readable from FD (from its current offset). */
int digest_fd(int fd, char out[DIGEST_STR_LEN + 1], uint64_t *size);

/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
bool digest_valid(const char *d);
/* The hex part of a valid digest. */
static inline const char *digest_hex(const char *d) { return d + 7; }

#endif
