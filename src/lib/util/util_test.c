/* Tests for util.h: the checked size arithmetic. */
#include <stdint.h>

#include "unit.h"
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
