/*
 * toppath: bup's reduce_paths() on a real directory: directories get a
 * '/', paths inside an earlier directory and repeats are dropped, the
 * rest come in reverse byte order with the path as given beside them,
 * a final symlink is not followed, and a missing path is reported with
 * bup's add_error text and left out.
 */
#include <stdlib.h>
#include <string.h>

#include "index/toppath.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/util.h"

static void collect(void *ctx, const char *msg)
{
	struct buf *b = ctx;

	buf_addstr(b, msg);
	buf_addch(b, '\n');
}

UNIT_TEST(toppath, reduce)
{
	const char *dir = unit_tmpdir();
	struct buf errs = BUF_INIT;
	struct toppath *t = NULL;
	char *p[6];
	size_t n;

	CHECK(st_sh("cd '%s' && mkdir -p a/b c && echo x > a/b/f && "
		    "echo y > c/g && ln -s a l", dir) == 0);
	p[0] = xstrfmt("%s/a/b/f", dir);
	p[1] = xstrfmt("%s/a", dir);
	p[2] = xstrfmt("%s/c/g", dir);
	p[3] = xstrfmt("%s/a/", dir);
	p[4] = xstrfmt("%s/nothing", dir);
	p[5] = xstrfmt("%s/l", dir);
	n = toppath_reduce(&t, (const char *const *)p, 6, collect, &errs);
	CHECK(n == 3);
	if (n == 3) {
		char *want;

		want = xstrfmt("%s/l", dir);
		CHECK(!strcmp(t[0].rp, want));
		free(want);
		want = xstrfmt("%s/c/g", dir);
		CHECK(!strcmp(t[1].rp, want));
		free(want);
		want = xstrfmt("%s/a/", dir);
		CHECK(!strcmp(t[2].rp, want));
		/* "a" and "a/" both: the smaller path as given wins */
		CHECK(!strcmp(t[2].path, want));
		free(want);
	}
	{
		char *want = xstrfmt("reduce_paths: [Errno 2] No such file or "
				     "directory: b'%s/nothing'\n", dir);
		CHECK(!strcmp(errs.data, want));
		if (strcmp(errs.data, want))
			unit_fail(__FILE__, __LINE__, "got %s", errs.data);
		free(want);
	}
	toppath_free(t, n);
	buf_reset(&errs);
	{
		char *rp = toppath_resolve(p[1], "unique_resolved_paths",
					   collect, &errs);
		char *want = xstrfmt("%s/a/", dir);
		CHECK(rp && !strcmp(rp, want));
		CHECK(errs.len == 0);
		free(rp);
		free(want);
	}
	for (size_t i = 0; i < 6; i++)
		free(p[i]);
	buf_release(&errs);
}
