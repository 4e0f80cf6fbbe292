/*
 * tmpfile: temporaries of live processes.  A locked temporary survives
 * a sweep, an unlocked one (its creator gone) does not; names without
 * this host's tag (bup's, older cbup's, another host's) are never
 * touched, nor what a symlink with a tagged name points to.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/tmpfile.h"
#include "unit.h"
#include "util/util.h"

static int exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

UNIT_TEST(tmpfile, open_locked_until_closed)
{
	const char *d = unit_tmpdir();
	char *final = xstrfmt("%s/bup.bloom", d), *tmp = NULL;
	int fd = tmpfile_open(final, 0666, &tmp);

	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	CHECK(strstr(tmp, "/bup.bloom." TMPFILE_TAG) != NULL);
	CHECK(tmpfile_is_ours(strrchr(tmp, '/') + 1, NULL));
	CHECK(!tmpfile_is_ours(strrchr(tmp, '/') + 1, ".lock"));
	/* a live writer's: kept, by any sweep */
	CHECK(tmpfile_sweep(d, NULL, NULL) == 0);
	CHECK(tmpfile_sweep(d, "bup.bloom", NULL) == 0);
	CHECK(exists(tmp));
	close(fd);
	/* its writer gone: a sweep of another prefix or suffix leaves it */
	CHECK(tmpfile_sweep(d, "pack-tmp-", NULL) == 0);
	CHECK(tmpfile_sweep(d, NULL, ".lock") == 0);
	CHECK(exists(tmp));
	CHECK(tmpfile_sweep(d, NULL, NULL) == 1);
	CHECK(!exists(tmp));
out:
	free(tmp);
	free(final);
}

UNIT_TEST(tmpfile, commit_keeps_the_lock_until_renamed)
{
	const char *d = unit_tmpdir();
	char *final = xstrfmt("%s/x.midx", d), *tmp = NULL;
	int fd = tmpfile_open(final, 0666, &tmp);

	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	CHECK(write(fd, "abc", 3) == 3);
	CHECK(file_commit(fd, tmp, final) == 0);
	CHECK(!exists(tmp));
	CHECK(exists(final));
	CHECK(tmpfile_sweep(d, NULL, NULL) == 0);
	CHECK(exists(final));
out:
	free(tmp);
	free(final);
}

/* the next writer of a file removes what its dead writers left */
UNIT_TEST(tmpfile, open_sweeps_dead_temporaries_of_its_file)
{
	const char *d = unit_tmpdir();
	char *final = xstrfmt("%s/bupindex", d);
	char *other = xstrfmt("%s/other", d);
	char *live = NULL, *dead = NULL, *odead = NULL, *next = NULL;
	int lfd = tmpfile_open(final, 0666, &live);
	int dfd = tmpfile_open(final, 0666, &dead);
	int ofd = tmpfile_open(other, 0666, &odead), nfd = -1;

	CHECK(lfd >= 0 && dfd >= 0 && ofd >= 0);
	if (lfd < 0 || dfd < 0 || ofd < 0)
		goto out;
	close(dfd);
	close(ofd);
	nfd = tmpfile_open(final, 0666, &next);
	CHECK(nfd >= 0);
	CHECK(!exists(dead));
	CHECK(exists(live));
	CHECK(exists(odead));
	CHECK(exists(next));
out:
	if (lfd >= 0)
		close(lfd);
	if (nfd >= 0)
		close(nfd);
	free(live);
	free(dead);
	free(odead);
	free(next);
	free(other);
	free(final);
}

UNIT_TEST(tmpfile, mkdir_swept_with_its_files)
{
	const char *d = unit_tmpdir();
	char *prefix = xstrfmt("%s/pack-tmp-", d), *dir = NULL, *p;
	int fd = tmpfile_mkdir(prefix, &dir);

	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	p = xstrfmt("%s/pack", dir);
	touch(p);
	free(p);
	p = xstrfmt("%s/idx", dir);
	touch(p);
	free(p);
	CHECK(tmpfile_sweep(d, "pack-tmp-", NULL) == 0);
	CHECK(exists(dir));
	close(fd);
	CHECK(tmpfile_sweep(d, "pack-tmp-", NULL) == 1);
	CHECK(!exists(dir));
out:
	free(dir);
	free(prefix);
}

UNIT_TEST(tmpfile, sweep_leaves_other_names_alone)
{
	const char *d = unit_tmpdir();
	char *final = xstrfmt("%s/f", d), *tmp = NULL, *p;
	const char *keep[] = {
		"pack-tmp-abcd_123",           /* bup's */
		"pack-tmp-XXaB3dE9",           /* an older cbup's */
		"bup.bloom.tmp-12-0",
		"bup.tmp.bloom",
		"f." TMPFILE_TAG "elsewhere-12-aB3dE9",   /* another host's */
	};
	int fd = tmpfile_open(final, 0666, &tmp);

	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		p = xstrfmt("%s/%s", d, keep[i]);
		touch(p);
		free(p);
	}
	/* this host's tag, but not the whole form */
	p = xstrfmt("%sx", tmp);
	touch(p);
	CHECK(tmpfile_sweep(d, NULL, NULL) == 1);
	CHECK(!exists(tmp));
	CHECK(exists(p));
	free(p);
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		p = xstrfmt("%s/%s", d, keep[i]);
		CHECK(exists(p));
		free(p);
	}
	/* a symlink with a tagged name: neither it nor its target removed */
	CHECK(symlink(final, tmp) == 0);
	touch(final);
	CHECK(tmpfile_sweep(d, NULL, NULL) == 0);
	CHECK(exists(tmp));
	CHECK(exists(final));
out:
	free(tmp);
	free(final);
}

UNIT_TEST(tmpfile, commit_renames_discard_removes)
{
	const char *d = unit_tmpdir();
	char *final = xstrfmt("%s/out.midx", d), *tmp = NULL, *kept;
	int fd = tmpfile_open(final, 0666, &tmp);

	CHECK(fd >= 0 && tmp != NULL);
	if (fd < 0)
		goto out;
	CHECK(write_full(fd, "new", 3) == 0);
	kept = xstrdup(tmp);
	CHECK(tmpfile_commit(&fd, &tmp, final) == 0);
	CHECK(fd == -1 && tmp == NULL);
	CHECK(exists(final) && !exists(kept));
	/* after a commit, nothing is left to discard: the file stays */
	tmpfile_discard(fd, tmp);
	CHECK(exists(final));
	free(kept);
	/* a writer that fails before its commit leaves nothing behind */
	fd = tmpfile_open(final, 0666, &tmp);
	CHECK(fd >= 0 && tmp != NULL);
	if (fd < 0)
		goto out;
	kept = xstrdup(tmp);
	tmpfile_discard(fd, tmp);
	tmp = NULL;
	CHECK(!exists(kept) && exists(final));
	free(kept);
out:
	free(tmp);
	free(final);
}
