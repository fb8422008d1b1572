/* Container directories and their records (see container.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "image_ref.h"
#include "fsutil.h"
#include "json.h"
#include "store.h"

#define RECORD_MAX (1u << 20)

int store_root(const char *root_opt, char **out)
{
	return store_default_root(root_opt, out);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -errno : 0;
}

int container_create(const char *root, char **id, char **cdir, struct msgbuf *m)
{
	unsigned char rnd[32];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return msg_fail(m, -EIO, "cannot get random bytes: %s", strerror(errno));
	char hex[65];
	for (size_t k = 0; k < sizeof(rnd); k++)
		snprintf(hex + 2 * k, 3, "%02x", rnd[k]);
	_cleanup_free_ char *dir = NULL, *i = strdup(hex);
	if (!i || asprintf(&dir, "%s/containers/%s", root, hex) < 0)
		return -ENOMEM;
	char parent[4200];
	snprintf(parent, sizeof(parent), "%s/containers", root);
	int r = mkdir_p(parent, 0700);
	if (r < 0)
		return msg_fail(m, r, "cannot create '%s': %s", parent, strerror(-r));
	if (mkdir(dir, 0700) < 0)
		return msg_fail(m, -errno, "cannot create '%s': %s", dir, strerror(errno));
	static const char *const sub[] = { "upper", "work", "merged", "etc" };
	for (size_t k = 0; k < ARRAY_SIZE(sub); k++) {
		char p[4300];
		snprintf(p, sizeof(p), "%s/%s", dir, sub[k]);
		if (mkdir(p, 0755) < 0)
			return msg_fail(m, -errno, "cannot create '%s': %s", p, strerror(errno));
	}
	*id = TAKE_PTR(i);
	*cdir = TAKE_PTR(dir);
	return 0;
}

int container_write_text(const char *cdir, const char *file, const char *text)
{
	char tmp[4300], dst[4300];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", cdir, file);
	snprintf(dst, sizeof(dst), "%s/%s", cdir, file);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t l = strlen(text);
	if (write(fd, text, l) != (ssize_t)l)
		return errno ? -errno : -EIO;
	return rename(tmp, dst) < 0 ? -errno : 0;
}

/* KEY: VALUE, or KEY: null. */
static int set_str_or_null(struct json *o, const char *key, const char *value)
{
	if (value)
		return json_set_str(o, key, value);
	struct json *n = json_new_null();
	return n ? json_object_set(o, key, n) : -ENOMEM;
}

static int set_strv(struct json *o, const char *key, char **v)
{
	struct json *a = json_new_array();
	if (!a)
		return -ENOMEM;
	for (size_t k = 0; v && v[k]; k++) {
		struct json *s = json_new_string(v[k]);
		if (!s || json_array_push(a, s) < 0) {
			json_free(s);
			json_free(a);
			return -ENOMEM;
		}
	}
	return json_object_set(o, key, a);
}

int container_write_record(const char *cdir, const struct container_record *c)
{
	const struct { const char *key, *value; } strs[] = {
		{ "id", c->id }, { "name", c->name }, { "image", c->image },
		{ "image_id", c->image_id }, { "image_name", c->image_name },
		{ "rootfs", c->rootfs },
	};
	_cleanup_json_ struct json *o = json_new_object();
	if (!o)
		return -ENOMEM;
	int r = 0;
	for (size_t k = 0; r >= 0 && k < ARRAY_SIZE(strs); k++)
		r = set_str_or_null(o, strs[k].key, strs[k].value);
	if (r >= 0)
		r = set_strv(o, "lowerdirs", c->lowerdirs);
	if (r >= 0)
		r = set_strv(o, "command", c->command);
	if (r >= 0)
		r = json_set_int(o, "created", c->created);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if (r >= 0)
		r = json_write(o, 2, &sb);
	if (r >= 0)
		r = sb_putc(&sb, '\n');
	return r < 0 ? r : container_write_text(cdir, "config.json", sb.s);
}

void container_record_free(struct container_record *c)
{
	free(c->id);
	free(c->name);
	free(c->image);
	free(c->image_id);
	free(c->image_name);
	free(c->rootfs);
	strv_free(c->lowerdirs);
	strv_free(c->command);
	memset(c, 0, sizeof(*c));
}

static int dup_str(const struct json *j, const char *key, char **out)
{
	const char *s = json_get_str(j, key);
	*out = NULL;
	return s && !(*out = strdup(s)) ? -ENOMEM : 0;
}

static int json_load_at(int dirfd, const char *path, size_t max, struct json **out)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_file_at(dirfd, path, max, &data, &len);
	if (r < 0)
		return r;
	return json_parse(data, len, out, NULL, 0) < 0 ? -EINVAL : 0;
}

int container_read_record(const char *cdir, struct container_record *out)
{
	_cleanup_close_ int dfd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	_cleanup_json_ struct json *j = NULL;
	int r = json_load_at(dfd, "config.json", RECORD_MAX, &j);
	if (r < 0)
		return r;
	struct container_record c = { 0 };
	if ((r = dup_str(j, "id", &c.id)) < 0 || (r = dup_str(j, "name", &c.name)) < 0 ||
	    (r = dup_str(j, "image", &c.image)) < 0 || (r = dup_str(j, "image_id", &c.image_id)) < 0 ||
	    (r = dup_str(j, "image_name", &c.image_name)) < 0 ||
	    (r = dup_str(j, "rootfs", &c.rootfs)) < 0 ||
	    (r = strv_from_json(json_get(j, "lowerdirs"), &c.lowerdirs)) < 0 ||
	    (r = strv_from_json(json_get(j, "command"), &c.command)) < 0) {
		container_record_free(&c);
		return r;
	}
	int64_t created = 0;
	c.created = json_get_int(j, "created", &created) ? created : 0;
	if (!c.id) {
		container_record_free(&c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

int container_find(const char *root, const char *ref, char **cdir, struct msgbuf *m)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/containers", root);
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d && errno != ENOENT)
		return msg_fail(m, -errno, "cannot read '%s': %s", dir, strerror(errno));
	_cleanup_free_ char *found = NULL;
	bool ambiguous = false;
	struct dirent *de;
	size_t rl = strlen(ref);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			return -ENOMEM;
		struct container_record c = { 0 };
		if (container_read_record(p, &c) < 0)
			continue;
		bool byname = c.name && !strcmp(c.name, ref);
		bool byid = rl >= 3 && !strncmp(c.id, ref, rl);
		container_record_free(&c);
		if (byname || (byid && rl == 64)) {
			*cdir = TAKE_PTR(p);
			return 0;
		}
		if (byid) {
			ambiguous = found != NULL;
			free(found);
			found = TAKE_PTR(p);
		}
	}
	if (ambiguous)
		return msg_fail(m, -EINVAL, "container id '%s' is ambiguous", ref);
	if (!found)
		return msg_fail(m, -ENOENT, "no container '%s'", ref);
	*cdir = TAKE_PTR(found);
	return 0;
}

bool container_name_taken(const char *root, const char *name)
{
	_cleanup_free_ char *p = NULL;
	if (container_find(root, name, &p, NULL) < 0)
		return false;
	struct container_record c = { 0 };
	bool taken = container_read_record(p, &c) == 0 && c.name && !strcmp(c.name, name);
	container_record_free(&c);
	return taken;
}

int container_remove_layers(const char *cdir)
{
	_cleanup_close_ int fd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	static const char *const sub[] = { "upper", "work", "merged" };
	for (size_t k = 0; k < ARRAY_SIZE(sub); k++) {
		int q = rm_rf_at(fd, sub[k], NULL);
		if (q < 0)
			r = q;
	}
	return r;
}

static int remove_all(void *arg)
{
	const char *cdir = arg;
	return rm_rf_at(AT_FDCWD, cdir, NULL);
}

int container_remove(const char *cdir, const struct id_plan *ids, struct msgbuf *m)
{
	/* Usually all ours (the holder removes the layers of a --rm
	 * container itself); files the container's other users made belong
	 * to subordinate ids, which only root of the container's namespace
	 * may remove. */
	int r = rm_rf_at(AT_FDCWD, cdir, NULL);
	if (r == 0 || (r != -EACCES && r != -EPERM))
		return r < 0 ? msg_fail(m, r, "cannot remove '%s': %s", cdir, strerror(-r)) : 0;
	r = ns_run_as_root(ids, remove_all, (void *)cdir, m);
	if (r < 0 && access(cdir, F_OK) == 0)
		return msg_fail(m, r, "cannot remove '%s': %s", cdir, msg_text(m, r));
	return 0;
}

int container_lock(const char *cdir, int *fd)
{
	char p[4300];
	snprintf(p, sizeof(p), "%s/lock", cdir);
	int f = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0)
		return -errno;
	if (flock(f, LOCK_EX | LOCK_NB) < 0) {
		int e = -errno;
		close(f);
		return e;
	}
	*fd = f;
	return 0;
}

int container_state(const char *cdir, int *exit_code, pid_t *monitor, pid_t *init)
{
	char p[4300];
	snprintf(p, sizeof(p), "%s/lock", cdir);
	_cleanup_close_ int f = open(p, O_RDONLY | O_CLOEXEC);
	if (f >= 0 && flock(f, LOCK_SH | LOCK_NB) < 0) {
		snprintf(p, sizeof(p), "%s/pid", cdir);
		_cleanup_fclose_ FILE *pf = fopen(p, "re");
		int a = 0, b = 0;
		if (pf && fscanf(pf, "%d %d", &a, &b) == 2) {
			*monitor = a;
			*init = b;
		}
		return CONTAINER_RUNNING;
	}
	snprintf(p, sizeof(p), "%s/exit", cdir);
	_cleanup_fclose_ FILE *ef = fopen(p, "re");
	if (ef && fscanf(ef, "%d", exit_code) == 1)
		return CONTAINER_EXITED;
	return CONTAINER_CREATED;
}
