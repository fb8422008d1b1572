/* cgroup v2 / v1 limits for a container (see launch_cgroup.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_cgroup.h"

static int write_file(const char *dir, const char *file, const char *value)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, strlen(value));
	return n == (ssize_t)strlen(value) ? 0 : n < 0 ? -errno : -EIO;
}

static bool file_has_word(const char *path, const char *word)
{
	char buf[1024] = "";
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		return false;
	char *save = NULL;
	for (char *w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
		if (!strcmp(w, word))
			return true;
	return false;
}

static bool has_option(const char *opts, const char *word)
{
	size_t l = strlen(word);
	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, word, l) && (p[l] == ',' || p[l] == 0 || p[l] == '\n'))
			return true;
	return false;
}

/* Mount point and root of the cgroup hierarchy with CONTROLLER (v1), or
 * of the v2 hierarchy when CONTROLLER is NULL. */
static int find_mount(const char *controller, char mnt[4096], char root[4096])
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char r[4096], m[4096], type[64], opts[1024];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2 ||
		    sscanf(sep + 3, "%63s %*s %1023s", type, opts) != 2)
			continue;
		if (controller ? strcmp(type, "cgroup") || !has_option(opts, controller)
			       : strcmp(type, "cgroup2"))
			continue;
		strcpy(mnt, m);
		strcpy(root, r);
		return 0;
	}
	return -ENOENT;
}

/* The caller's group in the hierarchy of CONTROLLER (NULL: v2). */
static int own_group(const char *controller, char out[4096])
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;
		if (!p)
			continue;
		*p = 0;
		p[strcspn(p + 1, "\n") + 1] = 0;
		if (controller ? !has_option(c + 1, controller) : c[1] != 0)
			continue;
		snprintf(out, 4096, "%s", p + 1);
		return 0;
	}
	return -ENOENT;
}

/* The directory of the caller's group for CONTROLLER (NULL: v2). */
static int group_dir(const char *controller, char dir[4096])
{
	char mnt[4096], root[4096], grp[4096];
	int r;
	if ((r = find_mount(controller, mnt, root)) < 0 || (r = own_group(controller, grp)) < 0)
		return r;
	const char *rel = grp;
	size_t l = strlen(root);
	if (strcmp(root, "/") && !strncmp(grp, root, l))
		rel = grp + l;
	snprintf(dir, 4096, "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	return 0;
}

static int add_dir(struct cgroup_plan *p, const char *parent, const char *name, char **made)
{
	if (p->n >= CGROUP_MAX_DIRS)
		return -ENOSPC;
	char *d;
	if (asprintf(&d, "%s/%s", parent, name) < 0)
		return -ENOMEM;
	if (mkdir(d, 0755) < 0 && errno != EEXIST) {
		int e = -errno;
		free(d);
		return e;
	}
	p->dirs[p->n++] = d;
	*made = d;
	return 0;
}

static void drop_last(struct cgroup_plan *p)
{
	rmdir(p->dirs[p->n - 1]);
	free(p->dirs[--p->n]);
}

/* All limits in one v2 group, when the hierarchy offers every controller
 * needed and lets us enable them. */
static int try_v2(const char *name, const struct cgroup_limits *lim, struct cgroup_plan *p)
{
	char dir[4096], path[4200], want[64] = "";
	if (group_dir(NULL, dir) < 0 || access(dir, W_OK) < 0)
		return -ENOENT;
	const char *ctl[] = { lim->memory ? "memory" : NULL, lim->cpu_millis ? "cpu" : NULL,
			      lim->pids ? "pids" : NULL };
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	for (size_t k = 0; k < ARRAY_SIZE(ctl); k++) {
		if (!ctl[k])
			continue;
		if (!file_has_word(path, ctl[k]))
			return -ENOENT;
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "+%s ", ctl[k]);
	}
	if (write_file(dir, "cgroup.subtree_control", want) < 0)
		return -ENOENT;
	char *g;
	int r = add_dir(p, dir, name, &g);
	if (r < 0)
		return r;
	char v[64];
	r = 0;
	if (lim->memory) {
		snprintf(v, sizeof(v), "%" PRId64, lim->memory);
		r = write_file(g, "memory.max", v);
		write_file(g, "memory.swap.max", "0");
	}
	if (r == 0 && lim->cpu_millis) {
		snprintf(v, sizeof(v), "%" PRId64 " 100000", lim->cpu_millis * 100);
		r = write_file(g, "cpu.max", v);
	}
	if (r == 0 && lim->pids) {
		snprintf(v, sizeof(v), "%" PRId64, lim->pids);
		r = write_file(g, "pids.max", v);
	}
	if (r < 0)
		drop_last(p);
	return r;
}

/* One v1 group for CONTROLLER with FILE=VALUE (and FILE2=VALUE2). */
static int try_v1(const char *controller, const char *name, struct cgroup_plan *p,
		  const char *file, const char *value, const char *file2, const char *value2)
{
	char dir[4096];
	if (group_dir(controller, dir) < 0 || access(dir, W_OK) < 0)
		return -ENOENT;
	char *g;
	int r = add_dir(p, dir, name, &g);
	if (r < 0)
		return r;
	if (file2 && strstr(file2, "memsw")) {
		/* memsw must stay >= the memory limit: set memory first; without
		 * swap accounting the memory limit stands alone. */
		r = write_file(g, file, value);
		if (r == 0)
			write_file(g, file2, value2);
	} else {
		r = file2 ? write_file(g, file2, value2) : 0;
		if (r == 0)
			r = write_file(g, file, value);
	}
	if (r < 0)
		drop_last(p);
	return r;
}

static void warn_add(struct msgbuf *w, const char *what)
{
	size_t l = strlen(w->text);
	snprintf(w->text + l, sizeof(w->text) - l, "%s%s", l ? ", " : "", what);
}

int cgroup_setup(const char *name, const struct cgroup_limits *lim,
		 struct cgroup_plan *out, struct msgbuf *warn)
{
	struct cgroup_plan p = { 0 };
	warn->text[0] = 0;
	if (!lim->memory && !lim->cpu_millis && !lim->pids) {
		*out = p;
		return 0;
	}
	if (try_v2(name, lim, &p) == 0) {
		*out = p;
		return 0;
	}
	char v[64];
	if (lim->memory) {
		snprintf(v, sizeof(v), "%" PRId64, lim->memory);
		if (try_v1("memory", name, &p, "memory.limit_in_bytes", v,
			   "memory.memsw.limit_in_bytes", v) < 0)
			warn_add(warn, "--memory");
	}
	if (lim->cpu_millis) {
		char q[64];
		snprintf(q, sizeof(q), "%" PRId64, lim->cpu_millis * 100);
		if (try_v1("cpu", name, &p, "cpu.cfs_quota_us", q, "cpu.cfs_period_us", "100000") < 0)
			warn_add(warn, "--cpus");
	}
	if (lim->pids) {
		snprintf(v, sizeof(v), "%" PRId64, lim->pids);
		if (try_v1("pids", name, &p, "pids.max", v, NULL, NULL) < 0)
			warn_add(warn, "--pids-limit");
	}
	*out = p;
	return 0;
}

int cgroup_join(const struct cgroup_plan *p, struct msgbuf *m)
{
	for (size_t k = 0; k < p->n; k++) {
		int r = write_file(p->dirs[k], "cgroup.procs", "0");
		if (r < 0)
			return msg_fail(m, r, "cannot join cgroup '%s': %s", p->dirs[k], strerror(-r));
	}
	return 0;
}

void cgroup_cleanup(struct cgroup_plan *p)
{
	for (size_t k = 0; k < p->n; k++) {
		rmdir(p->dirs[k]);
		free(p->dirs[k]);
	}
	p->n = 0;
}

void cgroup_forget(struct cgroup_plan *p)
{
	for (size_t k = 0; k < p->n; k++)
		free(p->dirs[k]);
	p->n = 0;
}
