/*
 * fsck: the recovery-file classification, quick and full verification
 * of the test-vector pack and of damaged copies (pack bytes, idx CRC,
 * idx checksum, trailer), bup's do_pack() decisions that need no par2,
 * and results handed back in order whatever the thread count.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>

#include "util/err.h"
#include "pipelines/fsck.h"
#include "store/idx.h"
#include "store/packwriter.h"
#include "store/store_test_util.h"
#include "unit.h"

#define TV_STEM "pack/pack-ec8b2ed0a19056f16e7c0b19ea9023574778ee31"

/* Copy the test-vector pack and idx to "<dir>/<name>.{pack,idx}". */
static char *copy_vector(const char *dir, const char *name)
{
	char *stem = xstrfmt("%s/%s", dir, name);
	static const char *const ext[] = { "pack", "idx" };

	for (int i = 0; i < 2; i++) {
		char *src = xstrfmt("%s.%s", TV_STEM, ext[i]);
		CHECK(st_sh("cp '%s' '%s.%s' && chmod u+w '%s.%s'",
			    unit_vector(src), stem, ext[i], stem,
			    ext[i]) == 0);
		free(src);
	}
	return stem;
}

/* XOR one byte of "<stem><ext>" at off with x. */
static void flip(const char *stem, const char *ext, off_t off,
		 unsigned char x)
{
	char *path = xstrfmt("%s%s", stem, ext);
	int fd = open(path, O_RDWR);
	unsigned char c = 0;

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(pread(fd, &c, 1, off) == 1);
		c ^= x;
		CHECK(pwrite(fd, &c, 1, off) == 1);
		close(fd);
	}
	free(path);
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
		close(fd);
	}
}

UNIT_TEST(fsck, par2_status)
{
	const char *dir = unit_tmpdir();
	char *stem = xstrfmt("%s/pack-x", dir);
	char *p2 = xstrfmt("%s.par2", stem);
	char *vol = xstrfmt("%s.vol000+200.par2", stem);
	unsigned e, m;

	CHECK(fsck_par2_status(stem, &e, &m) == FSCK_PAR2_NONE);
	CHECK(e == 0 && m == 3);
	write_file(p2, "x");
	CHECK(fsck_par2_status(stem, &e, &m) == FSCK_PAR2_BAD);
	CHECK(e == 0 && m == 2);
	write_file(vol, "x");
	CHECK(fsck_par2_status(stem, &e, &m) == FSCK_PAR2_OK);
	CHECK(e == 0 && m == 0);
	write_file(vol, "");
	CHECK(fsck_par2_status(stem, &e, &m) == FSCK_PAR2_BAD);
	CHECK(e == 2 && m == 0);
	unlink(p2);
	/* an empty one is reported even when the other is missing */
	CHECK(fsck_par2_status(stem, &e, &m) == FSCK_PAR2_BAD);
	CHECK(e == 2 && m == 1);
	free(stem);
	free(p2);
	free(vol);
}

UNIT_TEST(fsck, verify_clean_vector)
{
	char *stem = copy_vector(unit_tmpdir(), "pack-v");

	CHECK(fsck_quick_verify(stem) == 0);
	CHECK(fsck_full_verify(stem) == 0);
	free(stem);
}

UNIT_TEST(fsck, verify_damaged_pack)
{
	const char *dir = unit_tmpdir();
	char *a = copy_vector(dir, "pack-a"), *b = copy_vector(dir, "pack-b");

	/* inside the first object's zlib stream */
	flip(a, ".pack", 15, 0x01);
	CHECK(fsck_quick_verify(a) == ERR_CORRUPT);
	CHECK(!strncmp(err_last(), "expected b'", 11));
	CHECK(strstr(err_last(), "', got '") != NULL);
	CHECK(fsck_full_verify(a) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "pack-a.pack") != NULL);
	/* the trailer itself */
	flip(b, ".pack", 70, 0x80);
	CHECK(fsck_quick_verify(b) == ERR_CORRUPT);
	CHECK(fsck_full_verify(b) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "checksum") != NULL);
	free(a);
	free(b);
}

UNIT_TEST(fsck, verify_damaged_idx)
{
	const char *dir = unit_tmpdir();
	char *a = copy_vector(dir, "pack-a"), *b = copy_vector(dir, "pack-b");

	/* a CRC of the idx (8 + 1024 + 2 x 20): its checksum catches it */
	flip(a, ".idx", 8 + 1024 + 40, 0x10);
	CHECK(fsck_quick_verify(a) == 0);   /* --quick reads the pack only */
	CHECK(fsck_full_verify(a) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "pack-a.idx") != NULL);
	/* a missing idx */
	CHECK(st_sh("rm '%s.idx'", b) == 0);
	CHECK(fsck_full_verify(b) < 0);
	free(a);
	free(b);
}

UNIT_TEST(fsck, do_pack_without_par2)
{
	const char *dir = unit_tmpdir();
	char *stem = copy_vector(dir, "pack-a");
	struct fsck_opts o;
	struct fsck_result r;

	memset(&o, 0, sizeof(o));
	o.threads = 1;
	fsck_result_init(&r, stem);
	fsck_pack(&o, &r);
	CHECK(r.code == 0 && !strcmp(r.action, "ok") && !r.used_par2);
	fsck_result_release(&r);

	/* -g without par2: skipped, nothing run */
	o.generate = 1;
	fsck_result_init(&r, stem);
	fsck_pack(&o, &r);
	CHECK(r.code == 0 && !strcmp(r.action, "skipped") && !r.step);
	fsck_result_release(&r);

	o.generate = 0;
	o.quick = 1;
	flip(stem, ".pack", 20, 0x04);
	fsck_result_init(&r, stem);
	fsck_pack(&o, &r);
	CHECK(r.code == 1 && !strcmp(r.action, "failed"));
	CHECK(r.step && !strcmp(r.step, "git verify"));
	CHECK(r.error && !strncmp(r.error, "expected b'", 11));
	fsck_result_release(&r);
	free(stem);
}

/*
 * A pack of NR_OBJS blobs and commits (full verification checks their
 * ids in batches of up to 128); object bad_id, if not -1, listed under
 * an id its content does not hash to.  Its stem; the real ids in ids.
 */
#define NR_OBJS 400

static char *write_many(const char *dir, const char *name, int bad_id,
			struct oid *ids)
{
	char *objdir = xstrfmt("%s/%s", dir, name), *stem = NULL;
	struct packwriter_opts o = { .level = 1 };
	struct packwriter *w = NULL;
	struct dirent *de;
	DIR *d;

	CHECK(st_sh("mkdir -p '%s/pack'", objdir) == 0);
	CHECK(packwriter_new(&w, objdir, NULL, &o) == 0);
	for (int i = 0; w && i < NR_OBJS; i++) {
		char *data = xstrfmt("object %d %0*d\n", i, 20 + i * 7, i);
		enum obj_type type = i % 5 ? OBJ_BLOB : OBJ_COMMIT;

		oid_hash_object(&ids[i], type, data, strlen(data));
		if (i == bad_id) {
			char *other = xstrfmt("not object %d", i);
			struct oid fake;

			oid_hash_object(&fake, type, other, strlen(other));
			CHECK(packwriter_write_known(w, type, data,
						     strlen(data), &fake) == 0);
			ids[i] = fake;
			free(other);
		} else {
			CHECK(packwriter_write_known(w, type, data,
						     strlen(data),
						     &ids[i]) == 0);
		}
		free(data);
	}
	CHECK(w && packwriter_close(w) == 0);
	free(objdir);
	objdir = xstrfmt("%s/%s/pack", dir, name);
	d = opendir(objdir);
	while (d && (de = readdir(d)))
		if (strlen(de->d_name) > 5 &&
		    !strcmp(de->d_name + strlen(de->d_name) - 5, ".pack"))
			stem = xstrfmt("%s/%.*s", objdir,
				       (int)strlen(de->d_name) - 5,
				       de->d_name);
	if (d)
		closedir(d);
	CHECK(stem != NULL);
	free(objdir);
	return stem;
}

/* The offset of object id in stem's pack, from its idx. */
static uint64_t offset_of(const char *stem, const struct oid *id)
{
	char *path = xstrfmt("%s.idx", stem);
	struct idx_file *idx = NULL;
	uint64_t off = 0;
	int64_t pos;

	CHECK(idx_open(&idx, path) == 0);
	if (idx && (pos = idx_find(idx, id)) >= 0)
		off = idx_nth_offset(idx, (uint32_t)pos);
	CHECK(off > 0);
	if (idx)
		idx_close(idx);
	free(path);
	return off;
}

/*
 * Ids checked in batches: a clean pack of many objects passes; one whose
 * content does not hash to its id is named with its offset, also when a
 * later object of the same batch is damaged too (the first problem in
 * pack order is the one reported); the damaged one alone is named.
 */
/* The last error says what fmt makes of the arguments. */
static void check_error_has(int line, const char *fmt, ...)
{
	struct buf want = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&want, fmt, ap);
	va_end(ap);
	if (!strstr(err_last(), want.data))
		unit_fail(__FILE__, line, "'%s' lacks '%s'", err_last(),
			  want.data);
	buf_release(&want);
}

UNIT_TEST(fsck, full_verify_many_objects)
{
	const char *dir = unit_tmpdir();
	struct oid ids[NR_OBJS];
	char *stem;

	stem = write_many(dir, "clean", -1, ids);
	CHECK(stem && fsck_full_verify(stem) == 0);
	free(stem);

	stem = write_many(dir, "badid", 200, ids);
	CHECK(stem && fsck_full_verify(stem) == ERR_CORRUPT);
	check_error_has(__LINE__, "object %s: content hashes to ",
			oid_hex(&ids[200]));
	check_error_has(__LINE__, " at offset %llu",
			(unsigned long long)offset_of(stem, &ids[200]));
	/* object 210: same batch, later in the pack, its bytes damaged */
	flip(stem, ".pack", (off_t)offset_of(stem, &ids[210]) + 6, 0x20);
	CHECK(fsck_full_verify(stem) == ERR_CORRUPT);
	check_error_has(__LINE__, "object %s: content hashes to ",
			oid_hex(&ids[200]));
	free(stem);

	/* in the last batch, which only the end of the pack flushes */
	stem = write_many(dir, "badlast", 390, ids);
	CHECK(stem && fsck_full_verify(stem) == ERR_CORRUPT);
	check_error_has(__LINE__, "object %s: content hashes to ",
			oid_hex(&ids[390]));
	free(stem);

	stem = write_many(dir, "damaged", -1, ids);
	flip(stem, ".pack", (off_t)offset_of(stem, &ids[210]) + 6, 0x20);
	CHECK(stem && fsck_full_verify(stem) == ERR_CORRUPT);
	check_error_has(__LINE__, "object %s at offset %llu: CRC mismatch",
			oid_hex(&ids[210]),
			(unsigned long long)offset_of(stem, &ids[210]));
	free(stem);
}

struct order_ctx {
	size_t seen;
	int ok;
	struct fsck_result *res;
};

static void order_done(void *vctx, struct fsck_result *r)
{
	struct order_ctx *c = vctx;

	if (r != &c->res[c->seen])
		c->ok = 0;
	c->seen++;
}

UNIT_TEST(fsck, run_in_order)
{
	const char *dir = unit_tmpdir();
	struct fsck_result res[6];
	struct order_ctx c = { 0, 1, res };
	struct fsck_opts o;

	memset(&o, 0, sizeof(o));
	o.threads = 4;
	for (int i = 0; i < 6; i++) {
		char name[16], *stem;

		snprintf(name, sizeof(name), "pack-%d", i);
		stem = copy_vector(dir, name);
		if (i == 3)
			flip(stem, ".pack", 15, 0x01);
		fsck_result_init(&res[i], stem);
		free(stem);
	}
	fsck_run(&o, res, 6, order_done, &c);
	CHECK(c.ok && c.seen == 6);
	for (int i = 0; i < 6; i++) {
		CHECK(res[i].code == (i == 3));
		fsck_result_release(&res[i]);
	}
}

UNIT_TEST(fsck, par2_probe)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	int parallel = -1;

	if (!fsck_par2_found()) {
		unit_skip(1, "par2 is not installed");
		return;
	}
	CHECK(fsck_par2_probe(&parallel, &out, &err) == 0);
	CHECK(parallel == 0 || parallel == 1);
	buf_release(&out);
	buf_release(&err);
}
