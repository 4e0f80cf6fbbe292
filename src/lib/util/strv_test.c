/*
 * strv: byte-order sorting (bytes above 0x7f after ASCII, as Python
 * sorts bytes) and freeing, NULL included.
 */
#include <string.h>

#include "unit.h"
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
