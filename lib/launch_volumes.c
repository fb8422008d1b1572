/* Volumes and --tmpfs: each target is resolved, and created when missing,
 * inside the container root with openat2(RESOLVE_IN_ROOT), so an image
 * symlink such as /mnt -> /tmp leads to the container's /tmp, never to
 * the host's; the mount goes onto that fd with move_mount. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_mount.h"
#include "launch_volumes.h"

void volume_free(struct volume *v)
{
	free(v->host);
	free(v->target);
	v->host = v->target = NULL;
}

int volume_parse(const char *arg, struct volume *out, struct msgbuf *m)
{
	_cleanup_free_ char *copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	char *target = strchr(copy, ':');
	if (!target || target == copy || target[1] != '/')
		return msg_fail(m, -EINVAL, "volume '%s' is not HOST:CONTAINER[:ro] with an "
				"absolute CONTAINER path", arg);
	*target++ = 0;
	char *mode = strchr(target, ':');
	bool ro = false;
	if (mode) {
		*mode++ = 0;
		if (!strcmp(mode, "ro"))
			ro = true;
		else if (strcmp(mode, "rw"))
			return msg_fail(m, -EINVAL, "volume '%s': unknown mode '%s'", arg, mode);
	}
	char host[PATH_MAX];
	if (!realpath(copy, host))
		return msg_fail(m, -errno, "volume source '%s': %s", copy, strerror(errno));
	struct volume v = { strdup(host), strdup(target), ro };
	if (!v.host || !v.target) {
		volume_free(&v);
		return -ENOMEM;
	}
	*out = v;
	return 0;
}

static int mount_volume(const struct volume *v, int rootfd, struct msgbuf *m)
{
	struct stat st;
	if (stat(v->host, &st) < 0)
		return msg_fail(m, -errno, "volume source '%s': %s", v->host, strerror(errno));
	_cleanup_close_ int fd = -1;
	int r = root_mkpath(rootfd, v->target, !S_ISDIR(st.st_mode), &fd);
	if (r < 0)
		return msg_fail(m, r, "volume target '%s': %s", v->target, strerror(-r));
	struct stat tst;
	if (fstat(fd, &tst) < 0)
		return -errno;
	if (S_ISDIR(tst.st_mode) != S_ISDIR(st.st_mode))
		return msg_fail(m, -ENOTDIR, "volume target '%s' is %sa directory, its source "
				"is %s", v->target, S_ISDIR(tst.st_mode) ? "" : "not ",
				S_ISDIR(st.st_mode) ? "one" : "not");
	if ((r = bind_at(v->host, fd, true, v->ro)) < 0)
		return msg_fail(m, r, "cannot mount volume '%s' on '%s': %s", v->host, v->target,
				strerror(-r));
	return 0;
}

int volumes_mount(const struct launch_spec *s, int rootfd, struct msgbuf *m)
{
	static const char *const tmpopts[] = { "mode=1777", NULL };
	for (size_t k = 0; k < s->nvols; k++) {
		int r = mount_volume(&s->vols[k], rootfd, m);
		if (r < 0)
			return r;
	}
	for (char **t = s->tmpfs; t && *t; t++) {
		_cleanup_close_ int fd = -1;
		int r = root_mkpath(rootfd, *t, false, &fd);
		if (r == 0)
			r = mount_new_fs("tmpfs", tmpopts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, fd);
		if (r < 0)
			return msg_fail(m, r, "cannot mount a tmpfs on '%s': %s", *t, strerror(-r));
	}
	return 0;
}
