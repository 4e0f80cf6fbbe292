/*
 * restore_writer: jobs run in order on the thread (the data of a file,
 * then its finish, called before the close), and a failed write is
 * kept, with a message naming the file, until the caller takes it; the
 * rest of that file's jobs are skipped, the next file's are not.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "meta/meta.h"
#include "pipelines/restore_writer.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/util.h"

struct seen {
	struct buf names;
};

static void finish(void *data, int fd, const struct meta *m,
		   const char *name)
{
	struct seen *s = data;

	(void)m;
	/* still open here: the close comes after */
	buf_addf(&s->names, "%s:%d\n", name, fcntl(fd, F_GETFD) >= 0);
}

static int open_in(const char *dir, const char *name, int flags)
{
	char *p = xstrfmt("%s/%s", dir, name);
	int fd = open(p, flags | O_CREAT | O_CLOEXEC, 0600);

	free(p);
	return fd;
}

UNIT_TEST(restore_writer, data_then_finish_in_order)
{
	const char *dir = unit_tmpdir();
	struct seen s = { BUF_INIT };
	struct restore_writer *w;
	struct buf data = BUF_INIT, got = BUF_INIT;
	struct meta m;
	char *p;
	int fd;

	meta_init(&m);
	CHECK(restore_writer_new(&w, finish, &s) == 0);
	if (!w)
		return;
	fd = open_in(dir, "a", O_WRONLY);
	CHECK(fd >= 0);
	for (int i = 0; i < 10; i++) {
		buf_addf(&data, "piece %d\n", i);
		restore_writer_data(w, fd, &data, "a");
		CHECK(data.len == 0);
	}
	restore_writer_finish(w, fd, &m, "a", 1);
	CHECK(restore_writer_free(w) == 0);
	CHECK(!strcmp(s.names.data, "a:1\n"));
	p = xstrfmt("%s/a", dir);
	CHECK(buf_read_file(&got, p) == 0);
	CHECK(got.len == 80 && !memcmp(got.data, "piece 0\n", 8) &&
	      !memcmp(got.data + 72, "piece 9\n", 8));
	free(p);
	buf_release(&got);
	buf_release(&data);
	buf_release(&s.names);
	meta_release(&m);
}

UNIT_TEST(restore_writer, a_failed_write_is_kept_for_the_caller)
{
	const char *dir = unit_tmpdir();
	struct seen s = { BUF_INIT };
	struct restore_writer *w;
	struct buf data = BUF_INIT;
	struct meta m;
	int bad, good;

	meta_init(&m);
	CHECK(restore_writer_new(&w, finish, &s) == 0);
	if (!w)
		return;
	/* a descriptor open for reading: every write fails (EBADF) */
	bad = open_in(dir, "bad", O_RDONLY);
	good = open_in(dir, "good", O_WRONLY);
	CHECK(bad >= 0 && good >= 0);
	buf_addstr(&data, "x");
	restore_writer_data(w, bad, &data, "bad");
	buf_addstr(&data, "y");
	restore_writer_data(w, bad, &data, "bad");
	restore_writer_finish(w, bad, &m, "bad", 1);
	buf_addstr(&data, "z");
	restore_writer_data(w, good, &data, "good");
	restore_writer_finish(w, good, &m, "good", 1);
	CHECK(restore_writer_free(w) == ERR_IO);
	CHECK(strstr(err_last(), "write error on 'bad'") == err_last());
	/* the failed file was not finished, the next one was */
	CHECK(!strcmp(s.names.data, "good:1\n"));
	buf_release(&data);
	buf_release(&s.names);
	meta_release(&m);
}
