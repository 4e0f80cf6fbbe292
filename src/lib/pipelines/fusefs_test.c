/*
 * fusefs without a mount: path -> item resolution, bup fuse's stat
 * mapping with and without --meta, listings, reads at any offset, the
 * bounded path cache and reader list, the refs snapshot, and EIO for
 * objects the repository lacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "meta/meta.h"
#include "pipelines/fusefs.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/tree.h"
#include "testrepo.h"
#include "unit.h"
#include "vfs/vfs.h"

#define T1 1700000000   /* 2023-11-14 22:13:20 UTC */

static void meta_of(struct meta *m, unsigned mode, const char *target)
{
	meta_init(m);
	m->mode = mode;
	m->uid = 1000;
	m->gid = 100;
	m->atime.sec = T1 + 2;
	m->mtime.sec = T1;
	m->ctime.sec = T1 + 1;
	if (target)
		buf_addstr(&m->symlink_target, target);
}

/*
 * main: one save (T1) of testrepo_put_files()'s files (testrepo.h),
 * with a .bupm of
 *   dir 040700, then big 0100640, ghost 0100644, hello 0100600,
 *   link -> hello (sub has none: a directory)
 * and the tag t1 on it.
 */
static struct repo *make_repo(void)
{
	static const char *const names[4] = { "big", "ghost", "hello",
					       "link" };
	struct testrepo t;
	struct testrepo_files files;
	struct tree_builder tb;
	struct meta dm, mm[4];
	struct oid root, commit;

	testrepo_open(&t);
	tree_builder_init(&tb);
	testrepo_put_files(&t, &files);
	meta_of(&dm, 040700, NULL);
	meta_of(&mm[0], 0100640, NULL);
	meta_of(&mm[1], 0100644, NULL);
	meta_of(&mm[2], 0100600, NULL);
	meta_of(&mm[3], 0120777, "hello");
	testrepo_add_bupm(&t, &tb, &dm, names, mm, 4);
	testrepo_add_files(&tb, &files);
	root = testrepo_put_tree(&t, &tb);
	commit = testrepo_put_commit(&t, &root, NULL, T1);
	testrepo_close(&t);
	testrepo_must(refs_update(t.repo, "refs/heads/main", &commit, NULL, 0,
				  NULL), "ref");
	testrepo_must(refs_update(t.repo, "refs/tags/t1", &commit, NULL, 0,
				  NULL), "tag");
	tree_builder_release(&tb);
	meta_release(&dm);
	for (int i = 0; i < 4; i++)
		meta_release(&mm[i]);
	return t.repo;
}

static struct fusefs *fs_new(struct repo *r, int want_meta, size_t cap,
			     size_t readers)
{
	struct fusefs_opts o = { .want_meta = want_meta, .cache_bytes = cap,
				 .max_readers = readers };
	struct fusefs *fs = NULL;

	testrepo_must(fusefs_new(&fs, r, &o), "fusefs_new");
	return fs;
}

UNIT_TEST(fusefs, stat_without_meta_is_bups_defaults)
{
	struct repo *r;
	struct fusefs *fs;
	struct stat st;

	testrepo_tz_utc();
	r = make_repo();
	fs = fs_new(r, 0, 0, 0);
	CHECK(fusefs_getattr(fs, "/", &st) == 0 && st.st_mode == 040755 &&
	      st.st_nlink == 1 && st.st_size == 0 && st.st_mtime == 0);
	CHECK(fusefs_getattr(fs, "/main", &st) == 0 &&
	      st.st_mode == 040755 && st.st_mtime == 0);
	CHECK(fusefs_getattr(fs, "/main/latest", &st) == 0 &&
	      st.st_mode == 0120755 &&
	      st.st_size == (off_t)strlen("2023-11-14-221320"));
	/* a save shows its recorded directory metadata, as bup's does */
	CHECK(fusefs_getattr(fs, "/main/2023-11-14-221320", &st) == 0 &&
	      st.st_mode == 040700 && st.st_uid == 1000 &&
	      st.st_mtime == T1 && st.st_atime == T1 + 2);
	CHECK(fusefs_getattr(fs, "/.tag/t1", &st) == 0 &&
	      st.st_mode == 040700);
	CHECK(fusefs_getattr(fs, "/main/latest/hello", &st) == 0 &&
	      st.st_mode == 0100644 && st.st_uid == 0 && st.st_gid == 0 &&
	      st.st_mtime == 0 && st.st_size == 6 && st.st_nlink == 1 &&
	      st.st_blocks == 1);
	CHECK(fusefs_getattr(fs, "/main/latest/big", &st) == 0 &&
	      st.st_mode == 0100644 && st.st_size == 10);
	CHECK(fusefs_getattr(fs, "/main/latest/link", &st) == 0 &&
	      st.st_mode == 0120755 && st.st_size == 5);
	CHECK(fusefs_getattr(fs, "/main/latest/sub/f", &st) == 0 &&
	      st.st_size == 7);
	CHECK(fusefs_getattr(fs, "/main/latest/nope", &st) == -ENOENT);
	CHECK(fusefs_getattr(fs, "/nope/x", &st) == -ENOENT);
	CHECK(fusefs_getattr(fs, "/main/latest/hello/x", &st) == -ENOTDIR);
	/* a blob the repository lacks: its size cannot be known */
	CHECK(fusefs_getattr(fs, "/main/latest/ghost", &st) == -EIO);
	fusefs_free(fs);
	repo_free(r);
	testrepo_tz_restore();
}

UNIT_TEST(fusefs, stat_with_meta_is_the_record)
{
	struct repo *r;
	struct fusefs *fs;
	struct stat st;

	testrepo_tz_utc();
	r = make_repo();
	fs = fs_new(r, 1, 0, 0);
	CHECK(fusefs_getattr(fs, "/main/latest/hello", &st) == 0 &&
	      st.st_mode == 0100600 && st.st_uid == 1000 &&
	      st.st_gid == 100 && st.st_mtime == T1 &&
	      st.st_ctime == T1 + 1 && st.st_atime == T1 + 2 &&
	      st.st_size == 6);
	CHECK(fusefs_getattr(fs, "/main/latest/big", &st) == 0 &&
	      st.st_mode == 0100640 && st.st_size == 10);
	CHECK(fusefs_getattr(fs, "/main/latest/link", &st) == 0 &&
	      st.st_mode == 0120777 && st.st_size == 5);
	CHECK(fusefs_getattr(fs, "/main/latest/sub", &st) == 0 &&
	      st.st_mode == 040755 && st.st_mtime == 0);
	fusefs_free(fs);
	repo_free(r);
	testrepo_tz_restore();
}

UNIT_TEST(fusefs, stat_mapping_floors_times_at_the_epoch)
{
	struct vfs_item it;
	struct stat st;

	vfs_item_init(&it);
	it.kind = VFS_ITEM;
	it.mode = 0100600;
	it.has_meta = 1;
	it.meta.mode = 0100600;
	it.meta.uid = -1;          /* not recorded: bup's None -> 0 */
	it.meta.gid = 7;
	it.meta.mtime.sec = -5;
	it.meta.atime.sec = 12;
	fusefs_stat(&st, &it, 1025, 1);
	CHECK(st.st_mode == 0100600 && st.st_uid == 0 && st.st_gid == 7 &&
	      st.st_mtime == 0 && st.st_atime == 12 && st.st_size == 1025 &&
	      st.st_blocks == 3 && st.st_nlink == 1);
	/* without --meta, a file's record is not shown */
	fusefs_stat(&st, &it, 1, 0);
	CHECK(st.st_uid == 0 && st.st_gid == 0 && st.st_atime == 0);
	vfs_item_release(&it);
}

struct names {
	struct buf all;
};

static int collect(void *ctx, const char *name)
{
	struct names *n = ctx;

	buf_addstr(&n->all, name);
	buf_addch(&n->all, ' ');
	return 0;
}

UNIT_TEST(fusefs, listings_and_links)
{
	struct repo *r;
	struct fusefs *fs;
	struct names n = { BUF_INIT };
	struct fusefs_stats s0, s1;
	struct stat st;
	char link[64];

	testrepo_tz_utc();
	r = make_repo();
	fs = fs_new(r, 0, 0, 0);
	CHECK(fusefs_readdir(fs, "/", collect, &n) == 0);
	CHECK(!strcmp(n.all.data, ".. . .tag main "));
	buf_reset(&n.all);
	CHECK(fusefs_readdir(fs, "/main", collect, &n) == 0);
	CHECK(!strcmp(n.all.data, ".. . 2023-11-14-221320 latest "));
	buf_reset(&n.all);
	CHECK(fusefs_readdir(fs, "/.tag", collect, &n) == 0);
	CHECK(!strcmp(n.all.data, ".. . t1 "));
	buf_reset(&n.all);
	/* (the kernel follows "latest" itself: readdir never sees it) */
	CHECK(fusefs_readdir(fs, "/main/latest", collect, &n) == -ENOTDIR);
	CHECK(fusefs_getattr(fs, "/main/2023-11-14-221320", &st) == 0);
	fusefs_get_stats(fs, &s0);
	CHECK(fusefs_readdir(fs, "/main/2023-11-14-221320", collect, &n) ==
	      0);
	CHECK(!strcmp(n.all.data, ".. . big ghost hello link sub "));
	/* the listed files are cached (not the directory sub) */
	fusefs_get_stats(fs, &s1);
	CHECK(s1.cache_entries == s0.cache_entries + 4);
	CHECK(fusefs_readdir(fs, "/main/latest/hello", collect, &n) ==
	      -ENOTDIR);
	CHECK(fusefs_readlink(fs, "/main/latest", link, sizeof(link)) == 0 &&
	      !strcmp(link, "2023-11-14-221320"));
	CHECK(fusefs_readlink(fs, "/main/latest/link", link, 3) == 0 &&
	      !strcmp(link, "he"));
	CHECK(fusefs_readlink(fs, "/main/latest/hello", link, 3) == -EINVAL);
	buf_release(&n.all);
	fusefs_free(fs);
	repo_free(r);
	testrepo_tz_restore();
}

UNIT_TEST(fusefs, reads_at_any_offset)
{
	struct repo *r;
	struct fusefs *fs;
	struct fusefs_file *f = NULL, *g = NULL, *h = NULL;
	struct fusefs_stats st;
	char buf[32];

	testrepo_tz_utc();
	r = make_repo();
	fs = fs_new(r, 0, 0, 1);   /* one reader held at a time */
	CHECK(fusefs_open(fs, "/main/latest/big", O_WRONLY, &f) == -EACCES);
	CHECK(fusefs_open(fs, "/main/latest/nope", O_RDONLY, &f) == -ENOENT);
	CHECK(fusefs_open(fs, "/main/latest/sub", O_RDONLY, &f) == -EISDIR);
	CHECK(fusefs_open(fs, "/main/latest/big", O_RDONLY, &f) == 0);
	CHECK(fusefs_open(fs, "/main/latest/hello", O_RDONLY, &g) == 0);
	if (f && g) {
		CHECK(fusefs_read(fs, f, buf, 3, 5) == 3 &&
		      !memcmp(buf, "fgh", 3));
		CHECK(fusefs_read(fs, g, buf, 32, 1) == 5 &&
		      !memcmp(buf, "ello\n", 5));
		fusefs_get_stats(fs, &st);
		CHECK(st.readers == 1);
		/* on from where it was (after the reader was dropped) */
		CHECK(fusefs_read(fs, f, buf, 32, 8) == 2 &&
		      !memcmp(buf, "ij", 2));
		CHECK(fusefs_read(fs, f, buf, 4, 0) == 4 &&
		      !memcmp(buf, "abcd", 4));
		CHECK(fusefs_read(fs, f, buf, 32, 4) == 6 &&
		      !memcmp(buf, "efghij", 6));
		CHECK(fusefs_read(fs, f, buf, 32, 10) == 0);
		CHECK(fusefs_read(fs, f, buf, 32, 99) == 0);
	}
	fusefs_release(fs, f);
	fusefs_release(fs, g);
	/* a blob the repository lacks: EIO on read, the fs goes on */
	CHECK(fusefs_open(fs, "/main/latest/ghost", O_RDONLY, &h) == 0);
	if (h)
		CHECK(fusefs_read(fs, h, buf, 32, 0) == -EIO);
	fusefs_release(fs, h);
	CHECK(fusefs_open(fs, "/main/latest/hello", O_RDONLY, &g) == 0);
	if (g)
		CHECK(fusefs_read(fs, g, buf, 32, 0) == 6);
	fusefs_release(fs, g);
	fusefs_get_stats(fs, &st);
	CHECK(st.readers == 0 && st.contexts == 1);
	fusefs_free(fs);
	repo_free(r);
	testrepo_tz_restore();
}

UNIT_TEST(fusefs, cache_stays_under_its_cap)
{
	struct repo *r;
	struct fusefs *fs;
	struct fusefs_stats s;
	struct stat st;
	static const char *const paths[] = {
		"/main", "/main/latest", "/main/2023-11-14-221320",
		"/main/latest/hello", "/main/latest/big", "/main/latest/link",
		"/main/latest/sub", "/main/latest/sub/f", "/.tag",
		"/.tag/t1" };

	testrepo_tz_utc();
	r = make_repo();
	fs = fs_new(r, 1, 4096, 0);
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
			CHECK(fusefs_getattr(fs, paths[i], &st) == 0);
			fusefs_get_stats(fs, &s);
			CHECK(s.cache_bytes <= s.cache_cap &&
			      s.cache_cap == 4096);
		}
	fusefs_get_stats(fs, &s);
	CHECK(s.cache_entries > 0 && s.cache_entries < ARRAY_SIZE(paths));
	/* still right after evictions */
	CHECK(fusefs_getattr(fs, "/main/latest/hello", &st) == 0 &&
	      st.st_mode == 0100600 && st.st_size == 6);
	fusefs_free(fs);
	repo_free(r);
	testrepo_tz_restore();
}

UNIT_TEST(fusefs, refs_are_read_once)
{
	struct repo *r;
	struct fusefs *fs;
	struct stat st;
	struct oid head;

	testrepo_tz_utc();
	r = make_repo();
	fs = fs_new(r, 0, 0, 0);
	testrepo_must(refs_read(r, "refs/heads/main", &head), "read");
	testrepo_must(refs_update(r, "refs/heads/later", &head, NULL, 0, NULL),
		      "ref");
	CHECK(fusefs_getattr(fs, "/later", &st) == -ENOENT);
	CHECK(fusefs_getattr(fs, "/main", &st) == 0);
	fusefs_free(fs);
	repo_free(r);
	testrepo_tz_restore();
}
