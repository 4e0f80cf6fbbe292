/*
 * Reading git packs (pack.h, FORMAT.md 2.2): header validation, object
 * headers, zlib bodies through pread windows, and delta resolution
 * (OFS_DELTA within the pack, REF_DELTA through the caller's lookup) so
 * that packs written by git itself, e.g. after `git gc --aggressive`,
 * read back.  Every length and offset read from the pack is checked
 * before it is used; nothing here trusts the file.
 */
#include "store/pack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/util.h"
#include "util/zlib.h"

#define PACK_HDR_SIZE 12
#define PACK_TRAILER OID_RAWSZ

/*
 * Longest delta chain we follow.  git's default --depth is 50 and
 * `gc --aggressive` uses 50 too (250 in older gits); 10000 leaves room
 * for any sane pack while still stopping loops that go through REF_DELTA
 * lookups into other packs (OFS_DELTA cannot loop: every base lies
 * strictly before its delta).
 */
#define PACK_MAX_DEPTH 10000

/*
 * Depth of nested pack_read_object() calls on this thread: a REF_DELTA
 * base is read through the caller's callback, which may come back here.
 */
static _Thread_local unsigned pack_nesting;

/*
 * A deflate stream expands its input by at most ~1032:1 (258-byte
 * matches coded in 2 bits... rounded up generously here); a header that
 * claims more than that from the bytes left in the pack is corrupt, and
 * rejecting it keeps a hostile size from becoming a huge allocation.
 */
#define PACK_MAX_RATIO 1100

static int pack_corrupt(const struct pack_file *p, uint64_t off,
			const char *what)
{
	return err_set(ERR_CORRUPT, "%s: corrupt pack: %s at offset %llu",
		       p->path, what, (unsigned long long)off);
}

/*
 * The same, with the message of the error that was just set (err_set()
 * may quote err_last(): it formats before it replaces).
 */
static int pack_corrupt_last(const struct pack_file *p, uint64_t off)
{
	return pack_corrupt(p, off, err_last());
}

int pack_open(struct pack_file **out, const char *path)
{
	unsigned char hdr[PACK_HDR_SIZE];
	struct pack_file *p;
	struct stat st;
	uint32_t version;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = err_errno("cannot open '%s'", path);
		return errno == ENOENT ? ERR_NOTFOUND : ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = err_errno("cannot stat '%s'", path);
		goto fail;
	}
	if (st.st_size < PACK_HDR_SIZE + PACK_TRAILER) {
		ret = err_set(ERR_CORRUPT, "%s: corrupt pack: file too small",
			      path);
		goto fail;
	}
	if (pread_full(fd, hdr, sizeof(hdr), 0) < 0) {
		ret = err_errno("cannot read '%s'", path);
		goto fail;
	}
	if (memcmp(hdr, "PACK", 4)) {
		ret = err_set(ERR_CORRUPT, "%s: corrupt pack: bad signature",
			      path);
		goto fail;
	}
	version = get_be32(hdr + 4);
	if (version != 2 && version != 3) {
		ret = err_set(ERR_CORRUPT,
			      "%s: unsupported pack version %u", path,
			      version);
		goto fail;
	}
	p = xcalloc(1, sizeof(*p));
	p->path = xstrdup(path);
	p->fd = fd;
	p->size = (uint64_t)st.st_size;
	p->nr = get_be32(hdr + 8);
	*out = p;
	return 0;
fail:
	close(fd);
	return ret;
}

void pack_close(struct pack_file *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p->path);
	free(p);
}

size_t pack_encode_header(unsigned char *out, enum obj_type type,
			  uint64_t size)
{
	size_t n = 0;
	unsigned char c = (unsigned char)(((unsigned)type & 7) << 4 |
					  (size & 0x0f));

	size >>= 4;
	while (size) {
		out[n++] = c | 0x80;
		c = size & 0x7f;
		size >>= 7;
	}
	out[n++] = c;
	return n;
}

size_t pack_decode_header(const unsigned char *buf, size_t len,
			  enum obj_type *type, uint64_t *size)
{
	size_t n = 0;
	unsigned shift = 4;
	uint64_t sz;
	unsigned char c;
	unsigned t;

	if (!len)
		return 0;
	c = buf[n++];
	t = (c >> 4) & 7;
	sz = c & 0x0f;
	while (c & 0x80) {
		if (n >= len)
			return 0;
		c = buf[n++];
		/* 4 + 7 * 8 = 60 bits; a 10th byte may add only 4 more. */
		if (shift > 60 || (shift == 60 && (c & 0x7f) > 0x0f))
			return 0;
		sz |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	}
	/* 0 and 5 are invalid; 4 (tag) is a valid git type we may meet. */
	if (t == OBJ_NONE || t == 5)
		return 0;
	*type = (enum obj_type)t;
	*size = sz;
	return n;
}

/*
 * OFS_DELTA base distance (git's offset encoding: big-endian 7-bit
 * groups, each continuation adding one so every value has one form).
 * Returns the bytes used, or 0 if malformed or not within len.
 */
static size_t decode_ofs(const unsigned char *buf, size_t len,
			 uint64_t *dist)
{
	size_t n = 0;
	uint64_t v;
	unsigned char c;

	if (!len)
		return 0;
	c = buf[n++];
	v = c & 0x7f;
	while (c & 0x80) {
		if (n >= len)
			return 0;
		v += 1;
		if (v >> 57)    /* the shift below would overflow */
			return 0;
		c = buf[n++];
		v = (v << 7) | (c & 0x7f);
	}
	*dist = v;
	return n;
}

static uint64_t delta_varint(const unsigned char **pp,
			     const unsigned char *end, int *ok)
{
	const unsigned char *p = *pp;
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char c;

	do {
		if (p >= end || shift > 63) {
			*ok = 0;
			return 0;
		}
		c = *p++;
		if (shift == 63 && (c & 0x7e)) {
			*ok = 0;
			return 0;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	*pp = p;
	return v;
}

static int delta_corrupt(const char *what)
{
	return err_set(ERR_CORRUPT, "corrupt delta: %s", what);
}

/*
 * git's delta format (patch-delta.c): varint source size, varint result
 * size, then opcodes: 1xxxxxxx copy (offset bytes by bits 0-3, size
 * bytes by bits 4-6, size 0 meaning 0x10000) from the base, 0xxxxxxx
 * (1..127) insert that many literal bytes, 0 reserved.
 */
int pack_apply_delta(struct buf *out, const unsigned char *base,
		     size_t base_len, const unsigned char *delta,
		     size_t delta_len)
{
	const unsigned char *p = delta, *end = delta + delta_len;
	uint64_t src_size, dst_size;
	size_t start = out->len, left;
	unsigned char *dst;
	int ok = 1;

	src_size = delta_varint(&p, end, &ok);
	dst_size = delta_varint(&p, end, &ok);
	if (!ok)
		return delta_corrupt("truncated header");
	if (src_size != base_len)
		return delta_corrupt("base size mismatch");
	/*
	 * Each opcode byte yields at most 0x10000 bytes (a copy of the
	 * default size is one byte), so a larger claim is a lie; checking
	 * it first keeps a forged size from becoming a huge allocation.
	 */
	if (dst_size > (uint64_t)(end - p) * 0x10000 || dst_size > SIZE_MAX / 2)
		return delta_corrupt("result size too large for the delta");
	buf_grow(out, (size_t)dst_size);
	dst = (unsigned char *)out->data + start;
	left = (size_t)dst_size;

	while (p < end) {
		unsigned char cmd = *p++;

		if (cmd & 0x80) {
			uint64_t off = 0, sz = 0;
			for (int i = 0; i < 4; i++) {
				if (!(cmd & (1u << i)))
					continue;
				if (p >= end)
					goto truncated;
				off |= (uint64_t)*p++ << (8 * i);
			}
			for (int i = 0; i < 3; i++) {
				if (!(cmd & (0x10u << i)))
					continue;
				if (p >= end)
					goto truncated;
				sz |= (uint64_t)*p++ << (8 * i);
			}
			if (!sz)
				sz = 0x10000;
			if (off > base_len || sz > base_len - off) {
				buf_setlen(out, start);
				return delta_corrupt("copy outside the base");
			}
			if (sz > left) {
				buf_setlen(out, start);
				return delta_corrupt("copy beyond result size");
			}
			memcpy(dst, base + off, (size_t)sz);
			dst += sz;
			left -= (size_t)sz;
		} else if (cmd) {
			if (cmd > (size_t)(end - p)) {
				goto truncated;
			}
			if (cmd > left) {
				buf_setlen(out, start);
				return delta_corrupt("insert beyond result size");
			}
			memcpy(dst, p, cmd);
			p += cmd;
			dst += cmd;
			left -= cmd;
		} else {
			buf_setlen(out, start);
			return delta_corrupt("reserved opcode 0");
		}
	}
	if (left) {
		buf_setlen(out, start);
		return delta_corrupt("result shorter than declared");
	}
	buf_setlen(out, start + (size_t)dst_size);
	return 0;
truncated:
	buf_setlen(out, start);
	return delta_corrupt("truncated opcode");
}

/* First read at an object: header plus, for small objects, the body. */
#define PACK_FIRST_READ 8192
/* Streaming fallback window. */
#define PACK_STREAM_WINDOW 65536

struct obj_hdr {
	enum obj_type type;
	uint64_t size;          /* inflated size (of the delta for deltas) */
	uint64_t data_off;      /* where the zlib stream starts */
	uint64_t base_off;      /* OFS_DELTA */
	struct oid base_oid;    /* REF_DELTA */
};

/* Last byte + 1 an object's data may use: the trailer is not data. */
static uint64_t data_end(const struct pack_file *p)
{
	return p->size - PACK_TRAILER;
}

/*
 * Parse the object header at off out of win (bytes read from off).
 */
static int parse_obj_hdr(const struct pack_file *p, uint64_t off,
			 const unsigned char *win, size_t win_len,
			 struct obj_hdr *h)
{
	size_t n = pack_decode_header(win, win_len, &h->type, &h->size);

	if (!n)
		return pack_corrupt(p, off, "bad object header");
	if (h->type == OBJ_OFS_DELTA) {
		uint64_t dist;
		size_t m = decode_ofs(win + n, win_len - n, &dist);
		if (!m)
			return pack_corrupt(p, off, "bad delta base offset");
		if (!dist || dist > off || off - dist < PACK_HDR_SIZE)
			return pack_corrupt(p, off,
					    "delta base offset out of range");
		h->base_off = off - dist;
		n += m;
	} else if (h->type == OBJ_REF_DELTA) {
		if (win_len - n < OID_RAWSZ)
			return pack_corrupt(p, off, "truncated delta base id");
		memcpy(h->base_oid.hash, win + n, OID_RAWSZ);
		n += OID_RAWSZ;
	}
	h->data_off = off + n;
	if (h->data_off > data_end(p))
		return pack_corrupt(p, off, "object header past end");
	if (h->size / PACK_MAX_RATIO > data_end(p) - h->data_off ||
	    h->size > SIZE_MAX / 2)
		return pack_corrupt(p, off, "object size impossibly large");
	return 0;
}

/* Read and parse the header at off; win receives the first window. */
static int read_obj_hdr(const struct pack_file *p, uint64_t off,
			struct buf *win, struct obj_hdr *h)
{
	size_t want;

	if (off < PACK_HDR_SIZE || off >= data_end(p))
		return pack_corrupt(p, off, "object offset out of range");
	want = (size_t)MIN((uint64_t)PACK_FIRST_READ, data_end(p) - off);
	buf_reset(win);
	buf_grow(win, want);
	if (pread_full(p->fd, win->data, want, off) < 0)
		return err_errno("cannot read '%s'", p->path);
	buf_setlen(win, want);
	return parse_obj_hdr(p, off, (unsigned char *)win->data, want, h);
}

/*
 * Inflate the body of h into out.  win holds the bytes from `off` (the
 * object's start) read by read_obj_hdr().  The compressed size is not
 * recorded anywhere, so: if the first window is likely to hold the whole
 * stream, try it; otherwise read a window of deflate's worst-case size
 * for h->size and decompress in one libdeflate call; if the stream is
 * longer still (legal but odd encoders), stream it through zlib in
 * fixed windows.
 */
static int inflate_body(const struct pack_file *p, uint64_t off,
			struct buf *win, const struct obj_hdr *h,
			struct buf *out)
{
	uint64_t avail = data_end(p) - h->data_off;
	size_t hdr_len = (size_t)(h->data_off - off);
	/* zlib's compressBound() plus slack for header and empty blocks. */
	uint64_t bound = h->size + (h->size >> 12) + (h->size >> 14) + 64;
	size_t start = out->len;
	struct zlib_inflater *z;
	uint64_t pos;
	int ret;

	if (bound > avail)
		bound = avail;
	if (win->len - hdr_len < bound) {
		buf_grow(win, (size_t)bound + hdr_len - win->len);
		if (pread_full(p->fd, win->data + win->len,
			       (size_t)bound + hdr_len - win->len,
			       off + win->len) < 0)
			return err_errno("cannot read '%s'", p->path);
		buf_setlen(win, (size_t)bound + hdr_len);
	}
	ret = zlib_inflate_sized(out, win->data + hdr_len,
				 win->len - hdr_len, (size_t)h->size, NULL);
	if (!ret)
		return 0;
	buf_setlen(out, start);
	if (win->len - hdr_len >= avail)
		return pack_corrupt_last(p, off);

	/* The stream is longer than any sane encoder makes it: stream. */
	z = zlib_inflater_new();
	zlib_inflater_reset(z, (size_t)h->size ? (size_t)h->size : 1);
	pos = h->data_off;
	ret = 0;
	while (ret == 0 && pos < data_end(p)) {
		size_t n = (size_t)MIN((uint64_t)PACK_STREAM_WINDOW,
				       data_end(p) - pos), used;
		buf_reset(win);
		buf_grow(win, n);
		if (pread_full(p->fd, win->data, n, pos) < 0) {
			ret = err_errno("cannot read '%s'", p->path);
			break;
		}
		ret = zlib_inflater_feed(z, out, win->data, n, &used);
		pos += used;
	}
	zlib_inflater_free(z);
	if (ret == 1 && out->len - start == h->size)
		return 0;
	buf_setlen(out, start);
	if (ret == ERR_IO)
		return ret;
	if (ret < 0)
		return pack_corrupt_last(p, off);
	return pack_corrupt(p, off, ret == 0 ? "truncated zlib stream"
					     : "object size mismatch");
}

int pack_read_type(struct pack_file *p, uint64_t offset, enum obj_type *type,
		   pack_base_fn base_fn, void *base_ctx)
{
	struct buf win = BUF_INIT, base = BUF_INIT;
	uint64_t off = offset;
	struct obj_hdr h;
	int ret;

	for (unsigned depth = 0;; depth++) {
		if (depth > PACK_MAX_DEPTH) {
			ret = pack_corrupt(p, offset, "delta chain too long");
			break;
		}
		ret = read_obj_hdr(p, off, &win, &h);
		if (ret < 0)
			break;
		if (h.type == OBJ_OFS_DELTA) {
			off = h.base_off;
			continue;
		}
		if (h.type == OBJ_REF_DELTA) {
			if (!base_fn) {
				ret = pack_corrupt(p, off, "REF_DELTA without "
						   "a base lookup");
				break;
			}
			ret = base_fn(base_ctx, &h.base_oid, type, &base);
			break;
		}
		if (h.type != OBJ_COMMIT && h.type != OBJ_TREE &&
		    h.type != OBJ_BLOB && h.type != OBJ_TAG) {
			ret = pack_corrupt(p, off, "bad object type");
			break;
		}
		*type = h.type;
		break;
	}
	buf_release(&win);
	buf_release(&base);
	return ret < 0 ? ret : 0;
}

int pack_read_object(struct pack_file *p, uint64_t offset,
		     enum obj_type *type, struct buf *out,
		     pack_base_fn base_fn, void *base_ctx)
{
	struct buf win = BUF_INIT, base = BUF_INIT, delta = BUF_INIT,
		   tmp = BUF_INIT;
	uint64_t *chain = NULL;
	size_t nr = 0, alloc = 0;
	enum obj_type base_type = OBJ_NONE;
	struct obj_hdr h;
	uint64_t off = offset;
	int ret;

	if (pack_nesting >= 64)
		return pack_corrupt(p, offset,
				    "delta bases nested too deeply");
	pack_nesting++;

	/* Walk down to the base, remembering each delta's offset. */
	for (;;) {
		ret = read_obj_hdr(p, off, &win, &h);
		if (ret < 0)
			goto out;
		if (h.type != OBJ_OFS_DELTA && h.type != OBJ_REF_DELTA)
			break;
		if (nr >= PACK_MAX_DEPTH) {
			ret = pack_corrupt(p, offset, "delta chain too long");
			goto out;
		}
		ALLOC_GROW(chain, nr + 1, alloc);
		chain[nr++] = off;
		if (h.type == OBJ_OFS_DELTA) {
			off = h.base_off;
			continue;
		}
		/* REF_DELTA: the base comes from wherever the caller says. */
		if (!base_fn) {
			ret = pack_corrupt(p, off,
					   "REF_DELTA without a base lookup");
			goto out;
		}
		ret = base_fn(base_ctx, &h.base_oid, &base_type, &base);
		if (ret < 0)
			goto out;
		break;
	}
	if (h.type != OBJ_OFS_DELTA && h.type != OBJ_REF_DELTA) {
		if (h.type != OBJ_COMMIT && h.type != OBJ_TREE &&
		    h.type != OBJ_BLOB && h.type != OBJ_TAG) {
			ret = pack_corrupt(p, off, "bad object type");
			goto out;
		}
		base_type = h.type;
		ret = inflate_body(p, off, &win, &h, nr ? &base : out);
		if (ret < 0)
			goto out;
	}

	/* Apply the deltas from the innermost outwards. */
	while (nr) {
		off = chain[--nr];
		ret = read_obj_hdr(p, off, &win, &h);
		if (ret < 0)
			goto out;
		buf_reset(&delta);
		ret = inflate_body(p, off, &win, &h, &delta);
		if (ret < 0)
			goto out;
		buf_reset(&tmp);
		ret = pack_apply_delta(nr ? &tmp : out,
				       (unsigned char *)base.data, base.len,
				       (unsigned char *)delta.data,
				       delta.len);
		if (ret < 0) {
			ret = pack_corrupt_last(p, off);
			goto out;
		}
		if (nr) {
			struct buf t = base;
			base = tmp;
			tmp = t;
		}
	}
	*type = base_type;
	ret = 0;
out:
	pack_nesting--;
	free(chain);
	buf_release(&win);
	buf_release(&base);
	buf_release(&delta);
	buf_release(&tmp);
	return ret;
}

int pack_check_raw(const struct oid *oid, const void *packed, size_t len,
		   uint32_t crc)
{
	enum obj_type type;
	uint64_t size;

	if (!pack_decode_header(packed, len, &type, &size) ||
	    type < OBJ_COMMIT || type > OBJ_BLOB)
		return err_set(ERR_CORRUPT, "object %s: bad pack header",
			       oid_hex(oid));
	if (zlib_crc32(0, packed, len) != crc)
		return err_set(ERR_CORRUPT, "object %s: CRC mismatch",
			       oid_hex(oid));
	return 0;
}

int pack_inflate_raw(const struct oid *oid, const void *packed, size_t len,
		     struct buf *out, enum obj_type *type)
{
	uint64_t size;
	size_t hl, used;
	int ret;

	hl = pack_decode_header(packed, len, type, &size);
	if (!hl || *type < OBJ_COMMIT || *type > OBJ_BLOB)
		return err_set(ERR_CORRUPT, "object %s: bad pack header",
			       oid_hex(oid));
	if (size > PACK_MAX_VERIFY_SIZE)
		return err_set(ERR_CORRUPT, "object %s: too large (%llu)",
			       oid_hex(oid), (unsigned long long)size);
	ret = zlib_inflate_sized(out, (const unsigned char *)packed + hl,
				 len - hl, (size_t)size, &used);
	if (ret < 0 || used != len - hl)
		return err_set(ERR_CORRUPT, "object %s: bad zlib stream",
			       oid_hex(oid));
	return 0;
}

int pack_verify_raw(const struct oid *oid, const void *packed, size_t len,
		    uint32_t crc, struct buf *scratch, struct sha1_ctx *sha)
{
	enum obj_type type;
	struct oid got;
	int ret;

	if ((ret = pack_check_raw(oid, packed, len, crc)) < 0)
		return ret;
	buf_reset(scratch);
	if ((ret = pack_inflate_raw(oid, packed, len, scratch, &type)) < 0)
		return ret;
	oid_hash_object_ctx(sha, &got, type, scratch->data, scratch->len);
	if (!oid_eq(&got, oid))
		return err_set(ERR_CORRUPT, "object %s: content hashes to %s",
			       oid_hex(oid), oid_hex(&got));
	return 0;
}
