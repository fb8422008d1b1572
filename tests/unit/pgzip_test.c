/* pgzip: a valid gzip stream of the input, byte for byte the same on one
 * thread or several, fed in any piece sizes. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../lib/pgzip.h"
#include "tap.h"

/* Compress LEN bytes of DATA on THREADS threads, in pieces of PIECE. */
static int gz(const unsigned char *data, size_t len, unsigned threads, size_t piece,
	      struct strbuf *out)
{
	struct pgzip *z;
	int r = pgzip_new(6, threads, &z);
	for (size_t o = 0; r == 0 && o < len; o += piece)
		r = pgzip_write(z, data + o, len - o < piece ? len - o : piece, out);
	if (r == 0)
		r = pgzip_finish(z, out);
	pgzip_free(z);
	return r;
}

static int gunzip(const struct strbuf *in, unsigned char *out, size_t cap, size_t *len)
{
	z_stream s;
	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, 15 + 16) != Z_OK)
		return -1;
	s.next_in = (unsigned char *)in->s;
	s.avail_in = (uInt)in->len;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	int r = inflate(&s, Z_FINISH);
	*len = cap - s.avail_out;
	int left = (int)s.avail_in;
	inflateEnd(&s);
	return r == Z_STREAM_END && left == 0 ? 0 : -1;
}

int main(void)
{
	/* Text-like data over several blocks, with repeats across boundaries. */
	size_t len = (5u << 20) + 12345;
	unsigned char *data = malloc(len), *back = malloc(len + 1);
	unsigned seed = 1;
	for (size_t k = 0; k < len; k++) {
		seed = seed * 1103515245 + 12345;
		data[k] = (k / 4096) % 3 ? "the quick brown fox "[k % 20] : (unsigned char)('a' + (seed >> 16) % 26);
	}
	struct strbuf one = STRBUF_INIT, three = STRBUF_INIT, odd = STRBUF_INIT, empty = STRBUF_INIT;
	is_int(gz(data, len, 1, len, &one), 0, "one thread");
	is_int(gz(data, len, 3, 65536, &three), 0, "three threads, 64 KiB pieces");
	is_int(gz(data, len, 2, 777, &odd), 0, "two threads, 777-byte pieces");
	ok(one.len == three.len && !memcmp(one.s, three.s, one.len), "the same bytes on 1 and 3 threads");
	ok(one.len == odd.len && !memcmp(one.s, odd.s, one.len), "the same bytes whatever the pieces");
	ok(one.len < len / 2, "it compresses (%zu of %zu bytes)", one.len, len);
	is_int(memcmp(one.s, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10), 0,
	       "gzip header without name or time");
	size_t got = 0;
	is_int(gunzip(&one, back, len + 1, &got), 0, "zlib reads it to the end");
	ok(got == len && !memcmp(back, data, len), "and gets the input back");
	is_int(gz(data, 0, 2, 1, &empty), 0, "empty input");
	is_int(gunzip(&empty, back, len, &got), 0, "is a valid empty stream");
	is_int(got, 0, "of nothing");
	sb_release(&one);
	sb_release(&three);
	sb_release(&odd);
	sb_release(&empty);
	free(data);
	free(back);
	return tap_done();
}
