/*
 * ftpsh: sessions over a repository made with git's plumbing (branch
 * "main", one save holding f = "hello\n" and d/g = "deep\n", committed
 * 2020-09-13 12:26:40 UTC): pwd and cd (a CommandError leaves the
 * working directory as it was), cat, get into a local file with its
 * "Saving" line, mget with a glob, help, quit, what ends the session
 * (an unknown command, cat of a directory) and the completion of a
 * path as bup's enter_completion adds to it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipelines/ftpsh.h"
#include "store/repo.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/util.h"
#include "vfs/vfs.h"

struct sess {
	struct buf out, log;
	struct repo *repo;
	struct vfs *vfs;
	struct ftpsh *sh;
	char *tz;
};

static void out_cb(void *ctx, const void *data, size_t len)
{
	buf_add(&((struct sess *)ctx)->out, data, len);
}

static void log_cb(void *ctx, const char *text)
{
	buf_addstr(&((struct sess *)ctx)->log, text);
}

static int sess_open(struct sess *s, const char *dir)
{
	struct ftpsh_io io = { out_cb, log_cb, NULL, 0, 80 };
	const char *tz = getenv("TZ");
	char *r = xstrfmt("%s/r", dir);
	int ret;

	memset(s, 0, sizeof(*s));
	buf_init(&s->out, 0);
	buf_init(&s->log, 0);
	s->tz = tz ? xstrdup(tz) : NULL;
	setenv("TZ", "UTC", 1);     /* save names are local times */
	tzset();
	CHECK(st_sh("cd '%s' && git init -q --bare r && export GIT_DIR=r "
		    "GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@b "
		    "GIT_COMMITTER_NAME=C GIT_COMMITTER_EMAIL=c@d "
		    "GIT_AUTHOR_DATE='1600000000 +0000' "
		    "GIT_COMMITTER_DATE='1600000000 +0000' && "
		    "f=$(echo hello | git hash-object -w --stdin) && "
		    "g=$(echo deep | git hash-object -w --stdin) && "
		    "d=$(printf '100644 blob %%s\\tg\\n' $g | git mktree) && "
		    "t=$(printf '100644 blob %%s\\tf\\n040000 tree %%s\\td\\n' "
		    "  $f $d | git mktree) && "
		    "c=$(git commit-tree $t -m save) && "
		    "git update-ref refs/heads/main $c && git repack -adq",
		    dir) == 0);
	ret = repo_open(&s->repo, r);
	free(r);
	CHECK(ret == 0);
	if (ret)
		return -1;
	CHECK(vfs_new(&s->vfs, s->repo) == 0);
	io.ctx = s;
	CHECK(ftpsh_new(&s->sh, s->vfs, &io) == 0);
	return 0;
}

static void sess_close(struct sess *s)
{
	ftpsh_free(s->sh);
	vfs_free(s->vfs);
	repo_free(s->repo);
	buf_release(&s->out);
	buf_release(&s->log);
	if (s->tz)
		setenv("TZ", s->tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(s->tz);
}

/* Run line; its status, with what it wrote in s->out (reset first). */
static int run(struct sess *s, const char *line)
{
	buf_reset(&s->out);
	buf_reset(&s->log);
	return ftpsh_run_line(s->sh, line, strlen(line));
}

UNIT_TEST(ftpsh, navigate_and_read)
{
	const char *dir = unit_tmpdir();
	struct sess s;
	struct buf b = BUF_INIT;
	int cwd = open(".", O_RDONLY | O_DIRECTORY);

	if (sess_open(&s, dir) < 0)
		return;
	CHECK(run(&s, "pwd\n") == FTPSH_OK && !strcmp(s.out.data, "/\n"));
	CHECK(run(&s, "cd main/latest") == FTPSH_OK && !s.out.len);
	/* latest is a symlink to the save, followed */
	CHECK(run(&s, "pwd") == FTPSH_OK &&
	      !strcmp(s.out.data, "/main/2020-09-13-122640\n"));
	/* a CommandError: said on the output, the directory unchanged */
	CHECK(run(&s, "cd nothere") == FTPSH_OK);
	CHECK(!strcmp(s.out.data, "error: path does not exist: "
		      "/main/2020-09-13-122640/nothere\n"));
	CHECK(run(&s, "cd f") == FTPSH_OK &&
	      !strcmp(s.out.data, "error: path is not a directory: f\n"));
	CHECK(run(&s, "pwd") == FTPSH_OK &&
	      !strcmp(s.out.data, "/main/2020-09-13-122640\n"));
	CHECK(run(&s, "cat f d/g") == FTPSH_OK &&
	      !strcmp(s.out.data, "hello\ndeep\n"));
	/* not a terminal: a name a line */
	CHECK(run(&s, "ls") == FTPSH_OK && !strcmp(s.out.data, "d\nf\n"));
	CHECK(run(&s, "HELP") == FTPSH_OK &&
	      !strcmp(s.out.data, "Commands: ls cd pwd cat get mget help "
		      "quit\n"));
	/* get and mget write local files, saying so on the log */
	CHECK(chdir(dir) == 0);
	CHECK(run(&s, "get f copy") == FTPSH_OK &&
	      !strcmp(s.log.data, "Saving copy\n"));
	CHECK(buf_read_file(&b, "copy") == 0 && !strcmp(b.data, "hello\n"));
	CHECK(run(&s, "mget d/?") == FTPSH_OK &&
	      !strcmp(s.log.data, "Saving g\n"));
	buf_reset(&b);
	CHECK(buf_read_file(&b, "g") == 0 && !strcmp(b.data, "deep\n"));
	CHECK(cwd >= 0 && fchdir(cwd) == 0);
	close(cwd);
	CHECK(run(&s, "bye") == FTPSH_QUIT);
	buf_release(&b);
	sess_close(&s);
}

UNIT_TEST(ftpsh, what_ends_the_session)
{
	struct sess s;

	if (sess_open(&s, unit_tmpdir()) < 0)
		return;
	CHECK(run(&s, "frobnicate x") == FTPSH_FATAL);
	CHECK(!strcmp(err_last(), "no such command: frobnicate"));
	CHECK(run(&s, "cat main/latest/d") == FTPSH_FATAL);
	CHECK(strstr(err_last(), "is not a regular file") != NULL);
	CHECK(run(&s, "'") == FTPSH_FATAL);
	/* blank lines are nothing */
	CHECK(run(&s, " \t\n") == FTPSH_OK && !s.out.len);
	sess_close(&s);
}

UNIT_TEST(ftpsh, completion)
{
	struct sess s;
	struct buf add = BUF_INIT;

	if (sess_open(&s, unit_tmpdir()) < 0)
		return;
	/* a directory: the rest of its name and a slash */
	CHECK(ftpsh_complete(s.sh, "cd ma", 0, &add) == 1);
	CHECK(!strcmp(add.data, "in/"));
	CHECK(ftpsh_complete(s.sh, "cd ma", 1, &add) == 0);
	/* a file: its name closed by a space */
	CHECK(ftpsh_complete(s.sh, "cat main/latest/", 0, &add) == 1);
	CHECK(ftpsh_complete(s.sh, "cat main/latest/f", 0, &add) == 1);
	CHECK(!strcmp(add.data, " "));
	CHECK(ftpsh_complete(s.sh, "cat zz", 0, &add) == 0);
	buf_release(&add);
	sess_close(&s);
}
