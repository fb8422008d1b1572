/* The producer-thread pipe: order, end of stream, producer failures, and
 * a consumer that stops early. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../../lib/stream_pipe.h"
#include "tap.h"

struct counter {
	uint64_t next;      /* next byte value to produce (mod 251) */
	uint64_t total;     /* bytes to produce */
	uint64_t fail_at;   /* fail once this many were produced (0: never) */
	uint64_t calls;
};

static ssize_t produce(void *ctx, char *buf, size_t cap, struct errmsg *e)
{
	struct counter *c = ctx;
	c->calls++;
	if (c->fail_at && c->next >= c->fail_at)
		return err_set(e, -EIO, "source '%s' broke", "test");
	size_t n = c->total - c->next < cap ? (size_t)(c->total - c->next) : cap;
	/* Odd sizes, so chunks do not line up with anything. */
	if (n > 300001)
		n = 300001;
	for (size_t k = 0; k < n; k++)
		buf[k] = (char)((c->next + k) % 251);
	c->next += n;
	return (ssize_t)n;
}

static int consume_all(struct stream_pipe *p, uint64_t *got, struct errmsg *e)
{
	for (;;) {
		const void *buf;
		size_t len = 0;
		int r = spipe_next(p, &buf, &len, e);
		if (r < 0)
			return r;
		if (!len)
			return 0;
		const unsigned char *b = buf;
		for (size_t k = 0; k < len; k++)
			if (b[k] != (*got + k) % 251)
				return -EBADMSG;
		*got += len;
	}
}

int main(void)
{
	struct stream_pipe *p;
	struct errmsg e = { { 0 } };
	struct counter c = { .total = 10u << 20 };
	uint64_t got = 0;
	is_int(spipe_start(produce, &c, &p), 0, "start");
	is_int(consume_all(p, &got, &e), 0, "every byte arrives in order");
	is_int(got, c.total, "all %llu bytes", (unsigned long long)c.total);
	is_int(spipe_finish(p, false, &e), 0, "finish after the end");

	struct counter empty = { .total = 0 };
	got = 0;
	spipe_start(produce, &empty, &p);
	is_int(consume_all(p, &got, &e), 0, "an empty stream ends at once");
	is_int(got, 0, "with nothing");
	spipe_finish(p, false, &e);

	struct counter bad = { .total = 8u << 20, .fail_at = 1u << 20 };
	got = 0;
	spipe_start(produce, &bad, &p);
	struct errmsg be = { { 0 } };
	is_int(consume_all(p, &got, &be), -EIO, "a producer failure reaches the consumer");
	is_str(be.msg, "source 'test' broke", "with its message");
	ok(got >= (1u << 20), "after the bytes before it");
	struct errmsg fe = { { 0 } };
	is_int(spipe_finish(p, false, &fe), -EIO, "finish reports it too");

	/* The consumer stops early: without cancel the rest is drained... */
	struct counter longer = { .total = 32u << 20 };
	spipe_start(produce, &longer, &p);
	const void *buf;
	size_t len;
	spipe_next(p, &buf, &len, &e);
	is_int(spipe_finish(p, false, &e), 0, "finish drains what nobody read");
	is_int(longer.next, longer.total, "the producer ran to the end");

	/* ...with cancel the producer stops within a few chunks. */
	struct counter huge = { .total = 1ull << 40 };
	spipe_start(produce, &huge, &p);
	spipe_next(p, &buf, &len, &e);
	is_int(spipe_finish(p, true, &e), 0, "cancel");
	ok(huge.calls < 16, "the producer stopped early (%llu calls)", (unsigned long long)huge.calls);
	return tap_done();
}
