/* Image name validation (see refs.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refs.h"

static bool alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: lowercase alphanumerics joined by ".", "_", "__" or
 * runs of "-". */
static bool component_valid(const char *s, size_t len)
{
	if (!len || !alnum_lower(s[0]) || !alnum_lower(s[len - 1]))
		return false;
	for (size_t k = 0; k < len; k++) {
		char c = s[k];
		if (alnum_lower(c))
			continue;
		if (c == '.' || c == '_' || c == '-') {
			if (c == '.' && !alnum_lower(s[k + 1]))
				return false;
			if (c == '_' && s[k + 1] == '_' && s[k + 2] == '_')
				return false;
			if (c == '_' && s[k + 1] != '_' && !alnum_lower(s[k + 1]))
				return false;
			continue;
		}
		return false;
	}
	return true;
}

/* The first component may be a registry host: letters, digits, ".", "-",
 * and an optional ":port". */
static bool domain_valid(const char *s, size_t len)
{
	size_t k = 0;
	while (k < len && (isalnum((unsigned char)s[k]) || s[k] == '.' || s[k] == '-'))
		k++;
	if (k == 0)
		return false;
	if (k < len && s[k] == ':') {
		size_t p = ++k;
		while (k < len && isdigit((unsigned char)s[k]))
			k++;
		if (k == p)
			return false;
	}
	return k == len;
}

static bool name_valid(const char *name, size_t len)
{
	if (!len || len > 255)
		return false;
	const char *p = name, *end = name + len;
	bool first = true;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
		bool is_domain = first && slash &&
			(memchr(p, '.', n) || memchr(p, ':', n) || (n == 9 && !memcmp(p, "localhost", 9)));
		if (!(is_domain ? domain_valid(p, n) : component_valid(p, n)))
			return false;
		first = false;
		p += n + (slash ? 1 : 0);
		if (slash && p == end)
			return false;
	}
	return true;
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (!n || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t k = 1; k < n; k++)
		if (!(isalnum((unsigned char)t[k]) || t[k] == '_' || t[k] == '.' || t[k] == '-'))
			return false;
	return true;
}

bool tag_looks_like_version(const char *tag)
{
	const char *p = tag;
	if (*p == 'v' || *p == 'V')
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '.' || (*p == '\0' && p != tag && (tag[0] == 'v' || tag[0] == 'V'));
}

static bool numeric_id(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!isdigit((unsigned char)s[k]))
			return false;
	return n == 1 || s[0] != '0';
}

bool semver_valid(const char *tag)
{
	const char *p = tag;
	if (*p == 'v')
		p++;
	for (int part = 0; part < 3; part++) {
		size_t n = strspn(p, "0123456789");
		if (!numeric_id(p, n))
			return false;
		p += n;
		if (part < 2) {
			if (*p != '.')
				return false;
			p++;
		}
	}
	if (*p == '\0')
		return true;
	if (*p != '-')
		return false;
	p++;
	/* Pre-release: dot-separated identifiers of [0-9A-Za-z-], numeric ones
	 * without leading zeros. */
	for (;;) {
		size_t n = strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-");
		if (!n)
			return false;
		if (strspn(p, "0123456789") == n && !numeric_id(p, n))
			return false;
		p += n;
		if (*p == '\0')
			return true;
		if (*p != '.')
			return false;
		p++;
	}
}

const char *ref_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	return colon ? colon + 1 : "";
}

int ref_normalize(const char *in, char **out, bool *implicit, struct errmsg *e)
{
	const char *slash = strrchr(in, '/');
	const char *colon = strrchr(slash ? slash : in, ':');
	size_t namelen = colon ? (size_t)(colon - in) : strlen(in);
	const char *tag = colon ? colon + 1 : "latest";
	if (strchr(in, '@'))
		return err_set(e, -EINVAL, "name '%s' has a digest; give NAME:TAG", in);
	if (!name_valid(in, namelen))
		return err_set(e, -EINVAL, "invalid image name '%.*s' (lowercase letters, digits, "
			       "'.', '_', '-' and '/' separated components)", (int)namelen, in);
	if (!tag_valid(tag))
		return err_set(e, -EINVAL, "invalid tag '%s' (up to 128 of letters, digits, '_', '.', '-')", tag);
	if (tag_looks_like_version(tag) && !semver_valid(tag))
		return err_set(e, -EINVAL, "tag '%s' looks like a version but is not semver "
			       "(MAJOR.MINOR.PATCH[-PRERELEASE])", tag);
	if (asprintf(out, "%.*s:%s", (int)namelen, in, tag) < 0)
		return -ENOMEM;
	*implicit = colon == NULL;
	return 0;
}
