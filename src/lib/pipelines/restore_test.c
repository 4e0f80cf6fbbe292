/*
 * restore: a save made with git's plumbing (a file, an executable, a
 * symlink, a subdirectory; no .bupm, so bup's stand-in metadata: the
 * vfs's default modes) is restored with its contents, modes and link
 * target, on one thread and through the writer thread, the -v lines come
 * through the output callback in walk order, and a symlink planted in
 * the target where a restored directory goes is not followed: it is
 * replaced by the directory, as bup does, and nothing is written where
 * it points.  A bad path is reported and a target
 * that cannot be opened is an error returned.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipelines/restore.h"
#include "store/repo.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/util.h"
#include "vfs/vfs.h"

#define ENV "GIT_DIR=r GIT_AUTHOR_NAME='A U' GIT_AUTHOR_EMAIL=a@b " \
	"GIT_COMMITTER_NAME=C GIT_COMMITTER_EMAIL=c@d " \
	"GIT_AUTHOR_DATE='1600000000 +0000' " \
	"GIT_COMMITTER_DATE='1600000000 +0000'"

struct fixture {
	const char *dir;
	struct repo *repo;
	struct vfs *vfs;
	struct buf errors, lines;
	unsigned long last_progress;
};

static void on_error(void *data, const char *msg)
{
	struct fixture *f = data;

	buf_addf(&f->errors, "%s\n", msg);
}

static void on_output(void *data, const char *line)
{
	struct fixture *f = data;

	buf_addf(&f->lines, "%s\n", line);
}

static void on_progress(void *data, unsigned long total)
{
	struct fixture *f = data;

	f->last_progress = total;
}

/* main: f ("hello\n", 644), x (755), s -> f, sub/g, sub/h */
static int fixture_open(struct fixture *f)
{
	char *r;
	int ret;

	memset(f, 0, sizeof(*f));
	buf_init(&f->errors, 0);
	buf_init(&f->lines, 0);
	f->dir = unit_tmpdir();
	if (st_sh("cd '%s' && git init -q --bare r && export " ENV " && "
		  "f=$(echo hello | git hash-object -w --stdin) && "
		  "x=$(printf '#!/bin/sh\\n' | git hash-object -w --stdin) && "
		  "s=$(printf f | git hash-object -w --stdin) && "
		  "g=$(seq 1 5000 | git hash-object -w --stdin) && "
		  "h=$(printf '' | git hash-object -w --stdin) && "
		  "sub=$(printf '100644 blob %%s\\tg\\n100644 blob %%s\\th\\n' "
		  "  $g $h | git mktree) && "
		  "t=$(printf '100644 blob %%s\\tf\\n120000 blob %%s\\ts\\n"
		  "040000 tree %%s\\tsub\\n100755 blob %%s\\tx\\n' "
		  "  $f $s $sub $x | git mktree) && "
		  "c=$(git commit-tree $t -m save) && "
		  "git update-ref refs/heads/main $c && "
		  "mkdir out outside", f->dir)) {
		unit_fail(__FILE__, __LINE__, "making the repository failed");
		return -1;
	}
	r = xstrfmt("%s/r", f->dir);
	ret = repo_open(&f->repo, r);
	free(r);
	CHECK(ret == 0);
	if (ret)
		return -1;
	CHECK(vfs_new(&f->vfs, f->repo) == 0);
	return f->vfs ? 0 : -1;
}

static void fixture_close(struct fixture *f)
{
	vfs_free(f->vfs);
	repo_free(f->repo);
	buf_release(&f->errors);
	buf_release(&f->lines);
}

static void opts_for(struct restore_opts *o, struct fixture *f,
		     const char *target, int threads)
{
	restore_opts_init(o);
	o->target = target;
	o->verbosity = 2;
	o->threads = threads;
	o->error = on_error;
	o->output = on_output;
	o->progress = on_progress;
	o->data = f;
}

static void check_file(const char *path, const char *data, int mode)
{
	struct buf b = BUF_INIT;
	struct stat st;

	CHECK(lstat(path, &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	if ((int)(st.st_mode & 07777) != mode)
		unit_fail(__FILE__, __LINE__, "%s: mode %o, not %o", path,
			  (unsigned)(st.st_mode & 07777), (unsigned)mode);
	CHECK(buf_read_file(&b, path) == 0);
	CHECK(b.len == strlen(data) && !memcmp(b.data, data, b.len));
	buf_release(&b);
}

static void restore_whole(int threads)
{
	struct fixture f;
	struct restore_opts o;
	const char *paths[] = { "/main/latest/." };
	unsigned long total = 0;
	struct buf out = BUF_INIT, seq = BUF_INIT;
	char *target;
	mode_t old = umask(022);

	if (fixture_open(&f) < 0)
		return;
	target = xstrfmt("%s/out", f.dir);
	opts_for(&o, &f, target, threads);
	CHECK(restore_run(f.vfs, &o, paths, 1, &total) == 0);
	CHECK(total == 6);
	CHECK(f.last_progress == 6);
	CHECK(f.errors.len == 0);
	if (f.errors.len)
		unit_fail(__FILE__, __LINE__, "%s", f.errors.data);
	CHECK(!strcmp(f.lines.data, "/f\n/s@ -> f\n/sub/\n/sub/g\n/sub/h\n"
		      "/x\n"));

	buf_addf(&out, "%s/f", target);
	check_file(out.data, "hello\n", 0644);
	buf_reset(&out);
	buf_addf(&out, "%s/x", target);
	/* no .bupm: bup's default file mode, not the tree's 100755 */
	check_file(out.data, "#!/bin/sh\n", 0644);
	buf_reset(&out);
	buf_addf(&out, "%s/sub/h", target);
	check_file(out.data, "", 0644);
	for (int i = 1; i <= 5000; i++)
		buf_addf(&seq, "%d\n", i);
	buf_reset(&out);
	buf_addf(&out, "%s/sub/g", target);
	check_file(out.data, seq.data, 0644);
	buf_reset(&out);
	buf_addf(&out, "%s/s", target);
	{
		char l[16];
		ssize_t n = readlink(out.data, l, sizeof(l));
		CHECK(n == 1 && l[0] == 'f');
	}

	restore_opts_release(&o);
	buf_release(&out);
	buf_release(&seq);
	free(target);
	fixture_close(&f);
	umask(old);
}

UNIT_TEST(restore, save_on_one_thread)
{
	restore_whole(0);
}

UNIT_TEST(restore, save_through_the_writer_thread)
{
	restore_whole(1);
}

UNIT_TEST(restore, planted_symlink_not_followed)
{
	struct fixture f;
	struct restore_opts o;
	const char *paths[] = { "/main/latest/sub" };
	unsigned long total = 0;
	struct buf p = BUF_INIT;
	struct stat st;
	char *target;

	if (fixture_open(&f) < 0)
		return;
	/* out/sub leads outside the target */
	CHECK(st_sh("cd '%s' && ln -s ../outside out/sub", f.dir) == 0);
	target = xstrfmt("%s/out", f.dir);
	opts_for(&o, &f, target, 1);
	CHECK(restore_run(f.vfs, &o, paths, 1, &total) == 0);
	buf_addf(&p, "%s/outside/g", f.dir);
	CHECK(lstat(p.data, &st) < 0);
	buf_reset(&p);
	buf_addf(&p, "%s/outside/h", f.dir);
	CHECK(lstat(p.data, &st) < 0);
	/* the symlink was replaced (as bup does) by the directory */
	buf_reset(&p);
	buf_addf(&p, "%s/out/sub", f.dir);
	CHECK(lstat(p.data, &st) == 0 && S_ISDIR(st.st_mode));
	buf_addstr(&p, "/h");
	check_file(p.data, "", 0644);
	CHECK(total == 3);
	CHECK(f.errors.len == 0);

	restore_opts_release(&o);
	buf_release(&p);
	free(target);
	fixture_close(&f);
}

UNIT_TEST(restore, errors_reported_or_returned)
{
	struct fixture f;
	struct restore_opts o;
	const char *paths[] = { "main", "/main/latest/nothing" };
	unsigned long total = 1;
	char *target, *none;

	if (fixture_open(&f) < 0)
		return;
	target = xstrfmt("%s/out", f.dir);
	opts_for(&o, &f, target, 1);
	CHECK(restore_run(f.vfs, &o, paths, 2, &total) == 0);
	CHECK(total == 0);
	CHECK(strstr(f.errors.data,
		     "path b'main' doesn't include a branch and revision") !=
	      NULL);
	CHECK(strstr(f.errors.data, "error: cannot access") != NULL);

	none = xstrfmt("%s/none", f.dir);
	o.target = none;
	CHECK(restore_run(f.vfs, &o, paths, 1, &total) == ERR_IO);
	CHECK(strstr(err_last(), "none") != NULL);

	restore_opts_release(&o);
	free(none);
	free(target);
	fixture_close(&f);
}
