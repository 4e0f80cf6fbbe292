/*
 * Helpers shared by the store's unit tests (idx, pack, packwriter, odb):
 * deterministic data, running git in a scratch directory, reading files.
 * Test-only: included by *_test.c files, never by the core.
 */
#ifndef CBUP_STORE_TEST_UTIL_H
#define CBUP_STORE_TEST_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "util/buf.h"
#include "util/util.h"

/* t/vectors/README.md 1: the LCG input generator. */
static inline void st_lcg_fill(unsigned char *out, size_t n, uint32_t seed)
{
	uint32_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		out[i] = (unsigned char)(x >> 16);
	}
}

/* Run a shell command (printf-style); returns its exit status. */
static inline PRINTF(1, 2) int st_sh(const char *fmt, ...)
{
	struct buf cmd = BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	fflush(stdout);
	rc = system(cmd.data);
	buf_release(&cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Run a command and capture its stdout into out (reset first). */
static inline PRINTF(2, 3) int st_sh_out(struct buf *out, const char *fmt,
					  ...)
{
	struct buf cmd = BUF_INIT;
	va_list ap;
	FILE *f;
	char tmp[65536];
	size_t n;
	int rc;

	va_start(ap, fmt);
	buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	buf_reset(out);
	fflush(stdout);
	f = popen(cmd.data, "r");
	buf_release(&cmd);
	if (!f)
		return -1;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(out, tmp, n);
	rc = pclose(f);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

#endif
