/*
 * indexer: the updater on a real directory.  A first update records
 * every path (children before their directory, as bup lists them) with
 * bup's progress and no error; a second run with a file removed, one
 * added and one changed marks them D, A and M (bup index -s) and leaves
 * the rest valid-looking as they were; --fake-valid marks all valid;
 * the check passes on what was written and fails, with bup's line, on
 * a damaged file; clear removes the three files; a missing top is
 * bup's add_error and the others are still indexed; a file that is not
 * an index gets bup's header warning and is read as empty.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/bindex.h"
#include "index/drecurse.h"
#include "pipelines/indexer.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/util.h"

struct seen {
	struct buf log, errors, listing;
	int progress_done;
};

static void on_log(void *ctx, const char *line)
{
	buf_addstr(&((struct seen *)ctx)->log, line);
}

static void on_error(void *ctx, const char *msg)
{
	struct seen *s = ctx;

	buf_addstr(&s->errors, msg);
	buf_addch(&s->errors, '\n');
}

static void on_progress(void *ctx, int done, const char *line)
{
	(void)line;
	((struct seen *)ctx)->progress_done += done;
}

/* bup index -s: "S rest" per entry, S one of ' ', A, M, D. */
static void on_entry(void *ctx, const char *prefix, const char *rest,
		     const struct bindex_ent *e)
{
	struct buf *b = ctx;
	char st = bindex_ent_is_deleted(e) ? 'D'
		: !bindex_ent_is_valid(e) ?
			(bindex_ent_sha_is_empty(e) ? 'A' : 'M') : ' ';

	(void)prefix;
	buf_addf(b, "%c %s\n", st, rest);
}

struct fx {
	const char *dir;
	char *top, *indexfile;
	struct drecurse_opts walk;
	struct indexer_opts o;
	struct seen seen;
};

static void fx_open(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->dir = unit_tmpdir();
	f->top = xstrfmt("%s/t/", f->dir);
	f->indexfile = xstrfmt("%s/bupindex", f->dir);
	buf_init(&f->seen.log, 0);
	buf_init(&f->seen.errors, 0);
	buf_init(&f->seen.listing, 0);
	f->o.walk = &f->walk;
	f->o.log = on_log;
	f->o.error = on_error;
	f->o.progress = on_progress;
	f->o.ctx = &f->seen;
	CHECK(st_sh("cd '%s' && mkdir -p t/d t/e && echo 1 > t/a && "
		    "echo 2 > t/d/b && echo 3 > t/d/c && echo 4 > t/e/f",
		    f->dir) == 0);
}

static void fx_close(struct fx *f)
{
	drecurse_opts_release(&f->walk);
	free(f->top);
	free(f->indexfile);
	buf_release(&f->seen.log);
	buf_release(&f->seen.errors);
	buf_release(&f->seen.listing);
}

static int list(struct fx *f)
{
	const char *top = f->top;

	buf_reset(&f->seen.listing);
	return indexer_list(&f->o, f->indexfile, &top, 1, 0, on_entry,
			    &f->seen.listing);
}

static void check_listing(struct fx *f, const char *want)
{
	CHECK(list(f) == 0);
	if (strcmp(f->seen.listing.data, want))
		unit_fail(__FILE__, __LINE__, "listing:\n%sinstead of\n%s",
			  f->seen.listing.data, want);
}

UNIT_TEST(indexer, update_marks)
{
	struct fx f;
	const char *top;
	struct stat st;

	fx_open(&f);
	top = f.top;
	CHECK(indexer_update(&f.o, f.indexfile, &top, 1) == 0);
	CHECK(f.seen.errors.len == 0);
	CHECK(f.seen.progress_done == 1);
	check_listing(&f, "A e/f\nA e/\nA d/c\nA d/b\nA d/\nA a\nA \n");
	CHECK(stat(f.indexfile, &st) == 0);
	/* one update per second at most sees a change of the same size */
	CHECK(st_sh("cd '%s' && sleep 1 && rm t/d/b && echo 55 > t/d/c && "
		    "echo 6 > t/g", f.dir) == 0);
	f.seen.progress_done = 0;
	CHECK(indexer_update(&f.o, f.indexfile, &top, 1) == 0);
	/* the walk, then the merge of the new path */
	CHECK(f.seen.progress_done == 2);
	check_listing(&f, "A g\nA e/f\nA e/\nA d/c\nD d/b\nA d/\nA a\n"
		      "A \n");
	f.o.fake_valid = 1;
	CHECK(indexer_update(&f.o, f.indexfile, &top, 1) == 0);
	check_listing(&f, "  g\n  e/f\n  e/\n  d/c\nD d/b\n  d/\n  a\n"
		      "  \n");
	f.o.fake_valid = 0;
	CHECK(st_sh("cd '%s' && sleep 1 && echo 777 > t/a", f.dir) == 0);
	CHECK(indexer_update(&f.o, f.indexfile, &top, 1) == 0);
	/* a changed file is M, and so are its directories */
	check_listing(&f, "  g\n  e/f\n  e/\n  d/c\nD d/b\n  d/\nM a\n"
		      "M \n");
	/* -m lists only what changed */
	buf_reset(&f.seen.listing);
	CHECK(indexer_list(&f.o, f.indexfile, &top, 1, 1, on_entry,
			   &f.seen.listing) == 0);
	CHECK(!strcmp(f.seen.listing.data, "M a\nM \n"));
	CHECK(f.seen.errors.len == 0);

	buf_reset(&f.seen.log);
	CHECK(indexer_check(&f.o, f.indexfile) == 0);
	CHECK(strstr(f.seen.log.data, "check: passed.\n") != NULL);
	fx_close(&f);
}

UNIT_TEST(indexer, missing_top_and_clear)
{
	struct fx f;
	const char *tops[2];
	char *missing, *want;
	struct stat st;

	fx_open(&f);
	missing = xstrfmt("%s/none", f.dir);
	tops[0] = missing;
	tops[1] = f.top;
	CHECK(indexer_update(&f.o, f.indexfile, tops, 2) == 0);
	/* once as an -x exception, once as a top, as bup */
	want = xstrfmt("unique_resolved_paths: [Errno 2] No such file or "
		       "directory: b'%s'\nreduce_paths: [Errno 2] No such "
		       "file or directory: b'%s'\n", missing, missing);
	CHECK(!strcmp(f.seen.errors.data, want));
	free(want);
	CHECK(list(&f) == 0);
	CHECK(strstr(f.seen.listing.data, "A e/f\n") != NULL);
	/* a top the index lacks */
	want = xstrfmt("%s/u", f.dir);
	CHECK(mkdir(want, 0755) == 0);
	tops[0] = want;
	buf_reset(&f.seen.listing);
	CHECK(indexer_list(&f.o, f.indexfile, tops, 1, 0, on_entry,
			   &f.seen.listing) == ERR_NOTFOUND);
	CHECK(!strncmp(err_last(), "cannot find b'", 14));
	free(want);

	f.o.verbose = 1;
	buf_reset(&f.seen.log);
	CHECK(indexer_clear(&f.o, f.indexfile) == 0);
	CHECK(strstr(f.seen.log.data, "clear: removed ") != NULL);
	CHECK(stat(f.indexfile, &st) < 0);
	want = xstrfmt("%s.meta", f.indexfile);
	CHECK(stat(want, &st) < 0);
	free(want);
	free(missing);
	fx_close(&f);
}

UNIT_TEST(indexer, bad_files)
{
	struct fx f;
	const char *top;
	struct bindex ix;
	int exists;

	fx_open(&f);
	top = f.top;
	/* not an index: bup's warning, then read as empty */
	CHECK(st_sh("printf 'BUPI\\0\\0\\0\\6xxxx' > '%s'", f.indexfile) == 0);
	CHECK(indexer_open(&ix, &exists, f.indexfile, 0, &f.o) == 0);
	CHECK(!exists);
	bindex_close(&ix);
	CHECK(strstr(f.seen.log.data, ": header: expected "
		     "b'BUPI\\x00\\x00\\x00\\x07', got b'BUPI\\x00\\x00\\x00"
		     "\\x06'\n") != NULL);
	CHECK(unlink(f.indexfile) == 0);
	CHECK(indexer_update(&f.o, f.indexfile, &top, 1) == 0);
	/* the root entry claims a hash it lacks (flags EXISTS|HASHVALID) */
	CHECK(st_sh("f='%s' && n=$(stat -c %%s \"$f\") && "
		    "printf '\\300\\000' | dd of=\"$f\" bs=1 "
		    "seek=$((n - 8 - 130 + 108)) conv=notrunc 2>/dev/null",
		    f.indexfile) == 0);
	buf_reset(&f.seen.log);
	CHECK(indexer_check(&f.o, f.indexfile) == ERR_CORRUPT);
	CHECK(!strcmp(err_last(), "index check failed: valid entry without "
		      "a hash"));
	CHECK(strstr(f.seen.log.data, "index error! at '/'\n") != NULL);
	fx_close(&f);
}
