/* override_stat xattr: parse and format round trips, and bad input. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "../../lib/override_stat.h"
#include "tap.h"

int main(void)
{
	struct override_stat o;
	char buf[64];

	is_int(ovs_parse("0:0:0755", 8, &o), 0, "plain triple parses");
	is_int(o.uid, 0, "uid");
	is_int(o.mode, 0755, "mode is octal, no type");
	ok(!o.has_type, "no type");

	const char *dev = "1000:5:0620:char-4-1";
	is_int(ovs_parse(dev, strlen(dev), &o), 0, "char device parses");
	ok(S_ISCHR(o.mode) && major(o.rdev) == 4 && minor(o.rdev) == 1, "type and rdev");
	is_int(ovs_format(&o, buf, sizeof(buf)), (int)strlen(dev), "formats back");
	is_str(buf, dev, "round trip");

	const char *d = "12:34:01777:dir";
	is_int(ovs_parse(d, strlen(d), &o), 0, "sticky dir parses");
	ok(S_ISDIR(o.mode) && (o.mode & 07777) == 01777, "sticky dir mode");

	static const char *bad[] = { "", "1:2", "1:2:9", "a:b:0755", "1:2:0755:bogus",
		"1:2:0755:char-1", "99999999999:0:0755", "1:2:077777" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(ovs_parse(bad[i], strlen(bad[i]), &o), -EINVAL, "rejects '%s'", bad[i]);
	return tap_done();
}
