/* Image names, tags and the semver rule. */
#include <stdlib.h>

#include "../../lib/refs.h"
#include "tap.h"

static const char *norm(const char *in)
{
	static char *last;
	free(last);
	last = NULL;
	bool implicit;
	struct errmsg e = { { 0 } };
	if (ref_normalize(in, &last, &implicit, &e) < 0)
		return NULL;
	return last;
}

int main(void)
{
	is_str(norm("busybox"), "busybox:latest", "no tag means latest");
	is_str(norm("busybox:v1.2.3"), "busybox:v1.2.3", "semver with v");
	is_str(norm("docker.io/library/alpine:3.19.1"), "docker.io/library/alpine:3.19.1", "registry path");
	is_str(norm("localhost:5000/app:stable"), "localhost:5000/app:stable", "registry with port");
	is_str(norm("a/b_c/d-e.f__g:x_Y.z-1"), "a/b_c/d-e.f__g:x_Y.z-1", "separators");
	is_str(norm("app:1.0.0-rc.1"), "app:1.0.0-rc.1", "pre-release");
	is_str(norm("app:20240101"), "app:20240101", "digits without a dot are no version");
	ok(!norm("App:x"), "uppercase name");
	ok(!norm("app:"), "empty tag");
	ok(!norm("app:-x"), "tag starting with '-'");
	ok(!norm("a//b:x"), "empty component");
	ok(!norm("app/:x"), "trailing slash");
	ok(!norm("app@sha256:00"), "digest references");
	ok(!norm("app:1.2"), "1.2 looks like a version, is not semver");
	ok(!norm("app:v1"), "v1 looks like a version, is not semver");
	ok(!norm("app:01.2.3"), "leading zero");
	ok(!norm("app:1.2.3.4"), "four parts");
	ok(!norm("app:1.2.3-"), "empty pre-release");
	ok(!norm("app:1.2.3-01"), "numeric pre-release with leading zero");
	ok(semver_valid("0.0.0") && semver_valid("v10.20.30-alpha.1-x"), "semver_valid");
	ok(tag_looks_like_version("2.0") && tag_looks_like_version("v3") && !tag_looks_like_version("latest") &&
	   !tag_looks_like_version("v") && !tag_looks_like_version("123"), "tag_looks_like_version");
	is_str(ref_tag("localhost:5000/app:x"), "x", "ref_tag skips the port");
	norm("x");
	return tap_done();
}
