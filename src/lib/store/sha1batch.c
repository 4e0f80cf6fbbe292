/*
 * Many git object ids at once, up to three SHA-1 messages per loop on
 * SHA-NI (sha1batch.h says why).  Each message is "<type> <len>\0" + data
 * (FORMAT.md 2.1), padded as SHA-1 requires (FIPS 180-4, 5.1.1).  It is
 * cut into at most three runs of 64-byte blocks so that the bulk of the
 * data is read where it lies:
 *
 *   head  the header and the first data bytes, copied into one block
 *   mid   the data's whole blocks after that, in place
 *   tail  the last partial block and the padding, copied (1-2 blocks)
 *
 * Each lane works through a message; the loop hashes as many blocks as
 * all busy lanes' current runs have, then a lane whose run ended moves
 * to its next run or to the next message.  Chunk sizes vary a lot, so
 * taking messages in turn (not in fixed groups) keeps the lanes busy.
 */
#include "store/sha1batch.h"

#include <stdint.h>
#include <string.h>

#include "util/util.h"

#if (defined(__x86_64__) || defined(__i386__)) && \
	(defined(__GNUC__) || defined(__clang__))
#define HAVE_SHA_NI_KERNEL 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#ifdef HAVE_SHA_NI_KERNEL

/*
 * Message words in big-endian order, W[0] in the top lane, as the SHA
 * instructions take them.
 */
#define LOAD_W(w, p) \
	(w) = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p)), bswap)
#define LOAD_BLOCK(W, p) \
	do { \
		LOAD_W((W)[0], (p)); \
		LOAD_W((W)[1], (p) + 16); \
		LOAD_W((W)[2], (p) + 32); \
		LOAD_W((W)[3], (p) + 48); \
	} while (0)
/* W[t..t+3] from the 16 words before: rol1(W-3 ^ W-8 ^ W-14 ^ W-16). */
#define SCHED(W, t) \
	(W)[t] = _mm_sha1msg2_epu32( \
		_mm_xor_si128(_mm_sha1msg1_epu32((W)[(t) - 4], (W)[(t) - 3]), \
			      (W)[(t) - 2]), \
		(W)[(t) - 1])

/*
 * Rounds 4-79 in steps of four, the first step (rounds 0-3) being done
 * by the caller; SSTEP also schedules the step's message words.  The
 * round function changes every 20 rounds.
 */
#define ROUNDS_1_TO_19(STEP, SSTEP) \
	STEP(1, 0); STEP(2, 0); STEP(3, 0); SSTEP(4, 0); \
	SSTEP(5, 1); SSTEP(6, 1); SSTEP(7, 1); SSTEP(8, 1); SSTEP(9, 1); \
	SSTEP(10, 2); SSTEP(11, 2); SSTEP(12, 2); SSTEP(13, 2); \
	SSTEP(14, 2); \
	SSTEP(15, 3); SSTEP(16, 3); SSTEP(17, 3); SSTEP(18, 3); SSTEP(19, 3)
/* A state in registers: ABCD reversed, E in the top lane; and back. */
#define LOAD_STATE(abcd, e, st) \
	do { \
		(abcd) = _mm_shuffle_epi32( \
			_mm_loadu_si128((const __m128i *)(st)), 0x1b); \
		(e) = _mm_set_epi32((int)(st)[4], 0, 0, 0); \
	} while (0)
#define STORE_STATE(st, abcd, e) \
	do { \
		_mm_storeu_si128((__m128i *)(st), \
				 _mm_shuffle_epi32((abcd), 0x1b)); \
		(st)[4] = (uint32_t)_mm_extract_epi32((e), 3); \
	} while (0)

__attribute__((target("sha,sse4.1,ssse3")))
static void blocks1(uint32_t st[5], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607ULL,
					     0x08090a0b0c0d0e0fULL);
	__m128i abcd, e0;

	LOAD_STATE(abcd, e0, st);

	while (n--) {
		__m128i W[20], abcd_in = abcd, e_in = e0, prev, e;

		LOAD_BLOCK(W, p);
		prev = abcd;
		abcd = _mm_sha1rnds4_epu32(abcd, _mm_add_epi32(e0, W[0]), 0);
#define STEP(g, f) \
	e = _mm_sha1nexte_epu32(prev, W[g]); \
	prev = abcd; \
	abcd = _mm_sha1rnds4_epu32(abcd, e, f)
#define SSTEP(g, f) SCHED(W, g); STEP(g, f)
		ROUNDS_1_TO_19(STEP, SSTEP);
#undef SSTEP
#undef STEP
		e0 = _mm_sha1nexte_epu32(prev, e_in);
		abcd = _mm_add_epi32(abcd, abcd_in);
		p += 64;
	}
	STORE_STATE(st, abcd, e0);
}

/* blocks1() on two states at once: the two chains overlap in the core. */
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks2(uint32_t sa[5], const unsigned char *pa, uint32_t sb[5],
		    const unsigned char *pb, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607ULL,
					     0x08090a0b0c0d0e0fULL);
	__m128i a, ea, b, eb;

	LOAD_STATE(a, ea, sa);
	LOAD_STATE(b, eb, sb);

	while (n--) {
		__m128i WA[20], WB[20], a_in = a, ea_in = ea, b_in = b,
			eb_in = eb, pa_prev, pb_prev, e, f;

		LOAD_BLOCK(WA, pa);
		LOAD_BLOCK(WB, pb);
		pa_prev = a;
		pb_prev = b;
		a = _mm_sha1rnds4_epu32(a, _mm_add_epi32(ea, WA[0]), 0);
		b = _mm_sha1rnds4_epu32(b, _mm_add_epi32(eb, WB[0]), 0);
#define STEP(g, fn) \
	e = _mm_sha1nexte_epu32(pa_prev, WA[g]); \
	f = _mm_sha1nexte_epu32(pb_prev, WB[g]); \
	pa_prev = a; \
	pb_prev = b; \
	a = _mm_sha1rnds4_epu32(a, e, fn); \
	b = _mm_sha1rnds4_epu32(b, f, fn)
#define SSTEP(g, fn) SCHED(WA, g); SCHED(WB, g); STEP(g, fn)
		ROUNDS_1_TO_19(STEP, SSTEP);
#undef SSTEP
#undef STEP
		ea = _mm_sha1nexte_epu32(pa_prev, ea_in);
		eb = _mm_sha1nexte_epu32(pb_prev, eb_in);
		a = _mm_add_epi32(a, a_in);
		b = _mm_add_epi32(b, b_in);
		pa += 64;
		pb += 64;
	}
	STORE_STATE(sa, a, ea);
	STORE_STATE(sb, b, eb);
}

/* Three states: about 25% more than two, before registers run out. */
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks3(uint32_t *st[3], const unsigned char *p[3], size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607ULL,
					     0x08090a0b0c0d0e0fULL);
	const unsigned char *pa = p[0], *pb = p[1], *pc = p[2];
	__m128i a, ea, b, eb, c, ec;

	LOAD_STATE(a, ea, st[0]);
	LOAD_STATE(b, eb, st[1]);
	LOAD_STATE(c, ec, st[2]);

	while (n--) {
		__m128i WA[20], WB[20], WC[20], a_in = a, b_in = b, c_in = c,
			ea_in = ea, eb_in = eb, ec_in = ec, pa_prev, pb_prev,
			pc_prev, e, f, g;

		LOAD_BLOCK(WA, pa);
		LOAD_BLOCK(WB, pb);
		LOAD_BLOCK(WC, pc);
		pa_prev = a;
		pb_prev = b;
		pc_prev = c;
		a = _mm_sha1rnds4_epu32(a, _mm_add_epi32(ea, WA[0]), 0);
		b = _mm_sha1rnds4_epu32(b, _mm_add_epi32(eb, WB[0]), 0);
		c = _mm_sha1rnds4_epu32(c, _mm_add_epi32(ec, WC[0]), 0);
#define STEP(g_, fn) \
	e = _mm_sha1nexte_epu32(pa_prev, WA[g_]); \
	f = _mm_sha1nexte_epu32(pb_prev, WB[g_]); \
	g = _mm_sha1nexte_epu32(pc_prev, WC[g_]); \
	pa_prev = a; \
	pb_prev = b; \
	pc_prev = c; \
	a = _mm_sha1rnds4_epu32(a, e, fn); \
	b = _mm_sha1rnds4_epu32(b, f, fn); \
	c = _mm_sha1rnds4_epu32(c, g, fn)
#define SSTEP(g_, fn) SCHED(WA, g_); SCHED(WB, g_); SCHED(WC, g_); STEP(g_, fn)
		ROUNDS_1_TO_19(STEP, SSTEP);
#undef SSTEP
#undef STEP
		ea = _mm_sha1nexte_epu32(pa_prev, ea_in);
		eb = _mm_sha1nexte_epu32(pb_prev, eb_in);
		ec = _mm_sha1nexte_epu32(pc_prev, ec_in);
		a = _mm_add_epi32(a, a_in);
		b = _mm_add_epi32(b, b_in);
		c = _mm_add_epi32(c, c_in);
		pa += 64;
		pb += 64;
		pc += 64;
	}
	STORE_STATE(st[0], a, ea);
	STORE_STATE(st[1], b, eb);
	STORE_STATE(st[2], c, ec);
}

static int cpu_has_sha_ni(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & (1u << 9)) || !(c & (1u << 19)))   /* SSSE3, SSE4.1 */
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & (1u << 29)) != 0;                 /* SHA */
}

#else

static void blocks1(uint32_t st[5], const unsigned char *p, size_t n)
{
	(void)st, (void)p, (void)n;
	BUG("no SHA-NI kernel in this build");
}

static void blocks2(uint32_t sa[5], const unsigned char *pa, uint32_t sb[5],
		    const unsigned char *pb, size_t n)
{
	(void)sa, (void)pa, (void)sb, (void)pb, (void)n;
	BUG("no SHA-NI kernel in this build");
}

static void blocks3(uint32_t *st[3], const unsigned char *p[3], size_t n)
{
	(void)st, (void)p, (void)n;
	BUG("no SHA-NI kernel in this build");
}

static int cpu_has_sha_ni(void)
{
	return 0;
}

#endif

/* -1 unknown, 0 off, 1 on; threads may race to store the same answer. */
static int simd_state = -1;

int sha1batch_simd(void)
{
	int v = __atomic_load_n(&simd_state, __ATOMIC_RELAXED);

	if (UNLIKELY(v < 0)) {
		v = cpu_has_sha_ni();
		__atomic_store_n(&simd_state, v, __ATOMIC_RELAXED);
	}
	return v;
}

int sha1batch_set_simd(int on)
{
	int was = sha1batch_simd();

	__atomic_store_n(&simd_state, on && cpu_has_sha_ni(),
			 __ATOMIC_RELAXED);
	return was;
}

/* Messages hashed at once: blocks3(), or fewer at the end of a batch. */
#define LANES 3

struct run {
	const unsigned char *p;
	size_t blocks;
};

struct lane {
	uint32_t st[5];
	struct run run[3];
	int cur, nr;
	struct oid *out;
	unsigned char head[64];
	unsigned char tail[128];
};

/*
 * "<type> <len>\0" into hdr (at most 32 bytes); returns its length with
 * the NUL.  By hand: snprintf() per chunk showed in profiles.
 */
static size_t object_header(char *hdr, const char *type, size_t len)
{
	char digits[24];
	size_t t = strlen(type), nd = 0;

	do {
		digits[nd++] = (char)('0' + len % 10);
		len /= 10;
	} while (len);
	memcpy(hdr, type, t);
	hdr[t++] = ' ';
	while (nd)
		hdr[t++] = digits[--nd];
	hdr[t++] = '\0';
	return t;
}

static const uint32_t sha1_iv[5] = {
	0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0,
};

/* The type name of a job: the batch's (type), or the job's own (NULL). */
static const char *job_type(const char *type, const struct sha1batch_job *job)
{
	const char *name = type ? type : obj_type_name(job->type);

	if (!name)
		BUG("sha1batch: bad object type %d", (int)job->type);
	return name;
}

static void lane_start(struct lane *l, const char *type,
		       const struct sha1batch_job *job)
{
	const unsigned char *data = job->data;
	size_t len = job->len, hlen, r, tail_blocks;
	uint64_t bits;
	char hdr[32];

	hlen = object_header(hdr, job_type(type, job), len);
	bits = (uint64_t)(hlen + len) * 8;
	memcpy(l->st, sha1_iv, sizeof(sha1_iv));
	l->out = job->out;
	l->cur = l->nr = 0;
	if (hlen + len >= 64) {
		size_t k = 64 - hlen, mid;

		memcpy(l->head, hdr, hlen);
		memcpy(l->head + hlen, data, k);
		l->run[l->nr++] = (struct run){ l->head, 1 };
		mid = (len - k) / 64;
		if (mid)
			l->run[l->nr++] = (struct run){ data + k, mid };
		r = (len - k) % 64;
		memcpy(l->tail, data + k + mid * 64, r);
	} else {
		memcpy(l->tail, hdr, hlen);
		if (len)
			memcpy(l->tail + hlen, data, len);
		r = hlen + len;
	}
	tail_blocks = r + 9 <= 64 ? 1 : 2;
	l->tail[r] = 0x80;
	memset(l->tail + r + 1, 0, tail_blocks * 64 - 8 - (r + 1));
	put_be32(l->tail + tail_blocks * 64 - 8, (uint32_t)(bits >> 32));
	put_be32(l->tail + tail_blocks * 64 - 4, (uint32_t)bits);
	l->run[l->nr++] = (struct run){ l->tail, tail_blocks };
}

static void lane_finish(struct lane *l)
{
	for (int i = 0; i < 5; i++)
		put_be32(l->out->hash + 4 * i, l->st[i]);
}

/*
 * Make l's current run non-empty: finish its message and start the
 * next job when the message is done.  0 when no work is left for l.
 */
static int lane_ready(struct lane *l, int *busy, const char *type,
		      const struct sha1batch_job *jobs, size_t n, size_t *next)
{
	while (*busy && l->cur == l->nr) {
		lane_finish(l);
		if (*next < n)
			lane_start(l, type, &jobs[(*next)++]);
		else
			*busy = 0;
	}
	return *busy;
}

static void lane_advance(struct lane *l, size_t k)
{
	struct run *r = &l->run[l->cur];

	r->p += 64 * k;
	r->blocks -= k;
	if (!r->blocks)
		l->cur++;
}

/* Both entry points: name is every job's type name, or NULL for their own. */
static void hash_jobs(const char *name, enum obj_type type,
		      const struct sha1batch_job *jobs, size_t n)
{
	struct lane l[LANES];
	int busy[LANES] = { 0 };
	size_t next = 0;

	if (!sha1batch_simd()) {
		struct sha1_ctx c = { NULL };

		for (size_t i = 0; i < n; i++) {
			job_type(name, &jobs[i]);   /* refuses a bad type */
			oid_hash_object_ctx(&c, jobs[i].out,
					    name ? type : jobs[i].type,
					    jobs[i].data, jobs[i].len);
		}
		sha1_release(&c);
		return;
	}
	for (int i = 0; i < LANES && next < n; i++) {
		lane_start(&l[i], name, &jobs[next++]);
		busy[i] = 1;
	}
	for (;;) {
		struct lane *x[LANES];
		uint32_t *st[LANES];
		const unsigned char *p[LANES];
		size_t k = SIZE_MAX;
		int nr = 0;

		for (int i = 0; i < LANES; i++)
			if (lane_ready(&l[i], &busy[i], name, jobs, n, &next))
				x[nr++] = &l[i];
		if (!nr)
			break;
		for (int i = 0; i < nr; i++) {
			struct run *r = &x[i]->run[x[i]->cur];

			st[i] = x[i]->st;
			p[i] = r->p;
			k = MIN(k, r->blocks);
		}
		if (nr == 3)
			blocks3(st, p, k);
		else if (nr == 2)
			blocks2(st[0], p[0], st[1], p[1], k);
		else
			blocks1(st[0], p[0], k);
		for (int i = 0; i < nr; i++)
			lane_advance(x[i], k);
	}
}

void sha1batch_hash(enum obj_type type, const struct sha1batch_job *jobs,
		    size_t n)
{
	const char *name = obj_type_name(type);

	if (!name)
		BUG("sha1batch_hash: bad object type %d", (int)type);
	hash_jobs(name, type, jobs, n);
}

void sha1batch_hash_typed(const struct sha1batch_job *jobs, size_t n)
{
	hash_jobs(NULL, OBJ_NONE, jobs, n);
}

/* ---- streams ------------------------------------------------------ */

void sha1batch_stream_init(struct sha1batch_stream *s)
{
	memcpy(s->st, sha1_iv, sizeof(sha1_iv));
	s->len = 0;
	s->simd = sha1batch_simd();
	s->ctx.evp = NULL;
	if (!s->simd)
		sha1_init(&s->ctx);
}

void sha1batch_stream_blocks(struct sha1batch_stream *const s[],
			     const unsigned char *const p[], int n,
			     size_t blocks)
{
	uint32_t *st[LANES] = { NULL };
	const unsigned char *q[LANES] = { NULL };
	int simd = 1;

	if (n < 1 || n > LANES)
		BUG("sha1batch_stream_blocks: %d streams", n);
	for (int i = 0; i < n; i++) {
		st[i] = s[i]->st;
		q[i] = p[i];
		s[i]->len += (uint64_t)blocks * 64;
		simd &= s[i]->simd;
	}
	if (!simd) {
		for (int i = 0; i < n; i++) {
			if (s[i]->simd)
				blocks1(st[i], q[i], blocks);
			else
				sha1_update(&s[i]->ctx, q[i], blocks * 64);
		}
	} else if (n == 3) {
		blocks3(st, q, blocks);
	} else if (n == 2) {
		blocks2(st[0], q[0], st[1], q[1], blocks);
	} else {
		blocks1(st[0], q[0], blocks);
	}
}

void sha1batch_stream_final(struct sha1batch_stream *s, const void *data,
			    size_t len, unsigned char out[OID_RAWSZ])
{
	const unsigned char *p = data;
	unsigned char tail[128];
	size_t whole = len / 64, r = len % 64, tail_blocks;
	uint64_t bits = (s->len + len) * 8;

	if (!s->simd) {
		sha1_update(&s->ctx, data, len);
		sha1_final(&s->ctx, out);
		return;
	}
	/* FIPS 180-4, 5.1.1: 0x80, zeros, the length in bits */
	if (whole)
		blocks1(s->st, p, whole);
	tail_blocks = r + 9 <= 64 ? 1 : 2;
	if (r)
		memcpy(tail, p + whole * 64, r);
	tail[r] = 0x80;
	memset(tail + r + 1, 0, tail_blocks * 64 - 8 - (r + 1));
	put_be32(tail + tail_blocks * 64 - 8, (uint32_t)(bits >> 32));
	put_be32(tail + tail_blocks * 64 - 4, (uint32_t)bits);
	blocks1(s->st, tail, tail_blocks);
	for (int i = 0; i < 5; i++)
		put_be32(out + 4 * i, s->st[i]);
}

void sha1batch_stream_release(struct sha1batch_stream *s)
{
	sha1_release(&s->ctx);
}
