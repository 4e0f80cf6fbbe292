/*
 * Tests for util.h (the checked size arithmetic, util_hexval) and
 * buf_sendf.
 */
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "util/buf.h"
#include "util/util.h"

UNIT_TEST(util, st_checked)
{
	size_t r = 0;

	CHECK(st_add_checked(&r, 2, 3) == 0 && r == 5);
	CHECK(st_add_checked(&r, SIZE_MAX - 1, 1) == 0 && r == SIZE_MAX);
	CHECK(st_add_checked(&r, SIZE_MAX, 1) == -1);
	CHECK(st_add_checked(&r, SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1) == -1);
	CHECK(st_mult_checked(&r, 6, 7) == 0 && r == 42);
	CHECK(st_mult_checked(&r, 0, SIZE_MAX) == 0 && r == 0);
	CHECK(st_mult_checked(&r, SIZE_MAX, 1) == 0 && r == SIZE_MAX);
	CHECK(st_mult_checked(&r, SIZE_MAX / 2 + 1, 2) == -1);
	CHECK(st_mult_checked(&r, (size_t)1 << (sizeof(size_t) * 4),
			      (size_t)1 << (sizeof(size_t) * 4)) == -1);
}

static void capture(void *ctx, const char *text)
{
	buf_addstr(ctx, text);
}

UNIT_TEST(util, sendf_and_hexval)
{
	struct buf got = BUF_INIT;
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_sendf(NULL, &got, "nothing %d", 1);
	CHECK(got.len == 0);
	buf_sendf(capture, &got, "%s=%d\n", "a", 42);
	CHECK(!strcmp(got.data, "a=42\n"));
	/* any length: no fixed buffer between the format and the callback */
	buf_reset(&got);
	buf_sendf(capture, &got, "[%s]", big);
	CHECK(got.len == sizeof(big) + 1);
	buf_release(&got);
	CHECK(util_hexval('0') == 0 && util_hexval('9') == 9);
	CHECK(util_hexval('a') == 10 && util_hexval('F') == 15);
	CHECK(util_hexval('g') == -1 && util_hexval('/') == -1 &&
	      util_hexval(':') == -1 && util_hexval('@') == -1 &&
	      util_hexval('`') == -1 && util_hexval(-1) == -1);
}
