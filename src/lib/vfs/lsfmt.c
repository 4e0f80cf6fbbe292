/*
 * bup's lib/bup/ls.py (see lsfmt.h): the listing of `ls` and of ftp's
 * `ls`, over any vfs (local or remote).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "vfs/lsfmt.h"
#include "meta/meta.h"
#include "util/pypath.h"
#include "util/strv.h"
#include "util/util.h"

const char lsfmt_optspec[] =
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

struct lsfmt {
	struct vfs *vfs;
	/* Branch heads bup's VFS cache would hold with metadata. */
	struct oid *meta_heads;
	size_t nr_meta_heads, alloc_meta_heads;
	/* Lines waiting to be columnated. */
	char **pending;
	size_t nr_pending, alloc_pending;
};

/* One listing: the lister and this run's options and output. */
struct ls_ctx {
	struct lsfmt *l;
	struct vfs *vfs;
	const struct lsfmt_opts *o;
	const struct lsfmt_output *out;
	int want_meta;
};

static int meta_head_known(const struct ls_ctx *c, const struct oid *oid)
{
	for (size_t i = 0; i < c->l->nr_meta_heads; i++)
		if (oid_eq(&c->l->meta_heads[i], oid))
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
		ALLOC_GROW(c->l->meta_heads, c->l->nr_meta_heads + 1,
			   c->l->alloc_meta_heads);
		c->l->meta_heads[c->l->nr_meta_heads++] = it->oid;
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
	if (c->o->show_hash) {
		const struct oid *oid = NULL;
		if (c->o->commit_hash && it->kind == VFS_COMMIT)
			oid = &it->coid;
		else if (it->kind == VFS_ITEM || it->kind == VFS_CHUNKY ||
			 it->kind == VFS_COMMIT || it->kind == VFS_REVLIST)
			oid = &it->oid;
		buf_addf(line, "%s ", oid ? oid_hex(oid) :
			 "0000000000000000000000000000000000000000");
	}
	if (c->o->long_fmt) {
		struct meta m;
		int ret;

		meta_init(&m);
		ret = display_meta(c, it, &m);
		if (ret == 0)
			metafmt_summary(line, &m, name, c->o->classification,
					c->o->fmt_flags);
		meta_release(&m);
		return ret;
	}
	buf_addstr(line, name);
	if (c->o->classification)
		buf_addstr(line, metafmt_classification(
			it->mode, c->o->classification == METAFMT_CLASS_ALL));
	return 0;
}

static void emit(struct ls_ctx *c, struct buf *line)
{
	if (!c->o->long_fmt && c->out->tty) {
		ALLOC_GROW(c->l->pending, c->l->nr_pending + 1, c->l->alloc_pending);
		c->l->pending[c->l->nr_pending++] = buf_detach(line, NULL);
		return;
	}
	buf_addch(line, '\n');
	c->out->out(c->out->ctx, line->data, line->len);
	buf_reset(line);
}

/* bup's helpers.columnate(pending, b''). */
static void flush_pending(struct ls_ctx *c)
{
	size_t n = c->l->nr_pending;
	struct buf out = BUF_INIT;

	if (!n)
		return;
	strv_columnate(&out, (const char *const *)c->l->pending, n, "",
		       c->out->width);
	c->out->out(c->out->ctx, out.data, out.len);
	buf_release(&out);
	for (size_t i = 0; i < n; i++)
		free(c->l->pending[i]);
	c->l->nr_pending = 0;
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
	if (c->o->show_hidden == LSFMT_HIDDEN_ALL) {
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
		if (c->o->show_hidden != LSFMT_HIDDEN_ALL && !strcmp(e->name, "."))
			continue;
		if (e->name[0] == '.' && c->o->show_hidden == LSFMT_HIDDEN_NONE)
			continue;
		if (c->o->long_fmt) {
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

int lsfmt_try_resolve(struct vfs *v, const char *path,
		      const struct vfs_list *parent_in, int want_meta,
		      struct vfs_list *res, int *err_no)
{
	struct vfs_list parent, follow;
	struct vfs_entry *leaf;
	int ret;

	ret = vfs_resolve(v, path, parent_in, want_meta, 0, res, err_no);
	if (ret < 0)
		return ret;
	leaf = &res->e[res->nr - 1];
	if (leaf->item.kind == VFS_MISSING || !S_ISLNK(leaf->item.mode))
		return 0;
	vfs_list_init(&parent);
	vfs_list_init(&follow);
	vfs_list_copy(&parent, res);
	parent.nr--;                      /* res[:-1], borrowed below */
	ret = vfs_resolve(v, leaf->name, &parent, want_meta, 1, &follow,
			  err_no);
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

static void log_line(struct ls_ctx *c, const char *fmt, ...) PRINTF(2, 3);
static void log_line(struct ls_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(c->out->log, c->out->ctx, fmt, ap);
	va_end(ap);
}

/* 0, 1 after an error, 2 for a missing path. */
static int ls_path(struct ls_ctx *c, const char *path)
{
	struct vfs_list res;
	struct buf line = BUF_INIT;
	struct vfs_entry *leaf;
	int err_no = 0, ret;

	vfs_list_init(&res);
	if (c->o->directory)
		ret = vfs_resolve(c->vfs, path, NULL, 1, 0, &res, &err_no);
	else
		ret = lsfmt_try_resolve(c->vfs, path, NULL, c->want_meta,
					&res, &err_no);
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
			pypath_path_msg(&joined, res.e[i].name);
		}
		pypath_path_msg(&msg, path);
		pypath_str_repr(&r1, joined.data);
		pypath_str_repr(&r2, msg.data);
		log_line(c, "error: cannot access %s in %s\n", r1.data, r2.data);
		buf_release(&joined);
		buf_release(&msg);
		buf_release(&r1);
		buf_release(&r2);
		ret = 2;
		goto out;
	}
	if (!c->o->directory && S_ISDIR(leaf->item.mode)) {
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
		log_line(c, "bup: %s\n", vfs_resolve_error(c->vfs));
	else
		log_line(c, "error: %s\n", err_last());
	ret = 1;
out:
	buf_release(&line);
	vfs_list_release(&res);
	return ret;
}


void lsfmt_join(struct buf *out, const char *a, const char *b)
{
	/* posixpath.join(): an absolute b replaces a */
	if (*b == '/' || !*a) {
		buf_addstr(out, b);
		return;
	}
	buf_addstr(out, a);
	if (a[strlen(a) - 1] != '/')
		buf_addch(out, '/');
	buf_addstr(out, b);
}

int lsfmt_parse(struct lsfmt_opts *out, struct opts *o, int argc,
		const char **argv, const char *pwd)
{
	int r = opt_parse(o, lsfmt_optspec, argc, argv);

	memset(out, 0, sizeof(*out));
	if (r != OPT_OK)
		return r;
	out->commit_hash = opt_count(o, "commit-hash") > 0;
	/* bup's within_repo: --commit-hash implies -s */
	out->show_hash = opt_count(o, "hash") > 0 || out->commit_hash;
	out->long_fmt = opt_count(o, "l") > 0;
	out->directory = opt_count(o, "directory") > 0;
	if (opt_count(o, "numeric-ids") > 0)
		out->fmt_flags |= METAFMT_NUMERIC_IDS;
	if (opt_count(o, "human-readable") > 0)
		out->fmt_flags |= METAFMT_HUMAN_READABLE;
	/* the last of -F/--file-type and of -a/-A wins, as bup's loop */
	for (size_t i = 0; i < o->nr_flags; i++) {
		const char *f = o->flags[i].flag;
		if (!strcmp(f, "F") || !strcmp(f, "classify"))
			out->classification = METAFMT_CLASS_ALL;
		else if (!strcmp(f, "file-type"))
			out->classification = METAFMT_CLASS_TYPE;
		else if (!strcmp(f, "a") || !strcmp(f, "all"))
			out->show_hidden = LSFMT_HIDDEN_ALL;
		else if (!strcmp(f, "A") || !strcmp(f, "almost-all"))
			out->show_hidden = LSFMT_HIDDEN_ALMOST;
	}
	if (o->argc) {
		out->paths = o->argv;
		out->npaths = o->argc;
	} else {
		out->default_path[0] = pwd;
		out->paths = out->default_path;
		out->npaths = 1;
	}
	return OPT_OK;
}

struct lsfmt *lsfmt_new(struct vfs *v)
{
	struct lsfmt *l = xcalloc(1, sizeof(*l));

	l->vfs = v;
	return l;
}

void lsfmt_free(struct lsfmt *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nr_pending; i++)
		free(l->pending[i]);
	free(l->pending);
	free(l->meta_heads);
	free(l);
}

int lsfmt_run(struct lsfmt *l, const struct lsfmt_opts *o, const char *pwd,
	      const struct lsfmt_output *out)
{
	struct ls_ctx c = { l, l->vfs, o, out, 0 };
	struct buf path = BUF_INIT;
	int ret = 0;

	c.want_meta = o->long_fmt || o->classification;
	for (int n = 0; n < o->npaths; n++) {
		int r;

		if (o->npaths > 1) {
			struct buf h = BUF_INIT;
			buf_addf(&h, "%s:\n", o->paths[n]);
			out->out(out->ctx, h.data, h.len);
			buf_release(&h);
		}
		buf_reset(&path);
		lsfmt_join(&path, pwd, o->paths[n]);
		r = ls_path(&c, path.data);
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
		if (n < o->npaths - 1)
			out->out(out->ctx, "\n", 1);
	}
	buf_release(&path);
	return ret;
}
