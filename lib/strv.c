/* NULL-terminated string vectors (see strv.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "strv.h"

int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void strv_free_n(char **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

int strv_from_json(const struct json *j, char ***out)
{
	*out = NULL;
	if (!j || j->type != JSON_ARRAY)
		return 0;
	char **v = calloc(1, sizeof(*v));
	size_t n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t k = 0; k < j->n; k++) {
		if (j->items[k]->type == JSON_STRING && strv_push(&v, &n, j->items[k]->s) < 0) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	*out = v;
	return 0;
}
