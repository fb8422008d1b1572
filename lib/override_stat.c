/* Parse and format the user.containers.override_stat xattr. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "override_stat.h"

static int parse_u32(const char **p, const char *end, int base, uint32_t *out)
{
	uint64_t v = 0;
	const char *s = *p;
	if (s >= end)
		return -EINVAL;
	while (s < end && *s != ':' && *s != '-') {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		v = v * base + d;
		if (v > UINT32_MAX)
			return -EINVAL;
		s++;
	}
	if (s == *p)
		return -EINVAL;
	*p = s;
	*out = (uint32_t)v;
	return 0;
}

static int parse_type(const char *s, const char *end, struct override_stat *o)
{
	static const struct { const char *name; mode_t type; } simple[] = {
		{ "file", S_IFREG }, { "dir", S_IFDIR }, { "symlink", S_IFLNK },
		{ "pipe", S_IFIFO }, { "socket", S_IFSOCK },
	};
	size_t n = (size_t)(end - s);
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (strlen(simple[i].name) == n && memcmp(s, simple[i].name, n) == 0) {
			o->mode |= simple[i].type;
			o->has_type = 1;
			return 0;
		}
	}
	mode_t type;
	if (n > 6 && memcmp(s, "block-", 6) == 0) {
		type = S_IFBLK;
		s += 6;
	} else if (n > 5 && memcmp(s, "char-", 5) == 0) {
		type = S_IFCHR;
		s += 5;
	} else {
		return -EINVAL;
	}
	uint32_t maj, min;
	if (parse_u32(&s, end, 10, &maj) < 0 || s >= end || *s != '-')
		return -EINVAL;
	s++;
	if (parse_u32(&s, end, 10, &min) < 0 || s != end)
		return -EINVAL;
	o->mode |= type;
	o->rdev = makedev(maj, min);
	o->has_type = 1;
	return 0;
}

int ovs_parse(const char *val, size_t len, struct override_stat *out)
{
	const char *p = val, *end = val + len;
	struct override_stat o = { 0 };
	uint32_t uid, gid, mode;

	/* Some writers NUL-terminate the value. */
	while (end > p && end[-1] == '\0')
		end--;
	if (parse_u32(&p, end, 10, &uid) < 0 || p >= end || *p++ != ':')
		return -EINVAL;
	if (parse_u32(&p, end, 10, &gid) < 0 || p >= end || *p++ != ':')
		return -EINVAL;
	if (parse_u32(&p, end, 8, &mode) < 0 || mode > 07777)
		return -EINVAL;
	o.uid = uid;
	o.gid = gid;
	o.mode = (mode_t)mode;
	if (p < end) {
		if (*p++ != ':')
			return -EINVAL;
		if (parse_type(p, end, &o) < 0)
			return -EINVAL;
	}
	*out = o;
	return 0;
}

int ovs_format(const struct override_stat *o, char *buf, size_t size)
{
	char type[48] = "";
	switch (o->mode & S_IFMT) {
	case S_IFREG: strcpy(type, ":file"); break;
	case S_IFDIR: strcpy(type, ":dir"); break;
	case S_IFLNK: strcpy(type, ":symlink"); break;
	case S_IFIFO: strcpy(type, ":pipe"); break;
	case S_IFSOCK: strcpy(type, ":socket"); break;
	case S_IFBLK:
	case S_IFCHR:
		snprintf(type, sizeof(type), ":%s-%u-%u",
			 S_ISBLK(o->mode) ? "block" : "char",
			 major(o->rdev), minor(o->rdev));
		break;
	default: break;
	}
	int n = snprintf(buf, size, "%u:%u:0%o%s", (unsigned)o->uid,
			 (unsigned)o->gid, (unsigned)(o->mode & 07777), type);
	if (n < 0 || (size_t)n >= size)
		return -ERANGE;
	return n;
}
