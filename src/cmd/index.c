/*
 * cbup index: bup 0.33.7's `bup index` (lib/bup/cmd/index.py and
 * lib/bup/index.py), on the formats of FORMAT.md 8.1-8.4.
 *
 * Update, for each top path left by reduce_paths(): walk the filesystem
 * (drecurse, strictly descending names) beside the old index iterated
 * over the same subtree, also descending.  Old entries named above the
 * current path no longer exist: they are marked deleted in place.  An
 * entry found in both is refreshed in place when stale (stat data, a new
 * metadata object, HASHVALID cleared up to the root).  A path only the
 * walk knows goes into a second index written beside the first; at the
 * end the two are merged into a fresh file that replaces `bupindex`
 * atomically.  Only stale and new paths have their metadata read, so an
 * unchanged tree costs one lstat per path.
 *
 * Quirks kept for byte compatibility with bup are marked "bup:".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "index/bindex.h"
#include "index/drecurse.h"
#include "util/err.h"
#include "index/hlink.h"
#include "util/lockfile.h"
#include "meta/meta.h"
#include "util/pypath.h"
#include "store/repo.h"

int cmd_index(int argc, const char **argv);

static const char index_optspec[] =
	"bup index <-p|-m|-s|-u|--clear|--check> [options...] <filenames...>\n"
	"--\n"
	" Modes:\n"
	"p,print    print the index entries for the given names (also works with -u)\n"
	"m,modified print only added/deleted/modified files (implies -p)\n"
	"s,status   print each filename with a status char (A/M/D) (implies -p)\n"
	"u,update   recursively update the index entries for the given file/dir names (default if no mode is specified)\n"
	"check      carefully check index file integrity\n"
	"clear      clear the default index\n"
	" Options:\n"
	"H,hash     print the hash for each object next to its name\n"
	"l,long     print more information about each file\n"
	"no-check-device don't invalidate an entry if the containing device changes\n"
	"fake-valid mark all index entries as up-to-date even if they aren't\n"
	"fake-invalid mark all index entries as invalid\n"
	"f,indexfile=  the name of the index file (normally BUP_DIR/bupindex)\n"
	"exclude= a path to exclude from the backup (may be repeated)\n"
	"exclude-from= skip --exclude paths in file (may be repeated)\n"
	"exclude-rx= skip paths matching the unanchored regex (may be repeated)\n"
	"exclude-rx-from= skip --exclude-rx patterns in file (may be repeated)\n"
	"v,verbose  increase log output (can be used more than once)\n"
	"x,xdev,one-file-system  don't cross filesystem boundaries\n";

/* bup: GIT_MODE_FILE and index.FAKE_SHA, what --fake-valid records. */
#define FAKE_GITMODE 0100644

struct index_opts {
	int verbose;
	int check;
	int check_device;
	int fake_valid;
	int fake_invalid;
	struct drecurse_opts walk;
};

/* ---- small helpers ----------------------------------------------------- */

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

	cli_path_msg(&t, s);
	pypath_str_repr(out, t.data);
	buf_release(&t);
}

/* The last nanosecond before second `sec`: what tmax clamps to. */
static int64_t tmax_before(int64_t sec)
{
	return sec * 1000000000 - 1;
}

/* ---- reduce_paths ------------------------------------------------------ */

struct top_path {
	char *rp;    /* resolved, '/' appended for a directory */
	char *path;  /* as given ('/' appended when rp has one) */
};

static void top_paths_free(struct top_path *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].rp);
		free(t[i].path);
	}
	free(t);
}

/*
 * bup's _slashappend_or_add_error(resolve_parent(p), caller): the
 * resolved path with '/' for a directory, or NULL after add_error().
 */
static char *resolve_top(const char *p, const char *caller)
{
	struct buf b = BUF_INIT;
	struct stat st;

	pypath_resolve_parent(&b, p);
	if (lstat(b.data, &st) < 0) {
		struct buf pre = BUF_INIT;
		buf_addf(&pre, "%s: ", caller);
		cli_add_oserror(pre.data, errno, b.data, 1);
		buf_release(&pre);
		buf_release(&b);
		return NULL;
	}
	if (S_ISDIR(st.st_mode) && b.len && b.data[b.len - 1] != '/')
		buf_addch(&b, '/');
	return buf_detach(&b, NULL);
}

static int top_cmp(const void *a, const void *b)
{
	const struct top_path *x = a, *y = b;
	int c = strcmp(x->rp, y->rp);
	return c ? c : strcmp(x->path, y->path);
}

static int top_cmp_rev(const void *a, const void *b)
{
	return top_cmp(b, a);
}

static int has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/*
 * bup's index.reduce_paths(): resolve each path, drop those inside an
 * earlier directory (or equal to an earlier path), return them in
 * reverse order.  strcmp() compares as unsigned char, like bytes.
 */
static size_t reduce_paths(struct top_path **out, const char *const *paths,
			   size_t n)
{
	struct top_path *x = NULL;
	size_t nr = 0, alloc = 0, kept = 0;
	const char *prev = NULL;

	for (size_t i = 0; i < n; i++) {
		char *rp = resolve_top(paths[i], "reduce_paths");
		size_t pl = strlen(paths[i]);
		if (!rp)
			continue;
		ALLOC_GROW(x, nr + 1, alloc);
		x[nr].rp = rp;
		/* bup's slashappend() leaves "" alone. */
		if (rp[strlen(rp) - 1] == '/' && pl && paths[i][pl - 1] != '/')
			x[nr].path = xstrfmt("%s/", paths[i]);
		else
			x[nr].path = xstrdup(paths[i]);
		nr++;
	}
	if (nr)
		qsort(x, nr, sizeof(*x), top_cmp);
	for (size_t i = 0; i < nr; i++) {
		const char *rp = x[i].rp;
		if (prev && (!strcmp(prev, rp) ||
			     (prev[strlen(prev) - 1] == '/' &&
			      has_prefix(rp, prev)))) {
			free(x[i].rp);
			free(x[i].path);
			continue;
		}
		x[kept++] = x[i];
		prev = x[kept - 1].rp;
	}
	if (kept)
		qsort(x, kept, sizeof(*x), top_cmp_rev);
	*out = x;
	return kept;
}

/* ---- opening and checking ---------------------------------------------- */

/*
 * bup's index.Reader(): a missing file is an empty index, and so (after
 * bup's warning) is a file that does not start with the v7 header.
 * *exists is bup's Reader.exists(): the header matched.  Anything else
 * wrong with the file is an error, never a crash.
 */
static int reader_open(struct bindex *ix, int *exists, const char *path,
		       int flags)
{
	unsigned char hdr[BINDEX_HDRLEN];
	long long n;
	int fd;

	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	*exists = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error("cannot open '%s': %s", path, strerror(errno));
	}
	n = read_full(fd, hdr, sizeof(hdr));
	if (n < 0) {
		int e = errno;
		close(fd);
		return error("cannot read '%s': %s", path, strerror(e));
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
		cli_log("%s", m.data);
		buf_release(&m);
		return 0;
	}
	if (bindex_open(ix, path, flags))
		return error("%s", err_last());
	*exists = 1;
	return 0;
}

static int check_failed(const char *name, const char *what)
{
	struct buf m = BUF_INIT;

	if (name) {
		str_repr(&m, name);
		cli_log("index error! at %s\n", m.data);
	}
	buf_release(&m);
	return error("index check failed: %s", what);
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
static int check_index(struct bindex *ix, int verbose)
{
	const unsigned char *m = ix->map;
	size_t ofs = BINDEX_HDRLEN, end = ix->len - BINDEX_FOOTLEN;
	uint64_t *kids = NULL;
	size_t nr = 0, alloc = 0;
	struct buf name = BUF_INIT, last = BUF_INIT, msg = BUF_INIT;
	struct bindex_iter it;
	int have_last = 0, r = 0;

	cli_log("check: checking forward iteration...\n");
	while (m && ofs + BINDEX_ENTLEN <= end) {
		const unsigned char *eon = memchr(m + ofs, '\0', end - ofs);
		struct bindex_ent e;

		if (!eon || eon == m + ofs ||
		    (size_t)(eon - m) + 1 + BINDEX_ENTLEN > end) {
			r = check_failed(NULL, "malformed entry");
			goto out;
		}
		buf_reset(&name);
		buf_add(&name, m + ofs, (size_t)(eon - (m + ofs)));
		bindex_ent_unpack(&e, eon + 1);
		ofs = (size_t)(eon - m) + 1 + BINDEX_ENTLEN;
		if (e.children_n) {
			if (verbose) {
				buf_reset(&msg);
				str_repr(&msg, name.data);
				cli_log("%08llx+%-4u %s\n",
					(unsigned long long)e.children_ofs,
					(unsigned)e.children_n, msg.data);
			}
			if (!e.children_ofs) {
				r = check_failed(name.data, "children at 0");
				goto out;
			}
			if (name.data[name.len - 1] != '/') {
				r = check_failed(name.data,
						 "file with children");
				goto out;
			}
			ALLOC_GROW(kids, nr + 1, alloc);
			kids[nr++] = e.children_ofs;
		}
		if ((e.flags & BINDEX_HASHVALID) &&
		    (bindex_ent_sha_is_empty(&e) || !e.gitmode)) {
			r = check_failed(name.data,
					 "valid entry without a hash");
			goto out;
		}
	}
	if (m && strcmp(name.data, "/")) {
		r = check_failed(name.data, "last entry is not /");
		goto out;
	}
	if (nr) {
		qsort(kids, nr, sizeof(*kids), cmp_u64);
		for (size_t i = 1; i < nr; i++) {
			if (kids[i] == kids[i - 1]) {
				r = check_failed(NULL, "shared children");
				goto out;
			}
		}
	}
	cli_log("check: checking normal iteration...\n");
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
		r = check_failed(it.name.data, "entries out of order");
	else if (r < 0)
		r = check_failed(NULL, err_last());
	bindex_iter_release(&it);
	if (r)
		goto out;
	cli_log("check: passed.\n");
out:
	free(kids);
	buf_release(&name);
	buf_release(&last);
	buf_release(&msg);
	return r ? -1 : 0;
}

static int check_file(const char *indexfile, int verbose)
{
	struct bindex ix;
	int exists, r;

	if (reader_open(&ix, &exists, indexfile, 0))
		return -1;
	r = check_index(&ix, verbose);
	bindex_close(&ix);
	return r;
}

/* bup's clear_index(). */
static int clear_index(const char *indexfile, int verbose)
{
	static const char *const sfx[] = { "", ".meta", ".hlink" };

	for (size_t i = 0; i < ARRAY_SIZE(sfx); i++) {
		char *p = xstrfmt("%s%s", indexfile, sfx[i]);
		if (!unlink(p)) {
			if (verbose) {
				struct buf m = BUF_INIT;
				cli_path_msg(&m, p);
				cli_log("clear: removed %s\n", m.data);
				buf_release(&m);
			}
		} else if (errno != ENOENT) {
			error("cannot remove '%s': %s", p, strerror(errno));
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

/* ---- update ------------------------------------------------------------ */

struct update {
	struct index_opts *io;
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
	int failed;
};

/* Temporary index files go away on SIGINT and die(). */
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

	cli_progress("Indexing: %lld (%lld paths/s)\r", u->total, pps);
}

static void meta_warn(void *ctx, const char *msg)
{
	(void)ctx;
	cli_add_error("%s", msg);
}

/*
 * bup: meta = metadata.from_path(path, statinfo=pst), times zeroed so
 * equal metadata dedups, then msw.store(meta).  1 after add_error(), so
 * the caller skips the path; -1 on a fatal error.
 */
static int store_meta(struct update *u, const char *path,
		      const struct stat *st, uint64_t *ofs)
{
	errno = 0;
	if (meta_from_path(&u->meta, path, st, META_ZERO_TIMES, meta_warn,
			   NULL)) {
		if (errno)
			cli_add_oserror(NULL, errno, path, 1);
		else
			cli_add_error("%s", err_last());
		return 1;
	}
	buf_reset(&u->enc);
	meta_encode(&u->enc, &u->meta, 0);
	if (bindex_metastore_store(u->msw, ofs, u->enc.data, u->enc.len))
		return error("%s", err_last());
	return 0;
}

/*
 * bup's Writer stores the empty metadata object (for blank parents) at
 * every _golevel(), the first time when the first new path is added, so
 * the writer is made then: the object's place in .meta matches bup's.
 */
static int writer_get(struct update *u)
{
	uint64_t blank;

	if (u->wi)
		return 0;
	if (bindex_metastore_store_empty(u->msw, &blank) ||
	    bindex_writer_new(&u->wi, u->indexfile, blank))
		return error("%s", err_last());
	return 0;
}

static int rig_next(struct update *u)
{
	int r = bindex_iter_next(&u->rig);

	if (r < 0) {
		u->rig_have = 0;
		return error("%s", err_last());
	}
	u->rig_have = r;
	return 0;
}

static int rig_repack(struct update *u)
{
	if (bindex_iter_repack(&u->rig))
		return error("%s", err_last());
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
	if (need_repack && (r = rig_repack(u)))
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
	if (bindex_writer_add(u->wi, path, len, &e))
		return error("%s", err_last());
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
		fwrite(path, 1, len, stdout);
		putchar('\n');
		fflush(stdout);
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
			if ((r = rig_repack(u)))
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
	/* Stop the walk; the message is out already. */
	u->failed = 1;
	return 1;
}

/* bup's merge progress (helpers.merge_iter, reported once at the end). */
static int merge_indexes(struct update *u)
{
	const char *tmp = bindex_writer_tmp_path(u->wi);
	struct bindex wr;
	uint64_t blank, merged = 0, total;
	int r = -1;

	if (bindex_open(&wr, tmp, 0))
		return error("%s", err_last());
	if (u->io->check) {
		cli_log("check: before merging: oldfile\n");
		if (check_index(&u->ri, u->io->verbose))
			goto out;
		cli_log("check: before merging: newfile\n");
		if (check_index(&wr, u->io->verbose))
			goto out;
	}
	if (bindex_metastore_store_empty(u->msw, &blank)) {
		error("%s", err_last());
		goto out;
	}
	/* Nothing is stored after this: make .meta complete first. */
	r = bindex_metastore_close(u->msw);
	u->msw = NULL;
	if (r) {
		r = error("%s", err_last());
		goto out;
	}
	if (bindex_writer_new(&u->mi, u->indexfile, blank)) {
		r = error("%s", err_last());
		goto out;
	}
	total = u->ri.count + wr.count;
	cli_progress("bup: merging indexes (0/%llu)\r",
		     (unsigned long long)total);
	if (bindex_merge(u->mi, &u->ri, &wr, &merged) ||
	    bindex_writer_commit(u->mi)) {
		r = error("%s", err_last());
		goto out;
	}
	cli_progress_done("bup: merging indexes (%llu/%llu), done.\n",
			  (unsigned long long)merged,
			  (unsigned long long)total);
	r = 0;
out:
	bindex_close(&wr);
	return r;
}

/* bup's update_index() for one reduced top path. */
static int update_index(struct index_opts *io, const char *top,
			const char *indexfile)
{
	struct update u;
	char *metafile = xstrfmt("%s.meta", indexfile);
	char *hlinkfile = xstrfmt("%s.hlink", indexfile);
	double elapsed;
	int r = -1;

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
	cli_atexit(update_cleanup, &u);

	if (bindex_metastore_open(&u.msw, metafile)) {
		error("%s", err_last());
		goto out;
	}
	if (hlink_load(&u.hl, hlinkfile)) {
		error("%s: %s", hlinkfile, err_last());
		goto out;
	}
	if (reader_open(&u.ri, &u.ri_exists, indexfile, BINDEX_RDWR))
		goto out;
	bindex_iter_init(&u.rig, &u.ri, top);
	if (rig_next(&u))
		goto out;

	u.start = util_now();
	drecurse_walk(&io->walk, &top, 1, update_path, &u);
	if (u.failed)
		goto out;
	elapsed = util_now() - u.start;
	cli_progress_done("Indexing: %lld, done (%lld paths/s).\n", u.total,
			  elapsed > 0 ? (long long)(u.total / elapsed) : 0);

	if (!u.ri_exists) {
		if (writer_get(&u))
			goto out;
		r = bindex_metastore_close(u.msw);
		u.msw = NULL;
		if (r || bindex_writer_commit(u.wi)) {
			r = error("%s", err_last());
			goto out;
		}
	} else {
		if (bindex_sync(&u.ri)) {
			error("%s", err_last());
			goto out;
		}
		/* bup: wi.flush() stores the blank metadata even if unused. */
		if (writer_get(&u))
			goto out;
		if (bindex_writer_finish(u.wi)) {
			error("%s", err_last());
			goto out;
		}
		if (bindex_writer_count(u.wi) && merge_indexes(&u))
			goto out;
	}
	if (hlink_save(u.hl, hlinkfile)) {
		error("%s", err_last());
		goto out;
	}
	r = 0;
out:
	cli_atexit_remove(update_cleanup, &u);
	if (u.msw && bindex_metastore_close(u.msw) && !r)
		r = error("%s", err_last());
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

/* ---- printing ---------------------------------------------------------- */

struct print_opts {
	int modified, status, hash, longfmt;
};

static void print_entry(const struct print_opts *po, const char *prefix,
			const char *rest, const struct bindex_ent *e)
{
	static const char hex[] = "0123456789abcdef";

	if (po->status) {
		if (bindex_ent_is_deleted(e))
			fputs("D ", stdout);
		else if (!bindex_ent_is_valid(e))
			fputs(bindex_ent_sha_is_empty(e) ? "A " : "M ",
			      stdout);
		else
			fputs("  ", stdout);
	}
	if (po->hash) {
		char h[41];
		for (int i = 0; i < 20; i++) {
			h[2 * i] = hex[e->sha[i] >> 4];
			h[2 * i + 1] = hex[e->sha[i] & 15];
		}
		h[40] = ' ';
		fwrite(h, 1, 41, stdout);
	}
	if (po->longfmt)
		printf("%07o %07o ", (unsigned)e->mode, (unsigned)e->gitmode);
	/* bup: name or b'./' */
	if (!*prefix && !*rest)
		fputs("./", stdout);
	fputs(prefix, stdout);
	fputs(rest, stdout);
	putchar('\n');
}

/* bup's Reader.filter() loop of the printing modes. */
static int print_index(const char *indexfile, const struct print_opts *po,
		       const char *const *paths, size_t n)
{
	static const char *const here[] = { "" };
	struct top_path *tops = NULL;
	struct bindex ix;
	size_t nr;
	int exists, r = 0;

	if (reader_open(&ix, &exists, indexfile, 0))
		return -1;
	if (!n) {
		paths = here;
		n = 1;
	}
	nr = reduce_paths(&tops, paths, n);
	for (size_t i = 0; i < nr && !r; i++) {
		struct bindex_iter it;
		size_t rplen = strlen(tops[i].rp);
		int any = 0;

		bindex_iter_init(&it, &ix, tops[i].rp);
		while ((r = bindex_iter_next(&it)) > 0) {
			const struct bindex_ent *e = &it.e;
			any = 1;
			if (po->modified && (bindex_ent_is_valid(e) ||
					     bindex_ent_is_deleted(e) ||
					     !e->mode))
				continue;
			print_entry(po, tops[i].path, it.name.data + rplen, e);
		}
		bindex_iter_release(&it);
		if (r < 0) {
			r = error("%s", err_last());
			break;
		}
		if (!any) {
			/*
			 * bup: find() walks the same filter, so it fails
			 * too; bup raises "cannot find %r" here.
			 */
			struct buf m = BUF_INIT;
			pypath_bytes_repr(&m, tops[i].rp, rplen);
			r = error("cannot find %s", m.data);
			buf_release(&m);
		}
	}
	top_paths_free(tops, nr);
	bindex_close(&ix);
	return r;
}

/* ---- the lock ---------------------------------------------------------- */

/*
 * Two runs at once would each read the old index and rename their own
 * merge over it, and the entries of one would be lost (bup 0.33.7 loses
 * them).  An update and a clear hold an flock on INDEXFILE.lock from
 * before they read the old index until the new one is in place.  A
 * second run waits for the first, saying so once: bup has no lock, so
 * whoever starts two index runs expects both to succeed, and waiting is
 * what makes both right.  The kernel releases the lock of a run that is
 * killed; the file it leaves is taken over by the next run.  On a file
 * system without locks the run goes on unlocked, with a warning.
 */
static int lock_index(struct lockfile *l, const char *indexfile)
{
	char *path = xstrfmt("%s.lock", indexfile);
	int r = lockfile_acquire(l, path, 0);

	if (r == ERR_LOCKED) {
		struct buf m = BUF_INIT;

		cli_path_msg(&m, path);
		cli_log("bup: waiting for another index run to release "
			"'%s'\n", m.data);
		buf_release(&m);
		r = lockfile_acquire(l, path, 1);
	}
	if (r == 1) {
		warning("%s; index runs at the same time may lose entries",
			err_last());
		r = 0;
	} else if (r < 0) {
		r = error("%s", err_last());
	}
	free(path);
	return r;
}

/* ---- the command ------------------------------------------------------- */

/* bup: bup_dir = os.path.abspath(git.repo()). */
static char *abs_repo_dir(const char *path)
{
	struct buf b = BUF_INIT;

	pypath_abspath(&b, path);
	return buf_detach(&b, NULL);
}

int cmd_index(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct index_opts io;
	struct print_opts po;
	struct repo *repo = NULL;
	struct lockfile lock = LOCKFILE_INIT;
	char *indexfile = NULL;
	int update, print, clear, r = 0;

	memset(&io, 0, sizeof(io));
	cli_parse_opts(&o, index_optspec, argc, argv);
	po.modified = opt_count(&o, "m") > 0;
	po.status = opt_count(&o, "s") > 0;
	po.hash = opt_count(&o, "H") > 0;
	po.longfmt = opt_count(&o, "l") > 0;
	print = opt_count(&o, "p") > 0;
	update = opt_count(&o, "u") > 0;
	clear = opt_count(&o, "clear") > 0;
	io.check = opt_count(&o, "check") > 0;
	io.check_device = opt_count(&o, "check-device") > 0;
	io.fake_valid = opt_count(&o, "fake-valid") > 0;
	io.fake_invalid = opt_count(&o, "fake-invalid") > 0;
	io.verbose = opt_count(&o, "v");
	io.walk.xdev = opt_count(&o, "x") > 0;

	if (!(po.modified || print || po.status || update || io.check ||
	      clear))
		update = 1;
	if ((io.fake_valid || io.fake_invalid) && !update)
		cli_usage_fatal(&o, "--fake-{in,}valid are meaningless without -u");
	if (io.fake_valid && io.fake_invalid)
		cli_usage_fatal(&o, "--fake-valid is incompatible with --fake-invalid");
	if (clear && opt_str(&o, "f"))
		cli_usage_fatal(&o, "cannot clear an external index (via -f)");

	/*
	 * No sleep to the next whole second as bup does before anything
	 * else: an update sleeps only when a path it records changed in
	 * the second it started in (update_path), or for a few ms when it
	 * starts at the very beginning of a second (bindex_settle).
	 */

	repo = cli_open_repo();
	if (opt_str(&o, "f"))
		indexfile = xstrdup(opt_str(&o, "f"));
	else
		indexfile = xstrfmt("%s/bupindex", repo->path);

	if (io.check) {
		cli_log("check: starting initial check.\n");
		if (check_file(indexfile, io.verbose)) {
			r = 1;
			goto out;
		}
	}
	if (clear) {
		cli_log("clear: clearing index.\n");
		if (lock_index(&lock, indexfile) ||
		    clear_index(indexfile, io.verbose)) {
			r = 1;
			goto out;
		}
		lockfile_release(&lock);
	}
	fflush(stdout);

	if (update) {
		struct top_path *tops = NULL;
		size_t nr;

		if (!o.argc)
			cli_usage_fatal(&o, "update mode (-u) requested but no paths given");
		cli_parse_excludes(&o, &io.walk);
		io.walk.bup_dir = abs_repo_dir(repo->path);
		io.walk.error = meta_warn;
		/* bup: xdev_exceptions = unique_resolved_paths(extra) */
		for (int i = 0; i < o.argc; i++) {
			char *rp = resolve_top(o.argv[i],
					       "unique_resolved_paths");
			if (rp) {
				drecurse_add_xdev_exception(&io.walk, rp);
				free(rp);
			}
		}
		nr = reduce_paths(&tops, o.argv, (size_t)o.argc);
		if (lock_index(&lock, indexfile))
			r = 1;
		for (size_t i = 0; i < nr && !r; i++)
			if (update_index(&io, tops[i].rp, indexfile))
				r = 1;
		lockfile_release(&lock);
		top_paths_free(tops, nr);
		if (r)
			goto out;
	}

	if (print || po.status || po.modified) {
		if (print_index(indexfile, &po, o.argv, (size_t)o.argc)) {
			r = 1;
			goto out;
		}
	}

	if (io.check && (print || po.status || po.modified || update)) {
		cli_log("check: starting final check.\n");
		if (check_file(indexfile, io.verbose)) {
			r = 1;
			goto out;
		}
	}

	if (cli_errors()) {
		cli_log("WARNING: %d errors encountered.\n", cli_errors());
		r = 1;
	}
out:
	lockfile_release(&lock);
	free(indexfile);
	repo_free(repo);
	drecurse_opts_release(&io.walk);
	opt_release(&o);
	return cli_finish_stdout(r);
}
