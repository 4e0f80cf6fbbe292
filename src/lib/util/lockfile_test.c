/* Unit tests for lockfile.c. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/lockfile.h"
#include "unit.h"
#include "util/util.h"

UNIT_TEST(lockfile, excludes_and_goes_away)
{
	char *path = xstrfmt("%s/x.lock", unit_tmpdir());
	struct lockfile a = LOCKFILE_INIT, b = LOCKFILE_INIT;
	struct stat st;

	CHECK(lockfile_acquire(&a, path, 0) == 0);
	CHECK(a.fd >= 0);
	CHECK(stat(path, &st) == 0);
	/* another open file description is refused while a holds it */
	CHECK(lockfile_acquire(&b, path, 0) == ERR_LOCKED);
	CHECK(b.fd == -1);
	lockfile_release(&a);
	CHECK(a.fd == -1);
	CHECK(stat(path, &st) < 0);
	CHECK(lockfile_acquire(&b, path, 1) == 0);
	lockfile_release(&b);
	lockfile_release(&b);   /* not held: a no-op */
	free(path);
}

UNIT_TEST(lockfile, file_of_a_dead_holder_is_taken)
{
	char *path = xstrfmt("%s/y.lock", unit_tmpdir());
	struct lockfile a = LOCKFILE_INIT;
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT, 0666);

	/* left by a killed run: nobody holds it, it is just a file */
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(lockfile_acquire(&a, path, 0) == 0);
	lockfile_release(&a);
	CHECK(stat(path, &st) < 0);
	free(path);
}

UNIT_TEST(lockfile, release_leaves_a_file_it_does_not_hold)
{
	char *path = xstrfmt("%s/z.lock", unit_tmpdir());
	struct lockfile a = LOCKFILE_INIT;
	struct stat st;
	int fd;

	CHECK(lockfile_acquire(&a, path, 0) == 0);
	/* ours was removed and another run made a new one */
	CHECK(unlink(path) == 0);
	fd = open(path, O_RDWR | O_CREAT, 0666);
	CHECK(fd >= 0);
	lockfile_release(&a);
	CHECK(stat(path, &st) == 0);
	if (fd >= 0)
		close(fd);
	free(path);
}
