/* Strict JSON parser and deterministic writer (see json.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json.h"

struct parser {
	const char *p, *end, *start;
	char *err;
	size_t errlen;
	int depth;
};

static int fail(struct parser *ps, const char *what)
{
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "%s at byte %zu", what,
			 (size_t)(ps->p - ps->start));
	return -EINVAL;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json *new_node(enum json_type t)
{
	struct json *j = calloc(1, sizeof(*j));
	if (j)
		j->type = t;
	return j;
}

void json_free(struct json *j)
{
	if (!j)
		return;
	for (size_t k = 0; k < j->n; k++) {
		json_free(j->items[k]);
		if (j->keys)
			free(j->keys[k]);
	}
	free(j->items);
	free(j->keys);
	free(j->s);
	free(j);
}

static int reserve(struct json *j, size_t n)
{
	if (n <= j->cap)
		return 0;
	size_t cap = j->cap ? j->cap * 2 : 4;
	while (cap < n)
		cap *= 2;
	struct json **items = realloc(j->items, cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	j->items = items;
	if (j->type == JSON_OBJECT) {
		char **keys = realloc(j->keys, cap * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		j->keys = keys;
	}
	j->cap = cap;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int parse_hex4(struct parser *ps, unsigned *out)
{
	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval(ps->p[k]);
		if (h < 0)
			return fail(ps, "bad \\u escape");
		v = v << 4 | (unsigned)h;
	}
	ps->p += 4;
	*out = v;
	return 0;
}

static int put_utf8(struct strbuf *sb, unsigned cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) { b[0] = (char)cp; n = 1; }
	else if (cp < 0x800) { b[0] = (char)(0xc0 | cp >> 6); b[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }
	else if (cp < 0x10000) { b[0] = (char)(0xe0 | cp >> 12); b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f)); n = 3; }
	else { b[0] = (char)(0xf0 | cp >> 18); b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f)); b[3] = (char)(0x80 | (cp & 0x3f)); n = 4; }
	return sb_append(sb, b, n);
}

/* Length of the valid UTF-8 sequence at P (0 when invalid). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned min;
	if (c < 0x80) return 1;
	if ((c & 0xe0) == 0xc0) { n = 2; min = 0x80; c &= 0x1f; }
	else if ((c & 0xf0) == 0xe0) { n = 3; min = 0x800; c &= 0x0f; }
	else if ((c & 0xf8) == 0xf0) { n = 4; min = 0x10000; c &= 0x07; }
	else return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

static int parse_string_raw(struct parser *ps, struct strbuf *sb)
{
	ps->p++; /* opening quote */
	for (;;) {
		/* A run of plain characters is copied at once: layer records
		 * hold tens of thousands of paths. */
		const char *run = ps->p;
		while (ps->p < ps->end) {
			unsigned char c = (unsigned char)*ps->p;
			if (c == '"' || c == '\\' || c < 0x20)
				break;
			size_t n = c < 0x80 ? 1 : utf8_len((const unsigned char *)ps->p,
							   (const unsigned char *)ps->end);
			if (!n)
				return fail(ps, "invalid utf-8 in string");
			ps->p += n;
		}
		if (ps->p > run) {
			int r = sb_append(sb, run, (size_t)(ps->p - run));
			if (r < 0)
				return r;
		}
		if (ps->p >= ps->end)
			return fail(ps, "unterminated string");
		unsigned char c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			return sb_grow(sb, 0);
		}
		if (c < 0x20)
			return fail(ps, "control character in string");
		ps->p++;
		if (ps->p >= ps->end)
			return fail(ps, "unterminated escape");
		char e = *ps->p++;
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e && simple) {
			static const char map[] = "\"\\/\b\f\n\r\t";
			int r = sb_putc(sb, map[simple - "\"\\/bfnrt"]);
			if (r < 0)
				return r;
			continue;
		}
		if (e != 'u')
			return fail(ps, "bad escape");
		unsigned cp = 0;
		int r = parse_hex4(ps, &cp);
		if (r < 0)
			return r;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return fail(ps, "lone low surrogate");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			unsigned lo;
			if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
				return fail(ps, "lone high surrogate");
			ps->p += 2;
			r = parse_hex4(ps, &lo);
			if (r < 0)
				return r;
			if (lo < 0xdc00 || lo > 0xdfff)
				return fail(ps, "bad surrogate pair");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		r = put_utf8(sb, cp);
		if (r < 0)
			return r;
	}
}

static int parse_number(struct parser *ps, struct json *j)
{
	const char *s = ps->p;
	bool integral = true;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end)
		return fail(ps, "truncated number");
	if (*ps->p == '0') {
		ps->p++;
	} else if (*ps->p >= '1' && *ps->p <= '9') {
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	} else {
		return fail(ps, "bad number");
	}
	if (ps->p < ps->end && *ps->p == '.') {
		integral = false;
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad fraction");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		integral = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad exponent");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	char tmp[64];
	size_t n = (size_t)(ps->p - s);
	if (n >= sizeof(tmp)) {
		/* Long numbers are legal; only their double value is kept. */
		_cleanup_free_ char *big = strndup(s, n);
		if (!big)
			return -ENOMEM;
		j->d = strtod(big, NULL);
		return isfinite(j->d) ? 0 : fail(ps, "number out of range");
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	j->d = strtod(tmp, NULL);
	/* 1e999 has no double: refused rather than read as infinity, which
	 * the writer could only turn into null. */
	if (!isfinite(j->d))
		return fail(ps, "number out of range");
	if (integral) {
		errno = 0;
		long long v = strtoll(tmp, NULL, 10);
		if (errno == 0) {
			j->is_int = true;
			j->i = v;
		}
	}
	return 0;
}

static int parse_value(struct parser *ps, struct json **out);

static int parse_container(struct parser *ps, struct json *j, char close)
{
	if (++ps->depth > JSON_MAX_DEPTH)
		return fail(ps, "nesting too deep");
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		_cleanup_free_ char *key = NULL;
		if (close == '}') {
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != '"')
				return fail(ps, "expected member name");
			struct strbuf sb = STRBUF_INIT;
			int r = parse_string_raw(ps, &sb);
			if (r < 0) {
				sb_release(&sb);
				return r;
			}
			key = sb_detach(&sb);
			if (!key)
				return -ENOMEM;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail(ps, "expected ':'");
			ps->p++;
		}
		struct json *val = NULL;
		int r = parse_value(ps, &val);
		if (r < 0)
			return r;
		r = reserve(j, j->n + 1);
		if (r < 0) {
			json_free(val);
			return r;
		}
		j->items[j->n] = val;
		if (close == '}')
			j->keys[j->n] = TAKE_PTR(key);
		j->n++;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return fail(ps, "unterminated container");
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			ps->depth--;
			return 0;
		}
		return fail(ps, "expected ',' or closing bracket");
	}
}

static int parse_literal(struct parser *ps, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
		return fail(ps, "unexpected character");
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps, struct json **out)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input");
	struct json *j;
	int r;
	switch (*ps->p) {
	case '{': j = new_node(JSON_OBJECT); break;
	case '[': j = new_node(JSON_ARRAY); break;
	case '"': j = new_node(JSON_STRING); break;
	case 't': case 'f': j = new_node(JSON_BOOL); break;
	case 'n': j = new_node(JSON_NULL); break;
	default: j = new_node(JSON_NUMBER); break;
	}
	if (!j)
		return -ENOMEM;
	switch (j->type) {
	case JSON_OBJECT: r = parse_container(ps, j, '}'); break;
	case JSON_ARRAY: r = parse_container(ps, j, ']'); break;
	case JSON_STRING: {
		struct strbuf sb = STRBUF_INIT;
		r = parse_string_raw(ps, &sb);
		j->slen = sb.len;
		j->s = sb_detach(&sb);
		if (r == 0 && !j->s)
			r = -ENOMEM;
		break;
	}
	case JSON_BOOL:
		j->b = *ps->p == 't';
		r = parse_literal(ps, j->b ? "true" : "false");
		break;
	case JSON_NULL: r = parse_literal(ps, "null"); break;
	default: r = parse_number(ps, j); break;
	}
	if (r < 0) {
		json_free(j);
		return r;
	}
	*out = j;
	return 0;
}

int json_parse(const char *buf, size_t len, struct json **out, char *err, size_t errlen)
{
	struct parser ps = { buf, buf + len, buf, err, errlen, 0 };
	struct json *j = NULL;
	if (err && errlen)
		err[0] = '\0';
	int r = parse_value(&ps, &j);
	if (r < 0)
		return r;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		json_free(j);
		return fail(&ps, "trailing data");
	}
	*out = j;
	return 0;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	/* The last member wins, as in most parsers.  The first byte is
	 * compared before the call: a layer record asks each of its entries
	 * for a dozen members. */
	for (size_t k = obj->n; k-- > 0;)
		if (obj->keys[k][0] == key[0] && strcmp(obj->keys[k], key) == 0)
			return obj->items[k];
	return NULL;
}

const char *json_get_str(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);
	return v && v->type == JSON_STRING ? v->s : NULL;
}

bool json_get_int(const struct json *obj, const char *key, int64_t *out)
{
	const struct json *v = json_get(obj, key);
	if (!v || v->type != JSON_NUMBER || !v->is_int)
		return false;
	*out = v->i;
	return true;
}

const struct json *json_get_array(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);
	return v && v->type == JSON_ARRAY ? v : NULL;
}

const struct json *json_get_object(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);
	return v && v->type == JSON_OBJECT ? v : NULL;
}

struct json *json_new_null(void) { return new_node(JSON_NULL); }

struct json *json_new_bool(bool b)
{
	struct json *j = new_node(JSON_BOOL);
	if (j)
		j->b = b;
	return j;
}

struct json *json_new_int(int64_t i)
{
	struct json *j = new_node(JSON_NUMBER);
	if (j) {
		j->is_int = true;
		j->i = i;
		j->d = (double)i;
	}
	return j;
}

struct json *json_new_stringn(const char *s, size_t len)
{
	struct json *j = new_node(JSON_STRING);
	if (!j)
		return NULL;
	j->s = malloc(len + 1);
	if (!j->s) {
		free(j);
		return NULL;
	}
	memcpy(j->s, s, len);
	j->s[len] = '\0';
	j->slen = len;
	return j;
}

struct json *json_new_string(const char *s)
{
	return json_new_stringn(s, strlen(s));
}

struct json *json_new_array(void) { return new_node(JSON_ARRAY); }
struct json *json_new_object(void) { return new_node(JSON_OBJECT); }

int json_array_push(struct json *arr, struct json *val)
{
	if (!val)
		return -ENOMEM;
	if (arr->type != JSON_ARRAY) {
		json_free(val);
		return -EINVAL;
	}
	int r = reserve(arr, arr->n + 1);
	if (r < 0) {
		json_free(val);
		return r;
	}
	arr->items[arr->n++] = val;
	return 0;
}

int json_object_set(struct json *obj, const char *key, struct json *val)
{
	if (!val)
		return -ENOMEM;
	if (obj->type != JSON_OBJECT) {
		json_free(val);
		return -EINVAL;
	}
	for (size_t k = 0; k < obj->n; k++) {
		if (strcmp(obj->keys[k], key) == 0) {
			json_free(obj->items[k]);
			obj->items[k] = val;
			return 0;
		}
	}
	char *dup = strdup(key);
	int r = dup ? reserve(obj, obj->n + 1) : -ENOMEM;
	if (r < 0) {
		free(dup);
		json_free(val);
		return r;
	}
	obj->keys[obj->n] = dup;
	obj->items[obj->n++] = val;
	return 0;
}

void json_remove_at(struct json *j, size_t idx)
{
	if (idx >= j->n)
		return;
	json_free(j->items[idx]);
	memmove(j->items + idx, j->items + idx + 1, (j->n - idx - 1) * sizeof(*j->items));
	if (j->keys) {
		free(j->keys[idx]);
		memmove(j->keys + idx, j->keys + idx + 1, (j->n - idx - 1) * sizeof(*j->keys));
	}
	j->n--;
}

int json_object_del(struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return -EINVAL;
	for (size_t k = 0; k < obj->n; k++) {
		if (strcmp(obj->keys[k], key) == 0) {
			json_remove_at(obj, k);
			return 0;
		}
	}
	return -ENOENT;
}

int json_set_str(struct json *obj, const char *key, const char *s)
{
	return json_object_set(obj, key, json_new_string(s));
}

int json_set_int(struct json *obj, const char *key, int64_t i)
{
	return json_object_set(obj, key, json_new_int(i));
}

struct json *json_clone(const struct json *j)
{
	struct json *c = new_node(j->type);
	if (!c)
		return NULL;
	c->b = j->b;
	c->is_int = j->is_int;
	c->i = j->i;
	c->d = j->d;
	if (j->type == JSON_STRING) {
		json_free(c);
		return json_new_stringn(j->s, j->slen);
	}
	/* Member by member, duplicates included: an exact copy. */
	if (j->n && reserve(c, j->n) < 0) {
		json_free(c);
		return NULL;
	}
	for (size_t k = 0; k < j->n; k++) {
		struct json *item = json_clone(j->items[k]);
		char *key = j->type == JSON_OBJECT ? strdup(j->keys[k]) : NULL;
		if (!item || (j->type == JSON_OBJECT && !key)) {
			json_free(item);
			free(key);
			json_free(c);
			return NULL;
		}
		c->items[c->n] = item;
		if (key)
			c->keys[c->n] = key;
		c->n++;
	}
	return c;
}

/* A number read with a fraction or exponent stays one when read back:
 * 22.0 is written "22.0", not "22", which would read as an integer. */
static int write_double(double d, struct strbuf *out)
{
	char buf[40];
	snprintf(buf, sizeof(buf), "%.17g", d);
	if (!strpbrk(buf, ".e"))
		strcat(buf, ".0");
	return sb_puts(out, buf);
}

static int write_string(const char *s, size_t len, struct strbuf *out)
{
	int r = sb_grow(out, len + 2);
	if (r < 0)
		return r;
	sb_putc(out, '"');
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)s[k];
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default: break;
		}
		if (esc)
			r = sb_puts(out, esc);
		else if (c < 0x20 || c == 0x7f)
			r = sb_printf(out, "\\u%04x", c);
		else
			r = sb_putc(out, (char)c);
		if (r < 0)
			return r;
	}
	return sb_putc(out, '"');
}

static int newline(struct strbuf *out, int indent, int level)
{
	if (!indent)
		return 0;
	int r = sb_putc(out, '\n');
	for (int k = 0; r == 0 && k < indent * level; k++)
		r = sb_putc(out, ' ');
	return r;
}

static int write_value(const struct json *j, int indent, int level, struct strbuf *out)
{
	int r = 0;
	switch (j->type) {
	case JSON_NULL: return sb_puts(out, "null");
	case JSON_BOOL: return sb_puts(out, j->b ? "true" : "false");
	case JSON_NUMBER:
		if (j->is_int)
			return sb_printf(out, "%lld", (long long)j->i);
		if (!isfinite(j->d))
			return sb_puts(out, "null");
		return write_double(j->d, out);
	case JSON_STRING: return write_string(j->s, j->slen, out);
	case JSON_ARRAY:
	case JSON_OBJECT: break;
	}
	bool obj = j->type == JSON_OBJECT;
	r = sb_putc(out, obj ? '{' : '[');
	for (size_t k = 0; r == 0 && k < j->n; k++) {
		if (k)
			r = sb_putc(out, ',');
		if (r == 0)
			r = newline(out, indent, level + 1);
		if (r == 0 && obj) {
			r = write_string(j->keys[k], strlen(j->keys[k]), out);
			if (r == 0)
				r = sb_puts(out, indent ? ": " : ":");
		}
		if (r == 0)
			r = write_value(j->items[k], indent, level + 1, out);
	}
	if (r == 0 && j->n)
		r = newline(out, indent, level);
	if (r == 0)
		r = sb_putc(out, obj ? '}' : ']');
	return r;
}

int json_write(const struct json *j, int indent, struct strbuf *out)
{
	return write_value(j, indent, 0, out);
}
