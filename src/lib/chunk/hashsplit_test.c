/*
 * hashsplit: every chunk (offset, length, level, blob id) and every tree
 * object of the bup-generated vectors in testvectors/split/, including
 * both 0.33.7 quirks; fanout variants and multi-file streams.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunk/hashsplit.h"
#include "chunk/rollsum.h"
#include "store/tree.h"
#include "unit.h"

/* ---- an in-memory object sink ---- */

struct memobj {
	struct oid oid;
	enum obj_type type;
	char *data;
	size_t len;
};

struct memsink {
	struct objsink sink;
	struct memobj *objs;
	size_t nr, alloc;
};

static int memsink_write(struct objsink *s, enum obj_type type,
			 const void *data, size_t len, struct oid *out)
{
	struct memsink *m = (struct memsink *)s;

	oid_hash_object(out, type, data, len);
	for (size_t i = 0; i < m->nr; i++)
		if (oid_eq(&m->objs[i].oid, out))
			return 0;
	ALLOC_GROW(m->objs, m->nr + 1, m->alloc);
	m->objs[m->nr].oid = *out;
	m->objs[m->nr].type = type;
	m->objs[m->nr].data = xmemdup(data, len);
	m->objs[m->nr].len = len;
	m->nr++;
	return 0;
}

static void memsink_init(struct memsink *m)
{
	memset(m, 0, sizeof(*m));
	m->sink.write = memsink_write;
}

static void memsink_release(struct memsink *m)
{
	for (size_t i = 0; i < m->nr; i++)
		free(m->objs[i].data);
	free(m->objs);
}

static const struct memobj *memsink_get(struct memsink *m,
					const struct oid *oid)
{
	for (size_t i = 0; i < m->nr; i++)
		if (oid_eq(&m->objs[i].oid, oid))
			return &m->objs[i];
	return NULL;
}

/* ---- inputs ---- */

static void lcg_fill(unsigned char *out, size_t n, uint32_t seed)
{
	uint32_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		out[i] = (unsigned char)(x >> 16);
	}
}

static const unsigned char magic8[8] = {
	0xcd, 0xdf, 0x86, 0xaf, 0x96, 0x01, 0xfd, 0x5a
};

/* The input recipe of each vector file (t/vectors/README.md 3). */
static unsigned char *make_input(const char *name, size_t *len)
{
	unsigned char *d;

	if (!strcmp(name, "abc")) {
		*len = 3;
		return (unsigned char *)xstrdup("abc");
	} else if (!strcmp(name, "hello")) {
		*len = 13;
		return (unsigned char *)xstrdup("hello, world\n");
	} else if (!strcmp(name, "zeros-100000")) {
		*len = 100000;
		return xcalloc(1, 100000);
	} else if (!strcmp(name, "lcg-seed2-100000")) {
		*len = 100000;
		d = xmalloc(*len);
		lcg_fill(d, *len, 2);
		return d;
	} else if (!strcmp(name, "lcg-seed1-1MiB")) {
		*len = 1048576;
		d = xmalloc(*len);
		lcg_fill(d, *len, 1);
		return d;
	} else if (!strcmp(name, "corner-0.33.7")) {
		*len = 66536;
		d = xmalloc(*len);
		memset(d, 1, *len);
		memcpy(d + 32768, magic8, 8);
		return d;
	} else if (!strcmp(name, "block-8MiB-boundary")) {
		*len = 8488608;
		d = xmalloc(*len);
		lcg_fill(d, 8348608, 7);
		memset(d + 8348608, 1, 140000);
		memcpy(d + 8376138, magic8, 8);
		return d;
	}
	BUG("no input %s", name);
}

/* ---- running the chunker ---- */

struct chunk {
	uint64_t ofs;
	size_t len;
	int level;
	struct oid oid;
};

struct run {
	struct memsink ms;
	struct fantree tree;
	struct chunk *chunks;
	size_t nr, alloc;
	uint64_t ofs;
};

/* Chunks that came with an id hashed ahead, and those whose id was wrong. */
static unsigned long ids_ahead, ids_bad;

static int record(void *ctx, const unsigned char *data, size_t len,
		  int level, const struct oid *id)
{
	struct run *r = ctx;
	struct chunk *c;
	int ret;

	ALLOC_GROW(r->chunks, r->nr + 1, r->alloc);
	c = &r->chunks[r->nr++];
	c->ofs = r->ofs;
	c->len = len;
	c->level = level;
	r->ofs += len;
	if ((ret = objsink_write(&r->ms.sink, OBJ_BLOB, data, len, &c->oid)))
		return ret;
	/* an id hashed ahead (two threads) must be the chunk's own */
	if (id)
		ids_ahead++;
	if (id && !oid_eq(id, &c->oid))
		ids_bad++;
	return fantree_add(&r->tree, &c->oid, len, level);
}

static void run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	memsink_init(&r->ms);
	fantree_init(&r->tree, &r->ms.sink);
}

static void run_release(struct run *r)
{
	CHECK(ids_bad == 0);
	fantree_release(&r->tree);
	memsink_release(&r->ms);
	free(r->chunks);
}

/*
 * 0: run_split() chunks sequentially; otherwise it scans every read of
 * at least this many bytes on two threads (parallel candidate scan).
 */
static size_t par_min;
/* 0: default; else the chunker's cand_min (SIZE_MAX: never list). */
static size_t cand_min;

/* Feed in `block`-byte reads through the zero-copy path. */
static void run_split(struct run *r, const unsigned char *d, size_t len,
		      size_t block, int fanbits)
{
	struct hsplit h;

	hsplit_init(&h, fanbits, record, r);
	if (par_min) {
		hsplit_set_threads(&h, 2);
		h.par_min = par_min;
	}
	if (cand_min)
		h.cand_min = cand_min;
	for (size_t o = 0; o < len; o += block) {
		size_t n = MIN(block, len - o);
		memcpy(hsplit_buffer(&h, n), d + o, n);
		CHECK(hsplit_feed_buffer(&h, n) == 0);
	}
	CHECK(hsplit_finish(&h) == 0);
	hsplit_release(&h);
}

/* Build a tree object from "  mode oid name" lines and hash it. */
static void check_tree_lines(struct memsink *ms, const char *hex,
			     struct buf *lines)
{
	struct buf t = BUF_INIT;
	struct oid want, got;
	const char *p = lines->data;
	const struct memobj *o;

	while (*p) {
		unsigned mode;
		char oidhex[41], name[64];
		struct oid eo;
		const char *nl = strchr(p, '\n');
		if (sscanf(p, " %o %40s %63s", &mode, oidhex, name) != 3)
			break;
		CHECK(oid_from_hex(&eo, oidhex) == 0);
		buf_addf(&t, "%o %s", mode, name);
		buf_addch(&t, 0);
		buf_add(&t, eo.hash, OID_RAWSZ);
		p = nl ? nl + 1 : p + strlen(p);
	}
	oid_hash_object(&got, OBJ_TREE, t.data, t.len);
	CHECK_OID(&got, hex);
	CHECK(oid_from_hex(&want, hex) == 0);
	o = memsink_get(ms, &want);
	CHECK(o != NULL);
	if (o) {
		CHECK(o->type == OBJ_TREE);
		CHECK(o->len == t.len && !memcmp(o->data, t.data, t.len));
	}
	buf_release(&t);
}

static void check_vector(const char *name)
{
	char rel[128], line[512], treehex[41] = "", savehex[41] = "";
	unsigned savemode = 0;
	size_t len, inlen = 0, nchunks = 0, ntrees = 0;
	unsigned char *d;
	struct run r;
	FILE *f;
	struct buf tlines = BUF_INIT;
	char cur_tree[41] = "";
	struct oid oid;
	unsigned mode;

	snprintf(rel, sizeof(rel), "split/%s.txt", name);
	f = fopen(unit_vector(rel), "r");
	CHECK(f != NULL);
	if (!f)
		return;
	d = make_input(name, &len);
	run_init(&r);
	run_split(&r, d, len, HSPLIT_READ_SIZE, 4);
	/* bup split -t: always a tree of the top list */
	CHECK(fantree_finish_tree(&r.tree, &oid) == 0);

	while (fgets(line, sizeof(line), f)) {
		unsigned long long ofs;
		unsigned long clen;
		int level;
		char reason[64], hex[41];
		const char *s;

		if ((s = strstr(line, "# input: ")))
			inlen = strtoull(s + 9, NULL, 10);
		if ((s = strstr(line, "tree id:  ")))
			sscanf(s + 10, "%40s", treehex);
		if ((s = strstr(line, "): mode ")))
			sscanf(s + 8, "%o id %40s", &savemode, savehex);
		if (line[0] == '#')
			continue;
		if (!strncmp(line, "tree ", 5)) {
			if (cur_tree[0]) {
				check_tree_lines(&r.ms, cur_tree, &tlines);
				ntrees++;
			}
			sscanf(line + 5, "%40s", cur_tree);
			buf_reset(&tlines);
			continue;
		}
		if (line[0] == ' ') {
			buf_addstr(&tlines, line);
			continue;
		}
		if (sscanf(line, "%llu %lu %d %63s %40s", &ofs, &clen, &level,
			   reason, hex) != 5)
			continue;
		CHECK(nchunks < r.nr);
		if (nchunks < r.nr) {
			struct chunk *c = &r.chunks[nchunks];
			if (c->ofs != ofs || c->len != clen ||
			    c->level != level) {
				unit_fail(__FILE__, __LINE__,
					  "%s chunk %zu: got %llu+%zu L%d, "
					  "want %llu+%lu L%d", name, nchunks,
					  (unsigned long long)c->ofs, c->len,
					  c->level, ofs, clen, level);
			}
			CHECK_OID(&c->oid, hex);
		}
		nchunks++;
	}
	if (cur_tree[0]) {
		check_tree_lines(&r.ms, cur_tree, &tlines);
		ntrees++;
	}
	fclose(f);
	CHECK(inlen == len);
	CHECK(nchunks == r.nr);
	CHECK(ntrees >= 1);
	CHECK_OID(&oid, treehex);
	run_release(&r);

	/* split_to_blob_or_tree, as save records the file */
	run_init(&r);
	run_split(&r, d, len, HSPLIT_READ_SIZE, 4);
	CHECK(fantree_finish(&r.tree, &oid, &mode) == 0);
	CHECK(mode == savemode);
	CHECK_OID(&oid, savehex);
	run_release(&r);

	/* the library entry points give the same */
	{
		struct memsink ms;
		char path[4200];
		int fd;
		uint64_t size = 0;

		memsink_init(&ms);
		CHECK(hsplit_mem(&ms.sink, d, len, 4, &oid, &mode) == 0);
		CHECK(mode == savemode);
		CHECK_OID(&oid, savehex);
		snprintf(path, sizeof(path), "%s/in", unit_tmpdir());
		fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
		CHECK(fd >= 0);
		CHECK(write_full(fd, d, len) == 0);
		CHECK(lseek(fd, 0, SEEK_SET) == 0);
		CHECK(hsplit_fd(&ms.sink, fd, 4, &oid, &mode, &size) == 0);
		CHECK(size == len);
		CHECK(mode == savemode);
		CHECK_OID(&oid, savehex);
		close(fd);
		memsink_release(&ms);
	}
	buf_release(&tlines);
	free(d);
}

UNIT_TEST(hashsplit, vector_abc) { check_vector("abc"); }
UNIT_TEST(hashsplit, vector_hello) { check_vector("hello"); }
UNIT_TEST(hashsplit, vector_zeros) { check_vector("zeros-100000"); }
UNIT_TEST(hashsplit, vector_lcg2) { check_vector("lcg-seed2-100000"); }
UNIT_TEST(hashsplit, vector_lcg1_1MiB) { check_vector("lcg-seed1-1MiB"); }
UNIT_TEST(hashsplit, vector_corner_0337) { check_vector("corner-0.33.7"); }
UNIT_TEST(hashsplit, vector_block_8MiB) { check_vector("block-8MiB-boundary"); }

UNIT_TEST(hashsplit, empty)
{
	struct run r;
	struct oid oid;
	unsigned mode;

	run_init(&r);
	run_split(&r, (const unsigned char *)"", 0, HSPLIT_READ_SIZE, 4);
	CHECK(r.nr == 0);
	CHECK(fantree_finish_tree(&r.tree, &oid) == 0);
	CHECK_OID(&oid, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
	run_release(&r);
	run_init(&r);
	CHECK(fantree_finish(&r.tree, &oid, &mode) == 0);
	CHECK(mode == TREE_MODE_BLOB);
	CHECK_OID(&oid, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	CHECK(memsink_get(&r.ms, &oid) != NULL);  /* bup writes it */
	run_release(&r);
}

UNIT_TEST(hashsplit, fanout_variants)
{
	static const struct {
		unsigned fanout;
		const char *tree;
	} v[] = {
		{ 0, NULL },
		{ 16, "56e40be0eaacc3988fe4c0b2fb936831019e29a7" },
		{ 4, "ea4ea8b97f02d6a84a81a0c2eaa4395010cd9faa" },
		{ 256, "ad78b14f0b6427e0c39abd944584a8ea3ad9d9e9" },
		{ 2, "c307ef5179f237dfe16fe5e3a67ac65b311e4f9e" },
	};
	size_t len;
	unsigned char *d = make_input("lcg-seed1-1MiB", &len);

	CHECK(hsplit_fanbits(16) == 4);
	CHECK(hsplit_fanbits(0) == 7);
	CHECK(hsplit_fanbits(3) == 1);
	for (size_t i = 1; i < ARRAY_SIZE(v); i++) {
		struct run r;
		struct oid oid;

		run_init(&r);
		run_split(&r, d, len, HSPLIT_READ_SIZE,
			  hsplit_fanbits(v[i].fanout));
		CHECK(r.nr == 155);
		CHECK(fantree_finish_tree(&r.tree, &oid) == 0);
		CHECK_OID(&oid, v[i].tree);
		run_release(&r);
	}
	free(d);
}

UNIT_TEST(hashsplit, two_files_one_stream)
{
	struct run r;
	struct oid oid;
	struct hsplit h;

	/* bup split --noop -t abc hello: one stream, one chunk */
	run_init(&r);
	hsplit_init(&h, 4, record, &r);
	CHECK(hsplit_feed(&h, "abc", 3) == 0);
	CHECK(hsplit_feed(&h, "hello, world\n", 13) == 0);
	CHECK(hsplit_finish(&h) == 0);
	CHECK(r.nr == 1);
	CHECK_OID(&r.chunks[0].oid, "0f9107c9d9108fbd6671050037a4a71024061615");
	CHECK(fantree_finish_tree(&r.tree, &oid) == 0);
	CHECK_OID(&oid, "80e8960a112929e4fac8bd1a376b480446a50934");
	run_release(&r);

	/* --keep-boundaries: each file finished on its own */
	hsplit_release(&h);
	run_init(&r);
	hsplit_init(&h, 4, record, &r);
	CHECK(hsplit_feed(&h, "abc", 3) == 0);
	CHECK(hsplit_finish(&h) == 0);
	CHECK(hsplit_feed(&h, "hello, world\n", 13) == 0);
	CHECK(hsplit_finish(&h) == 0);
	CHECK(r.nr == 2);
	CHECK(fantree_finish_tree(&r.tree, &oid) == 0);
	CHECK_OID(&oid, "eddfb064e4e429dfb519d014b4905ead0dc7ab1a");
	hsplit_release(&h);
	run_release(&r);
}

/*
 * Model check: the streaming chunker against a literal transcription of
 * bup's loop (rescan the whole buffer from the chunk start every time)
 * on inputs built to hit the quirks, with varied read sizes.
 */
static void model_split(const unsigned char *d, size_t len, size_t block,
			struct chunk **out, size_t *nr)
{
	size_t alloc = 0, start = 0, end = 0;

	*out = NULL;
	*nr = 0;
	while (end < len) {
		end = MIN(len, end + block);
		for (;;) {
			int bits;
			size_t n = rollsum_find_split(d + start, end - start,
						      &bits);
			int level = 0;
			if (!n)
				break;
			if (n > HSPLIT_BLOB_MAX)
				n = HSPLIT_BLOB_MAX;
			else
				level = (bits - 13) / 4;
			ALLOC_GROW(*out, *nr + 1, alloc);
			(*out)[(*nr)++] = (struct chunk){ start, n, level,
							  { { 0 } } };
			start += n;
		}
		while (end - start >= HSPLIT_BLOB_MAX) {
			ALLOC_GROW(*out, *nr + 1, alloc);
			(*out)[(*nr)++] = (struct chunk){ start, HSPLIT_BLOB_MAX,
							  0, { { 0 } } };
			start += HSPLIT_BLOB_MAX;
		}
	}
	if (end > start) {
		ALLOC_GROW(*out, *nr + 1, alloc);
		(*out)[(*nr)++] = (struct chunk){ start, end - start, 0,
						  { { 0 } } };
	}
}

UNIT_TEST(hashsplit, matches_literal_model)
{
	enum { N = 600000 };
	unsigned char *d = xmalloc(N);
	size_t blocks[] = { 1000, 4095, 4096, 32767, 32768, 32769, 100000, N };
	int bad = 0;

	/* random, long runs without split points, magic bytes after runs */
	lcg_fill(d, N, 9);
	memset(d + 50000, 1, 100000);
	memcpy(d + 50000 + 32768, magic8, 8);
	memcpy(d + 50000 + 65536 + 10, magic8, 8);
	memset(d + 300000, 0, 70000);
	memcpy(d + 300000 + 40000, magic8, 8);
	for (size_t b = 0; b < ARRAY_SIZE(blocks); b++) {
		struct chunk *want;
		size_t nwant;
		struct run r;

		model_split(d, N, blocks[b], &want, &nwant);
		run_init(&r);
		run_split(&r, d, N, blocks[b], 4);
		if (r.nr != nwant) {
			bad++;
		} else {
			for (size_t i = 0; i < nwant; i++)
				if (r.chunks[i].ofs != want[i].ofs ||
				    r.chunks[i].len != want[i].len ||
				    r.chunks[i].level != want[i].level)
					bad++;
		}
		if (bad)
			unit_fail(__FILE__, __LINE__, "block %zu differs",
				  blocks[b]);
		run_release(&r);
		free(want);
	}
	CHECK(bad == 0);
	free(d);
}

/*
 * Every read asked for at bup's read size lands on a page boundary,
 * whatever the leftover of the previous one (hashsplit.c HSPLIT_ALIGN).
 * The vector and model tests check the chunks through the same moves.
 */
UNIT_TEST(hashsplit, reads_land_on_pages)
{
	static const size_t reads[] = { 5000, 77777, 4096, 1, 300000, 8191 };
	size_t total = 0, o = 0;
	unsigned char *d;
	struct run r;
	struct hsplit h;
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(reads); i++)
		total += reads[i];
	d = malloc(total);
	lcg_fill(d, total, 11);
	run_init(&r);
	hsplit_init(&h, 4, record, &r);
	for (size_t i = 0; i < ARRAY_SIZE(reads); i++) {
		unsigned char *p = hsplit_buffer(&h, HSPLIT_READ_SIZE);

		if ((uintptr_t)p % 4096)
			bad++;
		memcpy(p, d + o, reads[i]);
		CHECK(hsplit_feed_buffer(&h, reads[i]) == 0);
		o += reads[i];
	}
	CHECK(hsplit_finish(&h) == 0);
	hsplit_release(&h);
	CHECK(bad == 0);
	CHECK(r.nr > 10);
	CHECK(r.ofs == total);
	run_release(&r);
	free(d);
}

/* ---- the parallel candidate scan gives the sequential cut points ---- */

static void check_vector_par(const char *name)
{
	par_min = 1;
	check_vector(name);
	par_min = 0;
}

static void check_vector_listed(const char *name)
{
	cand_min = 1;
	check_vector(name);
	cand_min = 0;
}

UNIT_TEST(hashsplit, listed_vector_corner_0337) { check_vector_listed("corner-0.33.7"); }
UNIT_TEST(hashsplit, listed_vector_block_8MiB) { check_vector_listed("block-8MiB-boundary"); }
UNIT_TEST(hashsplit, listed_vector_lcg1_1MiB) { check_vector_listed("lcg-seed1-1MiB"); }
UNIT_TEST(hashsplit, par_vector_abc) { check_vector_par("abc"); }

/*
 * The chunks of listed reads are hashed ahead, in batches, and on two
 * threads when the read was split on two: the ids handed to the emit
 * callback are the chunks' own (record() hashes every chunk again and
 * counts a mismatch).  Reads too small to be listed get none.
 */
UNIT_TEST(hashsplit, listed_reads_hash_ahead)
{
	unsigned long before = ids_ahead;

	cand_min = SIZE_MAX;
	check_vector("lcg-seed1-1MiB");
	cand_min = 0;
	CHECK(ids_ahead == before);
	check_vector_listed("lcg-seed1-1MiB");
	CHECK(ids_ahead > before + 100);
	before = ids_ahead;
	check_vector_par("lcg-seed1-1MiB");
	check_vector_par("block-8MiB-boundary");
	CHECK(ids_ahead > before + 100);
	CHECK(ids_bad == 0);
}
UNIT_TEST(hashsplit, par_vector_zeros) { check_vector_par("zeros-100000"); }
UNIT_TEST(hashsplit, par_vector_lcg2) { check_vector_par("lcg-seed2-100000"); }
UNIT_TEST(hashsplit, par_vector_lcg1_1MiB) { check_vector_par("lcg-seed1-1MiB"); }
UNIT_TEST(hashsplit, par_vector_corner_0337) { check_vector_par("corner-0.33.7"); }
UNIT_TEST(hashsplit, par_vector_block_8MiB) { check_vector_par("block-8MiB-boundary"); }

static int same_chunks(const struct chunk *a, size_t na,
		       const struct chunk *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].ofs != b[i].ofs || a[i].len != b[i].len ||
		    a[i].level != b[i].level)
			return 0;
	return 1;
}

/* Feed reads of pseudo-random sizes in [1, maxblock]. */
static void run_split_var(struct run *r, const unsigned char *d, size_t len,
			  size_t maxblock, uint32_t seed, size_t pmin)
{
	struct hsplit h;
	uint32_t x = seed;

	hsplit_init(&h, 4, record, r);
	if (pmin) {
		hsplit_set_threads(&h, 2);
		h.par_min = pmin;
	} else {
		h.cand_min = SIZE_MAX;   /* the plain lazy scan */
	}
	for (size_t o = 0; o < len;) {
		size_t n;
		x = x * 1103515245u + 12345u;
		n = 1 + (size_t)(x >> 8) % maxblock;
		n = MIN(n, len - o);
		memcpy(hsplit_buffer(&h, n), d + o, n);
		CHECK(hsplit_feed_buffer(&h, n) == 0);
		o += n;
	}
	CHECK(hsplit_finish(&h) == 0);
	hsplit_release(&h);
}

/*
 * An input built to hit every path: random data, runs without a split
 * (quirk A), magic windows right after 32768-byte cuts and across read
 * borders, zeros, and random insertions of split-making windows.
 */
static unsigned char *quirky_input(size_t n, uint32_t seed)
{
	unsigned char *d = xmalloc(n);
	uint32_t x = seed;

	lcg_fill(d, n, seed);
	for (size_t o = 0; o + 200000 < n; o += 150000 + (x >> 20)) {
		size_t run;
		x = x * 1103515245u + 12345u;
		run = 20000 + (x >> 16) % 90000;
		memset(d + o, (x >> 8) & 1, run);
		memcpy(d + o + 32768, magic8, 8);
		if (run > 65546)
			memcpy(d + o + 65536 + (x >> 28), magic8, 8);
	}
	for (int i = 0; i < 400; i++) {
		x = x * 1103515245u + 12345u;
		memcpy(d + (x % (uint32_t)(n - 8)), magic8, 8);
	}
	return d;
}

/*
 * Every way of scanning against the literal model: the lazy scan alone
 * (cand_min SIZE_MAX), every read listed up front on one thread
 * (cand_min 1), the default, and the helper thread from several read
 * sizes on.
 */
UNIT_TEST(hashsplit, par_matches_literal_model)
{
	enum { N = 3000000 };
	size_t blocks[] = { 1000, 4096, 32767, 32768, 32769, 100000,
			    1048576, N };
	struct { size_t pmin, cmin; } modes[] = {
		{ 0, SIZE_MAX }, { 0, 1 }, { 0, 0 }, { 1, 0 }, { 4096, 0 },
		{ 100000, SIZE_MAX },
	};
	int bad = 0;

	for (uint32_t seed = 1; seed <= 3; seed++) {
		unsigned char *d = quirky_input(N, seed);
		for (size_t b = 0; b < ARRAY_SIZE(blocks); b++) {
			struct chunk *want;
			size_t nwant;

			model_split(d, N, blocks[b], &want, &nwant);
			for (size_t p = 0; p < ARRAY_SIZE(modes); p++) {
				struct run r;
				run_init(&r);
				par_min = modes[p].pmin;
				cand_min = modes[p].cmin;
				run_split(&r, d, N, blocks[b], 4);
				par_min = cand_min = 0;
				if (!same_chunks(r.chunks, r.nr, want, nwant)) {
					bad++;
					unit_fail(__FILE__, __LINE__,
						  "seed %u block %zu mode %zu "
						  "differs", seed, blocks[b],
						  p);
				}
				run_release(&r);
			}
			free(want);
		}
		free(d);
	}
	CHECK(bad == 0);
}

/*
 * Variable read sizes (parallel and sequential reads mixed, leftovers
 * of every length) and inputs of zeros, ones and pure noise: the
 * parallel chunker equals the sequential one chunk for chunk.
 */
UNIT_TEST(hashsplit, par_equals_sequential_var_reads)
{
	enum { N = 2500000 };
	int bad = 0;

	for (uint32_t kind = 0; kind < 5; kind++) {
		unsigned char *d;
		if (kind == 0) {
			d = xcalloc(1, N);
		} else if (kind == 1) {
			d = xmalloc(N);
			memset(d, 1, N);
		} else if (kind == 2) {
			d = xmalloc(N);
			lcg_fill(d, N, 99);
		} else {
			d = quirky_input(N, 10 + kind);
		}
		for (uint32_t seed = 1; seed <= 4; seed++) {
			size_t maxb = seed & 1 ? 70000 : 400000;
			struct run a, b;
			run_init(&a);
			run_init(&b);
			run_split_var(&a, d, N, maxb, seed, 0);
			run_split_var(&b, d, N, maxb, seed, 30000);
			if (!same_chunks(a.chunks, a.nr, b.chunks, b.nr)) {
				bad++;
				unit_fail(__FILE__, __LINE__,
					  "kind %u seed %u differs", kind,
					  seed);
			}
			run_release(&a);
			run_release(&b);
		}
		free(d);
	}
	CHECK(bad == 0);
}

/* hsplit_reset keeps the helper; a second input splits as a fresh one. */
UNIT_TEST(hashsplit, par_reset_and_finish_reuse)
{
	enum { N = 1500000 };
	unsigned char *d = quirky_input(N, 77);
	struct chunk *want;
	size_t nwant;
	struct run r1, r2;
	struct hsplit h;

	model_split(d, N, 400000, &want, &nwant);
	run_init(&r1);
	run_init(&r2);
	hsplit_init(&h, 4, record, &r1);
	hsplit_set_threads(&h, 2);
	h.par_min = 1;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t o = 0; o < N; o += 400000) {
			size_t n = MIN((size_t)400000, N - o);
			memcpy(hsplit_buffer(&h, n), d + o, n);
			CHECK(hsplit_feed_buffer(&h, n) == 0);
		}
		CHECK(hsplit_finish(&h) == 0);
		if (!pass)
			hsplit_reset(&h, record, &r2);
	}
	hsplit_release(&h);
	CHECK(same_chunks(r1.chunks, r1.nr, want, nwant));
	CHECK(same_chunks(r2.chunks, r2.nr, want, nwant));
	run_release(&r1);
	run_release(&r2);
	free(want);
	free(d);
}

/*
 * A full-window split exactly 63 bytes after a chunk start: position 63
 * is a fresh position (its window reaches one byte before the start),
 * so the listed candidate there must be ignored.  Built by search: ones,
 * with 64 bytes ending at 32831 chosen so that the first split from 0 is
 * at 32831; the chunk is cut at 32768 and the rescan starts there.
 */
UNIT_TEST(hashsplit, par_candidate_at_fresh_border)
{
	enum { N = 100000, P = 32831 };
	unsigned char *d = xmalloc(N);
	struct chunk *want;
	size_t nwant;
	uint32_t seed;
	int bits, found = 0;

	for (seed = 1; seed < 1000000 && !found; seed++) {
		memset(d, 1, N);
		lcg_fill(d + P - 64, 64, seed);
		found = rollsum_find_split(d, P, &bits) == P &&
			rollsum_find_split(d + 32768, 63, &bits) == 0;
	}
	CHECK(found);
	model_split(d, N, N, &want, &nwant);
	CHECK(nwant >= 2 && want[0].len == 32768);
	for (size_t pm = 0; pm <= 2; pm++) {
		struct run r;
		run_init(&r);
		par_min = pm;
		cand_min = pm ? 0 : 1;
		run_split(&r, d, N, N, 4);
		par_min = cand_min = 0;
		CHECK(same_chunks(r.chunks, r.nr, want, nwant));
		run_release(&r);
	}
	free(want);
	free(d);
}
