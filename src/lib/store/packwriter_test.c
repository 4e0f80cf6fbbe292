/*
 * packwriter: with real zlib at level 1 the pack and idx for `abc` + its
 * tree are byte-identical to bup's (testvectors/pack); round trips read
 * back through the odb; the idx equals git index-pack's; git verify-pack
 * and git fsck --strict accept the repository; size limits split packs;
 * worker threads give the same bytes as inline; dedup; each writer
 * reports its midx/bloom upkeep to its own progress hook.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "store/odb.h"
#include "store/pack.h"
#include "store/packwriter.h"
#include "store/store_test_util.h"
#include "unit.h"

#define TV "pack/pack-ec8b2ed0a19056f16e7c0b19ea9023574778ee31"

/* A bare repository in a fresh temp dir; returns the objects dir. */
static const char *new_repo(char *objdir, size_t n)
{
	const char *dir = unit_tmpdir();
	if (st_sh("git init -q --bare '%s/repo'", dir) != 0)
		unit_fail(__FILE__, __LINE__, "git init failed");
	snprintf(objdir, n, "%s/repo/objects", dir);
	return dir;
}

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	size_t sl = strlen(suffix);

	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l >= sl && !strcmp(de->d_name + l - sl, suffix))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static int files_equal(const char *a, const char *b)
{
	struct buf x = BUF_INIT, y = BUF_INIT;
	int eq = buf_read_file(&x, a) == 0 && buf_read_file(&y, b) == 0 &&
		 x.len == y.len && !memcmp(x.data, y.data, x.len);
	buf_release(&x);
	buf_release(&y);
	return eq;
}

UNIT_TEST(packwriter, abc_byte_identical_to_bup)
{
	struct packwriter_opts o = { .level = 1, .impl = ZLIB_IMPL_ZLIB,
				     .no_upkeep = 1 };
	struct packwriter *w;
	struct oid blob, tree;
	unsigned char tbuf[64];
	char objdir[4096], a[4200], b[4200];
	struct packwriter_stats st;

	new_repo(objdir, sizeof(objdir));
	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	CHECK(packwriter_write(w, OBJ_BLOB, "abc", 3, &blob) == 0);
	memcpy(tbuf, "100644 0", 9);
	memcpy(tbuf + 9, blob.hash, 20);
	CHECK(packwriter_write(w, OBJ_TREE, tbuf, 29, &tree) == 0);
	/* Duplicates are skipped. */
	CHECK(packwriter_write(w, OBJ_BLOB, "abc", 3, &blob) == 0);
	CHECK_OID(blob.hash, "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f");
	CHECK_OID(tree.hash, "edfc968da748a002e63935ec54ff5706f3c35d82");
	packwriter_get_stats(w, &st);
	CHECK(st.objects == 2);
	CHECK(packwriter_close(w) == 0);

	snprintf(a, sizeof(a), "%s/pack/%s.pack", objdir,
		 "pack-ec8b2ed0a19056f16e7c0b19ea9023574778ee31");
	snprintf(b, sizeof(b), "%s", unit_vector(TV ".pack"));
	CHECK(files_equal(a, b));
	snprintf(a, sizeof(a), "%s/pack/%s.idx", objdir,
		 "pack-ec8b2ed0a19056f16e7c0b19ea9023574778ee31");
	snprintf(b, sizeof(b), "%s", unit_vector(TV ".idx"));
	CHECK(files_equal(a, b));
	/* The temporary directory is gone. */
	CHECK(st_sh("ls -d '%s'/pack-tmp-* 2>/dev/null | grep -q .",
		    objdir) != 0);
}

/* Writes nr LCG blobs of varying sizes plus a tree; returns the ids. */
static struct oid *write_blobs(struct packwriter *w, int nr, uint32_t seed)
{
	struct oid *ids = calloc((size_t)nr, sizeof(*ids));
	unsigned char *data = malloc(40000);

	for (int i = 0; i < nr; i++) {
		size_t len = (size_t)((i * 7919u) % 40000u);
		st_lcg_fill(data, len, seed + (uint32_t)i);
		if (i % 3 == 0)
			memset(data, 'x', len / 2);  /* compressible */
		if (packwriter_write(w, OBJ_BLOB, data, len, &ids[i]) < 0)
			unit_fail(__FILE__, __LINE__, "write: %s", err_last());
	}
	free(data);
	return ids;
}

static void check_read_back(const char *objdir, const struct oid *ids,
			    int nr, uint32_t seed)
{
	struct odb *odb;
	struct buf out = BUF_INIT;
	unsigned char *data = malloc(40000);
	int bad = 0;

	CHECK(odb_open(&odb, objdir) == 0);
	if (!odb)
		return;
	for (int i = 0; i < nr; i++) {
		size_t len = (size_t)((i * 7919u) % 40000u);
		enum obj_type t;
		st_lcg_fill(data, len, seed + (uint32_t)i);
		if (i % 3 == 0)
			memset(data, 'x', len / 2);
		buf_reset(&out);
		if (!odb_exists(odb, &ids[i]) ||
		    odb_read(odb, &ids[i], &t, &out) < 0 || t != OBJ_BLOB ||
		    out.len != len || memcmp(out.data, data, len))
			bad++;
	}
	CHECK(bad == 0);
	free(data);
	buf_release(&out);
	odb_free(odb);
}

UNIT_TEST(packwriter, round_trip_git_agrees)
{
	struct packwriter_opts o = { .level = 1 };
	struct packwriter *w;
	struct oid *ids;
	char objdir[4096];
	const char *dir = new_repo(objdir, sizeof(objdir));
	struct buf out = BUF_INIT;

	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	ids = write_blobs(w, 500, 1);
	CHECK(packwriter_close(w) == 0);
	check_read_back(objdir, ids, 500, 1);

	/* git verify-pack, and index-pack's idx equals ours. */
	CHECK(st_sh("cd '%s/pack' && for p in pack-*.pack; do "
		    "git verify-pack \"${p%%.pack}.idx\" >/dev/null && "
		    "cp \"$p\" '%s/copy.pack' && "
		    "git index-pack -o '%s/copy.idx' '%s/copy.pack' "
		    ">/dev/null && cmp \"${p%%.pack}.idx\" '%s/copy.idx' "
		    "|| exit 1; done", objdir, dir, dir, dir, dir) == 0);
	/* Upkeep made a bloom covering the pack. */
	CHECK(count_files(objdir, "") > 0);
	{
		char pd[4200];
		snprintf(pd, sizeof(pd), "%s/pack", objdir);
		CHECK(count_files(pd, "bup.bloom") == 1);
	}
	/* fsck needs something reachable: a tree of all blobs + commit. */
	{
		struct packwriter *w2;
		struct buf tree = BUF_INIT, commit = BUF_INIT;
		struct oid t, c;
		char name[32];

		CHECK(packwriter_new(&w2, objdir, NULL, &o) == 0);
		/* names "%05d" sort in git order as written */
		for (int i = 0; i < 500; i++) {
			snprintf(name, sizeof(name), "100644 %05d", i);
			buf_add(&tree, name, strlen(name) + 1);
			buf_add(&tree, ids[i].hash, 20);
		}
		CHECK(packwriter_write(w2, OBJ_TREE, tree.data, tree.len,
				       &t) == 0);
		buf_addf(&commit, "tree %s\nauthor A <a@b> 1700000000 +0000\n"
			 "committer A <a@b> 1700000000 +0000\n\nmsg\n",
			 oid_hex(&t));
		CHECK(packwriter_write(w2, OBJ_COMMIT, commit.data,
				       commit.len, &c) == 0);
		CHECK(packwriter_close(w2) == 0);
		CHECK(st_sh("git --git-dir='%s/repo' update-ref "
			    "refs/heads/main %s", dir, oid_hex(&c)) == 0);
		CHECK(st_sh_out(&out, "git --git-dir='%s/repo' fsck --strict "
				"2>&1", dir) == 0);
		CHECK(!strstr(out.data, "error") && !strstr(out.data, "warn"));
		buf_release(&tree);
		buf_release(&commit);
	}
	buf_release(&out);
	free(ids);
}

UNIT_TEST(packwriter, size_limit_splits)
{
	struct packwriter_opts o = { .level = 1, .max_size = 200000,
				     .no_upkeep = 1 };
	struct packwriter *w;
	struct packwriter_stats st;
	struct oid *ids;
	char objdir[4096], pd[4200];

	new_repo(objdir, sizeof(objdir));
	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	ids = write_blobs(w, 200, 7);
	packwriter_get_stats(w, &st);
	CHECK(packwriter_close(w) == 0);
	snprintf(pd, sizeof(pd), "%s/pack", objdir);
	CHECK(count_files(pd, ".pack") > 5);
	CHECK(count_files(pd, ".pack") == count_files(pd, ".idx"));
	CHECK(st.packs == (uint64_t)count_files(pd, ".pack"));
	/* No pack is bigger than the limit plus one object. */
	CHECK(st_sh("for f in '%s'/*.pack; do "
		    "[ $(stat -c %%s \"$f\") -lt 250000 ] || exit 1; done",
		    pd) == 0);
	check_read_back(objdir, ids, 200, 7);
	free(ids);

	/* Object limit: 10 per pack. */
	new_repo(objdir, sizeof(objdir));
	o.max_size = 0;
	o.max_objects = 10;
	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	ids = write_blobs(w, 95, 3);
	CHECK(packwriter_close(w) == 0);
	snprintf(pd, sizeof(pd), "%s/pack", objdir);
	CHECK(count_files(pd, ".pack") == 10);
	check_read_back(objdir, ids, 95, 3);
	free(ids);
}

/* Concatenated bytes of every pack in objdir/pack, in name order. */
static void all_packs(struct buf *out, const char *objdir)
{
	buf_reset(out);
	if (st_sh_out(out, "cat $(ls '%s'/pack/*.pack | sort)", objdir))
		unit_fail(__FILE__, __LINE__, "cat failed");
}

/*
 * 600 blobs (~12 MB) written with `o` and no worker threads, then with
 * `threads`: each run read back (and, with `verify`, checked by git
 * verify-pack), and the two runs' packs byte for byte the same.
 */
static void check_threads_identical(struct packwriter_opts o, int threads,
				    int verify)
{
	struct buf packs[2] = { BUF_INIT, BUF_INIT };
	char objdir[4096];

	for (int run = 0; run < 2; run++) {
		struct packwriter *w;
		struct oid *ids;

		new_repo(objdir, sizeof(objdir));
		o.threads = run ? threads : 0;
		CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
		ids = write_blobs(w, 600, 11);
		CHECK(packwriter_close(w) == 0);
		if (verify)
			CHECK(st_sh("git verify-pack '%s'/pack/*.idx",
				    objdir) == 0);
		check_read_back(objdir, ids, 600, 11);
		free(ids);
		all_packs(&packs[run], objdir);
	}
	CHECK(packs[0].len > 10000000 && packs[0].len == packs[1].len &&
	      !memcmp(packs[0].data, packs[1].data, packs[0].len));
	buf_release(&packs[0]);
	buf_release(&packs[1]);
}

UNIT_TEST(packwriter, threads_identical_and_spill)
{
	struct packwriter_opts o = { .level = 1, .no_upkeep = 1,
				     .max_size = 3000000 };

	/*
	 * More than the 4 MiB write buffer in total, and in several 3 MB
	 * packs (the buffered single-pass path).
	 */
	check_threads_identical(o, 3, 0);
	/* One big pack that spills past the buffer: hashed at close. */
	o.max_size = 0;
	o.level = 0;
	check_threads_identical(o, 2, 1);
}

UNIT_TEST(packwriter, dedup_against_odb_and_abort)
{
	struct packwriter_opts o = { .level = 1, .no_upkeep = 1 };
	struct packwriter *w;
	struct packwriter_stats st;
	struct odb *odb;
	struct oid id;
	char objdir[4096], pd[4200];
	struct buf raw = BUF_INIT;

	new_repo(objdir, sizeof(objdir));
	snprintf(pd, sizeof(pd), "%s/pack", objdir);
	/* Nothing written: nothing created. */
	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	CHECK(packwriter_close(w) == 0);
	CHECK(count_files(pd, ".pack") == 0);

	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	CHECK(packwriter_write(w, OBJ_BLOB, "hello", 5, &id) == 0);
	CHECK(packwriter_exists(w, &id) == 1);
	CHECK(packwriter_close(w) == 0);

	CHECK(odb_open(&odb, objdir) == 0);
	CHECK(packwriter_new(&w, objdir, odb, &o) == 0);
	CHECK(packwriter_write(w, OBJ_BLOB, "hello", 5, &id) == 0);
	packwriter_get_stats(w, &st);
	CHECK(st.objects == 0);
	/* Abort leaves nothing behind. */
	CHECK(packwriter_write(w, OBJ_BLOB, "other", 5, &id) == 0);
	CHECK(st_sh("ls -d '%s'/pack-tmp-* >/dev/null 2>&1", objdir) == 0);
	packwriter_abort(w);
	CHECK(st_sh("ls -d '%s'/pack-tmp-* >/dev/null 2>&1", objdir) != 0);
	CHECK(count_files(pd, ".pack") == 1);
	odb_free(odb);

	/* write_raw: an object copied verbatim, CRC checked. */
	{
		unsigned char h[16];
		struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_ZLIB, 1);
		struct buf out = BUF_INIT;
		enum obj_type t;
		uint32_t crc;

		buf_add(&raw, h, pack_encode_header(h, OBJ_BLOB, 4));
		zlib_deflate(z, &raw, "raw!", 4);
		crc = zlib_crc32(0, raw.data, raw.len);
		oid_hash_object(&id, OBJ_BLOB, "raw!", 4);
		CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
		CHECK(packwriter_write_raw(w, &id, raw.data, raw.len,
					   crc + 1) == ERR_CORRUPT);
		CHECK(packwriter_write_raw(w, &id, raw.data, raw.len,
					   crc) == 0);
		CHECK(packwriter_close(w) == 0);
		CHECK(odb_open(&odb, objdir) == 0);
		CHECK(odb_read(odb, &id, &t, &out) == 0);
		CHECK(t == OBJ_BLOB && out.len == 4 &&
		      !memcmp(out.data, "raw!", 4));
		odb_free(odb);
		buf_release(&out);
		zlib_deflater_free(z);
	}
	buf_release(&raw);
}

struct on_pack_count {
	pthread_t caller;
	int calls, wrong_thread;
};

static void count_pack(void *ctx, const char *idx_path)
{
	struct on_pack_count *c = ctx;

	c->calls++;
	if (!pthread_equal(pthread_self(), c->caller))
		c->wrong_thread++;
	if (access(idx_path, R_OK))
		c->wrong_thread += 1000;
}

/*
 * With workers, packs that end on a limit are finished on a worker, but
 * on_pack still runs on the caller's thread, once per pack, with the
 * idx in place; write_raw after queued writes keeps the order.
 */
UNIT_TEST(packwriter, threads_on_pack_and_raw_order)
{
	struct packwriter_opts o = { .level = 1, .no_upkeep = 1,
				     .max_objects = 10, .threads = 2 };
	struct on_pack_count c = { pthread_self(), 0, 0 };
	struct buf a = BUF_INIT, b = BUF_INIT;
	char objdir[4096];
	struct oid *ids, raw_id;
	static const unsigned char raw[] = {
		/* blob "hi\n" in pack form: header 0x33, zlib stream */
		0x33, 0x78, 0x01, 0xcb, 0xc8, 0xe4, 0x02, 0x00, 0x02, 0x17,
		0x00, 0xdc };

	oid_from_hex(&raw_id, "45b983be36b73c0788dc9cbcb76cbb80fc7bb057");
	for (int threads = 0; threads <= 2; threads += 2) {
		struct packwriter *w;
		new_repo(objdir, sizeof(objdir));
		o.threads = threads;
		o.on_pack = count_pack;
		o.on_pack_ctx = &c;
		c.calls = 0;
		CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
		ids = write_blobs(w, 95, 5);
		CHECK(packwriter_write_raw(w, &raw_id, raw, sizeof(raw),
					   zlib_crc32(0, raw, sizeof(raw))) ==
		      0);
		free(ids);
		ids = write_blobs(w, 30, 77);
		CHECK(packwriter_close(w) == 0);
		check_read_back(objdir, ids, 30, 77);
		free(ids);
		CHECK(c.calls == 13);
		CHECK(c.wrong_thread == 0);
		all_packs(threads ? &b : &a, objdir);
	}
	CHECK(a.len > 100000 && a.len == b.len &&
	      !memcmp(a.data, b.data, a.len));
	buf_release(&a);
	buf_release(&b);
}

/* Each writer reports its upkeep's lines to its own hook, or to none. */
struct upkeep_lines {
	int n;
	int saw_bloom;
};
static struct upkeep_lines upkeep_a, upkeep_b;

static void upkeep_hook_a(int rate_limited, const char *line)
{
	(void)rate_limited;
	upkeep_a.n++;
	upkeep_a.saw_bloom |= !strncmp(line, "bloom: ", 7);
}

static void upkeep_hook_b(int rate_limited, const char *line)
{
	(void)rate_limited;
	(void)line;
	upkeep_b.n++;
}

UNIT_TEST(packwriter, upkeep_progress_per_writer)
{
	struct packwriter_opts o = { .level = 1, .progress = upkeep_hook_a };
	struct packwriter *w;
	struct oid oid;
	char objdir[4096];

	memset(&upkeep_a, 0, sizeof(upkeep_a));
	memset(&upkeep_b, 0, sizeof(upkeep_b));
	new_repo(objdir, sizeof(objdir));
	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	CHECK(packwriter_write(w, OBJ_BLOB, "a", 1, &oid) == 0);
	CHECK(packwriter_close(w) == 0);
	CHECK(upkeep_a.n > 0 && upkeep_a.saw_bloom);
	CHECK(upkeep_b.n == 0);

	/* another writer's hook; then none at all */
	upkeep_a.n = 0;
	o.progress = upkeep_hook_b;
	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	CHECK(packwriter_write(w, OBJ_BLOB, "b", 1, &oid) == 0);
	CHECK(packwriter_close(w) == 0);
	CHECK(upkeep_a.n == 0 && upkeep_b.n > 0);
	upkeep_b.n = 0;
	o.progress = NULL;
	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	CHECK(packwriter_write(w, OBJ_BLOB, "c", 1, &oid) == 0);
	CHECK(packwriter_close(w) == 0);
	CHECK(upkeep_a.n == 0 && upkeep_b.n == 0);
}
