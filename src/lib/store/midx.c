/*
 * bup's .midx files, version 4 (FORMAT.md 2.5): one sorted table of the
 * object ids of several .idx files, so that an existence check costs one
 * fanout probe and a binary search inside one bucket (about one 4 KiB
 * page of ids, which is how bup chooses `bits`) however many packs the
 * repository has.
 *
 * The reader maps the file read-only and validates everything it is
 * about to rely on before use: magic, version, the bits range, a
 * monotonic fanout whose total fits the file size, and the idx name
 * list.  The `which` column is checked entry by entry when it is used,
 * and in full by midx_verify(), so that opening a midx stays O(2^bits).
 *
 * The writer reproduces bup's files byte for byte: the same `bits`
 * computation (with the same floating-point steps), the same merge order
 * for ids present in several inputs (bup's merge_into keeps its cursors
 * in an array sorted in descending order and re-inserts the cursor it
 * consumed with a binary search; duplicates therefore come out in an
 * order that only that procedure gives, and `which` records it), the
 * same idx name list, and the same `midx --auto`/`-f` policy.
 */
#include "store/midx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/file.h"
#include "store/idx.h"
#include "store/idxsum.h"
#include "util/tmpfile.h"
#include "util/util.h"
#include "util/strv.h"

#define MIDX_HDR 12
#define MIDX_VERSION 4

#define midx_corrupt(name, ...) err_corrupt(name, "midx", __VA_ARGS__)

/* The top `bits` bits of an id as a big-endian u32 (bup's extract_bits). */
static inline uint32_t midx_prefix(const unsigned char *sha, uint32_t bits)
{
	/* bits == 0: a single bucket; avoid the undefined shift by 32. */
	return bits ? get_be32(sha) >> (32 - bits) : 0;
}

int midx_parse(struct midx_file *m, const char *name, const void *buf,
	       size_t len)
{
	const unsigned char *p = buf;
	uint32_t version, bits, nfan, prev = 0;
	uint64_t fan_bytes, need;
	size_t i;
	int ret;

	memset(m, 0, sizeof(*m));
	if (len < MIDX_HDR)
		return midx_corrupt(name, "file too short (%zu bytes)", len);
	if (memcmp(p, "MIDX", 4))
		return midx_corrupt(name, "bad magic");
	version = get_be32(p + 4);
	if (version != MIDX_VERSION)
		return midx_corrupt(name, "unsupported version %u (want %d)",
				    version, MIDX_VERSION);
	bits = get_be32(p + 8);
	/*
	 * bup derives bits from the object count (one bucket per ~205
	 * ids), so 2^bits x 4 fanout bytes never exceeds the file; bits
	 * above 31 cannot be addressed with a u32 prefix at all.
	 */
	if (bits > 31)
		return midx_corrupt(name, "bits %u out of range", bits);
	nfan = (uint32_t)1 << bits;
	fan_bytes = (uint64_t)nfan * 4;
	if (fan_bytes > len - MIDX_HDR)
		return midx_corrupt(name, "fanout (%u entries) beyond end of "
				    "file (%zu bytes)", nfan, len);
	for (i = 0; i < nfan; i++) {
		uint32_t v = get_be32(p + MIDX_HDR + 4 * i);
		if (v < prev)
			return midx_corrupt(name, "non-monotonic fanout at "
					    "entry %zu", i);
		prev = v;
	}
	/* nr < 2^32, so 24 * nr < 2^37: no overflow in 64 bits. */
	need = MIDX_HDR + fan_bytes + (uint64_t)prev * 24;
	if (need > len)
		return midx_corrupt(name, "%u objects need %llu bytes, file "
				    "has %zu", prev, (unsigned long long)need,
				    len);
	if (prev && need == len)
		return midx_corrupt(name, "no idx names");
	ret = idxsum_parse_names(&m->idxnames, &m->nr_idxnames, p + need,
				 len - need, name, "midx");
	if (ret < 0)
		return ret;
	m->map = p;
	m->map_len = len;
	m->bits = bits;
	m->nr = prev;
	m->fanout = p + MIDX_HDR;
	m->shas = p + MIDX_HDR + fan_bytes;
	m->which = m->shas + (size_t)prev * 20;
	m->path = xstrdup(name);
	return 0;
}

void midx_release(struct midx_file *m)
{
	if (!m)
		return;
	free(m->path);
	free(m->idxnames);
	m->path = NULL;
	m->idxnames = NULL;
	m->nr_idxnames = 0;
}

int midx_verify(const struct midx_file *m)
{
	uint32_t nfan = (uint32_t)1 << m->bits, b, i = 0;

	for (b = 0; b < nfan; b++) {
		uint32_t end = get_be32(m->fanout + 4 * (size_t)b);
		for (; i < end; i++) {
			const unsigned char *s = m->shas + (size_t)i * 20;
			uint32_t w = get_be32(m->which + (size_t)i * 4);
			if (midx_prefix(s, m->bits) != b)
				return midx_corrupt(m->path, "entry %u is in "
						    "the wrong fanout bucket",
						    i);
			if (i && memcmp(s - 20, s, 20) > 0)
				return midx_corrupt(m->path, "ordering error "
						    "at entry %u", i);
			if (w >= m->nr_idxnames)
				return midx_corrupt(m->path, "entry %u names "
						    "idx #%u of %zu", i, w,
						    m->nr_idxnames);
		}
	}
	return 0;
}

int midx_open(struct midx_file **out, const char *path)
{
	struct midx_file *m;
	uint64_t size;
	void *map;
	int fd, ret;

	*out = NULL;
	fd = idxsum_open(path, "midx", 0, &size);
	if (fd < 0)
		return fd;
	if (size < MIDX_HDR) {
		close(fd);
		return midx_corrupt(path, "file too short (%lld bytes)",
				    (long long)size);
	}
	if (size > SIZE_MAX) {
		close(fd);
		return midx_corrupt(path, "file too large");
	}
	if ((ret = idxsum_map(&map, fd, (size_t)size, 0, path)) < 0)
		return ret;
	m = xmalloc(sizeof(*m));
	ret = midx_parse(m, path, map, (size_t)size);
	if (ret < 0) {
		munmap(map, (size_t)size);
		free(m);
		return ret;
	}
	*out = m;
	return 0;
}

void midx_close(struct midx_file *m)
{
	if (!m)
		return;
	if (m->map)
		munmap((void *)m->map, m->map_len);
	midx_release(m);
	free(m);
}

int64_t midx_find(const struct midx_file *m, const struct oid *oid,
		  const char **which_name)
{
	uint32_t pfx = midx_prefix(oid->hash, m->bits);
	uint32_t lo = pfx ? get_be32(m->fanout + 4 * (size_t)(pfx - 1)) : 0;
	uint32_t hi = get_be32(m->fanout + 4 * (size_t)pfx);

	/*
	 * The fanout was checked monotonic with its last entry == nr, so
	 * lo <= hi <= nr and every probe is inside the table.  A bucket
	 * holds ~205 ids (one page): the search touches one or two pages.
	 */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(m->shas + (size_t)mid * 20, oid->hash, 20);
		if (c < 0) {
			lo = mid + 1;
		} else if (c > 0) {
			hi = mid;
		} else {
			if (which_name) {
				uint32_t w = get_be32(m->which +
						      (size_t)mid * 4);
				if (w >= m->nr_idxnames) {
					*which_name = NULL;
					return midx_corrupt(m->path,
						"entry %u names idx #%u of %zu",
						mid, w, m->nr_idxnames);
				}
				*which_name = m->idxnames[w];
			}
			return mid;
		}
	}
	return -1;
}

/* ---- writer ---------------------------------------------------------- */

/* One input stream of sorted ids: an idx, or a midx with its `which`. */
struct midx_src {
	const unsigned char *cur, *end;
	size_t stride;                  /* 20 (idx v2, midx) or 24 (idx v1) */
	const unsigned char *which;     /* midx input: its which column */
	uint32_t name_base;             /* index of its first name */
	size_t order;                   /* position in the input list */
};

/* bup's merge order: descending by first id, stable (Python sort). */
static int midx_src_cmp(const void *a, const void *b)
{
	const struct midx_src *x = *(struct midx_src *const *)a;
	const struct midx_src *y = *(struct midx_src *const *)b;
	int c = memcmp(y->cur, x->cur, 20);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * After consuming from srcs[*last] (the smallest), drop it if empty or
 * move it to its place in the descending array.  This is bup's
 * _fix_idx_order step for step (FORMAT.md 2.5): on an equal id the
 * binary search stops at the first equal cursor it probes and inserts
 * before it, which decides the order of duplicates in the output.
 */
static void midx_fix_order(struct midx_src **srcs, long *last)
{
	struct midx_src *s = srcs[*last];
	long lo, hi, mid;
	int c = 0;

	if (s->cur >= s->end) {
		srcs[*last] = NULL;
		--*last;
		return;
	}
	if (*last == 0)
		return;
	lo = *last - 1;
	mid = *last;
	hi = 0;
	while (lo >= hi) {
		mid = (lo + hi) / 2;
		c = memcmp(s->cur, srcs[mid]->cur, 20);
		if (c < 0)
			hi = mid + 1;
		else if (c > 0)
			lo = mid - 1;
		else
			break;
	}
	if (c < 0)
		mid++;
	if (mid == *last)
		return;
	memmove(&srcs[mid + 1], &srcs[mid],
		(size_t)(*last - mid) * sizeof(*srcs));
	srcs[mid] = s;
}

/* A buffered sequential writer at a file offset. */
struct midx_wbuf {
	int fd;
	uint64_t off;
	size_t len;
	unsigned char data[65536];
};

static int midx_wflush(struct midx_wbuf *w, const char *path)
{
	if (util_pwrite_full(w->fd, w->data, w->len, w->off) < 0)
		return err_errno("cannot write '%s'", path);
	w->off += w->len;
	w->len = 0;
	return 0;
}

static int midx_wadd(struct midx_wbuf *w, const void *p, size_t n,
		     const char *path)
{
	if (w->len + n > sizeof(w->data) && midx_wflush(w, path) < 0)
		return -1;
	memcpy(w->data + w->len, p, n);
	w->len += n;
	return 0;
}

/*
 * bup: pages = int(total / (4096 / 20.)) or 1; bits =
 * int(ceil(log(pages, 2))), Python's log(x, 2) being log(x) / log(2) in
 * double precision.  That quotient is off by an ulp at some powers of
 * two (2^29, 2^31, ...), which would make ceil() overshoot; but total <
 * 2^32 gives pages < 2^25, and for every pages <= 2^25 Python's value is
 * exact at powers of two and at least 2^-25 away from an integer
 * elsewhere (checked exhaustively at 2^k and 2^k +- 1), so the integer
 * ceil(log2(pages)) below is the same number without libm.  The pages
 * division itself is the same IEEE double operation as Python's.
 */
uint32_t midx_bits_for(uint64_t total)
{
	uint64_t pages = (uint64_t)((double)total / (4096.0 / 20.0));
	uint32_t bits = 0;

	if (!pages)
		pages = 1;
	while (((uint64_t)1 << bits) < pages)
		bits++;
	return bits;
}

/*
 * Open a midx input and make sure every idx it names exists beside it.
 * Returns 1 and *out, 0 if it was skipped (missing idx: warned and, if
 * rm_broken, deleted, as bup's _maybe_open_midx), or an error.
 */
static int midx_open_input(struct midx_file **out, const char *path,
			   int rm_broken, void (*log)(const char *))
{
	struct midx_file *m;
	int ret, missing = 0;

	*out = NULL;
	ret = midx_open(&m, path);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < m->nr_idxnames; i++) {
		char *p = idxsum_idx_path(path, m->idxnames[i]);
		if (access(p, F_OK) < 0) {
			buf_callf(log, "warning: midx %s refers to mssing idx "
				  "%s\n", path, m->idxnames[i]);
			missing = 1;
		}
		free(p);
	}
	if (missing) {
		midx_close(m);
		if (rm_broken) {
			buf_callf(log, "Removing incomplete midx %s\n", path);
			if (unlink(path) < 0 && errno != ENOENT)
				return err_errno("cannot remove '%s'", path);
		}
		return 0;
	}
	*out = m;
	return 1;
}

int midx_write_opts(const char *dir, const char *const *paths, size_t nr,
		    const struct midx_opts *o, char **out_path)
{
	struct idx_file **idxs = xcalloc(nr ? nr : 1, sizeof(*idxs));
	struct midx_file **midxs = xcalloc(nr ? nr : 1, sizeof(*midxs));
	struct midx_src *src = xcalloc(nr ? nr : 1, sizeof(*src));
	struct midx_src **order = xcalloc(nr ? nr : 1, sizeof(*order));
	struct buf names = BUF_INIT;
	struct midx_wbuf *wsha = NULL, *wwhich = NULL;
	unsigned char *fanout = NULL;
	char *outfile = NULL, *tmp = NULL;
	uint64_t total = 0;
	size_t nsrc = 0, nnames = 0, i;
	uint32_t bits, nfan, prefix = 0, count = 0;
	long last;
	int fd = -1, ret = 0;
	int rm_broken = o->auto_mode || o->force;

	if (out_path)
		*out_path = NULL;
	for (i = 0; i < nr; i++) {
		const char *p = paths[i];
		struct midx_src *s = &src[nsrc];
		uint32_t base = (uint32_t)nnames, n;

		if (str_ends_with(p, ".idx")) {
			ret = idx_open(&idxs[i], p);
			if (ret < 0)
				goto out;
			n = idxs[i]->nr;
			if (n) {
				s->cur = idx_nth_sha(idxs[i], 0);
				s->stride = idxs[i]->version == 1 ? 24 : 20;
			}
			idxsum_add_name(&names, p);
			nnames++;
		} else {
			ret = midx_open_input(&midxs[i], p, rm_broken, o->log);
			if (ret < 0)
				goto out;
			if (!ret)
				continue;
			n = midxs[i]->nr;
			s->cur = midxs[i]->shas;
			s->stride = 20;
			s->which = midxs[i]->which;
			for (size_t j = 0; j < midxs[i]->nr_idxnames; j++) {
				idxsum_add_name(&names, midxs[i]->idxnames[j]);
				nnames++;
			}
			/* Its which values are used as name_base + which. */
			ret = midx_verify(midxs[i]);
			if (ret < 0)
				goto out;
		}
		total += n;
		if (!n)
			continue;  /* nothing to merge (bup would read garbage) */
		s->end = s->cur + (size_t)n * s->stride;
		s->name_base = base;
		s->order = nsrc;
		order[nsrc] = s;
		nsrc++;
	}
	ret = 0;
	if (total > UINT32_MAX) {
		ret = err_set(ERR_USAGE, "too many objects for one midx "
			      "(%llu)", (unsigned long long)total);
		goto out;
	}
	buf_callf(o->debug, "midx: creating from %zu files (%llu objects).\n",
		  nr, (unsigned long long)total);
	/* bup's _do_midx "nothing to do" rules, in its order. */
	if ((o->auto_mode && total < 1024 && nr < 3) ||
	    ((o->auto_mode || o->force) && nr < 2) ||
	    (o->force && !total)) {
		buf_callf(o->debug, "midx: nothing to do.\n");
		goto out;
	}
	bits = midx_bits_for(total);
	nfan = (uint32_t)1 << bits;
	buf_callf(o->debug, "midx: table size: %llu (%u bits)\n",
		  (unsigned long long)nfan * 4, bits);

	if (o->outfile) {
		outfile = xstrdup(o->outfile);
	} else {
		/* midx-<sha1 of the input paths joined by NUL>.midx */
		struct buf j = BUF_INIT;
		struct oid id;
		char hex[OID_HEXSZ + 1];
		for (i = 0; i < nr; i++) {
			if (i)
				buf_addch(&j, '\0');
			buf_addstr(&j, paths[i]);
		}
		sha1_buf(id.hash, j.data, j.len);
		buf_release(&j);
		outfile = xstrfmt("%s/midx-%s.midx", dir, oid_to_hex(&id, hex));
	}

	if (nsrc)
		qsort(order, nsrc, sizeof(*order), midx_src_cmp);
	/* locked until committed: removed by a later writer if we die */
	fd = tmpfile_open(outfile, 0666, &tmp);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	fanout = xmalloc((size_t)nfan * 4);
	wsha = xmalloc(sizeof(*wsha));
	wwhich = xmalloc(sizeof(*wwhich));
	wsha->fd = wwhich->fd = fd;
	wsha->len = wwhich->len = 0;
	wsha->off = MIDX_HDR + (uint64_t)nfan * 4;
	wwhich->off = wsha->off + total * 20;

	last = (long)nsrc - 1;
	while (last >= 0) {
		struct midx_src *s = order[last];
		uint32_t p = midx_prefix(s->cur, bits), w;
		unsigned char wb[4];

		/* bup's merge_into: a line every 102424 ids, the first at 0 */
		if (o->progress && count % 102424 == 0)
			buf_progressf(o->progress, 0, "midx: writing %.2f%% "
				      "(%u/%u)\r", count * 100.0 / total, count,
				      (uint32_t)total);
		while (prefix < p)
			put_be32(fanout + 4 * (size_t)prefix++, count);
		w = s->name_base;
		if (s->which) {
			w += get_be32(s->which);
			s->which += 4;
		}
		put_be32(wb, w);
		if (midx_wadd(wsha, s->cur, 20, tmp) < 0 ||
		    midx_wadd(wwhich, wb, 4, tmp) < 0) {
			ret = err_last_code();
			goto out;
		}
		s->cur += s->stride;
		count++;
		midx_fix_order(order, &last);
	}
	while (prefix < nfan)
		put_be32(fanout + 4 * (size_t)prefix++, count);
	if (midx_wflush(wsha, tmp) < 0 || midx_wflush(wwhich, tmp) < 0) {
		ret = err_last_code();
		goto out;
	}
	{
		unsigned char hdr[MIDX_HDR];
		memcpy(hdr, "MIDX", 4);
		put_be32(hdr + 4, MIDX_VERSION);
		put_be32(hdr + 8, bits);
		if (util_pwrite_full(fd, hdr, sizeof(hdr), 0) < 0 ||
		    util_pwrite_full(fd, fanout, (size_t)nfan * 4,
				     MIDX_HDR) < 0 ||
		    util_pwrite_full(fd, names.data, names.len,
				     wwhich->off) < 0) {
			ret = err_errno("cannot write '%s'", tmp);
			goto out;
		}
	}
	ret = tmpfile_commit(&fd, &tmp, outfile);
	if (ret < 0)
		goto out;
	if (out_path) {
		*out_path = outfile;
		outfile = NULL;
	}
	ret = 1;
out:
	tmpfile_discard(fd, tmp);
	for (i = 0; i < nr; i++) {
		idx_close(idxs[i]);
		midx_close(midxs[i]);
	}
	free(idxs);
	free(midxs);
	free(src);
	free(order);
	free(fanout);
	free(wsha);
	free(wwhich);
	free(outfile);
	buf_release(&names);
	return ret;
}

int midx_write(const char *dir, const char *const *paths, size_t nr,
	       char **out_path)
{
	struct midx_opts o;
	int ret;

	memset(&o, 0, sizeof(o));
	ret = midx_write_opts(dir, paths, nr, &o, out_path);
	return ret < 0 ? ret : 0;
}

int midx_max_files(void)
{
	struct rlimit rl;
	long long mf;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024 - 20;
	mf = (long long)MIN(rl.rlim_cur, rl.rlim_max);
	if (mf > 32)
		mf -= 20;  /* bup's safety margin */
	else
		mf -= 6;
	if (mf > 1 << 20)
		mf = 1 << 20;
	return (int)mf;
}

/* ---- the --auto / -f policy over a directory ---------------------------- */

struct midx_ent {
	uint64_t size;
	char *name;       /* full path, as bup's glob returns it */
	double mtime;
	char **covers;    /* midx: full paths of its idx files */
	size_t nr_covers;
	int done;         /* redundant or covered */
};

static int midx_ent_by_size(const void *a, const void *b)
{
	const struct midx_ent *x = a, *y = b;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Biggest first, then newest first (bup's sort before redundancy). */
static int midx_ent_by_big_new(const void *a, const void *b)
{
	const struct midx_ent *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	if (x->mtime != y->mtime)
		return x->mtime > y->mtime ? -1 : 1;
	return 0;
}

static void midx_ent_release(struct midx_ent *e)
{
	free(e->name);
	for (size_t i = 0; i < e->nr_covers; i++)
		free(e->covers[i]);
	free(e->covers);
}

int midx_dir(const char *packdir, const struct midx_opts *o)
{
	struct midx_ent *mx = NULL, *all = NULL;
	size_t nmx = 0, mx_alloc = 0, nall = 0, all_alloc = 0, i, j;
	char **found = NULL, **already = NULL;
	size_t nfound = 0, nalready = 0, already_alloc = 0;
	size_t hwm = o->force ? 1 : 5, lwm = o->force ? 1 : 2;
	int max_files = o->max_files > 0 ? o->max_files : midx_max_files();
	int ret = 0;

	if (max_files < 5)
		max_files = 5;
	if (!(o->force && !o->auto_mode)) {
		ret = file_glob_suffix(packdir, ".midx", &found, &nfound);
		if (ret < 0)
			goto out;
		for (i = 0; i < nfound; i++) {
			struct midx_file *m;
			struct stat st;
			int r = midx_open_input(&m, found[i], 1, o->log);
			if (r < 0) {
				/*
				 * bup skips a midx with a bad header or
				 * version with a warning; do the same for any
				 * corrupt one, and leave it on disk.
				 */
				buf_callf(o->log, "Warning: skipping: %s\n",
					  err_last());
				continue;
			}
			if (!r)
				continue;
			ALLOC_GROW(mx, nmx + 1, mx_alloc);
			memset(&mx[nmx], 0, sizeof(mx[nmx]));
			mx[nmx].name = xstrdup(found[i]);
			mx[nmx].size = m->nr;
			mx[nmx].mtime = stat(found[i], &st) ? 0 :
				(double)st.st_mtim.tv_sec +
				st.st_mtim.tv_nsec / 1e9;
			mx[nmx].covers = xcalloc(m->nr_idxnames ?
						 m->nr_idxnames : 1,
						 sizeof(char *));
			for (j = 0; j < m->nr_idxnames; j++)
				mx[nmx].covers[j] = xstrfmt("%s/%s", packdir,
							    m->idxnames[j]);
			mx[nmx].nr_covers = m->nr_idxnames;
			midx_close(m);
			nmx++;
		}
		/* Python's sort is stable; make ours so too on the order read. */
		for (i = 1; i < nmx; i++) {
			struct midx_ent t = mx[i];
			for (j = i; j > 0 && midx_ent_by_big_new(&mx[j - 1],
								  &t) > 0; j--)
				mx[j] = mx[j - 1];
			mx[j] = t;
		}
		for (i = 0; i < nmx; i++) {
			int any = 0;
			for (j = 0; j < mx[i].nr_covers; j++) {
				const char *c = mx[i].covers[j];
				int seen = 0;
				for (size_t k = 0; k < nalready; k++)
					if (!strcmp(already[k], c)) {
						seen = 1;
						break;
					}
				if (!seen) {
					ALLOC_GROW(already, nalready + 1,
						   already_alloc);
					already[nalready++] = xstrdup(c);
					any = 1;
				}
			}
			if (!any) {
				buf_callf(o->debug, "'%s' is redundant\n",
					  mx[i].name);
				if (unlink(mx[i].name) < 0 && errno != ENOENT) {
					ret = err_errno("cannot remove '%s'",
							mx[i].name);
					goto out;
				}
				mx[i].done = 1;
			}
		}
	}
	for (i = 0; i < nfound; i++)
		free(found[i]);
	free(found);
	found = NULL;
	nfound = 0;
	if (nalready)
		qsort(already, nalready, sizeof(*already), strv_cmp);

	for (i = 0; i < nmx; i++) {
		if (mx[i].done)
			continue;
		ALLOC_GROW(all, nall + 1, all_alloc);
		all[nall] = mx[i];
		mx[i].name = NULL;
		mx[i].covers = NULL;
		mx[i].nr_covers = 0;
		nall++;
	}
	ret = file_glob_suffix(packdir, ".idx", &found, &nfound);
	if (ret < 0)
		goto out;
	for (i = 0; i < nfound; i++) {
		struct idx_file *ix;
		if (nalready && bsearch(&found[i], already, nalready,
					sizeof(*already), strv_cmp))
			continue;
		ret = idx_open(&ix, found[i]);
		if (ret < 0)
			goto out;
		ALLOC_GROW(all, nall + 1, all_alloc);
		memset(&all[nall], 0, sizeof(all[nall]));
		all[nall].name = xstrdup(found[i]);
		all[nall].size = ix->nr;
		idx_close(ix);
		nall++;
	}
	buf_callf(o->debug, "midx: %zu indexes; want no more than %zu.\n",
		  nall, hwm);
	if (nall <= hwm)
		buf_callf(o->debug, "midx: nothing to do.\n");
	while (nall > hwm) {
		size_t n1 = nall - lwm + 1, nnew = 0, g;
		const char **part1 = xcalloc(n1, sizeof(char *));
		struct midx_ent *made = NULL;
		size_t made_alloc = 0;

		qsort(all, nall, sizeof(*all), midx_ent_by_size);
		for (i = 0; i < n1; i++)
			part1[i] = all[i].name;
		/* do_midx_group: groups of at most max_files inputs. */
		for (g = 0; g < n1 && ret >= 0; g += (size_t)max_files) {
			size_t gn = MIN((size_t)max_files, n1 - g);
			char *made_path = NULL;
			struct midx_file *m;
			ret = midx_write_opts(packdir, part1 + g, gn, o,
					      &made_path);
			if (ret <= 0)
				continue;
			ret = midx_open(&m, made_path);
			if (ret < 0) {
				free(made_path);
				break;
			}
			ALLOC_GROW(made, nnew + 1, made_alloc);
			memset(&made[nnew], 0, sizeof(made[nnew]));
			made[nnew].size = m->nr;
			made[nnew].name = made_path;
			midx_close(m);
			nnew++;
		}
		free(part1);
		for (i = 0; i < n1; i++)
			midx_ent_release(&all[i]);
		memmove(all, all + n1, (nall - n1) * sizeof(*all));
		nall -= n1;
		for (i = 0; i < nnew; i++) {
			ALLOC_GROW(all, nall + 1, all_alloc);
			all[nall++] = made[i];
		}
		free(made);
		if (ret < 0)
			goto out;
		ret = 0;
		if (nall > hwm)
			buf_callf(o->debug, "\nStill too many indexes (%zu > "
				  "%zu).  Merging again.\n", nall, hwm);
	}
out:
	for (i = 0; i < nmx; i++)
		midx_ent_release(&mx[i]);
	free(mx);
	for (i = 0; i < nall; i++)
		midx_ent_release(&all[i]);
	free(all);
	for (i = 0; i < nfound; i++)
		free(found[i]);
	free(found);
	for (i = 0; i < nalready; i++)
		free(already[i]);
	free(already);
	return ret < 0 ? ret : 0;
}

int midx_auto(const char *packdir, int force, int max_files,
	      void (*log)(const char *msg),
	      void (*progress)(int rate_limited, const char *line))
{
	struct midx_opts o;

	memset(&o, 0, sizeof(o));
	o.auto_mode = 1;
	o.force = force;
	o.max_files = max_files;
	o.log = log;
	o.progress = progress;
	return midx_dir(packdir, &o);
}
