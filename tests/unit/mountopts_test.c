/* Mount option parsing: the fuse-overlayfs/kernel overlayfs syntax. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/mountopts.h"
#include "tap.h"

static int parse(struct mount_opts *o, const char *s, char *err)
{
	mount_opts_free(o);
	mount_opts_init(o);
	return mount_opts_parse(o, s, err, 256);
}

int main(void)
{
	struct mount_opts o;
	char err[256];

	mount_opts_init(&o);
	is_int(parse(&o, "lowerdir=/a:/b\\:c:/d,upperdir=/u,workdir=/w", err), 0, "basic set");
	is_int(o.nlowers, 3, "three lowers");
	is_str(o.lowers[1], "/b:c", "escaped colon kept in a path");
	is_str(o.upperdir, "/u", "upperdir");

	is_int(parse(&o, "lowerdir=/a,,upperdir=/u,,workdir=/w,", err), 0, "empty options accepted");
	is_int(parse(&o, "lowerdir=/a,volatile", err), 0, "volatile");
	ok(!o.fsync, "volatile turns fsync off");
	is_int(parse(&o, "lowerdir=/a,fsync=0,squash_to_uid=5,squash_to_gid=6,static_nlink,noacl,"
		     "timeout=2.5,threaded=0,writeback=1,xattr_permissions=2,debug", err), 0,
	       "fuse-overlayfs options");
	ok(o.squash_uid == 5 && o.squash_gid == 6 && o.static_nlink && o.noacl && o.debug,
	   "their values");
	ok(o.timeout == 2.5 && o.threaded == 0 && o.writeback == 1 && o.xattr_permissions == 2,
	   "numeric values");
	/* fuse-overlayfs reads DISK:SHOWN:COUNT; podman writes a leading ':'. */
	is_int(parse(&o, "lowerdir=/a,uidmapping=1000:0:1:100000:1:65536,gidmapping=1000:0:1", err),
	       0, "id mappings");
	is_int(o.uidmap.n, 2, "two uid ranges");
	is_int(idmap_to_inner(&o.uidmap, 100004), 5, "on-disk 100004 shows as 5");
	is_int(idmap_to_outer(&o.uidmap, 0), 1000, "0 stored as 1000");
	is_int(idmap_to_inner(&o.uidmap, 7), 65534, "unmapped shows as overflow");
	is_int(parse(&o, "lowerdir=/a,uidmapping=:0:1:1005:1005:0:1", err), 0,
	       "podman's leading colon");
	is_int(idmap_to_inner(&o.uidmap, 0), 1, "on-disk 0 shows as 1");
	is_int(idmap_to_inner(&o.uidmap, 1005), 0, "on-disk 1005 shows as 0");
	is_int(parse(&o, "lowerdir=/a,allow_other,noatime,nodev,context=\"system_u:object_r:x:s0,c1\"",
		     err), 0, "FUSE options, quoted context with a comma");
	ok(o.allow_other, "allow_other noted");
	ok(o.fuse_opts && strstr(o.fuse_opts, "noatime") && strstr(o.fuse_opts, "nodev"),
	   "pass-through options kept: %s", o.fuse_opts ? o.fuse_opts : "");

	is_int(o.cpu_latency, CPU_LATENCY_AUTO, "cpu_latency: auto by default");
	static const struct { const char *v; int mode; } lat[] = {
		{ "off", CPU_LATENCY_OFF }, { "on", CPU_LATENCY_ON },
		{ "poll", CPU_LATENCY_POLL }, { "auto", CPU_LATENCY_AUTO },
	};
	for (size_t k = 0; k < sizeof(lat) / sizeof(lat[0]); k++) {
		char opt[64];
		snprintf(opt, sizeof(opt), "lowerdir=/a,cpu_latency=%s", lat[k].v);
		is_int(parse(&o, opt, err), 0, "%s", opt);
		is_int(o.cpu_latency, lat[k].mode, "cpu_latency=%s is its mode", lat[k].v);
	}
	is_int(parse(&o, "lowerdir=/a,cpu_latency=spin", err), -EINVAL, "an unknown cpu_latency mode refused");

	is_int(parse(&o, "lowerdir=/a,bogus", err), -EINVAL, "unknown flag refused");
	is_str(err, "unknown option 'bogus'", "message names it");
	is_int(parse(&o, "lowerdir=/a,frob=1", err), -EINVAL, "unknown key refused");
	is_int(parse(&o, "lowerdir=/a,threaded=7", err), -EINVAL, "bad value refused");
	is_str(err, "invalid value for option 'threaded': '7'", "message names option and value");
	is_int(parse(&o, "lowerdir=/a::/b", err), -EINVAL, "empty lower path refused");
	is_int(parse(&o, "lowerdir=/a,uidmapping=0:1", err), -EINVAL, "short mapping refused");
	is_int(parse(&o, "lowerdir=/a,uidmapping=0:1:0", err), -EINVAL, "zero-length range refused");
	mount_opts_free(&o);
	return tap_done();
}
