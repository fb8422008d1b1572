/* A small recursive-descent JSON reader: enough for OCI indexes,
 * manifests and configs and the launcher's own records. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "minijson.h"

#define MJ_MAX_DEPTH 64

struct parser {
	const char *p, *end;
	int depth;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct mj *node(enum mj_type t)
{
	struct mj *j = calloc(1, sizeof(*j));
	if (j)
		j->type = t;
	return j;
}

void mj_free(struct mj *j)
{
	if (!j)
		return;
	for (size_t k = 0; k < j->n; k++) {
		if (j->keys)
			free(j->keys[k]);
		mj_free(j->v[k]);
	}
	free(j->keys);
	free(j->v);
	free(j->str);
	free(j);
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		char c = s[k];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
		else return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) { o[0] = (char)cp; return 1; }
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \u escape at S (after the backslash-u), possibly a surrogate pair. */
static int unicode_escape(struct parser *ps, unsigned *cp)
{
	if (ps->end - ps->p < 4 || hex4(ps->p, cp) < 0)
		return -EINVAL;
	ps->p += 4;
	if (*cp >= 0xd800 && *cp < 0xdc00 && ps->end - ps->p >= 6 &&
	    ps->p[0] == '\\' && ps->p[1] == 'u') {
		unsigned lo;
		if (hex4(ps->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
			*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
			ps->p += 6;
		}
	}
	return 0;
}

/* A string literal at ps->p (on the opening quote): decoded into *OUT. */
static int parse_string(struct parser *ps, char **out)
{
	ps->p++;
	/* Decoding never makes a string longer than its literal. */
	_cleanup_free_ char *s = malloc((size_t)(ps->end - ps->p) + 4);
	if (!s)
		return -ENOMEM;
	size_t n = 0;
	while (ps->p < ps->end && *ps->p != '"') {
		char c = *ps->p++;
		if ((unsigned char)c < 0x20)
			return -EINVAL;
		if (c != '\\') {
			s[n++] = c;
			continue;
		}
		if (ps->p >= ps->end)
			return -EINVAL;
		c = *ps->p++;
		unsigned cp;
		switch (c) {
		case '"': case '\\': case '/': s[n++] = c; break;
		case 'b': s[n++] = '\b'; break;
		case 'f': s[n++] = '\f'; break;
		case 'n': s[n++] = '\n'; break;
		case 'r': s[n++] = '\r'; break;
		case 't': s[n++] = '\t'; break;
		case 'u':
			if (unicode_escape(ps, &cp) < 0 || cp == 0)
				return -EINVAL;
			n += put_utf8(s + n, cp);
			break;
		default:
			return -EINVAL;
		}
	}
	if (ps->p >= ps->end)
		return -EINVAL;
	ps->p++;
	s[n] = 0;
	*out = TAKE_PTR(s);
	return 0;
}

static int parse_value(struct parser *ps, struct mj **out);

static int append(struct mj *j, char *key, struct mj *v)
{
	struct mj **nv = realloc(j->v, (j->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	j->v = nv;
	if (j->type == MJ_OBJ) {
		char **nk = realloc(j->keys, (j->n + 1) * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		j->keys = nk;
		j->keys[j->n] = key;
	}
	j->v[j->n++] = v;
	return 0;
}

/* One member of an array or object into J. */
static int parse_member(struct parser *ps, struct mj *j)
{
	_cleanup_free_ char *key = NULL;
	skip_ws(ps);
	if (j->type == MJ_OBJ) {
		if (ps->p >= ps->end || *ps->p != '"')
			return -EINVAL;
		int r = parse_string(ps, &key);
		if (r < 0)
			return r;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p++ != ':')
			return -EINVAL;
	}
	struct mj *v = NULL;
	int r = parse_value(ps, &v);
	if (r < 0)
		return r;
	r = append(j, key, v);
	if (r < 0) {
		mj_free(v);
		return r;
	}
	key = NULL;
	return 0;
}

static int parse_container(struct parser *ps, enum mj_type t, struct mj **out)
{
	char close = t == MJ_OBJ ? '}' : ']';
	if (++ps->depth > MJ_MAX_DEPTH)
		return -EINVAL;
	ps->p++;
	struct mj *j = node(t);
	if (!j)
		return -ENOMEM;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		*out = j;
		return 0;
	}
	for (;;) {
		int r = parse_member(ps, j);
		if (r < 0) {
			mj_free(j);
			return r;
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		mj_free(j);
		return -EINVAL;
	}
	ps->depth--;
	*out = j;
	return 0;
}

static int parse_literal(struct parser *ps, struct mj **out)
{
	static const struct { const char *w; enum mj_type t; bool b; } lits[] = {
		{ "true", MJ_BOOL, true }, { "false", MJ_BOOL, false }, { "null", MJ_NULL, false },
	};
	for (size_t k = 0; k < ARRAY_SIZE(lits); k++) {
		size_t l = strlen(lits[k].w);
		if ((size_t)(ps->end - ps->p) >= l && !memcmp(ps->p, lits[k].w, l)) {
			struct mj *j = node(lits[k].t);
			if (!j)
				return -ENOMEM;
			j->b = lits[k].b;
			ps->p += l;
			*out = j;
			return 0;
		}
	}
	const char *s = ps->p;
	while (ps->p < ps->end && strchr("+-0123456789.eE", *ps->p))
		ps->p++;
	if (ps->p == s)
		return -EINVAL;
	struct mj *j = node(MJ_NUM);
	if (!j || !(j->str = strndup(s, (size_t)(ps->p - s)))) {
		free(j);
		return -ENOMEM;
	}
	*out = j;
	return 0;
}

static int parse_value(struct parser *ps, struct mj **out)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return -EINVAL;
	if (*ps->p == '{')
		return parse_container(ps, MJ_OBJ, out);
	if (*ps->p == '[')
		return parse_container(ps, MJ_ARR, out);
	if (*ps->p == '"') {
		struct mj *j = node(MJ_STR);
		if (!j)
			return -ENOMEM;
		int r = parse_string(ps, &j->str);
		if (r < 0) {
			free(j);
			return r;
		}
		*out = j;
		return 0;
	}
	return parse_literal(ps, out);
}

int mj_parse(const char *text, size_t len, struct mj **out)
{
	struct parser ps = { text, text + len, 0 };
	struct mj *j = NULL;
	int r = parse_value(&ps, &j);
	if (r < 0)
		return r;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		mj_free(j);
		return -EINVAL;
	}
	*out = j;
	return 0;
}

const struct mj *mj_get(const struct mj *j, const char *key)
{
	if (!j || j->type != MJ_OBJ)
		return NULL;
	for (size_t k = 0; k < j->n; k++)
		if (!strcmp(j->keys[k], key))
			return j->v[k];
	return NULL;
}

const char *mj_str(const struct mj *j, const char *key)
{
	const struct mj *v = mj_get(j, key);
	return v && v->type == MJ_STR ? v->str : NULL;
}

int mj_strv(const struct mj *j, char ***out)
{
	if (!j || j->type != MJ_ARR) {
		*out = NULL;
		return 0;
	}
	char **v = calloc(j->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	for (size_t k = 0; k < j->n; k++) {
		if (j->v[k]->type != MJ_STR)
			continue;
		if (!(v[n++] = strdup(j->v[k]->str))) {
			for (size_t i = 0; i < n; i++)
				free(v[i]);
			free(v);
			return -ENOMEM;
		}
	}
	*out = v;
	return 0;
}

int mj_load(int dirfd, const char *path, size_t max, struct mj **out)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max)
		return -EFBIG;
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t r = RETRY_EINTR(read(fd, buf + n, (size_t)st.st_size - n));
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return mj_parse(buf, n, out);
}

int mj_quote(char **buf, size_t *len, const char *s)
{
	size_t need = *len + strlen(s) * 6 + 3;
	char *b = realloc(*buf, need);
	if (!b)
		return -ENOMEM;
	*buf = b;
	size_t n = *len;
	b[n++] = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			b[n++] = '\\';
			b[n++] = (char)*c;
		} else if (*c < 0x20) {
			n += (size_t)snprintf(b + n, 7, "\\u%04x", *c);
		} else {
			b[n++] = (char)*c;
		}
	}
	b[n++] = '"';
	b[n] = 0;
	*len = n;
	return 0;
}
