/*
 * bupindex v7 (FORMAT.md 8.1-8.3): reader, iterator, in-place updates,
 * bottom-up writer, merge and the .meta store.
 *
 * Layout reminder: header, then children blocks in the order bup's writer
 * closes directories (post-order of the walk), the last block being the
 * root entry "/" alone, then the u64 footer count.  A directory's block is
 * written before the directory's own entry, so every children_ofs points
 * backwards; the parser checks that the blocks tile the file in exactly
 * that order, which makes sharing a block or a cycle impossible and bounds
 * all later work by the file size.
 */
#include "index/bindex.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/tmpfile.h"

/* Field offsets inside the 130-byte struct (FORMAT.md 8.1). */
#define OFS_FLAGS 108
#define OFS_CHILDREN_OFS 110
#define OFS_CHILDREN_N 118

static int bytescmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, MIN(an, bn));
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int corrupt(const char *what)
{
	return err_set(ERR_CORRUPT, "bupindex is corrupt: %s", what);
}

void bindex_ent_unpack(struct bindex_ent *e, const unsigned char *p)
{
	e->dev = get_be64(p);
	e->ino = get_be64(p + 8);
	e->nlink = get_be64(p + 16);
	e->ctime_s = (int64_t)get_be64(p + 24);
	e->ctime_ns = get_be64(p + 32);
	e->mtime_s = (int64_t)get_be64(p + 40);
	e->mtime_ns = get_be64(p + 48);
	e->atime_s = (int64_t)get_be64(p + 56);
	e->atime_ns = get_be64(p + 64);
	e->size = get_be64(p + 72);
	e->mode = get_be32(p + 80);
	e->gitmode = get_be32(p + 84);
	memcpy(e->sha, p + 88, 20);
	e->flags = get_be16(p + OFS_FLAGS);
	e->children_ofs = get_be64(p + OFS_CHILDREN_OFS);
	e->children_n = get_be32(p + OFS_CHILDREN_N);
	e->meta_ofs = get_be64(p + 122);
}

void bindex_ent_pack(unsigned char *p, const struct bindex_ent *e)
{
	put_be64(p, e->dev);
	put_be64(p + 8, e->ino);
	put_be64(p + 16, e->nlink);
	put_be64(p + 24, (uint64_t)e->ctime_s);
	put_be64(p + 32, e->ctime_ns);
	put_be64(p + 40, (uint64_t)e->mtime_s);
	put_be64(p + 48, e->mtime_ns);
	put_be64(p + 56, (uint64_t)e->atime_s);
	put_be64(p + 64, e->atime_ns);
	put_be64(p + 72, e->size);
	put_be32(p + 80, e->mode);
	put_be32(p + 84, e->gitmode);
	memcpy(p + 88, e->sha, 20);
	put_be16(p + OFS_FLAGS, e->flags);
	put_be64(p + OFS_CHILDREN_OFS, e->children_ofs);
	put_be32(p + OFS_CHILDREN_N, e->children_n);
	put_be64(p + 122, e->meta_ofs);
}

int bindex_ent_sha_is_empty(const struct bindex_ent *e)
{
	static const unsigned char zero[20];
	return !memcmp(e->sha, zero, 20);
}

void bindex_ent_set_deleted(struct bindex_ent *e)
{
	if (e->flags & BINDEX_EXISTS)
		e->flags &= ~(BINDEX_EXISTS | BINDEX_HASHVALID);
}

int64_t bindex_ts_ns(int64_t s, uint64_t ns)
{
	/* Saturate rather than overflow on garbage read from disk. */
	if (s > INT64_MAX / 1000000000 - 1)
		return INT64_MAX;
	if (s < INT64_MIN / 1000000000 + 1)
		return INT64_MIN;
	if (ns >= 1000000000)
		ns = 999999999;
	return s * 1000000000 + (int64_t)ns;
}

void bindex_ns_ts(int64_t t, int64_t *s, uint64_t *ns)
{
	/* Floor division, as xstat.nsecs_to_timespec. */
	int64_t q = t / 1000000000, r = t % 1000000000;
	if (r < 0) {
		r += 1000000000;
		q--;
	}
	*s = q;
	*ns = (uint64_t)r;
}

static int64_t st_ns(const struct timespec *ts)
{
	return bindex_ts_ns(ts->tv_sec, (uint64_t)ts->tv_nsec);
}

void bindex_ent_from_stat(struct bindex_ent *e, const struct stat *st,
			  uint64_t meta_ofs, int64_t tmax)
{
	int64_t m = st_ns(&st->st_mtim), c = st_ns(&st->st_ctim);

	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->nlink = st->st_nlink;
	if (m > tmax)
		m = tmax;
	if (c > tmax)
		c = tmax;
	bindex_ns_ts(c, &e->ctime_s, &e->ctime_ns);
	bindex_ns_ts(m, &e->mtime_s, &e->mtime_ns);
	bindex_ns_ts(st_ns(&st->st_atim), &e->atime_s, &e->atime_ns);
	e->size = (uint64_t)st->st_size;
	e->mode = st->st_mode;
	e->flags |= BINDEX_EXISTS;
	e->meta_ofs = meta_ofs;
}

int64_t bindex_settle(int64_t after)
{
	for (;;) {
		struct timespec now, d;
		int64_t until;

		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > after && now.tv_nsec >= BINDEX_SETTLE_NS)
			return now.tv_sec;
		until = now.tv_sec > after ? now.tv_sec : after + 1;
		d.tv_sec = until - now.tv_sec;
		d.tv_nsec = BINDEX_SETTLE_NS - now.tv_nsec;
		if (d.tv_nsec < 0) {
			d.tv_sec--;
			d.tv_nsec += 1000000000;
		}
		nanosleep(&d, NULL);
	}
}

int64_t bindex_stat_newest_ns(const struct stat *st)
{
	int64_t m = st_ns(&st->st_mtim), c = st_ns(&st->st_ctim);

	return m > c ? m : c;
}

int bindex_ent_stale(const struct bindex_ent *e, const struct stat *st,
		     int check_device)
{
	if (e->size != (uint64_t)st->st_size)
		return 1;
	if (bindex_ts_ns(e->mtime_s, e->mtime_ns) != st_ns(&st->st_mtim))
		return 1;
	if (bindex_ent_sha_is_empty(e))
		return 1;
	if (!e->gitmode)
		return 1;
	if (bindex_ts_ns(e->ctime_s, e->ctime_ns) != st_ns(&st->st_ctim))
		return 1;
	if (e->ino != (uint64_t)st->st_ino)
		return 1;
	if (e->nlink != (uint64_t)st->st_nlink)
		return 1;
	if (!(e->flags & BINDEX_EXISTS))
		return 1;
	if (check_device && e->dev != (uint64_t)st->st_dev)
		return 1;
	return 0;
}

/* ---- reader ---------------------------------------------------------- */

struct bindex_iter_frame {
	size_t dir_ofs;      /* struct offset of the directory entry */
	size_t limit;        /* its basename offset: children end before */
	size_t namelen;      /* length of the directory's full name */
	size_t pos;          /* next child's basename */
	size_t block_start;
	size_t prev, prevlen;  /* previous sibling's basename */
	uint32_t left, n;
	int yield_dir;
};

static int parse_common(struct bindex *ix, const unsigned char *m,
			size_t len)
{
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	if (len < BINDEX_HDRLEN || memcmp(m, BINDEX_HDR, BINDEX_HDRLEN))
		return corrupt("bad header");
	if (len < BINDEX_HDRLEN + BINDEX_FOOTLEN)
		return corrupt("truncated");
	ix->count = get_be64(m + len - BINDEX_FOOTLEN);
	if (len == BINDEX_HDRLEN + BINDEX_FOOTLEN) {
		/* bup's writer with nothing added: header + footer 0. */
		if (ix->count)
			return corrupt("count mismatch");
		return 0;
	}
	/* Root: "/\0" + struct, right before the footer. */
	if (len < BINDEX_HDRLEN + 2 + BINDEX_ENTLEN + BINDEX_FOOTLEN)
		return corrupt("truncated");
	ix->root_ofs = len - BINDEX_FOOTLEN - BINDEX_ENTLEN;
	if (m[ix->root_ofs - 2] != '/' || m[ix->root_ofs - 1] != '\0')
		return corrupt("last entry is not /");
	ix->map = (unsigned char *)m;
	ix->len = len;
	return 0;
}

static int validate(struct bindex *ix)
{
	struct bindex_iter it;
	int r;

	if (!ix->map)
		return 0;
	bindex_iter_init(&it, ix, NULL);
	it.strict = 1;
	while ((r = bindex_iter_next(&it)) > 0)
		;
	if (!r) {
		/*
		 * Every block was where bup's writer puts it, so the blocks
		 * tile [header, root entry); the count is bup's (0 when the
		 * root has no children).
		 */
		uint64_t want = it.seen > 1 ? it.seen : 0;
		if (it.expect_block != ix->root_ofs - 2)
			r = corrupt("entries outside the tree");
		else if (want != ix->count)
			r = corrupt("count mismatch");
	}
	bindex_iter_release(&it);
	return r;
}

int bindex_parse(struct bindex *ix, const void *buf, size_t len)
{
	int r = parse_common(ix, buf, len);
	if (!r)
		r = validate(ix);
	if (r)
		memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	return r;
}

int bindex_open(struct bindex *ix, const char *path, int flags)
{
	int rw = flags & BINDEX_RDWR;
	int fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	unsigned char hdr[BINDEX_HDRLEN];
	struct stat st;
	void *m;
	int r;

	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_errno("cannot open '%s'", path);
	}
	if (fstat(fd, &st) < 0) {
		r = err_errno("cannot stat '%s'", path);
		goto fail;
	}
	if (st.st_size < BINDEX_HDRLEN ||
	    pread_full(fd, hdr, sizeof(hdr), 0) < 0 ||
	    memcmp(hdr, BINDEX_HDR, BINDEX_HDRLEN)) {
		r = err_set(ERR_CORRUPT, "%s: header: expected %s", path,
			    "b'BUPI\\x00\\x00\\x00\\x07'");
		goto fail;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		r = err_set(ERR_CORRUPT, "%s: too large", path);
		goto fail;
	}
	m = mmap(NULL, (size_t)st.st_size,
		 PROT_READ | (rw ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		r = err_errno("cannot map '%s'", path);
		goto fail;
	}
	r = parse_common(ix, m, (size_t)st.st_size);
	/* (set before validate: its walk drops the pages as it goes) */
	ix->mapped = !r && ix->map;
	if (!r)
		r = validate(ix);
	if (r) {
		munmap(m, (size_t)st.st_size);
		err_set(ERR_CORRUPT, "%s: %s", path, err_last());
		goto fail;
	}
	if (!ix->map)
		munmap(m, (size_t)st.st_size);
	ix->writable = rw;
	ix->fd = fd;
	return 0;
fail:
	close(fd);
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	return r;
}

int bindex_sync(struct bindex *ix)
{
	if (ix->mapped && ix->writable &&
	    msync(ix->map, ix->len, MS_SYNC) < 0)
		return err_errno("cannot sync bupindex");
	return 0;
}

void bindex_close(struct bindex *ix)
{
	if (ix->mapped)
		munmap(ix->map, ix->len);
	if (ix->fd >= 0)
		close(ix->fd);
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
}

/* ---- iteration ------------------------------------------------------- */

void bindex_iter_init(struct bindex_iter *it, struct bindex *ix,
		      const char *name)
{
	memset(it, 0, sizeof(*it));
	buf_init(&it->name, 256);
	it->ix = ix;
	it->expect_block = BINDEX_HDRLEN;
	if (name && *name) {
		size_t n = strlen(name);
		it->fname = xstrdup(name);
		it->fnamelen = n;
		if (name[n - 1] == '/') {
			it->dname = xstrdup(name);
			it->dnamelen = n;
		} else {
			it->dname = xstrfmt("%s/", name);
			it->dnamelen = n + 1;
		}
	}
}

void bindex_iter_release(struct bindex_iter *it)
{
	buf_release(&it->name);
	free(it->stack);
	free(it->dname);
	free(it->fname);
	memset(it, 0, sizeof(*it));
}

static int has_prefix(const char *s, size_t n, const char *p, size_t pn)
{
	return n >= pn && !memcmp(s, p, pn);
}

static int push_frame(struct bindex_iter *it, size_t dir_ofs, size_t limit,
		      const struct bindex_ent *e, int yield_dir)
{
	struct bindex_iter_frame *f;

	if (e->children_n) {
		/* Children lie after the header and wholly before the
		 * directory's own entry (checked child by child). */
		if (e->children_ofs < BINDEX_HDRLEN ||
		    e->children_ofs >= limit)
			return corrupt("children outside the file");
	}
	ALLOC_GROW(it->stack, it->nr + 1, it->alloc);
	f = &it->stack[it->nr++];
	f->dir_ofs = dir_ofs;
	f->limit = limit;
	f->namelen = it->name.len;
	f->pos = (size_t)e->children_ofs;
	f->block_start = f->pos;
	f->prevlen = 0;
	f->left = f->n = e->children_n;
	f->yield_dir = yield_dir;
	return 0;
}

static int check_basename(const unsigned char *b, size_t n, int isdir)
{
	const unsigned char *slash = memchr(b, '/', n);

	if (!n)
		return corrupt("empty name");
	if (slash && slash != b + n - 1)
		return corrupt("name with '/'");
	if ((n == 1 && b[0] == '/') ||
	    (b[0] == '.' && (n == 1 || (n == 2 && (b[1] == '.' || b[1] == '/')) ||
			     (n == 3 && b[1] == '.' && b[2] == '/'))))
		return corrupt("bad name");
	if (isdir && b[n - 1] != '/')
		return corrupt("directory name without '/'");
	return 0;
}

/*
 * A walk touches every page of the mapping once, and a save keeps the
 * index open while it reads every file: without this, the whole index
 * (about 150 bytes a path) would stay in the resident set.  The mapping
 * is MAP_SHARED, so dropping its pages loses nothing (entries written
 * back stay in the page cache); a page used again faults back in.
 */
#define BINDEX_DROP_EVERY 8192

static void maybe_drop_pages(struct bindex_iter *it)
{
	struct bindex *ix = it->ix;

	if (!ix->mapped || ++it->since_drop < BINDEX_DROP_EVERY)
		return;
	it->since_drop = 0;
	madvise(ix->map, ix->len, MADV_DONTNEED);
}

int bindex_iter_next(struct bindex_iter *it)
{
	struct bindex *ix = it->ix;
	const unsigned char *m = ix->map;
	int r;

	maybe_drop_pages(it);

	if (it->state == 0) {
		it->state = 1;
		if (!m)
			goto done;
		bindex_ent_unpack(&it->e, m + ix->root_ofs);
		buf_setlen(&it->name, 0);
		buf_addch(&it->name, '/');
		r = push_frame(it, ix->root_ofs, ix->root_ofs - 2, &it->e,
			       !it->dname || !strcmp(it->dname, "/"));
		if (r)
			goto fail;
	}
	if (it->state != 1)
		return 0;
	while (it->nr) {
		struct bindex_iter_frame *f = &it->stack[it->nr - 1];
		const unsigned char *base, *eon;
		size_t sofs, blen;
		int match, yield;

		if (!f->left) {
			if (it->strict && f->n) {
				if (f->block_start != it->expect_block) {
					r = corrupt("children out of order");
					goto fail;
				}
				it->expect_block = f->pos;
			}
			buf_setlen(&it->name, f->namelen);
			it->ent_ofs = f->dir_ofs;
			yield = f->yield_dir;
			it->nr--;
			if (!yield)
				continue;
			bindex_ent_unpack(&it->e, m + it->ent_ofs);
			it->seen++;
			return 1;
		}
		base = m + f->pos;
		eon = memchr(base, '\0', f->limit - f->pos);
		if (!eon) {
			r = corrupt("unterminated name");
			goto fail;
		}
		blen = (size_t)(eon - base);
		sofs = f->pos + blen + 1;
		if (sofs > f->limit || f->limit - sofs < BINDEX_ENTLEN) {
			r = corrupt("entry overlaps its parent");
			goto fail;
		}
		if ((r = check_basename(base, blen,
					get_be32(m + sofs + OFS_CHILDREN_N) > 0)))
			goto fail;
		/* Siblings strictly descending, as bup's writer enforces;
		 * with the name checks this makes full names descend. */
		if (f->prevlen && bytescmp((const char *)m + f->prev,
					   f->prevlen, (const char *)base,
					   blen) <= 0) {
			r = corrupt("entries out of order");
			goto fail;
		}
		f->prev = f->pos;
		f->prevlen = blen;
		buf_setlen(&it->name, f->namelen);
		buf_add(&it->name, base, blen);
		bindex_ent_unpack(&it->e, m + sofs);
		it->ent_ofs = sofs;
		{
			size_t limit = f->pos;
			f->pos = sofs + BINDEX_ENTLEN;
			f->left--;
			/* bup's ExistingEntry.iter() filter, verbatim. */
			match = !it->dname ||
				has_prefix(it->name.data, it->name.len,
					   it->dname, it->dnamelen) ||
				(it->name.data[it->name.len - 1] == '/' &&
				 has_prefix(it->dname, it->dnamelen,
					    it->name.data, it->name.len));
			yield = !it->fname ||
				(it->name.len == it->fnamelen &&
				 !memcmp(it->name.data, it->fname,
					 it->fnamelen)) ||
				has_prefix(it->name.data, it->name.len,
					   it->dname, it->dnamelen);
			if (match && it->wantrecurse &&
			    !it->wantrecurse(it, it->wantrecurse_data))
				match = 0;
			if (match && it->e.children_n) {
				r = push_frame(it, sofs, limit, &it->e, yield);
				if (r)
					goto fail;
				continue;
			}
		}
		if (yield) {
			it->seen++;
			return 1;
		}
	}
done:
	it->state = 2;
	return 0;
fail:
	it->state = 3;
	return r;
}

int bindex_iter_repack(struct bindex_iter *it)
{
	struct bindex *ix = it->ix;
	unsigned char *p;
	struct bindex_ent e = it->e;

	if (!ix->writable)
		return err_set(ERR_USAGE, "bupindex is not writable");
	if (it->ent_ofs < BINDEX_HDRLEN ||
	    it->ent_ofs + BINDEX_ENTLEN > ix->len)
		BUG("repack outside the index");
	p = ix->map + it->ent_ofs;
	/* The tree shape is never changed in place. */
	e.children_ofs = get_be64(p + OFS_CHILDREN_OFS);
	e.children_n = get_be32(p + OFS_CHILDREN_N);
	bindex_ent_pack(p, &e);
	if (!bindex_ent_is_valid(&e)) {
		/* bup: parent.invalidate(); parent.repack(), to the root. */
		for (size_t i = it->nr; i-- > 0;) {
			unsigned char *q = ix->map + it->stack[i].dir_ofs;
			put_be16(q + OFS_FLAGS, get_be16(q + OFS_FLAGS) &
					       ~BINDEX_HASHVALID);
		}
	}
	return 0;
}

int bindex_find(struct bindex_iter *it, struct bindex *ix, const char *name)
{
	int r;

	bindex_iter_init(it, ix, name);
	while ((r = bindex_iter_next(it)) > 0)
		if (!strcmp(it->name.data, name))
			return 1;
	return r;
}

/* ---- atomic replacement ---------------------------------------------- */

int bindex_replace_open(char **tmp, const char *path)
{
	/*
	 * A tmpfile.h temporary, locked while we live: the next index run
	 * removes what a killed one left (a "<path>.tmp-PID-N" of its own
	 * stayed for ever, since nothing could tell it from a live one).
	 */
	return tmpfile_open(path, 0666, tmp);
}

int bindex_replace_commit(int fd, const char *tmp, const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int r = 0, dfd;

	if (fsync(fd) < 0)
		r = err_errno("cannot sync '%s'", tmp);
	/* renamed before the close gives up its lock, as file_commit() */
	if (!r && rename(tmp, path) < 0)
		r = err_errno("cannot rename '%s' to '%s'", tmp, path);
	if (r)
		unlink(tmp);
	if (close(fd) < 0 && !r)
		r = err_errno("cannot close '%s'", path);
	if (r)
		goto out;
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		dir[0] = '.', dir[1] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(dir);
	return r;
}

/* ---- writer ---------------------------------------------------------- */

struct wlevel {
	struct buf list;     /* serialized entries: basename\0 struct */
	uint32_t n;
	uint64_t count;      /* entries below, as bup's Level.count */
	size_t namelen;      /* prefix of w->cur naming this level */
};

struct bindex_writer {
	int fd;
	char *path, *tmp;
	struct buf *mem;
	struct buf out;
	uint64_t pos;
	struct wlevel *lv;
	size_t nr, alloc;
	struct buf cur;
	struct buf last;
	int have_last;
	uint64_t blank_meta_ofs;
	uint64_t count;
	int finished;
	int failed;
};

static int w_flush(struct bindex_writer *w)
{
	if (w->mem) {
		buf_add(w->mem, w->out.data, w->out.len);
	} else if (w->out.len && write_full(w->fd, w->out.data, w->out.len)) {
		w->failed = 1;
		return err_errno("cannot write '%s'", w->tmp);
	}
	buf_reset(&w->out);
	return 0;
}

static int w_write(struct bindex_writer *w, const void *p, size_t n)
{
	buf_add(&w->out, p, n);
	w->pos += n;
	if (w->out.len >= 65536)
		return w_flush(w);
	return 0;
}

static struct bindex_writer *w_alloc(uint64_t blank_meta_ofs)
{
	struct bindex_writer *w = xcalloc(1, sizeof(*w));
	w->fd = -1;
	buf_init(&w->out, 65536 + 4096);
	buf_init(&w->cur, 256);
	buf_init(&w->last, 256);
	w->blank_meta_ofs = blank_meta_ofs;
	ALLOC_GROW(w->lv, 1, w->alloc);
	for (size_t i = 0; i < w->alloc; i++) {
		memset(&w->lv[i], 0, sizeof(w->lv[i]));
		buf_init(&w->lv[i].list, 0);
	}
	w->nr = 1;
	return w;
}

int bindex_writer_new(struct bindex_writer **out, const char *path,
		      uint64_t blank_meta_ofs)
{
	struct bindex_writer *w = w_alloc(blank_meta_ofs);
	int fd = bindex_replace_open(&w->tmp, path);

	if (fd < 0) {
		bindex_writer_free(w);
		return fd;
	}
	w->fd = fd;
	w->path = xstrdup(path);
	*out = w;
	return w_write(w, BINDEX_HDR, BINDEX_HDRLEN);
}

int bindex_writer_new_buf(struct bindex_writer **out, struct buf *dst,
			  uint64_t blank_meta_ofs)
{
	struct bindex_writer *w = w_alloc(blank_meta_ofs);
	w->mem = dst;
	*out = w;
	return w_write(w, BINDEX_HDR, BINDEX_HDRLEN);
}

/* bup's Level.write(): emit the block, return (ofs, n). */
static int level_write(struct bindex_writer *w, size_t d, uint64_t *ofs,
		       uint32_t *n)
{
	struct wlevel *l = &w->lv[d];
	int r = 0;

	*ofs = w->pos;
	*n = l->n;
	if (l->n) {
		r = w_write(w, l->list.data, l->list.len);
		if (d)
			w->lv[d - 1].count += l->n + l->count;
	}
	buf_reset(&l->list);
	l->n = 0;
	l->count = 0;
	return r;
}

static void level_append(struct bindex_writer *w, size_t d, const char *bn,
			 size_t bnlen, const struct bindex_ent *e)
{
	struct wlevel *l = &w->lv[d];
	unsigned char packed[BINDEX_ENTLEN];

	if (l->n == UINT32_MAX)
		BUG("too many entries in one directory");
	buf_grow(&l->list, bnlen + 1 + BINDEX_ENTLEN);
	buf_add(&l->list, bn, bnlen);
	buf_addch(&l->list, '\0');
	bindex_ent_pack(packed, e);
	buf_add(&l->list, packed, BINDEX_ENTLEN);
	l->n++;
}

/* Close the deepest level (depth >= 1) with a blank entry. */
static int level_close_blank(struct bindex_writer *w)
{
	size_t d = w->nr - 1;
	struct bindex_ent e;
	size_t from = w->lv[d - 1].namelen, to = w->lv[d].namelen;
	int r;

	memset(&e, 0, sizeof(e));
	e.flags = BINDEX_EXISTS;
	e.meta_ofs = w->blank_meta_ofs;
	if ((r = level_write(w, d, &e.children_ofs, &e.children_n)))
		return r;
	level_append(w, d - 1, w->cur.data + from, to - from, &e);
	w->nr--;
	return 0;
}

static void level_push(struct bindex_writer *w, size_t namelen)
{
	struct wlevel *l;
	size_t old = w->alloc;

	ALLOC_GROW(w->lv, w->nr + 1, w->alloc);
	for (size_t i = old; i < w->alloc; i++) {
		memset(&w->lv[i], 0, sizeof(w->lv[i]));
		buf_init(&w->lv[i].list, 0);
	}
	l = &w->lv[w->nr++];
	buf_reset(&l->list);
	l->n = 0;
	l->count = 0;
	l->namelen = namelen;
}

int bindex_writer_add(struct bindex_writer *w, const char *name,
		      size_t namelen, const struct bindex_ent *ent)
{
	struct bindex_ent e = *ent;
	size_t d, end, start;
	int r;

	if (w->finished || w->failed)
		BUG("bindex_writer_add after finish or failure");
	if (!namelen)
		return err_set(ERR_USAGE, "empty name in bupindex");
	if (w->have_last &&
	    bytescmp(w->last.data, w->last.len, name, namelen) <= 0)
		return err_set(ERR_USAGE, "'%.*s' must come before '%s'",
			       (int)namelen, name, w->last.data);
	buf_reset(&w->last);
	buf_add(&w->last, name, namelen);
	w->have_last = 1;

	/* Close levels that are not a prefix of name (their dirs ended). */
	while (w->nr > 1) {
		struct wlevel *l = &w->lv[w->nr - 1];
		if (l->namelen <= namelen &&
		    !memcmp(w->cur.data, name, l->namelen))
			break;
		if ((r = level_close_blank(w)))
			return r;
	}
	/* Open levels down to the entry's own (pathsplit components). */
	buf_reset(&w->cur);
	buf_add(&w->cur, name, namelen);
	d = w->nr - 1;
	end = w->lv[d].namelen;
	while (end < namelen) {
		const char *s = memchr(name + end, '/', namelen - end);
		end = s ? (size_t)(s - name) + 1 : namelen;
		level_push(w, end);
	}
	d = w->nr - 1;
	if (d == 0)
		BUG("bupindex writer lost its level");
	start = w->lv[d - 1].namelen;
	if ((r = level_write(w, d, &e.children_ofs, &e.children_n)))
		return r;
	level_append(w, d - 1, name + start, namelen - start, &e);
	w->nr--;
	return 0;
}

int bindex_writer_finish(struct bindex_writer *w)
{
	unsigned char foot[BINDEX_FOOTLEN];
	uint64_t ofs;
	uint32_t n;
	int r;

	if (w->finished)
		return 0;
	if (w->failed)
		return ERR_IO;
	while (w->nr > 1)
		if ((r = level_close_blank(w)))
			return r;
	/* bup's rootlevel.count excludes "/" itself, then adds it. */
	w->count = w->lv[0].count;
	if ((r = level_write(w, 0, &ofs, &n)))
		return r;
	if (w->count)
		w->count++;
	put_be64(foot, w->count);
	if ((r = w_write(w, foot, sizeof(foot))) || (r = w_flush(w)))
		return r;
	w->finished = 1;
	return 0;
}

int bindex_writer_commit(struct bindex_writer *w)
{
	int r = bindex_writer_finish(w);

	if (r)
		return r;
	if (w->mem)
		return 0;
	r = bindex_replace_commit(w->fd, w->tmp, w->path);
	w->fd = -1;
	free(w->tmp);
	w->tmp = NULL;
	return r;
}

const char *bindex_writer_tmp_path(const struct bindex_writer *w)
{
	return w->tmp;
}

uint64_t bindex_writer_count(const struct bindex_writer *w)
{
	return w->count;
}

void bindex_writer_free(struct bindex_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp)
		unlink(w->tmp);
	for (size_t i = 0; i < w->alloc; i++)
		buf_release(&w->lv[i].list);
	free(w->lv);
	buf_release(&w->out);
	buf_release(&w->cur);
	buf_release(&w->last);
	free(w->tmp);
	free(w->path);
	free(w);
}

/* ---- merge ----------------------------------------------------------- */

/* bup's Entry.__lt__: reversed names, then invalid first, then real. */
static int merge_lt(const struct bindex_iter *x, const struct bindex_iter *y)
{
	int c = bytescmp(y->name.data, y->name.len, x->name.data,
			 x->name.len);
	int vc, fc;

	if (c)
		return c < 0;
	vc = bindex_ent_is_valid(&x->e) - bindex_ent_is_valid(&y->e);
	if (vc)
		return vc < 0;
	fc = bindex_ent_is_fake(&x->e) - bindex_ent_is_fake(&y->e);
	return fc < 0;
}

int bindex_merge(struct bindex_writer *w, struct bindex *old_ix,
		 struct bindex *new_ix, uint64_t *merged)
{
	struct bindex_iter its[2], *top, *other;
	int have[2], r = 0;
	struct buf prev = BUF_INIT;
	int have_prev = 0;
	uint64_t count = 0;

	bindex_iter_init(&its[0], old_ix, NULL);
	bindex_iter_init(&its[1], new_ix, NULL);
	for (int i = 0; i < 2; i++) {
		have[i] = bindex_iter_next(&its[i]);
		if (have[i] < 0) {
			r = have[i];
			goto out;
		}
	}
	/*
	 * merge_iter() keeps a heapq of two items.  heapify and heapreplace
	 * only put the candidate on top when it is strictly smaller, so on
	 * ties the other iterator's entry wins.
	 */
	if (have[0] && have[1])
		top = merge_lt(&its[0], &its[1]) ? &its[0] : &its[1];
	else
		top = have[0] ? &its[0] : have[1] ? &its[1] : NULL;
	other = top == &its[0] ? (have[1] ? &its[1] : NULL) :
		(have[0] ? &its[0] : NULL);
	while (top) {
		if (!have_prev || bytescmp(prev.data, prev.len, top->name.data,
					   top->name.len)) {
			if ((r = bindex_writer_add(w, top->name.data,
						   top->name.len, &top->e)))
				goto out;
			buf_reset(&prev);
			buf_add(&prev, top->name.data, top->name.len);
			have_prev = 1;
		}
		count++;
		r = bindex_iter_next(top);
		if (r < 0)
			goto out;
		if (!r) {
			top = other;
			other = NULL;
		} else if (other && !merge_lt(top, other)) {
			struct bindex_iter *t = top;
			top = other;
			other = t;
		}
		r = 0;
	}
out:
	if (merged)
		*merged = count;
	buf_release(&prev);
	bindex_iter_release(&its[0]);
	bindex_iter_release(&its[1]);
	return r;
}

/* ---- .meta ----------------------------------------------------------- */

static int get_vuint(uint64_t *v, const unsigned char *p, size_t len,
		     size_t *pos)
{
	uint64_t x = 0;
	unsigned shift = 0;

	for (;;) {
		unsigned char c;
		if (*pos >= len)
			return -1;
		c = p[(*pos)++];
		if (shift >= 64 || (shift == 63 && (c & 0x7e)))
			return -1;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			break;
		shift += 7;
	}
	*v = x;
	return 0;
}

int bindex_meta_at(size_t *objlen, const void *buf, size_t len, uint64_t ofs)
{
	const unsigned char *p = buf;
	size_t pos;

	if (ofs >= len)
		return err_set(ERR_CORRUPT,
			       "metadata offset %llu outside bupindex.meta",
			       (unsigned long long)ofs);
	pos = (size_t)ofs;
	for (;;) {
		uint64_t tag, n;
		if (get_vuint(&tag, p, len, &pos))
			goto bad;
		if (!tag)
			break;
		if (get_vuint(&n, p, len, &pos) || n > len - pos)
			goto bad;
		pos += (size_t)n;
	}
	*objlen = pos - (size_t)ofs;
	return 0;
bad:
	return err_set(ERR_CORRUPT, "truncated metadata at offset %llu",
		       (unsigned long long)ofs);
}

struct ms_slot {
	uint64_t hash;
	size_t key, len;      /* in arena */
	uint64_t ofs;
	int used;
};

struct bindex_metastore {
	int fd;
	char *path;
	uint64_t end;
	struct buf pending;
	struct buf arena;
	struct ms_slot *slots;
	size_t nslots, nused;
	int mem;
};

static uint64_t ms_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t k;
		memcpy(&k, p + i, 8);
		h = (h ^ k) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	return h;
}

static struct ms_slot *ms_lookup(struct bindex_metastore *ms, uint64_t h,
				 const void *k, size_t n)
{
	size_t mask = ms->nslots - 1, i = (size_t)h & mask;

	for (;; i = (i + 1) & mask) {
		struct ms_slot *s = &ms->slots[i];
		if (!s->used)
			return s;
		if (s->hash == h && s->len == n &&
		    !memcmp(ms->arena.data + s->key, k, n))
			return s;
	}
}

static void ms_put(struct bindex_metastore *ms, const void *k, size_t n,
		   uint64_t ofs)
{
	uint64_t h = ms_hash(k, n);
	struct ms_slot *s;

	if ((ms->nused + 1) * 2 > ms->nslots) {
		struct ms_slot *old = ms->slots;
		size_t oldn = ms->nslots;
		ms->nslots = oldn ? oldn * 2 : 64;
		ms->slots = xcalloc(ms->nslots, sizeof(*ms->slots));
		for (size_t i = 0; i < oldn; i++) {
			if (!old[i].used)
				continue;
			*ms_lookup(ms, old[i].hash,
				   ms->arena.data + old[i].key,
				   old[i].len) = old[i];
		}
		free(old);
	}
	s = ms_lookup(ms, h, k, n);
	if (!s->used) {
		s->used = 1;
		s->hash = h;
		s->key = ms->arena.len;
		s->len = n;
		buf_add(&ms->arena, k, n);
		ms->nused++;
	}
	s->ofs = ofs;
}

static void ms_preload(struct bindex_metastore *ms, const unsigned char *p,
		       size_t len)
{
	size_t pos = 0, n;

	/* bup: read until EOFError, and `while m:` stops at "00" too. */
	while (pos < len && !bindex_meta_at(&n, p, len, pos)) {
		if (n == 1)
			break;
		ms_put(ms, p + pos, n, pos);
		pos += n;
	}
	err_clear();
	ms->end = len;
}

int bindex_metastore_open(struct bindex_metastore **out, const char *path)
{
	struct bindex_metastore *ms = xcalloc(1, sizeof(*ms));
	struct buf old = BUF_INIT;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (fd < 0) {
		free(ms);
		return err_errno("cannot open '%s'", path);
	}
	if (buf_read_fd(&old, fd) < 0) {
		int r = err_errno("cannot read '%s'", path);
		close(fd);
		free(ms);
		buf_release(&old);
		return r;
	}
	ms->fd = fd;
	ms->path = xstrdup(path);
	ms_preload(ms, (const unsigned char *)old.data, old.len);
	buf_release(&old);
	*out = ms;
	return 0;
}

struct bindex_metastore *bindex_metastore_new_mem(const void *existing,
						   size_t len)
{
	struct bindex_metastore *ms = xcalloc(1, sizeof(*ms));
	ms->fd = -1;
	ms->mem = 1;
	ms_preload(ms, existing, len);
	return ms;
}

static int ms_flush(struct bindex_metastore *ms)
{
	if (ms->mem || !ms->pending.len)
		return 0;
	if (write_full(ms->fd, ms->pending.data, ms->pending.len))
		return err_errno("cannot write '%s'", ms->path);
	buf_reset(&ms->pending);
	return 0;
}

int bindex_metastore_store(struct bindex_metastore *ms, uint64_t *ofs,
			   const void *enc, size_t len)
{
	struct ms_slot *s;

	if (ms->nslots) {
		s = ms_lookup(ms, ms_hash(enc, len), enc, len);
		/* bup: `if ofs: return ofs`, so offset 0 is never reused. */
		if (s->used && s->ofs) {
			*ofs = s->ofs;
			return 0;
		}
	}
	*ofs = ms->end;
	buf_add(&ms->pending, enc, len);
	ms->end += len;
	ms_put(ms, enc, len, *ofs);
	if (ms->pending.len >= 65536)
		return ms_flush(ms);
	return 0;
}

int bindex_metastore_store_empty(struct bindex_metastore *ms, uint64_t *ofs)
{
	return bindex_metastore_store(ms, ofs, "", 1);
}

const struct buf *bindex_metastore_appended(const struct bindex_metastore *ms)
{
	return &ms->pending;
}

int bindex_metastore_close(struct bindex_metastore *ms)
{
	int r;

	if (!ms)
		return 0;
	r = ms_flush(ms);
	if (ms->fd >= 0 && close(ms->fd) < 0 && !r)
		r = err_errno("cannot close '%s'", ms->path);
	buf_release(&ms->pending);
	buf_release(&ms->arena);
	free(ms->slots);
	free(ms->path);
	free(ms);
	return r;
}
