/*
 * repo: bup's open checks (missing vs not a repository, DIR/.git),
 * init's layout and config text (FORMAT.md 1.2), and the git-config
 * reader/writer (case rules, subsections, quoting, k/m/g suffixes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "store/repo.h"
#include "unit.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static int is_dir(const char *dir, const char *sub)
{
	char *p = xstrfmt("%s/%s", dir, sub);
	struct stat st;
	int r = !stat(p, &st) && S_ISDIR(st.st_mode);
	free(p);
	return r;
}

UNIT_TEST(repo, open_missing_and_not_a_repo)
{
	const char *t = unit_tmpdir();
	char *missing = xstrfmt("%s/nope", t);
	char *gitdir = xstrfmt("%s/w/.git", t);
	char *w = xstrfmt("%s/w", t);
	struct repo *r = NULL;

	CHECK(repo_open(&r, missing) == ERR_NOTFOUND && !r);
	CHECK(repo_open(&r, t) == ERR_CORRUPT && !r);
	CHECK(mkdir(w, 0777) == 0 && mkdir(gitdir, 0777) == 0);
	/* DIR/.git exists: that is the repository, and it is empty */
	CHECK(repo_open(&r, w) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "/w/.git") != NULL);
	CHECK(repo_init(w) == 0);
	CHECK(is_dir(gitdir, "objects/pack"));
	CHECK(repo_open(&r, w) == 0 && r);
	if (r) {
		CHECK(!strcmp(r->path, gitdir));
		repo_free(r);
	}
	free(missing);
	free(gitdir);
	free(w);
}

UNIT_TEST(repo, init_layout_and_config)
{
	const char *t = unit_tmpdir();
	char *d = xstrfmt("%s/r", t), *cfg = xstrfmt("%s/r/config", t);
	char *head = xstrfmt("%s/r/HEAD", t);
	char *bad = xstrfmt("%s/a/b", t);
	struct repo_init_info info;
	struct buf b = BUF_INIT;
	static const char *const dirs[] = { "refs/heads", "refs/tags",
		"objects/info", "objects/pack", "branches", "hooks", "info" };

	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	CHECK(repo_init_ex(d, &info) == 0);
	CHECK(!info.reinit && info.advise_branch);
	CHECK(info.git_dir && info.git_dir[strlen(info.git_dir) - 1] == '/');
	free(info.git_dir);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		CHECK(is_dir(d, dirs[i]));
	CHECK(buf_read_file(&b, cfg) == 0);
	CHECK(!strcmp(b.data, "[core]\n\trepositoryformatversion = 0\n"
		      "\tfilemode = true\n\tbare = true\n"
		      "\tlogAllRefUpdates = true\n"
		      "[pack]\n\tindexVersion = 2\n"));
	buf_reset(&b);
	CHECK(buf_read_file(&b, head) == 0);
	CHECK(!strcmp(b.data, "ref: refs/heads/master\n"));
	CHECK(repo_init_ex(d, &info) == 0 && info.reinit);
	free(info.git_dir);
	CHECK(repo_init_ex(bad, &info) == ERR_NOTFOUND);
	CHECK(strstr(err_last(), "parent directory") != NULL);
	CHECK(repo_init_ex(cfg, &info) == ERR_EXISTS);
	buf_release(&b);
	free(d);
	free(cfg);
	free(head);
	free(bad);
	unsetenv("GIT_CONFIG_GLOBAL");
}

/*
 * A new repository at d, opened, for the config tests: git's global
 * and system files out of the way until the test unsets the two
 * variables.  NULL (a failed CHECK) if it cannot be made.
 */
static struct repo *config_test_repo(const char *d)
{
	struct repo *r = NULL;

	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	CHECK(repo_init(d) == 0);
	CHECK(repo_open(&r, d) == 0);
	return r;
}

/*
 * git's config rules, each value as `git config --file F --get KEY`
 * 2.39 printed it for this file: sections and subsections, case,
 * quotes, escapes, comments, continuation and CRLF lines, a value
 * longer than any line buffer, the last value winning.
 */
UNIT_TEST(repo, config_git_rules)
{
	const char *t = unit_tmpdir();
	char *d = xstrfmt("%s/r", t), *cfg = xstrfmt("%s/r/config", t);
	struct buf text = BUF_INIT, longv = BUF_INIT;
	struct repo *r = NULL;
	static const struct {
		const char *key, *value;
	} want[] = {
		{ "user.name", "A \"q\" B" },
		{ "USER.Email", "a   b@c" },
		{ "committer.name", "  second  " },
		{ "core.logAllRefUpdates", "true" },   /* a bare name */
		{ "esc.x\"y\\z.v", "tab\there\nnl\bbs" },
		{ "legacy.subsec.k", "v1" },
		{ "sp.v", "a   b    c  " },
	};
	char *v = NULL;

	r = config_test_repo(d);
	if (!r)
		goto out;
	for (int i = 0; i < 5000; i++)
		buf_addch(&longv, 'x');
	buf_addf(&text,
		 "; leading comment\n"
		 "# another\n"
		 "[User]\n"
		 "\tname = \"A \\\"q\\\" B\"  ; trailing\n"
		 "\tEMAIL = a\\\n"
		 "   b@c # comment\n"
		 "[committer]\n"
		 "\tname = first\n"
		 "\tname = \"  second  \"\n"
		 "[core]\n"
		 "\tlogAllRefUpdates\r\n"
		 "[esc \"x\\\"y\\\\z\"]\n"
		 "\tv = tab\\there\\nnl\\bbs\n"
		 "[Legacy.SubSec]\n"
		 "\tk = v1\n"
		 "[long]\n"
		 "\tv = %s\n"
		 "[sp]\n"
		 "\tv =   a   b  \"  c  \"  \n", longv.data);
	write_file(cfg, text.data);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		CHECK(repo_config_get(r, want[i].key, &v) == 0);
		if (!v || strcmp(v, want[i].value))
			unit_fail(__FILE__, __LINE__, "%s: '%s', git: '%s'",
				  want[i].key, v ? v : "(null)",
				  want[i].value);
		free(v);
	}
	CHECK(repo_config_get(r, "long.v", &v) == 0);
	CHECK(v && !strcmp(v, longv.data));
	free(v);
	/* a legacy subsection is lower-cased, a quoted one is not */
	CHECK(repo_config_get(r, "legacy.SubSec.k", &v) == ERR_NOTFOUND);
	free(v);
	/* an unknown escape, an open quote: git refuses the file */
	write_file(cfg, "[a]\n\tv = \\q\n");
	CHECK(repo_config_get(r, "a.v", &v) == ERR_CORRUPT);
	free(v);
	write_file(cfg, "[a]\n\tv = \"open\n");
	CHECK(repo_config_get(r, "a.v", &v) == ERR_CORRUPT);
	free(v);
out:
	repo_free(r);
	buf_release(&text);
	buf_release(&longv);
	free(d);
	free(cfg);
	unsetenv("GIT_CONFIG_GLOBAL");
	unsetenv("GIT_CONFIG_NOSYSTEM");
}

UNIT_TEST(repo, config_read_write)
{
	const char *t = unit_tmpdir();
	char *d = xstrfmt("%s/r", t), *cfg = xstrfmt("%s/r/config", t);
	struct repo *r = NULL;
	struct buf b = BUF_INIT;
	char *v = NULL;
	int64_t n;

	r = config_test_repo(d);
	if (!r)
		goto out;
	write_file(cfg,
		   "# comment\n"
		   "[Pack]\n"
		   "\tpackSizeLimit = 10k ; trailing comment\n"
		   "[remote \"Origin\"]\n"
		   "\turl = \"a b\\\" ;c\" \n"
		   "[section.Sub]\n\tflag\n"
		   "[core]\n\tcompression = 3\n"
		   "[pack]\n\tPACKSIZELIMIT = 2m\n");
	CHECK(repo_config_get_int(r, "pack.packsizelimit", &n) == 0);
	CHECK(n == 2 * 1024 * 1024);
	CHECK(repo_config_get(r, "remote.Origin.url", &v) == 0);
	CHECK(v && !strcmp(v, "a b\" ;c"));
	free(v);
	CHECK(repo_config_get(r, "remote.origin.url", &v) == ERR_NOTFOUND);
	free(v);
	CHECK(repo_config_get(r, "section.sub.flag", &v) == 0);
	CHECK(v && !strcmp(v, "true"));
	free(v);
	CHECK(repo_config_get(r, "remote.Origin.url", &v) == 0);
	free(v);

	{
		enum zlib_impl impl;
		int level;
		/* no cbup.compressor: libdeflate, core.compression's level */
		repo_compression(r, -1, &impl, &level);
		CHECK(impl == ZLIB_IMPL_LIBDEFLATE && level == 3);
	}
	CHECK(repo_config_set(r, "core.compression", "7") == 0);
	CHECK(repo_config_set(r, "cbup.compressor", "zlib") == 0);
	CHECK(repo_config_set(r, "a.B c.d", " x;") == 0);
	CHECK(buf_read_file(&b, cfg) == 0);
	CHECK(strstr(b.data, "[core]\n\tcompression = 7\n") != NULL);
	CHECK(strstr(b.data, "[cbup]\n\tcompressor = zlib\n") != NULL);
	CHECK(strstr(b.data, "[a \"B c\"]\n\td = \" x;\"\n") != NULL);
	CHECK(repo_config_get(r, "a.B c.d", &v) == 0 && v &&
	      !strcmp(v, " x;"));
	free(v);
	{
		enum zlib_impl impl;
		int level;
		repo_compression(r, -1, &impl, &level);
		CHECK(impl == ZLIB_IMPL_ZLIB && level == 7);
		repo_compression(r, 0, &impl, &level);
		CHECK(level == 0);
		CHECK(repo_config_set(r, "cbup.compressor", "ZLib") == 0);
		repo_compression(r, -1, &impl, &level);
		CHECK(impl == ZLIB_IMPL_ZLIB);
		/* anything else is libdeflate */
		CHECK(repo_config_set(r, "cbup.compressor", "other") == 0);
		repo_compression(r, -1, &impl, &level);
		CHECK(impl == ZLIB_IMPL_LIBDEFLATE);
	}
	write_file(cfg, "[core\n");
	CHECK(repo_config_get(r, "core.bare", &v) == ERR_CORRUPT);
	free(v);
	write_file(cfg, "[pack]\n\tpackSizeLimit = 12q\n");
	CHECK(repo_config_get_int(r, "pack.packSizeLimit", &n) ==
	      ERR_CORRUPT);
out:
	repo_free(r);
	buf_release(&b);
	free(d);
	free(cfg);
	unsetenv("GIT_CONFIG_GLOBAL");
	unsetenv("GIT_CONFIG_NOSYSTEM");
}

/* Checks repo_real_path(path, may_create) against the expected result. */
static void check_real(const char *path, int may_create, const char *want)
{
	char unset, *got = &unset;
	int ret = repo_real_path(&got, path, may_create);

	if (!want) {
		CHECK(ret < 0);
		CHECK(got == NULL);
		return;
	}
	CHECK(ret == 0);
	CHECK(got && !strcmp(got, want));
	if (ret || !got || strcmp(got, want))
		fprintf(stderr, "# repo_real_path('%s', %d): '%s', want "
			"'%s' (%s)\n", path, may_create, got ? got : "(null)",
			want, ret ? err_last() : "ok");
	free(got);
}

UNIT_TEST(repo, real_path_symlinks_dotdot_and_missing_parts)
{
	char *t = realpath(unit_tmpdir(), NULL);
	char *root = xstrfmt("%s/root", t), *out = xstrfmt("%s/out", t);
	char *w = xstrfmt("%s/root/w", t), *wgit = xstrfmt("%s/root/w/.git", t);
	char *link = xstrfmt("%s/root/link", t);
	char *p, *want;

	CHECK(!mkdir(root, 0777) && !mkdir(out, 0777) && !mkdir(w, 0777) &&
	      !mkdir(wgit, 0777) && !symlink(out, link));

	/* existing paths: realpath, DIR/.git when there is one */
	p = xstrfmt("%s/root/../out", t);
	check_real(p, 0, out);
	check_real(p, 1, out);
	free(p);
	check_real(link, 0, out);
	check_real(w, 0, wgit);
	p = xstrfmt("%s/root/./w/", t);
	check_real(p, 0, wgit);
	free(p);

	/* missing: an error, or for init the nearest existing ancestor */
	p = xstrfmt("%s/root/new", t);
	check_real(p, 0, NULL);
	check_real(p, 1, p);
	free(p);
	p = xstrfmt("%s/root/link/new/", t);
	want = xstrfmt("%s/new", out);
	check_real(p, 1, want);
	free(p);
	free(want);
	p = xstrfmt("%s/root/a//./b", t);
	want = xstrfmt("%s/a/b", root);
	check_real(p, 1, want);
	free(p);
	free(want);
	p = xstrfmt("%s/root/link/../new", t);
	want = xstrfmt("%s/new", t);    /* the symlink first, then .. */
	check_real(p, 1, want);
	free(p);
	free(want);

	/* ".." below a missing directory could lead anywhere: refused */
	p = xstrfmt("%s/root/nope/../../out", t);
	CHECK(repo_real_path(&want, p, 1) == ERR_USAGE && !want);
	CHECK(strstr(err_last(), "'..' after a directory") != NULL);
	free(p);

	/* relative paths resolve from the working directory */
	{
		char cwd[4096];

		CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
		CHECK(!chdir(root));
		want = xstrfmt("%s/fresh", root);
		check_real("fresh", 1, want);
		free(want);
		check_real("w", 0, wgit);
		CHECK(!chdir(cwd));
	}
	free(t);
	free(root);
	free(out);
	free(w);
	free(wgit);
	free(link);
}
