/*
 * bup fsck's checks (fsck.h): pack verification against the idx
 * (FORMAT.md 2.2, 2.4.1) and bup's par2 handling.  External programs
 * run through proc_run() (posix_spawnp), never a shell.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "pipelines/fsck.h"
#include "store/idx.h"
#include "util/oid.h"
#include "store/pack.h"
#include "store/sha1batch.h"
#include "util/proc.h"
#include "util/tmpfile.h"
#include "util/util.h"
#include "util/zlib.h"
#include "util/strv.h"

const char *const fsck_par2_suffix[FSCK_PAR2_NR] = {
	".par2", ".vol000+200.par2",
};

enum fsck_par2_status fsck_par2_status(const char *stem, unsigned *empty,
				       unsigned *missing)
{
	*empty = *missing = 0;
	for (int i = 0; i < FSCK_PAR2_NR; i++) {
		char *path = xstrfmt("%s%s", stem, fsck_par2_suffix[i]);
		struct stat st;

		/* bup: only FileNotFoundError counts as missing */
		if (stat(path, &st) < 0)
			*missing |= errno == ENOENT ? 1u << i : 0;
		else if (!st.st_size)
			*empty |= 1u << i;
		free(path);
	}
	if (*empty)
		return FSCK_PAR2_BAD;
	if (*missing == (1u << FSCK_PAR2_NR) - 1)
		return FSCK_PAR2_NONE;
	return *missing ? FSCK_PAR2_BAD : FSCK_PAR2_OK;
}

/* ---- child processes -------------------------------------------- */

/*
 * Run argv (PATH search) in cwd (NULL: ours), stdin inherited.  Its
 * stdout goes to out, its stderr to err, or to out as well when err is
 * NULL (one pipe: the bytes keep the order they were written in).  The
 * exit status (128 + signal for a signal), or a negative error when it
 * could not be started (ERR_NOTFOUND: not on PATH).
 */
static int fsck_spawn(const char *const *argv, const char *cwd,
		      struct buf *out, struct buf *err)
{
	struct proc_fd fds[2] = { { 1, out, -1 }, { 2, err ? err : out, -1 } };
	int status, ret = proc_run(argv, cwd, fds, 2, &status);

	return ret < 0 ? ret : status;
}

int fsck_par2_found(void)
{
	static const char *const argv[] = { "par2", "--help", NULL };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), status, ret;
	struct proc_fd fds[3] = {
		{ 0, NULL, null }, { 1, NULL, null }, { 2, NULL, null },
	};

	/* bup: stdin, stdout and stderr to /dev/null; the status is not used */
	if (null < 0)
		return 0;
	ret = proc_run(argv, NULL, fds, 3, &status);
	close(null);
	return ret == 0;
}

/* Remove dir's entries (not recursively) and dir itself. */
static void fsck_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			char *p;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			p = xstrfmt("%s/%s", dir, de->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

int fsck_par2_probe(int *parallel, struct buf *out, struct buf *err)
{
	const char *argv[6];
	const char *tmp = getenv("TMPDIR");
	char *dir, *canary = NULL;
	int fd, ret;

	*parallel = 0;
	dir = xstrfmt("%s/bup-fsckXXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ret = err_errno("cannot create a temporary directory in '%s'",
				tmp && *tmp ? tmp : "/tmp");
		free(dir);
		return ret;
	}
	canary = xstrfmt("%s/canary", dir);
	fd = open(canary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 || write_full(fd, "canary\n", 7) < 0) {
		ret = err_errno("cannot write '%s'", canary);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	argv[0] = "par2";
	argv[1] = "create";
	argv[2] = "-qq";
	argv[3] = "-t1";
	argv[4] = canary;
	argv[5] = NULL;
	ret = fsck_spawn(argv, NULL, out, err);
	if (ret >= 0) {
		*parallel = ret == 0;
		ret = 0;
	}
out:
	fsck_remove_dir(dir);
	free(canary);
	free(dir);
	return ret;
}

/*
 * bup's par2(): "par2 ACTION -q|-qq [-t1] ARGS...", its output kept in
 * r->output.  Returns the exit status; one that could not be started
 * is reported as 127 with the message in r->error, as a shell would.
 */
static int fsck_par2(const struct fsck_opts *o, struct fsck_result *r,
		     const char *action, const char *const *args,
		     int verb_floor, const char *cwd)
{
	const char *argv[16];
	size_t n = 0;
	int ret;

	argv[n++] = "par2";
	argv[n++] = action;
	argv[n++] = o->verbose >= verb_floor && !o->stderr_tty ? "-q" : "-qq";
	if (o->par2_parallel)
		argv[n++] = "-t1";
	while (*args && n < ARRAY_SIZE(argv) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	r->used_par2 = 1;
	ret = fsck_spawn(argv, cwd, &r->output, NULL);
	if (ret < 0) {
		free(r->error);
		r->error = xstrdup(err_last());
		ret = 127;
	}
	return ret;
}

/* ---- verification ----------------------------------------------- */

/*
 * --quick: the SHA-1 of each pack against its trailer (bup's
 * quick_verify).  A pack is one serial SHA-1 stream, bound by the
 * latency of the round instructions, so a worker hashes up to three
 * packs side by side (store/sha1batch.h): about twice the bytes per
 * core of one stream.  Each pack is read in pieces of whole blocks,
 * small enough that three lanes' pieces stay in the core's L2 cache
 * between the read and the hash (128 KiB: 0.17 s on the bench's 756 MB,
 * 1 MiB: 0.19 s).
 */
#define QUICK_READ ((size_t)128 << 10)

struct quick_pack {
	char *path;
	int fd;
	uint64_t read, end;            /* read so far; the trailer's offset */
	unsigned char want[OID_RAWSZ];
	unsigned char *buf;
	size_t pos, have;              /* buf[pos, have): read, not hashed */
	struct sha1batch_stream sha;
};

static void quick_close(struct quick_pack *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	free(q->path);
	sha1batch_stream_release(&q->sha);
	q->fd = -1;
	q->buf = NULL;
	q->path = NULL;
}

static int quick_open(struct quick_pack *q, const char *stem)
{
	struct stat st;
	int ret;

	memset(q, 0, sizeof(*q));
	q->path = xstrfmt("%s.pack", stem);
	q->fd = open(q->path, O_RDONLY | O_CLOEXEC);
	if (q->fd < 0)
		return err_errno("cannot open '%s'", q->path);
	if (fstat(q->fd, &st) < 0)
		return err_errno("cannot stat '%s'", q->path);
	if (st.st_size < OID_RAWSZ)
		return err_set(ERR_CORRUPT, "'%s' is too short for a pack "
			       "(%lld bytes)", q->path, (long long)st.st_size);
	q->end = (uint64_t)st.st_size - OID_RAWSZ;
	ret = pread_full(q->fd, q->want, OID_RAWSZ, q->end);
	if (ret < 0)
		return err_errno("cannot read '%s'", q->path);
	q->buf = xmalloc(QUICK_READ);
	sha1batch_stream_init(&q->sha);
	return 0;
}

/*
 * 1 when q holds a whole block to hash, reading the next piece if it
 * must; 0 when all is read and less than a block is left; or an error.
 * Pieces are whole blocks but for a pack's last, so a buffer is used up
 * exactly before the next is read.
 */
static int quick_fill(struct quick_pack *q)
{
	size_t n;

	if (q->have - q->pos >= 64)
		return 1;
	if (q->read == q->end)
		return 0;
	if (q->pos != q->have)
		BUG("quick_fill: %zu bytes left over", q->have - q->pos);
	n = (size_t)MIN(q->end - q->read, (uint64_t)QUICK_READ);
	if (pread_full(q->fd, q->buf, n, q->read) < 0)
		return err_errno("cannot read '%s'", q->path);
	q->read += n;
	q->pos = 0;
	q->have = n;
	return n >= 64;
}

/* The digest of what is left, against the trailer. */
static int quick_finish(struct quick_pack *q)
{
	unsigned char got[OID_RAWSZ];
	char wh[OID_HEXSZ + 1], gh[OID_HEXSZ + 1];
	struct oid w, g;

	sha1batch_stream_final(&q->sha, q->buf + q->pos, q->have - q->pos,
			       got);
	q->pos = q->have;
	if (!memcmp(q->want, got, OID_RAWSZ))
		return 0;
	memcpy(w.hash, q->want, OID_RAWSZ);
	memcpy(g.hash, got, OID_RAWSZ);
	/* bup: 'expected %r, got %r' % (hexlify(want), hexdigest) */
	return err_set(ERR_CORRUPT, "expected b'%s', got '%s'",
		       oid_to_hex(&w, wh), oid_to_hex(&g, gh));
}

/* Hash the whole blocks that all of q[0..n) hold (each holds one). */
static void quick_hash(struct quick_pack *const q[], int n)
{
	struct sha1batch_stream *s[3] = { NULL };
	const unsigned char *p[3] = { NULL };
	size_t k = SIZE_MAX;

	for (int i = 0; i < n; i++) {
		s[i] = &q[i]->sha;
		p[i] = q[i]->buf + q[i]->pos;
		k = MIN(k, (q[i]->have - q[i]->pos) / 64);
	}
	sha1batch_stream_blocks(s, p, n, k);
	for (int i = 0; i < n; i++)
		q[i]->pos += k * 64;
}

int fsck_quick_verify(const char *stem)
{
	struct quick_pack q, *qp = &q;
	int ret = quick_open(&q, stem);

	while (!ret && (ret = quick_fill(&q)) > 0) {
		quick_hash(&qp, 1);
		ret = 0;
	}
	if (!ret)
		ret = quick_finish(&q);
	quick_close(&q);
	return ret;
}

/* How much of a pack full verification reads at once. */
#define FSCK_WINDOW ((size_t)8 << 20)

/*
 * Whole objects inflated and waiting for their ids: hashed a batch at a
 * time through sha1batch (three messages side by side, about twice one
 * stream's bytes a core), then checked in pack order.  Its contents are
 * at most FSCK_BATCH_BYTES and one object.
 */
#define FSCK_BATCH_BYTES ((size_t)1 << 20)
#define FSCK_BATCH_OBJS 128

struct fsck_pending {
	uint32_t n;             /* entry in the idx */
	enum obj_type type;
	uint64_t off;           /* in the pack */
	size_t start, len;      /* in the batch's data */
};

struct fsck_batch {
	struct pack_file *pack;
	const struct idx_file *idx;
	struct buf data;
	struct fsck_pending obj[FSCK_BATCH_OBJS];
	struct sha1batch_job jobs[FSCK_BATCH_OBJS];
	struct oid got[FSCK_BATCH_OBJS];
	size_t nr;
};

/* Hash what is pending, then check it in pack order. */
static int fsck_batch_flush(struct fsck_batch *b)
{
	int ret = 0;

	for (size_t i = 0; i < b->nr; i++)
		b->jobs[i] = (struct sha1batch_job){
			b->data.data + b->obj[i].start, b->obj[i].len,
			&b->got[i], b->obj[i].type };
	sha1batch_hash_typed(b->jobs, b->nr);
	for (size_t i = 0; i < b->nr && !ret; i++) {
		struct oid want;

		idx_nth_oid(b->idx, b->obj[i].n, &want);
		if (!oid_eq(&want, &b->got[i]))
			ret = err_set(ERR_CORRUPT, "%s: object %s: content "
				      "hashes to %s at offset %llu",
				      b->pack->path, oid_hex(&want),
				      oid_hex(&b->got[i]),
				      (unsigned long long)b->obj[i].off);
	}
	b->nr = 0;
	buf_reset(&b->data);
	return ret;
}

struct fsck_base_ctx {
	struct pack_file *pack;
	const struct idx_file *idx;
};

/* REF_DELTA bases come from the same pack, as git verify-pack wants. */
static int fsck_base(void *vctx, const struct oid *oid, enum obj_type *type,
		     struct buf *out)
{
	struct fsck_base_ctx *ctx = vctx;
	int64_t pos = idx_find(ctx->idx, oid);
	uint64_t off;

	if (pos < 0)
		return err_set(ERR_CORRUPT, "%s: delta base %s is not in the "
			       "pack", ctx->pack->path, oid_hex(oid));
	off = idx_nth_offset(ctx->idx, (uint32_t)pos);
	if (off == IDX_BAD_OFFSET)
		return ERR_CORRUPT;
	return pack_read_object(ctx->pack, off, type, out, fsck_base, ctx);
}

/* A whole object inflated into the batch; its id is checked on flush. */
static int fsck_batch_add(struct fsck_batch *b, uint32_t n, uint64_t off,
			  const unsigned char *data, size_t len,
			  const struct oid *want, uint64_t size)
{
	size_t start;
	enum obj_type type;
	int ret;

	if (size > FSCK_BATCH_BYTES && b->nr && fsck_batch_flush(b) < 0)
		return ERR_CORRUPT;
	start = b->data.len;
	ret = pack_inflate_raw(want, data, len, &b->data, &type);
	if (ret < 0) {
		/* what came before is the earlier problem, if any */
		char *why = xstrdup(err_last());

		if (fsck_batch_flush(b) >= 0)
			err_set(ret, "%s: %s at offset %llu", b->pack->path,
				why, (unsigned long long)off);
		free(why);
		return ERR_CORRUPT;
	}
	b->obj[b->nr++] = (struct fsck_pending){ n, type, off, start,
						 b->data.len - start };
	if (b->nr == FSCK_BATCH_OBJS || b->data.len >= FSCK_BATCH_BYTES)
		return fsck_batch_flush(b);
	return 0;
}

/*
 * Check one object of [off, off + len) against idx entry n: its CRC-32
 * and header now; a whole object goes into the batch, a delta is
 * resolved and checked now, after the batch, so that problems are
 * reported in pack order.
 */
static int fsck_object(struct fsck_batch *b, uint32_t n, uint64_t off,
		       const unsigned char *data, size_t len,
		       struct buf *scratch, struct sha1_ctx *sha)
{
	struct pack_file *p = b->pack;
	const struct idx_file *idx = b->idx;
	struct fsck_base_ctx bctx = { p, idx };
	enum obj_type type = OBJ_NONE;
	uint64_t size = 0;
	struct oid want, got;
	int ret = 0;

	idx_nth_oid(idx, n, &want);
	if (idx->version == 2 &&
	    zlib_crc32(0, data, len) != idx_nth_crc(idx, n))
		ret = err_set(ERR_CORRUPT, "%s: object %s at offset %llu: "
			      "CRC mismatch", p->path, oid_hex(&want),
			      (unsigned long long)off);
	else if (!pack_decode_header(data, len, &type, &size))
		ret = err_set(ERR_CORRUPT, "%s: object %s at offset %llu: "
			      "bad header", p->path, oid_hex(&want),
			      (unsigned long long)off);
	if (!ret && type >= OBJ_COMMIT && type <= OBJ_BLOB)
		return fsck_batch_add(b, n, off, data, len, &want, size);
	/* what came before is the earlier problem, if any */
	if (fsck_batch_flush(b) < 0)
		return ERR_CORRUPT;
	if (ret < 0)
		return ret;
	buf_reset(scratch);
	ret = pack_read_object(p, off, &type, scratch, fsck_base, &bctx);
	if (ret < 0)
		return ret;
	oid_hash_object_ctx(sha, &got, type, scratch->data, scratch->len);
	if (!oid_eq(&got, &want))
		return err_set(ERR_CORRUPT, "%s: object %s at offset %llu: "
			       "content hashes to %s", p->path, oid_hex(&want),
			       (unsigned long long)off, oid_hex(&got));
	return 0;
}

int fsck_full_verify(const char *stem)
{
	char *ipath = xstrfmt("%s.idx", stem), *ppath = xstrfmt("%s.pack", stem);
	struct idx_file *idx = NULL;
	struct pack_file *p = NULL;
	struct idx_pos *objs = NULL;
	struct buf win = BUF_INIT, scratch = BUF_INIT;
	struct sha1_ctx sha = { NULL }, whole = { NULL };
	struct fsck_batch *batch = xcalloc(1, sizeof(*batch));
	unsigned char sum[OID_RAWSZ], trailer[OID_RAWSZ], hdr[12];
	const unsigned char *data;
	uint64_t end, win_off = 0;
	int ret;

	sha1_init(&sha);
	if ((ret = idx_open(&idx, ipath)) < 0)
		goto out;
	sha1_buf(sum, idx->map, idx->map_len - OID_RAWSZ);
	if (memcmp(sum, idx->map + idx->map_len - OID_RAWSZ, OID_RAWSZ)) {
		ret = err_set(ERR_CORRUPT, "%s: idx checksum mismatch", ipath);
		goto out;
	}
	if ((ret = pack_open(&p, ppath)) < 0)
		goto out;
	if (p->size < 12 + OID_RAWSZ) {
		ret = err_set(ERR_CORRUPT, "%s: too short for a pack", ppath);
		goto out;
	}
	end = p->size - OID_RAWSZ;
	if (pread_full(p->fd, trailer, OID_RAWSZ, end) < 0) {
		ret = err_errno("cannot read '%s'", ppath);
		goto out;
	}
	if (memcmp(trailer, idx->pack_checksum.hash, OID_RAWSZ)) {
		ret = err_set(ERR_CORRUPT, "%s: pack checksum does not match "
			      "its idx", ppath);
		goto out;
	}
	if (p->nr != idx->nr) {
		ret = err_set(ERR_CORRUPT, "%s: %u objects, its idx lists %u",
			      ppath, p->nr, idx->nr);
		goto out;
	}
	if ((ret = idx_pack_order(idx, &objs)) < 0)
		goto out;
	/*
	 * One pass over the pack, in windows of FSCK_WINDOW bytes: the
	 * objects must tile [12, end), so the header and their bytes in
	 * offset order are the whole prefix the trailer sums, hashed as
	 * they go by instead of in a second read.
	 */
	sha1_init(&whole);
	if (pread_full(p->fd, hdr, sizeof(hdr), 0) < 0) {
		ret = err_errno("cannot read '%s'", ppath);
		goto out;
	}
	sha1_update(&whole, hdr, sizeof(hdr));
	for (uint32_t i = 0; i < idx->nr; i++) {
		uint64_t off = objs[i].offset;
		uint64_t next = i + 1 < idx->nr ? objs[i + 1].offset : end;
		uint64_t len = next - off;

		if ((i == 0 && off != 12) || next <= off || next > end) {
			ret = err_set(ERR_CORRUPT, "%s: bad offset %llu in its "
				      "idx", ppath, (unsigned long long)off);
			goto out;
		}
		if (len > PACK_MAX_VERIFY_SIZE) {
			struct oid want;

			idx_nth_oid(idx, objs[i].n, &want);
			ret = err_set(ERR_CORRUPT, "%s: object %s at offset "
				      "%llu: too large (%llu bytes)", ppath,
				      oid_hex(&want), (unsigned long long)off,
				      (unsigned long long)len);
			goto out;
		}
		if (off < win_off || next > win_off + win.len) {
			/* the next window starts here and holds this one */
			size_t want = (size_t)MIN(end - off,
				(uint64_t)MAX((uint64_t)FSCK_WINDOW, len));

			buf_reset(&win);
			buf_grow(&win, want);
			if (pread_full(p->fd, win.data, want, off) < 0) {
				ret = err_errno("cannot read '%s'", ppath);
				goto out;
			}
			buf_setlen(&win, want);
			win_off = off;
		}
		data = (unsigned char *)win.data + (off - win_off);
		sha1_update(&whole, data, (size_t)len);
		batch->pack = p;
		batch->idx = idx;
		ret = fsck_object(batch, objs[i].n, off, data, (size_t)len,
				  &scratch, &sha);
		if (ret < 0)
			goto out;
	}
	if ((ret = fsck_batch_flush(batch)) < 0)
		goto out;
	if (!idx->nr && end != 12) {
		ret = err_set(ERR_CORRUPT, "%s: garbage after the header",
			      ppath);
		goto out;
	}
	/* last, as git does: a damaged object is the better message */
	sha1_final(&whole, sum);
	if (memcmp(sum, trailer, OID_RAWSZ))
		ret = err_set(ERR_CORRUPT, "%s: pack checksum mismatch", ppath);
out:
	sha1_release(&sha);
	sha1_release(&whole);
	buf_release(&win);
	buf_release(&scratch);
	buf_release(&batch->data);
	free(batch);
	free(objs);
	pack_close(p);
	idx_close(idx);
	free(ipath);
	free(ppath);
	return ret;
}

/* ---- one pack ----------------------------------------------------- */

void fsck_result_init(struct fsck_result *r, const char *stem)
{
	memset(r, 0, sizeof(*r));
	r->stem = xstrdup(stem);
	buf_init(&r->output, 0);
}

void fsck_result_release(struct fsck_result *r)
{
	for (size_t i = 0; i < r->nr_unexpected; i++)
		free(r->unexpected[i]);
	free(r->unexpected);
	free(r->error);
	free(r->stem);
	buf_release(&r->output);
}

/* Rename dir/name to todir/name: 0, or a negative error code. */
static int move_out(const char *dir, const char *todir, const char *name)
{
	char *from = xstrfmt("%s/%s", dir, name);
	char *to = xstrfmt("%s/%s", todir, name);
	int ret = 0;

	if (rename(from, to) < 0)
		ret = err_errno("cannot rename '%s' to '%s'", from, to);
	free(from);
	free(to);
	return ret;
}

/*
 * bup's par2_generate(): par2 works in a temporary directory beside the
 * pack, on symlinks to it (par2 may leave empty files when interrupted),
 * and the index file is moved out last, to mark success.
 */
static int fsck_generate(const struct fsck_opts *o, struct fsck_result *r)
{
	const char *slash = strrchr(r->stem, '/');
	char *parent = slash ? xstrndup(r->stem, (size_t)(slash - r->stem)) :
			       xstrdup(".");
	const char *base = slash ? slash + 1 : r->stem;
	char *prefix = xstrfmt("%s-bup-tmp-", r->stem);
	char *idx = xstrfmt("%s.idx", base), *pack = xstrfmt("%s.pack", base);
	char *p2idx = xstrfmt("%s.par2", base);
	char *p2vol = xstrfmt("%s.vol000+200.par2", base);
	char *tmp = NULL;
	const char *args[7];
	DIR *d = NULL;
	struct dirent *de;
	int dfd, rc = 1;

	dfd = tmpfile_mkdir(prefix, &tmp);
	if (dfd < 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		const char *name = i ? pack : idx;
		char *target = xstrfmt("../%s", name);
		char *link = xstrfmt("%s/%s", tmp, name);
		int bad = symlink(target, link) < 0;

		if (bad)
			err_errno("cannot create '%s'", link);
		free(target);
		free(link);
		if (bad)
			goto fail;
	}
	args[0] = "-n1";
	args[1] = "-c200";
	args[2] = "--";
	args[3] = base;
	args[4] = pack;
	args[5] = idx;
	args[6] = NULL;
	rc = fsck_par2(o, r, "create", args, 2, tmp);
	if (rc)
		goto out;
	if (!(d = opendir(tmp))) {
		err_errno("cannot open '%s'", tmp);
		goto fail;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;

		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (strcmp(n, idx) && strcmp(n, pack) && strcmp(n, p2idx) &&
		    strcmp(n, p2vol)) {
			r->unexpected = xrealloc(r->unexpected,
				st_mult(r->nr_unexpected + 1,
					sizeof(*r->unexpected)));
			r->unexpected[r->nr_unexpected++] = xstrdup(n);
		}
		if (!strcmp(n, idx) || !strcmp(n, pack) || !strcmp(n, p2idx))
			continue;
		if (move_out(tmp, parent, n) < 0)
			goto fail;
	}
	if (move_out(tmp, parent, p2idx) < 0)
		goto fail;
	goto out;
fail:
	free(r->error);
	r->error = xstrdup(err_last());
	rc = 1;
out:
	if (d)
		closedir(d);
	if (tmp)
		fsck_remove_dir(tmp);
	if (dfd >= 0)
		close(dfd);
	free(tmp);
	free(parent);
	free(prefix);
	free(idx);
	free(pack);
	free(p2idx);
	free(p2vol);
	return rc;
}

/*
 * bup's do_pack() up to verification: 1 when the pack is to be verified
 * next, and fsck_pack_verified() then does the rest; 0 when r is done.
 */
static int fsck_pack_begin(const struct fsck_opts *o, struct fsck_result *r)
{
	int exists;

	r->par2 = fsck_par2_status(r->stem, &r->empty, &r->missing);
	if (r->par2 == FSCK_PAR2_BAD)
		return 0;
	exists = r->par2 == FSCK_PAR2_OK;
	r->code = 0;
	if (o->par2_ok && exists && (o->repair || !o->generate)) {
		const char *args[] = { "--", r->stem, NULL };
		int v = fsck_par2(o, r, "verify", args, 3, NULL);

		if (!v) {
			r->action = "ok";
		} else if (o->repair) {
			int rr = fsck_par2(o, r, "repair", args, 2, NULL);

			r->step = "par2 repair";
			r->action = rr ? "failed" : "repaired";
			/* bup: 100 says "repaired" (fsck.py's FIXME) */
			r->code = rr ? rr : FSCK_REPAIRED;
		} else {
			r->step = "par2 verify";
			r->action = "failed";
			r->code = v;
		}
		return 0;
	}
	if (!o->generate || (o->par2_ok && !exists))
		return 1;
	r->action = exists ? "exists" : "skipped";
	return 0;
}

/* The rest, once verification failed with error or passed (NULL). */
static void fsck_pack_verified(const struct fsck_opts *o,
			       struct fsck_result *r, const char *error)
{
	if (error) {
		r->error = xstrdup(error);
		r->step = "git verify";
		r->action = "failed";
		r->code = 1;   /* bup's quick_verify, git verify-pack */
	} else if (o->par2_ok && o->generate) {
		int p = fsck_generate(o, r);

		r->action = p ? "failed" : "generated";
		if (p) {
			r->step = "par2 create";
			r->code = p;
		}
	} else {
		r->action = "ok";
	}
}

void fsck_pack(const struct fsck_opts *o, struct fsck_result *r)
{
	int ret;

	if (!fsck_pack_begin(o, r))
		return;
	ret = o->quick ? fsck_quick_verify(r->stem) :
			 fsck_full_verify(r->stem);
	fsck_pack_verified(o, r, ret < 0 ? err_last() : NULL);
}

/* ---- all packs ---------------------------------------------------- */

struct fsck_pool {
	const struct fsck_opts *o;
	struct fsck_result *res;
	size_t nr, next;
	size_t *order;          /* the packs, largest first */
	unsigned char *done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static struct fsck_result *fsck_take(struct fsck_pool *pl)
{
	size_t i;

	pthread_mutex_lock(&pl->lock);
	i = pl->next < pl->nr ? pl->order[pl->next++] : pl->nr;
	pthread_mutex_unlock(&pl->lock);
	return i == pl->nr ? NULL : &pl->res[i];
}

static void fsck_done(struct fsck_pool *pl, struct fsck_result *r)
{
	pthread_mutex_lock(&pl->lock);
	pl->done[r - pl->res] = 1;
	pthread_cond_broadcast(&pl->cond);
	pthread_mutex_unlock(&pl->lock);
}

/*
 * --quick: up to three packs' SHA-1 streams side by side, a lane taking
 * the next pack as soon as its own is finished.
 */
static void fsck_quick_lanes(struct fsck_pool *pl)
{
	struct quick_pack q[3], *qp[3] = { NULL };
	struct fsck_result *r[3], *x;
	int n = 0;

	for (;;) {
		while (n < 3 && (x = fsck_take(pl))) {
			if (!fsck_pack_begin(pl->o, x)) {
				fsck_done(pl, x);
			} else if (quick_open(&q[n], x->stem) < 0) {
				fsck_pack_verified(pl->o, x, err_last());
				quick_close(&q[n]);
				fsck_done(pl, x);
			} else {
				r[n++] = x;
			}
		}
		if (!n)
			return;
		for (int i = 0; i < n;) {
			int ret = quick_fill(&q[i]);

			if (ret > 0) {
				qp[i] = &q[i];
				i++;
				continue;
			}
			if (!ret)
				ret = quick_finish(&q[i]);
			fsck_pack_verified(pl->o, r[i], ret < 0 ? err_last() :
					   NULL);
			quick_close(&q[i]);
			fsck_done(pl, r[i]);
			n--;
			q[i] = q[n];   /* keep the lanes in use first */
			r[i] = r[n];
		}
		if (n)
			quick_hash(qp, n);
	}
}

static void *fsck_worker(void *arg)
{
	struct fsck_pool *pl = arg;
	struct fsck_result *r;

	if (pl->o->quick) {
		fsck_quick_lanes(pl);
		return NULL;
	}
	while ((r = fsck_take(pl))) {
		fsck_pack(pl->o, r);
		fsck_done(pl, r);
	}
	return NULL;
}

struct fsck_sized {
	uint64_t size;
	size_t i;
};

static int fsck_sized_cmp(const void *a, const void *b)
{
	const struct fsck_sized *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * The order in which the workers take the packs: largest first.  A pack
 * is one serial SHA-1 stream, so a large one taken last keeps one core
 * busy while the others idle; largest-first keeps the cores' shares
 * within one small pack of each other.  Results are still reported in
 * the order given.
 */
static size_t *fsck_schedule(const struct fsck_result *res, size_t nr)
{
	struct fsck_sized *s = xcalloc(nr, sizeof(*s));
	size_t *order = xcalloc(nr, sizeof(*order));

	for (size_t i = 0; i < nr; i++) {
		char *path = xstrfmt("%s.pack", res[i].stem);
		struct stat st;

		s[i].i = i;
		s[i].size = stat(path, &st) ? 0 : (uint64_t)st.st_size;
		free(path);
	}
	qsort(s, nr, sizeof(*s), fsck_sized_cmp);
	for (size_t i = 0; i < nr; i++)
		order[i] = s[i].i;
	free(s);
	return order;
}

static int fsck_has_duplicates(const struct fsck_result *res, size_t nr)
{
	char **s = xcalloc(nr, sizeof(*s));
	int dup = 0;

	for (size_t i = 0; i < nr; i++)
		s[i] = res[i].stem;
	qsort(s, nr, sizeof(*s), strv_cmp);
	for (size_t i = 1; i < nr && !dup; i++)
		dup = !strcmp(s[i - 1], s[i]);
	free(s);
	return dup;
}

void fsck_run(const struct fsck_opts *o, struct fsck_result *res,
	      size_t nr, fsck_done_fn done, void *ctx)
{
	struct fsck_pool pl;
	pthread_t *tids;
	size_t nt = o->threads > 1 ? (size_t)o->threads : 1, started = 0;

	nt = MIN(nt, nr);
	if (nt > 1 && fsck_has_duplicates(res, nr))
		nt = 1;
	if (nt <= 1) {
		for (size_t i = 0; i < nr; i++) {
			fsck_pack(o, &res[i]);
			done(ctx, &res[i]);
		}
		return;
	}
	memset(&pl, 0, sizeof(pl));
	pl.o = o;
	pl.res = res;
	pl.nr = nr;
	pl.done = xcalloc(nr, 1);
	pl.order = fsck_schedule(res, nr);
	pthread_mutex_init(&pl.lock, NULL);
	pthread_cond_init(&pl.cond, NULL);
	tids = xcalloc(nt, sizeof(*tids));
	for (size_t i = 0; i < nt; i++)
		if (!pthread_create(&tids[started], NULL, fsck_worker, &pl))
			started++;
	if (!started)
		fsck_worker(&pl);   /* no thread: do it all here */
	for (size_t i = 0; i < nr; i++) {
		pthread_mutex_lock(&pl.lock);
		while (!pl.done[i])
			pthread_cond_wait(&pl.cond, &pl.lock);
		pthread_mutex_unlock(&pl.lock);
		done(ctx, &res[i]);
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&pl.lock);
	pthread_cond_destroy(&pl.cond);
	free(pl.done);
	free(pl.order);
	free(tids);
}
