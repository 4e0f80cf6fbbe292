/*
 * odb: repositories written by git itself read back object for object
 * (loose objects; a `git gc --aggressive` pack full of deltas), compared
 * with `git cat-file`; existence through the bup-written midx and bloom
 * test vectors; an object whose content does not match its id is
 * reported corrupt.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "store/odb.h"
#include "store/store_test_util.h"
#include "unit.h"

/* A git work repo with history that delta-compresses well. */
static const char *make_git_repo(void)
{
	const char *dir = unit_tmpdir();
	int rc = st_sh(
		"cd '%s' && git init -q w && cd w && "
		"git config user.name T && git config user.email t@t && "
		"for i in $(seq 1 30); do "
		"  seq 1 $((2000 + i * 37)) > f.txt; echo v$i >> f.txt; "
		"  mkdir -p d$((i %% 3)); echo $i > d$((i %% 3))/x; "
		"  git add -A && git commit -q -m c$i || exit 1; "
		"done", dir);
	if (rc)
		unit_fail(__FILE__, __LINE__, "making the git repo failed");
	return dir;
}

/* Compare every object git lists with what odb_read returns. */
static void compare_all(const char *dir, int want_min, unsigned flags)
{
	struct buf list = BUF_INIT, want = BUF_INIT, got = BUF_INIT;
	struct odb *odb;
	char objdir[4096];
	char *line, *save = NULL;
	int n = 0, bad = 0;

	snprintf(objdir, sizeof(objdir), "%s/w/.git/objects", dir);
	CHECK(odb_open(&odb, objdir) == 0);
	if (!odb)
		return;
	CHECK(st_sh_out(&list, "cd '%s/w' && git cat-file "
			"--batch-all-objects --batch-check='%%(objectname) "
			"%%(objecttype)'", dir) == 0);
	for (line = strtok_r(list.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct oid id;
		enum obj_type t;

		if (oid_from_hex(&id, line) < 0)
			continue;
		n++;
		buf_reset(&got);
		if (odb_read_flags(odb, &id, &t, &got, flags) < 0 ||
		    strcmp(obj_type_name(t), line + 41)) {
			unit_fail(__FILE__, __LINE__, "%s: %s", line,
				  err_last());
			bad++;
			continue;
		}
		st_sh_out(&want, "cd '%s/w' && git cat-file %s %.40s", dir,
			  line + 41, line);
		if (want.len != got.len || memcmp(want.data, got.data,
						  got.len))
			bad++;
	}
	CHECK(n >= want_min);
	CHECK(bad == 0);
	odb_free(odb);
	buf_release(&list);
	buf_release(&want);
	buf_release(&got);
}

UNIT_TEST(odb, loose_then_gc_aggressive)
{
	const char *dir = make_git_repo();
	struct buf out = BUF_INIT;

	/* 30 commits, 30+ trees, blobs: all loose. */
	compare_all(dir, 100, 0);
	compare_all(dir, 100, ODB_READ_CRC_BLOBS);
	CHECK(st_sh("cd '%s/w' && git gc -q --aggressive && "
		    "test -z \"$(find .git/objects -type f -path "
		    "'*/objects/[0-9a-f][0-9a-f]/*')\"", dir) == 0);
	/* The pack really has deltas. */
	CHECK(st_sh_out(&out, "cd '%s/w' && git verify-pack -v "
			".git/objects/pack/*.idx | grep -c 'chain length'",
			dir) == 0);
	compare_all(dir, 100, 0);
	/* deltas take the usual path */
	compare_all(dir, 100, ODB_READ_CRC_BLOBS);
	buf_release(&out);
}

/*
 * ODB_READ_CRC_BLOBS: whole objects from a pack without deltas read
 * back as git has them; a flipped byte inside a packed blob is caught
 * by the idx CRC (and without the flag by the id), inside a tree too.
 */
UNIT_TEST(odb, read_flags_crc)
{
	const char *dir = make_git_repo();
	struct buf out = BUF_INIT, line = BUF_INIT;
	struct oid blob, tree;
	char hb[OID_HEXSZ + 1], ht[OID_HEXSZ + 1];
	enum obj_type t;
	struct odb *odb;
	char objdir[4096];

	CHECK(st_sh("cd '%s/w' && head -c 20000 /dev/urandom > big && "
		    "git add big && git commit -q -m big && "
		    "git repack -adq --window=0 --depth=0", dir) == 0);
	compare_all(dir, 100, ODB_READ_CRC_BLOBS);

	CHECK(st_sh_out(&line, "cd '%s/w' && git rev-parse HEAD:big",
			dir) == 0);
	CHECK(oid_from_hex(&blob, line.data) == 0);
	buf_reset(&line);
	CHECK(st_sh_out(&line, "cd '%s/w' && git rev-parse HEAD^{tree}",
			dir) == 0);
	CHECK(oid_from_hex(&tree, line.data) == 0);
	snprintf(objdir, sizeof(objdir), "%s/w/.git/objects", dir);
	/* change one byte 20 bytes into each object's packed form */
	oid_to_hex(&blob, hb);
	oid_to_hex(&tree, ht);
	CHECK(st_sh("cd '%s/w/.git/objects/pack' && for o in %s %s; do "
		    "off=$(git show-index < $(ls *.idx) | awk -v o=$o '$2 == o "
		    "{ print $1 }') && test -n \"$off\" && "
		    "b=$(od -An -tu1 -j $((off + 20)) -N1 $(ls *.pack) "
		    "| tr -d ' ') && printf \"$(printf '\\\\%%03o' $(( (b + 1) %% 256 )))\" "
		    "| dd of=$(ls *.pack) bs=1 seek=$((off + 20)) "
		    "conv=notrunc status=none || exit 1; done", dir, hb, ht)
	      == 0);
	CHECK(odb_open(&odb, objdir) == 0);
	if (!odb)
		goto out;
	CHECK(odb_read_flags(odb, &blob, &t, &out, ODB_READ_CRC_BLOBS) ==
	      ERR_CORRUPT);
	CHECK(strstr(err_last(), "CRC mismatch") != NULL);
	CHECK(out.len == 0);
	CHECK(odb_read(odb, &blob, &t, &out) == ERR_CORRUPT);
	CHECK(out.len == 0);
	CHECK(odb_read_flags(odb, &tree, &t, &out, ODB_READ_CRC_BLOBS) ==
	      ERR_CORRUPT);
	CHECK(out.len == 0);
	odb_free(odb);
out:
	buf_release(&out);
	buf_release(&line);
}

UNIT_TEST(odb, ref_delta_thin_pack)
{
	/*
	 * A pack with REF_DELTA objects: index-pack --fix-thin keeps
	 * them as they came from pack-objects --thin.  Make one with
	 * `git pack-objects --no-reuse-delta` fed through --stdout and
	 * --delta-base-offset off (REF_DELTA).
	 */
	const char *dir = make_git_repo();
	CHECK(st_sh("cd '%s/w' && git rev-list --objects --all | "
		    "git pack-objects -q --window=50 --depth=50 "
		    "--no-reuse-delta .git/objects/pack/pack >/dev/null && "
		    "git prune-packed && git verify-pack -v "
		    ".git/objects/pack/*.idx | grep -q 'chain length'",
		    dir) == 0);
	compare_all(dir, 100, 0);
	compare_all(dir, 100, ODB_READ_CRC_BLOBS);
}

UNIT_TEST(odb, midx_and_bloom_vectors)
{
	const char *dir = unit_tmpdir();
	char objdir[4096];
	struct odb *odb;
	struct buf list = BUF_INIT;
	int n = 0, missing = 0;

	CHECK(st_sh("mkdir -p '%s/objects/pack' && cp '%s'/* "
		    "'%s/objects/pack/'", dir,
		    unit_vector("midx-bloom"), dir) == 0);
	snprintf(objdir, sizeof(objdir), "%s/objects", dir);
	CHECK(odb_open(&odb, objdir) == 0);
	if (!odb)
		return;
	CHECK(odb_count(odb) == 1179);
	CHECK(st_sh_out(&list, "for f in '%s'/objects/pack/*.idx; do "
			"git show-index < \"$f\"; done", dir) == 0);
	for (char *p = list.data; (p = strchr(p, ' ')); p++) {
		struct oid id;
		if (oid_from_hex(&id, p + 1) < 0)
			continue;
		n++;
		if (!odb_exists(odb, &id))
			missing++;
		id.hash[19] ^= 0x55;
		if (odb_exists(odb, &id))
			missing++;
	}
	CHECK(n == 1179);
	CHECK(missing == 0);
	odb_free(odb);
	buf_release(&list);
}

UNIT_TEST(odb, corrupt_and_missing)
{
	const char *dir = unit_tmpdir();
	char objdir[4096];
	struct odb *odb;
	struct buf out = BUF_INIT, hex = BUF_INIT;
	struct oid id, other;
	enum obj_type t;

	/* A loose object stored under another object's name. */
	CHECK(st_sh_out(&hex, "cd '%s' && git init -q --bare r && "
			"echo hello | git --git-dir=r hash-object -w --stdin",
			dir) == 0);
	CHECK(oid_from_hex(&id, hex.data) == 0);
	buf_setlen(&hex, 40);
	oid_hash_object(&other, OBJ_BLOB, "x", 1);
	CHECK(st_sh("cd '%s/r/objects' && mkdir -p %.2s && cp %.2s/%s %.2s/%s",
		    dir, oid_hex(&other), hex.data, hex.data + 2,
		    oid_hex(&other), oid_hex(&other) + 2) == 0);
	snprintf(objdir, sizeof(objdir), "%s/r/objects", dir);
	CHECK(odb_open(&odb, objdir) == 0);
	CHECK(odb_read(odb, &id, &t, &out) == 0);
	CHECK(t == OBJ_BLOB && out.len == 6);
	/* Loose objects do not count for existence (bup). */
	CHECK(odb_exists(odb, &id) == 0);
	buf_reset(&out);
	CHECK(odb_read(odb, &other, &t, &out) == ERR_CORRUPT);
	CHECK(out.len == 0);
	other.hash[0] ^= 1;
	CHECK(odb_read(odb, &other, &t, &out) == ERR_NOTFOUND);
	/* A loose file that is not zlib. */
	CHECK(st_sh("cd '%s/r/objects/%.2s' && chmod u+w %s && "
		    "echo junk > %s", dir, hex.data, hex.data + 2,
		    hex.data + 2) == 0);
	CHECK(odb_read(odb, &id, &t, &out) == ERR_CORRUPT);
	odb_free(odb);
	/* A corrupt idx makes opening fail, naming it. */
	CHECK(st_sh("echo junkjunkjunk > '%s/pack/pack-1.idx'", objdir) == 0);
	CHECK(odb_open(&odb, objdir) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "pack-1.idx") != NULL);
	buf_release(&out);
	buf_release(&hex);
}
