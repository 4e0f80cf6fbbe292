/*
 * bup split's pipeline (splitter.h).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pipelines/splitter.h"
#include "store/odb.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/tree.h"
#include "util/err.h"
#include "util/util.h"

/* --git-ids: git cat-file hands object data over in 64 KiB pieces. */
#define CATFILE_PIECE 65536

static int emit_chunk(void *vctx, const unsigned char *data, size_t len,
		      int level, const struct oid *id)
{
	struct splitter *s = vctx;
	struct oid oid;
	int ret;

	s->total += len;
	/*
	 * bup 0.33.7's --copy writes str(memoryview), i.e. garbage like
	 * "<memory at 0x...>"; we copy the data, which is what it means.
	 */
	if (s->o.on_copy && (ret = s->o.on_copy(s->o.ctx, data, len)) < 0)
		return ret;
	if (!s->o.sink)
		return 0;
	ret = id ? objsink_write_known(s->o.sink, OBJ_BLOB, data, len, id,
				       &oid)
		 : objsink_write(s->o.sink, OBJ_BLOB, data, len, &oid);
	if (ret)
		return ret;
	if (s->o.on_blob && (ret = s->o.on_blob(s->o.ctx, &oid)) < 0)
		return ret;
	if (s->o.tree != SPLITTER_NO_TREE)
		return fantree_add(&s->fantree, &oid, len, level);
	return 0;
}

void splitter_init(struct splitter *s, const struct splitter_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->o = *o;
	if (s->o.tree != SPLITTER_NO_TREE)
		fantree_init(&s->fantree, s->o.sink);
	/* bup: fanbits = int(log2(fanout or 128)); -b forces fanout 0 */
	hsplit_init(&s->h, hsplit_fanbits(o->blobs ? 0 : o->fanout ?
					  (unsigned long long)o->fanout : 16),
		    emit_chunk, s);
	/* large reads are scanned on two threads; same chunks */
	hsplit_set_threads(&s->h, o->threads);
}

static void progress(struct splitter *s)
{
	if (s->o.progress)
		s->o.progress(s->o.ctx, s->nfile, s->nread);
}

/* One input's end: a chunk may not span two with --keep-boundaries. */
static int end_input(struct splitter *s)
{
	return s->o.keep_boundaries ? hsplit_finish(&s->h) : 0;
}

int splitter_fd(struct splitter *s, int fd, int nfile)
{
	s->nfile = nfile;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		unsigned char *p = hsplit_buffer(&s->h, HSPLIT_READ_SIZE);
		long long n;
		int ret;

		progress(s);
		n = read_full(fd, p, HSPLIT_READ_SIZE);
		if (n < 0)
			return err_errno("read error");
		if (!n)
			return end_input(s);
		s->nread += (uint64_t)n;
		if ((ret = hsplit_feed_buffer(&s->h, (size_t)n)))
			return ret;
	}
}

int splitter_object(struct splitter *s, struct repo *repo, const char *name,
		    int nfile)
{
	struct odb *odb = repo_odb(repo);
	struct buf b = BUF_INIT;
	enum obj_type type;
	struct oid oid;
	int ret = 0;

	s->nfile = nfile;
	if (!odb)
		return err_last_code() < 0 ? err_last_code() : ERR_IO;
	/* bup: git cat-file --batch prints "missing" and nothing is read */
	if (refs_resolve(repo, name, &oid) ||
	    odb_read(odb, &oid, &type, &b)) {
		err_clear();
		goto out;
	}
	progress(s);
	s->nread += b.len;
	for (size_t o = 0; o < b.len && !ret; o += CATFILE_PIECE)
		ret = hsplit_feed(&s->h, b.data + o,
				  MIN(b.len - o, (size_t)CATFILE_PIECE));
	progress(s);
out:
	buf_release(&b);
	return ret ? ret : end_input(s);
}

int splitter_finish(struct splitter *s, struct oid *tree_oid)
{
	struct tree_builder tb;
	struct buf ename = BUF_INIT;
	struct oid data;
	unsigned mode;
	int ret;

	if ((ret = hsplit_finish(&s->h)))
		return ret;
	if (s->o.tree == SPLITTER_NO_TREE)
		return 0;
	if (s->o.tree == SPLITTER_TREE)
		return fantree_finish_tree(&s->fantree, tree_oid);
	/* a single entry "data" (or "data.bup") -> result */
	if ((ret = fantree_finish(&s->fantree, &data, &mode)))
		return ret;
	tree_mangle_name(&ename, "data", 4, TREE_MODE_BLOB, mode);
	tree_builder_init(&tb);
	tree_builder_add(&tb, mode, ename.data, ename.len, &data);
	ret = tree_builder_write(&tb, s->o.sink, tree_oid);
	tree_builder_release(&tb);
	buf_release(&ename);
	return ret;
}

void splitter_release(struct splitter *s)
{
	hsplit_release(&s->h);
	if (s->o.tree != SPLITTER_NO_TREE)
		fantree_release(&s->fantree);
}
