/*
 * midx: bup's test vector (testvectors/midx-bloom/) parsed and rebuilt
 * byte for byte, lookups of every id, duplicate handling, every reject
 * branch of the parser on hand-made corrupt buffers, and 2000 synthetic
 * idx files merged by the --auto policy.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "store/idx.h"
#include "idxvec.h"
#include "store/midx.h"
#include "unit.h"
#include "util/util.h"

#define V_MIDX "midx-bloom/midx-6684ebab2ec31b5d9a87057d78a0c6ae34a38504.midx"

static int read_all(struct buf *b, const char *path)
{
	buf_reset(b);
	return buf_read_file(b, path);
}

UNIT_TEST(midx, parse_vector)
{
	struct midx_file *m;
	int ret = midx_open(&m, unit_vector(V_MIDX));

	CHECK(ret == 0);
	if (ret)
		return;
	CHECK(m->bits == 3);
	CHECK(m->nr == 1179);
	CHECK(m->nr_idxnames == 3);
	CHECK(!strcmp(m->idxnames[0], "pack-7e4a91524e0812dd797b74364b2bf316637f2801.idx"));
	CHECK(!strcmp(m->idxnames[2], "pack-58bed316a1e0d94dd416b28fd6e5067923ec83a1.idx"));
	CHECK(midx_verify(m) == 0);
	midx_close(m);
}

UNIT_TEST(midx, rebuild_vector_byte_identical)
{
	char *paths[3];
	const char *cp[3];
	const char *dir = unit_tmpdir();
	char *out = xstrfmt("%s/out.midx", dir);
	char *made = NULL;
	struct midx_opts o;
	struct buf want = BUF_INIT, got = BUF_INIT;

	paths[0] = xstrdup(unit_vector(V_IDX1));
	paths[1] = xstrdup(unit_vector(V_IDX2));
	paths[2] = xstrdup(unit_vector(V_IDX3));
	for (int i = 0; i < 3; i++)
		cp[i] = paths[i];
	memset(&o, 0, sizeof(o));
	o.outfile = out;
	o.progress = idxvec_progress_cb;
	buf_reset(&idxvec_progress_got);
	CHECK(midx_write_opts(dir, cp, 3, &o, &made) == 1);
	/* bup's merge_into: one line per 102424 ids, not rate-limited */
	CHECK(!strcmp(idxvec_progress_got.data,
		      "0:midx: writing 0.00% (0/1179)\r"));
	buf_release(&idxvec_progress_got);
	CHECK(made && !strcmp(made, out));
	CHECK(read_all(&want, unit_vector(V_MIDX)) == 0);
	CHECK(read_all(&got, out) == 0);
	CHECK(want.len == got.len && want.len == 28489);
	if (want.len == got.len)
		CHECK_MEM(got.data, want.data, want.len);

	/* The automatic name is midx-<sha1 of the paths joined by NUL>. */
	free(made);
	made = NULL;
	CHECK(midx_write(dir, cp, 3, &made) == 0);
	{
		struct buf j = BUF_INIT;
		struct oid id;
		char hex[41], *want_name;
		for (int i = 0; i < 3; i++) {
			if (i)
				buf_addch(&j, '\0');
			buf_addstr(&j, cp[i]);
		}
		sha1_buf(id.hash, j.data, j.len);
		want_name = xstrfmt("%s/midx-%s.midx", dir,
				    oid_to_hex(&id, hex));
		CHECK(made && !strcmp(made, want_name));
		CHECK(read_all(&got, made) == 0);
		CHECK(got.len == want.len);
		free(want_name);
		buf_release(&j);
	}
	/* No temporary file is left behind. */
	{
		char *cmd = xstrfmt("ls '%s' | grep -c tmp >/dev/null", dir);
		CHECK(system(cmd) != 0);
		free(cmd);
	}
	free(made);
	free(out);
	for (int i = 0; i < 3; i++)
		free(paths[i]);
	buf_release(&want);
	buf_release(&got);
}

/* Each id of the vector: found, in its idx; a neighbour: not found. */
struct vec_find {
	const struct midx_file *m;
	uint32_t found;
};

static void find_id(void *ctx, const struct idx_file *ix, struct oid *o)
{
	struct vec_find *f = ctx;
	const struct midx_file *m = f->m;
	const char *name = NULL;
	int64_t pos = midx_find(m, o, &name);

	CHECK(pos >= 0);
	if (pos >= 0) {
		f->found++;
		CHECK(name && !strcmp(name, ix->name));
		CHECK(!memcmp(m->shas + pos * 20, o->hash, 20));
	}
	/* A neighbour that is not in the table. */
	o->hash[19] ^= 0x55;
	if (idx_find(ix, o) < 0)
		CHECK(midx_find(m, o, NULL) == -1);
}

UNIT_TEST(midx, find_every_id)
{
	struct vec_find f = { NULL, 0 };
	struct midx_file *m;

	if (midx_open(&m, unit_vector(V_MIDX))) {
		CHECK(0);
		return;
	}
	f.m = m;
	idxvec_each_id(find_id, &f);
	CHECK(f.found == 1179);
	midx_close(m);
}

/* A hand-made midx: bits, ids (sorted), which, names. */
static void make_midx(struct buf *b, uint32_t bits, const unsigned char *ids,
		      uint32_t n, const uint32_t *which, const char *names,
		      size_t names_len)
{
	unsigned char w[4];
	uint32_t nfan = 1u << bits, i = 0;

	buf_reset(b);
	buf_add(b, "MIDX", 4);
	put_be32(w, 4);
	buf_add(b, w, 4);
	put_be32(w, bits);
	buf_add(b, w, 4);
	for (uint32_t p = 0; p < nfan; p++) {
		while (i < n && (bits ? get_be32(ids + 20 * i) >> (32 - bits)
				      : 0) <= p)
			i++;
		put_be32(w, i);
		buf_add(b, w, 4);
	}
	buf_add(b, ids, 20 * (size_t)n);
	for (i = 0; i < n; i++) {
		put_be32(w, which[i]);
		buf_add(b, w, 4);
	}
	buf_add(b, names, names_len);
}

static int parse_code(const struct buf *b)
{
	struct midx_file m;
	int ret = midx_parse(&m, "test.midx", b->data, b->len);
	if (!ret) {
		ret = midx_verify(&m);
		midx_release(&m);
	}
	return ret;
}

UNIT_TEST(midx, rejects_corrupt)
{
	unsigned char ids[4 * 20];
	uint32_t which[4] = { 0, 1, 0, 1 };
	static const char names[] = "pack-a.idx\0pack-b.idx";
	struct buf b = BUF_INIT, c = BUF_INIT;
	struct midx_file m;

	for (int i = 0; i < 4; i++) {
		memset(ids + 20 * i, 0x11 * (i + 1), 20);
		ids[20 * i] = (unsigned char)(0x20 + 0x40 * i);
	}
	make_midx(&b, 2, ids, 4, which, names, sizeof(names) - 1);
	CHECK(parse_code(&b) == 0);
	CHECK(midx_parse(&m, "t.midx", b.data, b.len) == 0);
	CHECK(m.nr == 4 && m.nr_idxnames == 2);
	{
		struct oid o;
		const char *nm = NULL;
		memcpy(o.hash, ids + 40, 20);
		CHECK(midx_find(&m, &o, &nm) == 2);
		CHECK(nm && !strcmp(nm, "pack-a.idx"));
		o.hash[5] ^= 1;
		CHECK(midx_find(&m, &o, &nm) == -1);
	}
	midx_release(&m);

	/* Every truncation is refused, never read past the end. */
	for (size_t n = 0; n < b.len; n++) {
		int ret = midx_parse(&m, "t.midx", b.data, n);
		if (!ret) {
			/* Only a cut inside the names can still parse. */
			CHECK(n > b.len - (sizeof(names) - 1));
			midx_release(&m);
		} else {
			CHECK(ret == ERR_CORRUPT);
		}
	}
	/* Bad magic, version, bits. */
	buf_reset(&c);
	buf_add(&c, b.data, b.len);
	c.data[0] = 'X';
	CHECK(parse_code(&c) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "test.midx") != NULL);
	buf_reset(&c);
	buf_add(&c, b.data, b.len);
	c.data[7] = 3;
	CHECK(parse_code(&c) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "version") != NULL);
	buf_reset(&c);
	buf_add(&c, b.data, b.len);
	c.data[11] = 40;
	CHECK(parse_code(&c) == ERR_CORRUPT);
	c.data[11] = 20;  /* in range, but the fanout would not fit */
	CHECK(parse_code(&c) == ERR_CORRUPT);
	/* Non-monotonic fanout. */
	buf_reset(&c);
	buf_add(&c, b.data, b.len);
	put_be32(c.data + 12 + 4, 0);
	put_be32(c.data + 12, 3);
	CHECK(parse_code(&c) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "fanout") != NULL);
	/* Fanout total larger than the file. */
	buf_reset(&c);
	buf_add(&c, b.data, b.len);
	put_be32(c.data + 12 + 12, 1000);
	CHECK(parse_code(&c) == ERR_CORRUPT);
	/* which index out of range: verify and find both refuse. */
	which[3] = 2;
	make_midx(&c, 2, ids, 4, which, names, sizeof(names) - 1);
	CHECK(parse_code(&c) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "idx #2") != NULL);
	CHECK(midx_parse(&m, "t.midx", c.data, c.len) == 0);
	{
		struct oid o;
		const char *nm = "x";
		memcpy(o.hash, ids + 60, 20);
		CHECK(midx_find(&m, &o, &nm) == ERR_CORRUPT);
		CHECK(nm == NULL);
		CHECK(midx_find(&m, &o, NULL) == 3);
	}
	midx_release(&m);
	which[3] = 1;
	/* Ids out of order / in the wrong bucket. */
	{
		unsigned char sw[4 * 20];
		memcpy(sw, ids, sizeof(sw));
		sw[20 * 1 + 19] = 0;  /* still in bucket 1, fine */
		make_midx(&c, 2, sw, 4, which, names, sizeof(names) - 1);
		CHECK(parse_code(&c) == 0);
		make_midx(&c, 2, ids, 4, which, names, sizeof(names) - 1);
		c.data[12 + 16 + 20 * 2] = 0x10;  /* id 2 now in bucket 0 */
		CHECK(parse_code(&c) == ERR_CORRUPT);
	}
	/* Names: none, empty one, with a slash. */
	make_midx(&c, 2, ids, 4, which, "", 0);
	CHECK(parse_code(&c) == ERR_CORRUPT);
	make_midx(&c, 2, ids, 4, which, "a\0\0b", 4);
	CHECK(parse_code(&c) == ERR_CORRUPT);
	make_midx(&c, 2, ids, 4, which, "../x.idx", 8);
	CHECK(parse_code(&c) == ERR_CORRUPT);
	/* Empty file through midx_open. */
	{
		char *p = xstrfmt("%s/empty.midx", unit_tmpdir());
		struct midx_file *mp = NULL;
		int fd = open(p, O_CREAT | O_WRONLY, 0644);
		close(fd);
		CHECK(midx_open(&mp, p) == ERR_CORRUPT);
		CHECK(mp == NULL);
		CHECK(strstr(err_last(), p) != NULL);
		free(p);
	}
	buf_release(&b);
	buf_release(&c);
}

UNIT_TEST(midx, bits_rule)
{
	/* Expected values from bup's own expression run in Python. */
	static const struct { uint64_t total; uint32_t bits; } t[] = {
		{ 0, 0 }, { 409, 0 }, { 410, 1 }, { 614, 1 }, { 615, 2 },
		{ 819, 2 }, { 820, 2 }, { 1023, 2 }, { 1024, 3 }, { 1179, 3 },
		{ 1638, 3 }, { 1639, 3 }, { 3276, 4 }, { 3277, 4 },
		{ 209715, 10 }, { 209716, 10 }, { 419430, 11 },
		{ 419431, 11 }, { 4294967295ULL, 25 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		CHECK(midx_bits_for(t[i].total) == t[i].bits);
}

/* Write an idx of `n` ids derived from `seed` (sorted by idx_write_v2). */
static char *write_synth_idx(const char *dir, uint32_t seed, uint32_t n)
{
	struct idx_entry *e = xcalloc(n, sizeof(*e));
	struct oid ck;
	char hex[41], *path;
	int fd;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t v[2] = { seed, i };
		sha1_buf(e[i].oid.hash, v, sizeof(v));
		e[i].offset = 12 + i;
	}
	sha1_buf(ck.hash, &seed, sizeof(seed));
	path = xstrfmt("%s/pack-%s.idx", dir, oid_to_hex(&ck, hex));
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || idx_write_v2(fd, path, e, n, &ck) < 0)
		unit_fail(__FILE__, __LINE__, "idx_write_v2: %s", err_last());
	if (fd >= 0)
		close(fd);
	free(e);
	return path;
}

UNIT_TEST(midx, duplicates_and_midx_inputs)
{
	const char *dir = unit_tmpdir();
	char *a = write_synth_idx(dir, 1, 300);
	char *b = write_synth_idx(dir, 2, 300);
	const char *in1[3] = { a, b, a };
	char *m1 = NULL, *m2 = NULL;
	struct midx_file *m;

	/* The same idx twice: every id twice, which 0 then 2 or 2 then 0. */
	CHECK(midx_write(dir, in1, 3, &m1) == 0);
	CHECK(midx_open(&m, m1) == 0);
	if (m) {
		CHECK(m->nr == 900);
		CHECK(m->nr_idxnames == 3);
		CHECK(midx_verify(m) == 0);
		midx_close(m);
	}
	/* A midx as input: its names are flattened, its which rebased. */
	{
		const char *in2[2] = { b, m1 };
		CHECK(midx_write(dir, in2, 2, &m2) == 0);
		CHECK(midx_open(&m, m2) == 0);
		if (m) {
			CHECK(m->nr == 1200);
			CHECK(m->nr_idxnames == 4);
			CHECK(midx_verify(m) == 0);
			midx_close(m);
		}
	}
	free(a);
	free(b);
	free(m1);
	free(m2);
}

UNIT_TEST(midx, auto_2000_packs)
{
	const char *dir = unit_tmpdir();
	enum { NPACK = 2000, PER = 3 };
	char **paths = xcalloc(NPACK, sizeof(char *));
	struct midx_file *m = NULL;
	char *cmd;
	FILE *p;
	char line[4096];
	int nmidx = 0;

	for (uint32_t i = 0; i < NPACK; i++)
		paths[i] = write_synth_idx(dir, 1000 + i, PER);
	CHECK(midx_auto(dir, 0, 0, NULL, NULL) == 0);
	/* At most 5 indexes remain; the biggest midx covers the rest. */
	cmd = xstrfmt("ls '%s' | grep '\\.midx$'", dir);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p)) {
		char *full;
		struct midx_file *x;
		line[strcspn(line, "\n")] = '\0';
		full = xstrfmt("%s/%s", dir, line);
		if (!midx_open(&x, full)) {
			if (!m || x->nr > m->nr) {
				midx_close(m);
				m = x;
			} else {
				midx_close(x);
			}
			nmidx++;
		}
		free(full);
	}
	if (p)
		pclose(p);
	free(cmd);
	CHECK(nmidx >= 1);
	CHECK(m != NULL);
	if (m) {
		uint32_t hits = 0, misses = 0;
		CHECK(midx_verify(m) == 0);
		CHECK(m->nr >= (NPACK - 5) * PER);
		/* Every id of every idx the midx names is found there. */
		for (uint32_t i = 0; i < NPACK; i++) {
			struct idx_file *ix;
			if (idx_open(&ix, paths[i]))
				continue;
			for (uint32_t n = 0; n < ix->nr; n++) {
				struct oid o;
				const char *nm = NULL;
				idx_nth_oid(ix, n, &o);
				if (midx_find(m, &o, &nm) >= 0) {
					hits++;
					CHECK(nm && !strcmp(nm, ix->name));
				} else {
					misses++;
				}
			}
			idx_close(ix);
		}
		CHECK(hits == m->nr);
		CHECK(misses <= 4 * PER);
		midx_close(m);
	}
	/* Running it again finds nothing to do: still <= 5 indexes. */
	CHECK(midx_auto(dir, 0, 0, NULL, NULL) == 0);
	/* -f merges everything into one midx covering all 6000 ids. */
	{
		struct midx_opts o;
		memset(&o, 0, sizeof(o));
		o.force = 1;
		o.auto_mode = 1;
		CHECK(midx_dir(dir, &o) == 0);
	}
	for (uint32_t i = 0; i < NPACK; i++)
		free(paths[i]);
	free(paths);
}
