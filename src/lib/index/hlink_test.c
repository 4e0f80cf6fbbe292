/* Unit tests for hlink.c (FORMAT.md 8.4). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "index/hlink.h"
#include "unit.h"

UNIT_TEST(hlink, vector_byte_identical)
{
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct hlink_db *db = NULL;
	const char *const *paths;

	if (buf_read_file(&b, unit_vector("index/bupindex.hlink")) < 0) {
		unit_fail(__FILE__, __LINE__, "cannot read the vector");
		return;
	}
	CHECK(hlink_parse(&db, b.data, b.len) == 0);
	if (!db)
		goto out;
	CHECK(hlink_count(db) == 1);
	CHECK(hlink_node_paths(db, 65024, 16171030, &paths) == 2);
	CHECK(!strcmp(paths[0], "/tv/data/h2"));
	CHECK(!strcmp(paths[1], "/tv/data/h1"));
	hlink_encode(db, &out);
	CHECK(out.len == b.len);
	if (out.len == b.len)
		CHECK_MEM(out.data, b.data, b.len);

	/* The same database built through add_path in walk order. */
	hlink_free(db);
	db = hlink_new();
	hlink_add_path(db, "/tv/data/h2", 65024, 16171030);
	hlink_add_path(db, "/tv/data/h1", 65024, 16171030);
	buf_reset(&out);
	hlink_encode(db, &out);
	CHECK(out.len == b.len);
	if (out.len == b.len)
		CHECK_MEM(out.data, b.data, b.len);
out:
	hlink_free(db);
	buf_release(&b);
	buf_release(&out);
}

static void check_same(struct hlink_db *a, struct hlink_db *b, size_t nodes)
{
	CHECK(hlink_count(a) == hlink_count(b));
	for (size_t i = 0; i < nodes; i++) {
		const char *const *pa, *const *pb;
		size_t na = hlink_node_paths(a, 1, i, &pa);
		size_t nb = hlink_node_paths(b, 1, i, &pb);
		CHECK(na == nb);
		for (size_t j = 0; j < na && j < nb; j++)
			CHECK(!strcmp(pa[j], pb[j]));
	}
}

static struct hlink_db *roundtrip(struct hlink_db *db, struct buf *enc)
{
	struct hlink_db *back = NULL;
	buf_reset(enc);
	hlink_encode(db, enc);
	CHECK(hlink_parse(&back, enc->data, enc->len) == 0);
	return back;
}

UNIT_TEST(hlink, roundtrip_batches_and_long_memo)
{
	static const size_t sizes[] = { 2, 300, 999, 1000, 1001, 2500 };
	struct buf enc = BUF_INIT, enc2 = BUF_INIT;

	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		struct hlink_db *db = hlink_new(), *back;
		size_t n = sizes[s], marks = 0, setitems = 0;
		for (size_t i = 0; i < n; i++) {
			char p[64];
			snprintf(p, sizeof(p), "/d/f%zu\xe9", i);
			hlink_add_path(db, p, 1, i);
			snprintf(p, sizeof(p), "/d/g%zu", i);
			hlink_add_path(db, p, 1, i);
		}
		back = roundtrip(db, &enc);
		if (back) {
			check_same(db, back, n);
			/* re-encoding the parsed db gives the same bytes */
			buf_reset(&enc2);
			hlink_encode(back, &enc2);
			CHECK(enc.len == enc2.len &&
			      !memcmp(enc.data, enc2.data, enc.len));
		}
		/* memo past 255 switches to LONG_BINPUT/LONG_BINGET */
		CHECK(n < 100 || memchr(enc.data, 'r', enc.len) != NULL);
		/* CPython: batches of 1000, plus an empty one after a full */
		(void)marks;
		(void)setitems;
		CHECK(enc.len > 3 && !memcmp(enc.data + enc.len - 2, "u.", 2));
		if (n == 1000)
			CHECK(enc.len > 3 &&
			      !memcmp(enc.data + enc.len - 3, "(u.", 3));
		if (n == 1001)
			CHECK(memcmp(enc.data + enc.len - 3, "(u.", 3) != 0);
		hlink_free(back);
		hlink_free(db);
	}
	buf_release(&enc);
	buf_release(&enc2);
}

UNIT_TEST(hlink, hlinkdb_semantics)
{
	struct hlink_db *db = hlink_new(), *back;
	const char *const *paths;
	struct buf enc = BUF_INIT;
	char *dir, *file;
	struct stat st;

	hlink_add_path(db, "/a", 1, 1);
	hlink_add_path(db, "/b", 1, 1);
	hlink_add_path(db, "/c", 2, 2);
	CHECK(hlink_count(db) == 2);
	/* add_path of a path already listed resets the list (bup quirk) */
	hlink_add_path(db, "/a", 1, 1);
	CHECK(hlink_node_paths(db, 1, 1, &paths) == 1);
	hlink_del_path(db, "/b");  /* not listed any more: ignored */
	hlink_del_path(db, "/a");
	CHECK(hlink_count(db) == 1);
	CHECK(hlink_node_paths(db, 1, 1, &paths) == 0);
	/* a re-added key goes to the end, as in a Python dict */
	hlink_add_path(db, "/x", 1, 1);
	hlink_add_path(db, "/y", 1, 1);
	back = roundtrip(db, &enc);
	CHECK(back && hlink_count(back) == 2);
	{
		const char *k1 = memmem(enc.data, enc.len, "2:2", 3);
		const char *k2 = memmem(enc.data, enc.len, "1:1", 3);
		CHECK(k1 && k2 && k1 < k2);
	}
	hlink_free(back);

	dir = xstrdup(unit_tmpdir());
	file = xstrfmt("%s/bupindex.hlink", dir);
	CHECK(hlink_save(db, file) == 0);
	CHECK(stat(file, &st) == 0 && (size_t)st.st_size == enc.len);
	CHECK(hlink_load(&back, file) == 0 && hlink_count(back) == 2);
	hlink_free(back);
	hlink_del_path(db, "/c");
	hlink_del_path(db, "/x");
	hlink_del_path(db, "/y");
	CHECK(hlink_count(db) == 0);
	CHECK(hlink_save(db, file) == 0);
	CHECK(stat(file, &st) < 0);
	CHECK(hlink_load(&back, file) == 0 && hlink_count(back) == 0);
	hlink_free(back);
	free(file);
	free(dir);
	hlink_free(db);
	buf_release(&enc);
}

UNIT_TEST(hlink, rejects_corrupt)
{
	struct buf b = BUF_INIT;
	struct hlink_db *db = NULL;
	static const char *const bad[] = {
		"", "\x80\x02", "\x80\x02}q\x00s.", "\x80\x02]q\x00.",
		"\x80\x02}q\x00h\x05.", "\x80\x02}(u", "\x80\x02}X\xff\xff\xff\xff",
		"\x80\x02}q\x00cos\nsystem\n.", "\x80\x02}C\x01" "aC\x01" "bs.",
		"\x80\x02}C\x01" "a]C\x01" "x" "\x80s.",
		"\x80\x02}q\x00r\xff\xff\xff\x7f.",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t n = strlen(bad[i]);
		CHECK(hlink_parse(&db, bad[i], n) == ERR_CORRUPT);
		CHECK(db == NULL);
	}
	/* protocol 3 style bytes are accepted */
	CHECK(hlink_parse(&db, "\x80\x03}C\x03\x31:2]C\x02/aas.", 16) == 0);
	if (db) {
		const char *const *p;
		CHECK(hlink_node_paths(db, 1, 2, &p) == 1 && !strcmp(p[0], "/a"));
	}
	hlink_free(db);
	/* every truncation of the vector fails cleanly */
	if (buf_read_file(&b, unit_vector("index/bupindex.hlink")) == 0) {
		for (size_t n = 0; n < b.len; n++) {
			CHECK(hlink_parse(&db, b.data, n) == ERR_CORRUPT);
			hlink_free(db);
			db = NULL;
		}
	}
	buf_release(&b);
}
