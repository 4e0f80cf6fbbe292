/*
 * metafmt: bup 0.33.7's format_filesize() and summary_bytes() outputs,
 * taken from running bup's own functions (including its float quirks,
 * e.g. 2^30 printing as "1024.0M").
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meta/metafmt.h"
#include "unit.h"

static int size_is(uint64_t v, const char *want)
{
	struct buf b = BUF_INIT;
	int ok;

	metafmt_filesize(&b, v);
	ok = !strcmp(b.data, want);
	if (!ok)
		unit_fail(__FILE__, __LINE__, "%llu: got %s, want %s",
			  (unsigned long long)v, b.data, want);
	buf_release(&b);
	return ok;
}

UNIT_TEST(metafmt, filesize_like_bup)
{
	CHECK(size_is(0, "0"));
	CHECK(size_is(1023, "1023"));
	CHECK(size_is(1024, "1.0K"));
	CHECK(size_is(300000, "293.0K"));
	CHECK(size_is(1048575, "1024.0K"));
	CHECK(size_is(1048576, "1.0M"));
	CHECK(size_is(1073741824ULL, "1024.0M"));
	CHECK(size_is(1099511627776ULL, "1.0T"));
	CHECK(size_is(1125899906842624ULL, "1.0P"));
	CHECK(size_is(1ULL << 60, "1024.0P"));
	CHECK(size_is(9223372036854775807ULL, "8.0E"));
	CHECK(size_is(1000000000000000ULL, "909.5T"));
}

UNIT_TEST(metafmt, summary_like_bup)
{
	struct meta m;
	struct buf b = BUF_INIT;

	setenv("TZ", "UTC", 1);
	tzset();
	meta_init(&m);
	m.mode = 020644;
	m.uid = 0;
	m.gid = 5;
	buf_addstr(&m.group, "tty");
	m.rdev = (4 << 8) | 1;
	m.mtime.sec = -1;
	m.mtime.nsec = 999999999;
	m.size = -1;
	metafmt_summary(&b, &m, "dev", METAFMT_CLASS_ALL, 0);
	CHECK(!strcmp(b.data,
		      "crw-r--r-- 0/tty               4,1 1969-12-31 23:59 dev"));
	buf_reset(&b);
	m.mode = 0100755;
	metafmt_summary(&b, &m, "dev", METAFMT_CLASS_ALL,
			METAFMT_NUMERIC_IDS);
	CHECK(!strcmp(b.data,
		      "-rwxr-xr-x 0/5                   - 1969-12-31 23:59 dev*"));
	buf_reset(&b);
	metafmt_summary(&b, NULL, "x", METAFMT_CLASS_NONE, 0);
	CHECK(!strcmp(b.data,
		      "?\?\?\?\?\?\?\?\?\? ?/?                   ? "
		      "?\?\?\?-?\?-?\? ?\?:?\? x"));
	buf_release(&b);
	meta_release(&m);
}
