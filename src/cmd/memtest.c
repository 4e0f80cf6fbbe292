/*
 * bup memtest [-n elements] [-c cycles] [--existing] [--ignore-midx]:
 * time existence lookups in the repository's indexes and print bup's
 * table of memory and CPU use per cycle, then how many searches the
 * bloom filter, the midx files and the idx files took
 * (lib/bup/cmd/memtest.py).
 *
 * The lookups go through the index list as bup's PackIdxList keeps it
 * (git.py): the midx files that add coverage (largest first), the idx
 * files no midx covers, all ordered by object count; bup.bloom asked
 * first, but only again after a lookup that found nothing; the index
 * that answered moved to the front.  The search loops and counters are
 * bup's (git.PackIdx._idx_from_hash, midx.PackMidx.exists,
 * bloom_contains), so the closing "N objects searched in M steps" lines
 * are the numbers bup gives for the same repository and ids.  They read
 * the same mapped tables the odb does (idx.h, midx.h, bloom.h); the
 * odb's own lookups stay uninstrumented, as they are the hot path.
 *
 * --existing cycles through every id the indexes hold, in the sorted,
 * deduplicated order of bup's idxmerge(); --ignore-midx leaves the midx
 * files out, as PackIdxList(ignore_midx=True).
 *
 * Why this file is over 500 lines and not in the library: it is a
 * diagnostic whose output is bup's step counters, so it carries its own
 * counting copies of bup's index search loops.  In the library they
 * would be a second lookup path beside the odb's, which is the hot path
 * of every save and must stay uninstrumented; nothing else needs them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "store/bloom.h"
#include "util/err.h"
#include "store/idx.h"
#include "store/midx.h"
#include "store/repo.h"
#include "util/strv.h"

int cmd_memtest(int argc, const char **argv);

static const char optspec[] =
	"bup memtest [-n elements] [-c cycles]\n"
	"--\n"
	"n,number=  number of objects per cycle [10000]\n"
	"c,cycles=  number of cycles to run [100]\n"
	"ignore-midx  ignore .midx files, use only .idx files\n"
	"existing   test with existing objects instead of fake ones\n";

struct memtest {
	double last, last_u, last_s, start;
};

static double tv_sec(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bup memtest's report(): '%9s  ' then five '%10s ' columns. */
static void report(struct memtest *m, long long count)
{
	struct rusage ru;
	double now = wall();

	getrusage(RUSAGE_SELF, &ru);
	if (count >= 0) {
		printf("%9lld  %10ld %10ld %10d %10d %10d \n", count,
		       ru.ru_maxrss / 1024, ru.ru_majflt,
		       (int)((tv_sec(&ru.ru_utime) - m->last_u) * 1000),
		       (int)((tv_sec(&ru.ru_stime) - m->last_s) * 1000),
		       (int)((now - m->last) * 1000));
	} else {
		m->start = now;
		printf("%9s  %10s %10s %10s %10s %10s \n", "", "RSS",
		       "MajFlt", "user", "sys", "ms");
	}
	fflush(stdout);
	getrusage(RUSAGE_SELF, &ru);
	m->last_u = tv_sec(&ru.ru_utime);
	m->last_s = tv_sec(&ru.ru_stime);
	m->last = wall();
}

/* bup's _helpers.random_sha(): five random() words, native order. */
static void random_sha(struct oid *id)
{
	uint32_t w[5];

	for (int i = 0; i < 5; i++)
		w[i] = (uint32_t)random();
	memcpy(id->hash, w, sizeof(w));
}

/* ---- bup's PackIdxList, with its search counters ----------------------- */

struct counter {
	long long searches, steps;
};

struct mt_index {               /* exactly one of idx, midx */
	struct idx_file *idx;
	struct midx_file *midx;
	uint32_t nr;
	const char *name;       /* for a stable order among equal sizes */
};

struct mt_list {
	struct mt_index *v;
	size_t nr, alloc;
	struct bloom_file *bloom;   /* NULL unless usable, as bup's */
	int do_bloom;
	/* bloom._total_*, midx._total_*, git._total_* */
	struct counter bloom_c, midx_c, idx_c;
};

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

struct midx_cand {
	struct midx_file *m;
	time_t mtime;
};

/* bup sorts candidate midx files by (-len, -mtime); then by name. */
static int midx_cand_cmp(const void *a, const void *b)
{
	const struct midx_cand *x = a, *y = b;

	if (x->m->nr != y->m->nr)
		return x->m->nr < y->m->nr ? 1 : -1;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? 1 : -1;
	return strcmp(x->m->path, y->m->path);
}

/* bup: new_packs.sort(reverse=True, key=len); then by name. */
static int index_cmp(const void *a, const void *b)
{
	const struct mt_index *x = a, *y = b;

	if (x->nr != y->nr)
		return x->nr < y->nr ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int name_in(char **names, size_t nr, const char *name)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

static void mt_add(struct mt_list *l, struct idx_file *ix,
		   struct midx_file *m)
{
	struct mt_index *e;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	e = &l->v[l->nr++];
	e->idx = ix;
	e->midx = m;
	e->nr = ix ? ix->nr : m->nr;
	e->name = ix ? ix->path : m->path;
}

/*
 * midx files whose idx files are all there, largest first, each kept
 * if it covers an idx no kept one covers (bup's refresh(); bup also
 * deletes the others, which a benchmark has no business doing).
 */
static void mt_add_midx(struct mt_list *l, const char *packdir,
			char **names, size_t nr)
{
	struct midx_cand *c = xcalloc(nr ? nr : 1, sizeof(*c));
	char **covered = NULL;
	size_t nc = 0, nr_covered = 0, alloc_covered = 0;

	for (size_t i = 0; i < nr; i++) {
		char *path = xstrfmt("%s/%s", packdir, names[i]);
		struct midx_file *m = NULL;
		struct stat st;
		int missing = 0;

		/* an unreadable midx is only an accelerator: skipped */
		if (stat(path, &st) < 0 || midx_open(&m, path) < 0) {
			free(path);
			continue;
		}
		free(path);
		for (size_t j = 0; j < m->nr_idxnames && !missing; j++) {
			char *p = xstrfmt("%s/%s", packdir, m->idxnames[j]);
			missing = access(p, F_OK) < 0;
			free(p);
		}
		if (missing) {
			midx_close(m);
			continue;
		}
		c[nc].m = m;
		c[nc++].mtime = st.st_mtime;
	}
	if (nc)
		qsort(c, nc, sizeof(*c), midx_cand_cmp);
	for (size_t i = 0; i < nc; i++) {
		struct midx_file *m = c[i].m;
		int needed = 0;

		for (size_t j = 0; j < m->nr_idxnames && !needed; j++)
			needed = !name_in(covered, nr_covered,
					  m->idxnames[j]);
		if (!needed) {
			midx_close(m);
			continue;
		}
		for (size_t j = 0; j < m->nr_idxnames; j++) {
			ALLOC_GROW(covered, nr_covered + 1, alloc_covered);
			covered[nr_covered++] = m->idxnames[j];
		}
		mt_add(l, NULL, m);
	}
	free(covered);
	free(c);
}

static int mt_covered(const struct mt_list *l, const char *name)
{
	for (size_t i = 0; i < l->nr; i++) {
		const struct midx_file *m = l->v[i].midx;
		if (m && name_in(m->idxnames, m->nr_idxnames, name))
			return 1;
	}
	return 0;
}

static int mt_open(struct mt_list *l, const char *packdir, int ignore_midx)
{
	char **idx = NULL, **midx = NULL;
	size_t nr_idx = 0, alloc_idx = 0, nr_midx = 0, alloc_midx = 0;
	int have_bloom = 0, ret = 0;
	uint64_t total = 0;
	struct dirent *de;
	DIR *d;

	memset(l, 0, sizeof(*l));
	d = opendir(packdir);
	if (!d)
		return errno == ENOENT ? 0 : err_errno("cannot open '%s'",
						       packdir);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (has_suffix(de->d_name, ".idx")) {
			ALLOC_GROW(idx, nr_idx + 1, alloc_idx);
			idx[nr_idx++] = xstrdup(de->d_name);
		} else if (has_suffix(de->d_name, ".midx")) {
			ALLOC_GROW(midx, nr_midx + 1, alloc_midx);
			midx[nr_midx++] = xstrdup(de->d_name);
		} else if (!strcmp(de->d_name, "bup.bloom")) {
			have_bloom = 1;
		}
	}
	closedir(d);
	QSORT(idx, nr_idx, strv_cmp);
	QSORT(midx, nr_midx, strv_cmp);

	if (!ignore_midx)
		mt_add_midx(l, packdir, midx, nr_midx);
	for (size_t i = 0; i < nr_idx; i++) {
		char *path;
		struct idx_file *ix;

		if (mt_covered(l, idx[i]))
			continue;
		path = xstrfmt("%s/%s", packdir, idx[i]);
		/* bup: add_error(), and the idx is left out */
		if (idx_open(&ix, path) < 0)
			warning("%s", err_last());
		else
			mt_add(l, ix, NULL);
		free(path);
	}
	QSORT(l->v, l->nr, index_cmp);
	for (size_t i = 0; i < l->nr; i++)
		total += l->v[i].nr;

	/* bup: a bloom filter is used if it has entries for every id */
	if (have_bloom) {
		char *path = xstrfmt("%s/bup.bloom", packdir);
		if (bloom_open(&l->bloom, path) < 0)
			l->bloom = NULL;
		free(path);
		if (l->bloom && (!l->bloom->bits ||
				 l->bloom->entries < total)) {
			bloom_close(l->bloom);
			l->bloom = NULL;
		}
		l->do_bloom = l->bloom != NULL;
	}

	for (size_t i = 0; i < nr_idx; i++)
		free(idx[i]);
	for (size_t i = 0; i < nr_midx; i++)
		free(midx[i]);
	free(idx);
	free(midx);
	return ret;
}

static void mt_close(struct mt_list *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		idx_close(l->v[i].idx);
		if (l->v[i].midx)
			midx_close(l->v[i].midx);
	}
	free(l->v);
	bloom_close(l->bloom);
}

/* bup's PackIdx._idx_from_hash: binary search in the fanout bucket. */
static int idx_search(const struct idx_file *ix, const struct oid *oid,
		      struct counter *c)
{
	unsigned b = oid->hash[0];
	uint32_t start = b ? get_be32(ix->fanout + 4 * (b - 1)) : 0;
	uint32_t end = get_be32(ix->fanout + 4 * b);

	c->searches++;
	c->steps++;     /* bup: "lookup table is a step" */
	while (start < end) {
		uint32_t mid = start + (end - start) / 2;
		int cmp = memcmp(idx_nth_sha(ix, mid), oid->hash, OID_RAWSZ);

		c->steps++;
		if (cmp < 0)
			start = mid + 1;
		else if (cmp > 0)
			end = mid;
		else
			return 1;
	}
	return 0;
}

/*
 * bup's PackMidx.exists: interpolation search on the first 32 bits of
 * the id within the bucket of its top `bits` bits.  In a sorted table
 * startv <= hashv <= endv, so mid stays in [start, end); the clamps
 * only keep a corrupt file from sending us outside the table.
 */
static int midx_search(const struct midx_file *m, const struct oid *oid,
		       struct counter *c)
{
	uint32_t bits = m->bits;
	uint64_t hashv = get_be32(oid->hash);
	uint32_t el = bits ? (uint32_t)(hashv >> (32 - bits)) : 0;
	uint64_t startv = el ? (uint64_t)el << (32 - bits) : 0;
	uint64_t endv = (uint64_t)(el + 1ULL) << (32 - bits);
	uint32_t start = el ? get_be32(m->fanout + 4 * (el - 1)) : 0;
	uint32_t end = get_be32(m->fanout + 4 * el);

	c->searches++;
	c->steps++;     /* bup: "lookup table is a step" */
	end = MIN(end, m->nr);
	while (start < end) {
		uint64_t mid = start;
		const unsigned char *v;
		int cmp;

		c->steps++;
		if (hashv >= startv && endv > startv)
			mid = start + (hashv - startv) *
				      (uint64_t)(end - start - 1) /
				      (endv - startv);
		mid = MIN(mid, (uint64_t)end - 1);
		v = m->shas + mid * OID_RAWSZ;
		cmp = memcmp(v, oid->hash, OID_RAWSZ);
		if (cmp < 0) {
			start = (uint32_t)mid + 1;
			startv = get_be32(v);
		} else if (cmp > 0) {
			end = (uint32_t)mid;
			endv = get_be32(v);
		} else {
			return 1;
		}
	}
	return 0;
}

/*
 * bup's PackIdxList.exists, counters included: git._total_searches
 * counts the call, less each index tried, plus each idx (not midx)
 * searched; a call the bloom filter settles is not counted there.
 */
static int mt_exists(struct mt_list *l, const struct oid *oid)
{
	l->idx_c.searches++;
	if (l->do_bloom && l->bloom) {
		unsigned steps;
		int may = bloom_may_contain_steps(l->bloom, oid, &steps);

		l->bloom_c.searches++;
		l->bloom_c.steps += steps;
		if (!may) {
			l->idx_c.searches--;
			return 0;
		}
		l->do_bloom = 0;
	}
	for (size_t i = 0; i < l->nr; i++) {
		struct mt_index e = l->v[i];
		int found;

		l->idx_c.searches--;
		found = e.midx ? midx_search(e.midx, oid, &l->midx_c)
			       : idx_search(e.idx, oid, &l->idx_c);
		if (found) {
			/* most recently used first */
			memmove(l->v + 1, l->v, i * sizeof(*l->v));
			l->v[0] = e;
			return 1;
		}
	}
	l->do_bloom = 1;
	return 0;
}

/* ---- --existing: bup's idxmerge() over the list, forever --------------- */

struct mt_src {
	struct mt_index e;      /* a copy: the list reorders itself */
	uint32_t pos;
};

struct mt_merge {
	struct mt_src *heap;
	size_t nr;
	uint64_t count, total;
	unsigned char prev[OID_RAWSZ];
	int have_prev, started;
};

static const unsigned char *src_sha(const struct mt_src *s)
{
	return s->e.midx ? s->e.midx->shas + (size_t)s->pos * OID_RAWSZ
			 : idx_nth_sha(s->e.idx, s->pos);
}

static int src_less(const struct mt_src *a, const struct mt_src *b)
{
	return memcmp(src_sha(a), src_sha(b), OID_RAWSZ) < 0;
}

static void sift_down(struct mt_merge *g, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		struct mt_src t;

		if (l < g->nr && src_less(&g->heap[l], &g->heap[min]))
			min = l;
		if (r < g->nr && src_less(&g->heap[r], &g->heap[min]))
			min = r;
		if (min == i)
			return;
		t = g->heap[i];
		g->heap[i] = g->heap[min];
		g->heap[min] = t;
		i = min;
	}
}

static void merge_start(struct mt_merge *g, const struct mt_list *l)
{
	g->nr = 0;
	g->count = g->total = 0;
	g->have_prev = 0;
	g->heap = xrealloc(g->heap, (l->nr ? l->nr : 1) * sizeof(*g->heap));
	for (size_t i = 0; i < l->nr; i++) {
		g->total += l->v[i].nr;
		if (!l->v[i].nr)
			continue;
		g->heap[g->nr].e = l->v[i];
		g->heap[g->nr++].pos = 0;
	}
	for (size_t i = g->nr; i-- > 0; )
		sift_down(g, i);
	g->started = 1;
}

/* The next id; -1 if the indexes hold none (bup would spin forever). */
static int merge_next(struct mt_merge *g, const struct mt_list *l,
		      struct oid *out)
{
	for (;;) {
		const unsigned char *sha;
		int fresh;

		if (!g->nr) {
			if (g->started)
				cli_progress_done("Reading indexes: %.2f%% "
						  "(%llu/%llu), done.\n",
						  100.0,
						  (unsigned long long)g->total,
						  (unsigned long long)g->total);
			merge_start(g, l);
			if (!g->nr)
				return -1;
		}
		if (!(g->count % 10024))
			cli_progress("Reading indexes: %.2f%% (%llu/%llu)\r",
				     g->count * 100.0 / g->total,
				     (unsigned long long)g->count,
				     (unsigned long long)g->total);
		sha = src_sha(&g->heap[0]);
		fresh = !g->have_prev || memcmp(sha, g->prev, OID_RAWSZ);
		memcpy(g->prev, sha, OID_RAWSZ);
		g->have_prev = 1;
		g->count++;
		if (++g->heap[0].pos == g->heap[0].e.nr)
			g->heap[0] = g->heap[--g->nr];
		if (g->nr)
			sift_down(g, 0);
		if (fresh) {
			memcpy(out->hash, g->prev, OID_RAWSZ);
			return 0;
		}
	}
}

static void print_counter(const char *what, const struct counter *c)
{
	if (!c->searches)
		return;
	printf("%s: %lld objects searched in %lld steps: avg %.3f "
	       "steps/object\n", what, c->searches, c->steps,
	       (double)c->steps / (double)c->searches);
}

int cmd_memtest(int argc, const char **argv)
{
	struct memtest m = { 0, 0, 0, 0 };
	struct mt_merge merge = { 0 };
	struct mt_list list;
	struct opts o;
	struct repo *r;
	struct oid id;
	long long number, cycles;
	int existing, ignore_midx, code = 0;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no arguments expected");
	if (opt_int(&o, "number", &number, 0) ||
	    opt_int(&o, "cycles", &cycles, 0)) {
		opt_release(&o);
		return error("-n and -c must be integers");
	}
	existing = opt_count(&o, "existing") > 0;
	ignore_midx = opt_count(&o, "ignore-midx") > 0;
	opt_release(&o);
	r = cli_open_repo();
	report(&m, -1);
	/* bup seeds random() with the time at its first random_sha() */
	srandom((unsigned)time(NULL));
	random_sha(&id);
	report(&m, 0);
	if (mt_open(&list, r->packdir, ignore_midx) < 0) {
		error("%s", err_last());
		repo_free(r);
		return 1;
	}
	for (long long c = 0; c < cycles; c++) {
		for (long long n = 0; n < number; n++) {
			if (!existing) {
				random_sha(&id);
				/* a random id existing is a SHA-1 collision */
				if (mt_exists(&list, &id))
					BUG("random object id found in the "
					    "repository");
				continue;
			}
			if (merge_next(&merge, &list, &id) < 0) {
				fflush(stdout);
				code = error("--existing: no objects in the "
					     "repository's indexes");
				goto out;
			}
			/* bup asserts; here a bad bloom or midx says so */
			if (!mt_exists(&list, &id)) {
				fflush(stdout);
				code = error("object %s listed in an index "
					     "but not found", oid_hex(&id));
				goto out;
			}
		}
		report(&m, (c + 1) * number);
	}
	print_counter("bloom", &list.bloom_c);
	print_counter("midx", &list.midx_c);
	print_counter("idx", &list.idx_c);
	printf("Total time: %.3fs\n", wall() - m.start);
out:
	free(merge.heap);
	mt_close(&list);
	repo_free(r);
	return code ? 1 : 0;
}
