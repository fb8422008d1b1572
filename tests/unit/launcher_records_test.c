/* The launcher's JSON reading and container records: parsing, escapes,
 * rejection of malformed input, and a record written then read back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "minijson.h"
#include "strv.h"
#include "tap.h"

static void test_parse(void)
{
	const char *t = "{\"a\": [\"x\", \"y\\n\\u00e9\\ud83d\\ude00\"], \"n\": 12, "
			"\"o\": {\"k\": true}, \"z\": null}";
	struct mj *j = NULL;
	is_int(mj_parse(t, strlen(t), &j), 0, "a document parses");
	char **v = NULL;
	is_int(mj_strv(mj_get(j, "a"), &v), 0, "an array of strings");
	is_str(v ? v[0] : NULL, "x", "first element");
	is_str(v ? v[1] : NULL, "y\n\xc3\xa9\xf0\x9f\x98\x80", "escapes and surrogate pairs decode");
	ok(v && !v[2], "the vector ends with NULL");
	strv_free(v);
	ok(mj_get(mj_get(j, "o"), "k") && mj_get(mj_get(j, "o"), "k")->b, "nested object");
	ok(mj_str(j, "n") == NULL && mj_get(j, "n")->type == MJ_NUM, "a number is not a string");
	ok(mj_get(j, "missing") == NULL, "absent key");
	mj_free(j);
	static const char *const bad[] = {
		"{", "{\"a\":}", "[1,]", "\"\\x\"", "{\"a\":1} x", "\"\x01\"", "\"\\u0000\"", "",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		j = NULL;
		int r = mj_parse(bad[k], strlen(bad[k]), &j);
		is_int(r, -EINVAL, "malformed input %zu is refused", k);
		mj_free(j);
	}
	char deep[200];
	memset(deep, '[', sizeof(deep));
	j = NULL;
	is_int(mj_parse(deep, sizeof(deep), &j), -EINVAL, "nesting is bounded");
}

static void test_record(void)
{
	char dir[] = "/tmp/launcher-record-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	char *lower[] = { "/l/top", "/l/base:with\"quote", NULL };
	char *cmd[] = { "sh", "-c", "echo \"hi\"\t\\", NULL };
	struct container_record w = {
		.id = "abc", .name = NULL, .image = "sha256:00", .image_id = NULL,
		.image_name = "busybox:latest", .rootfs = NULL, .lowerdirs = lower,
		.command = cmd, .created = 1795894931,
	};
	is_int(container_write_record(dir, &w), 0, "a record is written");
	struct container_record r = { 0 };
	is_int(container_read_record(dir, &r), 0, "and read back");
	is_str(r.id, "abc", "id");
	ok(r.name == NULL && r.rootfs == NULL && r.image_id == NULL, "nulls stay null");
	is_str(r.image, "sha256:00", "image");
	is_str(r.image_name, "busybox:latest", "image name");
	is_str(r.lowerdirs ? r.lowerdirs[1] : NULL, lower[1], "layer paths keep quotes and colons");
	is_str(r.command ? r.command[2] : NULL, cmd[2], "the command keeps escapes");
	is_int(r.created, 1795894931, "creation time");
	container_record_free(&r);
	is_int(container_remove_layers(dir), 0, "removing absent layers is fine");
	char p[128];
	snprintf(p, sizeof(p), "%s/config.json", dir);
	unlink(p);
	rmdir(dir);
}

int main(void)
{
	test_parse();
	test_record();
	return tap_done();
}
