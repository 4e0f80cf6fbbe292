/*
 * bupindex.hlink (FORMAT.md 8.4): the hard-link database as a pickle.
 * Reader: a small stack machine over the opcodes listed in hlink.h,
 * producing only what the pickle may legally hold (one dict of bytes ->
 * list of bytes); every length, memo index and stack access is checked.
 * Writer: the exact byte stream of CPython's C pickler for
 * pickle.dump(dict, f, 2), memo numbering included.
 */
#include "index/hlink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/bindex.h"
#include "util/err.h"

/* ---- a small string -> long map (open addressing, no deletion) ------ */

struct smap_ent {
	char *k;
	size_t klen;
	uint64_t h;
	long v;
};

struct smap {
	struct smap_ent *e;
	size_t n, used;
};

static uint64_t shash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

static struct smap_ent *smap_slot(struct smap *m, const char *k, size_t n,
				  uint64_t h)
{
	size_t mask = m->n - 1, i = (size_t)h & mask;
	for (;; i = (i + 1) & mask) {
		struct smap_ent *e = &m->e[i];
		if (!e->k || (e->h == h && e->klen == n &&
			      !memcmp(e->k, k, n)))
			return e;
	}
}

static long smap_get(struct smap *m, const char *k, size_t n)
{
	struct smap_ent *e;
	if (!m->n)
		return -1;
	e = smap_slot(m, k, n, shash(k, n));
	return e->k ? e->v : -1;
}

static void smap_set(struct smap *m, const char *k, size_t n, long v)
{
	uint64_t h = shash(k, n);
	struct smap_ent *e;

	if ((m->used + 1) * 2 > m->n) {
		struct smap_ent *old = m->e;
		size_t oldn = m->n;
		m->n = oldn ? oldn * 2 : 64;
		m->e = xcalloc(m->n, sizeof(*m->e));
		for (size_t i = 0; i < oldn; i++)
			if (old[i].k)
				*smap_slot(m, old[i].k, old[i].klen,
					   old[i].h) = old[i];
		free(old);
	}
	e = smap_slot(m, k, n, h);
	if (!e->k) {
		e->k = xmemdup(k, n);
		e->klen = n;
		e->h = h;
		m->used++;
	}
	e->v = v;
}

static void smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].k);
	free(m->e);
}

/* ---- the database ---------------------------------------------------- */

struct hnode {
	char *key;
	size_t keylen;
	char **paths;       /* NUL-terminated copies */
	size_t *lens;
	size_t nr, alloc;
	int live;
};

struct hlink_db {
	struct hnode *nodes;
	size_t nr, alloc;
	size_t live;
	struct smap keys;   /* key -> live node index, or -1 */
	struct smap paths;  /* path -> node index, or -1 */
};

struct hlink_db *hlink_new(void)
{
	return xcalloc(1, sizeof(struct hlink_db));
}

static void node_clear(struct hnode *nd)
{
	for (size_t i = 0; i < nd->nr; i++)
		free(nd->paths[i]);
	nd->nr = 0;
}

void hlink_free(struct hlink_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->nr; i++) {
		node_clear(&db->nodes[i]);
		free(db->nodes[i].paths);
		free(db->nodes[i].lens);
		free(db->nodes[i].key);
	}
	free(db->nodes);
	smap_free(&db->keys);
	smap_free(&db->paths);
	free(db);
}

static void node_append(struct hnode *nd, const char *p, size_t n)
{
	size_t alloc = nd->alloc;
	ALLOC_GROW(nd->paths, nd->nr + 1, nd->alloc);
	ALLOC_GROW(nd->lens, nd->nr + 1, alloc);
	/* paths may hold NULs (hostile pickle): copy n bytes + NUL */
	nd->paths[nd->nr] = xmalloc(st_add(n, 1));
	memcpy(nd->paths[nd->nr], p, n);
	nd->paths[nd->nr][n] = '\0';
	nd->lens[nd->nr++] = n;
}

/* dict[key] = [] keeping the position of an existing key. */
static struct hnode *db_set(struct hlink_db *db, const char *k, size_t kn)
{
	long i = smap_get(&db->keys, k, kn);
	struct hnode *nd;

	if (i >= 0) {
		nd = &db->nodes[i];
		node_clear(nd);
		return nd;
	}
	ALLOC_GROW(db->nodes, db->nr + 1, db->alloc);
	nd = &db->nodes[db->nr];
	memset(nd, 0, sizeof(*nd));
	nd->key = xmemdup(k, kn);
	nd->keylen = kn;
	nd->live = 1;
	smap_set(&db->keys, k, kn, (long)db->nr);
	db->nr++;
	db->live++;
	return nd;
}

static size_t node_find(const struct hnode *nd, const char *p, size_t n)
{
	for (size_t i = 0; i < nd->nr; i++)
		if (nd->lens[i] == n && !memcmp(nd->paths[i], p, n))
			return i;
	return SIZE_MAX;
}

void hlink_add_path(struct hlink_db *db, const char *path, uint64_t dev,
		    uint64_t ino)
{
	char key[48];
	size_t kn = (size_t)snprintf(key, sizeof(key), "%" PRIu64 ":%" PRIu64,
				     dev, ino);
	size_t pn = strlen(path);
	long i = smap_get(&db->keys, key, kn);
	struct hnode *nd;

	/* hlinkdb.add_path: append if new to a non-empty list, else the
	 * list becomes [path] (in place when the key exists). */
	if (i >= 0 && db->nodes[i].nr &&
	    node_find(&db->nodes[i], path, pn) == SIZE_MAX) {
		nd = &db->nodes[i];
	} else {
		nd = db_set(db, key, kn);
		i = nd - db->nodes;
	}
	node_append(nd, path, pn);
	smap_set(&db->paths, path, pn, i);
}

void hlink_del_path(struct hlink_db *db, const char *path)
{
	size_t pn = strlen(path), at;
	long i = smap_get(&db->paths, path, pn);
	struct hnode *nd;

	if (i < 0)
		return;
	smap_set(&db->paths, path, pn, -1);
	/* The node may have been dropped and re-made since. */
	i = smap_get(&db->keys, db->nodes[i].key, db->nodes[i].keylen);
	if (i < 0)
		return;
	nd = &db->nodes[i];
	at = node_find(nd, path, pn);
	if (at == SIZE_MAX)
		return;  /* bup would raise ValueError here */
	free(nd->paths[at]);
	memmove(nd->paths + at, nd->paths + at + 1,
		(nd->nr - at - 1) * sizeof(*nd->paths));
	memmove(nd->lens + at, nd->lens + at + 1,
		(nd->nr - at - 1) * sizeof(*nd->lens));
	nd->nr--;
	if (!nd->nr) {
		nd->live = 0;
		db->live--;
		smap_set(&db->keys, nd->key, nd->keylen, -1);
	}
}

size_t hlink_node_paths(struct hlink_db *db, uint64_t dev, uint64_t ino,
			const char *const **paths)
{
	char key[48];
	size_t kn = (size_t)snprintf(key, sizeof(key), "%" PRIu64 ":%" PRIu64,
				     dev, ino);
	long i = smap_get(&db->keys, key, kn);

	if (i < 0) {
		*paths = NULL;
		return 0;
	}
	*paths = (const char *const *)db->nodes[i].paths;
	return db->nodes[i].nr;
}

size_t hlink_count(const struct hlink_db *db)
{
	return db->live;
}

/* ---- pickle writer --------------------------------------------------- */

struct pw {
	struct buf *out;
	uint32_t memo;
	int have_global, have_latin1;
};

static void pw_put(struct pw *w)
{
	uint32_t n = w->memo++;
	if (n < 256) {
		buf_addch(w->out, 'q');
		buf_addch(w->out, (int)n);
	} else {
		unsigned char b[5] = { 'r', (unsigned char)n,
				       (unsigned char)(n >> 8),
				       (unsigned char)(n >> 16),
				       (unsigned char)(n >> 24) };
		buf_add(w->out, b, 5);
	}
}

static void pw_unicode_latin1(struct pw *w, const char *p, size_t n)
{
	size_t ulen = n;
	unsigned char hdr[5];

	for (size_t i = 0; i < n; i++)
		ulen += (unsigned char)p[i] >> 7;
	hdr[0] = 'X';
	hdr[1] = (unsigned char)ulen;
	hdr[2] = (unsigned char)(ulen >> 8);
	hdr[3] = (unsigned char)(ulen >> 16);
	hdr[4] = (unsigned char)(ulen >> 24);
	buf_add(w->out, hdr, 5);
	buf_grow(w->out, ulen);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x80) {
			buf_addch(w->out, c);
		} else {
			buf_addch(w->out, 0xc0 | (c >> 6));
			buf_addch(w->out, 0x80 | (c & 0x3f));
		}
	}
}

/* Python 3 bytes under protocol 2: _codecs.encode(str, 'latin1'). */
static void pw_bytes(struct pw *w, const char *p, size_t n)
{
	if (!w->have_global) {
		buf_addstr(w->out, "c_codecs\nencode\n");
		pw_put(w);  /* always memo 1: the dict is 0 */
		w->have_global = 1;
	} else {
		buf_add(w->out, "h\1", 2);
	}
	pw_unicode_latin1(w, p, n);
	pw_put(w);
	if (!w->have_latin1) {
		buf_add(w->out, "X\6\0\0\0latin1", 11);
		pw_put(w);  /* always memo 3 */
		w->have_latin1 = 1;
	} else {
		buf_add(w->out, "h\3", 2);
	}
	buf_addch(w->out, 0x86);  /* TUPLE2 */
	pw_put(w);
	buf_addch(w->out, 'R');
	pw_put(w);
}

#define BATCHSIZE 1000

static void pw_list(struct pw *w, const struct hnode *nd)
{
	size_t total = 0;

	buf_addch(w->out, ']');
	pw_put(w);
	/* CPython's batch_list_exact(). */
	if (nd->nr == 1) {
		pw_bytes(w, nd->paths[0], nd->lens[0]);
		buf_addch(w->out, 'a');
		return;
	}
	do {
		size_t this_batch = 0;
		buf_addch(w->out, '(');
		while (total < nd->nr) {
			pw_bytes(w, nd->paths[total], nd->lens[total]);
			total++;
			if (++this_batch == BATCHSIZE)
				break;
		}
		buf_addch(w->out, 'e');
	} while (total < nd->nr);
}

void hlink_encode(const struct hlink_db *db, struct buf *out)
{
	struct pw w = { out, 0, 0, 0 };
	size_t i = 0, n;

	buf_add(out, "\x80\x02}", 3);
	pw_put(&w);
	if (db->live == 1) {
		/* CPython's batch_dict_exact() special case. */
		while (!db->nodes[i].live)
			i++;
		pw_bytes(&w, db->nodes[i].key, db->nodes[i].keylen);
		pw_list(&w, &db->nodes[i]);
		buf_addch(out, 's');
	} else if (db->live) {
		/* do { MARK, up to 1000, SETITEMS } while (batch was full),
		 * so exactly 1000 items end with an empty MARK SETITEMS. */
		do {
			n = 0;
			buf_addch(out, '(');
			for (; i < db->nr; i++) {
				if (!db->nodes[i].live)
					continue;
				pw_bytes(&w, db->nodes[i].key,
					 db->nodes[i].keylen);
				pw_list(&w, &db->nodes[i]);
				if (++n == BATCHSIZE) {
					i++;
					break;
				}
			}
			buf_addch(out, 'u');
		} while (n == BATCHSIZE);
	}
	buf_addch(out, '.');
}

int hlink_save(const struct hlink_db *db, const char *path)
{
	struct buf b = BUF_INIT;
	char *tmp = NULL;
	int fd, r;

	if (!db->live) {
		if (unlink(path) < 0 && errno != ENOENT)
			return err_errno("cannot remove '%s'", path);
		return 0;
	}
	hlink_encode(db, &b);
	fd = bindex_replace_open(&tmp, path);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	if (write_full(fd, b.data, b.len)) {
		r = err_errno("cannot write '%s'", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	r = bindex_replace_commit(fd, tmp, path);
out:
	free(tmp);
	buf_release(&b);
	return r;
}

/* ---- pickle reader --------------------------------------------------- */

enum pobj_type {
	P_DICT, P_LIST, P_STR, P_BYTES, P_TUPLE, P_ENCODE, P_BYTES_TYPE,
};

struct pobj {
	enum pobj_type type;
	size_t off, len;        /* P_STR/P_BYTES: in the data buffer */
	size_t *items;          /* P_LIST, P_TUPLE, P_DICT (k, v pairs) */
	size_t nr, alloc;
};

struct pr {
	const unsigned char *p;
	size_t len, pos;
	struct pobj *objs;
	size_t nobjs, aobjs;
	struct buf data;
	size_t *stack;
	size_t sp, astack;
	size_t *marks;
	size_t nmarks, amarks;
	size_t *memo;           /* object index + 1, 0 = unset */
	size_t nmemo;
};

static int pcorrupt(const char *what)
{
	return err_set(ERR_CORRUPT, "bupindex.hlink is corrupt: %s", what);
}

static size_t pr_new(struct pr *r, enum pobj_type t)
{
	struct pobj *o;
	ALLOC_GROW(r->objs, r->nobjs + 1, r->aobjs);
	o = &r->objs[r->nobjs];
	memset(o, 0, sizeof(*o));
	o->type = t;
	return r->nobjs++;
}

static void pr_push(struct pr *r, size_t o)
{
	ALLOC_GROW(r->stack, r->sp + 1, r->astack);
	r->stack[r->sp++] = o;
}

static int pr_pop(struct pr *r, size_t *o)
{
	size_t floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
	if (r->sp <= floor)
		return pcorrupt("stack underflow");
	*o = r->stack[--r->sp];
	return 0;
}

static int pr_need(struct pr *r, size_t n)
{
	if (r->len - r->pos < n)
		return pcorrupt("truncated");
	return 0;
}

static void obj_add(struct pobj *o, size_t item)
{
	ALLOC_GROW(o->items, o->nr + 1, o->alloc);
	o->items[o->nr++] = item;
}

static int pr_str(struct pr *r, enum pobj_type t, size_t n)
{
	size_t o;
	if (pr_need(r, n))
		return ERR_CORRUPT;
	o = pr_new(r, t);
	r->objs[o].off = r->data.len;
	r->objs[o].len = n;
	buf_add(&r->data, r->p + r->pos, n);
	r->pos += n;
	pr_push(r, o);
	return 0;
}

/* UTF-8 with code points < 256 -> latin-1 bytes. */
static int latin1(struct pr *r, const struct pobj *s, size_t *o)
{
	size_t start = r->data.len, n = s->len, off = s->off;
	size_t id;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r->data.data[off + i];
		if (c < 0x80) {
			buf_addch(&r->data, c);
		} else if ((c == 0xc2 || c == 0xc3) && i + 1 < n &&
			   ((unsigned char)r->data.data[off + i + 1] & 0xc0) ==
				   0x80) {
			unsigned char d = (unsigned char)r->data.data[off + ++i];
			buf_addch(&r->data, ((c & 3) << 6) | (d & 0x3f));
		} else {
			return pcorrupt("string not latin-1");
		}
	}
	id = pr_new(r, P_BYTES);
	r->objs[id].off = start;
	r->objs[id].len = r->data.len - start;
	*o = id;
	return 0;
}

static int is_str(struct pr *r, size_t o, const char *s)
{
	return r->objs[o].type == P_STR && r->objs[o].len == strlen(s) &&
	       !memcmp(r->data.data + r->objs[o].off, s, strlen(s));
}

static int pr_reduce(struct pr *r)
{
	size_t fn, args, res = 0;
	struct pobj *a;
	int e;

	if ((e = pr_pop(r, &args)) || (e = pr_pop(r, &fn)))
		return e;
	a = &r->objs[args];
	if (a->type != P_TUPLE)
		return pcorrupt("REDUCE without a tuple");
	if (r->objs[fn].type == P_ENCODE) {
		if (a->nr != 2 || r->objs[a->items[0]].type != P_STR ||
		    !(is_str(r, a->items[1], "latin1") ||
		      is_str(r, a->items[1], "latin-1")))
			return pcorrupt("unexpected encode() call");
		if ((e = latin1(r, &r->objs[a->items[0]], &res)))
			return e;
	} else if (r->objs[fn].type == P_BYTES_TYPE && a->nr == 0) {
		res = pr_new(r, P_BYTES);
		r->objs[res].off = r->data.len;
	} else {
		return pcorrupt("unexpected REDUCE");
	}
	pr_push(r, res);
	return 0;
}

static int pr_tuple(struct pr *r, size_t n)
{
	size_t t = pr_new(r, P_TUPLE), items[3] = { 0, 0, 0 };
	int e;

	for (size_t i = n; i-- > 0;)
		if ((e = pr_pop(r, &items[i])))
			return e;
	for (size_t i = 0; i < n; i++)
		obj_add(&r->objs[t], items[i]);
	pr_push(r, t);
	return 0;
}

static int pr_memo(struct pr *r, uint32_t idx, int put)
{
	size_t o;

	if (put) {
		if (!r->sp || (r->nmarks && r->sp <= r->marks[r->nmarks - 1]))
			return pcorrupt("PUT on an empty stack");
		/* Python's memo is a dict; an index beyond the input is
		 * never produced by a real pickler. */
		if (idx > r->len)
			return pcorrupt("memo index too large");
		if (idx >= r->nmemo) {
			size_t n = (size_t)idx + 1, size;
			if (st_mult_checked(&size, n, sizeof(*r->memo)))
				return pcorrupt("memo index too large");
			r->memo = xrealloc(r->memo, size);
			memset(r->memo + r->nmemo, 0,
			       (n - r->nmemo) * sizeof(*r->memo));
			r->nmemo = n;
		}
		r->memo[idx] = r->stack[r->sp - 1] + 1;
		return 0;
	}
	if (idx >= r->nmemo || !r->memo[idx])
		return pcorrupt("GET of an unset memo");
	o = r->memo[idx] - 1;
	pr_push(r, o);
	return 0;
}

/* Pop everything above the last MARK into *items (a view). */
static int pr_pop_mark(struct pr *r, size_t **items, size_t *n)
{
	size_t m;
	if (!r->nmarks)
		return pcorrupt("no MARK");
	m = r->marks[--r->nmarks];
	*items = r->stack + m;
	*n = r->sp - m;
	r->sp = m;
	return 0;
}

static int pr_setitems(struct pr *r, size_t dict, const size_t *kv, size_t n)
{
	if (r->objs[dict].type != P_DICT || n % 2)
		return pcorrupt("bad SETITEMS");
	for (size_t i = 0; i < n; i++)
		obj_add(&r->objs[dict], kv[i]);
	return 0;
}

static int pr_appends(struct pr *r, size_t list, const size_t *v, size_t n)
{
	if (r->objs[list].type != P_LIST)
		return pcorrupt("APPEND to a non-list");
	for (size_t i = 0; i < n; i++)
		obj_add(&r->objs[list], v[i]);
	return 0;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int pr_run(struct pr *r, size_t *result)
{
	int e;

	for (;;) {
		unsigned char op;
		size_t o = 0, o2 = 0, *items = NULL, n = 0;

		if (pr_need(r, 1))
			return ERR_CORRUPT;
		op = r->p[r->pos++];
		switch (op) {
		case 0x80:  /* PROTO */
			if (pr_need(r, 1) || r->p[r->pos] > 5)
				return pcorrupt("bad protocol");
			r->pos++;
			break;
		case 0x95:  /* FRAME */
			if (pr_need(r, 8))
				return ERR_CORRUPT;
			r->pos += 8;
			break;
		case '}':
			pr_push(r, pr_new(r, P_DICT));
			break;
		case ']':
			pr_push(r, pr_new(r, P_LIST));
			break;
		case ')':
			pr_push(r, pr_new(r, P_TUPLE));
			break;
		case '(':
			ALLOC_GROW(r->marks, r->nmarks + 1, r->amarks);
			r->marks[r->nmarks++] = r->sp;
			break;
		case 'c': {
			const unsigned char *a, *b;
			size_t al, bl;
			a = r->p + r->pos;
			b = memchr(a, '\n', r->len - r->pos);
			if (!b)
				return pcorrupt("truncated GLOBAL");
			al = (size_t)(b - a);
			b++;
			if (!memchr(b, '\n', r->len - (size_t)(b - r->p)))
				return pcorrupt("truncated GLOBAL");
			bl = (size_t)((const unsigned char *)memchr(
					      b, '\n',
					      r->len - (size_t)(b - r->p)) - b);
			r->pos = (size_t)(b - r->p) + bl + 1;
			if (((al == 7 && !memcmp(a, "_codecs", 7)) ||
			     (al == 6 && !memcmp(a, "codecs", 6))) &&
			    bl == 6 && !memcmp(b, "encode", 6))
				pr_push(r, pr_new(r, P_ENCODE));
			else if (((al == 11 && !memcmp(a, "__builtin__", 11)) ||
				  (al == 8 && !memcmp(a, "builtins", 8))) &&
				 bl == 5 && !memcmp(b, "bytes", 5))
				pr_push(r, pr_new(r, P_BYTES_TYPE));
			else
				return pcorrupt("unexpected GLOBAL");
			break;
		}
		case 'X':
			if (pr_need(r, 4))
				return ERR_CORRUPT;
			r->pos += 4;
			if ((e = pr_str(r, P_STR, le32(r->p + r->pos - 4))))
				return e;
			break;
		case 0x8c:
			if (pr_need(r, 1))
				return ERR_CORRUPT;
			r->pos++;
			if ((e = pr_str(r, P_STR, r->p[r->pos - 1])))
				return e;
			break;
		case 'B':
			if (pr_need(r, 4))
				return ERR_CORRUPT;
			r->pos += 4;
			if ((e = pr_str(r, P_BYTES, le32(r->p + r->pos - 4))))
				return e;
			break;
		case 'C':
			if (pr_need(r, 1))
				return ERR_CORRUPT;
			r->pos++;
			if ((e = pr_str(r, P_BYTES, r->p[r->pos - 1])))
				return e;
			break;
		case 'q':
		case 'h':
			if (pr_need(r, 1))
				return ERR_CORRUPT;
			r->pos++;
			if ((e = pr_memo(r, r->p[r->pos - 1], op == 'q')))
				return e;
			break;
		case 'r':
		case 'j':
			if (pr_need(r, 4))
				return ERR_CORRUPT;
			r->pos += 4;
			if ((e = pr_memo(r, le32(r->p + r->pos - 4), op == 'r')))
				return e;
			break;
		case 0x94:  /* MEMOIZE */
			if ((e = pr_memo(r, (uint32_t)r->nmemo, 1)))
				return e;
			break;
		case 0x85:
		case 0x86:
		case 0x87:
			if ((e = pr_tuple(r, (size_t)(op - 0x84))))
				return e;
			break;
		case 't':
			if ((e = pr_pop_mark(r, &items, &n)))
				return e;
			o = pr_new(r, P_TUPLE);
			for (size_t i = 0; i < n; i++)
				obj_add(&r->objs[o], items[i]);
			pr_push(r, o);
			break;
		case 'R':
			if ((e = pr_reduce(r)))
				return e;
			break;
		case 'a':
			if ((e = pr_pop(r, &o)) || (e = pr_pop(r, &o2)))
				return e;
			if ((e = pr_appends(r, o2, &o, 1)))
				return e;
			pr_push(r, o2);
			break;
		case 'e':
			if ((e = pr_pop_mark(r, &items, &n)))
				return e;
			if ((e = pr_pop(r, &o2)))
				return e;
			if ((e = pr_appends(r, o2, items, n)))
				return e;
			pr_push(r, o2);
			break;
		case 's': {
			size_t kv[2] = { 0, 0 };
			if ((e = pr_pop(r, &kv[1])) || (e = pr_pop(r, &kv[0])) ||
			    (e = pr_pop(r, &o2)))
				return e;
			if ((e = pr_setitems(r, o2, kv, 2)))
				return e;
			pr_push(r, o2);
			break;
		}
		case 'u':
			if ((e = pr_pop_mark(r, &items, &n)))
				return e;
			if ((e = pr_pop(r, &o2)))
				return e;
			if ((e = pr_setitems(r, o2, items, n)))
				return e;
			pr_push(r, o2);
			break;
		case '.':
			if ((e = pr_pop(r, result)))
				return e;
			return 0;
		default:
			return pcorrupt("unsupported opcode");
		}
	}
}

int hlink_parse(struct hlink_db **out, const void *buf, size_t len)
{
	struct pr r;
	struct hlink_db *db = NULL;
	size_t root;
	int e;

	memset(&r, 0, sizeof(r));
	r.p = buf;
	r.len = len;
	*out = NULL;
	if ((e = pr_run(&r, &root)))
		goto out;
	if (r.objs[root].type != P_DICT) {
		e = pcorrupt("not a dict");
		goto out;
	}
	db = hlink_new();
	for (size_t i = 0; i + 1 < r.objs[root].nr; i += 2) {
		const struct pobj *k = &r.objs[r.objs[root].items[i]];
		const struct pobj *v = &r.objs[r.objs[root].items[i + 1]];
		struct hnode *nd;
		long idx;

		if (k->type != P_BYTES || v->type != P_LIST) {
			e = pcorrupt("unexpected types");
			goto out;
		}
		nd = db_set(db, r.data.data + k->off, k->len);
		idx = nd - db->nodes;
		for (size_t j = 0; j < v->nr; j++) {
			const struct pobj *p = &r.objs[v->items[j]];
			if (p->type != P_BYTES) {
				e = pcorrupt("path is not bytes");
				goto out;
			}
			node_append(&db->nodes[idx], r.data.data + p->off,
				    p->len);
			smap_set(&db->paths, r.data.data + p->off, p->len, idx);
		}
	}
	*out = db;
	db = NULL;
out:
	hlink_free(db);
	for (size_t i = 0; i < r.nobjs; i++)
		free(r.objs[i].items);
	free(r.objs);
	free(r.stack);
	free(r.marks);
	free(r.memo);
	buf_release(&r.data);
	return e;
}

int hlink_load(struct hlink_db **out, const char *path)
{
	struct buf b = BUF_INIT;
	int e;

	if (buf_read_file(&b, path) < 0) {
		if (errno == ENOENT) {
			*out = hlink_new();
			return 0;
		}
		return err_errno("cannot read '%s'", path);
	}
	e = hlink_parse(out, b.data, b.len);
	if (e)
		err_set(e, "%s: %s", path, err_last());
	buf_release(&b);
	return e;
}
