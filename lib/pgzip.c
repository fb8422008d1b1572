/* Parallel, deterministic gzip (see pgzip.h).
 *
 * The input is cut into blocks of PGZ_BLOCK bytes.  Each block is deflated
 * on its own (raw deflate, the previous block's last 32 KiB as its
 * dictionary) and ends with a sync flush, the last one with the final
 * block; their concatenation is one deflate stream, as pigz makes it.
 * Block boundaries and dictionaries depend on the input alone, so the
 * output is the same whatever the number of threads. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pgzip.h"

#define PGZ_BLOCK (1u << 20)
#define PGZ_DICT  32768u

struct job {
	unsigned char *in;      /* the dictionary (DICTLEN bytes), then the block */
	size_t dictlen, len;
	bool last;
	unsigned char *out;
	size_t outlen;
	uLong crc;
	int state;              /* 0 free, 1 queued, 2 running, 3 done */
	int err;
};

struct pgzip {
	int level;
	unsigned nthreads;
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *ring;
	size_t nring, head, count;   /* jobs in order: head .. head+count-1 */
	bool stop;
	unsigned char *cur;          /* the block being filled (after a dictionary) */
	size_t curdict, curlen;
	unsigned char dict[PGZ_DICT];
	size_t dictlen;
	uLong crc;
	uint64_t total;
	bool header;
};

static void deflate_job(struct job *j, int level)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		j->err = -ENOMEM;
		return;
	}
	if (j->dictlen)
		deflateSetDictionary(&z, j->in, (uInt)j->dictlen);
	size_t cap = deflateBound(&z, j->len) + 64;
	j->out = malloc(cap);
	if (!j->out) {
		deflateEnd(&z);
		j->err = -ENOMEM;
		return;
	}
	z.next_in = j->in + j->dictlen;
	z.avail_in = (uInt)j->len;
	z.next_out = j->out;
	z.avail_out = (uInt)cap;
	int r = deflate(&z, j->last ? Z_FINISH : Z_SYNC_FLUSH);
	j->err = (j->last ? r == Z_STREAM_END : r == Z_OK && z.avail_in == 0) ? 0 : -EIO;
	j->outlen = cap - z.avail_out;
	j->crc = crc32(0, j->in + j->dictlen, (uInt)j->len);
	deflateEnd(&z);
}

static void *worker(void *arg)
{
	struct pgzip *z = arg;
	pthread_mutex_lock(&z->mu);
	for (;;) {
		struct job *j = NULL;
		for (size_t k = 0; k < z->count && !j; k++) {
			struct job *c = &z->ring[(z->head + k) % z->nring];
			if (c->state == 1)
				j = c;
		}
		if (!j) {
			if (z->stop)
				break;
			pthread_cond_wait(&z->cv, &z->mu);
			continue;
		}
		j->state = 2;
		pthread_mutex_unlock(&z->mu);
		deflate_job(j, z->level);
		pthread_mutex_lock(&z->mu);
		j->state = 3;
		pthread_cond_broadcast(&z->cv);
	}
	pthread_mutex_unlock(&z->mu);
	return NULL;
}

int pgzip_new(int level, unsigned threads, struct pgzip **out)
{
	struct pgzip *z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->level = level;
	z->nthreads = threads ? threads : 1;
	z->nring = 2 * (size_t)z->nthreads;
	z->ring = calloc(z->nring, sizeof(*z->ring));
	z->threads = calloc(z->nthreads, sizeof(*z->threads));
	z->cur = malloc(PGZ_DICT + PGZ_BLOCK);
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->cv, NULL);
	if (!z->ring || !z->threads || !z->cur) {
		pgzip_free(z);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < z->nthreads; k++) {
		if (pthread_create(&z->threads[k], NULL, worker, z) != 0) {
			z->nthreads = k;
			pgzip_free(z);
			return -EAGAIN;
		}
	}
	*out = z;
	return 0;
}

void pgzip_free(struct pgzip *z)
{
	if (!z)
		return;
	pthread_mutex_lock(&z->mu);
	z->stop = true;
	pthread_cond_broadcast(&z->cv);
	pthread_mutex_unlock(&z->mu);
	for (unsigned k = 0; k < z->nthreads; k++)
		pthread_join(z->threads[k], NULL);
	for (size_t k = 0; z->ring && k < z->nring; k++) {
		free(z->ring[k].in);
		free(z->ring[k].out);
	}
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->cv);
	free(z->ring);
	free(z->threads);
	free(z->cur);
	free(z);
}

static int put_le32(struct strbuf *out, uint32_t v)
{
	unsigned char b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
	return sb_append(out, b, 4);
}

/* Move the head job's output to OUT, waiting for it when WAIT. 1 when a
 * job was taken, 0 when none was ready. */
static int collect(struct pgzip *z, struct strbuf *out, bool wait)
{
	pthread_mutex_lock(&z->mu);
	struct job *j = z->count ? &z->ring[z->head] : NULL;
	while (j && wait && j->state != 3)
		pthread_cond_wait(&z->cv, &z->mu);
	if (!j || j->state != 3) {
		pthread_mutex_unlock(&z->mu);
		return 0;
	}
	z->head = (z->head + 1) % z->nring;
	z->count--;
	pthread_mutex_unlock(&z->mu);
	int r = j->err ? j->err : sb_append(out, j->out, j->outlen);
	if (r == 0) {
		z->crc = crc32_combine(z->crc, j->crc, (z_off_t)j->len);
		z->total += j->len;
	}
	free(j->out);
	j->out = NULL;
	j->state = 0;
	return r < 0 ? r : 1;
}

/* Queue the current block (the last one when LAST). */
static int submit(struct pgzip *z, bool last, struct strbuf *out)
{
	int r;
	while (z->count == z->nring)
		if ((r = collect(z, out, true)) < 0)
			return r;
	struct job *j = &z->ring[(z->head + z->count) % z->nring];
	free(j->in);
	j->in = z->cur;
	j->dictlen = z->curdict;
	j->len = z->curlen;
	j->last = last;
	j->err = 0;
	/* The next block's dictionary: this one's last 32 KiB. */
	size_t keep = j->len < PGZ_DICT ? j->len : PGZ_DICT;
	z->cur = last ? NULL : malloc(PGZ_DICT + PGZ_BLOCK);
	if (!last && !z->cur)
		return -ENOMEM;
	if (!last) {
		memcpy(z->cur, j->in + j->dictlen + j->len - keep, keep);
		z->curdict = keep;
		z->curlen = 0;
	}
	pthread_mutex_lock(&z->mu);
	j->state = 1;
	z->count++;
	pthread_cond_broadcast(&z->cv);
	pthread_mutex_unlock(&z->mu);
	while ((r = collect(z, out, false)) > 0)
		;
	return r;
}

int pgzip_write(struct pgzip *z, const void *data, size_t len, struct strbuf *out)
{
	static const unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	int r;
	if (!z->header) {
		z->header = true;
		if ((r = sb_append(out, hdr, sizeof(hdr))) < 0)
			return r;
	}
	const unsigned char *p = data;
	while (len) {
		size_t k = PGZ_BLOCK - z->curlen < len ? PGZ_BLOCK - z->curlen : len;
		memcpy(z->cur + z->curdict + z->curlen, p, k);
		z->curlen += k;
		p += k;
		len -= k;
		if (z->curlen == PGZ_BLOCK && (r = submit(z, false, out)) < 0)
			return r;
	}
	return 0;
}

int pgzip_finish(struct pgzip *z, struct strbuf *out)
{
	int r = pgzip_write(z, NULL, 0, out);
	if (r == 0)
		r = submit(z, true, out);
	while (r >= 0 && z->count)
		r = collect(z, out, true);
	if (r >= 0)
		r = put_le32(out, (uint32_t)z->crc);
	if (r >= 0)
		r = put_le32(out, (uint32_t)z->total);
	return r < 0 ? r : 0;
}
