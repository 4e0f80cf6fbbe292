/*
 * archpath: save's path mapping against what bup 0.33.7's helpers
 * (path_components, stripped_path_components, grafted_path_components)
 * return for the same arguments, quirks included: the string-prefix
 * strip ("/home/foo" strips "/home/foobar"), made-up graft directories
 * without a file system path, "=/" dropping the root; the longest
 * strip prefix first; bup's messages for malformed grafts.
 */
#include <string.h>

#include "pipelines/archpath.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"

/* "name=fs|name=|..." ("name=" without fs: None) */
static void comps_str(struct buf *out, const struct archpath_comps *c)
{
	buf_reset(out);
	for (size_t i = 0; i < c->nr; i++) {
		const char *fs = archpath_fs(c, i);
		if (i)
			buf_addch(out, '|');
		buf_addf(out, "%s=%s", archpath_name(c, i), fs ? fs : "");
	}
}

static int map_is(const struct archpath_rules *r, const char *path,
		  const char *want)
{
	struct archpath_comps c = ARCHPATH_COMPS_INIT;
	struct buf got = BUF_INIT;
	int ok;

	archpath_map(&c, r, path);
	comps_str(&got, &c);
	ok = !strcmp(got.data, want);
	if (!ok)
		unit_fail(__FILE__, __LINE__, "%s: got %s, want %s", path,
			  got.data, want);
	buf_release(&got);
	archpath_comps_release(&c);
	return ok;
}

UNIT_TEST(archpath, plain)
{
	map_is(NULL, "/home/foo", "=/|home=/home|foo=/home/foo");
	map_is(NULL, "/", "=/");
	map_is(NULL, "/home//foo/./bar/..", "=/|home=/home|foo=/home/foo");
}

UNIT_TEST(archpath, strip)
{
	struct archpath_rules r = ARCHPATH_RULES_INIT;

	archpath_add_strip(&r, "/");      /* ignored */
	CHECK(r.nr_strip == 0);
	archpath_add_strip(&r, "/home");
	archpath_add_strip(&r, "/home/foo");
	archpath_add_strip(&r, "/else");
	/* longest first, equal lengths as given */
	CHECK(r.nr_strip == 3);
	CHECK(!strcmp(r.strip[0], "/home/foo"));
	CHECK(!strcmp(r.strip[1], "/home"));
	CHECK(!strcmp(r.strip[2], "/else"));
	map_is(&r, "/home/foo", "=/home/foo");
	map_is(&r, "/home/bar/x", "=/home|bar=/home/bar|x=/home/bar/x");
	/* bup: a string prefix, and the path it then records */
	map_is(&r, "/home/foobar/x", "bar=/home/foo/bar|x=/home/foo/bar/x");
	map_is(&r, "/usr/lib", "=/|usr=/usr|lib=/usr/lib");
	archpath_rules_release(&r);
}

UNIT_TEST(archpath, graft)
{
	struct archpath_rules r = ARCHPATH_RULES_INIT;

	CHECK(archpath_add_graft(&r, "/home/foo=/x/y") == 0);
	map_is(&r, "/home/foo/bar",
	       "=|x=|y=/home/foo|bar=/home/foo/bar");
	map_is(&r, "/other/bar", "=/|other=/other|bar=/other/bar");
	archpath_rules_release(&r);

	CHECK(archpath_add_graft(&r, "/home/foo=/") == 0);
	map_is(&r, "/home/foo/bar", "=/home/foo|bar=/home/foo/bar");
	archpath_rules_release(&r);

	CHECK(archpath_add_graft(&r, "/=/new") == 0);
	map_is(&r, "/a/b", "=|new=/|a=/a|b=/a/b");
	archpath_rules_release(&r);

	/* the first graft that matches wins */
	CHECK(archpath_add_graft(&r, "/a=/one") == 0);
	CHECK(archpath_add_graft(&r, "/a/b=/two") == 0);
	map_is(&r, "/a/b/c", "=|one=/a|b=/a/b|c=/a/b/c");
	archpath_rules_release(&r);
}

UNIT_TEST(archpath, graft_errors)
{
	struct archpath_rules r = ARCHPATH_RULES_INIT;

	CHECK(archpath_add_graft(&r, "/a") == ERR_USAGE);
	CHECK(!strcmp(err_last(), "a graft point must be of the form "
		      "old_path=new_path"));
	CHECK(archpath_add_graft(&r, "/a=/b=/c") == ERR_USAGE);
	CHECK(archpath_add_graft(&r, "=/b") == ERR_USAGE);
	CHECK(!strcmp(err_last(), "a graft point cannot be empty"));
	CHECK(archpath_add_graft(&r, "/a=") == ERR_USAGE);
	CHECK(r.nr_graft == 0);
	archpath_rules_release(&r);
}
