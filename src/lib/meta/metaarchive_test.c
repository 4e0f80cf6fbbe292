/*
 * metaarchive: the archive path rules against values bup 0.33.7's
 * metadata.py gives, the reader over objects split across reads (an
 * empty object, a truncated one), and an extraction into a scratch
 * directory: files and directories made with their modes, directory
 * modes applied last, a risky path skipped with bup's warning, and a
 * symlink planted where a directory goes not followed.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/meta.h"
#include "meta/metaarchive.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/util.h"

UNIT_TEST(metaarchive, clean_path)
{
	/* (input, _clean_up_path_for_archive(input)) */
	static const char *const v[][2] = {
		{ "a/b", "a/b" }, { "/a/b", "a/b" }, { "//a//b", "a/b" },
		{ "./a", "a" }, { "a/./b", "a/b" }, { "a/.", "a" },
		{ "../a", "a" }, { "x/../a", "a" }, { "x/../../y/../b", "b" },
		{ "", "." }, { "/", "." }, { "a/..", "." }, { ".", "." },
		{ "a/b/", "a/b/" },
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		metaarchive_clean_path(&b, v[i][0]);
		if (strcmp(b.data, v[i][1]))
			unit_fail(__FILE__, __LINE__, "'%s' -> '%s', want '%s'",
				  v[i][0], b.data, v[i][1]);
	}
	buf_release(&b);
}

UNIT_TEST(metaarchive, clean_extract_path)
{
	static const char *const ok[][2] = {
		{ "a/b", "a/b" }, { "/a", "a" }, { "///", "." }, { "", "." },
		{ "a/..b", "a/..b" },
	};
	/* ".." alone is bup's hole (it applies to the parent): refused */
	static const char *const risky[] = {
		"../a", "a/../b", "a/..", "..", "/..",
	};
	struct buf in = BUF_INIT, out = BUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		buf_reset(&in);
		buf_addstr(&in, ok[i][0]);
		CHECK(metaarchive_clean_extract_path(&out, &in) == 0);
		CHECK(!strcmp(out.data, ok[i][1]));
	}
	for (size_t i = 0; i < ARRAY_SIZE(risky); i++) {
		buf_reset(&in);
		buf_addstr(&in, risky[i]);
		CHECK(metaarchive_clean_extract_path(&out, &in) == -1);
	}
	buf_release(&in);
	buf_release(&out);
}

/* An archive object: path, mode (and a symlink target for links). */
static void add_obj(struct buf *ar, const char *path, int64_t mode,
		    const char *target)
{
	struct meta m;

	meta_init(&m);
	m.mode = mode;
	m.uid = getuid();
	m.gid = getgid();
	m.mtime.sec = 1600000000;
	m.atime.sec = 1600000000;
	buf_addstr(&m.path, path);
	if (target)
		buf_addstr(&m.symlink_target, target);
	meta_encode(ar, &m, 1);
	meta_release(&m);
}

/* (unit_tmpdir() makes a new directory each call: once per test) */
static char *write_archive(const char *dir, const char *name,
			   const struct buf *ar)
{
	char *p = xstrfmt("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0 && write_full(fd, ar->data, ar->len) == 0);
	close(fd);
	return p;
}

UNIT_TEST(metaarchive, reader)
{
	const char *dir = unit_tmpdir();
	struct buf ar = BUF_INIT;
	struct metaarchive_reader r;
	struct meta m;
	char *p;
	/* a path long enough that the object spans several reads */
	char *longp = xmalloc(200001);

	memset(longp, 'x', 200000);
	longp[200000] = '\0';
	add_obj(&ar, "one", S_IFREG | 0644, NULL);
	add_obj(&ar, longp, S_IFREG | 0600, NULL);
	buf_addch(&ar, '\0');           /* bup's empty object */
	add_obj(&ar, "last", S_IFDIR | 0755, NULL);
	p = write_archive(dir, "reader.meta", &ar);
	meta_init(&m);
	CHECK(metaarchive_open(&r, p) == 0);
	CHECK(metaarchive_next(&r, &m) == 1 && !strcmp(m.path.data, "one"));
	CHECK(metaarchive_next(&r, &m) == 1 && m.path.len == 200000);
	CHECK(metaarchive_next(&r, &m) == 2);
	CHECK(metaarchive_next(&r, &m) == 1 && m.mode == (S_IFDIR | 0755));
	CHECK(metaarchive_next(&r, &m) == 0);
	metaarchive_close(&r);
	free(p);
	/* cut inside the last object: an error naming the archive */
	buf_setlen(&ar, ar.len - 3);
	p = write_archive(dir, "cut.meta", &ar);
	CHECK(metaarchive_open(&r, p) == 0);
	CHECK(metaarchive_next(&r, &m) == 1);
	CHECK(metaarchive_next(&r, &m) == 1);
	CHECK(metaarchive_next(&r, &m) == 2);
	CHECK(metaarchive_next(&r, &m) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "EOF while reading Metadata from") != NULL);
	CHECK(strstr(err_last(), "cut.meta") != NULL);
	metaarchive_close(&r);
	free(p);
	CHECK(metaarchive_open(&r, "/nonexistent/x.meta") < 0);
	CHECK(strstr(err_last(), "/nonexistent/x.meta") != NULL);
	meta_release(&m);
	buf_release(&ar);
	free(longp);
}

struct seen {
	struct buf lines, warnings;
};

static void on_log(void *ctx, const char *prefix, const char *path)
{
	buf_addf(&((struct seen *)ctx)->lines, "%s%s\n", prefix, path);
}

static void on_warn(void *ctx, const char *msg)
{
	buf_addf(&((struct seen *)ctx)->warnings, "%s\n", msg);
}

UNIT_TEST(metaarchive, extract)
{
	const char *tmp = unit_tmpdir();
	char *dest = xstrfmt("%s/dest", tmp), *outside = xstrfmt("%s/out", tmp);
	struct metaarchive_extract_opts o = { 0 };
	struct seen seen = { BUF_INIT, BUF_INIT };
	struct metaarchive_reader r;
	struct buf ar = BUF_INIT;
	struct stat st;
	char *p;
	int cwd = open(".", O_RDONLY | O_DIRECTORY);

	add_obj(&ar, "d/", S_IFDIR | 0750, NULL);
	add_obj(&ar, "d/f", S_IFREG | 0604, NULL);
	add_obj(&ar, "d/l", S_IFLNK | 0777, "f");
	add_obj(&ar, "../escape", S_IFREG | 0644, NULL);
	add_obj(&ar, "s/inner", S_IFREG | 0644, NULL);
	p = write_archive(tmp, "x.meta", &ar);
	CHECK(p != NULL && st_sh("mkdir -p '%s' '%s' && ln -s '%s' '%s/s'", dest, outside,
		    outside, dest) == 0);
	CHECK(cwd >= 0 && chdir(dest) == 0);
	CHECK(metaarchive_open(&r, p) == 0);
	o.mode = METAARCHIVE_BOTH;
	o.verbose = 1;
	o.symlinks = 1;
	o.log = on_log;
	o.warn = on_warn;
	o.ctx = &seen;
	/* the planted symlink "s" stops the extraction there */
	CHECK(metaarchive_extract(&r, &o) < 0);
	CHECK(strstr(err_last(), "'s' is a symlink: not following it"));
	metaarchive_close(&r);
	free(p);
	CHECK(fchdir(cwd) == 0);
	close(cwd);
	CHECK(st_sh("test ! -e '%s/inner' && test ! -e '%s/../escape'",
		    outside, dest) == 0);
	CHECK(strstr(seen.warnings.data, "skipping risky path \"../escape\""));
	CHECK(strstr(seen.lines.data, "+ d/\n+ d/f\n= d/f\n+ d/l\n= d/l\n"));
	p = xstrfmt("%s/d/f", dest);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0604);
	free(p);
	p = xstrfmt("%s/d/l", dest);
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	free(p);
	buf_release(&seen.lines);
	buf_release(&seen.warnings);
	buf_release(&ar);
	free(dest);
	free(outside);
}
