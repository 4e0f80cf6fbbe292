/*
 * cbup cat-file: bup cat-file (lib/bup/cmd/cat_file.py in 0.33.7):
 * write the contents of /BRANCH/REVISION/PATH (a plain file, chunked or
 * not) to stdout, resolved through the VFS without following a final
 * symlink.
 *
 * --meta writes the item's metadata record re-encoded (FORMAT.md 5.2,
 * with the size filled in as bup's augment_item_meta(include_size=True)
 * does); --bupm writes a directory's .bupm stream (FORMAT.md 5.7) as
 * stored.  Where bup dies with a traceback (--meta on an item without a
 * metadata record: "latest", trees bup did not write; --bupm on the
 * root) cbup prints one error line and exits 1 as well.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "util/buf.h"
#include "store/commit.h"
#include "util/err.h"
#include "meta/meta.h"
#include "store/odb.h"
#include "store/repo.h"
#include "store/tree.h"
#include "vfs/vfs.h"

static const char cat_file_optspec[] =
	"bup cat-file [--meta|--bupm] /branch/revision/[path]\n"
	"--\n"
	"meta        print the target's metadata entry (decoded then reencoded) to stdout\n"
	"bupm        print the target directory's .bupm file directly to stdout\n";

int cmd_cat_file(int argc, const char **argv);

/* bup: re.match of "slashes, name, slash, name" on the target */
static int has_branch_and_rev(const char *t)
{
	while (*t == '/')
		t++;
	if (!*t)
		return 0;
	t += strcspn(t, "/");
	if (*t != '/')
		return 0;
	return t[1] && t[1] != '/';
}

/* Stream a blob or a chunked file's tree to stdout. */
static int write_file(struct vfs *v, const struct oid *oid)
{
	struct vfs_file *f = NULL;
	int ret = 0;

	if (vfs_file_open(v, oid, &f) < 0)
		return error("%s", err_last());
	for (;;) {
		const unsigned char *data;
		long long n = vfs_file_next(f, &data);
		if (n < 0) {
			ret = error("%s", err_last());
			break;
		}
		if (!n)
			break;
		if (fwrite(data, 1, (size_t)n, stdout) != (size_t)n) {
			ret = -1;
			break;
		}
	}
	vfs_file_close(f);
	return ret;
}

/*
 * bup's vfs.tree_data_and_bupm(): the .bupm id of a tree (or of a
 * commit's tree).  *found is 0 for a tree without metadata.  Names
 * are compared as bytes and the scan stops past ".bupm", as bup's.
 */
static int find_bupm(struct repo *repo, const struct oid *oid,
		     struct oid *bupm, int *found)
{
	struct odb *odb = repo_odb(repo);
	struct buf b = BUF_INIT;
	enum obj_type type;
	struct tree_iter it;
	struct tree_entry e;
	int ret;

	*found = 0;
	if ((ret = odb_read(odb, oid, &type, &b)) < 0)
		goto out;
	if (type == OBJ_COMMIT) {
		struct commit_info ci;
		struct oid tree;

		if ((ret = commit_parse(&ci, b.data, b.len)) < 0)
			goto out;
		tree = ci.tree;
		commit_release(&ci);
		buf_reset(&b);
		if ((ret = odb_read(odb, &tree, &type, &b)) < 0)
			goto out;
		if (type != OBJ_TREE) {
			ret = err_set(ERR_CORRUPT, "%s is not a tree",
				      oid_hex(&tree));
			goto out;
		}
	} else if (type != OBJ_TREE) {
		ret = err_set(ERR_GENERIC, "%s is not a tree or commit",
			      oid_hex(oid));
		goto out;
	}
	tree_iter_init(&it, b.data, b.len);
	while ((ret = tree_iter_next(&it, &e)) > 0) {
		size_t n = e.namelen < 5 ? e.namelen : 5;
		int c = memcmp(e.name, ".bupm", n);

		if (!c && e.namelen == 5) {
			*bupm = e.oid;
			*found = 1;
			break;
		}
		if (c > 0 || (!c && e.namelen > 5))
			break;
	}
	if (ret > 0)
		ret = 0;
out:
	buf_release(&b);
	return ret;
}

static int write_bupm(struct repo *repo, struct vfs *v,
		      const struct vfs_item *dir)
{
	struct oid bupm;
	int found;

	if (dir->kind != VFS_COMMIT && dir->kind != VFS_ITEM &&
	    dir->kind != VFS_REVLIST)
		/* bup: assert len(oid) == 20 on the root's None oid */
		return error("%s has no tree", dir->kind == VFS_TAGS ?
			     "/.tag" : "/");
	if (find_bupm(repo, &dir->oid, &bupm, &found) < 0)
		return error("%s", err_last());
	return found ? write_file(v, &bupm) : 0;
}

static int write_meta(struct vfs *v, const struct vfs_item *leaf)
{
	struct meta m;
	struct buf out = BUF_INIT;
	uint64_t size;
	int ret = 0;

	if (!leaf->has_meta)
		/*
		 * bup fakes a record with uid None from the mode, and
		 * encoding it raises a TypeError.
		 */
		return error("no metadata record to encode (uid and gid "
			     "unknown)");
	meta_init(&m);
	meta_copy(&m, &leaf->meta);
	if (m.size < 0) {
		if (vfs_item_size(v, leaf, &size) < 0) {
			ret = error("%s", err_last());
			goto out;
		}
		m.size = (int64_t)size;
	}
	meta_encode(&out, &m, 1);
	if (fwrite(out.data, 1, out.len, stdout) != out.len)
		ret = -1;
out:
	meta_release(&m);
	buf_release(&out);
	return ret;
}

int cmd_cat_file(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct repo *repo;
	struct vfs *v = NULL;
	struct vfs_list res;
	struct buf msg = BUF_INIT, r1 = BUF_INIT, r2 = BUF_INIT;
	const struct vfs_item *leaf;
	const char *target;
	int err_no = 0, ret = 1;

	cli_parse_opts(&o, cat_file_optspec, argc, argv);
	repo = cli_open_repo();
	if (!o.argc)
		cli_usage_fatal(&o, "must specify a target");
	if (o.argc > 1)
		cli_usage_fatal(&o, "only one target file allowed");
	if (opt_count(&o, "bupm") && opt_count(&o, "meta"))
		cli_usage_fatal(&o, "--meta and --bupm are incompatible");
	target = o.argv[0];
	if (!has_branch_and_rev(target)) {
		cli_bytes_repr(&r1, target);
		cli_usage_fatal(&o, "path %s doesn't include a branch and "
				"revision", r1.data);
	}

	vfs_list_init(&res);
	if (vfs_new(&v, repo) < 0) {
		error("%s", err_last());
		goto out;
	}
	/* bup: vfs.resolve(repo, target, follow=False), want_meta=True */
	if (vfs_resolve(v, target, NULL, 1, 0, &res, &err_no) < 0) {
		error("%s", err_last());
		goto out;
	}
	leaf = res.nr ? &res.e[res.nr - 1].item : NULL;
	if (!leaf || leaf->kind == VFS_MISSING) {
		for (size_t i = 0; i < res.nr; i++) {
			if (i)
				buf_addch(&msg, '/');
			buf_addstr(&msg, res.e[i].name);
		}
		cli_bytes_repr(&r1, msg.data);
		cli_bytes_repr(&r2, target);
		cli_log("error: cannot access %s in %s\n", r1.data, r2.data);
		goto out;
	}
	fflush(stdout);
	if (opt_count(&o, "bupm")) {
		if (!S_ISDIR(leaf->mode)) {
			cli_bytes_repr(&r1, target);
			cli_usage_fatal(&o, "%s is not a directory", r1.data);
		}
		if (write_bupm(repo, v, leaf) < 0)
			goto out;
	} else if (opt_count(&o, "meta")) {
		if (write_meta(v, leaf) < 0)
			goto out;
	} else {
		if (!S_ISREG(leaf->mode)) {
			cli_bytes_repr(&r1, target);
			cli_usage_fatal(&o, "%s is not a plain file",
					r1.data);
		}
		if (write_file(v, &leaf->oid) < 0)
			goto out;
	}
	ret = 0;
out:
	vfs_list_release(&res);
	vfs_free(v);
	repo_free(repo);
	buf_release(&msg);
	buf_release(&r1);
	buf_release(&r2);
	opt_release(&o);
	return ret;
}
