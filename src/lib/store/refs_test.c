/*
 * refs: loose and packed reading, the lock protocol, compare-and-swap,
 * reflog lines in git's format, listing, deletion, resolve, and bup's
 * valid_save_name.  (t/t2000 compares a reflog with one git writes.)
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "store/refs.h"
#include "store/repo.h"
#include "util/tmpfile.h"
#include "unit.h"

#define A "8352c34c922a8cd55901004dadbddd7ccfbc17ca"
#define B "d549e022e5c253f74ec775831f4a2ef60e33e4f6"
#define P "ea4e129bb6141d7cada3a4f437c6afc2dee1b097"

static void make_repo(struct repo *r)
{
	const char *d = unit_tmpdir();
	char *p;

	memset(r, 0, sizeof(*r));
	r->path = xstrdup(d);
	r->objdir = xstrfmt("%s/objects", d);
	r->packdir = xstrfmt("%s/objects/pack", d);
	p = xstrfmt("%s/refs", d);
	mkdir(p, 0777);
	free(p);
	p = xstrfmt("%s/config", d);
	{
		FILE *f = fopen(p, "w");
		if (f) {
			fputs("[core]\n\tbare = true\n\tlogAllRefUpdates = true\n",
			      f);
			fclose(f);
		}
	}
	free(p);
}

static int write_all_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(text, f) < 0;
	return fclose(f) || ret ? -1 : 0;
}

static void free_repo(struct repo *r)
{
	free(r->path);
	free(r->objdir);
	free(r->packdir);
}


UNIT_TEST(refs, update_read_reflog)
{
	struct repo r;
	struct oid a, b, got;
	struct buf log = BUF_INIT;
	char *p;
	int fd;

	make_repo(&r);
	oid_from_hex(&a, A);
	oid_from_hex(&b, B);
	setenv("GIT_COMMITTER_NAME", "C O Mitter", 1);
	setenv("GIT_COMMITTER_EMAIL", "c@example.com", 1);
	setenv("GIT_COMMITTER_DATE", "@1700000000", 1);
	CHECK(refs_read(&r, "refs/heads/x", &got) == ERR_NOTFOUND);
	CHECK(refs_update(&r, "refs/heads/x", &a, NULL, 0, NULL) == 0);
	CHECK(refs_read(&r, "refs/heads/x", &got) == 0 && oid_eq(&got, &a));
	/* compare-and-swap */
	CHECK(refs_update(&r, "refs/heads/x", &b, NULL, 0, NULL) == ERR_EXISTS);
	CHECK(refs_update(&r, "refs/heads/x", &b, &b, 0, NULL) == ERR_EXISTS);
	CHECK(refs_update(&r, "refs/heads/x", &b, &a, 0, "my  msg\n") == 0);
	CHECK(refs_read(&r, "refs/heads/x", &got) == 0 && oid_eq(&got, &b));
	/* a held lock */
	p = xstrfmt("%s/refs/heads/x.lock", r.path);
	fd = open(p, O_CREAT | O_WRONLY, 0666);
	close(fd);
	CHECK(refs_update(&r, "refs/heads/x", &a, &b, 0, NULL) == ERR_LOCKED);
	CHECK(strstr(err_last(), "File exists."));
	unlink(p);
	free(p);
	p = xstrfmt("%s/logs/refs/heads/x", r.path);
	CHECK(buf_read_file(&log, p) == 0);
	CHECK(!strcmp(log.data,
		      "0000000000000000000000000000000000000000 " A
		      " C O Mitter <c@example.com> 1700000000 +0000\n"
		      A " " B " C O Mitter <c@example.com> 1700000000 +0000"
		      "\tmy msg\n"));
	free(p);
	buf_release(&log);
	unsetenv("GIT_COMMITTER_NAME");
	unsetenv("GIT_COMMITTER_EMAIL");
	unsetenv("GIT_COMMITTER_DATE");
	free_repo(&r);
}

/* The reflog ident comes from git's config rules (repo_config_get()). */
UNIT_TEST(refs, reflog_ident_from_config)
{
	struct repo r;
	struct oid a;
	struct buf cfg = BUF_INIT, log = BUF_INIT;
	char *p;

	make_repo(&r);
	oid_from_hex(&a, A);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_COMMITTER_DATE", "@1700000000", 1);
	unsetenv("GIT_COMMITTER_NAME");
	unsetenv("GIT_COMMITTER_EMAIL");
	buf_addstr(&cfg, "[Core]\n\tLogAllRefUpdates\n[x]\n\tlong = ");
	/* longer than any line buffer: no key hides in its tail */
	for (int i = 0; i < 5000; i++)
		buf_addch(&cfg, i % 100 ? 'n' : '=');
	buf_addstr(&cfg, "\n[user]\n\tname = \"Q \\\"U\\\" \\\n"
		   "Ser\" ; comment\n\temail = u@example.com\n"
		   "[committer \"sub\"]\n\tname = not this\n");
	p = xstrfmt("%s/config", r.path);
	CHECK(write_all_file(p, cfg.data) == 0);
	free(p);
	CHECK(refs_update(&r, "refs/heads/y", &a, NULL, 0, NULL) == 0);
	p = xstrfmt("%s/logs/refs/heads/y", r.path);
	CHECK(buf_read_file(&log, p) == 0);
	CHECK(!strcmp(log.data,
		      "0000000000000000000000000000000000000000 " A
		      " Q \"U\" Ser <u@example.com> 1700000000 +0000\n"));
	free(p);
	buf_release(&log);
	buf_release(&cfg);
	unsetenv("GIT_CONFIG_GLOBAL");
	unsetenv("GIT_CONFIG_NOSYSTEM");
	unsetenv("GIT_COMMITTER_DATE");
	free_repo(&r);
}

/* Whether refs/heads/ holds any "*.lock" name. */
static int any_lock_file(const struct repo *r)
{
	char *dir = xstrfmt("%s/refs/heads", r->path);
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		found |= n > 5 && !strcmp(de->d_name + n - 5, ".lock");
	}
	if (d)
		closedir(d);
	free(dir);
	return found;
}

UNIT_TEST(refs, lock_owners_live_dead_unknown)
{
	struct repo r;
	struct oid a, b, got;
	char *lock, *prefix, *owner = NULL;
	int ofd, held;

	make_repo(&r);
	oid_from_hex(&a, A);
	oid_from_hex(&b, B);
	CHECK(refs_update(&r, "refs/heads/y", &a, NULL, 0, NULL) == 0);
	CHECK(!any_lock_file(&r));
	/* a cbup holding the lock: its owner file, flocked, linked */
	lock = xstrfmt("%s/refs/heads/y.lock", r.path);
	prefix = xstrfmt("%s/refs/heads/y.lock~", r.path);
	ofd = tmpfile_create(prefix, ".lock", 0666, &owner);
	CHECK(ofd >= 0);
	CHECK(link(owner, lock) == 0);
	CHECK(refs_update(&r, "refs/heads/y", &b, &a, 0, NULL) == ERR_LOCKED);
	CHECK(strstr(err_last(), "File exists.\n\nAnother cbup process"));
	CHECK(refs_read(&r, "refs/heads/y", &got) == 0 && oid_eq(&got, &a));
	/* ... and dead: its lock and owner file go, the update is done */
	close(ofd);
	CHECK(refs_update(&r, "refs/heads/y", &b, &a, 0, NULL) == 0);
	CHECK(refs_read(&r, "refs/heads/y", &got) == 0 && oid_eq(&got, &b));
	CHECK(!any_lock_file(&r));
	/* a lock no cbup owns (git's, bup's): left, with what to do */
	held = open(lock, O_CREAT | O_WRONLY, 0666);
	CHECK(held >= 0);
	if (held >= 0)
		close(held);
	CHECK(refs_update(&r, "refs/heads/y", &a, &b, 0, NULL) == ERR_LOCKED);
	CHECK(strstr(err_last(), "remove '") && strstr(err_last(), lock));
	CHECK(refs_delete(&r, "refs/heads/y", &b) == ERR_LOCKED);
	CHECK(!access(lock, F_OK));
	unlink(lock);
	CHECK(refs_delete(&r, "refs/heads/y", &b) == 0);
	CHECK(!any_lock_file(&r));
	free(owner);
	free(prefix);
	free(lock);
	free_repo(&r);
}

UNIT_TEST(refs, packed_list_delete)
{
	struct repo r;
	struct oid a, b, got;
	struct refs_list s = REFS_LIST_INIT;
	char *p;
	FILE *f;

	make_repo(&r);
	oid_from_hex(&a, A);
	oid_from_hex(&b, B);
	p = xstrfmt("%s/packed-refs", r.path);
	f = fopen(p, "w");
	fputs("# pack-refs with: peeled fully-peeled sorted \n"
	      A " refs/heads/p\n" B " refs/heads/z\n" A " refs/tags/t\n^" B
	      "\n", f);
	fclose(f);
	free(p);
	CHECK(refs_read(&r, "refs/heads/p", &got) == 0 && oid_eq(&got, &a));
	CHECK(refs_read(&r, "refs/tags/t", &got) == 0 && oid_eq(&got, &a));
	/* loose overrides packed */
	CHECK(refs_update(&r, "refs/heads/z", &a, &b, 0, NULL) == 0);
	CHECK(refs_update(&r, "refs/heads/a/b", &b, NULL, 0, NULL) == 0);
	CHECK(refs_for_each(&r, "refs/heads/", refs_collect, &s) == 0);
	CHECK(s.nr == 3);
	if (s.nr == 3) {
		CHECK(!strcmp(s.items[0].name, "refs/heads/a/b") &&
		      oid_eq(&s.items[0].oid, &b));
		CHECK(!strcmp(s.items[1].name, "refs/heads/p") &&
		      oid_eq(&s.items[1].oid, &a));
		CHECK(!strcmp(s.items[2].name, "refs/heads/z") &&
		      oid_eq(&s.items[2].oid, &a));
	}
	refs_list_release(&s);
	CHECK(s.nr == 0 && !s.items);
	CHECK(refs_read(&r, "refs/heads/z", &got) == 0 && oid_eq(&got, &a));
	/* resolve: names, full refs, hex */
	CHECK(refs_resolve(&r, "p", &got) == 0 && oid_eq(&got, &a));
	CHECK(refs_resolve(&r, "t", &got) == 0 && oid_eq(&got, &a));
	CHECK(refs_resolve(&r, "refs/heads/a/b", &got) == 0 &&
	      oid_eq(&got, &b));
	CHECK(refs_resolve(&r, P, &got) == 0);
	CHECK_OID(got.hash, P);
	CHECK(refs_resolve(&r, "nope", &got) == ERR_NOTFOUND);
	/* delete a packed ref, with and without the old value */
	CHECK(refs_delete(&r, "refs/heads/p", &b) == ERR_EXISTS);
	CHECK(refs_delete(&r, "refs/heads/p", &a) == 0);
	CHECK(refs_read(&r, "refs/heads/p", &got) == ERR_NOTFOUND);
	CHECK(refs_read(&r, "refs/tags/t", &got) == 0);
	CHECK(refs_delete(&r, "refs/heads/z", NULL) == 0);
	/* the packed value of z is gone too */
	CHECK(refs_read(&r, "refs/heads/z", &got) == ERR_NOTFOUND);
	free_repo(&r);
}

UNIT_TEST(refs, valid_save_name)
{
	static const char *good[] = { "x", "a/b", "a.b", "foo-bar", "é",
				      "a@b", "a.lockx" };
	static const char *bad[] = { "@", "/a", "a/", "a.", "a b", "a~",
				     "a^", "a:", "a?", "a*", "a[", "a\\b",
				     "a..b", "a//b", "a@{", "a\x01",
				     "a\x7f", ".a", "a/.b", "a.lock",
				     "a/b.lock/c", "" };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (!refs_valid_save_name(good[i]))
			unit_fail(__FILE__, __LINE__, "'%s' rejected", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (refs_valid_save_name(bad[i]))
			unit_fail(__FILE__, __LINE__, "'%s' accepted", bad[i]);
}

/*
 * Many refs, loose and packed, half of the names in both: listed once
 * each, sorted, the loose value winning; a prefix that is not a
 * directory ("refs/tags/v1") still filters packed and loose names.
 */
UNIT_TEST(refs, many_loose_and_packed)
{
	enum { N = 2000 };
	struct repo r;
	struct oid a, b;
	struct refs_list s = REFS_LIST_INIT;
	struct buf pk = BUF_INIT;
	char *p;
	FILE *f;
	int bad = 0;

	make_repo(&r);
	oid_from_hex(&a, A);
	oid_from_hex(&b, B);
	/* packed: even i and every i below N / 2; loose: odd i */
	buf_addstr(&pk, "# pack-refs with: peeled fully-peeled sorted \n");
	for (int i = 0; i < N; i++)
		if (!(i & 1) || i < N / 2)
			buf_addf(&pk, A " refs/tags/v%04d\n", i);
	p = xstrfmt("%s/packed-refs", r.path);
	f = fopen(p, "w");
	CHECK(f && fwrite(pk.data, 1, pk.len, f) == pk.len);
	if (f)
		fclose(f);
	for (int i = 1; i < N; i += 2) {
		char *name = xstrfmt("refs/tags/v%04d", i);

		CHECK(refs_update(&r, name, &b, NULL, 1, NULL) == 0);
		free(name);
	}
	CHECK(refs_for_each(&r, "refs/tags/", refs_collect, &s) == 0);
	CHECK(s.nr == N);
	for (size_t i = 0; i < s.nr && i < N && bad < 5; i++) {
		char want[32];

		snprintf(want, sizeof(want), "refs/tags/v%04zu", i);
		if (strcmp(s.items[i].name, want) ||
		    !oid_eq(&s.items[i].oid, i & 1 ? &b : &a)) {
			unit_fail(__FILE__, __LINE__, "item %zu: %s %s", i,
				  s.items[i].name, oid_hex(&s.items[i].oid));
			bad++;
		}
	}
	refs_list_release(&s);
	CHECK(refs_for_each(&r, "refs/tags/v1", refs_collect, &s) == 0);
	CHECK(s.nr == 1000);
	if (s.nr == 1000)
		CHECK(!strcmp(s.items[0].name, "refs/tags/v1000") &&
		      !strcmp(s.items[999].name, "refs/tags/v1999"));
	refs_list_release(&s);
	buf_release(&pk);
	free(p);
	free_repo(&r);
}
