/*
 * strv: byte-order sorting (bytes above 0x7f after ASCII, as Python
 * sorts bytes) and freeing, NULL included; columns as bup's
 * helpers.columnate() lays them out (the expected texts are its
 * output for the same lists and widths).
 */
#include <string.h>

#include "unit.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/util.h"

UNIT_TEST(strv, sort_and_free)
{
	char **v = xcalloc(5, sizeof(*v));

	v[0] = xstrdup("b");
	v[1] = xstrdup("\xc3\xa9");
	v[2] = xstrdup("B");
	v[3] = xstrdup("a-b");
	v[4] = xstrdup("a");
	strv_sort(v, 5);
	CHECK(!strcmp(v[0], "B") && !strcmp(v[1], "a") &&
	      !strcmp(v[2], "a-b") && !strcmp(v[3], "b") &&
	      !strcmp(v[4], "\xc3\xa9"));
	strv_free(v, 5);
	strv_free(NULL, 3);
	strv_sort(NULL, 0);
}

UNIT_TEST(strv, push_copies)
{
	char **v = NULL, s[] = "one";
	size_t nr = 0;

	strv_push(&v, &nr, s);
	strv_push(&v, &nr, "two");
	s[0] = 'x';   /* the array holds copies */
	CHECK(nr == 2 && !strcmp(v[0], "one") && !strcmp(v[1], "two"));
	strv_free(v, nr);
}

UNIT_TEST(strv, columnate_as_bup)
{
	static const char *const v[] = { "a", "bb", "ccc", "dddd", "e" };
	struct buf b = BUF_INIT;

	/* 20 // 6: three columns, filled down then across */
	strv_columnate(&b, v, 5, "", 20);
	CHECK(!strcmp(b.data, "a     ccc   e     \n"
			      "bb    dddd        \n"));
	buf_reset(&b);
	/* the prefix takes from the width: (14 - 2) // 6, two columns */
	strv_columnate(&b, v, 5, "  ", 14);
	CHECK(!strcmp(b.data, "  a     dddd  \n"
			      "  bb    e     \n"
			      "  ccc         \n"));
	buf_reset(&b);
	/* one column: no width of its own, each padded to 2 */
	strv_columnate(&b, v, 5, "", 5);
	CHECK(!strcmp(b.data, "a \nbb\nccc\ndddd\ne \n"));
	buf_reset(&b);
	/* a prefix wider than the terminal: one column still */
	strv_columnate(&b, v, 5, "    ", 1);
	CHECK(!strcmp(b.data, "    a \n    bb\n    ccc\n    dddd\n    e \n"));
	buf_reset(&b);
	strv_columnate(&b, v, 0, "    ", 80);
	CHECK(b.len == 0);
	buf_release(&b);
}
