/* From options and image to a launch_spec (see run_spec.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl_common.h"
#include "run_spec.h"

/* Set KEY=VALUE in the list, replacing an earlier KEY. */
static int env_set(struct run_ctx *c, const char *kv)
{
	size_t kl = strcspn(kv, "=");
	for (size_t k = 0; k < c->nenv; k++) {
		if (!strncmp(c->env[k], kv, kl) && c->env[k][kl] == '=') {
			char *d = strdup(kv);
			if (!d)
				return -ENOMEM;
			free(c->env[k]);
			c->env[k] = d;
			return 0;
		}
	}
	return strv_push(&c->env, &c->nenv, kv);
}

static int build_command(struct run_ctx *c)
{
	const struct image_config *ic = &c->img.cfg;
	int r = 0;
	if (c->o.entrypoint) {
		if (*c->o.entrypoint)
			r = strv_push(&c->argv, &c->nargv, c->o.entrypoint);
	} else {
		for (char **p = ic->entrypoint; r == 0 && p && *p; p++)
			r = strv_push(&c->argv, &c->nargv, *p);
	}
	/* Arguments replace the image's Cmd; a new entrypoint drops it too. */
	for (int k = 0; r == 0 && k < c->o.nargs; k++)
		r = strv_push(&c->argv, &c->nargv, c->o.args[k]);
	for (char **p = ic->cmd; r == 0 && !c->o.nargs && !c->o.entrypoint && p && *p; p++)
		r = strv_push(&c->argv, &c->nargv, *p);
	if (r < 0)
		return ctl_fail("out of memory");
	if (c->nargv == 0)
		return ctl_usage("run", "no command given and the image has none");
	return -1;
}

static int resolve_rootfs(struct run_ctx *c)
{
	char real[PATH_MAX];
	struct stat st;
	if (!realpath(c->o.rootfs, real) || stat(real, &st) < 0)
		return ctl_fail("cannot use rootfs '%s': %s", c->o.rootfs, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ctl_fail("cannot use rootfs '%s': %s", c->o.rootfs, strerror(ENOTDIR));
	c->img.lowerdirs = calloc(1, sizeof(char *));
	if (!c->img.lowerdirs || !(c->img.lowerdirs[0] = strdup(real)))
		return ctl_fail("out of memory");
	c->img.n = 1;
	return -1;
}

int run_ctx_resolve(struct run_ctx *c)
{
	if (ctl_store_root(&c->root))
		return 1;
	int r;
	if (c->o.rootfs) {
		if ((r = resolve_rootfs(c)) >= 0)
			return r;
	} else {
		struct msgbuf m = { { 0 } };
		if ((r = image_resolve(c->root, c->o.image, &c->img, &m)) < 0)
			return ctl_fail("%s", msg_text(&m, r));
	}
	for (char **p = c->img.cfg.env; p && *p; p++)
		if (env_set(c, *p) < 0)
			return ctl_fail("out of memory");
	for (size_t k = 0; k < c->o.nenv; k++)
		if (env_set(c, c->o.env[k]) < 0)
			return ctl_fail("out of memory");
	if (c->o.name && c->o.name[0] == 0)
		return ctl_usage("run", "--name must not be empty");
	if (c->o.name && container_name_taken(c->root, c->o.name))
		return ctl_fail("the name '%s' is already used by a container", c->o.name);
	return build_command(c);
}

/* layerfs next to this binary, else $LAYERFS, else on PATH. */
int find_layerfs(char **out)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *p = NULL;
		if (asprintf(&p, "%s/layerfs", dirname(self)) < 0)
			return -ENOMEM;
		if (access(p, X_OK) == 0) {
			*out = p;
			return 0;
		}
		free(p);
	}
	const char *env = getenv("LAYERFS");
	if (env && *env && access(env, X_OK) == 0)
		return (*out = strdup(env)) ? 0 : -ENOMEM;
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
		char *p = NULL;
		if (asprintf(&p, "%s/layerfs", d) < 0)
			return -ENOMEM;
		if (access(p, X_OK) == 0) {
			*out = p;
			return 0;
		}
		free(p);
	}
	return -ENOENT;
}

int run_ctx_check_host(struct run_ctx *c)
{
	if (find_layerfs(&c->layerfs) < 0)
		return ctl_fail("cannot find 'layerfs' (next to layerctl, in $LAYERFS or on PATH)");
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return ctl_fail("'/dev/fuse' is missing: load the fuse module (modprobe fuse) or "
				"give the container the device");
	if (fd < 0)
		return ctl_fail("cannot open '/dev/fuse': %s (it must be readable and writable "
				"by you, usually mode 0666)", strerror(errno));
	close(fd);
	return -1;
}

/* The texts of the container's /etc/hostname, hosts and resolv.conf (the
 * launcher writes them where they are bound from). */
static void make_etc(struct run_ctx *c)
{
	snprintf(c->etc_hosts, sizeof(c->etc_hosts), "127.0.0.1\tlocalhost\n::1\tlocalhost "
		 "ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", c->hostname);
	snprintf(c->etc_hostname, sizeof(c->etc_hostname), "%s\n", c->hostname);
	/* The host's resolver with the host's network; none without one. */
	c->etc_resolv[0] = 0;
	if (!strcmp(c->o.network, "host")) {
		int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, c->etc_resolv, sizeof(c->etc_resolv) - 1) : 0;
		c->etc_resolv[n > 0 ? n : 0] = 0;
		if (fd >= 0)
			close(fd);
	}
}

static int write_record(struct run_ctx *c)
{
	struct container_record rec = {
		.id = c->id, .name = (char *)c->o.name, .image = c->img.manifest_digest,
		.image_id = c->img.config_digest, .image_name = (char *)c->o.image,
		.rootfs = c->o.rootfs ? c->img.lowerdirs[0] : NULL,
		.lowerdirs = NULL, .command = c->argv, .created = (int64_t)time(NULL),
	};
	_cleanup_free_ char **lower = calloc(c->img.n + 1, sizeof(char *));
	if (!lower)
		return ctl_fail("out of memory");
	memcpy(lower, c->img.lowerdirs, c->img.n * sizeof(char *));
	rec.lowerdirs = lower;
	int r = container_write_record(c->cdir, &rec);
	return r < 0 ? ctl_fail("cannot write the record of '%s': %s", c->cdir, strerror(-r)) : -1;
}

int run_ctx_create(struct run_ctx *c)
{
	struct msgbuf m = { { 0 } };
	int r = container_create(c->root, &c->id, &c->cdir, &m);
	if (r < 0)
		return ctl_fail("%s", msg_text(&m, r));
	snprintf(c->hostname, sizeof(c->hostname), "%.*s", c->o.hostname ? 64 : 12,
		 c->o.hostname ? c->o.hostname : c->id);
	make_etc(c);
	if ((r = write_record(c)) >= 0)
		return r;
	struct launch_spec *s = &c->spec;
	*s = (struct launch_spec){
		.layerfs = c->layerfs, .lowerdirs = c->img.lowerdirs, .nlower = c->img.n,
		.cdir = c->cdir, .argv = c->argv, .env = c->env,
		.workdir = c->o.workdir ? c->o.workdir : c->img.cfg.workdir,
		.user = c->o.user ? c->o.user : c->img.cfg.user, .hostname = c->hostname,
		.vols = c->o.vols, .nvols = c->o.nvols, .tmpfs = c->o.tmpfs,
		.read_only = c->o.read_only, .init = c->o.init,
		.network_host = !strcmp(c->o.network, "host"), .tty = c->o.tty, .remove = c->o.rm,
		.stdio = { 0, 1, 2 }, .tty_sock = -1,
		.etc = { c->etc_hostname, c->etc_hosts, c->etc_resolv },
	};
	id_plan_load(&s->ids);
	return -1;
}

void run_ctx_free(struct run_ctx *c)
{
	run_opts_free(&c->o);
	image_ref_free(&c->img);
	strv_free(c->argv);
	strv_free(c->env);
	free(c->root);
	free(c->layerfs);
	free(c->id);
	free(c->cdir);
}
