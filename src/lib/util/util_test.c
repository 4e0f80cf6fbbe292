/*
 * Tests for util.h (the checked size arithmetic, util_hexval,
 * util_pwrite_full) and buf_sendf, buf_callf, buf_progressf.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static struct buf called = BUF_INIT;

static void call_cb(const char *text)
{
	buf_addf(&called, "[%s]", text);
}

static void progress_cb(int rate_limited, const char *line)
{
	buf_addf(&called, "%d:%s", rate_limited, line);
}

UNIT_TEST(util, callf_and_progressf)
{
	buf_callf(NULL, "nothing %d", 1);
	buf_progressf(NULL, 1, "nothing %d", 2);
	CHECK(called.len == 0);
	buf_callf(call_cb, "%s=%d", "a", 42);
	buf_progressf(progress_cb, 1, "%u/%u\r", 1u, 2u);
	buf_progressf(progress_cb, 0, "done\n");
	CHECK(!strcmp(called.data, "[a=42]1:1/2\r0:done\n"));
	buf_release(&called);
}

UNIT_TEST(util, pwrite_full_at_offset)
{
	char *path = xstrfmt("%s/f", unit_tmpdir());
	struct buf got = BUF_INIT;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	CHECK(util_pwrite_full(fd, "world", 5, 6) == 0);
	CHECK(util_pwrite_full(fd, "hello", 5, 0) == 0);
	CHECK(util_pwrite_full(fd, "", 0, 100) == 0);
	CHECK(close(fd) == 0);
	CHECK(buf_read_file(&got, path) == 0);
	CHECK(got.len == 11 && !memcmp(got.data, "hello\0world", 11));
	CHECK(util_pwrite_full(-1, "x", 1, 0) == -1 && errno == EBADF);
	buf_release(&got);
	free(path);
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
