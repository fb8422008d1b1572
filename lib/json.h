/* A small, strict JSON (RFC 8259) parser and writer.
 *
 * Parsing builds a tree; the writer serialises a tree with object members
 * in insertion order, so output is deterministic.  Strings are UTF-8 and
 * are validated; numbers keep their exact integer value when they have no
 * fraction or exponent.  Nesting is limited to JSON_MAX_DEPTH. */
#ifndef LAYERFS_JSON_H
#define LAYERFS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define JSON_MAX_DEPTH 128

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type type;
	bool b;
	bool is_int;       /* number written without fraction/exponent and fits */
	int64_t i;
	double d;
	char *s;           /* string value (NUL-terminated; may hold NULs) */
	size_t slen;
	size_t n;          /* array items / object members */
	size_t cap;
	struct json **items;
	char **keys;       /* object member names, parallel to items */
};

/* Parse LEN bytes.  On error returns -EINVAL (or -ENOMEM) and writes a
 * lowercase reason with the byte offset into ERR. */
int json_parse(const char *buf, size_t len, struct json **out, char *err, size_t errlen);
void json_free(struct json *j);
static inline void cleanup_json(struct json **j) { json_free(*j); }
#define _cleanup_json_ __attribute__((cleanup(cleanup_json)))

/* Lookups: NULL / false when absent or of another type. */
const struct json *json_get(const struct json *obj, const char *key);
const char *json_get_str(const struct json *obj, const char *key);
bool json_get_int(const struct json *obj, const char *key, int64_t *out);
const struct json *json_get_array(const struct json *obj, const char *key);
const struct json *json_get_object(const struct json *obj, const char *key);

/* Builders: return NULL on allocation failure. */
struct json *json_new_null(void);
struct json *json_new_bool(bool b);
struct json *json_new_int(int64_t i);
struct json *json_new_string(const char *s);
struct json *json_new_stringn(const char *s, size_t len);
struct json *json_new_array(void);
struct json *json_new_object(void);
/* Take ownership of VAL (freed on failure, too).  Setting an existing key
 * replaces its value in place. */
int json_array_push(struct json *arr, struct json *val);
int json_object_set(struct json *obj, const char *key, struct json *val);
int json_object_del(struct json *obj, const char *key);
/* Remove (and free) item IDX of an array or object. */
void json_remove_at(struct json *j, size_t idx);
/* Shorthands for json_object_set with a new scalar. */
int json_set_str(struct json *obj, const char *key, const char *s);
int json_set_int(struct json *obj, const char *key, int64_t i);
struct json *json_clone(const struct json *j);

/* Serialise.  INDENT 0 writes compact JSON; >0 pretty-prints with that
 * many spaces per level.  Appends to OUT. */
int json_write(const struct json *j, int indent, struct strbuf *out);

#endif
