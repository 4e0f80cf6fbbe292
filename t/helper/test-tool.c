/*
 * test-tool: small helpers the shell tests and the benchmark need and that
 * must be fast or exact (git's t/helper/test-tool).  Subcommands:
 *
 *   lcg SEED N            write N bytes of the LCG stream
 *                         (t/vectors/README.md 1)
 *   corrupt FILE OFF [X]  XOR the byte at OFF (negative: from the end) with
 *                         X (default 0xff), in place
 *   poke FILE OFF HEX     overwrite bytes at OFF (negative: from the end)
 *                         with the given hex bytes, in place
 *   peek FILE OFF N       print N bytes at OFF as hex
 *   deflate-speed [SECS]  MB/s of libdeflate and zlib, level 1, on 8 KiB
 *                         blocks of half text, half incompressible data
 *                         (bup's average chunk size; FORMAT.md 2.2)
 *   run-stats OUT CMD...  run CMD, then append "wall_s maxrss_kib user_s
 *                         sys_s" to OUT; exits with CMD's status
 *   sha1-speed [SECS]     MB/s of chunk ids, one at a time and in batches
 *   rollsum-speed [SECS]  MB/s of the chunker's rollsum scan (one core, one
 *                         stream, and two interleaved halves as hashsplit.c
 *                         scans) on incompressible bytes
 *   pack-speed PACK...    one core, on the given pack files (read into
 *                         memory first; whole passes over all of them
 *                         for at least 0.5 s of this thread's CPU time,
 *                         which is what the figures divide by): MB per
 *                         CPU second of pack bytes for each
 *                         part of a full verify -- CRC-32 and SHA-1 of
 *                         the raw bytes, inflating every object with
 *                         libdeflate and with zlib, and inflate plus the
 *                         object id (git's "type size\0" header; a
 *                         delta is inflated, not resolved or hashed);
 *                         SHA-1 of the packs three side by side, as
 *                         fsck --quick hashes them (sha1-lanes);
 *                         inflate plus ids hashed in batches through
 *                         the lanes, as full fsck hashes them
 *                         (inflate+ids); and the one-core floor of a full verify
 *                         (CRC-32 + SHA-1 + inflate and ids in
 *                         batches, one after another)
 *   gen-packs OBJDIR N PER-PACK SEED
 *                         write N distinct small blobs into packs of at most
 *                         PER-PACK objects under OBJDIR (no midx/bloom: run
 *                         cbup midx/bloom after); the bench's big repository
 *
 * Everything here is test scaffolding: it prints and exits freely.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libdeflate.h>
#include "util/oid.h"
#include "store/pack.h"
#include "store/packwriter.h"
#include "chunk/rollsum.h"
#include "store/sha1batch.h"
#include "util/util.h"
#include "util/zlib.h"
#include <zlib.h>

static const char usage_str[] =
	"usage: test-tool lcg SEED N\n"
	"   or: test-tool corrupt FILE OFFSET [XOR]\n"
	"   or: test-tool poke FILE OFFSET HEXBYTES\n"
	"   or: test-tool peek FILE OFFSET N\n"
	"   or: test-tool deflate-speed [SECONDS]\n"
	"   or: test-tool run-stats OUTFILE CMD [ARGS...]\n"
	"   or: test-tool rollsum-speed [SECONDS]\n"
	"   or: test-tool sha1-speed [SECONDS]\n"
	"   or: test-tool gen-packs OBJDIR N PER-PACK SEED\n"
	"   or: test-tool pack-speed PACK...\n";

static int usage(void)
{
	fputs(usage_str, stderr);
	return 2;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lcg_fill(uint32_t *x, unsigned char *out, size_t n)
{
	uint32_t s = *x;

	for (size_t i = 0; i < n; i++) {
		s = s * 1103515245u + 12345u;
		out[i] = (unsigned char)(s >> 16);
	}
	*x = s;
}

static int cmd_lcg(int argc, char **argv)
{
	static unsigned char out[1 << 16];
	uint32_t x;
	unsigned long long n;

	if (argc != 3)
		return usage();
	x = (uint32_t)strtoul(argv[1], NULL, 10);
	n = strtoull(argv[2], NULL, 10);
	while (n) {
		size_t k = n < sizeof(out) ? (size_t)n : sizeof(out);
		lcg_fill(&x, out, k);
		if (fwrite(out, 1, k, stdout) != k)
			return 1;
		n -= k;
	}
	return 0;
}

/*
 * Open FILE read-write and resolve OFF (negative counts from the end) to
 * an absolute offset that leaves room for `need` bytes.
 */
static int open_at(const char *path, const char *offstr, size_t need,
		   int flags, off_t *off)
{
	struct stat st;
	long long o;
	char *end;
	int fd;

	fd = open(path, flags);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "test-tool: %s: %s\n", path, strerror(errno));
		return -1;
	}
	errno = 0;
	o = strtoll(offstr, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "test-tool: bad offset '%s'\n", offstr);
		close(fd);
		return -1;
	}
	if (o < 0)
		o += st.st_size;
	if (o < 0 || (unsigned long long)o + need > (unsigned long long)st.st_size) {
		fprintf(stderr, "test-tool: offset %s (+%zu) outside %s (%lld bytes)\n",
			offstr, need, path, (long long)st.st_size);
		close(fd);
		return -1;
	}
	*off = (off_t)o;
	return fd;
}

static int cmd_corrupt(int argc, char **argv)
{
	unsigned char c;
	unsigned long x = 0xff;
	off_t off;
	int fd;

	if (argc != 3 && argc != 4)
		return usage();
	if (argc == 4)
		x = strtoul(argv[3], NULL, 0);
	if (!x || x > 0xff) {
		fprintf(stderr, "test-tool: XOR value must be 1..255\n");
		return 2;
	}
	fd = open_at(argv[1], argv[2], 1, O_RDWR, &off);
	if (fd < 0)
		return 1;
	if (pread(fd, &c, 1, off) != 1)
		goto fail;
	c ^= (unsigned char)x;
	if (pwrite(fd, &c, 1, off) != 1)
		goto fail;
	return close(fd) ? 1 : 0;
fail:
	fprintf(stderr, "test-tool: %s: %s\n", argv[1], strerror(errno));
	close(fd);
	return 1;
}

static int cmd_poke(int argc, char **argv)
{
	unsigned char bytes[256];
	size_t n, len;
	off_t off;
	int fd;

	if (argc != 4)
		return usage();
	len = strlen(argv[3]);
	if (!len || len % 2 || len / 2 > sizeof(bytes)) {
		fprintf(stderr, "test-tool: bad hex '%s'\n", argv[3]);
		return 2;
	}
	n = len / 2;
	for (size_t i = 0; i < n; i++) {
		int hi = util_hexval(argv[3][2 * i]), lo = util_hexval(argv[3][2 * i + 1]);
		if (hi < 0 || lo < 0) {
			fprintf(stderr, "test-tool: bad hex '%s'\n", argv[3]);
			return 2;
		}
		bytes[i] = (unsigned char)(hi << 4 | lo);
	}
	fd = open_at(argv[1], argv[2], n, O_RDWR, &off);
	if (fd < 0)
		return 1;
	if (pwrite(fd, bytes, n, off) != (ssize_t)n) {
		fprintf(stderr, "test-tool: %s: %s\n", argv[1], strerror(errno));
		close(fd);
		return 1;
	}
	return close(fd) ? 1 : 0;
}

static int cmd_peek(int argc, char **argv)
{
	unsigned char bytes[256];
	unsigned long n;
	off_t off;
	int fd;

	if (argc != 4)
		return usage();
	n = strtoul(argv[3], NULL, 0);
	if (!n || n > sizeof(bytes))
		return usage();
	fd = open_at(argv[1], argv[2], n, O_RDONLY, &off);
	if (fd < 0)
		return 1;
	if (pread(fd, bytes, n, off) != (ssize_t)n) {
		close(fd);
		return 1;
	}
	close(fd);
	for (unsigned long i = 0; i < n; i++)
		printf("%02x", bytes[i]);
	putchar('\n');
	return 0;
}

/*
 * Per-core deflate throughput at bup's settings (level 1, whole chunks of
 * ~8 KiB: 2^13 is bup's average blob size).  The input alternates an
 * 8 KiB block of text-like bytes (a small vocabulary, compressible about
 * 3:1) and one of LCG bytes (incompressible), so the figure is comparable
 * to a backup of mixed data.
 */
#define DS_BLOCK 8192
#define DS_NBLOCKS 1024

static void ds_fill(unsigned char *in)
{
	static const char *words[] = {
		"the ", "backup ", "of ", "a ", "file ", "system ", "is ",
		"stored ", "in ", "git ", "packs\n", "and ", "chunks ",
		"deduplicated ", "by ", "content, ",
	};
	uint32_t x = 1;

	for (size_t b = 0; b < DS_NBLOCKS; b++) {
		unsigned char *p = in + b * DS_BLOCK;
		if (b % 2) {
			lcg_fill(&x, p, DS_BLOCK);
			continue;
		}
		for (size_t j = 0; j < DS_BLOCK; ) {
			const char *w;
			unsigned char r;
			lcg_fill(&x, &r, 1);
			w = words[r % (sizeof(words) / sizeof(words[0]))];
			while (*w && j < DS_BLOCK)
				p[j++] = (unsigned char)*w++;
		}
	}
}

static int cmd_deflate_speed(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	size_t inlen = (size_t)DS_BLOCK * DS_NBLOCKS;
	size_t outcap = libdeflate_zlib_compress_bound(NULL, DS_BLOCK) + 64;
	unsigned char *in = malloc(inlen), *out = malloc(outcap);
	struct libdeflate_compressor *c;
	double t0, t, mb;
	unsigned long long done, csize;
	z_stream zs;

	if (!in || !out)
		return 1;
	if (secs <= 0)
		secs = 1.0;
	ds_fill(in);

	c = libdeflate_alloc_compressor(1);
	if (!c)
		return 1;
	done = csize = 0;
	t0 = now();
	do {
		for (size_t b = 0; b < DS_NBLOCKS; b++) {
			size_t n = libdeflate_zlib_compress(c,
				in + b * DS_BLOCK, DS_BLOCK, out, outcap);
			if (!n)
				return 1;
			csize += n;
		}
		done += inlen;
		t = now() - t0;
	} while (t < secs);
	mb = (double)done / 1e6;
	printf("libdeflate-1 %.0f MB/s ratio %.2f\n", mb / t,
	       (double)done / (double)csize);
	libdeflate_free_compressor(c);

	memset(&zs, 0, sizeof(zs));
	/* bup: zlib.compressobj(1): window 15, memLevel 8, default strategy */
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 1;
	done = csize = 0;
	t0 = now();
	do {
		for (size_t b = 0; b < DS_NBLOCKS; b++) {
			deflateReset(&zs);
			zs.next_in = in + b * DS_BLOCK;
			zs.avail_in = DS_BLOCK;
			zs.next_out = out;
			zs.avail_out = (uInt)outcap;
			if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
				return 1;
			csize += zs.total_out;
		}
		done += inlen;
		t = now() - t0;
	} while (t < secs);
	deflateEnd(&zs);
	mb = (double)done / 1e6;
	printf("zlib-1 %.0f MB/s ratio %.2f\n", mb / t,
	       (double)done / (double)csize);

	free(in);
	free(out);
	return 0;
}

/*
 * Run a command and record what /usr/bin/time -f would, without needing
 * the `time` package: wall seconds, peak RSS in KiB (ru_maxrss of the
 * waited-for children), user and system seconds.
 */
static int cmd_run_stats(int argc, char **argv)
{
	struct rusage ru;
	double t0, wall;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 3)
		return usage();
	t0 = now();
	pid = fork();
	if (pid < 0) {
		perror("test-tool: fork");
		return 1;
	}
	if (!pid) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "test-tool: cannot run %s: %s\n", argv[2],
			strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("test-tool: wait4");
			return 1;
		}
	}
	wall = now() - t0;
	f = fopen(argv[1], "a");
	if (!f) {
		fprintf(stderr, "test-tool: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fprintf(f, "%.3f %ld %.3f %.3f\n", wall, ru.ru_maxrss,
		(double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	if (fclose(f))
		return 1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * The chunker's per-core ceiling: rollsum_scan() over a 4 MiB buffer of
 * LCG bytes, restarting after each split as hashsplit.c does, and the
 * same with rollsum_scan2() over two halves (what hashsplit.c uses on
 * long ranges).
 */
/*
 * MB/s of blob ids over 8 MiB cut into chunks of bup's size distribution
 * (geometric, mean 8 KiB, at most 32 KiB): one at a time through
 * OpenSSL, then in batches of 64 (sha1batch).
 */
static int cmd_sha1_speed(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	size_t len = (size_t)8 << 20, nr = 0, alloc = 0;
	unsigned char *buf = malloc(len);
	struct sha1batch_job *jobs = NULL;
	struct oid *ids;
	uint32_t seed = 7;
	double t0, t;

	if (!buf)
		return 1;
	if (secs <= 0)
		secs = 1.0;
	lcg_fill(&seed, buf, len);
	for (size_t at = 0; at < len;) {
		size_t n = 1;

		while (n < 32768 && (seed = seed * 1103515245u + 12345u,
				     (seed >> 16) % 8192))
			n++;
		n = MIN(n, len - at);
		ALLOC_GROW(jobs, nr + 1, alloc);
		jobs[nr++] = (struct sha1batch_job){ buf + at, n, NULL,
						     OBJ_BLOB };
		at += n;
	}
	ids = xcalloc(nr, sizeof(*ids));
	for (size_t i = 0; i < nr; i++)
		jobs[i].out = &ids[i];
	for (int simd = 0; simd <= 1; simd++) {
		unsigned long long done = 0;
		int was = sha1batch_set_simd(simd);

		t0 = now();
		do {
			for (size_t i = 0; i < nr; i += 64)
				sha1batch_hash(OBJ_BLOB, jobs + i,
					       MIN((size_t)64, nr - i));
			done += len;
			t = now() - t0;
		} while (t < secs);
		printf("sha1-%s %.0f MB/s chunks %zu\n",
		       simd ? "batch" : "openssl", (double)done / 1e6 / t, nr);
		sha1batch_set_simd(was);
	}
	free(ids);
	free(jobs);
	free(buf);
	return 0;
}

static void count_hit(void *ctx, size_t n, int bits)
{
	(void)n, (void)bits;
	++*(unsigned long long *)ctx;
}

static int cmd_rollsum_speed(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	size_t len = (size_t)4 << 20, mid = len / 2;
	unsigned char *buf = malloc(len);
	uint32_t seed = 42;
	unsigned long long done, splits;
	double t0, t;
	int bits;

	if (!buf)
		return 1;
	if (secs <= 0)
		secs = 1.0;
	lcg_fill(&seed, buf, len);

	done = splits = 0;
	t0 = now();
	do {
		size_t from = 64, r;

		while ((r = rollsum_scan(buf, from, len, &bits))) {
			splits++;
			from = r < 64 ? 64 : r;
		}
		done += len;
		t = now() - t0;
	} while (t < secs);
	printf("rollsum-1 %.0f MB/s splits %llu\n", (double)done / 1e6 / t,
	       splits);

	done = splits = 0;
	t0 = now();
	do {
		size_t a = 64, b = mid + 64, r;

		while (rollsum_scan2(buf, &a, mid, &b, len, &bits))
			splits++;
		while (a < mid && (r = rollsum_scan(buf, a, mid, &bits))) {
			splits++;
			a = r;
		}
		while (b < len && (r = rollsum_scan(buf, b, len, &bits))) {
			splits++;
			b = r;
		}
		done += len;
		t = now() - t0;
	} while (t < secs);
	printf("rollsum-2 %.0f MB/s splits %llu\n", (double)done / 1e6 / t,
	       splits);

	done = splits = 0;
	t0 = now();
	do {
		rollsum_scan_all(buf, 64, len, count_hit, &splits);
		done += len;
		t = now() - t0;
	} while (t < secs);
	printf("rollsum-all %.0f MB/s splits %llu\n",
	       (double)done / 1e6 / t, splits);
	free(buf);
	return 0;
}

/*
 * Many small distinct blobs, fast: a repository that already holds
 * millions of objects in thousands of packs (the bench's "big repo").
 * Each blob is "cbup bench object SEED I" plus 24 LCG bytes, so two
 * seeds never collide and the zlib stream stays tiny.
 */
static int cmd_gen_packs(int argc, char **argv)
{
	struct packwriter_opts po = { 0 };
	struct packwriter *w;
	unsigned long long n, per, seed;
	uint32_t x;
	char blob[96];
	struct oid oid;

	if (argc != 5)
		return usage();
	n = strtoull(argv[2], NULL, 10);
	per = strtoull(argv[3], NULL, 10);
	seed = strtoull(argv[4], NULL, 10);
	if (!per)
		return usage();
	x = (uint32_t)seed;
	po.level = 1;
	po.max_objects = per;
	po.no_upkeep = 1;
	if (packwriter_new(&w, argv[1], NULL, &po)) {
		fprintf(stderr, "test-tool: cannot write packs in %s\n", argv[1]);
		return 1;
	}
	for (unsigned long long i = 0; i < n; i++) {
		int l = snprintf(blob, sizeof(blob), "cbup bench object %llu %llu\n",
				 seed, i);

		lcg_fill(&x, (unsigned char *)blob + l, 24);
		if (packwriter_write(w, OBJ_BLOB, blob, (size_t)l + 24, &oid)) {
			fprintf(stderr, "test-tool: pack write failed\n");
			packwriter_abort(w);
			return 1;
		}
	}
	if (packwriter_close(w)) {
		fprintf(stderr, "test-tool: closing the pack failed\n");
		return 1;
	}
	return 0;
}

/* ---- pack-speed ---------------------------------------------------- */

/*
 * This thread's CPU time: a machine's limit, which neighbours' load on a
 * shared machine does not lower (it does lower wall-clock figures).
 */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct ps_pack {
	unsigned char *data;
	size_t len;
};

/*
 * One pass over every object of every pack, in file order.  mode 0:
 * libdeflate inflate; 1: zlib inflate; 2: libdeflate inflate and the
 * object id.  Each stream's end comes from the inflater itself, so this
 * needs no idx.  Returns the number of objects, or -1 on a bad pack.
 */
/* Inflated objects whose ids are hashed a batch at a time, as fsck does. */
#define PS_BATCH_OBJS 128

struct ps_batch {
	unsigned char *data;
	size_t len, cap, nr;
	struct {
		enum obj_type type;
		size_t start, len;
	} o[PS_BATCH_OBJS];
	struct oid ids[PS_BATCH_OBJS];
	struct sha1batch_job jobs[PS_BATCH_OBJS];
};

static void ps_batch_flush(struct ps_batch *b)
{
	for (size_t i = 0; i < b->nr; i++)
		b->jobs[i] = (struct sha1batch_job){
			b->data + b->o[i].start, b->o[i].len, &b->ids[i],
			b->o[i].type };
	sha1batch_hash_typed(b->jobs, b->nr);
	b->nr = 0;
	b->len = 0;
}

static long long ps_walk(const struct ps_pack *packs, int nr, int mode,
			 struct libdeflate_decompressor *d, z_stream *zs,
			 unsigned char **out, size_t *outcap)
{
	struct sha1_ctx sha = { NULL };
	struct ps_batch *b = mode == 3 ? xcalloc(1, sizeof(*b)) : NULL;
	long long objs = 0;

	sha1_init(&sha);
	for (int i = 0; i < nr; i++) {
		const unsigned char *p = packs[i].data;
		size_t end = packs[i].len - OID_RAWSZ, at = 12;
		uint32_t n = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
			     (uint32_t)p[10] << 8 | p[11];

		for (uint32_t k = 0; k < n; k++) {
			enum obj_type type;
			uint64_t size;
			size_t hl = pack_decode_header(p + at, end - at, &type,
						       &size), used = 0;

			if (!hl)
				return -1;
			at += hl;
			if (type == OBJ_REF_DELTA) {
				at += OID_RAWSZ;
			} else if (type == OBJ_OFS_DELTA) {
				while (at < end && (p[at] & 0x80))
					at++;
				at++;
			}
			if (at >= end)
				return -1;
			if (size + 1 > *outcap) {
				*outcap = (size_t)size + 1;
				free(*out);
				*out = malloc(*outcap);
				if (!*out)
					return -1;
			}
			if (mode == 1) {
				inflateReset(zs);
				zs->next_in = (unsigned char *)p + at;
				zs->avail_in = (uInt)MIN(end - at, (size_t)UINT32_MAX);
				zs->next_out = *out;
				zs->avail_out = (uInt)size + 1;
				if (inflate(zs, Z_FINISH) != Z_STREAM_END ||
				    zs->total_out != size)
					return -1;
				used = zs->total_in;
			} else if (mode == 3 && type >= OBJ_COMMIT &&
				   type <= OBJ_BLOB) {
				if (b->len + size + 1 > b->cap) {
					b->cap = b->len + (size_t)size + (1 << 20);
					b->data = xrealloc(b->data, b->cap);
				}
				if (libdeflate_zlib_decompress_ex(d, p + at,
						end - at, b->data + b->len,
						(size_t)size, &used, NULL) !=
				    LIBDEFLATE_SUCCESS)
					return -1;
				b->o[b->nr].type = type;
				b->o[b->nr].start = b->len;
				b->o[b->nr++].len = (size_t)size;
				b->len += (size_t)size;
				if (b->nr == PS_BATCH_OBJS || b->len >= 1 << 20)
					ps_batch_flush(b);
			} else {
				if (libdeflate_zlib_decompress_ex(d, p + at,
						end - at, *out, (size_t)size,
						&used, NULL) != LIBDEFLATE_SUCCESS)
					return -1;
				if (mode == 2 && type >= OBJ_COMMIT &&
				    type <= OBJ_BLOB) {
					struct oid id;

					oid_hash_object_ctx(&sha, &id, type,
							    *out, (size_t)size);
				}
			}
			at += used;
			objs++;
		}
		if (at != end)
			return -1;
	}
	if (b) {
		ps_batch_flush(b);
		free(b->data);
		free(b);
	}
	sha1_release(&sha);
	return objs;
}

/*
 * SHA-1 of whole packs three side by side, as fsck --quick's workers
 * hash them: a lane takes the next pack when its own is done.
 */
static void ps_sha1_lanes(const struct ps_pack *packs, int nr)
{
	struct sha1batch_stream s[3], *sp[3] = { NULL };
	const unsigned char *p[3] = { NULL };
	size_t left[3] = { 0 };
	unsigned char sum[OID_RAWSZ];
	int n = 0, next = 0;

	for (;;) {
		size_t k = SIZE_MAX;

		while (n < 3 && next < nr) {
			left[n] = packs[next].len;
			p[n] = packs[next++].data;
			sha1batch_stream_init(&s[n++]);
		}
		for (int i = 0; i < n;) {
			if (left[i] >= 64) {
				k = MIN(k, left[i] / 64);
				sp[i] = &s[i];
				i++;
				continue;
			}
			sha1batch_stream_final(&s[i], p[i], left[i], sum);
			sha1batch_stream_release(&s[i]);
			n--;
			s[i] = s[n], p[i] = p[n], left[i] = left[n];
		}
		if (!n)
			return;
		sha1batch_stream_blocks(sp, p, n, k);
		for (int i = 0; i < n; i++) {
			p[i] += k * 64;
			left[i] -= k * 64;
		}
	}
}

static int cmd_pack_speed(int argc, char **argv)
{
	static const char *const names[] = {
		"crc32", "sha1", "inflate-libdeflate", "inflate-zlib",
		"inflate+id", "sha1-lanes", "inflate+ids",
	};
	int nr = argc - 1;
	struct ps_pack *packs = xcalloc(nr > 0 ? (size_t)nr : 1,
					sizeof(*packs));
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	unsigned char *out = NULL, sum[OID_RAWSZ];
	size_t outcap = 0;
	double total = 0, mbps[ARRAY_SIZE(names)];
	long long objs = 0;
	z_stream zs;

	if (nr < 1)
		return usage();
	memset(&zs, 0, sizeof(zs));
	if (!d || inflateInit(&zs) != Z_OK)
		return 1;
	for (int i = 0; i < nr; i++) {
		struct stat st;
		int fd = open(argv[i + 1], O_RDONLY);

		if (fd < 0 || fstat(fd, &st) < 0 ||
		    st.st_size < 12 + OID_RAWSZ) {
			fprintf(stderr, "test-tool: cannot read %s\n",
				argv[i + 1]);
			return 1;
		}
		packs[i].len = (size_t)st.st_size;
		packs[i].data = malloc(packs[i].len);
		if (!packs[i].data ||
		    pread_full(fd, packs[i].data, packs[i].len, 0) < 0 ||
		    memcmp(packs[i].data, "PACK", 4)) {
			fprintf(stderr, "test-tool: %s is not a pack\n",
				argv[i + 1]);
			return 1;
		}
		close(fd);
		total += (double)packs[i].len;
	}
	for (int m = 0; m < (int)ARRAY_SIZE(names); m++) {
		double t0 = cpu_now(), t;
		int passes = 0;

		/* whole passes until half a CPU second has gone by */
		do {
			for (int i = 0; i < nr; i++) {
				if (m == 0)
					zlib_crc32(0, packs[i].data,
						   packs[i].len);
				else if (m == 1)
					sha1_buf(sum, packs[i].data,
						 packs[i].len);
			}
			if (m == 5)
				ps_sha1_lanes(packs, nr);
			if ((m >= 2 && m <= 4) || m == 6)
				objs = ps_walk(packs, nr, m == 2 ? 0 :
					       m == 3 ? 1 : m == 4 ? 2 : 3, d,
					       &zs, &out, &outcap);
			if (objs < 0) {
				fprintf(stderr, "test-tool: bad object in "
					"the packs\n");
				return 1;
			}
			passes++;
			t = cpu_now() - t0;
		} while (t < 0.5);
		mbps[m] = passes * total / 1e6 / (t > 0 ? t : 1e-9);
	}
	printf("packs %d objects %lld MB %.1f", nr, objs, total / 1e6);
	for (int m = 0; m < (int)ARRAY_SIZE(names); m++)
		printf(" %s %.0f", names[m], mbps[m]);
	/* the parts one after another, as one thread of a full verify */
	printf(" floor %.0f\n", 1 / (1 / mbps[0] + 1 / mbps[1] + 1 / mbps[6]));
	inflateEnd(&zs);
	libdeflate_free_decompressor(d);
	for (int i = 0; i < nr; i++)
		free(packs[i].data);
	free(packs);
	free(out);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "lcg", cmd_lcg },
		{ "corrupt", cmd_corrupt },
		{ "poke", cmd_poke },
		{ "peek", cmd_peek },
		{ "deflate-speed", cmd_deflate_speed },
		{ "run-stats", cmd_run_stats },
		{ "rollsum-speed", cmd_rollsum_speed },
		{ "sha1-speed", cmd_sha1_speed },
		{ "gen-packs", cmd_gen_packs },
		{ "pack-speed", cmd_pack_speed },
	};

	if (argc >= 2)
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn(argc - 1, argv + 1);
	return usage();
}
