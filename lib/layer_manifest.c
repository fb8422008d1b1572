/* Layer entry manifest: a path index and its JSON form (see layer_manifest.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <xxhash.h>

#include "cleanup.h"
#include "layer_manifest.h"

static void entry_free(struct layer_entry *e)
{
	free(e->path);
	free(e->link);
}

void lm_free(struct layer_manifest *m)
{
	for (size_t k = 0; k < m->n; k++)
		entry_free(&m->e[k]);
	free(m->e);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static size_t slot_of(const struct layer_manifest *m, const char *path)
{
	size_t mask = m->nslots - 1;
	size_t h = (size_t)XXH3_64bits(path, strlen(path)) & mask;
	while (m->slots[h] != SIZE_MAX && strcmp(m->e[m->slots[h]].path, path) != 0)
		h = (h + 1) & mask;
	return h;
}

static int rehash(struct layer_manifest *m, size_t nslots)
{
	size_t *slots = malloc(nslots * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t k = 0; k < nslots; k++)
		slots[k] = SIZE_MAX;
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
	for (size_t k = 0; k < m->n; k++)
		if (!m->e[k].removed)
			m->slots[slot_of(m, m->e[k].path)] = k;
	return 0;
}

struct layer_entry *lm_find(struct layer_manifest *m, const char *path)
{
	if (!m->nslots || !m->slots)
		return NULL;
	size_t s = m->slots[slot_of(m, path)];
	return s == SIZE_MAX ? NULL : &m->e[s];
}

int lm_put(struct layer_manifest *m, struct layer_entry *entry)
{
	struct layer_entry *old = lm_find(m, entry->path);
	if (old) {
		entry_free(old);
		*old = *entry;
		memset(entry, 0, sizeof(*entry));
		return 0;
	}
	if ((m->n + 1) * 2 > m->nslots) {
		int r = rehash(m, m->nslots ? m->nslots * 2 : 1024);
		if (r < 0)
			return r;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct layer_entry *e = realloc(m->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		m->e = e;
		m->cap = cap;
	}
	m->e[m->n] = *entry;
	memset(entry, 0, sizeof(*entry));
	m->slots[slot_of(m, m->e[m->n].path)] = m->n;
	m->n++;
	return 0;
}

void lm_remove_tree(struct layer_manifest *m, const char *path)
{
	size_t len = strlen(path);
	bool any = false;
	for (size_t k = 0; k < m->n; k++) {
		struct layer_entry *e = &m->e[k];
		if (e->removed || strncmp(e->path, path, len) != 0 ||
		    (e->path[len] != '\0' && e->path[len] != '/'))
			continue;
		e->removed = true;
		any = true;
	}
	/* Removal breaks probe chains: rebuild the index (rare: only when a
	 * layer replaces an entry by one of another kind). */
	if (any)
		rehash(m, m->nslots);
}

size_t lm_count(const struct layer_manifest *m)
{
	size_t c = 0;
	for (size_t k = 0; k < m->n; k++)
		c += !m->e[k].removed;
	return c;
}

uint64_t lm_bytes(const struct layer_manifest *m)
{
	uint64_t b = 0;
	for (size_t k = 0; k < m->n; k++)
		if (!m->e[k].removed && S_ISREG(m->e[k].mode) && !m->e[k].hardlink)
			b += m->e[k].size;
	return b;
}

static const struct { const char *name; mode_t type; } types[] = {
	{ "file", S_IFREG }, { "dir", S_IFDIR }, { "symlink", S_IFLNK },
	{ "pipe", S_IFIFO }, { "socket", S_IFSOCK }, { "char", S_IFCHR },
	{ "block", S_IFBLK },
};

const char *lm_type_name(const struct layer_entry *e)
{
	for (size_t k = 0; k < ARRAY_SIZE(types); k++)
		if ((e->mode & S_IFMT) == types[k].type)
			return types[k].name;
	return "unknown";
}

int lm_type_parse(const char *name, mode_t *type)
{
	for (size_t k = 0; k < ARRAY_SIZE(types); k++) {
		if (!strcmp(name, types[k].name)) {
			*type = types[k].type;
			return 0;
		}
	}
	return -EINVAL;
}

static int entry_to_json(const struct layer_entry *e, struct json **out)
{
	struct json *o = json_new_object();
	if (!o)
		return -ENOMEM;
	char mode[16];
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(e->mode & 07777));
	int r = json_set_str(o, "path", e->path);
	if (!r) r = json_set_str(o, "type", lm_type_name(e));
	if (!r) r = json_set_str(o, "mode", mode);
	if (!r) r = json_set_int(o, "uid", e->uid);
	if (!r) r = json_set_int(o, "gid", e->gid);
	if (!r) r = json_set_int(o, "mtime", e->mtime);
	if (!r && S_ISREG(e->mode)) {
		r = json_set_int(o, "size", (int64_t)e->size);
		if (!r && e->digest[0])
			r = json_set_str(o, "digest", e->digest);
	}
	if (!r && e->link)
		r = json_set_str(o, "link", e->link);
	if (!r && e->hardlink)
		r = json_object_set(o, "hardlink", json_new_bool(true));
	if (!r && (S_ISCHR(e->mode) || S_ISBLK(e->mode))) {
		r = json_set_int(o, "major", major(e->rdev));
		if (!r) r = json_set_int(o, "minor", minor(e->rdev));
	}
	if (r < 0) {
		json_free(o);
		return r;
	}
	*out = o;
	return 0;
}

int lm_to_json(const struct layer_manifest *m, struct json **out)
{
	struct json *arr = json_new_array();
	if (!arr)
		return -ENOMEM;
	for (size_t k = 0; k < m->n; k++) {
		if (m->e[k].removed)
			continue;
		struct json *o;
		int r = entry_to_json(&m->e[k], &o);
		if (r == 0)
			r = json_array_push(arr, o);
		if (r < 0) {
			json_free(arr);
			return r;
		}
	}
	*out = arr;
	return 0;
}

static int entry_from_json(const struct json *o, struct layer_entry *e)
{
	const char *path = json_get_str(o, "path");
	const char *type = json_get_str(o, "type");
	const char *mode = json_get_str(o, "mode");
	int64_t uid, gid, v;
	mode_t t;
	if (!path || !type || !mode || !json_get_int(o, "uid", &uid) ||
	    !json_get_int(o, "gid", &gid) || lm_type_parse(type, &t) < 0)
		return -EINVAL;
	const struct json *hl = json_get(o, "hardlink");
	e->hardlink = hl && hl->type == JSON_BOOL && hl->b;
	char *end;
	unsigned long perm = strtoul(mode, &end, 8);
	if (*end || perm > 07777)
		return -EINVAL;
	e->mode = t | (mode_t)perm;
	e->uid = (uid_t)uid;
	e->gid = (gid_t)gid;
	if (json_get_int(o, "mtime", &v))
		e->mtime = v;
	if (json_get_int(o, "size", &v))
		e->size = (uint64_t)v;
	const char *dg = json_get_str(o, "digest");
	if (dg && strlen(dg) <= DIGEST_STR_LEN)
		strcpy(e->digest, dg);
	int64_t maj = 0, min = 0;
	if (json_get_int(o, "major", &maj) && json_get_int(o, "minor", &min))
		e->rdev = makedev((unsigned)maj, (unsigned)min);
	e->path = strdup(path);
	const char *link = json_get_str(o, "link");
	e->link = link ? strdup(link) : NULL;
	if (!e->path || (link && !e->link)) {
		entry_free(e);
		return -ENOMEM;
	}
	return 0;
}

int lm_from_json(const struct json *arr, struct layer_manifest *m)
{
	if (!arr || arr->type != JSON_ARRAY)
		return -EINVAL;
	for (size_t k = 0; k < arr->n; k++) {
		struct layer_entry e = { 0 };
		int r = entry_from_json(arr->items[k], &e);
		if (r == 0) {
			r = lm_put(m, &e);
			entry_free(&e);
		}
		if (r < 0) {
			lm_free(m);
			return r;
		}
	}
	return 0;
}
