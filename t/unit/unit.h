/*
 * The tiny unit-test harness (redis's testhelp.h in spirit).  A test is
 *
 *	UNIT_TEST(rollsum, digest_matches_recompute)
 *	{
 *		CHECK(x == 1);
 *		CHECK_MEM(a, b, n);
 *		CHECK_OID(&oid, "e69de29b...");
 *	}
 *
 * in src/lib/<module>_test.c; it registers itself at start-up, so no
 * central list needs editing.  Checks report file:line and carry on.
 * The runner prints TAP ("ok N - module::case", "ok N - module::case
 * # skip REASON" after unit_skip()) and a closing "N passed, N failed,
 * N skipped" line, and exits 1 on any failure.
 * Tests find the test vectors (t/vectors/README.md) with unit_vector():
 * under $CBUP_TESTVECTORS if set, else in t/vectors of the source tree.
 */
#ifndef CBUP_UNIT_H
#define CBUP_UNIT_H

#include <stddef.h>

struct unit_test {
	const char *suite, *name;
	void (*fn)(void);
	struct unit_test *next;
};

void unit_register(struct unit_test *t);
void unit_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int unit_check_mem(const char *file, int line, const void *a, const void *b,
		   size_t n, const char *what);
int unit_check_oid(const char *file, int line, const void *oid,
		   const char *hex);
/*
 * Marks the running test skipped, with its reason (the caller returns
 * right after).  Under make check (CBUP_TEST_REQUIRE_PREREQS set) a
 * skip for something scripts/install-deps installs is a failure:
 * pass required = 1 for those.
 */
void unit_skip(int required, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Path of a file under the test vectors; static buffer. */
const char *unit_vector(const char *rel);
/* A fresh empty temporary directory for this test (removed at exit). */
const char *unit_tmpdir(void);

#define UNIT_TEST(suite, name)                                          \
	static void unit_fn_##suite##__##name(void);                    \
	static struct unit_test unit_t_##suite##__##name = {            \
		#suite, #name, unit_fn_##suite##__##name, NULL };       \
	__attribute__((constructor)) static void                        \
	unit_reg_##suite##__##name(void)                                \
	{                                                               \
		unit_register(&unit_t_##suite##__##name);               \
	}                                                               \
	static void unit_fn_##suite##__##name(void)

#define CHECK(expr)                                                     \
	do {                                                            \
		if (!(expr))                                            \
			unit_fail(__FILE__, __LINE__, "CHECK(%s)", #expr); \
	} while (0)
#define CHECK_MEM(a, b, n) unit_check_mem(__FILE__, __LINE__, a, b, n, #a)
#define CHECK_OID(oid, hex) unit_check_oid(__FILE__, __LINE__, oid, hex)

#endif
