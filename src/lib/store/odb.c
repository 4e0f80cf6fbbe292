/*
 * The object database (odb.h): which objects a repository has, and
 * their contents.
 *
 * Existence follows bup's PackIdxList (FORMAT.md 2.5, 2.6, 9): bup.bloom
 * as a "definitely absent" filter when it covers at least as many
 * entries as the packs hold, then the midx files (largest first; one
 * whose idx files are all covered by bigger ones, or that names a
 * missing idx, is ignored), then every idx not covered by a midx.
 * Loose objects do not count for existence, as in bup.
 *
 * Reading finds the object through the same tables (a midx names the
 * idx that has it), then reads the pack with pread (pack.c), resolving
 * deltas; loose objects (objects/xx/yyyy, zlib of "type size\0data") are
 * read too, so repositories git wrote are readable.  Every object read
 * is hashed and checked against the id asked for.
 *
 * Idx files covered by a midx are only opened when an object is read
 * from their pack.  At most ODB_MAX_OPEN_PACKS pack descriptors are kept
 * open (least recently used closed first; packs in the middle of a
 * delta resolution are pinned).
 */
#include "store/odb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/bloom.h"
#include "util/err.h"
#include "store/idx.h"
#include "store/midx.h"
#include "store/pack.h"
#include "util/util.h"
#include "util/zlib.h"
#include "util/strv.h"

#define ODB_MAX_OPEN_PACKS 32

struct odb_pack {
	char *name;              /* "pack-<hex>.idx" */
	struct idx_file *idx;    /* NULL until needed when covered */
	struct pack_file *pack;  /* NULL when closed */
	uint64_t last_use;
	unsigned busy;           /* pinned while a read is using it */
	int covered;             /* by an accepted midx */
	uint64_t *revidx;        /* sorted offsets, built by odb_read_raw */
};

struct odb {
	char *objdir, *packdir;
	struct odb_pack *packs;  /* sorted by name */
	size_t nr_packs, alloc_packs;
	struct midx_file **midx;
	size_t nr_midx, alloc_midx;
	struct bloom_file *bloom;
	int bloom_usable;
	uint64_t total;
	size_t nr_open;
	uint64_t tick;
	size_t last_hit;         /* index into packs of the last find */
	struct buf raw;          /* packed bytes of odb_read_flags() */
};

static int pack_by_name(const void *a, const void *b)
{
	return strcmp(((const struct odb_pack *)a)->name,
		      ((const struct odb_pack *)b)->name);
}

static struct odb_pack *find_pack(struct odb *odb, const char *name)
{
	struct odb_pack key = { 0 };

	key.name = (char *)name;
	if (!odb->nr_packs)
		return NULL;
	return bsearch(&key, odb->packs, odb->nr_packs, sizeof(key),
		       pack_by_name);
}

static int midx_by_size(const void *a, const void *b)
{
	const struct midx_file *x = *(struct midx_file *const *)a;
	const struct midx_file *y = *(struct midx_file *const *)b;

	if (x->nr != y->nr)
		return x->nr < y->nr ? 1 : -1;
	return strcmp(x->path, y->path);
}

static void odb_clear(struct odb *odb)
{
	for (size_t i = 0; i < odb->nr_packs; i++) {
		idx_close(odb->packs[i].idx);
		pack_close(odb->packs[i].pack);
		free(odb->packs[i].name);
		free(odb->packs[i].revidx);
	}
	free(odb->packs);
	odb->packs = NULL;
	odb->nr_packs = odb->alloc_packs = 0;
	for (size_t i = 0; i < odb->nr_midx; i++)
		midx_close(odb->midx[i]);
	free(odb->midx);
	odb->midx = NULL;
	odb->nr_midx = odb->alloc_midx = 0;
	bloom_close(odb->bloom);
	odb->bloom = NULL;
	odb->bloom_usable = 0;
	odb->total = 0;
	odb->nr_open = 0;
	odb->last_hit = 0;
}

static int open_pack_idx(struct odb *odb, struct odb_pack *p)
{
	char *path;
	int ret;

	if (p->idx)
		return 0;
	path = xstrfmt("%s/%s", odb->packdir, p->name);
	ret = idx_open(&p->idx, path);
	free(path);
	return ret;
}

/*
 * Scan objects/pack.  Unreadable or corrupt idx files make the scan fail
 * (their objects would silently vanish otherwise); a bad midx or bloom
 * is only an accelerator and is skipped, as bup does.
 */
static int odb_scan(struct odb *odb)
{
	DIR *d;
	struct dirent *de;
	char **midx_names = NULL;
	size_t nr_midx_names = 0, alloc_midx_names = 0;
	int have_bloom = 0, ret = 0;

	d = opendir(odb->packdir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return err_errno("cannot open '%s'", odb->packdir);
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.')
			continue;
		if (str_ends_with(n, ".idx")) {
			ALLOC_GROW(odb->packs, odb->nr_packs + 1,
				   odb->alloc_packs);
			memset(&odb->packs[odb->nr_packs], 0,
			       sizeof(odb->packs[0]));
			odb->packs[odb->nr_packs++].name = xstrdup(n);
		} else if (str_ends_with(n, ".midx")) {
			ALLOC_GROW(midx_names, nr_midx_names + 1,
				   alloc_midx_names);
			midx_names[nr_midx_names++] = xstrdup(n);
		} else if (!strcmp(n, "bup.bloom")) {
			have_bloom = 1;
		}
	}
	closedir(d);
	if (odb->nr_packs)
		qsort(odb->packs, odb->nr_packs, sizeof(odb->packs[0]),
		      pack_by_name);
	if (nr_midx_names)
		qsort(midx_names, nr_midx_names, sizeof(char *), strv_cmp);

	for (size_t i = 0; i < nr_midx_names; i++) {
		struct midx_file *m;
		char *path = xstrfmt("%s/%s", odb->packdir, midx_names[i]);
		int r = midx_open(&m, path);

		free(path);
		if (r < 0)
			continue;       /* bup: warning, then ignored */
		ALLOC_GROW(odb->midx, odb->nr_midx + 1, odb->alloc_midx);
		odb->midx[odb->nr_midx++] = m;
	}

	/* Accept midx files largest first if they add coverage. */
	if (odb->nr_midx)
		qsort(odb->midx, odb->nr_midx, sizeof(*odb->midx),
		      midx_by_size);
	{
		size_t kept = 0;
		for (size_t i = 0; i < odb->nr_midx; i++) {
			struct midx_file *m = odb->midx[i];
			int missing = 0, adds = 0;

			for (size_t j = 0; j < m->nr_idxnames; j++) {
				struct odb_pack *p =
					find_pack(odb, m->idxnames[j]);
				if (!p)
					missing = 1;
				else if (!p->covered)
					adds = 1;
			}
			if (missing || !adds) {
				midx_close(m);
				continue;
			}
			for (size_t j = 0; j < m->nr_idxnames; j++)
				find_pack(odb, m->idxnames[j])->covered = 1;
			odb->total += m->nr;
			odb->midx[kept++] = m;
		}
		odb->nr_midx = kept;
	}

	for (size_t i = 0; i < odb->nr_packs; i++) {
		struct odb_pack *p = &odb->packs[i];
		if (p->covered)
			continue;
		ret = open_pack_idx(odb, p);
		if (ret < 0)
			goto out;
		odb->total += p->idx->nr;
	}

	if (have_bloom) {
		char *path = xstrfmt("%s/bup.bloom", odb->packdir);
		if (bloom_open(&odb->bloom, path) < 0)
			odb->bloom = NULL;
		free(path);
		/* FORMAT.md 2.6: a stale (smaller) bloom is ignored. */
		odb->bloom_usable = odb->bloom &&
				    odb->bloom->entries >= odb->total;
	}
out:
	for (size_t i = 0; i < nr_midx_names; i++)
		free(midx_names[i]);
	free(midx_names);
	return ret;
}

int odb_open(struct odb **out, const char *objdir)
{
	struct odb *odb = xcalloc(1, sizeof(*odb));
	int ret;

	buf_init(&odb->raw, 0);
	odb->objdir = xstrdup(objdir);
	odb->packdir = xstrfmt("%s/pack", objdir);
	ret = odb_scan(odb);
	if (ret < 0) {
		odb_free(odb);
		*out = NULL;
		return ret;
	}
	*out = odb;
	return 0;
}

int odb_open_idxdir(struct odb **out, const char *idxdir)
{
	struct odb *odb = xcalloc(1, sizeof(*odb));
	int ret;

	buf_init(&odb->raw, 0);
	odb->objdir = xstrdup(idxdir);
	odb->packdir = xstrdup(idxdir);
	ret = odb_scan(odb);
	if (ret < 0) {
		odb_free(odb);
		*out = NULL;
		return ret;
	}
	*out = odb;
	return 0;
}

void odb_free(struct odb *odb)
{
	if (!odb)
		return;
	odb_clear(odb);
	buf_release(&odb->raw);
	free(odb->objdir);
	free(odb->packdir);
	free(odb);
}

int odb_refresh(struct odb *odb)
{
	odb_clear(odb);
	return odb_scan(odb);
}

uint64_t odb_count(struct odb *odb)
{
	return odb->total;
}

/* Position of oid in the packs: the pack and its idx entry, or NULL. */
static struct odb_pack *locate(struct odb *odb, const struct oid *oid,
			       uint32_t *pos, int *err)
{
	*err = 0;
	if (odb->nr_packs && odb->last_hit < odb->nr_packs) {
		struct odb_pack *p = &odb->packs[odb->last_hit];
		if (p->idx) {
			int64_t n = idx_find(p->idx, oid);
			if (n >= 0) {
				*pos = (uint32_t)n;
				return p;
			}
		}
	}
	for (size_t i = 0; i < odb->nr_midx; i++) {
		const char *which = NULL;
		int64_t n = midx_find(odb->midx[i], oid, &which);
		struct odb_pack *p;

		if (n < 0 || !which)
			continue;
		p = find_pack(odb, which);
		if (!p)
			continue;
		if (open_pack_idx(odb, p) < 0) {
			*err = err_last_code();
			return NULL;
		}
		n = idx_find(p->idx, oid);
		if (n >= 0) {
			odb->last_hit = (size_t)(p - odb->packs);
			*pos = (uint32_t)n;
			return p;
		}
	}
	for (size_t i = 0; i < odb->nr_packs; i++) {
		struct odb_pack *p = &odb->packs[i];
		int64_t n;

		if (p->covered)
			continue;
		n = idx_find(p->idx, oid);
		if (n >= 0) {
			odb->last_hit = i;
			*pos = (uint32_t)n;
			return p;
		}
	}
	/*
	 * Not found through the midx files.  A reader asks for objects it
	 * expects to exist, so before calling one missing, ask the idx
	 * files the midx files stand for: a damaged or stale midx must not
	 * hide an object that its pack still has.  Only reads of absent
	 * objects pay for this; existence checks (odb_exists) do not.
	 */
	for (size_t i = 0; i < odb->nr_packs; i++) {
		struct odb_pack *p = &odb->packs[i];
		int64_t n;

		if (!p->covered)
			continue;
		if (open_pack_idx(odb, p) < 0)
			continue;
		n = idx_find(p->idx, oid);
		if (n >= 0) {
			odb->last_hit = i;
			*pos = (uint32_t)n;
			return p;
		}
	}
	return NULL;
}

int odb_exists(struct odb *odb, const struct oid *oid)
{
	if (odb->bloom_usable && !bloom_may_contain(odb->bloom, oid))
		return 0;
	for (size_t i = 0; i < odb->nr_midx; i++)
		if (midx_find(odb->midx[i], oid, NULL) >= 0)
			return 1;
	if (odb->last_hit < odb->nr_packs) {
		struct odb_pack *p = &odb->packs[odb->last_hit];
		if (!p->covered && idx_find(p->idx, oid) >= 0)
			return 1;
	}
	for (size_t i = 0; i < odb->nr_packs; i++) {
		struct odb_pack *p = &odb->packs[i];
		if (!p->covered && idx_find(p->idx, oid) >= 0) {
			odb->last_hit = i;
			return 1;
		}
	}
	return 0;
}

int odb_exists_where(struct odb *odb, const struct oid *oid,
		     const char **idxname)
{
	uint32_t pos;
	int err;
	struct odb_pack *p;

	*idxname = NULL;
	if (odb->bloom_usable && !bloom_may_contain(odb->bloom, oid))
		return 0;
	for (size_t i = 0; i < odb->nr_midx; i++) {
		const char *which = NULL;
		if (midx_find(odb->midx[i], oid, &which) >= 0 && which) {
			*idxname = which;
			return 1;
		}
	}
	p = locate(odb, oid, &pos, &err);
	if (!p)
		return 0;
	*idxname = p->name;
	return 1;
}

/* Open p's pack, closing the least recently used idle one if needed. */
static int use_pack(struct odb *odb, struct odb_pack *p)
{
	char *path;
	size_t len;
	int ret;

	p->last_use = ++odb->tick;
	if (p->pack)
		return 0;
	while (odb->nr_open >= ODB_MAX_OPEN_PACKS) {
		struct odb_pack *lru = NULL;
		for (size_t i = 0; i < odb->nr_packs; i++) {
			struct odb_pack *q = &odb->packs[i];
			if (q->pack && !q->busy &&
			    (!lru || q->last_use < lru->last_use))
				lru = q;
		}
		if (!lru)
			break;  /* all pinned: go over the cap briefly */
		pack_close(lru->pack);
		lru->pack = NULL;
		odb->nr_open--;
	}
	len = strlen(p->name);
	path = xstrfmt("%s/%.*s.pack", odb->packdir, (int)(len - 4), p->name);
	ret = pack_open(&p->pack, path);
	if (ret < 0) {
		free(path);
		return ret;
	}
	/*
	 * The checks git makes when it opens a pack: the header's object
	 * count and the trailing checksum must match the idx.  Both are
	 * cheap (one pread) and catch a pack replaced or damaged under an
	 * intact idx before any offset of it is trusted.
	 */
	if (p->idx && p->pack->nr != p->idx->nr) {
		ret = err_set(ERR_CORRUPT,
			      "%s: pack has %u objects but its idx has %u",
			      path, p->pack->nr, p->idx->nr);
	} else if (p->idx) {
		unsigned char trailer[OID_RAWSZ];
		if (pread_full(p->pack->fd, trailer, sizeof(trailer),
			       p->pack->size - OID_RAWSZ) < 0)
			ret = err_errno("cannot read '%s'", path);
		else if (memcmp(trailer, p->idx->pack_checksum.hash,
				OID_RAWSZ))
			ret = err_set(ERR_CORRUPT,
				      "%s: pack checksum does not match its idx",
				      path);
	}
	free(path);
	if (ret < 0) {
		pack_close(p->pack);
		p->pack = NULL;
		return ret;
	}
	odb->nr_open++;
	return 0;
}

static int read_any(struct odb *odb, const struct oid *oid,
		    enum obj_type *type, struct buf *out);

static int base_cb(void *ctx, const struct oid *oid, enum obj_type *type,
		   struct buf *out)
{
	return read_any(ctx, oid, type, out);
}

static int read_packed(struct odb *odb, struct odb_pack *p, uint32_t pos,
		       enum obj_type *type, struct buf *out)
{
	uint64_t off = idx_nth_offset(p->idx, pos);
	int ret;

	if (off == IDX_BAD_OFFSET)
		return ERR_CORRUPT;
	ret = use_pack(odb, p);
	if (ret < 0)
		return ret;
	p->busy++;
	ret = pack_read_object(p->pack, off, type, out, base_cb, odb);
	p->busy--;
	return ret;
}

/* "type size\0" header of a loose object; returns the header length. */
static size_t parse_loose_hdr(const char *data, size_t len,
			      enum obj_type *type, uint64_t *size)
{
	const char *sp = memchr(data, ' ', MIN(len, (size_t)16));
	const char *nul;
	uint64_t v = 0;

	if (!sp)
		return 0;
	*type = obj_type_from_name(data, (size_t)(sp - data));
	if (*type == OBJ_NONE)
		return 0;
	nul = memchr(sp + 1, '\0', len - (size_t)(sp + 1 - data));
	if (!nul || nul == sp + 1 || nul - sp > 21)
		return 0;
	for (const char *c = sp + 1; c < nul; c++) {
		if (*c < '0' || *c > '9' || (c == sp + 1 && *c == '0' &&
					     c + 1 < nul))
			return 0;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	*size = v;
	return (size_t)(nul + 1 - data);
}

static int read_loose(struct odb *odb, const struct oid *oid,
		      enum obj_type *type, struct buf *out)
{
	struct buf raw = BUF_INIT, inf = BUF_INIT;
	char hex[OID_HEXSZ + 1];
	char *path;
	uint64_t size = 0;
	size_t hl;
	int ret;

	oid_to_hex(oid, hex);
	path = xstrfmt("%s/%.2s/%s", odb->objdir, hex, hex + 2);
	if (buf_read_file(&raw, path) < 0) {
		if (errno == ENOENT)
			ret = err_set(ERR_NOTFOUND, "object %s not found", hex);
		else
			ret = err_errno("cannot read '%s'", path);
		goto out;
	}
	ret = zlib_inflate_all(&inf, raw.data, raw.len, NULL);
	if (ret < 0) {
		ret = err_set(ERR_CORRUPT, "%s: corrupt loose object: %s",
			      path, "bad zlib stream");
		goto out;
	}
	hl = parse_loose_hdr(inf.data, inf.len, type, &size);
	if (!hl || inf.len - hl != size) {
		ret = err_set(ERR_CORRUPT, "%s: corrupt loose object header",
			      path);
		goto out;
	}
	buf_add(out, inf.data + hl, inf.len - hl);
	ret = 0;
out:
	free(path);
	buf_release(&raw);
	buf_release(&inf);
	return ret;
}

static int read_any(struct odb *odb, const struct oid *oid,
		    enum obj_type *type, struct buf *out)
{
	struct odb_pack *p;
	uint32_t pos = 0;
	int err;

	p = locate(odb, oid, &pos, &err);
	if (err < 0)
		return err;
	if (p)
		return read_packed(odb, p, pos, type, out);
	return read_loose(odb, oid, type, out);
}

static int read_crc_checked(struct odb *odb, const struct oid *oid,
			    enum obj_type *type, struct buf *out);

int odb_read_flags(struct odb *odb, const struct oid *oid,
		   enum obj_type *type, struct buf *out, unsigned flags)
{
	size_t start = out->len;
	struct oid got;
	int ret = 1;

	if (flags & ODB_READ_CRC_BLOBS)
		ret = read_crc_checked(odb, oid, type, out);
	if (ret == 1)
		ret = read_any(odb, oid, type, out);
	else if (!ret && *type == OBJ_BLOB)
		return 0;  /* the CRC of its packed bytes checked it */
	if (ret < 0) {
		buf_setlen(out, start);
		return ret;
	}
	oid_hash_object(&got, *type, out->data + start, out->len - start);
	if (!oid_eq(&got, oid)) {
		buf_setlen(out, start);
		return err_set(ERR_CORRUPT,
			       "object %s is corrupt: its content hashes to %s",
			       oid_hex(oid), oid_hex(&got));
	}
	return 0;
}

int odb_read(struct odb *odb, const struct oid *oid, enum obj_type *type,
	     struct buf *out)
{
	return odb_read_flags(odb, oid, type, out, 0);
}

/* ---- raw copies ----------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * git's "reverse index": the idx's offsets sorted, so that an object's
 * packed bytes end where the next object (or the trailing checksum)
 * begins.  Built once per pack, on the first raw read from it.
 */
static int build_revidx(struct odb_pack *p)
{
	uint32_t nr = p->idx->nr;
	size_t size;

	/* nr comes from the idx: too many for a 32-bit size_t is corrupt */
	if (st_add_checked(&size, nr, 1) ||
	    st_mult_checked(&size, size, sizeof(uint64_t)))
		return err_set(ERR_CORRUPT, "%s: %u objects do not fit in "
			       "memory", p->idx->path, nr);
	p->revidx = xmalloc(size);
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t off = idx_nth_offset(p->idx, i);
		if (off == IDX_BAD_OFFSET) {
			free(p->revidx);
			p->revidx = NULL;
			return ERR_CORRUPT;
		}
		p->revidx[i] = off;
	}
	QSORT(p->revidx, nr, cmp_u64);
	return 0;
}

/*
 * Where the packed form of p's object at index position pos ends: the
 * next object's offset (from the sorted offsets) or the trailing
 * checksum.  Opens the pack.
 */
static int packed_span(struct odb *odb, struct odb_pack *p, uint32_t pos,
		       const struct oid *oid, uint64_t *offp, uint64_t *endp)
{
	uint32_t lo, hi;
	uint64_t off, end, limit;
	int ret;

	off = idx_nth_offset(p->idx, pos);
	if (off == IDX_BAD_OFFSET)
		return ERR_CORRUPT;
	if (!p->revidx && (ret = build_revidx(p)) < 0)
		return ret;
	if ((ret = use_pack(odb, p)) < 0)
		return ret;
	limit = p->pack->size - OID_RAWSZ;
	/* the first sorted offset greater than off */
	lo = 0;
	hi = p->idx->nr;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->revidx[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	end = lo < p->idx->nr ? p->revidx[lo] : limit;
	/* an offset past the pack's end would make us read garbage */
	if (off < 12 || end <= off || end > limit || end - off > SIZE_MAX / 2)
		return err_set(ERR_CORRUPT, "%s: bad offset %llu for object "
			       "%s", p->pack->path, (unsigned long long)off,
			       oid_hex(oid));
	*offp = off;
	*endp = end;
	return 0;
}

/* What read_packed_crc() found. */
struct packed_crc {
	struct odb_pack *p;
	uint64_t off, size;        /* in the pack; from the header */
	size_t hl;                 /* the header's length */
	enum obj_type type;
	uint32_t crc;
};

/*
 * The packed bytes of oid (its pack header and deflated data, as
 * stored) appended to out and their CRC-32 checked against the idx v2:
 * the one reader behind odb_read_raw() and read_crc_checked().  0 with
 * *pc; 1 when the object is not in that form (loose, an idx v1, a
 * delta, an unparsable header), out as it was; ERR_IO, or ERR_CORRUPT
 * for a CRC mismatch.  A bad offset in the idx is ERR_CORRUPT too, or
 * 1 with `span_fallback` (the caller's usual path reads and reports).
 */
static int read_packed_crc(struct odb *odb, const struct oid *oid,
			   struct buf *out, int span_fallback,
			   struct packed_crc *pc)
{
	size_t start = out->len, n;
	uint32_t pos = 0;
	uint64_t end = 0;   /* set by packed_span(); gcc cannot tell */
	int err, ret;

	pc->p = locate(odb, oid, &pos, &err);
	if (err < 0)
		return err;
	/* loose, or an idx v1 without CRCs to check the bytes against */
	if (!pc->p || pc->p->idx->version < 2)
		return 1;
	if ((ret = packed_span(odb, pc->p, pos, oid, &pc->off, &end)) < 0)
		return span_fallback ? 1 : ret;
	n = (size_t)(end - pc->off);
	buf_grow(out, n);
	if (pread_full(pc->p->pack->fd, out->data + start, n, pc->off) < 0)
		return err_errno("cannot read '%s'", pc->p->pack->path);
	buf_setlen(out, start + n);
	pc->hl = pack_decode_header((unsigned char *)out->data + start, n,
				    &pc->type, &pc->size);
	if (!pc->hl || pc->type == OBJ_OFS_DELTA ||
	    pc->type == OBJ_REF_DELTA) {
		buf_setlen(out, start);
		/* a delta has no standalone form; let odb_read explain junk */
		return 1;
	}
	pc->crc = zlib_crc32(0, out->data + start, n);
	if (pc->crc != idx_nth_crc(pc->p->idx, pos)) {
		buf_setlen(out, start);
		return err_set(ERR_CORRUPT, "%s: CRC mismatch for object %s "
			       "at offset %llu", pc->p->pack->path,
			       oid_hex(oid), (unsigned long long)pc->off);
	}
	return 0;
}

int odb_read_raw(struct odb *odb, const struct oid *oid, enum obj_type *type,
		 struct buf *out, uint32_t *crc)
{
	struct packed_crc pc;
	int ret = read_packed_crc(odb, oid, out, 0, &pc);

	if (ret)
		return ret;
	*type = pc.type;
	*crc = pc.crc;
	return 0;
}

/*
 * odb_read's fast path for ODB_READ_CRC_BLOBS: the object's packed bytes
 * in one pread sized by the sorted offsets, their CRC-32 checked against
 * the idx v2 (as git checks reused pack data; libdeflate's CRC-32 is
 * several times faster than SHA-1 and covers the compressed, smaller
 * bytes), then inflated (zlib's adler32 and the header's size checked
 * too).  Returns 0, 1 when the object is not in this form (loose, a
 * delta, an idx v1, an unparsable header: the caller reads it the usual
 * way and reports), or ERR_CORRUPT / ERR_IO.
 */
static int read_crc_checked(struct odb *odb, const struct oid *oid,
			    enum obj_type *type, struct buf *out)
{
	struct buf *raw = &odb->raw;
	struct packed_crc pc;
	size_t used;
	int ret;

	buf_reset(raw);
	/* a damaged idx or pack: the usual path reads and reports */
	ret = read_packed_crc(odb, oid, raw, 1, &pc);
	if (ret)
		goto out;
	*type = pc.type;
	if (pc.size > SIZE_MAX / 2 ||
	    zlib_inflate_sized(out, raw->data + pc.hl, raw->len - pc.hl,
			       (size_t)pc.size, &used) < 0) {
		ret = err_set(ERR_CORRUPT, "%s: corrupt pack: bad zlib stream "
			      "of object %s at offset %llu", pc.p->pack->path,
			      oid_hex(oid), (unsigned long long)pc.off);
		goto out;
	}
	ret = 0;
out:
	/* keep a window for the next chunk, not the largest object's */
	if (raw->alloc > ((size_t)16 << 20))
		buf_release(raw);
	return ret;
}
