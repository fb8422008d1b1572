/* layerfs: a union filesystem in userspace with kernel overlayfs semantics.
 *
 *   layerfs [-f] [-d] -o lowerdir=TOP:...:BASE[,upperdir=U,workdir=W][,...] MNT
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs.h"

struct lfs *lfs;

static void usage(FILE *f)
{
	fprintf(f,
"usage: layerfs [-f] [-d] -o lowerdir=TOP:...:BASE[,upperdir=DIR,workdir=DIR][,OPTION...] MOUNTPOINT\n"
"\n"
"Merges the lower directories (top first) with an optional writable upper\n"
"directory, with the semantics of the kernel's overlay filesystem.\n"
"Without upperdir the mount is read-only.\n"
"\n"
"  -f, --foreground        stay in the foreground\n"
"  -d, --debug             log every request (implies -f)\n"
"      --ready-fd=N        stay in the foreground; once mounted, write a newline\n"
"                          to descriptor N and close it\n"
"  -o OPTIONS              comma-separated mount options:\n"
"     lowerdir=A:B:...     read-only layers, top first (\\: escapes a colon)\n"
"     upperdir=DIR         writable layer; workdir=DIR on the same filesystem\n"
"     volatile, fsync=0    do not sync copy-ups nor honour fsync(2)\n"
"     uidmapping=D:S:N[:...], gidmapping=D:S:N[:...]\n"
"                          show on-disk id D+k as S+k (k < N)\n"
"     squash_to_root, squash_to_uid=N, squash_to_gid=N\n"
"     xattr_permissions=0|1|2  use user.containers.override_stat (default:\n"
"                          when not root of the initial user namespace)\n"
"     static_nlink, noacl, timeout=SECONDS (default 86400), threaded=0|1,\n"
"     writeback=0|1, redirect_dir=on|off, metacopy=on|off, debug\n"
"     passthrough=all|upper|off, cpu_latency=auto|on|off|poll\n"
"     allow_other, allow_root, ro, noatime, nodev, nosuid, noexec, ...\n"
"  -V, --version           print the version\n"
"  -h, --help              print this help\n");
}

struct args {
	bool foreground;
	int ready_fd;          /* -1, or where to say "mounted" */
	const char *mountpoint;
};

/* --ready-fd=N: an open descriptor of ours. */
static int parse_ready_fd(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 1 << 20 || fcntl((int)v, F_GETFD) < 0) {
		fprintf(stderr, "layerfs: --ready-fd: '%s' is not an open file descriptor\n", s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "fdVho:s", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': a->foreground = true; break;
		case 'd': lfs->opts.debug = true; a->foreground = true; break;
		case 's': lfs->opts.threaded = 0; break;
		case 'R':
			if (parse_ready_fd(optarg, &a->ready_fd) < 0)
				return -1;
			a->foreground = true;
			break;
		case 'V':
			printf("layerfs version %s\nFUSE library version %s\n", LAYERFS_VERSION,
			       fuse_pkgversion());
			return 1;
		case 'h': usage(stdout); return 1;
		case 'o':
			if (mount_opts_parse(&lfs->opts, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "layerfs: %s\n", err);
				return -1;
			}
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (lfs->opts.debug)
		a->foreground = true; /* as fuse-overlayfs: -o debug logs in the foreground */
	if (optind != argc - 1) {
		fprintf(stderr, "layerfs: %s\n", optind >= argc ? "no mountpoint given"
							   : "more than one mountpoint given");
		return -1;
	}
	a->mountpoint = argv[optind];
	return 0;
}

static int check_mountpoint(const char *mnt)
{
	struct statx stx;
	if (statx(AT_FDCWD, mnt, 0, STATX_TYPE, &stx) < 0) {
		fprintf(stderr, "layerfs: cannot use mountpoint '%s': %s\n", mnt, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(stx.stx_mode)) {
		fprintf(stderr, "layerfs: mountpoint '%s' is not a directory\n", mnt);
		return -1;
	}
	if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
		fprintf(stderr, "layerfs: mountpoint '%s' is in use: a filesystem is already "
			"mounted there\n", mnt);
		return -1;
	}
	return 0;
}

static int fuse_arg_list(struct fuse_args *fa)
{
	char opts[4096];
	/* Like kernel overlayfs, and unlike FUSE's defaults, device nodes and
	 * setuid bits work when root of the initial namespace mounts. */
	int n = snprintf(opts, sizeof(opts), "fsname=layerfs,subtype=layerfs%s%s%s%s%s%s",
			 lfs->privileged ? ",dev,suid" : "",
			 lfs->opts.default_permissions_off ? "" : ",default_permissions",
			 lfs->opts.allow_other || geteuid() == 0 ? ",allow_other" : "",
			 lfs->has_upper ? "" : ",ro",
			 lfs->opts.fuse_opts ? "," : "",
			 lfs->opts.fuse_opts ? lfs->opts.fuse_opts : "");
	if (n < 0 || (size_t)n >= sizeof(opts))
		return -E2BIG;
	if (fuse_opt_add_arg(fa, "layerfs") < 0 || fuse_opt_add_arg(fa, "-o") < 0 ||
	    fuse_opt_add_arg(fa, opts) < 0)
		return -ENOMEM;
	if (lfs->opts.debug && fuse_opt_add_arg(fa, "-d") < 0)
		return -ENOMEM;
	return 0;
}

static int serve(struct fuse_session *se)
{
	if (!lfs->opts.threaded)
		return fuse_session_loop(se);
	/* After daemonizing: the watcher is a thread. */
	cpulat_start();
	int r = loop_run(se);
	cpulat_stop();
	return r;
}

int main(int argc, char **argv)
{
	struct args a = { .ready_fd = -1 };
	char err[1024];
	int r;

	lfs = calloc(1, sizeof(*lfs));
	if (!lfs)
		return 1;
	mount_opts_init(&lfs->opts);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&lfs->ns_lock, &ra);
	inode_table_init();
	/* glibc gives each new thread its own heap, up to 8 per core; a
	 * worker thread that comes and goes would leave one behind, touched
	 * and never returned.  Two heaps keep the daemon's memory flat. */
	mallopt(M_ARENA_MAX, 2);

	if ((r = parse_args(argc, argv, &a)) != 0)
		return r > 0 ? 0 : 2;
	/* The kernel applied the caller's umask to every mode it sends; the
	 * daemon's own must not mask it again. */
	umask(0);
	if (check_mountpoint(a.mountpoint) < 0)
		return 1;
	setup_privileges();
	if (setup_layers(err, sizeof(err)) < 0) {
		fprintf(stderr, "layerfs: %s\n", err);
		return 1;
	}
	if ((r = setup_root()) < 0) {
		fprintf(stderr, "layerfs: cannot set up the root: %s\n", strerror(-r));
		return 1;
	}
	struct fuse_args fa = FUSE_ARGS_INIT(0, NULL);
	if (fuse_arg_list(&fa) < 0) {
		fprintf(stderr, "layerfs: mount options too long\n");
		return 1;
	}
	struct fuse_session *se = fuse_session_new(&fa, &layerfs_ops, sizeof(layerfs_ops), NULL);
	fuse_opt_free_args(&fa);
	if (!se) {
		fprintf(stderr, "layerfs: cannot create the FUSE session\n");
		return 1;
	}
	lfs->se = se;
	if (fuse_set_signal_handlers(se) < 0 || fuse_session_mount(se, a.mountpoint) < 0) {
		fprintf(stderr, "layerfs: cannot mount on '%s'\n", a.mountpoint);
		fuse_session_destroy(se);
		return 1;
	}
	passthrough_setup(se);
	if (setup_workdir(err, sizeof(err)) < 0) {
		fprintf(stderr, "layerfs: %s\n", err);
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		return 1;
	}
	if (fuse_daemonize(a.foreground) < 0) {
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		return 1;
	}
	/* A launcher that started us in the foreground learns here, without
	 * the fork and exit of daemonizing, that the mount is ready. */
	if (a.ready_fd >= 0) {
		if (write(a.ready_fd, "\n", 1) < 0) {
			/* the launcher is gone: serve anyway, as a daemon would */
		}
		close(a.ready_fd);
	}
	r = serve(se);
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return r < 0 ? 1 : 0;
}
