/* JSON parser and writer: valid and invalid documents, escapes, numbers,
 * round trips, lookups and builders. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/json.h"
#include "tap.h"

static int parses(const char *s)
{
	struct json *j = NULL;
	char err[128];
	int r = json_parse(s, strlen(s), &j, err, sizeof(err));
	json_free(j);
	return r == 0;
}

static char *roundtrip(const char *s, int indent)
{
	struct json *j = NULL;
	if (json_parse(s, strlen(s), &j, NULL, 0) < 0)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	json_write(j, indent, &sb);
	json_free(j);
	return sb_detach(&sb);
}

static void check_roundtrip(const char *in, const char *want)
{
	char *got = roundtrip(in, 0);
	is_str(got, want, "round trip of %s", in);
	free(got);
}

int main(void)
{
	static const char *valid[] = {
		"{}", "[]", "0", "-0", "1e5", "-1.5E-3", "\"\"", "true", "false", "null",
		" {\"a\" : [1, 2, {\"b\": null}] } ", "\"\\u00e9\\ud83d\\ude00\"",
		"\"caf\xc3\xa9\"", "[[[[[]]]]]", "9223372036854775807", "1234567890123456789012345678901234567890123456789012345678901234567890",
	};
	for (size_t k = 0; k < sizeof(valid) / sizeof(*valid); k++)
		ok(parses(valid[k]), "valid: %s", valid[k]);

	static const char *invalid[] = {
		"", " ", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "01", "1.", ".5", "+1", "-", "1e",
		"\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\x01\"",
		"\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "tru", "nul", "[1 2]", "{\"a\" 1}",
		"{1:2}", "{} {}", "[1]x", "NaN", "Infinity",
		/* found by fuzz/json_fuzz.c: infinity could only be written back as null */
		"1e999", "-1e999", "[1e400]",
		"123456789012345678901234567890123456789012345678901234567890123456789e999",
		/* the byte that ends a run of plain characters is checked */
		"\"abc\377 def\"", "\"abc\x1f\"", "\"abc\xc3\"", "\"abc\\",
	};
	for (size_t k = 0; k < sizeof(invalid) / sizeof(*invalid); k++)
		ok(!parses(invalid[k]), "invalid: %s", invalid[k]);

	char deep[2 * JSON_MAX_DEPTH + 10];
	memset(deep, '[', JSON_MAX_DEPTH + 1);
	memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	deep[2 * JSON_MAX_DEPTH + 2] = '\0';
	ok(!parses(deep), "nesting deeper than %d is refused", JSON_MAX_DEPTH);

	struct json *j = NULL;
	char err[128];
	is_int(json_parse("[1,", 3, &j, err, sizeof(err)), -EINVAL, "truncated input fails");
	ok(strstr(err, "byte") != NULL, "the error names the offset: %s", err);

	check_roundtrip("{\"b\":1,\"a\":[true,false,null],\"c\":\"x\\ny\"}",
			"{\"b\":1,\"a\":[true,false,null],\"c\":\"x\\ny\"}");
	check_roundtrip("\"\\u0001\\/\"", "\"\\u0001/\"");
	check_roundtrip("-12", "-12");
	check_roundtrip("1.5", "1.5");
	/* found by fuzz/json_fuzz.c: a fraction written as "22" read back as an integer */
	check_roundtrip("22.0", "22.0");
	check_roundtrip("1E2", "100.0");
	check_roundtrip("-0.0", "-0.0");
	check_roundtrip("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
	/* runs of plain characters between escapes and multibyte characters */
	check_roundtrip("\"ab\xc3\xa9" "cd\\tef\\u00e9gh\\\\\"", "\"ab\xc3\xa9" "cd\\tef\xc3\xa9" "gh\\\\\"");

	const char *doc = "{\"n\":42,\"s\":\"str\",\"o\":{\"x\":[1]},\"n\":7,\"big\":123456789012}";
	is_int(json_parse(doc, strlen(doc), &j, NULL, 0), 0, "object parses");
	int64_t v = 0;
	ok(json_get_int(j, "n", &v) && v == 7, "the last duplicate member wins");
	ok(json_get_int(j, "big", &v) && v == 123456789012LL, "64-bit integers are exact");
	is_str(json_get_str(j, "s"), "str", "string member");
	ok(json_get_str(j, "n") == NULL, "type-checked lookups");
	ok(json_get_array(json_get_object(j, "o"), "x") != NULL, "nested lookups");
	ok(json_get(j, "missing") == NULL, "missing member");
	struct json *c = json_clone(j);
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	json_write(j, 0, &a);
	json_write(c, 0, &b);
	is_str(b.s, a.s, "clone writes identically");
	sb_release(&a);
	sb_release(&b);
	json_free(c);
	json_free(j);

	struct json *o = json_new_object();
	json_set_str(o, "k", "v");
	json_set_int(o, "i", -5);
	json_set_str(o, "k", "w");
	struct json *arr = json_new_array();
	json_array_push(arr, json_new_bool(true));
	json_array_push(arr, json_new_null());
	json_object_set(o, "a", arr);
	json_object_set(o, "s", json_new_stringn("a\0b", 3));
	struct strbuf sb = STRBUF_INIT;
	json_write(o, 0, &sb);
	is_str(sb.s, "{\"k\":\"w\",\"i\":-5,\"a\":[true,null],\"s\":\"a\\u0000b\"}",
	       "builders: set replaces in place, NUL is escaped");
	sb_release(&sb);
	is_int(json_object_del(o, "i"), 0, "delete a member");
	is_int(json_object_del(o, "i"), -ENOENT, "delete of a missing member");
	json_write(o, 2, &sb);
	is_str(sb.s, "{\n  \"k\": \"w\",\n  \"a\": [\n    true,\n    null\n  ],\n  \"s\": \"a\\u0000b\"\n}",
	       "pretty printing");
	char *back = NULL;
	struct json *p = NULL;
	is_int(json_parse(sb.s, sb.len, &p, NULL, 0), 0, "pretty output parses back");
	ok(p && json_get_str(p, "s") && json_get(p, "s")->slen == 3, "embedded NUL survives");
	json_free(p);
	free(back);
	sb_release(&sb);
	json_free(o);
	return tap_done();
}
