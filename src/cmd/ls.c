/*
 * bup ls [-r host:path] [-l] [-d] [-F] [-a] [-A] [-s] [-n] [path...]
 *
 * Lists VFS paths (FORMAT.md 6.2) as bup 0.33.7's lib/bup/ls.py does:
 * a directory's contents sorted by name, anything else (or any path
 * with -d) as one line under its normalized path; "-l" lines are
 * metadata.summary_bytes() (metafmt.h); without -l and with stdout on a
 * tty (or BUP_FORCE_TTY & 1) each path's lines are columnated.
 *
 * bup quirks kept for byte compatibility:
 * - with -l, a listed commit that has no metadata yet is replaced by its
 *   tree's "." item, so --commit-hash shows the tree id for it; commits
 *   bup already holds with metadata in its VFS cache (branch heads seen
 *   while resolving or listing with metadata) keep the commit id;
 * - the hash of items without an id (/, /.tag, latest) is 40 zeros;
 * - "..", with -a, is the previous element of the path's resolution.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "util/buf.h"
#include "remote/client.h"
#include "util/err.h"
#include "meta/meta.h"
#include "meta/metafmt.h"
#include "util/pypath.h"
#include "store/repo.h"
#include "vfs/vfs.h"

static const char optspec[] =
	"bup ls [-r host:path] [-l] [-d] [-F] [-a] [-A] [-s] [-n] [path...]\n"
	"--\n"
	"r,remote=   remote repository path\n"
	"s,hash   show hash for each file\n"
	"commit-hash show commit hash instead of tree for commits (implies -s)\n"
	"a,all    show hidden files\n"
	"A,almost-all    show hidden files except . and ..\n"
	"l        use a detailed, long listing format\n"
	"d,directory show directories, not contents; don't follow symlinks\n"
	"F,classify append type indicator: dir/ sym@ fifo| sock= exec*\n"
	"file-type append type indicator: dir/ sym@ fifo| sock=\n"
	"human-readable    print human readable file sizes (i.e. 3.9K, 4.7M)\n"
	"n,numeric-ids list numeric IDs (user, group, etc.) rather than names\n";

enum { HIDDEN_NONE, HIDDEN_ALMOST, HIDDEN_ALL };

struct ls_ctx {
	struct vfs *vfs;
	int show_hash, commit_hash, long_fmt, directory, want_meta;
	int show_hidden;
	enum metafmt_class classification;
	unsigned fmt_flags;
	int tty;
	/* Branch heads bup's VFS cache would hold with metadata. */
	struct oid *meta_heads;
	size_t nr_meta_heads, alloc_meta_heads;
	/* Lines waiting to be columnated. */
	char **pending;
	size_t nr_pending, alloc_pending;
};

static int meta_head_known(const struct ls_ctx *c, const struct oid *oid)
{
	for (size_t i = 0; i < c->nr_meta_heads; i++)
		if (oid_eq(&c->meta_heads[i], oid))
			return 1;
	return 0;
}

/* Note the branch heads of a resolution or listing made with metadata. */
static void note_meta_heads(struct ls_ctx *c, const struct vfs_list *l)
{
	if (!c->want_meta)
		return;
	for (size_t i = 0; i < l->nr; i++) {
		const struct vfs_item *it = &l->e[i].item;
		if (it->kind != VFS_REVLIST || meta_head_known(c, &it->oid))
			continue;
		ALLOC_GROW(c->meta_heads, c->nr_meta_heads + 1,
			   c->alloc_meta_heads);
		c->meta_heads[c->nr_meta_heads++] = it->oid;
	}
}

/*
 * bup's augment_item_meta(..., include_size=True): the item's record,
 * or a stand-in with its mode, unknown owner and zero times.
 */
static int display_meta(struct ls_ctx *c, const struct vfs_item *it,
			struct meta *m)
{
	uint64_t size;
	int ret;

	if (it->has_meta) {
		meta_copy(m, &it->meta);
		if (m->size < 0) {
			ret = vfs_item_size(c->vfs, it, &size);
			if (ret < 0)
				return ret;
			m->size = (int64_t)size;
		}
		return 0;
	}
	meta_reset(m);
	m->mode = it->mode;
	m->uid = m->gid = -1;
	if (S_ISLNK(it->mode)) {
		ret = vfs_readlink(c->vfs, it, &m->symlink_target);
		if (ret < 0)
			return ret;
		m->size = (int64_t)m->symlink_target.len;
		return 0;
	}
	ret = vfs_item_size(c->vfs, it, &size);
	if (ret < 0)
		return ret;
	m->size = (int64_t)size;
	return 0;
}

/* bup's item_info(). */
static int item_line(struct ls_ctx *c, const struct vfs_item *it,
		     const char *name, struct buf *line)
{
	if (c->show_hash) {
		const struct oid *oid = NULL;
		if (c->commit_hash && it->kind == VFS_COMMIT)
			oid = &it->coid;
		else if (it->kind == VFS_ITEM || it->kind == VFS_CHUNKY ||
			 it->kind == VFS_COMMIT || it->kind == VFS_REVLIST)
			oid = &it->oid;
		buf_addf(line, "%s ", oid ? oid_hex(oid) :
			 "0000000000000000000000000000000000000000");
	}
	if (c->long_fmt) {
		struct meta m;
		int ret;

		meta_init(&m);
		ret = display_meta(c, it, &m);
		if (ret == 0)
			metafmt_summary(line, &m, name, c->classification,
					c->fmt_flags);
		meta_release(&m);
		return ret;
	}
	buf_addstr(line, name);
	if (c->classification)
		buf_addstr(line, metafmt_classification(
			it->mode, c->classification == METAFMT_CLASS_ALL));
	return 0;
}

static void emit(struct ls_ctx *c, struct buf *line)
{
	if (!c->long_fmt && c->tty) {
		ALLOC_GROW(c->pending, c->nr_pending + 1, c->alloc_pending);
		c->pending[c->nr_pending++] = buf_detach(line, NULL);
		return;
	}
	buf_addch(line, '\n');
	fwrite(line->data, 1, line->len, stdout);
	buf_reset(line);
}

/* bup's helpers.columnate(pending, b''). */
static void flush_pending(struct ls_ctx *c)
{
	size_t n = c->nr_pending, clen = 0, ncols, rows, total;
	int width;
	struct buf out = BUF_INIT;

	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		clen = MAX(clen, strlen(c->pending[i]));
	width = opt_tty_width();
	/* Python's floor division; a width below 0 gives ncols <= 1 too */
	ncols = width < 0 ? 0 : (size_t)width / (clen + 2);
	if (ncols <= 1) {
		ncols = 1;
		clen = 0;
	}
	total = (n + ncols - 1) / ncols * ncols;
	rows = total / ncols;
	for (size_t r = 0; r < rows; r++) {
		for (size_t col = 0; col < ncols; col++) {
			size_t i = col * rows + r;
			const char *s = i < n ? c->pending[i] : "";
			size_t len = strlen(s);
			buf_addstr(&out, s);
			for (; len < clen + 2; len++)
				buf_addch(&out, ' ');
		}
		buf_addch(&out, '\n');
	}
	fwrite(out.data, 1, out.len, stdout);
	buf_release(&out);
	for (size_t i = 0; i < n; i++)
		free(c->pending[i]);
	c->nr_pending = 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct vfs_entry *x = a, *y = b;
	return strcmp(x->name, y->name);
}

/*
 * bup's ensure_item_has_metadata() for a listed entry under -l: a
 * directory gets the record from its own .bupm; a commit without one
 * becomes its tree's "." item unless bup's cache has it with metadata.
 */
static int ensure_meta(struct ls_ctx *c, struct vfs_item *it)
{
	int cached_commit = it->kind == VFS_COMMIT && !it->has_meta &&
			    meta_head_known(c, &it->coid);
	int ret;

	if (!S_ISDIR(it->mode) || it->has_meta)
		return 0;
	ret = vfs_fill_dir_meta(c->vfs, it);
	if (ret < 0)
		return ret;
	if (it->kind == VFS_COMMIT && !(cached_commit && it->has_meta)) {
		it->kind = VFS_ITEM;
		memset(&it->coid, 0, sizeof(it->coid));
	}
	return 0;
}

static int list_dir(struct ls_ctx *c, const struct vfs_list *resolved)
{
	const struct vfs_item *dir = &resolved->e[resolved->nr - 1].item;
	struct vfs_list l;
	struct buf line = BUF_INIT;
	int ret;

	vfs_list_init(&l);
	ret = vfs_contents(c->vfs, dir, c->want_meta, &l);
	if (ret < 0)
		goto out;
	if (dir->kind == VFS_ROOT || dir->kind == VFS_REVLIST)
		note_meta_heads(c, &l);
	if (c->show_hidden == HIDDEN_ALL) {
		/* Match non-bup "ls -a ... /". */
		const struct vfs_entry *parent =
			&resolved->e[resolved->nr > 1 ? resolved->nr - 2 : 0];
		struct vfs_entry *e;
		ALLOC_GROW(l.e, l.nr + 1, l.alloc);
		e = &l.e[l.nr++];
		e->name = xstrdup("..");
		vfs_item_copy(&e->item, &parent->item);
	}
	/* names in one listing are unique, so any sort is Python's */
	qsort(l.e, l.nr, sizeof(*l.e), entry_cmp);
	for (size_t i = 0; i < l.nr; i++) {
		struct vfs_entry *e = &l.e[i];
		if (c->show_hidden != HIDDEN_ALL && !strcmp(e->name, "."))
			continue;
		if (e->name[0] == '.' && c->show_hidden == HIDDEN_NONE)
			continue;
		if (c->long_fmt) {
			ret = ensure_meta(c, &e->item);
			if (ret < 0)
				goto out;
		}
		ret = item_line(c, &e->item, e->name, &line);
		if (ret < 0)
			goto out;
		emit(c, &line);
	}
out:
	buf_release(&line);
	vfs_list_release(&l);
	return ret;
}

/* bup's vfs.try_resolve(). */
static int try_resolve(struct ls_ctx *c, const char *path,
		       struct vfs_list *res, int *err_no)
{
	struct vfs_list parent, follow;
	struct vfs_entry *leaf;
	int ret;

	ret = vfs_resolve(c->vfs, path, NULL, c->want_meta, 0, res, err_no);
	if (ret < 0)
		return ret;
	leaf = &res->e[res->nr - 1];
	if (leaf->item.kind == VFS_MISSING || !S_ISLNK(leaf->item.mode))
		return 0;
	vfs_list_init(&parent);
	vfs_list_init(&follow);
	vfs_list_copy(&parent, res);
	parent.nr--;                      /* res[:-1], borrowed below */
	ret = vfs_resolve(c->vfs, leaf->name, &parent, c->want_meta, 1,
			  &follow, err_no);
	parent.nr++;
	if (ret < 0 ||
	    follow.e[follow.nr - 1].item.kind != VFS_MISSING) {
		/* the followed result, or the error it raised */
		vfs_list_release(res);
		*res = follow;
		vfs_list_init(&follow);
	}
	vfs_list_release(&parent);
	vfs_list_release(&follow);
	return ret;
}

/* 0, 1 after an error, 2 for a missing path. */
static int ls_path(struct ls_ctx *c, const char *path)
{
	struct vfs_list res;
	struct buf line = BUF_INIT;
	struct vfs_entry *leaf;
	int err_no = 0, ret;

	vfs_list_init(&res);
	if (c->directory)
		ret = vfs_resolve(c->vfs, path, NULL, 1, 0, &res, &err_no);
	else
		ret = try_resolve(c, path, &res, &err_no);
	if (ret < 0)
		goto fail;
	note_meta_heads(c, &res);
	leaf = &res.e[res.nr - 1];
	if (leaf->item.kind == VFS_MISSING) {
		struct buf joined = BUF_INIT, msg = BUF_INIT, r1 = BUF_INIT,
			   r2 = BUF_INIT;
		for (size_t i = 0; i < res.nr; i++) {
			if (i)
				buf_addch(&joined, '/');
			cli_path_msg(&joined, res.e[i].name);
		}
		cli_path_msg(&msg, path);
		pypath_str_repr(&r1, joined.data);
		pypath_str_repr(&r2, msg.data);
		cli_log("error: cannot access %s in %s\n", r1.data, r2.data);
		buf_release(&joined);
		buf_release(&msg);
		buf_release(&r1);
		buf_release(&r2);
		ret = 2;
		goto out;
	}
	if (!c->directory && S_ISDIR(leaf->item.mode)) {
		ret = list_dir(c, &res);
		if (ret < 0)
			goto fail;
	} else {
		struct buf name = BUF_INIT;
		pypath_normpath(&name, path);
		ret = item_line(c, &leaf->item, name.data, &line);
		buf_release(&name);
		if (ret < 0)
			goto fail;
		emit(c, &line);
	}
	ret = 0;
	goto out;
fail:
	if (err_no)
		/* a vfs.IOError: bup prints "bup: " + str(ex) */
		cli_log("bup: %s\n", vfs_resolve_error(c->vfs));
	else
		cli_log("error: %s\n", err_last());
	ret = 1;
out:
	buf_release(&line);
	vfs_list_release(&res);
	return ret;
}

int cmd_ls(int argc, const char **argv);
int cmd_ls(int argc, const char **argv)
{
	struct ls_ctx c;
	struct opts o;
	struct repo *repo;
	struct client *cli = NULL;
	const char *remote;
	static const char *const root_path[] = { "/" };
	const char *const *paths;
	int npaths, ret = 0;

	memset(&c, 0, sizeof(c));
	repo = cli_open_repo();   /* bup checks the repository first */
	cli_parse_opts(&o, optspec, argc, argv);
	remote = opt_str(&o, "remote");
	c.commit_hash = opt_count(&o, "commit-hash") > 0;
	c.show_hash = opt_count(&o, "hash") > 0 || c.commit_hash;
	c.long_fmt = opt_count(&o, "l") > 0;
	c.directory = opt_count(&o, "directory") > 0;
	if (opt_count(&o, "numeric-ids") > 0)
		c.fmt_flags |= METAFMT_NUMERIC_IDS;
	if (opt_count(&o, "human-readable") > 0)
		c.fmt_flags |= METAFMT_HUMAN_READABLE;
	for (size_t i = 0; i < o.nr_flags; i++) {
		const char *f = o.flags[i].flag;
		if (!strcmp(f, "F") || !strcmp(f, "classify"))
			c.classification = METAFMT_CLASS_ALL;
		else if (!strcmp(f, "file-type"))
			c.classification = METAFMT_CLASS_TYPE;
		else if (!strcmp(f, "a") || !strcmp(f, "all"))
			c.show_hidden = HIDDEN_ALL;
		else if (!strcmp(f, "A") || !strcmp(f, "almost-all"))
			c.show_hidden = HIDDEN_ALMOST;
	}
	c.want_meta = c.long_fmt || c.classification;
	c.tty = cli_stdout_is_tty();
	if (o.argc) {
		paths = o.argv;
		npaths = o.argc;
	} else {
		paths = root_path;
		npaths = 1;
	}
	/* bup: RemoteRepo(opt.remote), the same listing over the server */
	if (remote && *remote) {
		if (cli_client_open(&cli, remote, repo->path, 0) < 0) {
			error("%s", err_last());
			repo_free(repo);
			opt_release(&o);
			return 1;
		}
		if (client_vfs_new(&c.vfs, cli) < 0)
			die("%s", err_last());
	} else if (vfs_new(&c.vfs, repo) < 0) {
		die("%s", err_last());
	}

	for (int n = 0; n < npaths; n++) {
		if (npaths > 1)
			printf("%s:\n", paths[n]);
		int r = ls_path(&c, paths[n]);
		if (r)
			ret = 1;
		/*
		 * bup `continue`s after a missing path, skipping both the
		 * columnation (those lines join the next path's) and the
		 * blank line.
		 */
		if (r == 2)
			continue;
		flush_pending(&c);
		if (n < npaths - 1)
			putchar('\n');
	}

	vfs_free(c.vfs);
	if (cli && client_close(cli) < 0) {
		fflush(stdout);
		error("%s", err_last());
		ret = 1;
	}
	free(c.meta_heads);
	free(c.pending);
	repo_free(repo);
	opt_release(&o);
	return ret;
}
