/*
 * Garbage collection (gc.h): bup 0.33.7's lib/bup/gc.py, under the gc
 * lock of FORMAT.md 14.
 */
#include "pipelines/gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/bloom.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/file.h"
#include "store/idx.h"
#include "store/midx.h"
#include "store/odb.h"
#include "store/pack.h"
#include "store/packwriter.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/repolock.h"
#include "util/util.h"
#include "pipelines/validate.h"
#include "util/strv.h"

/* A pack whose live objects were handed to the writer. */
struct stale {
	char *stem;        /* ".../pack-HEX" */
	uint64_t need;     /* objects the writer must have finished */
};

struct gc {
	struct repo *r;
	const struct gc_opts *o;
	struct gc_stats *st;
	struct odb *odb;
	struct validate_walk *walk;
	struct bloom_file *live_blobs;   /* bup's probabilistic blob set */
	const char *refname;
	/* sweep */
	struct packwriter *pw;
	uint64_t handed;                 /* distinct objects given to pw */
	uint64_t finished;               /* objects in pw's finished packs */
	char **idx_names;                /* the packs before the mark */
	size_t nr_idx;
	char **orphans;                  /* packs without idx, then */
	size_t nr_orphans, alloc_orphans;
	struct stale *stale;
	size_t nr_stale, alloc_stale;
	int err;                         /* first error of a callback */
	struct buf line;
};

/* A line for one of the callbacks (o->log, o->progress), if set. */
static void gc_say(struct gc *g, void (*fn)(void *ctx, const char *line),
		   const char *fmt, ...) PRINTF(3, 4);
static void gc_say(struct gc *g, void (*fn)(void *ctx, const char *line),
		   const char *fmt, ...)
{
	va_list ap;

	if (!fn)
		return;
	buf_reset(&g->line);
	va_start(ap, fmt);
	buf_vaddf(&g->line, fmt, ap);
	va_end(ap);
	fn(g->o->ctx, g->line.data);
}

#define gc_log(g, ...) gc_say(g, (g)->o->log, __VA_ARGS__)
#define gc_progress(g, ...) gc_say(g, (g)->o->progress, __VA_ARGS__)

static void pack_event(struct gc *g, enum gc_pack_event ev,
		       const char *path, double live)
{
	if (g->o->pack)
		g->o->pack(g->o->ctx, ev, path, live);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/*
 * The idx files of the pack directory, sorted by name: bup takes glob
 * order, which is the file system's; sorted, a gc's result does not
 * depend on it.
 */
static int list_idx(struct gc *g, char ***names, size_t *nr)
{
	int ret = file_glob_suffix(g->r->packdir, ".idx", names, nr);

	if (!ret && *nr > 1)
		qsort(*names, *nr, sizeof(**names), strv_cmp);
	return ret;
}

/* bup's count_objects() progress: "found N objects (i/nr NAME)". */
static void count_progress(void *ctx, const char *idx, size_t i, size_t nr,
			   uint64_t so_far)
{
	struct gc *g = ctx;

	if (g->o->verbose)
		gc_progress(g, "found %llu objects (%zu/%zu %s)\r",
			    (unsigned long long)so_far, i + 1, nr,
			    base_name(idx));
}

static int count_objects(struct gc *g, uint64_t *out)
{
	return validate_count_objects(out, g->r->packdir, count_progress, g);
}

/* ---- mark ---------------------------------------------------------- */

/* A mark step stopped by a missing object (a positive stop code). */
#define GC_STOP_MISSING 1

static int mark_item(void *ctx, const struct validate_item *it,
		     uint64_t live)
{
	struct gc *g = ctx;

	/*
	 * bup's walk_object() asks whether a file's blob exists only when
	 * --ignore-missing gives it a way to (oid_exists): without, a
	 * missing blob goes unnoticed, and so it does here.
	 */
	if (it->missing && it->mode && it->type == OBJ_BLOB &&
	    !g->o->ignore_missing)
		return 0;
	if (it->missing) {
		if (!g->o->ignore_missing) {
			g->st->missing_oid = it->oid;
			return GC_STOP_MISSING;
		}
		g->st->missing++;
	}
	if (g->o->item)
		g->o->item(g->o->ctx, g->refname, it, live, g->st->existing);
	/* trees and commits: the walk's own exact set */
	if (it->type == OBJ_BLOB)
		bloom_mem_add(g->live_blobs, &it->oid);
	return 0;
}

/* bup's find_live_objects() over every ref, sorted as git show-ref. */
static int mark(struct gc *g)
{
	struct refs_list refs = REFS_LIST_INIT;
	int ret;

	ret = refs_for_each(g->r, "refs/", refs_collect, &refs);
	g->walk = validate_walk_new(g->odb, g->st->existing,
				    g->o->verbose > 0);
	g->live_blobs = bloom_mem_new(g->st->existing);
	for (size_t i = 0; !ret && i < refs.nr; i++) {
		g->refname = refs.items[i].name;
		ret = validate_walk_ref(g->walk, &refs.items[i].oid, mark_item,
					g);
		if (ret == GC_STOP_MISSING)
			ret = err_set(ERR_NOTFOUND, "missing object %s",
				      oid_hex(&g->st->missing_oid));
	}
	g->refname = NULL;
	refs_list_release(&refs);
	return ret;
}

/* bup's ShaBloom.pfalse_positive(), in percent. */
static double bloom_pfalse(const struct bloom_file *b)
{
	double m = 8.0 * (double)((uint64_t)1 << b->bits);
	double k = b->k;

	return 100.0 * pow(1.0 - exp(-k * (double)b->entries / m), k);
}

/* ---- clear --------------------------------------------------------- */

static int remove_glob(const char *dir, const char *suffix)
{
	char **names;
	size_t nr;
	int ret = file_glob_suffix(dir, suffix, &names, &nr);

	for (size_t i = 0; !ret && i < nr; i++)
		if (unlink(names[i]) < 0 && errno != ENOENT)
			ret = err_errno("cannot remove '%s'", names[i]);
	strv_free(names, nr);
	return ret;
}

/*
 * `git reflog expire --all --expire=all`: every reflog emptied, so that
 * no log names a commit this run removes (git fsck checks them).
 */
static int empty_reflogs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0 :
			err_errno("cannot open directory '%s'", dir);
	while (!ret && (de = readdir(d))) {
		char *p;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = xstrfmt("%s/%s", dir, de->d_name);
		if (lstat(p, &st) < 0)
			ret = err_errno("cannot stat '%s'", p);
		else if (S_ISDIR(st.st_mode))
			ret = empty_reflogs(p);
		else if (S_ISREG(st.st_mode) && st.st_size &&
			 truncate(p, 0) < 0)
			ret = err_errno("cannot truncate '%s'", p);
		free(p);
	}
	closedir(d);
	return ret;
}

static int clear(struct gc *g)
{
	char *p;
	int ret;

	if (g->o->verbose)
		gc_log(g, "clearing midx files\n");
	ret = remove_glob(g->r->packdir, ".midx");
	if (ret)
		return ret;
	if (g->o->verbose)
		gc_log(g, "clearing bloom filter\n");
	p = xstrfmt("%s/bup.bloom", g->r->packdir);
	if (unlink(p) < 0 && errno != ENOENT)
		ret = err_errno("cannot remove '%s'", p);
	free(p);
	if (ret)
		return ret;
	if (g->o->verbose)
		gc_log(g, "clearing reflog\n");
	p = xstrfmt("%s/logs", g->r->path);
	ret = empty_reflogs(p);
	free(p);
	return ret;
}

/* ---- sweep --------------------------------------------------------- */

static int remove_pack(struct gc *g, const char *stem);

/* Is there no idx beside the pack `path` (".../pack-HEX.pack")? */
static int idx_missing(const char *path)
{
	char *idx = xstrfmt("%.*s.idx", (int)(strlen(path) - 5), path);
	int missing = access(idx, F_OK) < 0 && errno == ENOENT;

	free(idx);
	return missing;
}

/* The packs without an idx, before the mark (sorted). */
static int list_orphans(struct gc *g)
{
	char **names;
	size_t nr;
	int ret = file_glob_suffix(g->r->packdir, ".pack", &names, &nr);

	for (size_t i = 0; !ret && i < nr; i++) {
		if (idx_missing(names[i])) {
			ALLOC_GROW(g->orphans, g->nr_orphans + 1,
				   g->alloc_orphans);
			g->orphans[g->nr_orphans++] = names[i];
		} else {
			free(names[i]);
		}
		names[i] = NULL;
	}
	if (ret)
		return ret;
	free(names);
	if (g->nr_orphans > 1)
		qsort(g->orphans, g->nr_orphans, sizeof(*g->orphans),
		      strv_cmp);
	return 0;
}

/*
 * Remove the packs that had no idx before the mark and still have none.
 * A writer or a gc killed between renaming a pack and its idx into
 * place, or between removing an old pack's idx and the pack, leaves one
 * (2.4: the pack is renamed first and removed last, so that no idx
 * names a missing pack).  Nothing reads it (readers go through the idx
 * files), no ref relies on it (a writer writes its ref after its idx),
 * and no cbup writer can be between its two renames while gc holds the
 * lock; but fsck, bup's as ours, fails on it, and nothing else would
 * ever remove it.  (A bup writer, which takes no lock, would have to
 * stall between its two renames for the whole mark.)
 */
static int remove_orphans(struct gc *g)
{
	size_t removed = 0;
	int ret = 0;

	for (size_t i = 0; !ret && i < g->nr_orphans; i++) {
		const char *path = g->orphans[i];
		char *stem;

		if (!idx_missing(path))
			continue;
		stem = xstrndup(path, strlen(path) - 5);
		ret = remove_pack(g, stem);
		free(stem);
		removed++;
	}
	if (!ret && removed)
		ret = file_fsync_dir(g->r->packdir);
	return ret;
}

/*
 * Remove a pack that is no longer needed: its idx first, so that no idx
 * ever names a missing pack, then the pack and the par2 recovery files
 * `fsck -g` made for it (bup leaves those behind).
 */
static int remove_pack(struct gc *g, const char *stem)
{
	static const char *const suffixes[] = {
		".idx", ".pack", ".par2", ".vol000+200.par2",
	};
	int ret = 0;

	for (size_t i = 0; !ret && i < ARRAY_SIZE(suffixes); i++) {
		char *p = xstrfmt("%s%s", stem, suffixes[i]);

		if (i < 2)
			pack_event(g, GC_REMOVING, p, 0);
		if (unlink(p) < 0 && errno != ENOENT)
			ret = err_errno("cannot remove '%s'", p);
		free(p);
	}
	return ret;
}

/*
 * Remove the stale packs whose live objects are all in finished packs.
 * The writer finishes packs in the order objects were handed to it, so
 * a pack is safe once `finished` reaches its `need`.
 */
static int remove_stale(struct gc *g, int all)
{
	size_t kept = 0;
	int ret = 0;

	for (size_t i = 0; i < g->nr_stale; i++) {
		struct stale *s = &g->stale[i];

		if (ret || (!all && s->need > g->finished)) {
			g->stale[kept++] = *s;
			continue;
		}
		ret = remove_pack(g, s->stem);
		if (ret)
			g->stale[kept++] = *s;
		else
			free(s->stem);
	}
	g->nr_stale = kept;
	/* the removals are durable before anything else happens */
	if (!ret)
		ret = file_fsync_dir(g->r->packdir);
	return ret;
}

/* The writer finished a pack (renamed into place and synced). */
static void on_pack(void *ctx, const char *idx_path)
{
	struct gc *g = ctx;
	struct idx_file *ix;
	int ret;

	char *stem = xstrndup(idx_path, strlen(idx_path) - 4);

	pack_event(g, GC_CREATED, stem, 0);
	free(stem);
	ret = idx_open(&ix, idx_path);
	if (!ret) {
		g->finished += ix->nr;
		idx_close(ix);
		ret = remove_stale(g, 0);
	}
	if (ret && !g->err)
		g->err = ret;
}

static void add_stale(struct gc *g, const char *idx_path)
{
	ALLOC_GROW(g->stale, g->nr_stale + 1, g->alloc_stale);
	g->stale[g->nr_stale].stem = xstrndup(idx_path, strlen(idx_path) - 4);
	g->stale[g->nr_stale].need = g->handed;
	g->nr_stale++;
}

static int base_of(void *ctx, const struct oid *oid, enum obj_type *type,
		   struct buf *out)
{
	return odb_read(ctx, oid, type, out);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Where the object at off ends: the next object, or the trailer. */
static uint64_t object_end(const uint64_t *sorted, uint32_t nr,
			   uint64_t off, uint64_t pack_end)
{
	uint32_t lo = 0, hi = nr;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (sorted[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nr ? sorted[lo] : pack_end;
}

/* Hand one live object of (ix, p) to the writer. */
static int copy_object(struct gc *g, struct idx_file *ix,
		       struct pack_file *p, uint32_t n, const uint64_t *sorted,
		       struct buf *data)
{
	struct oid oid;
	uint64_t off = idx_nth_offset(ix, n), end;
	enum obj_type type;
	int ret;

	idx_nth_oid(ix, n, &oid);
	if (packwriter_exists(g->pw, &oid))
		return 0;
	if (off == IDX_BAD_OFFSET)
		return err_last_code();
	end = object_end(sorted, ix->nr, off, p->size - OID_RAWSZ);
	buf_reset(data);
	/*
	 * The compressed bytes as they are (git's pack reuse, checked by
	 * the idx's CRC-32), unless a level was asked for or the object is
	 * a delta (whose base may not come along): then inflate, check
	 * the id, and compress again.
	 */
	if (g->o->level < 0 && ix->version == 2 && end > off &&
	    end - off <= SIZE_MAX) {
		buf_grow(data, (size_t)(end - off));
		if (pread_full(p->fd, data->data, (size_t)(end - off),
			       (off_t)off) < 0)
			return err_errno("cannot read '%s'", p->path);
		buf_setlen(data, (size_t)(end - off));
		if (!pack_decode_header((unsigned char *)data->data,
					data->len, &type, &(uint64_t){0}) ||
		    type == OBJ_OFS_DELTA || type == OBJ_REF_DELTA)
			goto inflate;
		ret = packwriter_write_raw(g->pw, &oid, data->data, data->len,
					   idx_nth_crc(ix, n));
		goto done;
	}
inflate:
	buf_reset(data);
	ret = pack_read_object(p, off, &type, data, base_of, g->odb);
	if (!ret) {
		struct oid check;

		oid_hash_object(&check, type, data->data, data->len);
		if (!oid_eq(&check, &oid))
			ret = err_set(ERR_CORRUPT, "%s: object %s hashes to "
				      "%s", p->path, oid_hex(&oid),
				      oid_hex(&check));
	}
	if (!ret)
		ret = packwriter_write_known(g->pw, type, data->data,
					     data->len, &oid);
done:
	if (!ret)
		g->handed++;
	return ret;
}

/* Is entry n live?  *dead_tree is set for a dead tree, commit or tag. */
static int judge(struct gc *g, struct idx_file *ix, struct pack_file *p,
		 uint32_t n, int *live, int *dead_tree)
{
	struct oid oid;
	uint64_t off;
	enum obj_type type;
	int ret;

	idx_nth_oid(ix, n, &oid);
	if (validate_walk_seen(g->walk, &oid)) {
		*live = 1;
		return 0;
	}
	off = idx_nth_offset(ix, n);
	if (off == IDX_BAD_OFFSET)
		return err_last_code();
	ret = pack_read_type(p, off, &type, base_of, g->odb);
	if (ret < 0)
		return ret;
	if (type != OBJ_BLOB) {
		*live = 0;
		*dead_tree = 1;
	} else {
		*live = bloom_may_contain(g->live_blobs, &oid);
	}
	return 0;
}

static int sweep_pack(struct gc *g, const char *idx_path,
		      uint64_t *collect_count, struct buf *data)
{
	struct idx_file *ix = NULL;
	struct pack_file *p = NULL;
	unsigned char *live = NULL;
	uint64_t *sorted = NULL;
	uint32_t nr_live = 0;
	int must_rewrite = 0, ret;
	char *pack_path = xstrfmt("%.*s.pack", (int)(strlen(idx_path) - 4),
				  idx_path);
	double frac;

	ret = idx_open(&ix, idx_path);
	if (!ret)
		ret = pack_open(&p, pack_path);
	if (ret)
		goto out;
	live = xcalloc(ix->nr ? ix->nr : 1, 1);
	for (uint32_t i = 0; !ret && i < ix->nr; i++) {
		int l = 0;

		ret = judge(g, ix, p, i, &l, &must_rewrite);
		live[i] = (unsigned char)l;
		nr_live += (uint32_t)l;
	}
	if (ret)
		goto out;
	*collect_count += nr_live;
	if (!nr_live) {
		pack_event(g, GC_DELETING, idx_path, 0);
		add_stale(g, idx_path);
		g->st->packs_removed++;
		goto out;
	}
	frac = (double)nr_live / (double)ix->nr;
	if (!must_rewrite && frac > (100 - g->o->threshold) / 100.0) {
		pack_event(g, GC_KEEPING, idx_path, frac);
		g->st->packs_kept++;
		goto out;
	}
	pack_event(g, GC_REWRITING, idx_path, frac);
	sorted = xmalloc(st_mult(ix->nr, sizeof(*sorted)));
	for (uint32_t i = 0; i < ix->nr; i++) {
		sorted[i] = idx_nth_offset(ix, i);
		if (sorted[i] == IDX_BAD_OFFSET) {
			ret = err_last_code();
			goto out;
		}
	}
	qsort(sorted, ix->nr, sizeof(*sorted), cmp_u64);
	for (uint32_t i = 0; !ret && i < ix->nr; i++)
		if (live[i])
			ret = copy_object(g, ix, p, i, sorted, data);
	if (!ret) {
		add_stale(g, idx_path);
		g->st->packs_rewritten++;
	}
out:
	free(sorted);
	free(live);
	if (p)
		pack_close(p);
	if (ix)
		idx_close(ix);
	free(pack_path);
	return ret ? ret : g->err;
}

static int sweep(struct gc *g)
{
	struct packwriter_opts po = { 0 };
	char **names = NULL;
	size_t nr = 0;
	uint64_t collect_count = 0;
	struct buf data = BUF_INIT;
	int ret;

	packwriter_opts_from_repo(&po, g->r, g->o->level);
	/* copies need no compression workers */
	po.threads = g->o->level < 0 ? 0 : g->o->threads;
	po.no_upkeep = 1;
	po.on_pack = on_pack;
	po.on_pack_ctx = g;
	/* no odb: every live object is copied, none is "already there" */
	ret = remove_orphans(g);
	if (!ret)
		ret = packwriter_new(&g->pw, g->r->objdir, NULL, &po);
	names = g->idx_names;
	nr = g->nr_idx;
	for (size_t i = 0; !ret && i < nr; i++) {
		if (g->o->verbose)
			gc_progress(g, "preserving live data (%d%% complete)\r",
				    (int)((double)collect_count /
					  (double)g->st->existing * 100));
		ret = sweep_pack(g, names[i], &collect_count, &data);
	}
	if (!ret && g->o->verbose)
		gc_progress(g, "preserving live data (%d%% complete)\n",
			    (int)((double)collect_count /
				  (double)g->st->existing * 100));
	if (ret) {
		/* the new packs so far are complete and harmless */
		packwriter_abort(g->pw);
	} else {
		ret = packwriter_close(g->pw);
		if (!ret)
			ret = g->err;
		/* every pack is finished now: the rest may go */
		if (!ret)
			ret = remove_stale(g, 1);
	}
	g->pw = NULL;
	buf_release(&data);
	return ret;
}

/* ---- the run ------------------------------------------------------- */

static void lock_waiting(void *ctx, enum repolock_mode mode)
{
	struct gc *g = ctx;

	(void)mode;
	if (g->o->waiting)
		g->o->waiting(g->o->ctx);
}

int gc_run(struct repo *r, const struct gc_opts *o, struct gc_stats *st)
{
	struct gc g;
	int ret;

	memset(&g, 0, sizeof(g));
	memset(st, 0, sizeof(*st));
	g.r = r;
	g.o = o;
	g.st = st;
	buf_init(&g.line, 0);

	ret = repolock_take(r, REPOLOCK_GC, o->wait, lock_waiting, &g);
	if (ret)
		goto out;
	/* a fresh view: packs written before the lock was granted */
	ret = odb_open(&g.odb, r->objdir);
	if (ret)
		goto out;
	ret = count_objects(&g, &st->existing);
	if (ret)
		goto out;
	if (o->verbose)
		gc_log(&g, "found %llu objects\n",
		       (unsigned long long)st->existing);
	if (!st->existing) {
		if (o->verbose)
			gc_log(&g, "nothing to collect\n");
		goto out;
	}
	/*
	 * Only the packs that are here before the mark are swept: a pack
	 * that a writer outside the lock (real bup) adds while gc runs
	 * holds objects whose ref the mark may not have seen yet.
	 */
	ret = list_idx(&g, &g.idx_names, &g.nr_idx);
	if (!ret)
		ret = list_orphans(&g);
	if (!ret)
		ret = mark(&g);
	if (ret)
		goto out;
	if (o->verbose)
		gc_log(&g, "expecting to retain about %.2f%% unnecessary "
		       "objects\n", bloom_pfalse(g.live_blobs));
	st->cleared = 1;
	ret = clear(&g);
	if (!ret) {
		if (o->verbose)
			gc_log(&g, "removing unreachable data\n");
		ret = sweep(&g);
	}
	if (!ret)
		ret = count_objects(&g, &st->remaining);
	if (!ret && o->verbose)
		gc_log(&g, "discarded %d%% of objects\n",
		       (int)((double)(st->existing - st->remaining) /
			     (double)st->existing * 100));
	/* beyond bup: the next save finds midx and bloom ready */
	if (!ret) {
		ret = midx_auto(r->packdir, 0, 0, NULL, NULL);
		if (ret >= 0)
			ret = bloom_update_ex(r->packdir, NULL, 0, 0, NULL,
					      NULL, NULL);
		if (ret > 0)
			ret = 0;
	}
out:
	strv_free(g.idx_names, g.nr_idx);
	strv_free(g.orphans, g.nr_orphans);
	for (size_t i = 0; i < g.nr_stale; i++)
		free(g.stale[i].stem);
	free(g.stale);
	validate_walk_free(g.walk);
	bloom_mem_free(g.live_blobs);
	if (g.odb)
		odb_free(g.odb);
	buf_release(&g.line);
	/* writers may go on; r's own writer lock is not kept */
	repolock_drop(r);
	return ret;
}
