/* sha256 through OpenSSL EVP (see digest.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "digest.h"

int hasher_init(struct hasher *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -EIO;
	}
	h->ctx = ctx;
	h->bytes = 0;
	return 0;
}

void hasher_update(struct hasher *h, const void *data, size_t len)
{
	if (len) {
		EVP_DigestUpdate(h->ctx, data, len);
		h->bytes += len;
	}
}

void hasher_final(struct hasher *h, char out[DIGEST_STR_LEN + 1])
{
	unsigned char md[32];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";
	EVP_DigestFinal_ex(h->ctx, md, &n);
	memcpy(out, "sha256:", 7);
	for (unsigned k = 0; k < 32; k++) {
		out[7 + 2 * k] = hex[md[k] >> 4];
		out[8 + 2 * k] = hex[md[k] & 15];
	}
	out[DIGEST_STR_LEN] = '\0';
}

void hasher_free(struct hasher *h)
{
	if (h->ctx)
		EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int digest_buffer(const void *data, size_t len, char out[DIGEST_STR_LEN + 1])
{
	_cleanup_hasher_ struct hasher h = { 0 };
	int r = hasher_init(&h);
	if (r < 0)
		return r;
	hasher_update(&h, data, len);
	hasher_final(&h, out);
	return 0;
}

int digest_fd(int fd, char out[DIGEST_STR_LEN + 1], uint64_t *size)
{
	_cleanup_hasher_ struct hasher h = { 0 };
	_cleanup_free_ char *buf = malloc(1 << 20);
	if (!buf)
		return -ENOMEM;
	int r = hasher_init(&h);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = RETRY_EINTR(read(fd, buf, 1 << 20));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		hasher_update(&h, buf, (size_t)n);
	}
	hasher_final(&h, out);
	if (size)
		*size = h.bytes;
	return 0;
}
