/*
 * tree: the validating iterator on good and hand-made corrupt buffers,
 * git's order, the builder against known ids, bup's name mangling.
 */
#include <string.h>

#include "util/err.h"
#include "store/tree.h"
#include "unit.h"

static void add_entry(struct buf *b, const char *mode, const char *name,
		      const char *hex)
{
	struct oid oid;

	oid_from_hex(&oid, hex);
	buf_addf(b, "%s %s", mode, name);
	buf_addch(b, 0);
	buf_add(b, oid.hash, OID_RAWSZ);
}

#define BLOB_ABC "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f"

UNIT_TEST(tree, iterate)
{
	struct buf b = BUF_INIT;
	struct tree_iter it;
	struct tree_entry e;

	add_entry(&b, "100644", "0", BLOB_ABC);
	add_entry(&b, "40000", "dir", "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
	tree_iter_init(&it, b.data, b.len);
	CHECK(tree_iter_next(&it, &e) == 1);
	CHECK(e.mode == TREE_MODE_BLOB && e.namelen == 1 && e.name[0] == '0');
	CHECK_OID(e.oid.hash, BLOB_ABC);
	CHECK(tree_iter_next(&it, &e) == 1);
	CHECK(e.mode == TREE_MODE_TREE && e.namelen == 3);
	CHECK(tree_iter_next(&it, &e) == 0);
	buf_release(&b);
}

static int parse_all(const void *p, size_t len)
{
	struct tree_iter it;
	struct tree_entry e;
	int r;

	tree_iter_init(&it, p, len);
	while ((r = tree_iter_next(&it, &e)) == 1)
		;
	return r;
}

UNIT_TEST(tree, corrupt)
{
	struct buf b = BUF_INIT;

	add_entry(&b, "100644", "ok", BLOB_ABC);
	CHECK(parse_all(b.data, b.len) == 0);
	/* truncated id: every shorter length fails (or ends cleanly at 0) */
	for (size_t n = 1; n < b.len; n++)
		CHECK(parse_all(b.data, n) == ERR_CORRUPT);
	buf_reset(&b);
	add_entry(&b, "10a644", "x", BLOB_ABC);
	CHECK(parse_all(b.data, b.len) == ERR_CORRUPT);
	buf_reset(&b);
	add_entry(&b, "", "x", BLOB_ABC);
	CHECK(parse_all(b.data, b.len) == ERR_CORRUPT);
	buf_reset(&b);
	add_entry(&b, "1006440", "x", BLOB_ABC);   /* too many digits */
	CHECK(parse_all(b.data, b.len) == ERR_CORRUPT);
	buf_reset(&b);
	add_entry(&b, "70000", "x", BLOB_ABC);     /* no such type */
	CHECK(parse_all(b.data, b.len) == ERR_CORRUPT);
	buf_reset(&b);
	add_entry(&b, "100644", "", BLOB_ABC);     /* empty name */
	CHECK(parse_all(b.data, b.len) == ERR_CORRUPT);
	CHECK(parse_all("100644 name-without-nul", 23) == ERR_CORRUPT);
	CHECK(parse_all("100644", 6) == ERR_CORRUPT);
	buf_release(&b);
}

UNIT_TEST(tree, order_and_builder)
{
	struct tree_builder tb;
	struct objsink sink;
	struct buf b = BUF_INIT;
	struct oid oid, blob;
	struct tree_iter it;
	struct tree_entry e;
	const char *want[] = { "foo-bar", "foo.txt", "foo", "foo0" };

	/* "foo/" (dir) sorts after "foo.txt" but before "foo0" */
	CHECK(tree_name_cmp("foo", 3, TREE_MODE_TREE, "foo.txt", 7,
			    TREE_MODE_BLOB) > 0);
	CHECK(tree_name_cmp("foo", 3, TREE_MODE_BLOB, "foo.txt", 7,
			    TREE_MODE_BLOB) < 0);
	CHECK(tree_name_cmp("foo", 3, TREE_MODE_TREE, "foo0", 4,
			    TREE_MODE_BLOB) < 0);
	CHECK(tree_name_cmp("a", 1, TREE_MODE_BLOB, "a", 1,
			    TREE_MODE_BLOB) == 0);

	objsink_hash_only_init(&sink);
	tree_builder_init(&tb);
	oid_from_hex(&blob, BLOB_ABC);
	tree_builder_add(&tb, TREE_MODE_BLOB, "0", 1, &blob);
	CHECK(tree_builder_write(&tb, &sink, &oid) == 0);
	CHECK_OID(oid.hash, "edfc968da748a002e63935ec54ff5706f3c35d82");
	CHECK(tb.nr == 0);
	tree_builder_add(&tb, TREE_MODE_BLOB, "foo0", 4, &blob);
	tree_builder_add(&tb, TREE_MODE_TREE, "foo", 3, &oid_empty_tree);
	tree_builder_add(&tb, TREE_MODE_BLOB, "foo.txt", 7, &blob);
	tree_builder_add(&tb, TREE_MODE_BLOB, "foo-bar", 7, &blob);
	tree_builder_serialize(&tb, &b);
	tree_iter_init(&it, b.data, b.len);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		CHECK(tree_iter_next(&it, &e) == 1);
		CHECK(e.namelen == strlen(want[i]) &&
		      !memcmp(e.name, want[i], e.namelen));
	}
	CHECK(tree_iter_next(&it, &e) == 0);
	/* the tree object git mktree makes of the same entries */
	oid_hash_object(&oid, OBJ_TREE, b.data, b.len);
	CHECK_OID(oid.hash, "05f3064b25b61ee3d0f341167169d1932663cb7e");
	tree_builder_release(&tb);
	buf_release(&b);
}

static void check_mangle(const char *name, unsigned fs, unsigned git,
			 const char *want)
{
	struct buf b = BUF_INIT;

	tree_mangle_name(&b, name, strlen(name), fs, git);
	if (strcmp(b.data, want))
		unit_fail(__FILE__, __LINE__, "mangle %s: got %s want %s",
			  name, b.data, want);
	buf_release(&b);
}

UNIT_TEST(tree, mangle)
{
	enum tree_bup_kind k;

	check_mangle("big", 0100644, TREE_MODE_TREE, "big.bup");
	check_mangle("z.bup", 0100644, TREE_MODE_TREE, "z.bup.bup");
	check_mangle("y.bup", 0100644, TREE_MODE_BLOB, "y.bup.bupl");
	check_mangle("x.bupl", 0100644, TREE_MODE_BLOB, "x.bupl.bupl");
	check_mangle("a.bupm", 0100644, TREE_MODE_BLOB, "a.bupm.bupl");
	check_mangle("d.bup", 040755, TREE_MODE_TREE, "d.bup.bupl");
	check_mangle("plain", 0100644, TREE_MODE_BLOB, "plain");
	check_mangle("dir", 040755, TREE_MODE_TREE, "dir");
	check_mangle("x.bu", 0100644, TREE_MODE_BLOB, "x.bu");
	check_mangle("x.bupxy", 0100644, TREE_MODE_BLOB, "x.bupxy");
	CHECK(tree_demangle_name("big.bup", 7, 040000, &k) == 3 &&
	      k == TREE_BUP_CHUNKED);
	CHECK(tree_demangle_name("y.bup.bupl", 10, 040000, &k) == 5 &&
	      k == TREE_BUP_NORMAL);
	CHECK(tree_demangle_name("z.bup.bup", 9, 040000, &k) == 5 &&
	      k == TREE_BUP_CHUNKED);
	CHECK(tree_demangle_name(".bupm", 5, 0100644, &k) == 0 &&
	      k == TREE_BUP_NORMAL);
	CHECK(tree_demangle_name(".bupm", 5, 040000, &k) == 0 &&
	      k == TREE_BUP_CHUNKED);
	CHECK(tree_demangle_name("m.bupm", 6, 040000, &k) == 1 &&
	      k == TREE_BUP_CHUNKED);
	CHECK(tree_demangle_name("m.bupm", 6, 0100644, &k) == 1 &&
	      k == TREE_BUP_NORMAL);
	CHECK(tree_demangle_name("plain", 5, 0100644, &k) == 5 &&
	      k == TREE_BUP_NORMAL);
}
