/*
 * Hashsplitting exactly as bup 0.33.7 does it (FORMAT.md 3.3) and the
 * fanout tree built from the chunks (FORMAT.md 3.4).
 *
 * bup appends each read block (8 MiB, the last of a file short) to a
 * buffer and then, until no split point is left, rescans the buffer from
 * the current chunk start with a fresh rollsum; a split beyond 32768 is
 * cut at 32768.  When the rest of the buffer has no split point at all,
 * it cuts 32768-byte pieces without rescanning (quirk A) and leaves the
 * remainder for the next block, where it is rescanned fresh (quirk B).
 *
 * We reproduce those cut points without bup's repeated rescans.  The
 * rollsum state after position n depends only on the 64 bytes before n
 * (zeros before the scan origin), so a fresh scan from a new chunk start
 * s differs from any earlier scan only at positions s+1 .. s+63.  A scan
 * therefore checks those 63 positions fresh and reuses, for positions
 * >= s+64, what an earlier scan proved: `clean_end` (no split up to it)
 * and `next` (the first split found there).  Every byte is scanned once,
 * plus at most 63 + 64 bytes per chunk.
 *
 * Parallel mode: the per-byte scan of a large read is done up front by
 * two threads, each listing the "candidates" of its half: positions
 * whose full 64-byte window meets the split condition (the window
 * straddling the halves' border is read from the buffer, so the halves
 * need no reconciliation).  The sequential pass above then scans only
 * the 63 fresh positions after each chunk start itself and takes the
 * first candidate beyond them from the list, which is exactly what the
 * rescan would find there; quirk A and B are untouched because the
 * control flow is the same, only the answers of the scan come faster.
 *
 * Zero-copy: hsplit_buffer() hands out the tail of the chunker's own
 * buffer, the reader read()s into it, and chunks are emitted as pointers
 * into that buffer.  The only copy is moving the leftover (< 32 KiB) to
 * the front before the next 8 MiB read.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "chunk/hashsplit.h"
#include "chunk/rollsum.h"
#include "store/sha1batch.h"
#include "store/tree.h"

/*
 * Reads land on a page boundary: the leftover is moved to just below
 * one.  The kernel copies a read faster into an aligned buffer, and the
 * scans run faster over it: one-thread split of 1 GiB 3.50 -> 3.42 s
 * (medians of 7 alternating runs, kernel time 0.41 -> 0.36 s).
 */
#define HSPLIT_ALIGN ((size_t)4096)
#define FRESH (ROLLSUM_WINDOW - 1)   /* positions a fresh scan re-decides */

int hsplit_fanbits(unsigned long long fanout)
{
	int bits = 0;

	if (!fanout)
		fanout = 128;
	while (fanout >>= 1)
		bits++;
	return bits;
}

/* ---- parallel candidate scan ---- */

struct hsplit_helper {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const unsigned char *buf;
	size_t from, to;
	uint64_t base;
	struct hsplit_cand *out, *tmp;
	size_t nr, alloc, tmp_nr, tmp_alloc;
	/* a hashing job instead (pieces != NULL): pieces[p0..p1) */
	struct hsplit_piece *pieces;
	size_t p0, p1;
	int state;            /* 0 idle, 1 job posted, 2 job done */
	int stop;
};

/* Ids of pieces [from, to), several messages at a time (sha1batch.h). */
static void hash_pieces(const unsigned char *buf, struct hsplit_piece *p,
			size_t from, size_t to)
{
	struct sha1batch_job jobs[64];

	while (from < to) {
		size_t n = MIN(to - from, ARRAY_SIZE(jobs));

		for (size_t i = 0; i < n; i++)
			jobs[i] = (struct sha1batch_job){
				buf + p[from + i].off, p[from + i].len,
				&p[from + i].oid, OBJ_BLOB };
		sha1batch_hash(OBJ_BLOB, jobs, n);
		from += n;
	}
}

static void push(struct hsplit_cand **v, size_t *nr, size_t *alloc,
		 uint64_t pos, int bits)
{
	ALLOC_GROW(*v, *nr + 1, *alloc);
	(*v)[*nr].pos = pos;
	(*v)[*nr].bits = bits;
	(*nr)++;
}

struct push_ctx {
	struct hsplit_cand **v;
	size_t *nr, *alloc;
	uint64_t base;
};

static void push_hit(void *ctx, size_t n, int bits)
{
	struct push_ctx *pc = ctx;

	push(pc->v, pc->nr, pc->alloc, pc->base + n, bits);
}

/*
 * Every split position n in (from, to] of a scan fresh at buf[0], as
 * stream offsets base + n, appended to v.  For n >= 64 that is "the full
 * window ending at n meets the condition", whatever the scan origin.
 * Long ranges are scanned as two interleaved halves (rollsum_scan2) unless
 * the SIMD scan is in use; the second half's list waits in tmp.
 */
static void collect(const unsigned char *buf, size_t from, size_t to,
		    uint64_t base, struct hsplit_cand **v, size_t *nr,
		    size_t *alloc, struct hsplit_cand **tmp, size_t *tmp_nr,
		    size_t *tmp_alloc)
{
	size_t head = MIN(to, (size_t)ROLLSUM_WINDOW), mid, a, b, r;
	int bits, w;

	/* Positions whose window starts before buf[0]: one at a time. */
	while (from < head && (r = rollsum_scan(buf, from, head, &bits))) {
		push(v, nr, alloc, base + r, bits);
		from = r;
	}
	from = MAX(from, head);
	/* the AVX2 scans have no serial chain: interleaving gains nothing */
	if (rollsum_simd()) {
		struct push_ctx pc = { v, nr, alloc, base };

		rollsum_scan_all(buf, from, to, push_hit, &pc);
		return;
	}
	if (to - from < 2 * 4096) {
		while ((r = rollsum_scan(buf, from, to, &bits))) {
			push(v, nr, alloc, base + r, bits);
			from = r;
		}
		return;
	}
	mid = from + (to - from) / 2;
	a = from;
	b = mid;
	*tmp_nr = 0;
	while ((w = rollsum_scan2(buf, &a, mid, &b, to, &bits)))
		if (w == 1)
			push(v, nr, alloc, base + a, bits);
		else
			push(tmp, tmp_nr, tmp_alloc, base + b, bits);
	while ((r = rollsum_scan(buf, a, mid, &bits))) {
		push(v, nr, alloc, base + r, bits);
		a = r;
	}
	while ((r = rollsum_scan(buf, b, to, &bits))) {
		push(tmp, tmp_nr, tmp_alloc, base + r, bits);
		b = r;
	}
	ALLOC_GROW(*v, *nr + *tmp_nr, *alloc);
	if (*tmp_nr)
		memcpy(*v + *nr, *tmp, *tmp_nr * sizeof(**tmp));
	*nr += *tmp_nr;
}

static void *helper_main(void *arg)
{
	struct hsplit_helper *hp = arg;

	pthread_mutex_lock(&hp->lock);
	for (;;) {
		while (!hp->stop && hp->state != 1)
			pthread_cond_wait(&hp->cond, &hp->lock);
		if (hp->state != 1)
			break;
		pthread_mutex_unlock(&hp->lock);
		if (hp->pieces) {
			hash_pieces(hp->buf, hp->pieces, hp->p0, hp->p1);
		} else {
			hp->nr = 0;
			collect(hp->buf, hp->from, hp->to, hp->base, &hp->out,
				&hp->nr, &hp->alloc, &hp->tmp, &hp->tmp_nr,
				&hp->tmp_alloc);
		}
		pthread_mutex_lock(&hp->lock);
		hp->state = 2;
		pthread_cond_broadcast(&hp->cond);
	}
	pthread_mutex_unlock(&hp->lock);
	return NULL;
}

static struct hsplit_helper *helper_new(void)
{
	struct hsplit_helper *hp = xcalloc(1, sizeof(*hp));

	pthread_mutex_init(&hp->lock, NULL);
	pthread_cond_init(&hp->cond, NULL);
	if (pthread_create(&hp->tid, NULL, helper_main, hp)) {
		pthread_mutex_destroy(&hp->lock);
		pthread_cond_destroy(&hp->cond);
		free(hp);
		return NULL;
	}
	return hp;
}

static void helper_free(struct hsplit_helper *hp)
{
	if (!hp)
		return;
	pthread_mutex_lock(&hp->lock);
	hp->stop = 1;
	pthread_cond_broadcast(&hp->cond);
	pthread_mutex_unlock(&hp->lock);
	pthread_join(hp->tid, NULL);
	pthread_mutex_destroy(&hp->lock);
	pthread_cond_destroy(&hp->cond);
	free(hp->out);
	free(hp->tmp);
	free(hp);
}

/*
 * List the candidates of the newly read buf[from..to): on this thread,
 * or split with the helper thread when there is one.
 */
static void scan_candidates(struct hsplit *h, size_t from, size_t to,
			    int use_helper)
{
	struct hsplit_helper *hp = use_helper ? h->helper : NULL;
	uint64_t base0 = h->total - h->start;   /* stream offset of buf[0] */
	size_t mid = from + (to - from) / 2;

	if (h->cov_hi != base0 + from) {
		h->cand_nr = 0;
		h->cov_lo = base0 + from;
	} else {
		/* Keep the leftover's candidates; drop those behind start. */
		size_t i = 0;
		while (i < h->cand_nr && h->cand[i].pos <= h->total)
			i++;
		if (i) {
			memmove(h->cand, h->cand + i,
				(h->cand_nr - i) * sizeof(*h->cand));
			h->cand_nr -= i;
		}
		if (h->cov_lo < h->total)
			h->cov_lo = h->total;
	}
	if (!hp) {
		collect(h->buf, from, to, base0, &h->cand, &h->cand_nr,
			&h->cand_alloc, &h->tmp, &h->tmp_nr, &h->tmp_alloc);
		h->cov_hi = base0 + to;
		return;
	}
	pthread_mutex_lock(&hp->lock);
	hp->pieces = NULL;
	hp->buf = h->buf;
	hp->from = mid;
	hp->to = to;
	hp->base = base0;
	hp->state = 1;
	pthread_cond_broadcast(&hp->cond);
	pthread_mutex_unlock(&hp->lock);

	collect(h->buf, from, mid, base0, &h->cand, &h->cand_nr,
		&h->cand_alloc, &h->tmp, &h->tmp_nr, &h->tmp_alloc);

	pthread_mutex_lock(&hp->lock);
	while (hp->state != 2)
		pthread_cond_wait(&hp->cond, &hp->lock);
	hp->state = 0;
	pthread_mutex_unlock(&hp->lock);
	ALLOC_GROW(h->cand, h->cand_nr + hp->nr, h->cand_alloc);
	if (hp->nr)
		memcpy(h->cand + h->cand_nr, hp->out,
		       hp->nr * sizeof(*hp->out));
	h->cand_nr += hp->nr;
	h->cov_hi = base0 + to;
}

void hsplit_init(struct hsplit *h, int fanbits, hsplit_emit_fn emit,
		 void *ctx)
{
	memset(h, 0, sizeof(*h));
	h->fanbits = fanbits;
	h->emit = emit;
	h->emit_ctx = ctx;
	h->threads = 1;
	h->cand_min = HSPLIT_CAND_MIN;
	h->par_min = HSPLIT_PAR_MIN;
}

void hsplit_set_threads(struct hsplit *h, int threads)
{
	h->threads = threads > 1 ? 2 : 1;
}

void hsplit_reset(struct hsplit *h, hsplit_emit_fn emit, void *ctx)
{
	struct hsplit keep = *h;

	hsplit_init(h, keep.fanbits, emit, ctx);
	h->buf = keep.buf;
	h->alloc = keep.alloc;
	h->cand = keep.cand;
	h->cand_alloc = keep.cand_alloc;
	h->tmp = keep.tmp;
	h->tmp_alloc = keep.tmp_alloc;
	h->cand_min = keep.cand_min;
	h->helper = keep.helper;
	h->threads = keep.threads;
	h->par_min = keep.par_min;
	h->pieces = keep.pieces;
	h->pieces_alloc = keep.pieces_alloc;
}

void hsplit_release(struct hsplit *h)
{
	free(h->buf);
	h->buf = NULL;
	h->alloc = h->start = h->end = 0;
	h->clean_end = h->next = 0;
	helper_free(h->helper);
	h->helper = NULL;
	free(h->cand);
	h->cand = NULL;
	h->cand_nr = h->cand_alloc = 0;
	free(h->tmp);
	h->tmp = NULL;
	h->tmp_nr = h->tmp_alloc = 0;
	h->cov_lo = h->cov_hi = 0;
	free(h->pieces);
	h->pieces = NULL;
	h->pieces_nr = h->pieces_alloc = 0;
}

static void compact(struct hsplit *h)
{
	size_t left = h->end - h->start, s = h->start;
	size_t pad = (HSPLIT_ALIGN - left % HSPLIT_ALIGN) % HSPLIT_ALIGN;

	if (s == pad)
		return;
	memmove(h->buf + pad, h->buf + s, left);
	h->start = pad;
	h->end = pad + left;
	h->clean_end = h->clean_end > s ? h->clean_end - s + pad : 0;
	h->next = h->next > s ? h->next - s + pad : 0;
}

unsigned char *hsplit_buffer(struct hsplit *h, size_t want)
{
	if (h->alloc - h->end < want ||
	    (want >= HSPLIT_ALIGN && h->end % HSPLIT_ALIGN)) {
		compact(h);
		if (h->alloc - h->end < want) {
			size_t n = st_add(st_add(h->end, want), HSPLIT_ALIGN);
			unsigned char *nb;

			/* Room for the leftover (< BLOB_MAX) plus a read. */
			if (n < HSPLIT_READ_SIZE + HSPLIT_BLOB_MAX + HSPLIT_ALIGN)
				n = HSPLIT_READ_SIZE + HSPLIT_BLOB_MAX + HSPLIT_ALIGN;
			nb = xmalloc_aligned(HSPLIT_ALIGN, n);
			if (h->end)
				memcpy(nb, h->buf, h->end);
			free(h->buf);
			h->buf = nb;
			h->alloc = n;
		}
	}
	return h->buf + h->end;
}

/*
 * rollsum_scan(buf + start, lo, len) for lo >= FRESH (positions whose
 * window is all real data), answered from the candidate list where it
 * covers the range.
 */
static size_t scan_full(struct hsplit *h, size_t lo, size_t len, int *bits)
{
	const unsigned char *d = h->buf + h->start;
	uint64_t base = h->total, a;
	size_t i, j;

	if (h->cov_hi != base + len || h->cov_lo >= base + len)
		return rollsum_scan(d, lo, len, bits);
	if (base + lo < h->cov_lo) {
		/* The part read before the list began: scan it. */
		size_t mid = (size_t)(h->cov_lo - base), r;
		if ((r = rollsum_scan(d, lo, mid, bits)))
			return r;
		lo = mid;
	}
	a = base + lo;
	i = 0;
	j = h->cand_nr;
	while (i < j) {             /* first candidate beyond a */
		size_t m = i + (j - i) / 2;
		if (h->cand[m].pos <= a)
			i = m + 1;
		else
			j = m;
	}
	if (i == h->cand_nr)
		return 0;
	*bits = h->cand[i].bits;
	return (size_t)(h->cand[i].pos - base);
}

/*
 * bup's find_first_split(buf[start..end)): the 1-based end of the first
 * split relative to start, or 0.
 */
static size_t first_split(struct hsplit *h, int *bits)
{
	const unsigned char *d = h->buf + h->start;
	size_t len = h->end - h->start, r;
	size_t lo = h->clean_end > h->start ? h->clean_end - h->start : 0;

	/* The fresh positions: their window reaches before the start. */
	r = rollsum_scan(d, 0, MIN(len, (size_t)FRESH), bits);
	if (r)
		return r;   /* fresh-only result: nothing to record */
	if (lo <= FRESH)
		lo = FRESH;
	else if (h->next > h->start + FRESH) {
		*bits = h->next_bits;
		return h->next - h->start;
	}
	r = scan_full(h, lo, len, bits);
	if (!r) {
		h->clean_end = h->end;
		h->next = 0;
	} else if (r > FRESH) {
		h->clean_end = h->next = h->start + r;
		h->next_bits = *bits;
	}
	return r;
}

static int emit(struct hsplit *h, size_t n, int level)
{
	const unsigned char *d = h->buf + h->start;

	h->start += n;
	h->total += n;
	return h->emit(h->emit_ctx, d, n, level, NULL);
}

/* The chunk of n bytes at start, as emit() but only listed. */
static void list_piece(struct hsplit *h, size_t n, int level)
{
	struct hsplit_piece *p;

	ALLOC_GROW(h->pieces, h->pieces_nr + 1, h->pieces_alloc);
	p = &h->pieces[h->pieces_nr++];
	p->off = h->start;
	p->len = n;
	p->level = level;
	h->start += n;
	h->total += n;
}

static int emit_range(struct hsplit *h, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		struct hsplit_piece *p = &h->pieces[i];
		int ret = h->emit(h->emit_ctx, h->buf + p->off, p->len,
				  p->level, &p->oid);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Hash the listed chunks, several at a time (sha1batch.h) and on two
 * threads when there is a helper (it takes the second half of the
 * bytes), then emit them in order with their ids.  SHA-1 of every chunk
 * is otherwise the largest cost after deflate, and all of it once the
 * split points are found in parallel: an incremental save of a large
 * file that barely changed is all chunking and hashing.  The bytes stay
 * in buf until the next hsplit_buffer().
 */
static int emit_pieces(struct hsplit *h, int use_helper)
{
	struct hsplit_helper *hp = use_helper ? h->helper : NULL;
	size_t nr = h->pieces_nr, half = 0, mid = 0, i;

	if (!hp) {
		hash_pieces(h->buf, h->pieces, 0, nr);
		return emit_range(h, 0, nr);
	}
	for (i = 0; i < nr; i++)
		half += h->pieces[i].len;
	half /= 2;
	for (i = 0; i < nr && mid < half; i++)
		mid += h->pieces[i].len;
	mid = i;
	pthread_mutex_lock(&hp->lock);
	hp->buf = h->buf;
	hp->pieces = h->pieces;
	hp->p0 = mid;
	hp->p1 = nr;
	hp->state = 1;
	pthread_cond_broadcast(&hp->cond);
	pthread_mutex_unlock(&hp->lock);

	hash_pieces(h->buf, h->pieces, 0, mid);

	pthread_mutex_lock(&hp->lock);
	while (hp->state != 2)
		pthread_cond_wait(&hp->cond, &hp->lock);
	hp->state = 0;
	hp->pieces = NULL;
	pthread_mutex_unlock(&hp->lock);
	return emit_range(h, 0, nr);
}

/* The next chunk, of n bytes: emitted now, or listed for emit_pieces(). */
static int cut(struct hsplit *h, size_t n, int level, int listing)
{
	if (!listing)
		return emit(h, n, level);
	list_piece(h, n, level);
	return 0;
}

int hsplit_feed_buffer(struct hsplit *h, size_t n)
{
	int bits, ret, listing, two;
	size_t r;

	if (!n)
		return 0;   /* bup stops at an empty read; never "appends" one */
	if (n > h->alloc - h->end)
		BUG("hsplit_feed_buffer: %zu bytes fed, room for %zu", n,
		    h->alloc - h->end);
	h->end += n;
	if (h->threads > 1 && n >= h->par_min) {
		if (!h->helper && !(h->helper = helper_new()))
			h->threads = 1;   /* no thread: scan on this one */
		scan_candidates(h, h->end - n, h->end, h->helper != NULL);
	} else if (n >= h->cand_min) {
		scan_candidates(h, h->end - n, h->end, 0);
	}
	/*
	 * The chunks of a read with candidates listed up front are listed
	 * too, then hashed together: on two threads if the read was
	 * scanned on two.
	 */
	listing = n >= h->cand_min;
	two = h->helper && n >= h->par_min;
	h->pieces_nr = 0;
	while ((r = first_split(h, &bits))) {
		int level = 0;

		if (r > HSPLIT_BLOB_MAX)
			r = HSPLIT_BLOB_MAX;
		else if (h->fanbits)
			level = (bits - ROLLSUM_BLOBBITS) / h->fanbits;
		if ((ret = cut(h, r, level, listing)))
			return ret;
	}
	/* Quirk A: no split left; cut without restarting the rollsum. */
	while (h->end - h->start >= HSPLIT_BLOB_MAX)
		if ((ret = cut(h, HSPLIT_BLOB_MAX, 0, listing)))
			return ret;
	return listing ? emit_pieces(h, two) : 0;
}

int hsplit_feed(struct hsplit *h, const void *block, size_t len)
{
	if (!len)
		return 0;
	memcpy(hsplit_buffer(h, len), block, len);
	return hsplit_feed_buffer(h, len);
}

int hsplit_finish(struct hsplit *h)
{
	int ret = 0;

	if (h->end > h->start)
		ret = emit(h, h->end - h->start, 0);
	h->start = h->end = 0;
	h->clean_end = h->next = 0;
	h->cand_nr = 0;
	h->cov_lo = h->cov_hi = 0;
	return ret;
}

/* ---- fanout tree (FORMAT.md 3.4) ---- */

void fantree_init(struct fantree *t, struct objsink *sink)
{
	memset(t, 0, sizeof(*t));
	t->sink = sink;
	buf_init(&t->scratch, 0);
	ALLOC_GROW(t->levels, 1, t->alloc);
	memset(t->levels, 0, sizeof(*t->levels));
	t->nlevels = 1;
}

void fantree_release(struct fantree *t)
{
	for (size_t i = 0; i < t->nlevels; i++)
		free(t->levels[i].items);
	free(t->levels);
	buf_release(&t->scratch);
	memset(t, 0, sizeof(*t));
}

static void level_push(struct fantree_level *l, unsigned mode,
		       const struct oid *oid, uint64_t size)
{
	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	l->items[l->nr].mode = mode;
	l->items[l->nr].oid = *oid;
	l->items[l->nr].size = size;
	l->nr++;
}

/*
 * make_shalist + write the tree: names are the offsets of the items in
 * the subtree, lower-case hex zero-padded to the width of the total
 * size in hex.  All names have the same width and increase, so offset
 * order is git order and no sort is needed.
 */
static int write_shalist(struct fantree *t, const struct fantree_item *it,
			 size_t nr, struct oid *out, uint64_t *size)
{
	uint64_t total = 0, ofs = 0;
	int digits = 1;
	struct buf *b = &t->scratch;

	for (size_t i = 0; i < nr; i++)
		total += it[i].size;
	for (uint64_t x = total; x >= 16; x >>= 4)
		digits++;
	buf_reset(b);
	for (size_t i = 0; i < nr; i++) {
		buf_addf(b, "%o %0*llx", it[i].mode, digits,
			 (unsigned long long)ofs);
		buf_addch(b, '\0');
		buf_add(b, it[i].oid.hash, OID_RAWSZ);
		ofs += it[i].size;
	}
	if (size)
		*size = total;
	return objsink_write(t->sink, OBJ_TREE, b->data, b->len, out);
}

static int squish(struct fantree *t, size_t n)
{
	size_t i = 0;

	while (i < n || t->levels[i].nr >= HSPLIT_MAX_PER_TREE) {
		struct fantree_level *l;

		if (t->nlevels <= i + 1) {
			ALLOC_GROW(t->levels, i + 2, t->alloc);
			memset(&t->levels[t->nlevels], 0,
			       (i + 2 - t->nlevels) * sizeof(*t->levels));
			t->nlevels = i + 2;
		}
		l = &t->levels[i];
		if (l->nr == 1) {
			level_push(&t->levels[i + 1], l->items[0].mode,
				   &l->items[0].oid, l->items[0].size);
		} else if (l->nr > 1) {
			struct oid oid;
			uint64_t size;
			int ret = write_shalist(t, l->items, l->nr, &oid,
						&size);
			if (ret)
				return ret;
			level_push(&t->levels[i + 1], TREE_MODE_TREE, &oid,
				   size);
		}
		t->levels[i].nr = 0;
		i++;
	}
	return 0;
}

int fantree_add(struct fantree *t, const struct oid *blob, uint64_t len,
		int level)
{
	level_push(&t->levels[0], TREE_MODE_BLOB, blob, len);
	return squish(t, level > 0 ? (size_t)level : 0);
}

static int finish_top(struct fantree *t, struct fantree_level **top)
{
	int ret = squish(t, t->nlevels - 1);

	*top = &t->levels[t->nlevels - 1];
	return ret;
}

int fantree_finish(struct fantree *t, struct oid *out, unsigned *mode)
{
	struct fantree_level *top;
	int ret = finish_top(t, &top);

	if (ret)
		return ret;
	if (top->nr == 1) {
		*out = top->items[0].oid;
		*mode = top->items[0].mode;
		return 0;
	}
	if (!top->nr) {
		/* bup writes the empty blob (makeblob(b'')). */
		*mode = TREE_MODE_BLOB;
		return objsink_write(t->sink, OBJ_BLOB, "", 0, out);
	}
	*mode = TREE_MODE_TREE;
	return write_shalist(t, top->items, top->nr, out, NULL);
}

int fantree_finish_tree(struct fantree *t, struct oid *out)
{
	struct fantree_level *top;
	int ret = finish_top(t, &top);

	if (ret)
		return ret;
	return write_shalist(t, top->items, top->nr, out, NULL);
}

/* ---- whole files and buffers ---- */

struct tree_emit {
	struct objsink *sink;
	struct fantree tree;
};

static int emit_to_tree(void *ctx, const unsigned char *data, size_t len,
			int level, const struct oid *id)
{
	struct tree_emit *te = ctx;
	struct oid oid;
	int ret = id ? objsink_write_known(te->sink, OBJ_BLOB, data, len, id,
					   &oid)
		     : objsink_write(te->sink, OBJ_BLOB, data, len, &oid);

	if (ret)
		return ret;
	return fantree_add(&te->tree, &oid, len, level);
}

int hsplit_fd(struct objsink *sink, int fd, int fanbits, struct oid *out,
	      unsigned *mode, uint64_t *size_out)
{
	struct tree_emit te = { sink, { 0 } };
	struct hsplit h;
	int ret = 0;

	fantree_init(&te.tree, sink);
	hsplit_init(&h, fanbits, emit_to_tree, &te);
	/* Advisory only; a pipe or odd filesystem may refuse it. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		/*
		 * Full 8 MiB blocks as Python's buffered read(n) gives them:
		 * the block boundaries are observable (quirk B).
		 */
		unsigned char *p = hsplit_buffer(&h, HSPLIT_READ_SIZE);
		long long n = read_full(fd, p, HSPLIT_READ_SIZE);

		if (n < 0) {
			ret = err_errno("read error");
			goto out;
		}
		if (!n)
			break;
		if ((ret = hsplit_feed_buffer(&h, (size_t)n)))
			goto out;
	}
	if ((ret = hsplit_finish(&h)))
		goto out;
	if (size_out)
		*size_out = h.total;
	ret = fantree_finish(&te.tree, out, mode);
out:
	hsplit_release(&h);
	fantree_release(&te.tree);
	return ret;
}

int hsplit_mem(struct objsink *sink, const void *data, size_t len,
	       int fanbits, struct oid *out, unsigned *mode)
{
	struct tree_emit te = { sink, { 0 } };
	struct hsplit h;
	const unsigned char *p = data;
	int ret = 0;

	fantree_init(&te.tree, sink);
	hsplit_init(&h, fanbits, emit_to_tree, &te);
	/* The same 8 MiB "reads" as a file of these bytes would give. */
	while (len) {
		size_t n = MIN(len, (size_t)HSPLIT_READ_SIZE);
		if ((ret = hsplit_feed(&h, p, n)))
			goto out;
		p += n;
		len -= n;
	}
	if ((ret = hsplit_finish(&h)))
		goto out;
	ret = fantree_finish(&te.tree, out, mode);
out:
	hsplit_release(&h);
	fantree_release(&te.tree);
	return ret;
}
