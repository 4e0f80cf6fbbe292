/*
 * bup.bloom, version 2 (FORMAT.md 2.6): a bloom filter over the ids of
 * all idx files of a pack directory, consulted before the midx/idx
 * lookups as a "definitely absent" test.
 *
 *	"BLOM" u32 version=2 u16 bits u16 k u32 entries
 *	u8 table[2^bits]          (bits = log2 of the table size in BYTES)
 *	idx basenames joined by NUL, no trailing NUL
 *
 * The reader maps the file read-only and validates the header, k, the
 * bits range for that k, the table against the file size and the name
 * list before anything is looked up.  The writer reproduces bup's files
 * byte for byte: bup's size and k choice, its false-positive rule for
 * adding in place versus rebuilding, and the idx name order (directory
 * order, new names first when rebuilding, as bup's do_bloom).
 */
#include "store/bloom.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "store/idx.h"
#include "store/idxsum.h"
#include "util/tmpfile.h"
#include "util/util.h"

#define BLOOM_HDR 16
#define BLOOM_VERSION 2

/* bup's MAX_BLOOM_BITS: 160/k - log2(8) address bits per hash. */
static uint32_t bloom_max_bits(uint32_t k)
{
	return k == 4 ? 37 : 29;
}

#define bloom_corrupt(name, ...) err_corrupt(name, "bloom", __VA_ARGS__)

/* The 16-byte header, given the file's length. */
static int bloom_parse_header(const char *name, const unsigned char *p,
			      uint64_t len, uint32_t *bitsp, uint32_t *kp)
{
	uint32_t version, bits, k;

	if (len < BLOOM_HDR)
		return bloom_corrupt(name, "file too short (%llu bytes)",
				     (unsigned long long)len);
	if (memcmp(p, "BLOM", 4))
		return bloom_corrupt(name, "bad magic");
	version = get_be32(p + 4);
	if (version != BLOOM_VERSION)
		return bloom_corrupt(name, "unsupported version %u (want %d)",
				     version, BLOOM_VERSION);
	bits = get_be16(p + 8);
	k = get_be16(p + 10);
	if (k != 4 && k != 5)
		return bloom_corrupt(name, "k %u is not 4 or 5", k);
	/*
	 * Each of the k hashes uses 160/k bits of the id: bits + 3 of
	 * them address a bit, so bits <= 29 (k=5) or 37 (k=4).  bup calls
	 * a bloom with bits 0 invalid; bup never writes one.
	 */
	if (!bits || bits > bloom_max_bits(k))
		return bloom_corrupt(name, "bits %u out of range for k=%u",
				     bits, k);
	if (BLOOM_HDR + ((uint64_t)1 << bits) > len)
		return bloom_corrupt(name, "table of 2^%u bytes beyond end of "
				     "file (%llu bytes)", bits,
				     (unsigned long long)len);
	*bitsp = bits;
	*kp = k;
	return 0;
}

/* The idx names after the table: b->idxnames, b->nr_idxnames. */
static int bloom_parse_names(struct bloom_file *b, const char *name,
			     const unsigned char *p, size_t names_len)
{
	return idxsum_parse_names(&b->idxnames, &b->nr_idxnames, p,
				  names_len, name, "bloom");
}

int bloom_parse(struct bloom_file *b, const char *name, const void *buf,
		size_t len)
{
	const unsigned char *p = buf;
	uint32_t bits, k;
	size_t need;
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if ((ret = bloom_parse_header(name, p, len, &bits, &k)) < 0)
		return ret;
	need = BLOOM_HDR + ((size_t)1 << bits);
	if ((ret = bloom_parse_names(b, name, p + need, len - need)) < 0)
		return ret;
	b->map = (unsigned char *)p;
	b->map_len = len;
	b->writable = 0;
	b->bits = bits;
	b->k = k;
	b->entries = get_be32(p + 12);
	b->table = (unsigned char *)p + BLOOM_HDR;
	b->path = xstrdup(name);
	return 0;
}

void bloom_release(struct bloom_file *b)
{
	if (!b)
		return;
	free(b->path);
	free(b->idxnames);
	b->path = NULL;
	b->idxnames = NULL;
	b->nr_idxnames = 0;
}

/*
 * A read-only bloom larger than this is not mapped: lookups pread the
 * byte each probe needs.  Probes land at random, so a mapped table ends
 * up wholly resident (33 MB for 10 M objects), against the bounded
 * memory a save promises; a new id, the common case in a save, is
 * usually settled by its first probe (one pread of about a microsecond).
 * Smaller tables stay mapped, where a probe costs nothing.
 */
#define BLOOM_MAP_MAX ((uint64_t)8 << 20)

/*
 * Open for lookups by probing: when the table is over BLOOM_MAP_MAX,
 * read the header and names and keep fd for the probes (0).  A smaller
 * table returns 1 and fd untouched, for the caller to map.  On error
 * fd is closed.
 */
static int bloom_open_probed(struct bloom_file **out, const char *path,
			     int fd, uint64_t size)
{
	unsigned char hdr[BLOOM_HDR];
	struct bloom_file *b;
	unsigned char *names = NULL;
	uint32_t bits, k;
	uint64_t need;
	int ret;

	if (pread_full(fd, hdr, sizeof(hdr), 0) < 0) {
		ret = err_errno("cannot read '%s'", path);
		close(fd);
		return ret;
	}
	if ((ret = bloom_parse_header(path, hdr, size, &bits, &k)) < 0) {
		close(fd);
		return ret;
	}
	if (((uint64_t)1 << bits) <= BLOOM_MAP_MAX)
		return 1;
	need = BLOOM_HDR + ((uint64_t)1 << bits);
	b = xcalloc(1, sizeof(*b));
	b->fd = fd;
	if (size > need) {
		names = xmalloc((size_t)(size - need));
		if (pread_full(fd, names, (size_t)(size - need), need) < 0) {
			ret = err_errno("cannot read '%s'", path);
			goto fail;
		}
	}
	if ((ret = bloom_parse_names(b, path, names,
				     (size_t)(size - need))) < 0)
		goto fail;
	free(names);
	b->bits = bits;
	b->k = k;
	b->entries = get_be32(hdr + 12);
	b->path = xstrdup(path);
	*out = b;
	return 0;
fail:
	free(names);
	close(fd);
	free(b);
	return ret;
}

/*
 * mmap `path` (read-only, or shared read-write) and parse it; for
 * BLOOM_LOOKUP, bloom_open_probed() unless the table is small.
 */
enum { BLOOM_RO, BLOOM_RW, BLOOM_LOOKUP };

static int bloom_map(struct bloom_file **out, const char *path, int mode)
{
	struct bloom_file *b;
	uint64_t size;
	void *map;
	int rw = mode == BLOOM_RW, fd, ret;

	*out = NULL;
	fd = idxsum_open(path, "bloom", rw, &size);
	if (fd < 0)
		return fd;
	if (size < BLOOM_HDR || size > SIZE_MAX) {
		close(fd);
		return bloom_corrupt(path, "bad file size (%lld bytes)",
				     (long long)size);
	}
	if (mode == BLOOM_LOOKUP &&
	    (ret = bloom_open_probed(out, path, fd, size)) <= 0)
		return ret;
	if ((ret = idxsum_map(&map, fd, (size_t)size, rw, path)) < 0)
		return ret;
	b = xmalloc(sizeof(*b));
	ret = bloom_parse(b, path, map, (size_t)size);
	if (ret < 0) {
		munmap(map, (size_t)size);
		free(b);
		return ret;
	}
	b->writable = rw;
	*out = b;
	return 0;
}

int bloom_open(struct bloom_file **out, const char *path)
{
	return bloom_map(out, path, BLOOM_LOOKUP);
}

int bloom_open_mapped(struct bloom_file **out, const char *path)
{
	return bloom_map(out, path, BLOOM_RO);
}

void bloom_close(struct bloom_file *b)
{
	if (!b)
		return;
	if (b->map)
		munmap(b->map, b->map_len);
	if (b->fd >= 0)
		close(b->fd);
	bloom_release(b);
	free(b);
}

/*
 * Where the i-th hash of an id lands (bup's to_bloom_address_bitmask):
 * k=5 uses the 32-bit big-endian words at 0,4,..16, k=4 the 40-bit
 * words at 0,5,..15; the top `bits` bits pick the byte and the next 3
 * bits the bit.  (bup computes the k=4 mask with an int shift, which
 * only differs from this for bits > 30, i.e. a 1 GiB+ table.)
 */
static inline void bloom_addr(const unsigned char *sha, uint32_t bits,
			      uint32_t k, uint32_t i, uint64_t *byte,
			      unsigned *bit)
{
	if (k == 5) {
		uint32_t w = get_be32(sha + 4 * i);
		*byte = (w >> (32 - bits)) & (((uint64_t)1 << bits) - 1);
		*bit = (w >> (29 - bits)) & 7;
	} else {
		const unsigned char *s = sha + 5 * i;
		uint64_t w = (uint64_t)get_be32(s) << 8 | s[4];
		*byte = (w >> (40 - bits)) & (((uint64_t)1 << bits) - 1);
		*bit = (unsigned)(w >> (37 - bits)) & 7;
	}
}

/*
 * The table byte at `byte`.  A probe that cannot be read counts as a
 * set bit: "may contain" only sends the lookup on to the idx files.
 */
static inline unsigned bloom_byte(const struct bloom_file *b, uint64_t byte)
{
	unsigned char c;

	if (b->table)
		return b->table[byte];
	if (pread(b->fd, &c, 1, (off_t)(BLOOM_HDR + byte)) != 1)
		return 0xff;
	return c;
}

int bloom_may_contain(const struct bloom_file *b, const struct oid *oid)
{
	for (uint32_t i = 0; i < b->k; i++) {
		uint64_t byte;
		unsigned bit;
		bloom_addr(oid->hash, b->bits, b->k, i, &byte, &bit);
		if (!(bloom_byte(b, byte) & (1u << bit)))
			return 0;
	}
	return 1;
}

int bloom_may_contain_steps(const struct bloom_file *b,
			    const struct oid *oid, unsigned *steps)
{
	for (uint32_t i = 0; i < b->k; i++) {
		uint64_t byte;
		unsigned bit;
		bloom_addr(oid->hash, b->bits, b->k, i, &byte, &bit);
		if (!(bloom_byte(b, byte) & (1u << bit))) {
			*steps = i + 1;
			return 0;
		}
	}
	*steps = b->k;
	return 1;
}

static void bloom_add_shas(unsigned char *table, uint32_t bits, uint32_t k,
			   const unsigned char *sha, uint32_t n,
			   size_t stride)
{
	for (uint32_t j = 0; j < n; j++, sha += stride) {
		for (uint32_t i = 0; i < k; i++) {
			uint64_t byte;
			unsigned bit;
			bloom_addr(sha, bits, k, i, &byte, &bit);
			table[byte] |= (unsigned char)(1u << bit);
		}
	}
}

/*
 * bup's rule: rebuild when 100 * (1 - exp(-k n / (8 * 2^bits)))^k > 1
 * for n = entries + add.  The estimate grows with n, so for each (k,
 * bits) it is a threshold on n; the tables hold the largest n bup's own
 * double arithmetic accepts (computed with bup's formula in Python and
 * checked at +-50 around each boundary), which avoids libm and any
 * doubt about rounding at the boundary.
 */
static const uint64_t bloom_nmax5[30] = {
	0, 1, 3, 6, 12, 25, 51, 103, 207, 415, 831, 1663, 3327, 6654, 13308,
	26616, 53233, 106467, 212934, 425869, 851738, 1703477, 3406955,
	6813910, 13627820, 27255640, 54511281, 109022563, 218045127,
	436090254,
};
static const uint64_t bloom_nmax4[38] = {
	0, 1, 3, 6, 12, 24, 48, 97, 194, 389, 778, 1557, 3114, 6228, 12456,
	24912, 49824, 99648, 199297, 398595, 797191, 1594382, 3188764,
	6377529, 12755059, 25510119, 51020239, 102040479, 204080958,
	408161917, 816323835, 1632647670, 3265295341ULL, 6530590683ULL,
	13061181366ULL, 26122362733ULL, 52244725467ULL, 104489450934ULL,
};

int bloom_fp_ok(uint32_t bits, uint32_t k, uint64_t entries, uint64_t add)
{
	uint64_t n = entries + add;

	if (k == 5 && bits < ARRAY_SIZE(bloom_nmax5))
		return n <= bloom_nmax5[bits];
	if (k == 4 && bits < ARRAY_SIZE(bloom_nmax4))
		return n <= bloom_nmax4[bits];
	return 0;
}

/* floor(log2(x)) for x >= 1; equals Python's floor(log(x, 2)) for
 * every x < 2^48 (checked at 2^k and 2^k - 1), far beyond any count. */
static uint32_t bloom_floor_log2(uint64_t x)
{
	uint32_t r = 0;
	while (x >>= 1)
		r++;
	return r;
}

struct bloom_file *bloom_mem_new(uint64_t expected)
{
	struct bloom_file *b = xcalloc(1, sizeof(*b));

	/* as bloom_create() below, without the warning */
	b->bits = bloom_floor_log2((expected ? expected : 1) * 4);
	b->k = b->bits <= 29 ? 5 : 4;
	if (b->bits > bloom_max_bits(b->k))
		b->bits = bloom_max_bits(b->k);
	if (((uint64_t)1 << b->bits) > SIZE_MAX)
		BUG("bloom table too large");
	b->table = xcalloc((size_t)1 << b->bits, 1);
	b->fd = -1;
	return b;
}

void bloom_mem_free(struct bloom_file *b)
{
	if (!b)
		return;
	free(b->table);
	free(b);
}

void bloom_mem_add(struct bloom_file *b, const struct oid *oid)
{
	bloom_add_shas(b->table, b->bits, b->k, oid->hash, 1, OID_RAWSZ);
	b->entries++;
}

int bloom_has_idxname(const struct bloom_file *b, const char *name)
{
	for (size_t i = 0; i < b->nr_idxnames; i++)
		if (!strcmp(b->idxnames[i], name))
			return 1;
	return 0;
}

struct bloom_idx {
	char *path;
	uint32_t nr;
};

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The same bits as bloom_add_shas(), set in ascending order through a
 * shared mapping whose finished part is released as the walk passes it
 * (MADV_DONTNEED keeps a shared mapping's data in the page cache): the
 * random bit positions would otherwise make the whole table resident in
 * this mapping (33 MB for 10 M objects), beside the reader's mapping of
 * the same file.  Positions are taken POSITIONS_PER_PASS at a time, so
 * memory is bounded whatever the idx size.
 */
#define POSITIONS_PER_PASS ((size_t)1 << 18)
#define RELEASE_WINDOW ((uint64_t)1 << 20)

static void bloom_add_shas_sorted(unsigned char *map, size_t map_len,
				  unsigned char *table, uint32_t bits,
				  uint32_t k, const unsigned char *sha,
				  uint32_t n, size_t stride)
{
	size_t per = MAX((size_t)1, POSITIONS_PER_PASS / k);
	uint64_t *pos = xmalloc(st_mult(MIN((size_t)n, per) * k,
					sizeof(*pos)));
	long page = sysconf(_SC_PAGESIZE);
	uint64_t table_off = (uint64_t)(table - map);

	if (page <= 0)
		page = 4096;
	for (uint32_t j0 = 0; j0 < n;) {
		size_t m = 0;
		uint32_t j1 = (uint32_t)MIN((uint64_t)n, (uint64_t)j0 + per);
		uint64_t released = 0;

		for (uint32_t j = j0; j < j1; j++) {
			const unsigned char *h = sha + (size_t)j * stride;
			for (uint32_t i = 0; i < k; i++) {
				uint64_t byte;
				unsigned bit;
				bloom_addr(h, bits, k, i, &byte, &bit);
				pos[m++] = byte << 3 | bit;
			}
		}
		qsort(pos, m, sizeof(*pos), u64_cmp);
		for (size_t i = 0; i < m; i++) {
			uint64_t byte = pos[i] >> 3;
			uint64_t at = table_off + byte;
			table[byte] |= (unsigned char)(1u << (pos[i] & 7));
			/* release whole pages well behind the cursor */
			if (at >= released + 2 * RELEASE_WINDOW) {
				uint64_t end = (at - RELEASE_WINDOW) &
					       ~((uint64_t)page - 1);
				if (end > released) {
					madvise(map + released,
						(size_t)(end - released),
						MADV_DONTNEED);
					released = end;
				}
			}
		}
		if (released < map_len)
			madvise(map + released, map_len - released,
				MADV_DONTNEED);
		j0 = j1;
	}
	free(pos);
}

/*
 * Add the ids of `list` to the table of the shared mapping `map` and
 * append their names to `names`; `progress` gets bup's line before each
 * idx (`total`: the ids of the whole list).
 */
static int bloom_add_idxs(unsigned char *table, uint32_t bits, uint32_t k,
			  const struct bloom_idx *list, size_t n,
			  struct buf *names, uint64_t *entries,
			  unsigned char *shared_map, size_t map_len,
			  void (*progress)(int, const char *), uint64_t total)
{
	uint64_t done = 0;

	for (size_t i = 0; i < n; i++) {
		struct idx_file *ix;
		int ret = idx_open(&ix, list[i].path);
		if (ret < 0)
			return ret;
		/* bup divides by zero here (and dies) if no idx has ids */
		buf_progressf(progress, 1, "bloom: writing %.2f%% "
			      "(%llu/%llu objects)\r",
			      total ? done * 100.0 / total : 0.0,
			      (unsigned long long)done,
			      (unsigned long long)total);
		done += ix->nr;
		if (ix->nr && shared_map)
			bloom_add_shas_sorted(shared_map, map_len, table, bits,
					      k, idx_nth_sha(ix, 0), ix->nr,
					      ix->version == 1 ? 24 : 20);
		else if (ix->nr)
			bloom_add_shas(table, bits, k, idx_nth_sha(ix, 0),
				       ix->nr, ix->version == 1 ? 24 : 20);
		*entries += ix->nr;
		idxsum_add_name(names, list[i].path);
		idx_close(ix);
	}
	return 0;
}

static int bloom_pwrite(int fd, const void *p, size_t n, uint64_t off,
			const char *path)
{
	return util_pwrite_full(fd, p, n, off) < 0 ?
		err_errno("cannot write '%s'", path) : 0;
}

/*
 * Add in place to an existing valid bloom.  Not a rename, but
 * crash-safe and safe for concurrent readers: the table only gains set
 * bits (a reader sees more false positives at worst) and is synced
 * before the name list, and the entries count that makes readers trust
 * the filter is written last.
 */
static int bloom_add_in_place(const char *path, const struct bloom_idx *add,
			      size_t nadd, uint64_t add_count,
			      void (*progress)(int, const char *))
{
	struct bloom_file *b = NULL;
	struct buf names = BUF_INIT;
	uint64_t entries;
	unsigned char cnt[4];
	int fd = -1, ret;

	ret = bloom_map(&b, path, BLOOM_RW);
	if (ret < 0)
		return ret;
	entries = b->entries;
	for (size_t i = 0; i < b->nr_idxnames; i++)
		idxsum_add_name(&names, b->idxnames[i]);
	ret = bloom_add_idxs(b->table, b->bits, b->k, add, nadd, &names,
			     &entries, b->map, b->map_len, progress,
			     add_count);
	if (ret < 0)
		goto out;
	if (msync(b->map, b->map_len, MS_SYNC) < 0) {
		ret = err_errno("cannot sync '%s'", path);
		goto out;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = err_errno("cannot open '%s'", path);
		goto out;
	}
	put_be32(cnt, (uint32_t)entries);
	if ((ret = bloom_pwrite(fd, names.data, names.len,
				BLOOM_HDR + ((uint64_t)1 << b->bits),
				path)) < 0)
		goto out;
	if (fdatasync(fd) < 0) {
		ret = err_errno("cannot sync '%s'", path);
		goto out;
	}
	if ((ret = bloom_pwrite(fd, cnt, 4, 12, path)) < 0)
		goto out;
	if (fdatasync(fd) < 0)
		ret = err_errno("cannot sync '%s'", path);
out:
	if (fd >= 0)
		close(fd);
	bloom_close(b);
	buf_release(&names);
	return ret;
}

/* Build a new bloom for `list` into a temporary file, rename to path. */
static int bloom_create(const char *path, const struct bloom_idx *list,
			size_t n, uint64_t expected, int want_k,
			void (*log)(const char *), void (*debug)(const char *),
			void (*progress)(int, const char *))
{
	struct buf names = BUF_INIT;
	unsigned char hdr[BLOOM_HDR];
	unsigned char *map = MAP_FAILED;
	char *tmp = NULL;
	uint64_t entries = 0, size;
	uint32_t bits, k;
	int fd = -1, ret;

	/*
	 * bup: bits = floor(log2(expected * 32 // 8)); k = 5 while that
	 * fits 29 bits, else 4; capped at the k's maximum with a warning.
	 * (bup fails on 0 objects; treat that as 1.)
	 */
	bits = bloom_floor_log2((expected ? expected : 1) * 4);
	k = want_k ? (uint32_t)want_k : (bits <= 29 ? 5 : 4);
	if (bits > bloom_max_bits(k)) {
		buf_callf(log, "bloom: warning, max bits exceeded, "
			  "non-optimal\n");
		bits = bloom_max_bits(k);
	}
	buf_callf(debug, "bloom: using 2^%u bytes and %u hash functions\n",
		  bits, k);
	size = BLOOM_HDR + ((uint64_t)1 << bits);
	if (size > SIZE_MAX)
		return err_set(ERR_USAGE, "bloom of 2^%u bytes is too large",
			       bits);
	/* locked until file_commit(): removed by a later writer if we die */
	fd = tmpfile_open(path, 0666, &tmp);
	if (fd < 0)
		return fd;
	/* Reserve the blocks so a full disk is an error, not a SIGBUS. */
	ret = posix_fallocate(fd, 0, (off_t)size);
	if (ret == EOPNOTSUPP || ret == EINVAL)
		ret = ftruncate(fd, (off_t)size) < 0 ? errno : 0;
	if (ret) {
		errno = ret;
		ret = err_errno("cannot allocate '%s'", tmp);
		goto out;
	}
	map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED) {
		ret = err_errno("cannot map '%s'", tmp);
		goto out;
	}
	/* every idx at once: the table in memory, written whole */
	ret = bloom_add_idxs(map + BLOOM_HDR, bits, k, list, n, &names,
			     &entries, NULL, 0, progress, expected);
	if (ret < 0)
		goto out;
	memcpy(hdr, "BLOM", 4);
	put_be32(hdr + 4, BLOOM_VERSION);
	put_be16(hdr + 8, (uint16_t)bits);
	put_be16(hdr + 10, (uint16_t)k);
	put_be32(hdr + 12, (uint32_t)entries);
	memcpy(map, hdr, sizeof(hdr));
	if (munmap(map, (size_t)size) < 0) {
		map = MAP_FAILED;
		ret = err_errno("cannot unmap '%s'", tmp);
		goto out;
	}
	map = MAP_FAILED;
	if ((ret = bloom_pwrite(fd, names.data, names.len, size, tmp)) < 0)
		goto out;
	ret = tmpfile_commit(&fd, &tmp, path);
out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)size);
	tmpfile_discard(fd, tmp);
	buf_release(&names);
	return ret;
}

int bloom_update_ex(const char *packdir, const char *output, int k,
		    int force, void (*log)(const char *msg),
		    void (*debug)(const char *msg),
		    void (*progress)(int rate_limited, const char *line))
{
	char *outfile = output ? xstrdup(output) :
				 xstrfmt("%s/bup.bloom", packdir);
	struct bloom_file *b = NULL;
	struct bloom_idx *add = NULL, *rest = NULL;
	size_t nadd = 0, add_alloc = 0, nrest = 0, rest_alloc = 0, i;
	uint64_t add_count = 0, rest_count = 0;
	int regen = 1, ret = 0;
	DIR *d = NULL;
	struct dirent *de;
	unsigned long counted = 0;

	if (k && k != 4 && k != 5) {
		ret = err_set(ERR_USAGE, "only k values of 4 and 5 are "
			      "supported");
		goto out;
	}
	if (!force && access(outfile, F_OK) == 0) {
		if (bloom_open(&b, outfile) < 0) {
			buf_callf(debug, "bloom: Existing invalid bloom found, "
				  "regenerating.\n");
			b = NULL;
		}
	}
	/* bup's glob order is the directory's order: keep it. */
	d = opendir(packdir);
	if (!d) {
		if (errno != ENOENT)
			ret = err_errno("cannot open directory '%s'", packdir);
		goto out;
	}
	while ((de = readdir(d))) {
		struct idx_file *ix;
		struct bloom_idx e;
		if (de->d_name[0] == '.' || !str_ends_with(de->d_name, ".idx"))
			continue;
		/* bup: one line per idx, before it is opened */
		buf_progressf(progress, 0, "bloom: counting: %lu\r",
			      counted++);
		e.path = xstrfmt("%s/%s", packdir, de->d_name);
		ret = idx_open(&ix, e.path);
		if (ret < 0) {
			free(e.path);
			goto out;
		}
		e.nr = ix->nr;
		idx_close(ix);
		if (b && bloom_has_idxname(b, de->d_name)) {
			ALLOC_GROW(rest, nrest + 1, rest_alloc);
			rest[nrest++] = e;
			rest_count += e.nr;
		} else {
			ALLOC_GROW(add, nadd + 1, add_alloc);
			add[nadd++] = e;
			add_count += e.nr;
		}
	}
	closedir(d);
	d = NULL;
	if (!nadd) {
		buf_callf(debug, "bloom: nothing to do.\n");
		goto out;
	}
	if (b) {
		if (b->entries != rest_count) {
			buf_callf(debug, "bloom: size %u != idx total %llu, "
				  "regenerating\n", b->entries,
				  (unsigned long long)rest_count);
		} else if (k && (uint32_t)k != b->k) {
			buf_callf(debug, "bloom: new k %d != existing k %u, "
				  "regenerating\n", k, b->k);
		} else if (b->bits < bloom_max_bits(b->k) &&
			   !bloom_fp_ok(b->bits, b->k, b->entries, add_count)) {
			buf_callf(debug, "bloom: regenerating: adding %llu "
				  "entries gives too many false positives.\n",
				  (unsigned long long)add_count);
		} else {
			regen = 0;
		}
		bloom_close(b);
		b = NULL;
	}
	if (regen) {
		/* Need all idx files to build from scratch: new ones first. */
		for (i = 0; i < nrest; i++) {
			ALLOC_GROW(add, nadd + 1, add_alloc);
			add[nadd++] = rest[i];
		}
		add_count += rest_count;
		nrest = 0;
	}
	if (add_count + (regen ? 0 : rest_count) > UINT32_MAX) {
		ret = err_set(ERR_USAGE, "too many objects for bup.bloom");
		goto out;
	}
	buf_progressf(progress, 0, "bloom: %s %zu file%s (%llu object%s).\r",
		      regen ? "creating from" : "adding", nadd,
		      nadd != 1 ? "s" : "", (unsigned long long)add_count,
		      add_count != 1 ? "s" : "");
	if (regen)
		ret = bloom_create(outfile, add, nadd, add_count, k, log,
				   debug, progress);
	else
		ret = bloom_add_in_place(outfile, add, nadd, add_count,
					 progress);
out:
	if (d)
		closedir(d);
	bloom_close(b);
	for (i = 0; i < nadd; i++)
		free(add[i].path);
	for (i = 0; i < nrest; i++)
		free(rest[i].path);
	free(add);
	free(rest);
	free(outfile);
	return ret;
}

int bloom_update(const char *packdir, const char *output, int k, int force,
		 void (*log)(const char *msg))
{
	return bloom_update_ex(packdir, output, k, force, log, NULL, NULL);
}

int bloom_write(const char *path, const char *const *paths, size_t nr,
		int k)
{
	struct bloom_idx *list = xcalloc(nr ? nr : 1, sizeof(*list));
	uint64_t total = 0;
	int ret = 0;

	if (k && k != 4 && k != 5) {
		free(list);
		return err_set(ERR_USAGE, "only k values of 4 and 5 are "
			       "supported");
	}
	for (size_t i = 0; i < nr; i++) {
		struct idx_file *ix;
		ret = idx_open(&ix, paths[i]);
		if (ret < 0)
			goto out;
		list[i].path = (char *)paths[i];
		list[i].nr = ix->nr;
		total += ix->nr;
		idx_close(ix);
	}
	if (total > UINT32_MAX) {
		ret = err_set(ERR_USAGE, "too many objects for a bloom");
		goto out;
	}
	ret = bloom_create(path, list, nr, total, k, NULL, NULL, NULL);
out:
	free(list);
	return ret;
}

int bloom_ruin(const char *path)
{
	struct bloom_file *b;
	int ret = bloom_map(&b, path, BLOOM_RW);

	if (ret < 0)
		return ret;
	memset(b->table, 0, (size_t)1 << b->bits);
	if (msync(b->map, b->map_len, MS_SYNC) < 0)
		ret = err_errno("cannot sync '%s'", path);
	bloom_close(b);
	return ret;
}

long long bloom_check_idx(const struct bloom_file *b, const char *idxpath,
			  void (*log)(const char *msg))
{
	struct idx_file *ix;
	long long missing = 0;
	int ret = idx_open(&ix, idxpath);

	if (ret < 0)
		return ret;
	for (uint32_t i = 0; i < ix->nr; i++) {
		struct oid o;
		idx_nth_oid(ix, i, &o);
		if (!bloom_may_contain(b, &o)) {
			char hex[OID_HEXSZ + 1];
			buf_callf(log, "bloom: ERROR: object %s missing",
				  oid_to_hex(&o, hex));
			missing++;
		}
	}
	idx_close(ix);
	return missing;
}

int bloom_check(const char *path, void (*log)(const char *msg))
{
	struct bloom_file *b;
	long long missing = 0;
	int ret = bloom_open_mapped(&b, path);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < b->nr_idxnames && ret >= 0; i++) {
		char *p = idxsum_idx_path(path, b->idxnames[i]);
		long long r = bloom_check_idx(b, p, log);
		if (r < 0)
			ret = (int)r;
		else
			missing += r;
		free(p);
	}
	bloom_close(b);
	if (ret >= 0 && missing)
		ret = bloom_corrupt(path, "%lld object ids missing", missing);
	return ret;
}
