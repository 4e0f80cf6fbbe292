/*
 * archive: the archiver on a real directory, indexed by the indexer,
 * saved into a real repository through a pack writer, and read back
 * with git.  Every blob is the file's `git hash-object` (a file larger
 * than a chunk becomes a fanout tree whose blobs join to the file), a
 * symlink is its target, each directory has its .bupm, the commit has
 * the given parent, message and date, and `git fsck --strict` passes
 * (dangling objects aside: no ref names the commits).
 * --strip and --graft place the tree where bup would.  A vanished file
 * and one whose type changed since indexing are bup's add_errors and
 * the save goes on without them (so is an unreadable one, when not
 * root); a missing index, a source the index lacks and a sink that
 * fails (with the chunker's threads running) are error returns.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipelines/archive.h"
#include "pipelines/archpath.h"
#include "index/drecurse.h"
#include "pipelines/indexer.h"
#include "store/objsink.h"
#include "store/packwriter.h"
#include "store/repo.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/util.h"

struct fx {
	const char *dir;
	char *top, *indexfile;
	struct repo *repo;
	struct packwriter *pw;
	struct archive_opts o;
	struct archpath_rules rules;
	struct buf errors, log;
	int progress_saved;
};

static void on_error(void *ctx, const char *msg)
{
	struct fx *f = ctx;

	buf_addstr(&f->errors, msg);
	buf_addch(&f->errors, '\n');
}

static void on_log(void *ctx, const char *line)
{
	buf_addstr(&((struct fx *)ctx)->log, line);
}

static void on_progress(void *ctx, const struct archive_progress *p)
{
	if (p->phase == ARCHIVE_SAVED)
		((struct fx *)ctx)->progress_saved++;
}

/* t/ with a small file, a 1 MiB one (several chunks), a subdirectory
 * and a symlink, indexed into DIR/bupindex; an empty repository r. */
static int fx_open(struct fx *f)
{
	struct drecurse_opts walk = DRECURSE_OPTS_INIT;
	struct indexer_opts io = { 0 };
	const char *top;
	char *r;
	int ret;

	memset(f, 0, sizeof(*f));
	buf_init(&f->errors, 0);
	buf_init(&f->log, 0);
	f->dir = unit_tmpdir();
	f->top = xstrfmt("%s/t", f->dir);
	f->indexfile = xstrfmt("%s/bupindex", f->dir);
	if (st_sh("cd '%s' && git init -q --bare r && mkdir -p t/d && "
		  "echo hello > t/a && echo bee > t/d/b && "
		  "echo sea > t/d/c && ln -s a t/l", f->dir)) {
		unit_fail(__FILE__, __LINE__, "making the tree failed");
		return -1;
	}
	{
		/* t/vectors/README.md 1's input: several chunks */
		size_t n = 1 << 20;
		unsigned char *data = xmalloc(n);
		char *big = xstrfmt("%s/big", f->top);
		int fd = open(big, O_WRONLY | O_CREAT | O_EXCL, 0644);

		st_lcg_fill(data, n, 1);
		CHECK(fd >= 0 && write_full(fd, data, n) == 0);
		if (fd >= 0)
			close(fd);
		free(data);
		free(big);
	}
	io.walk = &walk;
	top = f->top;
	ret = indexer_update(&io, f->indexfile, &top, 1);
	drecurse_opts_release(&walk);
	CHECK(ret == 0);
	r = xstrfmt("%s/r", f->dir);
	ret = repo_open(&f->repo, r);
	free(r);
	CHECK(ret == 0);
	if (ret)
		return -1;
	f->o.sources = (const char *const *)&f->top;
	f->o.nr_sources = 1;
	f->o.indexfile = f->indexfile;
	f->o.rules = &f->rules;
	f->o.threads = 2;
	f->o.commit = 1;
	f->o.date = 1600000000.5;
	f->o.msg = "bup save\n\ntest\n";
	f->o.msglen = strlen(f->o.msg);
	f->o.error = on_error;
	f->o.log = on_log;
	f->o.progress = on_progress;
	f->o.ctx = f;
	return 0;
}

static int fx_sink(struct fx *f)
{
	struct packwriter_opts po = { 0 };
	int ret;

	po.level = 1;
	po.impl = ZLIB_IMPL_ZLIB;
	po.max_size = PACKWRITER_DEFAULT_MAX_SIZE;
	po.max_objects = po.max_size / 5000;
	po.threads = 2;
	po.no_upkeep = 1;
	ret = packwriter_new(&f->pw, f->repo->objdir, repo_odb(f->repo), &po);
	CHECK(ret == 0);
	f->o.sink = ret ? NULL : packwriter_sink(f->pw);
	return ret;
}

/* archive_run() into a fresh pack, closed on success. */
static int fx_save(struct fx *f, struct archive_result *res)
{
	int ret;

	if (fx_sink(f))
		return -1;
	ret = archive_run(res, &f->o);
	if (ret) {
		packwriter_abort(f->pw);
	} else {
		ret = packwriter_close(f->pw);
		CHECK(ret == 0);
	}
	f->pw = NULL;
	return ret;
}

static void fx_close(struct fx *f)
{
	archpath_rules_release(&f->rules);
	repo_free(f->repo);
	free(f->top);
	free(f->indexfile);
	buf_release(&f->errors);
	buf_release(&f->log);
}

/* git in r; stdout into out, trailing newlines dropped. */
static int git(struct buf *out, struct fx *f, const char *args)
{
	int rc = st_sh_out(out, "cd '%s' && GIT_DIR=r git %s", f->dir, args);

	while (out->len && out->data[out->len - 1] == '\n')
		buf_setlen(out, out->len - 1);
	return rc;
}

static void check_eq(const char *file, int line, const char *got,
		     const char *want)
{
	if (strcmp(got, want))
		unit_fail(file, line, "got '%s', want '%s'", got, want);
}
#define CHECK_STR(got, want) check_eq(__FILE__, __LINE__, got, want)

UNIT_TEST(archive, save_and_read_back)
{
	struct fx f;
	struct archive_result res;
	struct buf a = BUF_INIT, b = BUF_INIT;
	char *args;

	if (fx_open(&f))
		goto out;
	archpath_add_strip(&f.rules, f.top);
	CHECK(fx_save(&f, &res) == 0);
	CHECK(res.have_tree && !res.no_index);
	CHECK(f.errors.len == 0);
	CHECK(f.progress_saved == 1);

	args = xstrfmt("ls-tree --name-only %s", oid_hex(&res.tree));
	CHECK(git(&a, &f, args) == 0);
	free(args);
	/* names mangled (FORMAT.md 4): the split file is "big.bup" */
	CHECK_STR(a.data, ".bupm\na\nbig.bup\nd\nl");
	/* each blob is git's, each directory has its .bupm */
	CHECK(st_sh_out(&b, "cd '%s' && git hash-object t/a t/d/b",
			f.dir) == 0);
	args = xstrfmt("rev-parse %s:a %s:d/b", oid_hex(&res.tree),
		       oid_hex(&res.tree));
	CHECK(git(&a, &f, args) == 0);
	free(args);
	buf_addch(&a, '\n');
	CHECK_STR(a.data, b.data);
	/*
	 * A .bupm is hashsplit as a file is: the timestamps it records
	 * put a split point in a small one now and then (a tree then).
	 */
	args = xstrfmt("cat-file -t %s:d/.bupm", oid_hex(&res.tree));
	CHECK(git(&a, &f, args) == 0 &&
	      (!strcmp(a.data, "blob") || !strcmp(a.data, "tree")));
	free(args);
	args = xstrfmt("cat-file blob %s:l", oid_hex(&res.tree));
	CHECK(git(&a, &f, args) == 0 && !strcmp(a.data, "a"));
	free(args);
	/* the chunks, in tree order, are the file */
	CHECK(st_sh("cd '%s' && export GIT_DIR=r && "
		    "test $(git cat-file -t %s:big.bup) = tree && "
		    "test $(git ls-tree -r %s:big.bup | wc -l) -gt 2 && "
		    "git ls-tree -r %s:big.bup | while read m t h n; do "
		    "git cat-file blob $h || exit 1; done | cmp - t/big",
		    f.dir, oid_hex(&res.tree), oid_hex(&res.tree),
		    oid_hex(&res.tree)) == 0);
	args = xstrfmt("cat-file commit %s", oid_hex(&res.commit));
	CHECK(git(&a, &f, args) == 0);
	free(args);
	{
		char *want = xstrfmt("tree %s\n", oid_hex(&res.tree));
		CHECK(!strncmp(a.data, want, strlen(want)));
		free(want);
	}
	CHECK(strstr(a.data, " 1600000000 ") != NULL);
	CHECK(strstr(a.data, "\n\nbup save\n\ntest") != NULL);
	CHECK(strstr(a.data, "\nparent ") == NULL);

	/* again, on top of the first */
	{
		struct oid first = res.commit;

		f.o.parent = &first;
		CHECK(fx_save(&f, &res) == 0);
		args = xstrfmt("cat-file commit %s", oid_hex(&res.commit));
		CHECK(git(&a, &f, args) == 0);
		free(args);
		args = xstrfmt("\nparent %s\n", oid_hex(&first));
		CHECK(strstr(a.data, args) != NULL);
		free(args);
		f.o.parent = NULL;
	}
	CHECK(st_sh("cd '%s' && GIT_DIR=r git fsck --strict 2>&1 | "
		    "grep -v '^dangling\\|^notice' | grep . && exit 1; exit 0",
		    f.dir) == 0);
out:
	buf_release(&a);
	buf_release(&b);
	fx_close(&f);
}

UNIT_TEST(archive, graft_and_verbose)
{
	struct fx f;
	struct archive_result res;
	struct buf a = BUF_INIT;
	char *args, *spec;

	if (fx_open(&f))
		goto out;
	spec = xstrfmt("%s=/x/y", f.top);
	CHECK(archpath_add_graft(&f.rules, spec) == 0);
	free(spec);
	f.o.verbose = 2;
	f.o.commit = 0;
	CHECK(fx_save(&f, &res) == 0);
	/* (a .bupm split into chunks, as a file is, counts once) */
	args = xstrfmt("ls-tree -r --name-only %s | grep -v '^x/y/big.bup/' | "
		       "sed 's,\\.bupm/.*,.bupm,' | uniq", oid_hex(&res.tree));
	CHECK(git(&a, &f, args) == 0);
	free(args);
	/* the made-up x and y have .bupm files too */
	CHECK_STR(a.data, ".bupm\nx/.bupm\nx/y/.bupm\nx/y/a\n"
		  "x/y/d/.bupm\nx/y/d/b\nx/y/d/c\nx/y/l");
	/* -vv: every path with its status, bup's "%c %-70s" */
	{
		char *want = xstrfmt("\nA %s/ ", f.top);
		CHECK(strstr(f.log.data, want) != NULL);
		free(want);
		want = xstrfmt("\nA %s/d/b", f.top);
		CHECK(strstr(f.log.data, want) != NULL);
		free(want);
	}
out:
	buf_release(&a);
	fx_close(&f);
}

UNIT_TEST(archive, vanished_and_changed)
{
	struct fx f;
	struct archive_result res;
	struct buf a = BUF_INIT;
	char *args, *want;

	if (fx_open(&f))
		goto out;
	archpath_add_strip(&f.rules, f.top);
	CHECK(st_sh("cd '%s' && rm t/d/b && rm t/a && mkfifo t/a",
		    f.dir) == 0);
	CHECK(fx_save(&f, &res) == 0);
	want = xstrfmt("[Errno 2] No such file or directory: '%s/d/b'",
		       f.top);
	CHECK(strstr(f.errors.data, want) != NULL);
	free(want);
	want = xstrfmt("%s/a: mode changed since indexing, skipping.",
		       f.top);
	CHECK(strstr(f.errors.data, want) != NULL);
	free(want);
	/* the save went on without them */
	args = xstrfmt("ls-tree -r --name-only %s", oid_hex(&res.tree));
	CHECK(git(&a, &f, args) == 0);
	free(args);
	CHECK(strstr(a.data, "d/c\n") != NULL);
	CHECK(strstr(a.data, "d/b") == NULL);
	CHECK(strstr(a.data, "\na\n") == NULL);
out:
	buf_release(&a);
	fx_close(&f);
}

UNIT_TEST(archive, unreadable)
{
	struct fx f;
	struct archive_result res;
	char *want;

	if (!geteuid()) {
		unit_skip(0, "root reads every file");
		return;
	}
	if (fx_open(&f))
		goto out;
	archpath_add_strip(&f.rules, f.top);
	CHECK(st_sh("chmod 0 '%s/d/c'", f.top) == 0);
	CHECK(fx_save(&f, &res) == 0);
	want = xstrfmt("[Errno 13] Permission denied: '%s/d/c'", f.top);
	CHECK(strstr(f.errors.data, want) != NULL);
	free(want);
out:
	fx_close(&f);
}

/* A sink that fails after `left` writes. */
struct bad_sink {
	struct objsink sink;
	struct objsink *real;
	int left;
};

static int bad_write(struct objsink *s, enum obj_type type, const void *data,
		     size_t len, struct oid *out)
{
	struct bad_sink *b = (struct bad_sink *)s;

	if (b->left-- <= 0)
		return err_set(ERR_IO, "disk full (test)");
	return objsink_write(b->real, type, data, len, out);
}

static int bad_exists(struct objsink *s, const struct oid *oid)
{
	struct bad_sink *b = (struct bad_sink *)s;

	return b->real->exists(b->real, oid);
}

UNIT_TEST(archive, errors)
{
	struct fx f;
	struct archive_result res;
	struct bad_sink bad;
	char *p;

	if (fx_open(&f))
		goto out;
	/* a source the index lacks */
	p = xstrfmt("%s/r", f.dir);
	f.o.sources = (const char *const *)&p;
	CHECK(fx_sink(&f) == 0);
	CHECK(archive_run(&res, &f.o) == ERR_NOTFOUND);
	CHECK(!strncmp(err_last(), "cannot find b'", 14));
	CHECK(!res.have_tree);
	/* a sink that fails mid-file, the chunker's threads running */
	f.o.sources = (const char *const *)&f.top;
	memset(&bad, 0, sizeof(bad));
	bad.sink.write = bad_write;
	bad.sink.exists = bad_exists;
	bad.real = f.o.sink;
	bad.left = 5;
	f.o.sink = &bad.sink;
	CHECK(archive_run(&res, &f.o) == ERR_IO);
	CHECK(!strcmp(err_last(), "disk full (test)"));
	CHECK(!res.have_tree);
	packwriter_abort(f.pw);
	/* no .meta: bup's "have you run bup index?" */
	free(p);
	p = xstrfmt("%s.meta", f.indexfile);
	CHECK(unlink(p) == 0);
	free(p);
	CHECK(fx_sink(&f) == 0);
	CHECK(archive_run(&res, &f.o) == ERR_NOTFOUND);
	CHECK(res.no_index);
	p = xstrfmt("cannot access '%s'; have you run bup index?",
		    f.indexfile);
	CHECK_STR(err_last(), p);
	free(p);
	packwriter_abort(f.pw);
out:
	fx_close(&f);
}
