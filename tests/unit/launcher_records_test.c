/* Container records: string vectors from JSON, and a record written then
 * read back with quotes, escapes and nulls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "json.h"
#include "strv.h"
#include "tap.h"

static void test_strv(void)
{
	const char *t = "{\"a\": [\"x\", 1, \"y\\n\"], \"s\": \"str\"}";
	struct json *j = NULL;
	is_int(json_parse(t, strlen(t), &j, NULL, 0), 0, "a document parses");
	char **v = NULL;
	is_int(strv_from_json(json_get(j, "a"), &v), 0, "an array of strings");
	is_str(v ? v[0] : NULL, "x", "first element");
	is_str(v ? v[1] : NULL, "y\n", "items that are not strings are skipped");
	ok(v && !v[2], "the vector ends with NULL");
	strv_free(v);
	v = (char **)1;
	is_int(strv_from_json(json_get(j, "s"), &v), 0, "a string is not an array");
	ok(v == NULL, "and gives no vector");
	json_free(j);
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
	test_strv();
	test_record();
	return tap_done();
}
