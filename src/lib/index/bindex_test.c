/* Unit tests for bindex.c against testvectors/index (FORMAT.md 8.1-8.3). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index/bindex.h"
#include "util/buf.h"
#include "util/err.h"
#include "unit.h"

static int load(struct buf *b, const char *rel)
{
	buf_reset(b);
	if (buf_read_file(b, unit_vector(rel)) < 0) {
		unit_fail(__FILE__, __LINE__, "cannot read %s", rel);
		return -1;
	}
	return 0;
}

static void hex12(char *out, const unsigned char *sha)
{
	for (int i = 0; i < 6; i++)
		snprintf(out + 2 * i, 3, "%02x", sha[i]);
}

UNIT_TEST(bindex, vector_every_field)
{
	struct buf b = BUF_INIT, dump = BUF_INIT;
	struct bindex ix;
	char *line, *save = NULL;
	size_t pos = BINDEX_HDRLEN;
	int n = 0;

	if (load(&b, "index/bupindex") || load(&dump, "index/bupindex.dump.txt"))
		goto out;
	CHECK(bindex_parse(&ix, b.data, b.len) == 0);
	CHECK(ix.count == 25);
	CHECK(strstr(dump.data, "footer count 25") != NULL);
	for (line = strtok_r(dump.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long ofs, dev, ino, nlink, size, cofs, mofs;
		long long cs, ms, as;
		unsigned long long cns, mns, ans;
		unsigned mode, gitmode, flags, cn;
		char name[64], sha[13], got[13];
		struct bindex_ent e;
		const char *eon;

		if (line[0] != '@')
			continue;
		if (sscanf(line, "@%llu b'%63[^']' dev=%llu ino=%llu nlink=%llu "
			   "c=%lld.%llu m=%lld.%llu a=%lld.%llu size=%llu "
			   "mode=%o gitmode=%o sha=%12s flags=%x "
			   "children_ofs=%llu n=%u meta_ofs=%llu",
			   &ofs, name, &dev, &ino, &nlink, &cs, &cns, &ms, &mns,
			   &as, &ans, &size, &mode, &gitmode, sha, &flags,
			   &cofs, &cn, &mofs) != 19) {
			unit_fail(__FILE__, __LINE__, "bad dump line %s", line);
			continue;
		}
		n++;
		CHECK(ofs == pos);
		eon = memchr(b.data + pos, 0, b.len - pos);
		CHECK(eon != NULL);
		if (!eon)
			break;
		CHECK((size_t)(eon - (b.data + pos)) == strlen(name));
		CHECK(!memcmp(b.data + pos, name, strlen(name)));
		bindex_ent_unpack(&e, (const unsigned char *)eon + 1);
		CHECK(e.dev == dev && e.ino == ino && e.nlink == nlink);
		CHECK(e.ctime_s == cs && e.ctime_ns == cns);
		CHECK(e.mtime_s == ms && e.mtime_ns == mns);
		CHECK(e.atime_s == as && e.atime_ns == ans);
		CHECK(e.size == size && e.mode == mode && e.gitmode == gitmode);
		hex12(got, e.sha);
		CHECK(!strcmp(got, sha));
		CHECK(e.flags == flags && e.children_ofs == cofs &&
		      e.children_n == cn && e.meta_ofs == mofs);
		/* pack is the exact inverse */
		{
			unsigned char p[BINDEX_ENTLEN];
			bindex_ent_pack(p, &e);
			CHECK_MEM(p, eon + 1, BINDEX_ENTLEN);
		}
		pos = (size_t)(eon - b.data) + 1 + BINDEX_ENTLEN;
	}
	CHECK(n == 25);
	CHECK(pos == b.len - BINDEX_FOOTLEN);
out:
	buf_release(&b);
	buf_release(&dump);
}

static const char *const vector_order[] = {
	"/tv/data/z.bup", "/tv/data/y.bup", "/tv/data/x.bupl",
	"/tv/data/sock", "/tv/data/link", "/tv/data/hello.txt",
	"/tv/data/h2", "/tv/data/h1", "/tv/data/foo/inner", "/tv/data/foo/",
	"/tv/data/foo.txt", "/tv/data/foo-bar", "/tv/data/fifo",
	"/tv/data/exe.sh", "/tv/data/emptydir/", "/tv/data/empty",
	"/tv/data/d.bup/f", "/tv/data/d.bup/", "/tv/data/chardev",
	"/tv/data/big.txt", "/tv/data/big-x", "/tv/data/big", "/tv/data/",
	"/tv/", "/",
};

UNIT_TEST(bindex, vector_iteration_order)
{
	struct buf b = BUF_INIT;
	struct bindex ix;
	struct bindex_iter it;
	size_t i = 0;
	int r;

	if (load(&b, "index/bupindex"))
		goto out;
	CHECK(bindex_parse(&ix, b.data, b.len) == 0);
	bindex_iter_init(&it, &ix, NULL);
	while ((r = bindex_iter_next(&it)) > 0) {
		CHECK(i < ARRAY_SIZE(vector_order));
		if (i < ARRAY_SIZE(vector_order) &&
		    strcmp(it.name.data, vector_order[i]))
			unit_fail(__FILE__, __LINE__, "entry %zu: %s != %s", i,
				  it.name.data, vector_order[i]);
		i++;
	}
	CHECK(r == 0 && i == ARRAY_SIZE(vector_order));
	bindex_iter_release(&it);

	/* bup's iter(name=...): the subtree and the name itself. */
	bindex_iter_init(&it, &ix, "/tv/data/foo");
	i = 0;
	while ((r = bindex_iter_next(&it)) > 0) {
		CHECK(i < 2);
		if (i == 0)
			CHECK(!strcmp(it.name.data, "/tv/data/foo/inner"));
		if (i == 1)
			CHECK(!strcmp(it.name.data, "/tv/data/foo/"));
		i++;
	}
	CHECK(r == 0 && i == 2);
	bindex_iter_release(&it);

	CHECK(bindex_find(&it, &ix, "/tv/data/h1") == 1);
	CHECK(it.e.ino == 16171030 && it.e.nlink == 2);
	bindex_iter_release(&it);
	CHECK(bindex_find(&it, &ix, "/tv/data/nope") == 0);
	bindex_iter_release(&it);
out:
	buf_release(&b);
}

/* Re-add entries in iteration order: identical bytes. */
static void rewrite(const struct buf *orig, int skip_fake)
{
	struct bindex ix;
	struct bindex_iter it;
	struct bindex_writer *w;
	struct buf out = BUF_INIT;
	int r;

	CHECK(bindex_parse(&ix, orig->data, orig->len) == 0);
	CHECK(bindex_writer_new_buf(&w, &out, 33) == 0);
	bindex_iter_init(&it, &ix, NULL);
	while ((r = bindex_iter_next(&it)) > 0) {
		struct bindex_ent e = it.e;
		if (skip_fake && bindex_ent_is_fake(&e))
			continue;
		e.children_ofs = 12345;  /* the writer recomputes these */
		e.children_n = 7;
		CHECK(bindex_writer_add(w, it.name.data, it.name.len, &e) == 0);
	}
	CHECK(r == 0);
	bindex_iter_release(&it);
	CHECK(bindex_writer_commit(w) == 0);
	CHECK(bindex_writer_count(w) == 25);
	CHECK(out.len == orig->len);
	if (out.len == orig->len)
		CHECK_MEM(out.data, orig->data, out.len);
	bindex_writer_free(w);
	buf_release(&out);
}

UNIT_TEST(bindex, writer_identical_bytes)
{
	struct buf b = BUF_INIT;

	if (load(&b, "index/bupindex"))
		goto out;
	rewrite(&b, 0);
	/* Leaving out tv/ and / makes the writer create the same blanks. */
	rewrite(&b, 1);
out:
	buf_release(&b);
}

UNIT_TEST(bindex, writer_rejects_order_and_empty)
{
	struct bindex_writer *w;
	struct buf out = BUF_INIT;
	struct bindex_ent e;
	struct bindex ix;

	memset(&e, 0, sizeof(e));
	e.ctime_s = 1;
	CHECK(bindex_writer_new_buf(&w, &out, 0) == 0);
	CHECK(bindex_writer_commit(w) == 0);
	CHECK(out.len == 16 && bindex_writer_count(w) == 0);
	CHECK(bindex_parse(&ix, out.data, out.len) == 0 && ix.map == NULL);
	bindex_writer_free(w);

	buf_reset(&out);
	CHECK(bindex_writer_new_buf(&w, &out, 0) == 0);
	CHECK(bindex_writer_add(w, "/b", 2, &e) == 0);
	CHECK(bindex_writer_add(w, "/c", 2, &e) == ERR_USAGE);
	CHECK(bindex_writer_add(w, "/b", 2, &e) == ERR_USAGE);
	CHECK(bindex_writer_add(w, "/a/", 3, &e) == 0);
	CHECK(bindex_writer_commit(w) == 0);
	CHECK(bindex_writer_count(w) == 3);
	CHECK(bindex_parse(&ix, out.data, out.len) == 0);
	CHECK(ix.count == 3);
	bindex_writer_free(w);
	buf_release(&out);
}

static int parse_mod(const struct buf *b, size_t len, size_t at,
		     const void *bytes, size_t n)
{
	struct buf c = BUF_INIT;
	struct bindex ix;
	int r;

	buf_add(&c, b->data, len);
	if (bytes)
		memcpy(c.data + at, bytes, n);
	r = bindex_parse(&ix, c.data, c.len);
	buf_release(&c);
	return r;
}

UNIT_TEST(bindex, rejects_corrupt)
{
	struct buf b = BUF_INIT;
	unsigned char v[8];
	size_t data = 3003 + 6;  /* struct of "data/" */
	size_t root = 3273 + 2;

	if (load(&b, "index/bupindex"))
		goto out;
	CHECK(parse_mod(&b, b.len, 0, NULL, 0) == 0);
	/* truncated anywhere */
	for (size_t len = 0; len < b.len; len += (len < 200 ? 1 : 97))
		CHECK(parse_mod(&b, len, 0, NULL, 0) == ERR_CORRUPT);
	CHECK(parse_mod(&b, b.len - 1, 0, NULL, 0) == ERR_CORRUPT);
	/* header */
	CHECK(parse_mod(&b, b.len, 7, "\6", 1) == ERR_CORRUPT);
	CHECK(parse_mod(&b, b.len, 0, "X", 1) == ERR_CORRUPT);
	/* count mismatch */
	put_be64(v, 24);
	CHECK(parse_mod(&b, b.len, b.len - 8, v, 8) == ERR_CORRUPT);
	put_be64(v, 0);
	CHECK(parse_mod(&b, b.len, b.len - 8, v, 8) == ERR_CORRUPT);
	/* children pointing outside, after the parent, into the header */
	put_be64(v, b.len + 100);
	CHECK(parse_mod(&b, b.len, data + 110, v, 8) == ERR_CORRUPT);
	put_be64(v, 3003);
	CHECK(parse_mod(&b, b.len, data + 110, v, 8) == ERR_CORRUPT);
	put_be64(v, 0);
	CHECK(parse_mod(&b, b.len, data + 110, v, 8) == ERR_CORRUPT);
	put_be64(v, UINT64_MAX);
	CHECK(parse_mod(&b, b.len, root + 110, v, 8) == ERR_CORRUPT);
	/* too many / too few children */
	put_be32(v, 21);
	CHECK(parse_mod(&b, b.len, data + 118, v, 4) == ERR_CORRUPT);
	put_be32(v, UINT32_MAX);
	CHECK(parse_mod(&b, b.len, data + 118, v, 4) == ERR_CORRUPT);
	put_be32(v, 19);
	CHECK(parse_mod(&b, b.len, data + 118, v, 4) == ERR_CORRUPT);
	/* a shared block: d.bup/ pointing at foo/'s child */
	put_be64(v, 8);
	CHECK(parse_mod(&b, b.len, 2320 + 7 + 110, v, 8) == ERR_CORRUPT);
	/* siblings out of order ("y.bup" -> "{.bup" after "z.bup") */
	CHECK(parse_mod(&b, b.len, 412, "{", 1) == ERR_CORRUPT);
	/* root renamed, a name with '/', a NUL moved */
	CHECK(parse_mod(&b, b.len, 3273, "x", 1) == ERR_CORRUPT);
	CHECK(parse_mod(&b, b.len, 144, "/", 1) == ERR_CORRUPT);
	CHECK(parse_mod(&b, b.len, 8 + 5, "x", 1) == ERR_CORRUPT);
out:
	buf_release(&b);
}

UNIT_TEST(bindex, repack_invalidates_ancestors)
{
	struct buf b = BUF_INIT, after = BUF_INIT;
	char *path = NULL;
	struct bindex ix;
	struct bindex_iter it;
	int fd, r;

	if (load(&b, "index/bupindex"))
		goto out;
	path = xstrfmt("%s/bupindex", unit_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write_full(fd, b.data, b.len) == 0);
	close(fd);
	CHECK(bindex_open(&ix, path, 0) == 0);
	CHECK(bindex_find(&it, &ix, "/tv/data/foo/inner") == 1);
	CHECK(bindex_iter_repack(&it) == ERR_USAGE);
	bindex_iter_release(&it);
	bindex_close(&ix);

	CHECK(bindex_open(&ix, path, BINDEX_RDWR) == 0);
	bindex_iter_init(&it, &ix, NULL);
	while ((r = bindex_iter_next(&it)) > 0) {
		if (!strcmp(it.name.data, "/tv/data/foo/inner")) {
			it.e.flags &= ~BINDEX_HASHVALID;
			it.e.size = 77;
			CHECK(bindex_iter_repack(&it) == 0);
		}
		/* the parent, yielded later, sees the change */
		if (!strcmp(it.name.data, "/tv/data/foo/"))
			CHECK(!(it.e.flags & BINDEX_HASHVALID));
		if (!strcmp(it.name.data, "/tv/data/"))
			CHECK(!(it.e.flags & BINDEX_HASHVALID));
	}
	bindex_iter_release(&it);
	CHECK(bindex_sync(&ix) == 0);
	bindex_close(&ix);

	CHECK(buf_read_file(&after, path) == 0);
	CHECK(after.len == b.len);
	if (after.len == b.len) {
		/* inner: size and flags; foo/, data/: flags; nothing else */
		size_t diffs[] = { 8 + 6 + 72 + 7, 8 + 6 + 108,
				   1361 + 5 + 108, 3003 + 6 + 108 };
		size_t nd = 0;
		for (size_t i = 0; i < b.len; i++) {
			if (b.data[i] == after.data[i])
				continue;
			CHECK(nd < ARRAY_SIZE(diffs) && diffs[nd] == i);
			nd++;
		}
		CHECK(nd == ARRAY_SIZE(diffs));
		CHECK(bindex_open(&ix, path, 0) == 0 && ix.count == 25);
		bindex_close(&ix);
	}
out:
	free(path);
	buf_release(&b);
	buf_release(&after);
}

UNIT_TEST(bindex, merge_new_file)
{
	struct buf b = BUF_INIT, nb = BUF_INIT, out = BUF_INIT;
	struct bindex old_ix, new_ix, m;
	struct bindex_writer *w;
	struct bindex_iter it;
	struct bindex_ent e;
	uint64_t merged = 0;
	int n = 0, r;

	if (load(&b, "index/bupindex"))
		goto out;
	memset(&e, 0, sizeof(e));
	e.ctime_s = 5;
	e.flags = BINDEX_EXISTS;
	CHECK(bindex_writer_new_buf(&w, &nb, 40) == 0);
	CHECK(bindex_writer_add(w, "/tv/data/new", 12, &e) == 0);
	CHECK(bindex_writer_commit(w) == 0);
	CHECK(bindex_writer_count(w) == 4);
	bindex_writer_free(w);

	CHECK(bindex_parse(&old_ix, b.data, b.len) == 0);
	CHECK(bindex_parse(&new_ix, nb.data, nb.len) == 0);
	CHECK(bindex_writer_new_buf(&w, &out, 33) == 0);
	CHECK(bindex_merge(w, &old_ix, &new_ix, &merged) == 0);
	CHECK(merged == 29);
	CHECK(bindex_writer_commit(w) == 0);
	CHECK(bindex_writer_count(w) == 26);
	bindex_writer_free(w);
	CHECK(bindex_parse(&m, out.data, out.len) == 0);
	bindex_iter_init(&it, &m, NULL);
	while ((r = bindex_iter_next(&it)) > 0) {
		n++;
		if (!strcmp(it.name.data, "/tv/data/new"))
			CHECK(it.e.ctime_s == 5);
		/* the invalid (new, blank) data/ wins over the valid one */
		if (!strcmp(it.name.data, "/tv/data/"))
			CHECK(bindex_ent_is_fake(&it.e) && it.e.meta_ofs == 40);
		if (!strcmp(it.name.data, "/tv/data/h1"))
			CHECK(bindex_ent_is_valid(&it.e));
	}
	CHECK(r == 0 && n == 26);
	bindex_iter_release(&it);
out:
	buf_release(&b);
	buf_release(&nb);
	buf_release(&out);
}

UNIT_TEST(bindex, metastore_reproduces_vector)
{
	struct buf b = BUF_INIT, meta = BUF_INIT;
	struct bindex ix;
	struct bindex_iter it;
	struct bindex_metastore *ms;
	int first = 1, r;

	if (load(&b, "index/bupindex") || load(&meta, "index/bupindex.meta"))
		goto out;
	CHECK(bindex_parse(&ix, b.data, b.len) == 0);
	/*
	 * The walk order is the iteration order; bup stores each real
	 * path's metadata, and the writer stores the empty object on each
	 * add (the first of which lands at 33).
	 */
	ms = bindex_metastore_new_mem(NULL, 0);
	bindex_iter_init(&it, &ix, NULL);
	while ((r = bindex_iter_next(&it)) > 0) {
		size_t n;
		uint64_t ofs, eofs;
		if (bindex_ent_is_fake(&it.e))
			continue;
		CHECK(bindex_meta_at(&n, meta.data, meta.len,
				     it.e.meta_ofs) == 0);
		CHECK(bindex_metastore_store(ms, &ofs,
					     meta.data + it.e.meta_ofs,
					     n) == 0);
		CHECK(ofs == it.e.meta_ofs);
		CHECK(bindex_metastore_store_empty(ms, &eofs) == 0);
		CHECK(eofs == 33);
		(void)first;
	}
	bindex_iter_release(&it);
	{
		const struct buf *app = bindex_metastore_appended(ms);
		CHECK(app->len == meta.len);
		if (app->len == meta.len)
			CHECK_MEM(app->data, meta.data, meta.len);
	}
	bindex_metastore_close(ms);

	/* Reopening: bup's preload stops at the first empty object. */
	ms = bindex_metastore_new_mem(meta.data, meta.len);
	{
		uint64_t ofs;
		CHECK(bindex_metastore_store(ms, &ofs, meta.data + 34, 31) == 0);
		CHECK(ofs == meta.len);
		CHECK(bindex_metastore_store(ms, &ofs, meta.data + 34, 31) == 0);
		CHECK(ofs == meta.len);
		CHECK(bindex_metastore_store(ms, &ofs, meta.data, 33) == 0);
		CHECK(ofs == meta.len + 31);
		CHECK(bindex_metastore_store_empty(ms, &ofs) == 0);
		CHECK(ofs == meta.len + 64);
	}
	bindex_metastore_close(ms);
out:
	buf_release(&b);
	buf_release(&meta);
}

UNIT_TEST(bindex, meta_at_bounds)
{
	size_t n;
	const unsigned char ok[] = { 0x0a, 0x02, 'a', 'b', 0x03, 0x00, 0x00 };
	const unsigned char bad[] = { 0x0a, 0x05, 'a' };
	const unsigned char big[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0x01 };

	CHECK(bindex_meta_at(&n, ok, sizeof(ok), 0) == 0 && n == 7);
	CHECK(bindex_meta_at(&n, ok, sizeof(ok), 6) == 0 && n == 1);
	CHECK(bindex_meta_at(&n, ok, sizeof(ok), 7) == ERR_CORRUPT);
	CHECK(bindex_meta_at(&n, ok, 5, 0) == ERR_CORRUPT);
	CHECK(bindex_meta_at(&n, bad, sizeof(bad), 0) == ERR_CORRUPT);
	CHECK(bindex_meta_at(&n, big, sizeof(big), 0) == ERR_CORRUPT);
	CHECK(bindex_meta_at(&n, ok, sizeof(ok), UINT64_MAX) == ERR_CORRUPT);
}

UNIT_TEST(bindex, times_floor)
{
	int64_t s;
	uint64_t ns;

	bindex_ns_ts(-500000000, &s, &ns);
	CHECK(s == -1 && ns == 500000000);
	bindex_ns_ts(1700000000500000000LL, &s, &ns);
	CHECK(s == 1700000000 && ns == 500000000);
	CHECK(bindex_ts_ns(-1, 500000000) == -500000000);
	CHECK(bindex_ts_ns(INT64_MAX, 0) == INT64_MAX);
}

UNIT_TEST(bindex, settle_and_newest)
{
	struct timespec before, after;
	struct stat st;
	int64_t sec;

	memset(&st, 0, sizeof(st));
	st.st_mtim.tv_sec = 10;
	st.st_ctim.tv_sec = 9;
	st.st_ctim.tv_nsec = 999999999;
	CHECK(bindex_stat_newest_ns(&st) == 10000000000LL);
	st.st_ctim.tv_sec = 10;
	st.st_ctim.tv_nsec = 1;
	CHECK(bindex_stat_newest_ns(&st) == 10000000001LL);

	/* a second already past: at most the margin of sleep */
	clock_gettime(CLOCK_REALTIME, &before);
	sec = bindex_settle(before.tv_sec - 1);
	clock_gettime(CLOCK_REALTIME, &after);
	CHECK(sec >= before.tv_sec && sec == after.tv_sec);
	CHECK(after.tv_nsec >= BINDEX_SETTLE_NS);
	CHECK(after.tv_sec - before.tv_sec <= 1);
}
