/*
 * Git pack index files (idx.h, FORMAT.md 2.4.1): the v1/v2 reader and
 * the v2 writer.
 *
 * The reader validates everything it later trusts before it returns, as
 * git's load_idx() does: the header and version, that the fanout never
 * decreases, that the file size matches the object count (v2: allowing
 * only whole 64-bit offset entries, at most nr - 1 of them), so lookups
 * need no bounds checks.  The one check left for lookup time is the
 * index into the 64-bit offset table, which only idx_nth_offset() reads.
 */
#include "store/idx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/util.h"

static const unsigned char idx_v2_magic[4] = { 0xff, 't', 'O', 'c' };

#define FANOUT_SIZE (256 * 4)

static int idx_corrupt(const char *name, const char *what)
{
	return err_set(ERR_CORRUPT, "%s: corrupt pack index: %s", name, what);
}

int idx_parse(struct idx_file *idx, const char *name, const void *buf,
	      size_t len)
{
	const unsigned char *map = buf;
	const unsigned char *fanout;
	uint32_t nr, prev = 0;
	int version;

	memset(idx, 0, sizeof(*idx));
	if (len < 8)
		return idx_corrupt(name, "file too small");
	if (!memcmp(map, idx_v2_magic, 4)) {
		version = (int)get_be32(map + 4);
		if (version != 2)
			/* bup's wording (git.py open_idx). */
			return err_set(ERR_CORRUPT,
				       "%s: expected idx file version 2, got %d",
				       name, version);
		fanout = map + 8;
	} else {
		/*
		 * v1 has no header; bup takes anything that sorts below the
		 * v2 magic as v1 (a v1 fanout[0] that large is impossible).
		 */
		if (memcmp(map, idx_v2_magic, 4) > 0)
			return idx_corrupt(name, "unrecognized header");
		version = 1;
		fanout = map;
	}
	if (len < (size_t)(fanout - map) + FANOUT_SIZE + 2 * OID_RAWSZ)
		return idx_corrupt(name, "file too small");
	for (int i = 0; i < 256; i++) {
		uint32_t n = get_be32(fanout + 4 * i);
		if (n < prev)
			return idx_corrupt(name, "non-monotonic fanout");
		prev = n;
	}
	nr = prev;

	if (version == 1) {
		/* fanout, nr x (u32 offset, sha), pack sha, idx sha. */
		uint64_t want = FANOUT_SIZE + (uint64_t)nr * 24 +
				2 * OID_RAWSZ;
		if ((uint64_t)len != want)
			return idx_corrupt(name,
					   "file size does not match the "
					   "object count");
		idx->shas = map + FANOUT_SIZE + 4;
		idx->offsets = map + FANOUT_SIZE;
	} else {
		/*
		 * Header, fanout, nr x (sha + crc + offset), two checksums,
		 * then up to nr - 1 64-bit offsets (the first object of a
		 * pack is at offset 12, so at most nr - 1 need one).
		 */
		uint64_t min = 8 + FANOUT_SIZE + (uint64_t)nr * 28 +
			       2 * OID_RAWSZ;
		uint64_t max = min + (nr ? (uint64_t)(nr - 1) * 8 : 0);
		uint64_t extra;

		if ((uint64_t)len < min || (uint64_t)len > max)
			return idx_corrupt(name,
					   "file size does not match the "
					   "object count");
		extra = (uint64_t)len - min;
		if (extra % 8)
			return idx_corrupt(name,
					   "partial 64-bit offset table");
		idx->shas = map + 8 + FANOUT_SIZE;
		idx->crcs = idx->shas + (size_t)nr * OID_RAWSZ;
		idx->offsets = idx->crcs + (size_t)nr * 4;
		idx->offsets64 = idx->offsets + (size_t)nr * 4;
		idx->nr_offsets64 = (size_t)(extra / 8);
	}
	idx->map = map;
	idx->map_len = len;
	idx->version = version;
	idx->nr = nr;
	idx->fanout = fanout;
	memcpy(idx->pack_checksum.hash, map + len - 2 * OID_RAWSZ, OID_RAWSZ);
	return 0;
}

int idx_open(struct idx_file **out, const char *path)
{
	struct idx_file *idx = NULL;
	struct stat st;
	void *map = MAP_FAILED;
	const char *base;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = err_errno("cannot open '%s'", path);
		if (errno == ENOENT)
			ret = ERR_NOTFOUND;
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = err_errno("cannot stat '%s'", path);
		goto out;
	}
	if (st.st_size < 8 || (uint64_t)st.st_size > SIZE_MAX) {
		ret = idx_corrupt(path, "file too small");
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		ret = err_errno("cannot mmap '%s'", path);
		goto out;
	}
	idx = xcalloc(1, sizeof(*idx));
	ret = idx_parse(idx, path, map, (size_t)st.st_size);
	if (ret < 0)
		goto out;
	idx->path = xstrdup(path);
	base = strrchr(path, '/');
	idx->name = xstrdup(base ? base + 1 : path);
	*out = idx;
	idx = NULL;
	map = MAP_FAILED;
out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	free(idx);
	close(fd);
	return ret;
}

void idx_close(struct idx_file *idx)
{
	if (!idx)
		return;
	if (idx->map)
		munmap((void *)idx->map, idx->map_len);
	free(idx->path);
	free(idx->name);
	free(idx);
}

const unsigned char *idx_nth_sha(const struct idx_file *idx, uint32_t n)
{
	if (idx->version == 1)
		return idx->shas + (size_t)n * 24;
	return idx->shas + (size_t)n * OID_RAWSZ;
}

void idx_nth_oid(const struct idx_file *idx, uint32_t n, struct oid *out)
{
	memcpy(out->hash, idx_nth_sha(idx, n), OID_RAWSZ);
}

int64_t idx_find(const struct idx_file *idx, const struct oid *oid)
{
	unsigned b = oid->hash[0];
	uint32_t lo = b ? get_be32(idx->fanout + 4 * (b - 1)) : 0;
	uint32_t hi = get_be32(idx->fanout + 4 * b);
	size_t stride = idx->version == 1 ? 24 : OID_RAWSZ;

	/* The first byte is known equal within the bucket: skip it. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(idx->shas + (size_t)mid * stride + 1,
			       oid->hash + 1, OID_RAWSZ - 1);
		if (c < 0)
			lo = mid + 1;
		else if (c > 0)
			hi = mid;
		else
			return mid;
	}
	return -1;
}

uint64_t idx_nth_offset(const struct idx_file *idx, uint32_t n)
{
	uint32_t off;

	if (idx->version == 1)
		return get_be32(idx->offsets + (size_t)n * 24);
	off = get_be32(idx->offsets + (size_t)n * 4);
	if (!(off & 0x80000000u))
		return off;
	off &= 0x7fffffffu;
	if (off >= idx->nr_offsets64) {
		err_set(ERR_CORRUPT,
			"%s: corrupt pack index: 64-bit offset index %u "
			"out of range", idx->path ? idx->path : "idx", off);
		return IDX_BAD_OFFSET;
	}
	return get_be64(idx->offsets64 + (size_t)off * 8);
}

static int idx_pos_cmp(const void *a, const void *b)
{
	const struct idx_pos *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int idx_pack_order(const struct idx_file *idx, struct idx_pos **out)
{
	struct idx_pos *pos = xcalloc(idx->nr ? idx->nr : 1, sizeof(*pos));

	*out = NULL;
	for (uint32_t i = 0; i < idx->nr; i++) {
		pos[i].n = i;
		pos[i].offset = idx_nth_offset(idx, i);
		if (pos[i].offset == IDX_BAD_OFFSET) {
			free(pos);
			return ERR_CORRUPT;
		}
	}
	qsort(pos, idx->nr, sizeof(*pos), idx_pos_cmp);
	*out = pos;
	return 0;
}

uint32_t idx_nth_crc(const struct idx_file *idx, uint32_t n)
{
	if (idx->version == 1)
		return 0;
	return get_be32(idx->crcs + (size_t)n * 4);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct idx_entry *x = a, *y = b;
	return oid_cmp(&x->oid, &y->oid);
}

/*
 * The layout of FORMAT.md 2.4.1, built in one buffer (28 bytes per
 * object plus 8 per large offset: 5.6 MB for bup's 200 000-object packs)
 * and hashed as it is assembled; one write, one fdatasync.
 */
int idx_write_v2(int fd, const char *path, struct idx_entry *entries,
		 size_t nr, const struct oid *pack_checksum)
{
	size_t nr64 = 0, size, pos;
	unsigned char *b, *p;
	uint32_t count = 0;
	int ret = 0;

	if (nr > UINT32_MAX)
		return err_set(ERR_USAGE, "%s: too many objects for an idx",
			       path);
	if (nr)
		qsort(entries, nr, sizeof(*entries), entry_cmp);
	for (size_t i = 0; i < nr; i++)
		if (entries[i].offset > 0x7fffffffu)
			nr64++;
	size = st_add(8 + FANOUT_SIZE + 2 * OID_RAWSZ,
		      st_add(st_mult(nr, 28), st_mult(nr64, 8)));
	b = xmalloc(size);
	memcpy(b, idx_v2_magic, 4);
	put_be32(b + 4, 2);

	/* Fanout: number of objects whose first byte is <= i. */
	p = b + 8;
	pos = 0;
	for (int i = 0; i < 256; i++) {
		while (pos < nr && entries[pos].oid.hash[0] == i)
			pos++, count++;
		put_be32(p + 4 * i, count);
	}
	p += FANOUT_SIZE;
	for (size_t i = 0; i < nr; i++, p += OID_RAWSZ)
		memcpy(p, entries[i].oid.hash, OID_RAWSZ);
	for (size_t i = 0; i < nr; i++, p += 4)
		put_be32(p, entries[i].crc);
	{
		unsigned char *o32 = p, *o64 = p + nr * 4;
		uint32_t k = 0;

		for (size_t i = 0; i < nr; i++) {
			uint64_t off = entries[i].offset;
			if (off > 0x7fffffffu) {
				put_be32(o32 + 4 * i, 0x80000000u | k++);
				put_be64(o64, off);
				o64 += 8;
			} else {
				put_be32(o32 + 4 * i, (uint32_t)off);
			}
		}
		p = o64;
	}
	memcpy(p, pack_checksum->hash, OID_RAWSZ);
	p += OID_RAWSZ;
	sha1_buf(p, b, (size_t)(p - b));
	if (write_full(fd, b, size) < 0)
		ret = err_errno("cannot write '%s'", path);
	else if (fdatasync(fd) < 0)
		ret = err_errno("cannot sync '%s'", path);
	free(b);
	return ret;
}

int idx_parse_names(char ***list, size_t *nr, size_t *bad, const void *buf,
		    size_t len)
{
	const char *names = buf;
	size_t count = 0, size;
	char **v, *data;

	*list = NULL;
	*nr = 0;
	if (len) {
		count = 1;
		for (size_t i = 0; i < len; i++)
			if (!names[i])
				count++;
	}
	/* (count <= len + 1, but a 32-bit size_t can still overflow) */
	if (st_mult_checked(&size, count, sizeof(char *)) ||
	    st_add_checked(&size, size, len) ||
	    st_add_checked(&size, size, 1)) {
		*bad = SIZE_MAX;
		return -1;
	}
	v = xmalloc(size);
	data = (char *)(v + count);
	if (len)
		memcpy(data, names, len);
	data[len] = '\0';
	for (size_t i = 0; i < count; i++) {
		size_t n = strlen(data);

		if (!n || memchr(data, '/', n) || !strcmp(data, ".") ||
		    !strcmp(data, "..")) {
			free(v);
			*bad = i;
			return -1;
		}
		v[i] = data;
		data += n + 1;
	}
	*list = v;
	*nr = count;
	return 0;
}
