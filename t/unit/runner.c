/*
 * Runs every registered unit test (see unit.h), optionally only those
 * whose "suite::name" contains argv[1].  TAP output plus a closing
 * "N passed, N failed" line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static struct unit_test *head, **tail = &head;
static int current_failed;
static char current_skip[512];
static char tmpdir_buf[4096];

void unit_register(struct unit_test *t)
{
	*tail = t;
	tail = &t->next;
}

/*
 * A failed check, as a TAP comment on stdout and again on stderr: prove
 * shows a script's stderr without -v, so a failure in a CI log says
 * which check failed, not only the test's number.
 */
void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	for (int i = 0; i < 2; i++) {
		FILE *f = i ? stderr : stdout;

		fprintf(f, "# %s:%d: ", file, line);
		va_start(ap, fmt);
		vfprintf(f, fmt, ap);
		va_end(ap);
		fprintf(f, "\n");
		fflush(f);
	}
	current_failed = 1;
}

void unit_skip(int required, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(current_skip, sizeof(current_skip), fmt, ap);
	va_end(ap);
	if (!current_skip[0])
		snprintf(current_skip, sizeof(current_skip), "skipped");
	if (required && getenv("CBUP_TEST_REQUIRE_PREREQS")) {
		unit_fail(__FILE__, __LINE__, "%s (scripts/install-deps "
			  "installs what is missing)", current_skip);
		current_skip[0] = '\0';
	}
}

int unit_check_mem(const char *file, int line, const void *a, const void *b,
		   size_t n, const char *what)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i]) {
			unit_fail(file, line,
				  "CHECK_MEM(%s): differs at byte %zu "
				  "(%02x != %02x)", what, i, x[i], y[i]);
			return 0;
		}
	}
	return 1;
}

int unit_check_oid(const char *file, int line, const void *oid,
		   const char *hex)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *h = oid;
	char got[41];
	for (int i = 0; i < 20; i++) {
		got[2 * i] = digits[h[i] >> 4];
		got[2 * i + 1] = digits[h[i] & 15];
	}
	got[40] = '\0';
	if (strcmp(got, hex)) {
		unit_fail(file, line, "CHECK_OID: got %s, want %s", got, hex);
		return 0;
	}
	return 1;
}

static int is_vector_dir(const char *dir)
{
	char probe[4300];

	snprintf(probe, sizeof(probe), "%s/README.md", dir);
	return access(probe, R_OK) == 0;
}

/*
 * The test vectors: $CBUP_TESTVECTORS if set, else t/vectors of the
 * source tree.  make and t/unit.t run the tests from the top of the tree;
 * from anywhere else the tree is found above the binary (build
 * directories live inside it).
 */
static const char *vector_dir(void)
{
	static char dir[4200];
	char exe[4096];
	ssize_t n;

	if (dir[0])
		return dir;
	if (getenv("CBUP_TESTVECTORS")) {
		snprintf(dir, sizeof(dir), "%s", getenv("CBUP_TESTVECTORS"));
		return dir;
	}
	if (is_vector_dir("t/vectors") && getcwd(exe, sizeof(exe) - 16)) {
		/* absolute: a test may change directory */
		snprintf(dir, sizeof(dir), "%s/t/vectors", exe);
		return dir;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 3; up++) {
			char *slash = strrchr(exe, '/');
			if (!slash)
				break;
			*slash = '\0';
			snprintf(dir, sizeof(dir), "%s/t/vectors", exe);
			if (is_vector_dir(dir))
				return dir;
		}
	}
	snprintf(dir, sizeof(dir), "t/vectors");
	return dir;
}

const char *unit_vector(const char *rel)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/%s", vector_dir(), rel);
	return path;
}

const char *unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char cmd[4200];
	if (tmpdir_buf[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir_buf);
		if (system(cmd) != 0)
			unit_fail(__FILE__, __LINE__, "cannot clean %s",
				  tmpdir_buf);
	}
	snprintf(tmpdir_buf, sizeof(tmpdir_buf), "%s/cbup-unit-XXXXXX",
		 base ? base : "/tmp");
	if (!mkdtemp(tmpdir_buf)) {
		perror("mkdtemp");
		exit(2);
	}
	return tmpdir_buf;
}

int main(int argc, char **argv)
{
	int n = 0, passed = 0, failed = 0, skipped = 0;
	const char *filter = argc > 1 ? argv[1] : NULL;
	char full[256];

	for (struct unit_test *t = head; t; t = t->next) {
		snprintf(full, sizeof(full), "%s::%s", t->suite, t->name);
		if (filter && !strstr(full, filter))
			continue;
		n++;
	}
	printf("1..%d\n", n);
	n = 0;
	for (struct unit_test *t = head; t; t = t->next) {
		snprintf(full, sizeof(full), "%s::%s", t->suite, t->name);
		if (filter && !strstr(full, filter))
			continue;
		current_failed = 0;
		current_skip[0] = '\0';
		t->fn();
		fflush(stdout);
		if (current_failed) {
			printf("not ok %d - %s\n", ++n, full);
			failed++;
		} else if (current_skip[0]) {
			printf("ok %d - %s # skip %s\n", ++n, full,
			       current_skip);
			skipped++;
		} else {
			printf("ok %d - %s\n", ++n, full);
			passed++;
		}
	}
	if (tmpdir_buf[0]) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir_buf);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir_buf);
	}
	printf("# %d passed, %d failed, %d skipped\n", passed, failed,
	       skipped);
	return failed ? 1 : 0;
}
