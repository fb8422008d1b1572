/* Mount option parsing (see mountopts.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "mountopts.h"

void mount_opts_init(struct mount_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fsync = true;
	o->squash_uid = -1;
	o->squash_gid = -1;
	o->redirect_dir = true;
	o->metacopy = true;
	o->xattr_permissions = -1;
	o->timeout = 86400.0;
	o->threaded = 1;
	o->passthrough = PASSTHROUGH_ALL;
	o->cpu_latency = CPU_LATENCY_AUTO;
}

static void free_lowers(struct mount_opts *o)
{
	for (size_t i = 0; i < o->nlowers; i++)
		free(o->lowers[i]);
	free(o->lowers);
	o->lowers = NULL;
	o->nlowers = 0;
}

void mount_opts_free(struct mount_opts *o)
{
	free_lowers(o);
	free(o->upperdir);
	free(o->workdir);
	free(o->fuse_opts);
	idmap_free(&o->uidmap);
	idmap_free(&o->gidmap);
	memset(o, 0, sizeof(*o));
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int mount_opts_set_lowers(struct mount_opts *o, const char *val)
{
	size_t len = strlen(val);
	_cleanup_free_ char *buf = malloc(len + 1);
	_cleanup_free_ char **v = calloc(len / 2 + 2, sizeof(char *));
	size_t n = 0, j = 0;

	if (!buf || !v)
		return -ENOMEM;
	for (size_t i = 0; i <= len; i++) {
		char c = val[i];
		if (c == '\\' && (val[i + 1] == ':' || val[i + 1] == '\\')) {
			buf[j++] = val[++i];
			continue;
		}
		if (c != ':' && c != '\0') {
			buf[j++] = c;
			continue;
		}
		buf[j] = '\0';
		if (j == 0)
			goto bad;
		v[n] = strdup(buf);
		if (!v[n])
			goto bad;
		n++;
		j = 0;
	}
	free_lowers(o);
	o->lowers = TAKE_PTR(v);
	o->nlowers = n;
	return 0;
bad:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	return -EINVAL;
}

static int append_fuse_opt(struct mount_opts *o, const char *opt)
{
	size_t old = o->fuse_opts ? strlen(o->fuse_opts) : 0;
	char *s = realloc(o->fuse_opts, old + strlen(opt) + 2);
	if (!s)
		return -ENOMEM;
	if (old)
		s[old++] = ',';
	strcpy(s + old, opt);
	o->fuse_opts = s;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_long(const char *v, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < min || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

static int set_string(char **dst, const char *v)
{
	char *s = strdup(v);
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* Options passed through to the kernel or libfuse unchanged. */
static const char *const passthrough_flags[] = {
	"allow_root", "ro", "rw", "noatime", "atime", "relatime", "strictatime",
	"nodiratime", "diratime", "nodev", "dev", "nosuid", "suid", "noexec",
	"exec", "sync", "async", "dirsync", "auto_unmount", "lazytime",
	"nolazytime", "silent", "loud", "user", "nouser", "auto", "noauto",
	"_netdev", "defaults", "nofail", "iversion", "noiversion",
};
static const char *const passthrough_keys[] = {
	"fsname", "subtype", "max_read", "context", "fscontext",
	"defcontext", "rootcontext", "blksize",
};
/* Kernel overlayfs options accepted for compatibility, with no effect
 * beyond what layerfs always does. */
static const char *const overlay_compat_keys[] = {
	"index", "xino", "nfs_export", "uuid", "verity",
};

static int is_in(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(key, list[i]))
			return 1;
	return 0;
}

static int parse_flag(struct mount_opts *o, const char *key)
{
	if (!strcmp(key, "volatile")) o->fsync = false;
	else if (!strcmp(key, "squash_to_root")) o->squash_to_root = true;
	else if (!strcmp(key, "static_nlink")) o->static_nlink = true;
	else if (!strcmp(key, "noacl")) o->noacl = true;
	else if (!strcmp(key, "debug")) o->debug = true;
	else if (!strcmp(key, "userxattr")) ; /* layerfs picks the namespace itself */
	else if (!strcmp(key, "allow_other")) { o->allow_other = true; return 0; }
	else if (!strcmp(key, "default_permissions")) return 0; /* always on */
	else if (!strcmp(key, "no_default_permissions")) { o->default_permissions_off = true; return 0; }
	else if (is_in(key, passthrough_flags, ARRAY_SIZE(passthrough_flags))) {
		if (!strcmp(key, "ro")) o->ro = true;
		if (!strcmp(key, "rw")) o->ro = false;
		if (!strcmp(key, "defaults") || !strcmp(key, "ro") || !strcmp(key, "rw") ||
		    !strcmp(key, "user") || !strcmp(key, "nouser") || !strcmp(key, "auto") ||
		    !strcmp(key, "noauto") || !strcmp(key, "_netdev") || !strcmp(key, "nofail") ||
		    !strcmp(key, "silent") || !strcmp(key, "loud") || !strcmp(key, "lazytime") ||
		    !strcmp(key, "nolazytime") || !strcmp(key, "iversion") || !strcmp(key, "noiversion"))
			return 0; /* fstab-only or handled here */
		return append_fuse_opt(o, key);
	} else
		return -ENOENT;
	return 0;
}

/* V is one of MODES: its index into OUT. */
static int parse_mode(const char *v, const char *const *modes, size_t n, int *out)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(v, modes[k])) {
			*out = (int)k;
			return 0;
		}
	return -EINVAL;
}

static int parse_keyval(struct mount_opts *o, const char *key, const char *v)
{
	long n;
	bool b;

	if (!strcmp(key, "lowerdir"))
		return mount_opts_set_lowers(o, v);
	if (!strcmp(key, "upperdir"))
		return *v ? set_string(&o->upperdir, v) : -EINVAL;
	if (!strcmp(key, "workdir"))
		return *v ? set_string(&o->workdir, v) : -EINVAL;
	if (!strcmp(key, "fsync"))
		return parse_bool(v, &o->fsync);
	if (!strcmp(key, "uidmapping"))
		return idmap_parse(v, &o->uidmap);
	if (!strcmp(key, "gidmapping"))
		return idmap_parse(v, &o->gidmap);
	if (!strcmp(key, "squash_to_uid"))
		return parse_long(v, 0, 4294967294L, &o->squash_uid);
	if (!strcmp(key, "squash_to_gid"))
		return parse_long(v, 0, 4294967294L, &o->squash_gid);
	if (!strcmp(key, "timeout")) {
		char *end;
		double t = strtod(v, &end);
		if (end == v || *end || t < 0 || t > 1e9)
			return -EINVAL;
		o->timeout = t;
		return 0;
	}
	if (!strcmp(key, "threaded")) {
		if (parse_long(v, 0, 1, &n) < 0)
			return -EINVAL;
		o->threaded = (int)n;
		return 0;
	}
	if (!strcmp(key, "writeback")) {
		if (parse_long(v, 0, 1, &n) < 0)
			return -EINVAL;
		o->writeback = (int)n;
		return 0;
	}
	if (!strcmp(key, "passthrough")) {
		static const char *const modes[] = { "off", "upper", "all" };
		return parse_mode(v, modes, ARRAY_SIZE(modes), &o->passthrough);
	}
	if (!strcmp(key, "cpu_latency")) {
		static const char *const modes[] = { "off", "auto", "on", "poll" };
		return parse_mode(v, modes, ARRAY_SIZE(modes), &o->cpu_latency);
	}
	if (!strcmp(key, "xattr_permissions")) {
		if (parse_long(v, 0, 2, &n) < 0)
			return -EINVAL;
		o->xattr_permissions = (int)n;
		return 0;
	}
	if (!strcmp(key, "redirect_dir")) {
		if (!strcmp(v, "on") || !strcmp(v, "follow"))
			o->redirect_dir = true;
		else if (!strcmp(v, "off") || !strcmp(v, "nofollow"))
			o->redirect_dir = false;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(key, "metacopy")) {
		if (parse_bool(v, &b) < 0)
			return -EINVAL;
		o->metacopy = b;
		return 0;
	}
	if (is_in(key, overlay_compat_keys, ARRAY_SIZE(overlay_compat_keys)))
		return 0;
	if (is_in(key, passthrough_keys, ARRAY_SIZE(passthrough_keys))) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%s", key, v) < 0)
			return -ENOMEM;
		return append_fuse_opt(o, kv);
	}
	return -ENOENT;
}

/* Split on commas that are not inside double quotes (SELinux contexts
 * such as context="a:b:c:s0,c1" contain commas). */
static char *next_opt(char **cursor)
{
	char *s = *cursor, *p = s;
	bool quoted = false;
	if (!s)
		return NULL;
	for (; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ',' && !quoted)
			break;
	}
	if (*p) {
		*p = '\0';
		*cursor = p + 1;
	} else {
		*cursor = NULL;
	}
	return s;
}

int mount_opts_parse(struct mount_opts *o, const char *optstr,
		     char *err, size_t errlen)
{
	_cleanup_free_ char *copy = strdup(optstr);
	char *cursor = copy, *opt;

	if (!copy)
		return -ENOMEM;
	while ((opt = next_opt(&cursor))) {
		if (*opt == '\0')
			continue; /* ",," is allowed */
		char *eq = strchr(opt, '=');
		int r;
		if (eq) {
			*eq = '\0';
			r = parse_keyval(o, opt, eq + 1);
		} else {
			r = parse_flag(o, opt);
		}
		if (r == -ENOENT)
			return fail(err, errlen, "unknown option '%s'", opt);
		if (r == -ENOMEM)
			return fail(err, errlen, "out of memory parsing option '%s'", opt);
		if (r < 0)
			return fail(err, errlen, "invalid value for option '%s': '%s'",
				    opt, eq ? eq + 1 : "");
	}
	return 0;
}
