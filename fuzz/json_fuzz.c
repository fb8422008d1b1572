/* libFuzzer harness: the JSON parser, fed every document an image carries
 * (manifests, configs, indexes) and the store's own records. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two trees are equal in type, scalar values and member order. */
static int same(const struct json *a, const struct json *b)
{
	if (a->type != b->type || a->n != b->n)
		return 0;
	switch (a->type) {
	case JSON_BOOL:
		return a->b == b->b;
	case JSON_STRING:
		return a->slen == b->slen && !memcmp(a->s, b->s, a->slen);
	case JSON_NUMBER:
		return a->is_int == b->is_int && (!a->is_int || a->i == b->i);
	case JSON_ARRAY:
	case JSON_OBJECT:
		for (size_t k = 0; k < a->n; k++) {
			if (a->type == JSON_OBJECT && strcmp(a->keys[k], b->keys[k]))
				return 0;
			if (!same(a->items[k], b->items[k]))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json *j = NULL, *back = NULL;
	char err[128];
	err[0] = '\0';
	if (json_parse((const char *)data, size, &j, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();        /* every refusal says why */
		return 0;
	}
	/* What parses writes out (compact and indented), and the output
	 * parses back to the same tree; a clone is the same tree too. */
	for (int indent = 0; indent <= 2; indent += 2) {
		struct strbuf sb = STRBUF_INIT;
		if (json_write(j, indent, &sb) < 0)
			abort();
		if (json_parse(sb.s, sb.len, &back, err, sizeof(err)) < 0 || !same(j, back))
			abort();
		json_free(back);
		sb_release(&sb);
	}
	struct json *c = json_clone(j);
	if (!c || !same(j, c))
		abort();
	json_free(c);
	json_free(j);
	return 0;
}
