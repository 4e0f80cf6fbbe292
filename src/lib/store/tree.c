/*
 * Git tree objects (FORMAT.md 2.1): a validating iterator over untrusted
 * tree bytes, git's entry order, a builder, and bup's name mangling
 * (FORMAT.md 4.3).
 *
 * An entry is "<octal mode> <name>\0<20-byte id>".  The iterator checks
 * every field against the end of the buffer before trusting it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "store/tree.h"

void tree_iter_init(struct tree_iter *it, const void *buf, size_t len)
{
	it->p = buf;
	it->end = it->p + len;
}

static int valid_mode(unsigned mode)
{
	/* what git's canon_mode() can make sense of */
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case 0160000:   /* gitlink */
		return 1;
	}
	return 0;
}

int tree_iter_next(struct tree_iter *it, struct tree_entry *e)
{
	const unsigned char *p = it->p, *end = it->end, *nul;
	unsigned mode = 0;
	int digits = 0;

	if (p == end)
		return 0;
	/* 6 octal digits at most: 0177777 covers every git mode */
	while (p < end && *p != ' ') {
		if (*p < '0' || *p > '7' || ++digits > 6)
			return err_set(ERR_CORRUPT, "tree: bad mode");
		mode = mode << 3 | (unsigned)(*p - '0');
		p++;
	}
	if (p == end || !digits || !valid_mode(mode))
		return err_set(ERR_CORRUPT, "tree: bad mode");
	p++;
	nul = memchr(p, '\0', (size_t)(end - p));
	if (!nul)
		return err_set(ERR_CORRUPT, "tree: name without NUL");
	if (nul == p)
		return err_set(ERR_CORRUPT, "tree: empty name");
	if ((size_t)(end - nul - 1) < OID_RAWSZ)
		return err_set(ERR_CORRUPT, "tree: truncated object id");
	e->mode = mode;
	e->name = (const char *)p;
	e->namelen = (size_t)(nul - p);
	memcpy(e->oid.hash, nul + 1, OID_RAWSZ);
	it->p = nul + 1 + OID_RAWSZ;
	return 1;
}

int tree_name_cmp(const char *a, size_t alen, unsigned amode,
		  const char *b, size_t blen, unsigned bmode)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	unsigned char ca, cb;

	if (c)
		return c;
	/* a directory name sorts as if followed by '/' (git order) */
	ca = n < alen ? (unsigned char)a[n] : S_ISDIR(amode) ? '/' : 0;
	cb = n < blen ? (unsigned char)b[n] : S_ISDIR(bmode) ? '/' : 0;
	return (int)ca - (int)cb;
}

void tree_builder_init(struct tree_builder *tb)
{
	memset(tb, 0, sizeof(*tb));
	buf_init(&tb->scratch, 0);
}

static void builder_clear(struct tree_builder *tb)
{
	for (size_t i = 0; i < tb->nr; i++)
		free(tb->entries[i].name);
	tb->nr = 0;
}

void tree_builder_release(struct tree_builder *tb)
{
	builder_clear(tb);
	free(tb->entries);
	buf_release(&tb->scratch);
	memset(tb, 0, sizeof(*tb));
}

void tree_builder_add(struct tree_builder *tb, unsigned mode,
		      const char *name, size_t namelen,
		      const struct oid *oid)
{
	struct tree_builder_entry *e;

	ALLOC_GROW(tb->entries, tb->nr + 1, tb->alloc);
	e = &tb->entries[tb->nr++];
	e->mode = mode;
	e->name = xmemdup(name, namelen);
	e->namelen = namelen;
	e->oid = *oid;
}

static int entry_cmp(const void *va, const void *vb)
{
	const struct tree_builder_entry *a = va, *b = vb;

	return tree_name_cmp(a->name, a->namelen, a->mode, b->name,
			     b->namelen, b->mode);
}

void tree_builder_serialize(struct tree_builder *tb, struct buf *out)
{
	if (tb->nr > 1)
		qsort(tb->entries, tb->nr, sizeof(*tb->entries), entry_cmp);
	for (size_t i = 0; i < tb->nr; i++) {
		const struct tree_builder_entry *e = &tb->entries[i];

		buf_addf(out, "%o ", e->mode);
		buf_add(out, e->name, e->namelen);
		buf_addch(out, '\0');
		buf_add(out, e->oid.hash, OID_RAWSZ);
	}
}

int tree_builder_write(struct tree_builder *tb, struct objsink *sink,
		       struct oid *out)
{
	int ret;

	buf_reset(&tb->scratch);
	tree_builder_serialize(tb, &tb->scratch);
	ret = objsink_write(sink, OBJ_TREE, tb->scratch.data,
			    tb->scratch.len, out);
	builder_clear(tb);
	return ret;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

void tree_mangle_name(struct buf *out, const char *name, size_t len,
		      unsigned fs_mode, unsigned git_mode)
{
	buf_add(out, name, len);
	if (S_ISREG(fs_mode) && !S_ISREG(git_mode)) {
		/* a chunked regular file: its tree is "name.bup" */
		buf_addstr(out, ".bup");
	} else if (ends_with(name, len, ".bup") ||
		   (len && ends_with(name, len - 1, ".bup"))) {
		/* "x.bup" and "x.bupX" would demangle wrongly: add ".bupl" */
		buf_addstr(out, ".bupl");
	}
}

size_t tree_demangle_name(const char *name, size_t len, unsigned git_mode,
			  enum tree_bup_kind *kind)
{
	*kind = TREE_BUP_NORMAL;
	if (ends_with(name, len, ".bupl"))
		return len - 5;
	if (ends_with(name, len, ".bup")) {
		*kind = TREE_BUP_CHUNKED;
		return len - 4;
	}
	if (ends_with(name, len, ".bupm")) {
		if ((git_mode & 0170000) == 040000)
			*kind = TREE_BUP_CHUNKED;
		return len - 5;
	}
	return len;
}
