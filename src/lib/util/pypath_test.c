/*
 * Tests for pypath.c against what Python itself answers:
 * t/vectors/python/pypath.txt, written by t/vectors/gen-pypath.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/pypath.h"

/* A hex field ("-" for empty) into out. */
static int unhex(struct buf *out, const char *hex)
{
	buf_reset(out);
	if (!strcmp(hex, "-"))
		return 0;
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;
		if (sscanf(hex, "%2x", &v) != 1)
			return -1;
		buf_addch(out, (int)v);
	}
	return *hex ? -1 : 0;
}

/* "@" in s replaced by root. */
static void subst_root(struct buf *out, const char *s, const char *root)
{
	buf_reset(out);
	for (; *s; s++) {
		if (*s == '@')
			buf_addstr(out, root);
		else
			buf_addch(out, *s);
	}
}

struct vec {
	char kind[32];
	char *f[4];
	int nr;
};

static int next_vec(FILE *f, char *line, size_t size, struct vec *v)
{
	while (fgets(line, (int)size, f)) {
		char *save = NULL, *t;

		line[strcspn(line, "\n")] = '\0';
		if (!*line || *line == '#')
			continue;
		t = strtok_r(line, " ", &save);
		snprintf(v->kind, sizeof(v->kind), "%s", t);
		for (v->nr = 0; v->nr < 4 &&
		     (t = strtok_r(NULL, " ", &save)); v->nr++)
			v->f[v->nr] = t;
		return 1;
	}
	return 0;
}

static FILE *open_vectors(void)
{
	FILE *f = fopen(unit_vector("python/pypath.txt"), "r");

	CHECK(f != NULL);
	return f;
}

UNIT_TEST(pypath, text_vectors)
{
	FILE *f = open_vectors();
	struct buf in = BUF_INIT, want = BUF_INIT, want2 = BUF_INIT,
		   got = BUF_INIT;
	char line[4096];
	struct vec v;
	int nr = 0;

	if (!f)
		return;
	while (next_vec(f, line, sizeof(line), &v)) {
		if (!strcmp(v.kind, "normpath") && v.nr == 2) {
			CHECK(!unhex(&in, v.f[0]) && !unhex(&want, v.f[1]));
			buf_reset(&got);
			buf_addstr(&got, "kept:");
			pypath_normpath(&got, in.data);
			CHECK(!strncmp(got.data, "kept:", 5));
			if (strcmp(got.data + 5, want.data))
				unit_fail(__FILE__, __LINE__, "normpath('%s') "
					  "= '%s', Python: '%s'", in.data,
					  got.data + 5, want.data);
		} else if (!strcmp(v.kind, "split") && v.nr == 3) {
			size_t hl, to;
			CHECK(!unhex(&in, v.f[0]) && !unhex(&want, v.f[1]) &&
			      !unhex(&want2, v.f[2]));
			pypath_split(in.data, in.len, &hl, &to);
			CHECK(hl == want.len &&
			      !memcmp(in.data, want.data, hl));
			CHECK(!strcmp(in.data + to, want2.data));
		} else if (!strcmp(v.kind, "bytes_repr") && v.nr == 2) {
			CHECK(!unhex(&in, v.f[0]) && !unhex(&want, v.f[1]));
			buf_reset(&got);
			pypath_bytes_repr(&got, in.data, in.len);
			if (strcmp(got.data, want.data))
				unit_fail(__FILE__, __LINE__, "bytes repr %s: "
					  "%s, Python: %s", v.f[0], got.data,
					  want.data);
		} else if (!strcmp(v.kind, "str_repr") && v.nr == 2) {
			CHECK(!unhex(&in, v.f[0]) && !unhex(&want, v.f[1]));
			buf_reset(&got);
			pypath_str_repr(&got, in.data);
			if (strcmp(got.data, want.data))
				unit_fail(__FILE__, __LINE__, "str repr %s: "
					  "%s, Python: %s", v.f[0], got.data,
					  want.data);
		} else if (!strcmp(v.kind, "path_msg") && v.nr == 2) {
			CHECK(!unhex(&in, v.f[0]) && !unhex(&want, v.f[1]));
			buf_reset(&got);
			/* (a C string: the case with a NUL stops there) */
			pypath_path_msg(&got, in.data);
			if (strlen(in.data) == in.len &&
			    strcmp(got.data, want.data))
				unit_fail(__FILE__, __LINE__, "path_msg %s: "
					  "%s, Python: %s", v.f[0], got.data,
					  want.data);
		} else if (!strcmp(v.kind, "oserror") && v.nr == 4) {
			CHECK(!unhex(&in, v.f[2]) && !unhex(&want, v.f[3]));
			buf_reset(&got);
			pypath_oserror(&got, (int)strtol(v.f[0], NULL, 10),
				       in.data, v.f[1][0] == '1');
			CHECK(!strcmp(got.data, want.data));
		} else {
			continue;
		}
		nr++;
	}
	/* every kind of line was there */
	CHECK(nr > 110);
	fclose(f);
	buf_release(&in);
	buf_release(&want);
	buf_release(&want2);
	buf_release(&got);
}

/* abspath and realpath in a directory holding the vectors' tree. */
UNIT_TEST(pypath, fs_vectors)
{
	FILE *f = open_vectors();
	struct buf in = BUF_INIT, want = BUF_INIT, got = BUF_INIT,
		   tmp = BUF_INIT, path = BUF_INIT;
	char *root = realpath(unit_tmpdir(), NULL);
	char line[4096];
	struct vec v;
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), nr = 0;

	CHECK(root != NULL && cwd >= 0);
	if (!f || !root || cwd < 0)
		goto out;
	while (next_vec(f, line, sizeof(line), &v)) {
		int is_abs = !strcmp(v.kind, "abspath");
		int is_rp = !strcmp(v.kind, "resolve_parent");

		if (!strcmp(v.kind, "tree") && v.nr == 3) {
			CHECK(!unhex(&tmp, v.f[1]));
			buf_reset(&path);
			buf_addf(&path, "%s/%s", root, tmp.data);
			CHECK(!unhex(&tmp, v.f[2]));
			if (!strcmp(v.f[0], "dir")) {
				CHECK(!mkdir(path.data, 0777));
			} else if (!strcmp(v.f[0], "file")) {
				int fd = creat(path.data, 0666);
				CHECK(fd >= 0);
				close(fd);
			} else {
				subst_root(&want, tmp.data, root);
				CHECK(!symlink(want.data, path.data));
			}
			continue;
		}
		if ((!is_abs && !is_rp && strcmp(v.kind, "realpath")) ||
		    v.nr != 2)
			continue;
		CHECK(!chdir(root));
		CHECK(!unhex(&tmp, v.f[0]));
		subst_root(&in, tmp.data, root);
		CHECK(!unhex(&tmp, v.f[1]));
		subst_root(&want, tmp.data, root);
		buf_reset(&got);
		CHECK((is_abs ? pypath_abspath(&got, in.data) :
		       is_rp ? pypath_resolve_parent(&got, in.data) :
			       pypath_realpath(&got, in.data)) == 0);
		if (strcmp(got.data, want.data))
			unit_fail(__FILE__, __LINE__, "%s('%s') = '%s', "
				  "Python: '%s'", v.kind, in.data, got.data,
				  want.data);
		nr++;
	}
	CHECK(nr > 35);
out:
	if (cwd >= 0) {
		CHECK(!fchdir(cwd));
		close(cwd);
	}
	if (f)
		fclose(f);
	free(root);
	buf_release(&in);
	buf_release(&want);
	buf_release(&got);
	buf_release(&tmp);
	buf_release(&path);
}

/* appending, never resetting: callers build messages around them */
UNIT_TEST(pypath, appends)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, "x=");
	pypath_normpath(&b, "a/../..");
	buf_addch(&b, ' ');
	pypath_bytes_repr(&b, "a\0b", 3);
	buf_addch(&b, ' ');
	pypath_oserror(&b, ENOENT, NULL, 1);
	CHECK(!strcmp(b.data, "x=.. b'a\\x00b' [Errno 2] No such file or "
		      "directory"));
	buf_release(&b);
}

UNIT_TEST(pypath, parse_int)
{
	static const struct {
		const char *s;
		int64_t v;
	} good[] = {
		{ "0", 0 }, { "42", 42 }, { " 7\n", 7 }, { "+5", 5 },
		{ "-12", -12 }, { "1_000", 1000 }, { "007", 7 }, { "-0", 0 },
		{ "9223372036854775807", INT64_MAX },
		{ "-9223372036854775808", INT64_MIN },
	};
	static const char *const bad[] = {
		"", " ", "-", "1_", "_1", "1__0", "1.5", "0x10", "1e3", "abc",
		"5x", "--5", "+-5", "9223372036854775808",
		"-9223372036854775809",
	};
	int64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		v = -99;
		CHECK(pypath_parse_int(good[i].s, &v) == 0);
		CHECK(v == good[i].v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(pypath_parse_int(bad[i], &v) == ERR_USAGE);
}
