/*
 * The archiver (archive.h): bup 0.33.7's save_tree() and its helpers
 * (lib/bup/cmd/save.py, lib/bup/tree.py), FORMAT.md 3-6 and 8.
 *
 * Everything that decides tree ids follows bup line by line, bugs
 * included: the list comparison that decides when to close directories,
 * the string-prefix tests of --strip/--strip-path/--graft (archpath.c),
 * `.bupm` records sorted by unmangled name, metadata taken from
 * bupindex.meta for unchanged files (FORMAT.md 5.5: times from the
 * index entry, hardlink target recomputed, sizes of specials not
 * normalised).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk/hashsplit.h"
#include "index/bindex.h"
#include "index/hlink.h"
#include "index/toppath.h"
#include "meta/meta.h"
#include "pipelines/archive.h"
#include "pipelines/archpath.h"
#include "pipelines/indexer.h"
#include "store/commit.h"
#include "store/objsink.h"
#include "store/tree.h"
#include "util/err.h"
#include "util/pypath.h"
#include "util/util.h"

/* bup's default fanout 16 (hashsplit.fanout): 4 extra bits per level. */
#define SAVE_FANBITS 4

/* ---- byte-string helpers -------------------------------------------- */

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, MIN(an, bn));
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int has_prefix(const char *s, size_t n, const char *p, size_t pn)
{
	return n >= pn && !memcmp(s, p, pn);
}

/* ---- the directory stack (bup.tree.StackDir) ------------------------ */

struct sitem {
	size_t name_ofs, name_len;    /* in level->names, NUL-terminated */
	unsigned mode, gitmode;       /* fs mode (040000 for subtrees) */
	struct oid oid;
	size_t meta_ofs, meta_len;    /* encoding in level->metas */
};

struct slevel {
	struct buf name;
	struct meta meta;             /* the directory's own metadata */
	struct buf names;
	struct buf metas;
	struct sitem *items;
	size_t nr, alloc;
};

struct sortent {
	const char *name;
	size_t len, idx;
	unsigned mode;
};

struct save {
	const struct archive_opts *o;
	int verbose, progress;
	long long smaller;

	/* the index */
	struct objsink *sink;
	struct bindex ix;
	const unsigned char *metamap;
	size_t metalen;
	struct hlink_db *hl;

	/* the stack; levels beyond depth keep their allocations */
	struct slevel *stack;
	size_t depth, nlevels, alloc;
	struct archpath_comps dirp;
	struct buf dirp_key;     /* dir the cached dirp was made for */
	int have_dirp;
	struct buf first_root_name, first_root_fs;
	int have_first_root, first_root_has_fs, root_collision;
	struct buf lastskip;
	int have_lastskip;
	struct buf lastdir;

	/* scratch, reused */
	struct meta fmeta;
	struct tree_builder tb;
	struct buf bupm, mangled;
	struct sortent *sorted;
	size_t sorted_alloc;
	unsigned char *dup;
	size_t dup_alloc;
	struct hsplit h;
	int h_ready;

	/* already_saved() of the entry wantrecurse last saw */
	size_t as_ofs;
	int as_valid, as_result;

	/* progress (save.py's _nonlocal and friends) */
	struct archive_progress prog;
};

static void PRINTF(2, 3) save_log(struct save *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(s->o->log, s->o->ctx, fmt, ap);
	va_end(ap);
}

static void PRINTF(2, 3) save_error(struct save *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(s->o->error, s->o->ctx, fmt, ap);
	va_end(ap);
}

/* bup's add_error() of an OSError: prefix, then errno and path. */
static void save_oserror(struct save *s, const char *prefix, int e,
			 const char *path, int bytes)
{
	struct buf b = BUF_INIT;

	if (prefix)
		buf_addstr(&b, prefix);
	pypath_oserror(&b, e, path, bytes);
	save_error(s, "%s", b.data);
	buf_release(&b);
}

static void progress_phase(struct save *s, enum archive_phase phase)
{
	s->prog.phase = phase;
	s->o->progress(s->o->ctx, &s->prog);
}

static void progress_report(struct save *s, uint64_t n)
{
	s->prog.subcount += n;
	progress_phase(s, ARCHIVE_SAVING);
}

static struct slevel *push_level(struct save *s, const char *name,
				 size_t len)
{
	struct slevel *l;

	if (s->depth == s->nlevels) {
		ALLOC_GROW(s->stack, s->nlevels + 1, s->alloc);
		l = &s->stack[s->nlevels++];
		memset(l, 0, sizeof(*l));
		buf_init(&l->name, 0);
		buf_init(&l->names, 0);
		buf_init(&l->metas, 0);
		meta_init(&l->meta);
	}
	l = &s->stack[s->depth++];
	buf_reset(&l->name);
	buf_add(&l->name, name, len);
	buf_reset(&l->names);
	buf_reset(&l->metas);
	l->nr = 0;
	return l;
}

/* StackDir.append(); meta_enc NULL for subtrees. */
static void level_append(struct slevel *l, const char *name, size_t len,
			 unsigned mode, unsigned gitmode,
			 const struct oid *oid, const struct meta *meta)
{
	struct sitem *it;

	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	it = &l->items[l->nr++];
	it->name_ofs = l->names.len;
	it->name_len = len;
	buf_add(&l->names, name, len);
	buf_addch(&l->names, '\0');
	it->mode = mode;
	it->gitmode = gitmode;
	it->oid = *oid;
	it->meta_ofs = l->metas.len;
	if (meta)
		meta_encode(&l->metas, meta, 0);
	it->meta_len = l->metas.len - it->meta_ofs;
}

static int split_mem(struct save *s, const void *data, size_t len,
		     struct oid *oid, unsigned *mode);

/* Plain byte order of the names, ties by position (a stable sort). */
static int sortent_cmp(const void *va, const void *vb)
{
	const struct sortent *a = va, *b = vb;
	int c = bytes_cmp(a->name, a->len, b->name, b->len);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* git.shalist_item_sort_key order (name + '/' for directories). */
static int sortent_git_cmp(const void *va, const void *vb)
{
	const struct sortent *a = va, *b = vb;
	int c = tree_name_cmp(a->name, a->len, S_ISDIR(a->mode) ? 040000 : 0,
			      b->name, b->len, S_ISDIR(b->mode) ? 040000 : 0);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * _pop(): close the innermost directory.  With force_tree its recorded
 * tree is used as is; otherwise duplicate names are dropped with bup's
 * error, the `.bupm` (own metadata, or empty metadata when empty_meta,
 * then the non-directory entries by unmangled name: FORMAT.md 5.7) is
 * split like a file, and the tree of mangled names is written.  The
 * tree is appended to the parent, if any.
 */
static int pop_level(struct save *s, const struct oid *force_tree,
		     int empty_meta, struct oid *out)
{
	struct slevel *l = &s->stack[--s->depth];
	struct oid tree, bupm;
	unsigned bupm_mode;
	size_t n = l->nr, nmeta = 0;
	int ret, need_git_sort = 0;

	if (force_tree) {
		tree = *force_tree;
		goto append;
	}

	ALLOC_GROW(s->sorted, n, s->sorted_alloc);
	ALLOC_GROW(s->dup, n, s->dup_alloc);
	for (size_t i = 0; i < n; i++) {
		s->sorted[i].name = l->names.data + l->items[i].name_ofs;
		s->sorted[i].len = l->items[i].name_len;
		s->sorted[i].idx = i;
		s->sorted[i].mode = l->items[i].mode;
		s->dup[i] = 0;
	}
	if (n > 1)
		qsort(s->sorted, n, sizeof(*s->sorted), sortent_cmp);
	for (size_t i = 1; i < n; i++)
		if (!bytes_cmp(s->sorted[i].name, s->sorted[i].len,
			       s->sorted[i - 1].name, s->sorted[i - 1].len))
			s->dup[s->sorted[i].idx] = 1;
	for (size_t i = 0; i < n; i++) {
		struct buf parent = BUF_INIT, a = BUF_INIT, b = BUF_INIT;

		if (!s->dup[i])
			continue;
		/* bup joins the *remaining* stack: the parent's path */
		for (size_t k = 0; k < s->depth; k++) {
			if (k)
				buf_addch(&parent, '/');
			buf_add(&parent, s->stack[k].name.data,
				s->stack[k].name.len);
		}
		buf_addch(&parent, '/');
		pypath_path_msg(&a, l->names.data + l->items[i].name_ofs);
		pypath_path_msg(&b, parent.data);
		save_error(s, "error: ignoring duplicate path %s in %s",
			   a.data, b.data);
		buf_release(&parent);
		buf_release(&a);
		buf_release(&b);
	}

	/* The metadata stream: directory first, then non-trees. */
	buf_reset(&s->bupm);
	if (empty_meta)
		buf_addch(&s->bupm, 0);
	else
		meta_encode(&s->bupm, &l->meta, 0);
	for (size_t i = 0; i < n; i++) {
		struct sortent *e = &s->sorted[i];
		if (s->dup[e->idx] || l->items[e->idx].mode == TREE_MODE_TREE)
			continue;
		if (S_ISDIR(e->mode))
			need_git_sort = 1;
		s->sorted[nmeta++] = *e;
	}
	/*
	 * bup sorts by shalist_item_sort_key of the fs mode: only an
	 * index entry claiming a directory mode for a file name would
	 * make that differ from plain name order.
	 */
	if (need_git_sort && nmeta > 1)
		qsort(s->sorted, nmeta, sizeof(*s->sorted), sortent_git_cmp);
	for (size_t i = 0; i < nmeta; i++) {
		const struct sitem *it = &l->items[s->sorted[i].idx];
		buf_add(&s->bupm, l->metas.data + it->meta_ofs, it->meta_len);
	}
	if ((ret = split_mem(s, s->bupm.data, s->bupm.len, &bupm,
			     &bupm_mode)))
		return ret;

	tree_builder_add(&s->tb, bupm_mode, ".bupm", 5, &bupm);
	for (size_t i = 0; i < n; i++) {
		const struct sitem *it = &l->items[i];
		if (s->dup[i])
			continue;
		buf_reset(&s->mangled);
		tree_mangle_name(&s->mangled, l->names.data + it->name_ofs,
				 it->name_len, it->mode, it->gitmode);
		tree_builder_add(&s->tb, it->gitmode, s->mangled.data,
				 s->mangled.len, &it->oid);
	}
	if ((ret = tree_builder_write(&s->tb, s->sink, &tree)))
		return ret;

append:
	if (s->depth)
		level_append(&s->stack[s->depth - 1], l->name.data,
			     l->name.len, TREE_MODE_TREE, TREE_MODE_TREE,
			     &tree, NULL);
	l->nr = 0;
	if (out)
		*out = tree;
	return 0;
}

/* ---- per-entry work ------------------------------------------------- */

static void meta_warn(void *ctx, const char *msg)
{
	save_error(ctx, "%s", msg);
}

/*
 * already_saved(): valid in the index and its object is in the repo
 * (remote: in the index cache of the server's idx files, or sent in
 * this session, as bup's PackWriter_Remote.exists).
 */
static int already_saved(struct save *s, const struct bindex_iter *it)
{
	struct oid oid;

	if (!bindex_ent_is_valid(&it->e))
		return 0;
	if (s->as_valid && s->as_ofs == it->ent_ofs)
		return s->as_result;
	memcpy(oid.hash, it->e.sha, OID_RAWSZ);
	return s->sink->exists && s->sink->exists(s->sink, &oid) > 0;
}

static int want_pre(struct bindex_iter *it, void *data)
{
	struct save *s = data;

	s->as_valid = 0;
	return !already_saved(s, it);
}

static int sha_missing(const struct bindex_ent *e)
{
	return (e->flags & BINDEX_SHAMISSING) ||
	       !(e->flags & BINDEX_HASHVALID);
}

static int want_during(struct bindex_iter *it, void *data)
{
	struct save *s = data;
	int r;

	s->as_valid = 0;
	r = already_saved(s, it);
	/* A file is yielded right after this call: remember the answer. */
	s->as_ofs = it->ent_ofs;
	s->as_result = r;
	s->as_valid = bindex_ent_is_valid(&it->e);
	return !r || sha_missing(&it->e);
}

/* find_hardlink_target(): the first path bup index listed for the inode. */
static const char *hardlink_target(struct save *s, const struct bindex_ent *e)
{
	const char *const *paths;

	if (S_ISDIR(e->mode) || e->nlink <= 1)
		return NULL;
	if (!hlink_node_paths(s->hl, e->dev, e->ino, &paths))
		return NULL;
	return paths[0];
}

struct file_split {
	struct save *s;
	struct fantree tree;
};

static int emit_file_chunk(void *ctx, const unsigned char *data, size_t len,
			   int level, const struct oid *id)
{
	struct file_split *fs = ctx;
	struct oid oid;
	int ret = id ? objsink_write_known(fs->s->sink, OBJ_BLOB, data, len,
					   id, &oid)
		     : objsink_write(fs->s->sink, OBJ_BLOB, data, len, &oid);

	if (ret)
		return ret;
	if ((ret = fantree_add(&fs->tree, &oid, len, level)))
		return ret;
	if (fs->s->progress)
		progress_report(fs->s, len);
	return 0;
}

/*
 * split_to_blob_or_tree() of a `.bupm` stream: the same 8 MiB "reads" a
 * file of these bytes would give, and (as bup's global progress
 * callback does) each blob counts in the progress line.
 */
/* The chunker, kept from file to file, ready for the next one into fs. */
static void start_split(struct save *s, struct file_split *fs)
{
	fantree_init(&fs->tree, s->sink);
	if (s->h_ready) {
		hsplit_reset(&s->h, emit_file_chunk, fs);
		return;
	}
	hsplit_init(&s->h, SAVE_FANBITS, emit_file_chunk, fs);
	/* Large reads are scanned on two threads (hashsplit.c). */
	hsplit_set_threads(&s->h, s->o->threads);
	s->h_ready = 1;
}

static int split_mem(struct save *s, const void *data, size_t len,
		     struct oid *oid, unsigned *mode)
{
	struct file_split fs = { s, { 0 } };
	const unsigned char *p = data;
	int ret = 0;

	start_split(s, &fs);
	while (len && !ret) {
		size_t n = MIN(len, (size_t)HSPLIT_READ_SIZE);
		ret = hsplit_feed(&s->h, p, n);
		p += n;
		len -= n;
	}
	if (!ret)
		ret = hsplit_finish(&s->h);
	if (!ret)
		ret = fantree_finish(&fs.tree, oid, mode);
	fantree_release(&fs.tree);
	return ret;
}

/*
 * Hashsplit one regular file (split_to_blob_or_tree).  Returns 0, 1 for
 * an error already reported (the entry is skipped), <0 for a fatal one.
 */
static int split_file(struct save *s, const char *path, int fd,
		      struct oid *oid, unsigned *mode, uint64_t *size)
{
	struct file_split fs = { s, { 0 } };
	int ret = 0, e = 0;

	/* bup's open_noatime(): O_NOATIME unless we may not (EPERM). */
	if (fd < 0)
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		goto report_named;
	}
	start_split(s, &fs);
	*size = 0;
	for (;;) {
		unsigned char *p = hsplit_buffer(&s->h, HSPLIT_READ_SIZE);
		long long n = read_full(fd, p, HSPLIT_READ_SIZE);

		if (n < 0) {
			e = errno;
			break;
		}
		if (n && (ret = hsplit_feed_buffer(&s->h, (size_t)n)))
			break;
		*size += (uint64_t)n;
		/* read_full is short only at EOF */
		if ((size_t)n < HSPLIT_READ_SIZE)
			break;
		/*
		 * A file of more than one read: ask for more readahead.  Not
		 * before the first read, where it costs most files (small
		 * ones) a system call for nothing.
		 */
		if (*size == HSPLIT_READ_SIZE)
			posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	if (!ret && !e)
		ret = hsplit_finish(&s->h);
	if (!ret && !e)
		ret = fantree_finish(&fs.tree, oid, mode);
	fantree_release(&fs.tree);
	/* leave the buffer for the next file */
	close(fd);
	if (ret)
		return ret;
	if (e) {
		struct buf b = BUF_INIT;
		/* '%s: %s' % (ent.name, e) of a read error */
		pypath_bytes_repr(&b, path, strlen(path));
		buf_addstr(&b, ": ");
		save_oserror(s, b.data, e, NULL, 0);
		buf_release(&b);
		return 1;
	}
	return 0;

report_named:
	{
		struct buf b = BUF_INIT;
		pypath_bytes_repr(&b, path, strlen(path));
		buf_addstr(&b, ": ");
		save_oserror(s, b.data, e, path, 0);
		buf_release(&b);
	}
	return 1;
}

static void set_lastskip(struct save *s, const char *name, size_t len)
{
	buf_reset(&s->lastskip);
	buf_add(&s->lastskip, name, len);
	s->have_lastskip = 1;
}

/* The archive path of directory `dir` as (name, fs path) components. */
static void compute_dirp(struct save *s, const char *dir, size_t dirlen)
{
	if (s->have_dirp && s->dirp_key.len == dirlen &&
	    !memcmp(s->dirp_key.data, dir, dirlen))
		return;
	buf_reset(&s->dirp_key);
	buf_add(&s->dirp_key, dir, dirlen);
	archpath_map(&s->dirp, s->o->rules, s->dirp_key.data);
	s->have_dirp = 1;
}

/* [x.name for x in stack] > [x[0] for x in dirp], Python's list order. */
static int stack_after_dirp(struct save *s)
{
	const struct archpath_comps *c = &s->dirp;
	size_t n = MIN(s->depth, c->nr);

	for (size_t i = 0; i < n; i++) {
		int r = bytes_cmp(s->stack[i].name.data, s->stack[i].name.len,
				  archpath_name(c, i), c->v[i].name_len);
		if (r)
			return r > 0;
	}
	return s->depth > c->nr;
}

static int meta_from_index(struct save *s, struct meta *m,
			   const struct bindex_iter *it)
{
	const struct bindex_ent *e = &it->e;
	const char *hl;
	size_t used;
	int64_t ns;
	int ret;

	if (e->meta_ofs >= s->metalen)
		return err_set(ERR_CORRUPT, "%s: no metadata at offset %llu",
			       it->name.data,
			       (unsigned long long)e->meta_ofs);
	ret = meta_decode(m, s->metamap + e->meta_ofs,
			  s->metalen - e->meta_ofs, &used);
	if (ret)
		return err_set(ret, "bupindex.meta at offset %llu: %s",
			       (unsigned long long)e->meta_ofs, err_last());
	buf_reset(&m->hardlink_target);
	if ((hl = hardlink_target(s, e)))
		buf_addstr(&m->hardlink_target, hl);
	/* Restore the times that bup index stored as 0 (FORMAT.md 5.5). */
#define SET_TIME(field, s_, n_) do {					\
		int64_t ts_;						\
		uint64_t tn_;						\
		ns = bindex_ts_ns(e->s_, e->n_);			\
		bindex_ns_ts(ns, &ts_, &tn_);				\
		m->field.sec = ts_;					\
		m->field.nsec = (int32_t)tn_;				\
	} while (0)
	SET_TIME(atime, atime_s, atime_ns);
	SET_TIME(mtime, mtime_s, mtime_ns);
	SET_TIME(ctime, ctime_s, ctime_ns);
#undef SET_TIME
	return 0;
}

/* One pass of the main loop of save_tree(). */
static int save_entry(struct save *s, struct bindex_iter *it)
{
	struct bindex_ent *e = &it->e;
	const char *name = it->name.data;
	size_t namelen = it->name.len, dirlen, fileofs;
	const char *file;
	int exists, hashvalid, wasmissing, ret;
	uint64_t oldsize = e->size;
	struct oid oid;

	pypath_split(name, namelen, &dirlen, &fileofs);
	file = name + fileofs;
	exists = !!(e->flags & BINDEX_EXISTS);
	hashvalid = already_saved(s, it);
	s->as_valid = 0;
	wasmissing = sha_missing(e);

	if (s->verbose) {
		char status = !exists ? 'D' : !hashvalid
			? (bindex_ent_sha_is_empty(e) ? 'A' : 'M') : ' ';
		struct buf p = BUF_INIT;

		if (s->verbose >= 2) {
			pypath_path_msg(&p, name);
			save_log(s, "%c %-70s\n", status, p.data);
		} else if (!S_ISDIR(e->mode) &&
			   bytes_cmp(s->lastdir.data, s->lastdir.len,
				     name, dirlen)) {
			if (!has_prefix(s->lastdir.data, s->lastdir.len,
					name, dirlen)) {
				struct buf d = BUF_INIT;
				buf_add(&d, name, dirlen);
				if (!dirlen || d.data[dirlen - 1] != '/')
					buf_addch(&d, '/');
				pypath_path_msg(&p, d.data);
				save_log(s, "%c %-70s\n", status, p.data);
				buf_release(&d);
			}
			buf_reset(&s->lastdir);
			buf_add(&s->lastdir, name, dirlen);
		}
		buf_release(&p);
	}

	if (s->progress)
		progress_report(s, 0);
	s->prog.fcount++;

	if (!exists)
		return 0;
	if (s->smaller && e->size >= (uint64_t)s->smaller) {
		if (!hashvalid) {
			if (s->verbose) {
				struct buf p = BUF_INIT;
				pypath_path_msg(&p, name);
				save_log(s, "skipping large file \"%s\"\n",
					 p.data);
				buf_release(&p);
			}
			set_lastskip(s, name, namelen);
		}
		return 0;
	}

	compute_dirp(s, name, dirlen);
	{
		const struct archpath_comps *c = &s->dirp;
		const char *fs0 = archpath_fs(c, 0);

		if (!s->have_first_root) {
			buf_reset(&s->first_root_name);
			buf_add(&s->first_root_name, archpath_name(c, 0),
				c->v[0].name_len);
			buf_reset(&s->first_root_fs);
			if (fs0)
				buf_add(&s->first_root_fs, fs0,
					c->v[0].fs_len);
			s->first_root_has_fs = !!fs0;
			s->have_first_root = 1;
		} else if (bytes_cmp(s->first_root_name.data,
				     s->first_root_name.len, archpath_name(c, 0),
				     c->v[0].name_len) ||
			   s->first_root_has_fs != !!fs0 ||
			   (fs0 && bytes_cmp(s->first_root_fs.data,
					     s->first_root_fs.len, fs0,
					     c->v[0].fs_len))) {
			s->root_collision = 1;
		}
	}

	/* Leave the sub-trees we are done with ... */
	while (s->depth && stack_after_dirp(s))
		if ((ret = pop_level(s, NULL, 0, NULL)))
			return ret;
	/* ... and open the missing ones, with their metadata. */
	for (size_t i = s->depth; i < s->dirp.nr; i++) {
		const char *fs = archpath_fs(&s->dirp, i);
		struct slevel *l = push_level(s, archpath_name(&s->dirp, i),
					      s->dirp.v[i].name_len);

		if (!fs) {
			meta_reset(&l->meta);
		} else if (meta_from_path(&l->meta, fs, NULL, META_NORMALIZE,
					  meta_warn, s)) {
			save_oserror(s, NULL, errno, fs, 0);
			/* sic: bup records the component name here */
			set_lastskip(s, l->name.data, l->name.len);
			meta_reset(&l->meta);
		}
	}

	if (!*file) {
		/* A directory entry: finish its tree. */
		int old;

		if (s->depth == 1)
			return 0;   /* the top level: keep the root open */
		old = already_saved(s, it);
		if (old) {
			memcpy(oid.hash, e->sha, OID_RAWSZ);
			if ((ret = pop_level(s, &oid, 0, NULL)))
				return ret;
			if (exists && wasmissing)
				s->prog.count += oldsize;
			return 0;
		}
		if ((ret = pop_level(s, NULL, 0, &oid)))
			return ret;
		if (s->have_lastskip &&
		    has_prefix(s->lastskip.data, s->lastskip.len, name,
			       namelen)) {
			e->flags &= ~BINDEX_HASHVALID;
		} else {
			e->gitmode = TREE_MODE_TREE;
			memcpy(e->sha, oid.hash, OID_RAWSZ);
			e->flags |= BINDEX_HASHVALID | BINDEX_EXISTS;
		}
		if ((ret = bindex_iter_repack(it)))
			return ret;
		if (exists && wasmissing)
			s->prog.count += oldsize;
		return 0;
	}

	if (hashvalid) {
		struct meta *m = &s->fmeta;

		if ((ret = meta_from_index(s, m, it)))
			return ret;
		memcpy(oid.hash, e->sha, OID_RAWSZ);
		level_append(&s->stack[s->depth - 1], file,
			     namelen - fileofs, e->mode, e->gitmode, &oid, m);
	} else {
		struct meta *m = &s->fmeta;
		const char *hl = hardlink_target(s, e);
		unsigned gitmode;
		int fd = -1;

		/*
		 * A file's one open, for its attr flags and its content.
		 * O_NONBLOCK: what is there now may be a fifo (the type is
		 * checked below); read() of a regular file ignores it.  On
		 * failure meta_from_path and split_file open and report as
		 * bup does.
		 */
		if (S_ISREG(e->mode)) {
			fd = open(name, O_RDONLY | O_NOFOLLOW | O_NOATIME |
				  O_NONBLOCK | O_CLOEXEC);
			if (fd < 0 && errno == EPERM)
				fd = open(name, O_RDONLY | O_NOFOLLOW |
					  O_NONBLOCK | O_CLOEXEC);
		}
		if (meta_from_path_fd(m, name, fd, NULL, META_NORMALIZE,
				      meta_warn, s)) {
			save_oserror(s, NULL, errno, name, 0);
			if (fd >= 0)
				close(fd);
			set_lastskip(s, name, namelen);
			return 0;
		}
		if (hl)
			buf_addstr(&m->hardlink_target, hl);
		if ((e->mode & S_IFMT) != ((unsigned)m->mode & S_IFMT)) {
			struct buf p = BUF_INIT;
			/*
			 * The type changed since indexing: reading a fifo
			 * or recording a stale type would be wrong.
			 */
			pypath_path_msg(&p, name);
			save_error(s, "%s: mode changed since indexing, "
				   "skipping.", p.data);
			buf_release(&p);
			if (fd >= 0)
				close(fd);
			set_lastskip(s, name, namelen);
			return 0;
		}
		if (S_ISREG(e->mode)) {
			uint64_t size;

			/* split_file closes fd */
			ret = split_file(s, name, fd, &oid, &gitmode, &size);
			if (ret < 0)
				return ret;
			if (ret > 0) {
				set_lastskip(s, name, namelen);
				goto count;
			}
			/* the bytes actually read (FORMAT.md 5.4) */
			m->size = (int64_t)size;
		} else if (S_ISLNK(e->mode)) {
			gitmode = TREE_MODE_LINK;
			if ((ret = objsink_write(s->sink, OBJ_BLOB,
						 m->symlink_target.data,
						 m->symlink_target.len, &oid)))
				return ret;
		} else {
			/* fully described by its metadata: an empty blob */
			gitmode = TREE_MODE_BLOB;
			if ((ret = objsink_write(s->sink, OBJ_BLOB, "", 0,
						 &oid)))
				return ret;
		}
		e->gitmode = gitmode;
		memcpy(e->sha, oid.hash, OID_RAWSZ);
		e->flags |= BINDEX_HASHVALID | BINDEX_EXISTS;
		if ((ret = bindex_iter_repack(it)))
			return ret;
		level_append(&s->stack[s->depth - 1], file,
			     namelen - fileofs, e->mode, gitmode, &oid, m);
	}
count:
	/* progress accounting only */
	if (exists && wasmissing) {
		s->prog.count += oldsize;
		s->prog.subcount = 0;
	}
	return 0;
}

typedef int (*entry_fn)(struct save *s, struct bindex_iter *it);

static int filter_run(struct save *s,
		      int (*want)(struct bindex_iter *, void *),
		      entry_fn fn)
{
	struct toppath *tops;
	/* bup runs reduce_paths() once per filter: its errors twice */
	size_t n = toppath_reduce(&tops, s->o->sources, s->o->nr_sources,
				  meta_warn, s);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		struct bindex_iter it;
		int any = 0, r;

		bindex_iter_init(&it, &s->ix, tops[i].rp);
		it.wantrecurse = want;
		it.wantrecurse_data = s;
		while ((r = bindex_iter_next(&it)) > 0) {
			any = 1;
			if ((ret = fn(s, &it)))
				break;
		}
		bindex_iter_release(&it);
		if (ret)
			break;
		if (r < 0) {
			ret = r;
			break;
		}
		if (any)
			continue;
		/* Always return at least the top of each prefix. */
		s->as_valid = 0;
		r = bindex_find(&it, &s->ix, tops[i].rp);
		if (r > 0) {
			ret = fn(s, &it);
		} else if (r == 0) {
			struct buf b = BUF_INIT;
			pypath_bytes_repr(&b, tops[i].rp, strlen(tops[i].rp));
			ret = err_set(ERR_NOTFOUND, "cannot find %s", b.data);
			buf_release(&b);
		} else {
			ret = r;
		}
		bindex_iter_release(&it);
	}
	toppath_free(tops, n);
	return ret;
}

/* The progress pre-scan: totals, and IX_SHAMISSING brought up to date. */
static int prescan_entry(struct save *s, struct bindex_iter *it)
{
	struct bindex_ent *e = &it->e;
	int exists, hashvalid, want, old;

	if (!(s->prog.ftotal % 10024))
		progress_phase(s, ARCHIVE_READING);
	exists = !!(e->flags & BINDEX_EXISTS);
	hashvalid = already_saved(s, it);
	s->as_valid = 0;
	/* ExistingEntry.set_sha_missing(not hashvalid) */
	want = !hashvalid;
	old = sha_missing(e);
	if (want != old) {
		int ret;
		e->flags = (uint16_t)((e->flags & ~BINDEX_SHAMISSING) |
				      (want ? BINDEX_SHAMISSING : 0));
		if ((ret = bindex_iter_repack(it)))
			return ret;
	}
	if (!s->smaller || e->size < (uint64_t)s->smaller)
		if (exists && !hashvalid)
			s->prog.total += e->size;
	s->prog.ftotal++;
	return 0;
}

static int save_tree(struct save *s, struct oid *tree)
{
	int ret;

	if (s->progress) {
		if ((ret = filter_run(s, want_pre, prescan_entry)))
			return ret;
		progress_phase(s, ARCHIVE_READ);
	}
	s->prog.tstart = util_now();
	if ((ret = filter_run(s, want_during, save_entry)))
		return ret;
	if (s->progress)
		progress_phase(s, ARCHIVE_SAVED);
	if (!s->depth)
		return err_set(ERR_NOTFOUND, "nothing to save");
	while (s->depth > 1)
		if ((ret = pop_level(s, NULL, 0, NULL)))
			return ret;
	/* Root collisions get empty metadata for the root. */
	return pop_level(s, NULL, s->root_collision, tree);
}

/* Map bupindex.meta read-only; a missing file is bup's "no index". */
static int map_metastore(struct save *s, const char *path, int *missing)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *m;

	*missing = 0;
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		return err_errno("cannot open '%s'", path);
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_errno("cannot stat '%s'", path);
	}
	if (st.st_size > 0) {
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			 fd, 0);
		if (m == MAP_FAILED) {
			close(fd);
			return err_errno("cannot map '%s'", path);
		}
		s->metamap = m;
		s->metalen = (size_t)st.st_size;
	}
	close(fd);
	return 0;
}

static void save_release(struct save *s)
{
	for (size_t i = 0; i < s->nlevels; i++) {
		struct slevel *l = &s->stack[i];
		buf_release(&l->name);
		buf_release(&l->names);
		buf_release(&l->metas);
		meta_release(&l->meta);
		free(l->items);
	}
	free(s->stack);
	archpath_comps_release(&s->dirp);
	buf_release(&s->dirp_key);
	buf_release(&s->first_root_name);
	buf_release(&s->first_root_fs);
	buf_release(&s->lastskip);
	buf_release(&s->lastdir);
	meta_release(&s->fmeta);
	tree_builder_release(&s->tb);
	buf_release(&s->bupm);
	buf_release(&s->mangled);
	free(s->sorted);
	free(s->dup);
	if (s->h_ready)
		hsplit_release(&s->h);
	if (s->metamap)
		munmap((void *)s->metamap, s->metalen);
	if (s->hl)
		hlink_free(s->hl);
	bindex_close(&s->ix);
}


static void save_init(struct save *s, const struct archive_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->o = o;
	s->verbose = o->verbose;
	s->progress = o->progress != NULL;
	s->smaller = o->smaller;
	s->sink = o->sink;
	s->ix.fd = -1;
	buf_init(&s->dirp.store, 0);
	buf_init(&s->dirp_key, 0);
	buf_init(&s->first_root_name, 0);
	buf_init(&s->first_root_fs, 0);
	buf_init(&s->lastskip, 0);
	buf_init(&s->lastdir, 0);
	buf_init(&s->bupm, 0);
	buf_init(&s->mangled, 0);
	meta_init(&s->fmeta);
	tree_builder_init(&s->tb);
}

/* bup's index.Reader() warning reaches the caller's log. */
static void index_log(void *ctx, const char *line)
{
	save_log(ctx, "%s", line);
}

static int write_commit(const struct archive_opts *o, const struct oid *tree,
			struct oid *out)
{
	struct buf ident = BUF_INIT, text = BUF_INIT;
	int64_t secs = (int64_t)o->date;   /* "%d" % float truncates */
	int ret;

	commit_default_ident(&ident);
	commit_format(&text, tree, o->parent, ident.data, secs,
		      commit_local_tz((int64_t)floor(o->date)), o->msg,
		      o->msglen);
	ret = objsink_write(o->sink, OBJ_COMMIT, text.data, text.len, out);
	buf_release(&ident);
	buf_release(&text);
	return ret;
}

int archive_run(struct archive_result *out, const struct archive_opts *o)
{
	struct save s;
	struct indexer_opts io = { 0 };
	char *path;
	int ret, exists, missing;

	memset(out, 0, sizeof(*out));
	save_init(&s, o);
	path = xstrfmt("%s.meta", o->indexfile);
	if ((ret = map_metastore(&s, path, &missing)))
		goto out;
	if (missing) {
		struct buf m = BUF_INIT;
		pypath_path_msg(&m, o->indexfile);
		ret = err_set(ERR_NOTFOUND, "cannot access '%s'; have you "
			      "run bup index?", m.data);
		buf_release(&m);
		out->no_index = 1;
		goto out;
	}
	free(path);
	path = xstrfmt("%s.hlink", o->indexfile);
	if ((ret = hlink_load(&s.hl, path)))
		goto out;
	io.log = index_log;
	io.ctx = &s;
	if ((ret = indexer_open(&s.ix, &exists, o->indexfile, BINDEX_RDWR,
				&io)))
		goto out;

	ret = save_tree(&s, &out->tree);
	/* the index keeps what was validated even if we stop here */
	{
		int r = bindex_sync(&s.ix);
		if (r && !ret)
			ret = r;
	}
	if (ret)
		goto out;
	out->have_tree = 1;
	/*
	 * The read buffer (8 MiB) is not needed past the last file: give
	 * it back before the pack's upkeep allocates its own.  This also
	 * joins the chunker's scan threads.
	 */
	if (s.h_ready) {
		hsplit_release(&s.h);
		s.h_ready = 0;
	}
	if (o->commit)
		ret = write_commit(o, &out->tree, &out->commit);
out:
	save_release(&s);
	free(path);
	return ret;
}
