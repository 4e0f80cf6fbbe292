/*
 * The compression pool (zpool.h): a ring of batches, worker threads that
 * compress them, and in-order emission (FORMAT.md 2.2 for the bytes).
 *
 * The ring holds `cap` batches: [head, next_work) are being compressed
 * or are finished and wait to be emitted in order, [next_work, tail)
 * wait for a worker, and ring[tail % cap] is being filled while
 * `filling` is set (only the caller touches it until tail moves past
 * it).  The caller starts a new batch only when tail - head < cap, so
 * the batch it fills is never one in [head, tail).
 *
 * Emission is serialised by the `emitting` token, taken under the lock:
 * its holder alone touches the emit callback's state, with the lock
 * released while it emits.  With ZPOOL_EMIT_CALLER no worker ever takes
 * it, so the callback runs on the caller's thread only.
 */
#include "store/zpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "store/pack.h"
#include "util/util.h"

struct zpool_obj {
	struct oid oid;
	enum obj_type type;
	size_t in_off, len;      /* raw bytes: batch->in[in_off..+len) */
	size_t out_off, out_len; /* packed bytes in batch->out */
	uint32_t crc;
	int packed;              /* in is the pack form (PACKED_*) */
	char *bad;               /* PACKED_VERIFY that failed: why */
};

/* How an object added in pack form is treated by its worker. */
enum {
	PACKED_NO,               /* raw content: compress it */
	PACKED_COPY,             /* zpool_add_packed(): copied as is */
	PACKED_VERIFY,           /* zpool_add_verified(): pack_verify_raw */
};

/*
 * A worker's tools: its deflater, and a scratch buffer and a SHA-1
 * context for the objects it verifies.
 */
struct zpool_worker {
	struct zlib_deflater *z;
	struct buf scratch;
	struct sha1_ctx sha;
};

struct zpool_batch {
	unsigned char *in;       /* arena of the objects' raw bytes */
	size_t in_len, in_alloc;
	struct zpool_obj *objs;
	size_t nr, alloc;
	struct buf out;          /* the packed objects, back to back */
	int done;                /* compressed (or skipped after an error) */
};

struct zpool {
	enum zpool_emit_mode mode;
	zpool_emit_fn emit;
	void *ctx;
	enum zlib_impl impl;
	int level;
	pthread_t *tids;
	int nr_threads;
	pthread_mutex_t lock;
	pthread_cond_t work;     /* a batch was queued, or stop */
	pthread_cond_t done;     /* a batch was compressed or emitted */
	struct zpool_batch *ring;
	size_t cap;
	uint64_t head;           /* next batch to emit */
	uint64_t next_work;      /* next batch a worker takes */
	uint64_t tail;           /* the batch being filled / next free */
	int filling;
	int emitting;
	int stop;
	int err;                 /* first emit error, with its message */
	char *errmsg;
};

size_t zpool_compress_bound(struct zlib_deflater *z, size_t len)
{
	return PACK_HDR_MAX + zlib_deflate_bound(z, len);
}

uint32_t zpool_compress(struct zlib_deflater *z, struct buf *out,
			enum obj_type type, const void *data, size_t len)
{
	unsigned char hdr[PACK_HDR_MAX];
	size_t start = out->len;
	size_t n = pack_encode_header(hdr, type, len);

	buf_add(out, hdr, n);
	zlib_deflate(z, out, data, len);
	return zlib_crc32(0, out->data + start, out->len - start);
}

static void compress_batch(struct zpool *p, struct zpool_worker *wk,
			   struct zpool_batch *b)
{
	buf_reset(&b->out);
	for (size_t i = 0; i < b->nr; i++) {
		struct zpool_obj *o = &b->objs[i];

		if (o->packed == PACKED_VERIFY) {
			if (pack_verify_raw(&o->oid, b->in + o->in_off, o->len,
					    o->crc, &wk->scratch, &wk->sha) < 0)
				o->bad = xstrdup(err_last());
			continue;
		}
		if (o->packed)
			continue;
		o->out_off = b->out.len;
		/* made on first use: a server's workers only verify */
		if (!wk->z)
			wk->z = zlib_deflater_new(p->impl, p->level);
		o->crc = zpool_compress(wk->z, &b->out, o->type,
					b->in + o->in_off, o->len);
		o->out_len = b->out.len - o->out_off;
	}
	/* the inflated copy of one large object is not kept */
	if (wk->scratch.alloc > ZPOOL_BATCH_BYTES * 4)
		buf_release(&wk->scratch);
}

/*
 * Emit the finished batches at head, in order.  Called with the lock
 * held and the token free; returns with the lock held.  After an error
 * the batches are still retired (so head reaches tail and a drain
 * ends), only not emitted.
 */
static void emit_ready(struct zpool *p)
{
	p->emitting = 1;
	while (!p->stop && p->head < p->tail &&
	       p->ring[p->head % p->cap].done) {
		struct zpool_batch *b = &p->ring[p->head % p->cap];
		int failed = p->err != 0, ret = 0;

		pthread_mutex_unlock(&p->lock);
		for (size_t i = 0; i < b->nr && !failed && !ret; i++) {
			struct zpool_obj *o = &b->objs[i];

			if (o->bad)
				ret = err_set(ERR_CORRUPT, "%s", o->bad);
			else if (o->packed)
				ret = p->emit(p->ctx, &o->oid, b->in + o->in_off,
					      o->len, o->crc);
			else
				ret = p->emit(p->ctx, &o->oid,
					      b->out.data + o->out_off,
					      o->out_len, o->crc);
		}
		for (size_t i = 0; i < b->nr; i++) {
			free(b->objs[i].bad);
			b->objs[i].bad = NULL;
		}
		pthread_mutex_lock(&p->lock);
		b->done = 0;
		b->nr = 0;
		b->in_len = 0;
		if (ret < 0 && !p->err) {
			p->err = ret;
			p->errmsg = xstrdup(err_last());
		}
		p->head++;
		pthread_cond_broadcast(&p->done);
	}
	p->emitting = 0;
}

static void *worker(void *arg)
{
	struct zpool *p = arg;
	struct zpool_worker wk = { 0 };

	buf_init(&wk.scratch, 0);
	sha1_init(&wk.sha);

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct zpool_batch *b;
		int skip;

		while (!p->stop && p->next_work == p->tail)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;   /* zpool_free(): what is queued is dropped */
		b = &p->ring[p->next_work++ % p->cap];
		/* after an error nothing more is emitted: save the work */
		skip = p->err != 0;
		pthread_mutex_unlock(&p->lock);
		if (!skip)
			compress_batch(p, &wk, b);
		pthread_mutex_lock(&p->lock);
		b->done = 1;
		if (p->mode == ZPOOL_EMIT_WORKER && !p->emitting)
			emit_ready(p);
		else
			pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	zlib_deflater_free(wk.z);
	buf_release(&wk.scratch);
	sha1_release(&wk.sha);
	return NULL;
}

struct zpool *zpool_new(int threads, enum zlib_impl impl, int level,
			enum zpool_emit_mode mode, zpool_emit_fn emit,
			void *ctx)
{
	struct zpool *p;

	if (threads <= 0)
		BUG("zpool_new with %d threads", threads);
	p = xcalloc(1, sizeof(*p));
	p->mode = mode;
	p->emit = emit;
	p->ctx = ctx;
	p->impl = impl;
	p->level = level;
	p->nr_threads = threads;
	/*
	 * One batch per worker being compressed, one finished or queued
	 * (so a worker never waits for the emitter to free a slot before
	 * it can take more), and the one being filled.
	 */
	p->cap = (size_t)threads + 2;
	p->ring = xcalloc(p->cap, sizeof(*p->ring));
	for (size_t i = 0; i < p->cap; i++)
		buf_init(&p->ring[i].out, 0);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->tids = xcalloc((size_t)threads, sizeof(*p->tids));
	for (int i = 0; i < threads; i++)
		if (pthread_create(&p->tids[i], NULL, worker, p))
			BUG("pthread_create failed");
	return p;
}

/* The first emit error, in this thread's err_last(); lock held. */
static int pool_error(struct zpool *p)
{
	if (!p->err)
		return 0;
	return err_set(p->err, "%s", p->errmsg);
}

/* Hand the batch being filled to the workers. */
static void submit(struct zpool *p)
{
	if (!p->filling)
		return;
	pthread_mutex_lock(&p->lock);
	p->tail++;
	p->filling = 0;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

static int add_obj(struct zpool *p, const struct oid *oid,
		   enum obj_type type, const void *data, size_t len,
		   int packed, uint32_t crc)
{
	struct zpool_batch *b;
	struct zpool_obj *o;

	if (!p->filling) {
		int ret;

		pthread_mutex_lock(&p->lock);
		for (;;) {
			if (p->mode == ZPOOL_EMIT_CALLER)
				emit_ready(p);
			if (p->err || p->tail - p->head < p->cap)
				break;
			pthread_cond_wait(&p->done, &p->lock);
		}
		ret = pool_error(p);
		pthread_mutex_unlock(&p->lock);
		if (ret < 0)
			return ret;
		p->filling = 1;
	}
	b = &p->ring[p->tail % p->cap];
	if (b->in_alloc - b->in_len < len) {
		size_t n = MAX(st_add(b->in_len, len), ZPOOL_BATCH_BYTES);
		if (n < b->in_alloc * 2)
			n = b->in_alloc * 2;
		b->in = xrealloc(b->in, n);
		b->in_alloc = n;
	}
	ALLOC_GROW(b->objs, b->nr + 1, b->alloc);
	o = &b->objs[b->nr++];
	o->oid = *oid;
	o->type = type;
	o->in_off = b->in_len;
	o->len = len;
	o->packed = packed;
	o->bad = NULL;
	o->crc = crc;
	if (len)
		memcpy(b->in + b->in_len, data, len);
	b->in_len += len;
	if (b->in_len >= ZPOOL_BATCH_BYTES || b->nr >= ZPOOL_BATCH_OBJS)
		submit(p);
	return 0;
}

int zpool_add(struct zpool *p, const struct oid *oid, enum obj_type type,
	      const void *data, size_t len)
{
	return add_obj(p, oid, type, data, len, PACKED_NO, 0);
}

int zpool_add_packed(struct zpool *p, const struct oid *oid,
		     const void *packed, size_t len, uint32_t crc)
{
	return add_obj(p, oid, OBJ_NONE, packed, len, PACKED_COPY, crc);
}

int zpool_add_verified(struct zpool *p, const struct oid *oid,
		       const void *packed, size_t len, uint32_t crc)
{
	return add_obj(p, oid, OBJ_NONE, packed, len, PACKED_VERIFY, crc);
}

int zpool_poll(struct zpool *p)
{
	int ret;

	pthread_mutex_lock(&p->lock);
	if (p->mode == ZPOOL_EMIT_CALLER)
		emit_ready(p);
	ret = pool_error(p);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int zpool_drain(struct zpool *p)
{
	int ret;

	submit(p);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (p->mode == ZPOOL_EMIT_CALLER)
			emit_ready(p);
		if (p->head == p->tail && !p->emitting)
			break;
		pthread_cond_wait(&p->done, &p->lock);
	}
	ret = pool_error(p);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void zpool_free(struct zpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	/* a worker holding the token stops after its batch (emit_ready) */
	for (int i = 0; i < p->nr_threads; i++)
		pthread_join(p->tids[i], NULL);
	free(p->errmsg);
	for (size_t i = 0; i < p->cap; i++) {
		for (size_t j = 0; j < p->ring[i].nr; j++)
			free(p->ring[i].objs[j].bad);
		free(p->ring[i].in);
		free(p->ring[i].objs);
		buf_release(&p->ring[i].out);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p->ring);
	free(p->tids);
	free(p);
}
