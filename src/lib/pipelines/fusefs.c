/*
 * The FUSE filesystem over the vfs (fusefs.h; bup's lib/bup/cmd/fuse.py,
 * FORMAT.md 6.2).  Three parts:
 *
 * - worker contexts: a vfs each, over a source that reads objects from
 *   the context's own odb and refs from the snapshot taken at start;
 * - the path cache: "/branch/save/dir/file" -> resolved item (and its
 *   size once computed), a hash table with an LRU list under one mutex,
 *   bounded by an estimate of the bytes each entry holds.  A miss
 *   resolves the last name inside its parent's cached item, so a path
 *   costs one directory lookup, not a walk from the root; listing a
 *   directory enters its non-directory entries;
 * - open files: a vfs_file per open file, read on from where the last
 *   read ended (sequential reads never seek) or sought through the
 *   fanout tree (random reads never read from the start).
 *
 * The libfuse glue (high-level API, FUSE_USE_VERSION 3.12 for the loop
 * configuration) is at the end.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse.h>

#include "pipelines/fusefs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "store/odb.h"
#include "store/refs.h"
#include "store/repo.h"
#include "util/err.h"
#include "vfs/vfs.h"

/* --- the refs snapshot and the per-worker source --- */

struct fusefs_ctx {
	struct fusefs_ctx *next;  /* free list */
	struct vfs *vfs;
};

/*
 * An intrusive LRU list, most recent first: the path cache's entries
 * and the open files holding readers each carry a node, and both are
 * ordered (and evicted from the tail) by the same two functions.
 */
struct lru_node {
	struct lru_node *prev, *next;
};

struct lru {
	struct lru_node *head, *tail;
};

struct pc_entry {
	struct lru_node lru;             /* in fs->pc_lru (first: see pc_of) */
	struct pc_entry *hnext;          /* hash chain */
	uint32_t hash;
	size_t cost;
	int size_known;
	uint64_t size;
	struct vfs_item item;
	char path[];
};

struct fusefs {
	int want_meta;
	char *objdir;
	struct refs_list refs;   /* the snapshot */
	void (*log_op)(void *, const char *, const char *);
	void (*log_error)(void *, const char *, const char *);
	void *log_data;

	pthread_mutex_t ctx_lock;
	struct fusefs_ctx *free_ctx;
	struct fusefs_ctx **all_ctx;
	size_t nr_ctx, alloc_ctx;

	pthread_mutex_t pc_lock;
	struct pc_entry **tab;
	size_t nbuckets, nr_pc, pc_bytes, pc_cap;
	struct lru pc_lru;

	pthread_mutex_t rd_lock;
	struct lru rd_lru;               /* files holding a reader */
	size_t nr_readers, max_readers;
};

/*
 * Two cursors per open file: the kernel keeps two read-ahead requests
 * of a sequential reader in flight, and two readers may share a file;
 * each request takes the cursor standing where it starts if it can (no
 * seek), else a free one, which seeks (keeping the trees it holds).
 */
#define FUSEFS_CURSORS 2

struct fusefs_cursor {
	pthread_mutex_t lock;            /* one read at a time */
	struct vfs_file *rd;             /* NULL: none held */
	uint64_t pos;                    /* where rd stands */
};

struct fusefs_file {
	struct lru_node lru;             /* in fs->rd_lru, under rd_lock */
	struct fusefs_cursor cur[FUSEFS_CURSORS];
	struct oid oid;
	size_t nr_rd;                    /* cursors holding a reader */
	char *path;                      /* for messages */
};

struct snap_source {
	struct vfs_source src;   /* first: the vfs hands us &src */
	struct odb *odb;
	const struct fusefs *fs;
};

static int snap_cat(struct vfs_source *s, const struct oid *oid,
		    enum obj_type *type, struct buf *out)
{
	/* file data is checked by CRC, as restore reads it (odb.h) */
	return odb_read_flags(((struct snap_source *)s)->odb, oid, type, out,
			      ODB_READ_CRC_BLOBS);
}

static int snap_refs(struct vfs_source *s, const char *prefix,
		     vfs_ref_fn fn, void *ctx)
{
	const struct fusefs *fs = ((struct snap_source *)s)->fs;
	size_t plen = strlen(prefix);
	int ret;

	for (size_t i = 0; i < fs->refs.nr; i++) {
		const struct refs_item *r = &fs->refs.items[i];

		if (!strncmp(r->name, prefix, plen) &&
		    (ret = fn(ctx, r->name, &r->oid)) < 0)
			return ret;
	}
	return 0;
}

static int snap_read_ref(struct vfs_source *s, const char *refname,
			 struct oid *out)
{
	const struct fusefs *fs = ((struct snap_source *)s)->fs;

	for (size_t i = 0; i < fs->refs.nr; i++)
		if (!strcmp(fs->refs.items[i].name, refname)) {
			*out = fs->refs.items[i].oid;
			return 0;
		}
	return err_set(ERR_NOTFOUND, "no ref %s", refname);
}

static void snap_free(struct vfs_source *s)
{
	odb_free(((struct snap_source *)s)->odb);
	free(s);
}

static const struct vfs_source_ops snap_ops = {
	.cat = snap_cat,
	.refs = snap_refs,
	.read_ref = snap_read_ref,
	.free = snap_free,
};

/* A free context, or a new one (NULL with the message set on failure). */
static struct fusefs_ctx *ctx_get(struct fusefs *fs)
{
	struct fusefs_ctx *c;
	struct snap_source *s;
	struct odb *odb;

	pthread_mutex_lock(&fs->ctx_lock);
	c = fs->free_ctx;
	if (c)
		fs->free_ctx = c->next;
	pthread_mutex_unlock(&fs->ctx_lock);
	if (c)
		return c;
	if (odb_open(&odb, fs->objdir) < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->src.ops = &snap_ops;
	s->odb = odb;
	s->fs = fs;
	c = xcalloc(1, sizeof(*c));
	vfs_new_source(&c->vfs, &s->src);
	pthread_mutex_lock(&fs->ctx_lock);
	ALLOC_GROW(fs->all_ctx, fs->nr_ctx + 1, fs->alloc_ctx);
	fs->all_ctx[fs->nr_ctx++] = c;
	pthread_mutex_unlock(&fs->ctx_lock);
	return c;
}

static void ctx_put(struct fusefs *fs, struct fusefs_ctx *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&fs->ctx_lock);
	c->next = fs->free_ctx;
	fs->free_ctx = c;
	pthread_mutex_unlock(&fs->ctx_lock);
}

/* EIO with the reason logged: the repository could not be read. */
static int eio(struct fusefs *fs, const char *path)
{
	if (fs->log_error)
		fs->log_error(fs->log_data, path, err_last());
	return -EIO;
}

/* --- the LRU lists --- */

static void lru_unlink(struct lru *l, struct lru_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

/* n goes first: the most recently used */
static void lru_push(struct lru *l, struct lru_node *n)
{
	n->prev = NULL;
	n->next = l->head;
	if (l->head)
		l->head->prev = n;
	l->head = n;
	if (!l->tail)
		l->tail = n;
}

/* --- the path cache --- */

static uint32_t path_hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* What an entry holds, roughly: the bound is on this sum. */
static size_t item_cost(const struct vfs_item *it, size_t pathlen)
{
	size_t n = sizeof(struct pc_entry) + pathlen + 1 + 64;

	if (it->target)
		n += strlen(it->target) + 1;
	if (it->has_meta) {
		const struct meta *m = &it->meta;
		n += m->user.len + m->group.len + m->path.len +
			m->symlink_target.len + m->hardlink_target.len;
		for (size_t i = 0; i < 4; i++)
			n += m->acl[i].len;
		n += m->nr_xattrs * 64;
		for (size_t i = 0; i < m->nr_xattrs; i++)
			n += m->xattrs[i].name.len + m->xattrs[i].value.len;
	}
	return n;
}

/* The entry of node n: a no-op, the node being the entry's first member. */
static struct pc_entry *pc_of(struct lru_node *n)
{
	return (struct pc_entry *)((char *)n - offsetof(struct pc_entry, lru));
}

static struct pc_entry **pc_slot(struct fusefs *fs, const char *path,
				 uint32_t h)
{
	struct pc_entry **p = &fs->tab[h & (fs->nbuckets - 1)];

	while (*p && ((*p)->hash != h || strcmp((*p)->path, path)))
		p = &(*p)->hnext;
	return p;
}

static void pc_remove(struct fusefs *fs, struct pc_entry *e)
{
	struct pc_entry **p = pc_slot(fs, e->path, e->hash);

	*p = e->hnext;
	lru_unlink(&fs->pc_lru, &e->lru);
	fs->pc_bytes -= e->cost;
	fs->nr_pc--;
	vfs_item_release(&e->item);
	free(e);
}

/* Copy out the cached item of path (if out); 1 if there was one. */
static int pc_get(struct fusefs *fs, const char *path, struct vfs_item *out,
		  uint64_t *size, int *size_known)
{
	uint32_t h = path_hash(path);
	struct pc_entry *e;

	pthread_mutex_lock(&fs->pc_lock);
	e = *pc_slot(fs, path, h);
	if (e) {
		lru_unlink(&fs->pc_lru, &e->lru);
		lru_push(&fs->pc_lru, &e->lru);
		if (out)
			vfs_item_copy(out, &e->item);
		if (size_known) {
			*size_known = e->size_known;
			*size = e->size;
		}
	}
	pthread_mutex_unlock(&fs->pc_lock);
	return e != NULL;
}

/* Enter (or replace) path's item; the least recently used go past the cap. */
static void pc_put(struct fusefs *fs, const char *path,
		   const struct vfs_item *it, int size_known, uint64_t size)
{
	size_t len = strlen(path), cost = item_cost(it, len);
	uint32_t h = path_hash(path);
	struct pc_entry *e, **p;

	if (cost > fs->pc_cap / 4)
		return;   /* one entry never takes a quarter of the cache */
	e = xcalloc(1, sizeof(*e) + len + 1);
	memcpy(e->path, path, len + 1);
	e->hash = h;
	e->cost = cost;
	e->size_known = size_known;
	e->size = size;
	vfs_item_init(&e->item);
	vfs_item_copy(&e->item, it);
	pthread_mutex_lock(&fs->pc_lock);
	p = pc_slot(fs, path, h);
	if (*p)
		pc_remove(fs, *p);
	p = pc_slot(fs, path, h);
	*p = e;
	lru_push(&fs->pc_lru, &e->lru);
	fs->pc_bytes += cost;
	fs->nr_pc++;
	while (fs->pc_bytes > fs->pc_cap && fs->pc_lru.tail != &e->lru)
		pc_remove(fs, pc_of(fs->pc_lru.tail));
	pthread_mutex_unlock(&fs->pc_lock);
}

static void pc_set_size(struct fusefs *fs, const char *path, uint64_t size)
{
	struct pc_entry *e;

	pthread_mutex_lock(&fs->pc_lock);
	e = *pc_slot(fs, path, path_hash(path));
	if (e) {
		e->size = size;
		e->size_known = 1;
	}
	pthread_mutex_unlock(&fs->pc_lock);
}

/* --- resolution --- */

/*
 * path's item, from the cache or looked up inside its parent's (itself
 * resolved the same way).  FUSE hands over canonical paths: no ".",
 * "..", empty names, or symlinks before the last name (the kernel
 * follows those itself), so the parent is always a directory the last
 * name is looked up in, symlinks not followed (bup: follow=False).
 */
static int resolve(struct fusefs *fs, struct fusefs_ctx *c, const char *path,
		   struct vfs_item *out)
{
	struct vfs_list parent, res;
	struct vfs_item pitem;
	const char *slash, *base;
	char *ppath = NULL;
	int ret, eno = 0;

	if (!strcmp(path, "/") || !*path) {
		vfs_root(out);
		return 0;
	}
	if (pc_get(fs, path, out, NULL, NULL))
		return 0;
	slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return -ENOENT;
	base = slash + 1;
	ppath = slash == path ? xstrdup("/") :
		xstrfmt("%.*s", (int)(slash - path), path);
	vfs_item_init(&pitem);
	vfs_list_init(&parent);
	vfs_list_init(&res);
	ret = resolve(fs, c, ppath, &pitem);
	if (ret < 0)
		goto out;
	if (S_ISLNK(pitem.mode)) {
		/*
		 * The kernel follows symlinks itself; a caller that does
		 * not gets bup's resolution from the root, which does.
		 */
		ret = vfs_resolve(c->vfs, path, NULL, fs->want_meta, 0, &res,
				  &eno);
	} else if (!S_ISDIR(pitem.mode)) {
		ret = -ENOTDIR;
		goto out;
	} else {
		/* the parent: the root, then the directory if not it */
		struct vfs_list tmp;
		vfs_list_init(&tmp);
		ALLOC_GROW(tmp.e, 2, tmp.alloc);
		tmp.e[0].name = xstrdup("");
		vfs_root(&tmp.e[0].item);
		tmp.nr = 1;
		if (pitem.kind != VFS_ROOT) {
			tmp.e[1].name = xstrdup(strrchr(ppath, '/') + 1);
			tmp.e[1].item = pitem;
			vfs_item_init(&pitem);
			tmp.nr = 2;
		}
		parent = tmp;
		ret = vfs_resolve(c->vfs, base, &parent, fs->want_meta, 0,
				  &res, &eno);
	}
	if (ret < 0) {
		ret = eno ? -eno : eio(fs, path);
		goto out;
	}
	if (!res.nr || res.e[res.nr - 1].item.kind == VFS_MISSING) {
		ret = -ENOENT;
		goto out;
	}
	vfs_item_copy(out, &res.e[res.nr - 1].item);
	/*
	 * bup shows a save directory's recorded metadata even without
	 * --meta: its vfs caches the commit item with metadata once
	 * anything has listed the branch, which every ls does first.
	 */
	if (!fs->want_meta && out->kind == VFS_COMMIT &&
	    (ret = vfs_fill_dir_meta(c->vfs, out)) < 0) {
		vfs_item_release(out);
		ret = eio(fs, path);
		goto out;
	}
	pc_put(fs, path, out, 0, 0);
	ret = 0;
out:
	vfs_list_release(&res);
	vfs_list_release(&parent);
	vfs_item_release(&pitem);
	free(ppath);
	return ret;
}

/*
 * How readdir, readlink and open begin: a context in *c (NULL if none
 * could be made) and path's item in *it, which is initialised in any
 * case.  0, or the negative errno to return; the caller releases *it
 * and puts *c back either way.
 */
static int resolve_in_ctx(struct fusefs *fs, const char *path,
			  struct fusefs_ctx **c, struct vfs_item *it)
{
	vfs_item_init(it);
	*c = ctx_get(fs);
	if (!*c)
		return eio(fs, path);
	return resolve(fs, *c, path, it);
}

/* --- stat mapping --- */

static time_t floor_secs(const struct meta_time *t)
{
	/* bup: max(0, fstime_floor_secs(t)); sec is already the floor */
	return t->sec < 0 ? 0 : (time_t)t->sec;
}

void fusefs_stat(struct stat *st, const struct vfs_item *it, uint64_t size,
		 int want_meta)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = it->mode;
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	/* python-fuse's: 512-byte blocks the size would take */
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	if (it->has_meta && (want_meta || it->kind == VFS_COMMIT)) {
		/* bup: meta.uid or 0 (None when not recorded) */
		st->st_uid = it->meta.uid > 0 ? (uid_t)it->meta.uid : 0;
		st->st_gid = it->meta.gid > 0 ? (gid_t)it->meta.gid : 0;
		st->st_atime = floor_secs(&it->meta.atime);
		st->st_mtime = floor_secs(&it->meta.mtime);
		st->st_ctime = floor_secs(&it->meta.ctime);
	}
}

/* --- operations --- */

static void log_op(struct fusefs *fs, const char *op, const char *path)
{
	if (fs->log_op)
		fs->log_op(fs->log_data, op, path);
}

int fusefs_getattr(struct fusefs *fs, const char *path, struct stat *st)
{
	struct fusefs_ctx *c = ctx_get(fs);
	struct vfs_item it;
	uint64_t size = 0;
	int known = 0, ret;

	log_op(fs, "getattr", path);
	if (!c)
		return eio(fs, path);
	vfs_item_init(&it);
	if (pc_get(fs, path, &it, &size, &known)) {
		ret = 0;
	} else {
		ret = resolve(fs, c, path, &it);
		if (!ret)
			pc_get(fs, path, NULL, &size, &known);
	}
	if (!ret && !known) {
		if (vfs_item_size(c->vfs, &it, &size) < 0) {
			ret = eio(fs, path);
		} else {
			pc_set_size(fs, path, size);
		}
	}
	if (!ret)
		fusefs_stat(st, &it, size, fs->want_meta);
	vfs_item_release(&it);
	ctx_put(fs, c);
	return ret;
}

int fusefs_readdir(struct fusefs *fs, const char *path, fusefs_dir_fn fn,
		   void *ctx)
{
	struct fusefs_ctx *c;
	struct vfs_list l;
	struct vfs_item dir;
	struct buf child = BUF_INIT, name = BUF_INIT;
	int ret;

	vfs_list_init(&l);
	ret = resolve_in_ctx(fs, path, &c, &dir);
	if (ret < 0)
		goto out;
	if (!S_ISDIR(dir.mode)) {
		ret = -ENOTDIR;
		goto out;
	}
	if (vfs_contents(c->vfs, &dir, fs->want_meta, &l) < 0) {
		ret = eio(fs, path);
		goto out;
	}
	if ((ret = fn(ctx, "..")) != 0)
		goto out;
	for (size_t i = 0; i < l.nr; i++) {
		const struct vfs_entry *e = &l.e[i];
		buf_reset(&name);
		buf_addstr(&name, e->name);
		for (size_t k = 0; k < name.len; k++)
			if (name.data[k] == '/')
				name.data[k] = '-';
		/*
		 * A listed file's item is what resolving it gives: enter
		 * it, so that ls -l or tar costs no lookup per name.
		 * Directories are looked up (their metadata is theirs).
		 */
		if (i && (e->item.kind == VFS_ITEM ||
			  e->item.kind == VFS_CHUNKY) &&
		    !S_ISDIR(e->item.mode) && !strchr(e->name, '/')) {
			buf_reset(&child);
			buf_addstr(&child, path);
			if (child.len && child.data[child.len - 1] != '/')
				buf_addch(&child, '/');
			buf_addstr(&child, e->name);
			pc_put(fs, child.data, &e->item, 0, 0);
		}
		if ((ret = fn(ctx, name.data)) != 0)
			goto out;
	}
	ret = 0;
out:
	buf_release(&child);
	buf_release(&name);
	vfs_list_release(&l);
	vfs_item_release(&dir);
	ctx_put(fs, c);
	return ret;
}

int fusefs_readlink(struct fusefs *fs, const char *path, char *buf,
		    size_t size)
{
	struct fusefs_ctx *c;
	struct vfs_item it;
	struct buf t = BUF_INIT;
	int ret;

	log_op(fs, "readlink", path);
	ret = resolve_in_ctx(fs, path, &c, &it);
	if (ret < 0)
		goto out;
	if (!S_ISLNK(it.mode)) {
		ret = -EINVAL;
		goto out;
	}
	if (vfs_readlink(c->vfs, &it, &t) < 0) {
		ret = eio(fs, path);
		goto out;
	}
	if (size) {
		size_t n = MIN(t.len, size - 1);
		memcpy(buf, t.data, n);
		buf[n] = '\0';
	}
out:
	buf_release(&t);
	vfs_item_release(&it);
	ctx_put(fs, c);
	return ret;
}

int fusefs_open(struct fusefs *fs, const char *path, int flags,
		struct fusefs_file **out)
{
	struct fusefs_ctx *c;
	struct fusefs_file *f;
	struct vfs_item it;
	int ret;

	log_op(fs, "open", path);
	ret = resolve_in_ctx(fs, path, &c, &it);
	if (ret < 0)
		goto out;
	/* bup: EACCES, before looking at what the item is */
	if ((flags & O_ACCMODE) != O_RDONLY) {
		ret = -EACCES;
		goto out;
	}
	if (S_ISDIR(it.mode)) {
		ret = -EISDIR;
		goto out;
	}
	f = xcalloc(1, sizeof(*f));
	for (size_t i = 0; i < FUSEFS_CURSORS; i++)
		pthread_mutex_init(&f->cur[i].lock, NULL);
	f->oid = it.oid;
	f->path = xstrdup(path);
	*out = f;
out:
	vfs_item_release(&it);
	ctx_put(fs, c);
	return ret;
}

/* The file of node n (its first member, as in pc_of). */
static struct fusefs_file *file_of(struct lru_node *n)
{
	return (struct fusefs_file *)((char *)n -
				      offsetof(struct fusefs_file, lru));
}

/*
 * f has just used a cursor (is_new: which opened its reader now): f goes
 * first in the list, and the readers of the least recently used other
 * files are dropped past the cap.  Their cursors are only try-locked (a
 * cursor of f is held): one being read is left alone, and the cap is
 * exceeded for that moment.
 */
static void rd_touch(struct fusefs *fs, struct fusefs_file *f, int is_new)
{
	struct lru_node *n, *prev;

	pthread_mutex_lock(&fs->rd_lock);
	if (f->nr_rd)
		lru_unlink(&fs->rd_lru, &f->lru);
	if (is_new) {
		f->nr_rd++;
		fs->nr_readers++;
	}
	lru_push(&fs->rd_lru, &f->lru);
	for (n = fs->rd_lru.tail; n && fs->nr_readers > fs->max_readers;
	     n = prev) {
		struct fusefs_file *g = file_of(n);

		prev = n->prev;
		if (g == f)
			continue;
		for (size_t i = 0; i < FUSEFS_CURSORS; i++) {
			struct fusefs_cursor *k = &g->cur[i];
			if (pthread_mutex_trylock(&k->lock))
				continue;
			if (k->rd) {
				vfs_file_close(k->rd);
				k->rd = NULL;
				g->nr_rd--;
				fs->nr_readers--;
			}
			pthread_mutex_unlock(&k->lock);
		}
		if (!g->nr_rd)
			lru_unlink(&fs->rd_lru, &g->lru);
	}
	pthread_mutex_unlock(&fs->rd_lock);
}

/* Close the reader of cursor k of f (held by the caller). */
static void rd_drop(struct fusefs *fs, struct fusefs_file *f,
		    struct fusefs_cursor *k)
{
	if (!k->rd)
		return;
	pthread_mutex_lock(&fs->rd_lock);
	if (!--f->nr_rd)
		lru_unlink(&fs->rd_lru, &f->lru);
	fs->nr_readers--;
	pthread_mutex_unlock(&fs->rd_lock);
	vfs_file_close(k->rd);
	k->rd = NULL;
}

/* The cursor standing at off if free, else a free one, else wait. */
static struct fusefs_cursor *take_cursor(struct fusefs_file *f, uint64_t off)
{
	struct fusefs_cursor *got = NULL;

	for (size_t i = 0; i < FUSEFS_CURSORS; i++) {
		struct fusefs_cursor *k = &f->cur[i];
		if (pthread_mutex_trylock(&k->lock))
			continue;
		if (k->rd && k->pos == off) {
			if (got)
				pthread_mutex_unlock(&got->lock);
			return k;
		}
		if (!got)
			got = k;
		else
			pthread_mutex_unlock(&k->lock);
	}
	if (!got) {
		got = &f->cur[0];
		pthread_mutex_lock(&got->lock);
	}
	return got;
}

long long fusefs_read(struct fusefs *fs, struct fusefs_file *f, char *buf,
		      size_t size, uint64_t off)
{
	struct fusefs_ctx *c = ctx_get(fs);
	struct fusefs_cursor *k;
	long long n = 0;
	int is_new = 0;

	log_op(fs, "read", f->path);
	if (!c)
		return eio(fs, f->path);
	k = take_cursor(f, off);
	if (!k->rd) {
		if (vfs_file_open(c->vfs, &f->oid, &k->rd) < 0) {
			k->rd = NULL;
			n = eio(fs, f->path);
			goto out;
		}
		k->pos = 0;
		is_new = 1;
	} else {
		vfs_file_rebind(k->rd, c->vfs);
	}
	rd_touch(fs, f, is_new);
	if (off != k->pos) {
		if (vfs_file_seek(k->rd, off) < 0) {
			rd_drop(fs, f, k);
			n = eio(fs, f->path);
			goto out;
		}
		k->pos = off;
	}
	n = vfs_file_read(k->rd, buf, size);
	if (n < 0) {
		rd_drop(fs, f, k);
		n = eio(fs, f->path);
		goto out;
	}
	k->pos += (uint64_t)n;
out:
	pthread_mutex_unlock(&k->lock);
	ctx_put(fs, c);
	return n;
}

void fusefs_release(struct fusefs *fs, struct fusefs_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < FUSEFS_CURSORS; i++) {
		struct fusefs_cursor *k = &f->cur[i];
		pthread_mutex_lock(&k->lock);
		rd_drop(fs, f, k);
		pthread_mutex_unlock(&k->lock);
		pthread_mutex_destroy(&k->lock);
	}
	free(f->path);
	free(f);
}

/* --- life cycle --- */

int fusefs_new(struct fusefs **out, struct repo *repo,
	       const struct fusefs_opts *o)
{
	struct fusefs *fs = xcalloc(1, sizeof(*fs));
	char *abs;
	int ret;

	fs->want_meta = o->want_meta;
	fs->log_op = o->log_op;
	fs->log_error = o->log_error;
	fs->log_data = o->log_data;
	fs->pc_cap = o->cache_bytes ? o->cache_bytes : FUSEFS_CACHE_BYTES;
	fs->max_readers = o->max_readers ? o->max_readers : FUSEFS_MAX_READERS;
	/* absolute: a detached server runs in "/" */
	abs = realpath(repo->objdir, NULL);
	fs->objdir = abs ? abs : xstrdup(repo->objdir);
	fs->nbuckets = 4096;
	fs->tab = xcalloc(fs->nbuckets, sizeof(*fs->tab));
	pthread_mutex_init(&fs->ctx_lock, NULL);
	pthread_mutex_init(&fs->pc_lock, NULL);
	pthread_mutex_init(&fs->rd_lock, NULL);
	if ((ret = refs_for_each(repo, "refs/heads/", refs_collect,
				 &fs->refs)) < 0 ||
	    (ret = refs_for_each(repo, "refs/tags/", refs_collect,
				 &fs->refs)) < 0) {
		fusefs_free(fs);
		return ret;
	}
	*out = fs;
	return 0;
}

void fusefs_free(struct fusefs *fs)
{
	if (!fs)
		return;
	while (fs->pc_lru.head)
		pc_remove(fs, pc_of(fs->pc_lru.head));
	free(fs->tab);
	while (fs->rd_lru.head) {
		struct fusefs_file *f = file_of(fs->rd_lru.head);
		for (size_t i = 0; i < FUSEFS_CURSORS; i++)
			rd_drop(fs, f, &f->cur[i]);
	}
	for (size_t i = 0; i < fs->nr_ctx; i++) {
		vfs_free(fs->all_ctx[i]->vfs);
		free(fs->all_ctx[i]);
	}
	free(fs->all_ctx);
	refs_list_release(&fs->refs);
	free(fs->objdir);
	pthread_mutex_destroy(&fs->ctx_lock);
	pthread_mutex_destroy(&fs->pc_lock);
	pthread_mutex_destroy(&fs->rd_lock);
	free(fs);
}

void fusefs_get_stats(struct fusefs *fs, struct fusefs_stats *st)
{
	pthread_mutex_lock(&fs->pc_lock);
	st->cache_entries = fs->nr_pc;
	st->cache_bytes = fs->pc_bytes;
	st->cache_cap = fs->pc_cap;
	pthread_mutex_unlock(&fs->pc_lock);
	pthread_mutex_lock(&fs->rd_lock);
	st->readers = fs->nr_readers;
	pthread_mutex_unlock(&fs->rd_lock);
	pthread_mutex_lock(&fs->ctx_lock);
	st->contexts = fs->nr_ctx;
	pthread_mutex_unlock(&fs->ctx_lock);
}

/* --- libfuse glue --- */

static struct fusefs *fs_of_context(void)
{
	return fuse_get_context()->private_data;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* saves never change: let the kernel keep data and attributes */
	cfg->kernel_cache = 1;
	cfg->entry_timeout = 3600;
	cfg->attr_timeout = 3600;
	cfg->negative_timeout = 3600;
	cfg->nullpath_ok = 0;   /* readdir finds its directory by path */
	/*
	 * No cap on a read's size (the kernel's read-ahead, 128 KiB, is
	 * what sets it: raising that through sysfs measured slower), and
	 * read-ahead requests in flight together, which the two cursors
	 * of an open file serve in parallel.
	 */
	conn->max_read = 0;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	return fs_of_context();
}

static int op_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	(void)fi;
	if (!path)
		return -ENOENT;
	return fusefs_getattr(fs_of_context(), path, st);
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	return fusefs_readlink(fs_of_context(), path, buf, size);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct fusefs_file *f;
	int ret = fusefs_open(fs_of_context(), path, fi->flags, &f);

	if (ret < 0)
		return ret;
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = 1;   /* immutable: keep cached pages across opens */
	return 0;
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct fusefs_file *f = (struct fusefs_file *)(uintptr_t)fi->fh;
	long long n;

	(void)path;
	if (off < 0)
		return -EINVAL;
	n = fusefs_read(fs_of_context(), f, buf, MIN(size, (size_t)INT_MAX),
			(uint64_t)off);
	return (int)n;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	fusefs_release(fs_of_context(),
		       (struct fusefs_file *)(uintptr_t)fi->fh);
	return 0;
}

struct fill_ctx {
	void *buf;
	fuse_fill_dir_t filler;
};

static int fill_one(void *ctx, const char *name)
{
	struct fill_ctx *fc = ctx;

	return fc->filler(fc->buf, name, NULL, 0, 0) ? 1 : 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fill_ctx fc = { buf, filler };

	(void)off;
	(void)fi;
	(void)flags;
	if (!path)
		return -ENOENT;
	return fusefs_readdir(fs_of_context(), path, fill_one, &fc);
}

static const struct fuse_operations fusefs_ops = {
	.init = op_init,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.readdir = op_readdir,
};

int fusefs_mount(struct fusefs *fs, const struct fusefs_mount_opts *mo)
{
	const char *argv[8];
	int argc = 0, ret;
	struct fuse_args args;
	struct fuse_loop_config *lc = NULL;
	struct fuse *f;
	char *abs;

	argv[argc++] = "cbup";
	argv[argc++] = "-o";
	argv[argc++] = mo->allow_other ? "fsname=cbup,subtype=cbup,allow_other"
				       : "fsname=cbup,subtype=cbup";
	if (mo->debug)
		argv[argc++] = "-d";
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, (char **)argv);
	/*
	 * libfuse unmounts by the name it was given, from "/" once it
	 * has detached: make it absolute.
	 */
	abs = realpath(mo->mountpoint, NULL);
	f = fuse_new(&args, &fusefs_ops, sizeof(fusefs_ops), fs);
	fuse_opt_free_args(&args);
	if (!f) {
		free(abs);
		return err_set(ERR_GENERIC, "cannot start the filesystem");
	}
	if (fuse_mount(f, abs ? abs : mo->mountpoint)) {
		fuse_destroy(f);
		free(abs);
		return err_set(ERR_GENERIC, "cannot mount on '%s'",
			       mo->mountpoint);
	}
	if (fuse_daemonize(mo->foreground || mo->debug) ||
	    fuse_set_signal_handlers(fuse_get_session(f))) {
		ret = err_set(ERR_GENERIC, "cannot serve '%s'",
			      mo->mountpoint);
		goto out;
	}
	lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, mo->max_threads ? mo->max_threads
							  : 16);
	ret = lc ? fuse_loop_mt(f, lc) : -ENOMEM;
	fuse_remove_signal_handlers(fuse_get_session(f));
	/*
	 * A positive value is the signal that ended the loop (libfuse's
	 * exit handler): SIGINT and SIGTERM are the clean ways to stop.
	 */
	ret = ret < 0 ? err_set(ERR_IO, "serving '%s': %s", mo->mountpoint,
				strerror(-ret)) : 0;
out:
	if (lc)
		fuse_loop_cfg_destroy(lc);
	fuse_unmount(f);
	fuse_destroy(f);
	free(abs);
	return ret;
}
