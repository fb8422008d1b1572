/* The changes of a container directory (see container_changes.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "container.h"
#include "container_changes.h"
#include "fsutil.h"
#include "strv.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mountpoints_free(char **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

int container_mountpoints(const char *cdir, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	_cleanup_free_ char *p = NULL, *data = NULL;
	size_t len;
	if (asprintf(&p, "%s/mountpoints", cdir) < 0)
		return -ENOMEM;
	int r = read_file_at(AT_FDCWD, p, 1u << 20, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	char **v = NULL;
	size_t cnt = 0;
	for (char *save = NULL, *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char **nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv || !(nv[cnt] = strdup(l))) {
			mountpoints_free(nv ? nv : v, cnt);
			return -ENOMEM;
		}
		v = nv;
		cnt++;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*out = v;
	*n = cnt;
	return 0;
}

int container_changes(const char *cdir, const struct container_record *rec, bool keep_links,
		      bool whole, struct change_set *out, struct errmsg *e)
{
	_cleanup_free_ char *upper = NULL;
	if (asprintf(&upper, "%s/upper", cdir) < 0)
		return -ENOMEM;
	char **ign = NULL;
	size_t nign = 0;
	int r = container_mountpoints(cdir, &ign, &nign);
	if (r < 0)
		return err_sys(e, r, "cannot read '%s/mountpoints'", cdir);
	struct id_plan ids;
	id_plan_load(&ids);
	size_t nlower = 0;
	while (rec->lowerdirs && rec->lowerdirs[nlower])
		nlower++;
	struct change_opts o = {
		.upper = upper, .lowerdirs = rec->lowerdirs, .nlower = nlower,
		.old_from = whole ? nlower : 0, .ignore = ign, .nignore = nign, .ids = &ids, .keep_links = keep_links,
	};
	r = changes_collect(&o, out, e);
	mountpoints_free(ign, nign);
	return r;
}
