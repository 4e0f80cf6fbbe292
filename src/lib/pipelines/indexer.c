/*
 * The index updater (indexer.h): bup 0.33.7's update_index(),
 * check_index() and clear_index() on the formats of FORMAT.md 8.1-8.4.
 * Quirks kept for byte compatibility with bup are marked "bup:".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index/bindex.h"
#include "index/drecurse.h"
#include "index/hlink.h"
#include "index/toppath.h"
#include "meta/meta.h"
#include "pipelines/indexer.h"
#include "util/err.h"
#include "util/lockfile.h"
#include "util/pypath.h"

/* bup: GIT_MODE_FILE and index.FAKE_SHA, what --fake-valid records. */
#define FAKE_GITMODE 0100644

/* ---- small helpers ----------------------------------------------------- */

static void PRINTF(2, 3) ix_log(const struct indexer_opts *o,
				const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(o->log, o->ctx, fmt, ap);
	va_end(ap);
}

static void PRINTF(3, 4) ix_progress(const struct indexer_opts *o, int done,
				     const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (!o->progress)
		return;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	o->progress(o->ctx, done, b.data);
	buf_release(&b);
}

static void ix_error(const struct indexer_opts *o, const char *msg)
{
	if (o->error)
		o->error(o->ctx, msg);
}

static int namecmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, MIN(an, bn));
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/* repr(path_msg(s)): what bup prints with %r after path_msg() (check -v). */
static void str_repr(struct buf *out, const char *s)
{
	struct buf t = BUF_INIT;

	pypath_path_msg(&t, s);
	pypath_str_repr(out, t.data);
	buf_release(&t);
}

/* The last nanosecond before second `sec`: what tmax clamps to. */
static int64_t tmax_before(int64_t sec)
{
	return sec * 1000000000 - 1;
}

/* err_set() with a message that may be err_last()'s own buffer. */
static int PRINTF(2, 3) set_err(int code, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	code = err_set(code, "%s", b.data);
	buf_release(&b);
	return code;
}

/* ---- opening and checking ---------------------------------------------- */

int indexer_open(struct bindex *ix, int *exists, const char *path,
		 int flags, const struct indexer_opts *o)
{
	unsigned char hdr[BINDEX_HDRLEN];
	long long n;
	int fd, r;

	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	*exists = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_errno("cannot open '%s'", path);
	}
	n = read_full(fd, hdr, sizeof(hdr));
	if (n < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return err_errno("cannot read '%s'", path);
	}
	close(fd);
	if (n != BINDEX_HDRLEN || memcmp(hdr, BINDEX_HDR, BINDEX_HDRLEN)) {
		struct buf m = BUF_INIT;
		buf_addstr(&m, "warning: ");
		pypath_bytes_repr(&m, path, strlen(path));
		buf_addstr(&m, ": header: expected ");
		pypath_bytes_repr(&m, BINDEX_HDR, BINDEX_HDRLEN);
		buf_addstr(&m, ", got ");
		pypath_bytes_repr(&m, (const char *)hdr, (size_t)n);
		buf_addch(&m, '\n');
		ix_log(o, "%s", m.data);
		buf_release(&m);
		return 0;
	}
	if ((r = bindex_open(ix, path, flags)))
		return r;
	*exists = 1;
	return 0;
}

static int check_failed(const struct indexer_opts *o, const char *name,
			const char *what)
{
	struct buf m = BUF_INIT;

	if (name) {
		str_repr(&m, name);
		ix_log(o, "index error! at %s\n", m.data);
	}
	buf_release(&m);
	return set_err(ERR_CORRUPT, "index check failed: %s", what);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * bup's check_index(): the forward (file order) walk with its
 * assertions, then the tree walk in strictly descending name order.
 * bindex_open() has already proved the structure sound; this reports
 * what bup asserts, with -v its list of directories.
 */
static int check_index(const struct indexer_opts *o, struct bindex *ix)
{
	const unsigned char *m = ix->map;
	size_t ofs = BINDEX_HDRLEN, end = ix->len - BINDEX_FOOTLEN;
	uint64_t *kids = NULL;
	size_t nr = 0, alloc = 0;
	struct buf name = BUF_INIT, last = BUF_INIT, msg = BUF_INIT;
	struct bindex_iter it;
	int have_last = 0, r = 0;

	ix_log(o, "check: checking forward iteration...\n");
	while (m && ofs + BINDEX_ENTLEN <= end) {
		const unsigned char *eon = memchr(m + ofs, '\0', end - ofs);
		struct bindex_ent e;

		if (!eon || eon == m + ofs ||
		    (size_t)(eon - m) + 1 + BINDEX_ENTLEN > end) {
			r = check_failed(o, NULL, "malformed entry");
			goto out;
		}
		buf_reset(&name);
		buf_add(&name, m + ofs, (size_t)(eon - (m + ofs)));
		bindex_ent_unpack(&e, eon + 1);
		ofs = (size_t)(eon - m) + 1 + BINDEX_ENTLEN;
		if (e.children_n) {
			if (o->verbose) {
				buf_reset(&msg);
				str_repr(&msg, name.data);
				ix_log(o, "%08llx+%-4u %s\n",
				       (unsigned long long)e.children_ofs,
				       (unsigned)e.children_n, msg.data);
			}
			if (!e.children_ofs) {
				r = check_failed(o, name.data, "children at 0");
				goto out;
			}
			if (name.data[name.len - 1] != '/') {
				r = check_failed(o, name.data,
						 "file with children");
				goto out;
			}
			ALLOC_GROW(kids, nr + 1, alloc);
			kids[nr++] = e.children_ofs;
		}
		if ((e.flags & BINDEX_HASHVALID) &&
		    (bindex_ent_sha_is_empty(&e) || !e.gitmode)) {
			r = check_failed(o, name.data,
					 "valid entry without a hash");
			goto out;
		}
	}
	if (m && strcmp(name.data, "/")) {
		r = check_failed(o, name.data, "last entry is not /");
		goto out;
	}
	if (nr) {
		qsort(kids, nr, sizeof(*kids), cmp_u64);
		for (size_t i = 1; i < nr; i++) {
			if (kids[i] == kids[i - 1]) {
				r = check_failed(o, NULL, "shared children");
				goto out;
			}
		}
	}
	ix_log(o, "check: checking normal iteration...\n");
	bindex_iter_init(&it, ix, NULL);
	while ((r = bindex_iter_next(&it)) > 0) {
		if (have_last && namecmp(last.data, last.len, it.name.data,
					 it.name.len) <= 0)
			break;
		buf_reset(&last);
		buf_add(&last, it.name.data, it.name.len);
		have_last = 1;
	}
	if (r > 0)
		r = check_failed(o, it.name.data, "entries out of order");
	else if (r < 0)
		r = check_failed(o, NULL, err_last());
	bindex_iter_release(&it);
	if (r)
		goto out;
	ix_log(o, "check: passed.\n");
out:
	free(kids);
	buf_release(&name);
	buf_release(&last);
	buf_release(&msg);
	return r;
}

int indexer_check(const struct indexer_opts *o, const char *indexfile)
{
	struct bindex ix;
	int exists, r;

	r = indexer_open(&ix, &exists, indexfile, 0, o);
	if (!r)
		r = check_index(o, &ix);
	bindex_close(&ix);
	return r;
}

/* ---- the lock ---------------------------------------------------------- */

/*
 * A second run waits for the first, saying so once: bup has no lock, so
 * whoever starts two index runs expects both to succeed, and waiting is
 * what makes both right.  The kernel releases the lock of a run that is
 * killed; the file it leaves is taken over by the next run.  On a file
 * system without locks the run goes on unlocked, with a warning.
 */
static int lock_index(const struct indexer_opts *o, struct lockfile *l,
		      const char *indexfile)
{
	char *path = xstrfmt("%s.lock", indexfile);
	int r = lockfile_acquire(l, path, 0);

	if (r == ERR_LOCKED) {
		struct buf m = BUF_INIT;

		pypath_path_msg(&m, path);
		ix_log(o, "bup: waiting for another index run to release "
		       "'%s'\n", m.data);
		buf_release(&m);
		r = lockfile_acquire(l, path, 1);
	}
	if (r == 1) {
		ix_log(o, "warning: %s; index runs at the same time may lose "
		       "entries\n", err_last());
		r = 0;
	}
	free(path);
	return r;
}

int indexer_clear(const struct indexer_opts *o, const char *indexfile)
{
	static const char *const sfx[] = { "", ".meta", ".hlink" };
	struct lockfile lock = LOCKFILE_INIT;
	int r;

	if ((r = lock_index(o, &lock, indexfile)))
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(sfx) && !r; i++) {
		char *p = xstrfmt("%s%s", indexfile, sfx[i]);
		if (!unlink(p)) {
			if (o->verbose) {
				struct buf m = BUF_INIT;
				pypath_path_msg(&m, p);
				ix_log(o, "clear: removed %s\n", m.data);
				buf_release(&m);
			}
		} else if (errno != ENOENT) {
			r = err_errno("cannot remove '%s'", p);
		}
		free(p);
	}
	lockfile_release(&lock);
	return r;
}

/* ---- update ------------------------------------------------------------ */

struct update {
	const struct indexer_opts *io;
	const char *indexfile;
	int64_t sec0;                /* the second this update started in */
	int64_t tmax_now;            /* tmax for a stat taken now */
	int settled;                 /* slept past sec0 (FORMAT.md 8.2) */
	int64_t tmax;                /* tmax of the path at hand */
	struct bindex ri;            /* the old index, mapped writable */
	int ri_exists;
	struct bindex_iter rig;      /* its entries under the top path */
	int rig_have;
	struct bindex_metastore *msw;
	struct hlink_db *hl;
	struct bindex_writer *wi;    /* new paths */
	struct bindex_writer *mi;    /* the merge */
	struct meta meta;
	struct buf enc;
	long long total;
	double start;
	int failed;                  /* the error that stopped the walk */
};

/* Temporary index files go away when the caller is interrupted. */
static void update_cleanup(void *data)
{
	struct update *u = data;
	const char *t;

	if (u->wi && (t = bindex_writer_tmp_path(u->wi)))
		unlink(t);
	if (u->mi && (t = bindex_writer_tmp_path(u->mi)))
		unlink(t);
}

static void update_progress(struct update *u)
{
	double elapsed = util_now() - u->start;
	long long pps = elapsed > 0 ? (long long)(u->total / elapsed) : 0;

	ix_progress(u->io, 0, "Indexing: %lld (%lld paths/s)\r", u->total,
		    pps);
}

/* meta's and drecurse's warnings: bup's add_error(). */
static void meta_warn(void *ctx, const char *msg)
{
	ix_error(ctx, msg);
}

/*
 * bup: meta = metadata.from_path(path, statinfo=pst), times zeroed so
 * equal metadata dedups, then msw.store(meta).  1 after add_error(), so
 * the caller skips the path; <0 on a fatal error.
 */
static int store_meta(struct update *u, const char *path,
		      const struct stat *st, uint64_t *ofs)
{
	errno = 0;
	if (meta_from_path(&u->meta, path, st, META_ZERO_TIMES, meta_warn,
			   (void *)u->io)) {
		struct buf m = BUF_INIT;
		if (errno)
			pypath_oserror(&m, errno, path, 1);
		else
			buf_addstr(&m, err_last());
		ix_error(u->io, m.data);
		buf_release(&m);
		return 1;
	}
	buf_reset(&u->enc);
	meta_encode(&u->enc, &u->meta, 0);
	return bindex_metastore_store(u->msw, ofs, u->enc.data, u->enc.len);
}

/*
 * bup's Writer stores the empty metadata object (for blank parents) at
 * every _golevel(), the first time when the first new path is added, so
 * the writer is made then: the object's place in .meta matches bup's.
 */
static int writer_get(struct update *u)
{
	uint64_t blank;
	int r;

	if (u->wi)
		return 0;
	if ((r = bindex_metastore_store_empty(u->msw, &blank)))
		return r;
	return bindex_writer_new(&u->wi, u->indexfile, blank);
}

static int rig_next(struct update *u)
{
	int r = bindex_iter_next(&u->rig);

	if (r < 0) {
		u->rig_have = 0;
		return r;
	}
	u->rig_have = r;
	return 0;
}

/* A path the old index has: refresh it if stale. */
static int update_existing(struct update *u, const char *path,
			   const struct stat *st)
{
	struct bindex_ent *e = &u->rig.e;
	int need_repack = 0, r;

	if (bindex_ent_stale(e, st, u->io->check_device)) {
		uint64_t ofs;
		if ((r = store_meta(u, path, st, &ofs)))
			return r < 0 ? r : rig_next(u);
		if (!S_ISDIR(e->mode) && e->nlink > 1)
			hlink_del_path(u->hl, u->rig.name.data);
		if (!S_ISDIR(st->st_mode) && st->st_nlink > 1)
			hlink_add_path(u->hl, path, st->st_dev, st->st_ino);
		/*
		 * bup clamps only new entries (ExistingEntry has tmax None)
		 * and relies on having slept into the next second.  Here a
		 * time is clamped only when it could not be checked after
		 * its second was over (update_path): the next run finds
		 * the entry stale and save re-reads it.
		 */
		bindex_ent_from_stat(e, st, ofs, u->tmax);
		e->flags &= ~BINDEX_HASHVALID;
		need_repack = 1;
	}
	if (!(e->flags & BINDEX_HASHVALID) && u->io->fake_valid) {
		if (bindex_ent_sha_is_empty(e)) {
			e->gitmode = FAKE_GITMODE;
			memset(e->sha, 1, sizeof(e->sha));
		}
		e->flags |= BINDEX_HASHVALID;
		need_repack = 1;
	}
	if (u->io->fake_invalid) {
		e->flags &= ~BINDEX_HASHVALID;
		need_repack = 1;
	}
	if (need_repack && (r = bindex_iter_repack(&u->rig)))
		return r;
	return rig_next(u);
}

/* A path the old index lacks: into the second index. */
static int update_new(struct update *u, const char *path, size_t len,
		      const struct stat *st)
{
	struct bindex_ent e;
	uint64_t ofs;
	int r;

	if ((r = store_meta(u, path, st, &ofs)))
		return r < 0 ? r : 0;
	if ((r = writer_get(u)))
		return r;
	memset(&e, 0, sizeof(e));
	bindex_ent_from_stat(&e, st, ofs, u->tmax);
	if (u->io->fake_valid) {
		e.gitmode = FAKE_GITMODE;
		memset(e.sha, 1, sizeof(e.sha));
		e.flags |= BINDEX_HASHVALID;
	}
	if ((r = bindex_writer_add(u->wi, path, len, &e)))
		return r;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1)
		hlink_add_path(u->hl, path, st->st_dev, st->st_ino);
	return 0;
}

static int update_path(void *data, const char *path, size_t len,
		       const struct stat *st)
{
	struct update *u = data;
	struct stat again;   /* a recent path looked at again */
	int v = u->io->verbose, r;

	if (v >= 2 || (v == 1 && S_ISDIR(st->st_mode))) {
		if (u->io->path)
			u->io->path(u->io->ctx, path, len);
		update_progress(u);
	} else if (!(u->total % 128)) {
		update_progress(u);
	}
	u->total++;

	/* Old entries sorting above the path: gone from the filesystem. */
	while (u->rig_have && namecmp(u->rig.name.data, u->rig.name.len,
				      path, len) > 0) {
		struct bindex_ent *e = &u->rig.e;
		if (!bindex_ent_is_deleted(e)) {
			bindex_ent_set_deleted(e);
			if ((r = bindex_iter_repack(&u->rig)))
				goto fail;
			if (e->nlink > 1 && !S_ISDIR(e->mode))
				hlink_del_path(u->hl, u->rig.name.data);
		}
		if ((r = rig_next(u)))
			goto fail;
	}
	/*
	 * A time of this update's second or later cannot be trusted from
	 * a stat taken in that second: a change later in it may leave the
	 * same time.  bup sleeps into the next second before it starts;
	 * here the first such path waits for the second to end, and each
	 * is looked at again (FORMAT.md 8.2).  A time still in the past
	 * second is then final and kept; a newer one, or a path that is
	 * now something else, is clamped so the next run looks again.
	 */
	u->tmax = u->tmax_now;
	if (bindex_stat_newest_ns(st) > tmax_before(u->sec0)) {
		if (!u->settled) {
			u->tmax_now = tmax_before(bindex_settle(u->sec0));
			u->settled = 1;
		}
		if (!lstat(path, &again) && again.st_dev == st->st_dev &&
		    again.st_ino == st->st_ino &&
		    (again.st_mode & S_IFMT) == (st->st_mode & S_IFMT)) {
			u->tmax = u->tmax_now;
			st = &again;
		} else {
			u->tmax = tmax_before(u->sec0);
		}
	}
	if (u->rig_have && u->rig.name.len == len &&
	    !memcmp(u->rig.name.data, path, len))
		r = update_existing(u, path, st);
	else
		r = update_new(u, path, len, st);
	if (r < 0)
		goto fail;
	return 0;
fail:
	/* Stop the walk; the message is in err_last(). */
	u->failed = r;
	return 1;
}

/* bup's merge progress (helpers.merge_iter, reported once at the end). */
static int merge_indexes(struct update *u)
{
	const char *tmp = bindex_writer_tmp_path(u->wi);
	struct bindex wr;
	uint64_t blank, merged = 0, total;
	int r;

	if ((r = bindex_open(&wr, tmp, 0)))
		return r;
	if (u->io->check) {
		ix_log(u->io, "check: before merging: oldfile\n");
		if ((r = check_index(u->io, &u->ri)))
			goto out;
		ix_log(u->io, "check: before merging: newfile\n");
		if ((r = check_index(u->io, &wr)))
			goto out;
	}
	if ((r = bindex_metastore_store_empty(u->msw, &blank)))
		goto out;
	/* Nothing is stored after this: make .meta complete first. */
	r = bindex_metastore_close(u->msw);
	u->msw = NULL;
	if (r)
		goto out;
	if ((r = bindex_writer_new(&u->mi, u->indexfile, blank)))
		goto out;
	total = u->ri.count + wr.count;
	ix_progress(u->io, 0, "bup: merging indexes (0/%llu)\r",
		    (unsigned long long)total);
	if ((r = bindex_merge(u->mi, &u->ri, &wr, &merged)) ||
	    (r = bindex_writer_commit(u->mi)))
		goto out;
	ix_progress(u->io, 1, "bup: merging indexes (%llu/%llu), done.\n",
		    (unsigned long long)merged, (unsigned long long)total);
out:
	bindex_close(&wr);
	return r;
}

/* bup's update_index() for one reduced top path. */
static int update_top(const struct indexer_opts *io, const char *top,
		      const char *indexfile)
{
	struct update u;
	char *metafile = xstrfmt("%s.meta", indexfile);
	char *hlinkfile = xstrfmt("%s.hlink", indexfile);
	double elapsed;
	int r;

	memset(&u, 0, sizeof(u));
	u.io = io;
	u.indexfile = indexfile;
	u.ri.fd = -1;
	meta_init(&u.meta);
	{
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		u.sec0 = bindex_settle(now.tv_sec - 1);
		u.tmax_now = u.tmax = tmax_before(u.sec0);
	}
	if (io->cleanup)
		io->cleanup(io->ctx, 1, update_cleanup, &u);

	if ((r = bindex_metastore_open(&u.msw, metafile)))
		goto out;
	if ((r = hlink_load(&u.hl, hlinkfile))) {
		r = set_err(r, "%s: %s", hlinkfile, err_last());
		goto out;
	}
	if ((r = indexer_open(&u.ri, &u.ri_exists, indexfile, BINDEX_RDWR,
			      io)))
		goto out;
	bindex_iter_init(&u.rig, &u.ri, top);
	if ((r = rig_next(&u)))
		goto out;

	u.start = util_now();
	drecurse_walk(io->walk, &top, 1, update_path, &u);
	if ((r = u.failed))
		goto out;
	elapsed = util_now() - u.start;
	ix_progress(io, 1, "Indexing: %lld, done (%lld paths/s).\n", u.total,
		    elapsed > 0 ? (long long)(u.total / elapsed) : 0);

	if (!u.ri_exists) {
		if ((r = writer_get(&u)))
			goto out;
		r = bindex_metastore_close(u.msw);
		u.msw = NULL;
		if (r || (r = bindex_writer_commit(u.wi)))
			goto out;
	} else {
		if ((r = bindex_sync(&u.ri)))
			goto out;
		/* bup: wi.flush() stores the blank metadata even if unused. */
		if ((r = writer_get(&u)) ||
		    (r = bindex_writer_finish(u.wi)))
			goto out;
		if (bindex_writer_count(u.wi) && (r = merge_indexes(&u)))
			goto out;
	}
	r = hlink_save(u.hl, hlinkfile);
out:
	if (io->cleanup)
		io->cleanup(io->ctx, 0, update_cleanup, &u);
	if (u.msw && bindex_metastore_close(u.msw) && !r)
		r = err_last_code() < 0 ? err_last_code() : ERR_IO;
	bindex_iter_release(&u.rig);
	bindex_close(&u.ri);
	bindex_writer_free(u.wi);
	bindex_writer_free(u.mi);
	hlink_free(u.hl);
	meta_release(&u.meta);
	buf_release(&u.enc);
	free(metafile);
	free(hlinkfile);
	return r;
}

int indexer_update(const struct indexer_opts *o, const char *indexfile,
		   const char *const *paths, size_t n)
{
	struct lockfile lock = LOCKFILE_INIT;
	struct toppath *tops = NULL;
	size_t nr;
	int r;

	o->walk->error = meta_warn;
	o->walk->error_data = (void *)o;
	/* bup: xdev_exceptions = unique_resolved_paths(extra) */
	for (size_t i = 0; i < n; i++) {
		char *rp = toppath_resolve(paths[i], "unique_resolved_paths",
					   meta_warn, (void *)o);
		if (rp) {
			drecurse_add_xdev_exception(o->walk, rp);
			free(rp);
		}
	}
	nr = toppath_reduce(&tops, paths, n, meta_warn, (void *)o);
	r = lock_index(o, &lock, indexfile);
	for (size_t i = 0; i < nr && !r; i++)
		r = update_top(o, tops[i].rp, indexfile);
	lockfile_release(&lock);
	toppath_free(tops, nr);
	return r;
}

/* ---- listing ----------------------------------------------------------- */

int indexer_list(const struct indexer_opts *o, const char *indexfile,
		 const char *const *paths, size_t n, int modified,
		 indexer_list_fn fn, void *fnctx)
{
	static const char *const here[] = { "" };
	struct toppath *tops = NULL;
	struct bindex ix;
	size_t nr = 0;
	int exists, r;

	if ((r = indexer_open(&ix, &exists, indexfile, 0, o)))
		goto out;
	if (!n) {
		paths = here;
		n = 1;
	}
	nr = toppath_reduce(&tops, paths, n, meta_warn, (void *)o);
	for (size_t i = 0; i < nr && !r; i++) {
		struct bindex_iter it;
		size_t rplen = strlen(tops[i].rp);
		int any = 0;

		bindex_iter_init(&it, &ix, tops[i].rp);
		while ((r = bindex_iter_next(&it)) > 0) {
			const struct bindex_ent *e = &it.e;
			any = 1;
			if (modified && (bindex_ent_is_valid(e) ||
					 bindex_ent_is_deleted(e) || !e->mode))
				continue;
			fn(fnctx, tops[i].path, it.name.data + rplen, e);
		}
		bindex_iter_release(&it);
		if (r < 0)
			break;
		if (!any) {
			/*
			 * bup: find() walks the same filter, so it fails
			 * too; bup raises "cannot find %r" here.
			 */
			struct buf m = BUF_INIT;
			pypath_bytes_repr(&m, tops[i].rp, rplen);
			r = err_set(ERR_NOTFOUND, "cannot find %s", m.data);
			buf_release(&m);
		}
	}
out:
	toppath_free(tops, nr);
	bindex_close(&ix);
	return r;
}
