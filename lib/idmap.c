/* uid/gid mapping tables (see idmap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "idmap.h"

static int parse_num(const char **p, uint32_t *out)
{
	char *end;
	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(*p, &end, 10);
	if (errno || v > UINT32_MAX)
		return -EINVAL;
	*p = end;
	*out = (uint32_t)v;
	return 0;
}

int idmap_parse(const char *s, struct idmap *map)
{
	const char *p = s;
	size_t n = map->n;
	_cleanup_free_ struct idmap_range *r = NULL;

	if (*p == ':')
		p++; /* podman's form: ":0:1:1000:..." */
	if (*p == '\0')
		return -EINVAL;
	r = malloc(sizeof(*r) * (n + strlen(s) / 6 + 1));
	if (!r)
		return -ENOMEM;
	if (n)
		memcpy(r, map->r, sizeof(*r) * n);
	while (*p) {
		struct idmap_range e;
		if (parse_num(&p, &e.outer) < 0 || *p++ != ':' ||
		    parse_num(&p, &e.inner) < 0 || *p++ != ':' ||
		    parse_num(&p, &e.count) < 0 || e.count == 0)
			return -EINVAL;
		if ((uint64_t)e.inner + e.count - 1 > UINT32_MAX ||
		    (uint64_t)e.outer + e.count - 1 > UINT32_MAX)
			return -EINVAL;
		if (*p == ':')
			p++;
		else if (*p != '\0')
			return -EINVAL;
		r[n++] = e;
	}
	free(map->r);
	map->r = TAKE_PTR(r);
	map->n = n;
	return 0;
}

void idmap_free(struct idmap *map)
{
	free(map->r);
	map->r = NULL;
	map->n = 0;
}

uint32_t idmap_to_inner(const struct idmap *map, uint32_t outer)
{
	if (map->n == 0)
		return outer;
	for (size_t i = 0; i < map->n; i++) {
		const struct idmap_range *e = &map->r[i];
		if (outer >= e->outer && outer - e->outer < e->count)
			return e->inner + (outer - e->outer);
	}
	return IDMAP_OVERFLOW_ID;
}

int64_t idmap_to_outer(const struct idmap *map, uint32_t inner)
{
	if (map->n == 0)
		return inner;
	for (size_t i = 0; i < map->n; i++) {
		const struct idmap_range *e = &map->r[i];
		if (inner >= e->inner && inner - e->inner < e->count)
			return (int64_t)e->outer + (inner - e->inner);
	}
	return -ERANGE;
}
