/* Tests for err.c: messages of any length, per thread. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "unit.h"
#include "util/buf.h"
#include "util/err.h"

UNIT_TEST(err, long_messages_whole)
{
	struct buf big = BUF_INIT;

	for (int i = 0; i < 5000; i++)
		buf_addch(&big, (char)('a' + i % 26));
	CHECK(err_set(ERR_CORRUPT, "%s: end", big.data) == ERR_CORRUPT);
	CHECK(strlen(err_last()) == 5005 && err_last_code() == ERR_CORRUPT);
	CHECK(!strncmp(err_last(), big.data, 5000) &&
	      !strcmp(err_last() + 5000, ": end"));
	/* a message may quote the last one */
	CHECK(err_set(ERR_IO, "%s/%s", "x", err_last()) == ERR_IO);
	CHECK(strlen(err_last()) == 5007 && !strncmp(err_last(), "x/abc", 5));
	buf_release(&big);
	err_clear();
	CHECK(!strcmp(err_last(), "") && err_last_code() == 0);
}

UNIT_TEST(err, errno_appended_and_kept)
{
	errno = ENOENT;
	CHECK(err_errno("cannot open '%s'", "f") == ERR_IO);
	CHECK(errno == ENOENT);
	CHECK(!strcmp(err_last(), "cannot open 'f': No such file or "
		      "directory"));
	errno = EACCES;
	err_set(ERR_USAGE, "x");
	CHECK(errno == EACCES);
}

UNIT_TEST(err, corrupt_names_file_and_kind)
{
	CHECK(err_corrupt("a.midx", "midx", "bits %u out of range", 40u) ==
	      ERR_CORRUPT);
	CHECK(err_last_code() == ERR_CORRUPT);
	CHECK(!strcmp(err_last(), "a.midx: corrupt midx: bits 40 out of "
		      "range"));
	/* the file's name may be the last message itself */
	err_set(ERR_IO, "x.bloom");
	CHECK(err_corrupt(err_last(), "bloom", "%s", err_last()) ==
	      ERR_CORRUPT);
	CHECK(!strcmp(err_last(), "x.bloom: corrupt bloom: x.bloom"));
}

static void *other_thread(void *arg)
{
	int *ok = arg;

	*ok = !strcmp(err_last(), "") && err_last_code() == 0;
	err_set(ERR_EXISTS, "thread's own");
	*ok &= !strcmp(err_last(), "thread's own");
	return NULL;
}

UNIT_TEST(err, per_thread)
{
	pthread_t t;
	int ok = 0;

	err_set(ERR_NOTFOUND, "main's");
	CHECK(pthread_create(&t, NULL, other_thread, &ok) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(ok);
	CHECK(!strcmp(err_last(), "main's") && err_last_code() == ERR_NOTFOUND);
}
