/*
 * cbup save: bup 0.33.7's `bup save` (lib/bup/cmd/save.py): walk the
 * index (FORMAT.md 8) for the given paths, hashsplit what changed
 * (3.3-3.4), build one git tree per archive directory with its `.bupm`
 * (4, 5), commit (6.1) and update the branch after the pack is closed.
 *
 * The pipeline: bupindex entries (children before their directory) ->
 * a stack of open archive directories -> file data through the chunker
 * into blobs and fanout trees -> `.bupm` + tree when a directory closes
 * -> root tree -> commit -> pack closed -> ref (compare-and-swap).
 *
 * Everything that decides tree ids follows bup line by line, bugs
 * included: the list comparison that decides when to close directories,
 * the string-prefix tests of --strip/--strip-path/--graft, `.bupm`
 * records sorted by unmangled name, metadata taken from bupindex.meta
 * for unchanged files (FORMAT.md 5.5: times from the index entry,
 * hardlink target recomputed, sizes of specials not normalised), and
 * index entries validated in place so that the next save reads nothing
 * it does not have to.
 *
 * With -r, or in reverse mode under `bup on` (FORMAT.md 7.4), objects go
 * to a server through the client's pack writer instead (7.3); "already
 * saved" then asks the client's cache of the server's indexes, as bup
 * asks its index-cache, and the ref is read and updated on the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "index/bindex.h"
#include "remote/client.h"
#include "store/commit.h"
#include "util/err.h"
#include "chunk/hashsplit.h"
#include "index/hlink.h"
#include "meta/meta.h"
#include "store/odb.h"
#include "store/packwriter.h"
#include "util/pypath.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/tree.h"

int cmd_save(int argc, const char **argv);

static const char optspec[] =
	"bup save [-tc] [-n name] <filenames...>\n"
	"--\n"
	"r,remote=  hostname:/path/to/repo of remote repository\n"
	"t,tree     output a tree id\n"
	"c,commit   output a commit id\n"
	"n,name=    name of backup set to update (if any)\n"
	"d,date=    date for the commit (seconds since the epoch)\n"
	"v,verbose  increase log output (can be used more than once)\n"
	"q,quiet    don't show progress meter\n"
	"smaller=   only back up files smaller than n bytes\n"
	"bwlimit=   maximum bytes/sec to transmit to server\n"
	"f,indexfile=  the name of the index file (normally "
	"BUP_DIR/bupindex)\n"
	"strip      strips the path to every filename given\n"
	"strip-path= path-prefix to be stripped when saving\n"
	"graft=     a graft point *old_path*=*new_path* (can be used more "
	"than once)\n"
	"#,compress=  set compression level to # (0-9, 9 is highest) [1]\n";

/* bup's default fanout 16 (hashsplit.fanout): 4 extra bits per level. */
#define SAVE_FANBITS 4

/* ---- byte-string helpers -------------------------------------------- */

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, MIN(an, bn));
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int has_prefix(const char *s, size_t n, const char *p, size_t pn)
{
	return n >= pn && !memcmp(s, p, pn);
}

/* ---- archive path components (bup.helpers *_path_components) ------- */

/* One (archive name, filesystem path or None) pair. */
struct comp {
	size_t name_ofs, name_len;
	size_t fs_ofs, fs_len;
	int has_fs;
};

struct comps {
	struct buf store;
	struct comp *v;
	size_t nr, alloc;
};

static void comps_reset(struct comps *c)
{
	buf_reset(&c->store);
	c->nr = 0;
}

static void comps_add(struct comps *c, const char *name, size_t nlen,
		      const char *fs, size_t fslen, int has_fs)
{
	struct comp *x;

	ALLOC_GROW(c->v, c->nr + 1, c->alloc);
	x = &c->v[c->nr++];
	x->name_ofs = c->store.len;
	x->name_len = nlen;
	buf_add(&c->store, name, nlen);
	buf_addch(&c->store, '\0');
	x->has_fs = has_fs;
	x->fs_ofs = c->store.len;
	x->fs_len = has_fs ? fslen : 0;
	if (has_fs)
		buf_add(&c->store, fs, fslen);
	buf_addch(&c->store, '\0');
}

static const char *comp_name(const struct comps *c, size_t i)
{
	return c->store.data + c->v[i].name_ofs;
}

static const char *comp_fs(const struct comps *c, size_t i)
{
	return c->v[i].has_fs ? c->store.data + c->v[i].fs_ofs : NULL;
}

/* path_components(): '/home/foo' -> ('', '/'), ('home', '/home'), ... */
static void path_components(struct comps *c, const char *path)
{
	struct buf norm = BUF_INIT;
	const char *s, *e;

	comps_reset(c);
	comps_add(c, "", 0, "/", 1, 1);
	pypath_abspath(&norm, path);
	if (strcmp(norm.data, "/")) {
		/* norm_path.split('/')[1:], full_path += '/' + p */
		s = norm.data + 1;
		for (;;) {
			e = strchrnul(s, '/');
			comps_add(c, s, (size_t)(e - s), norm.data,
				  (size_t)(e - norm.data), 1);
			if (!*e)
				break;
			s = e + 1;
		}
	}
	buf_release(&norm);
}

/*
 * stripped_path_components(): strip the longest prefix (a string
 * prefix, as bup tests it) of the normalised path.  `prefixes` are
 * already abspath()ed, sorted longest first, without "/".
 */
static void stripped_path_components(struct comps *c, const char *path,
				     char **prefixes, size_t nr)
{
	struct buf norm = BUF_INIT, prefix = BUF_INIT;

	pypath_abspath(&norm, path);
	for (size_t i = 0; i < nr; i++) {
		size_t bl = strlen(prefixes[i]);
		const char *s, *e;

		if (!has_prefix(norm.data, norm.len, prefixes[i], bl))
			continue;
		comps_reset(c);
		buf_reset(&prefix);
		buf_add(&prefix, norm.data, bl);
		s = norm.data + bl;
		for (;;) {
			e = strchrnul(s, '/');
			if (e > s)   /* not root */
				buf_addch(&prefix, '/');
			buf_add(&prefix, s, (size_t)(e - s));
			comps_add(c, s, (size_t)(e - s), prefix.data,
				  prefix.len, 1);
			if (!*e)
				break;
			s = e + 1;
		}
		goto out;
	}
	path_components(c, path);
out:
	buf_release(&norm);
	buf_release(&prefix);
}

struct graft {
	char *old_path, *new_path;   /* resolve_parent()ed, normpath()ed */
};

static size_t count_ch(const char *s, int ch)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == ch;
	return n;
}

/* grafted_path_components(), the first matching graft wins. */
static void grafted_path_components(struct comps *c, struct graft *g,
				    size_t nr, const char *path)
{
	struct buf clean = BUF_INIT, grafted = BUF_INIT;
	struct comps cc = { BUF_INIT, NULL, 0, 0 };

	pypath_abspath(&clean, path);
	for (size_t i = 0; i < nr; i++) {
		const char *old = g[i].old_path, *new = g[i].new_path;
		size_t strip, nprefix, k;
		const char *s, *last;

		if (!has_prefix(clean.data, clean.len, old, strlen(old)))
			continue;
		/*
		 * re.sub('^' + old, new, clean), then '/' + lstrip('/').
		 * NEEDSWORK: re.sub would also expand backslash escapes
		 * in `new`; paths with backslashes are taken literally.
		 */
		{
			struct buf t = BUF_INIT;
			const char *q;

			buf_addstr(&t, new);
			buf_addstr(&t, clean.data + strlen(old));
			q = t.data;
			while (*q == '/')
				q++;
			buf_addch(&grafted, '/');
			buf_addstr(&grafted, q);
			buf_release(&t);
		}
		path_components(&cc, clean.data);
		strip = !strcmp(old, "/") ? 0 : count_ch(old, '/');
		nprefix = count_ch(new, '/');
		comps_reset(c);
		/* grafted.split('/')[:new.count('/')] as (p, None) */
		s = grafted.data;
		for (k = 0; k < nprefix; k++) {
			const char *e = strchrnul(s, '/');
			comps_add(c, s, (size_t)(e - s), NULL, 0, 0);
			if (!*e)
				break;
			s = e + 1;
		}
		nprefix = c->nr;
		for (k = strip; k < cc.nr; k++)
			comps_add(c, comp_name(&cc, k), cc.v[k].name_len,
				  comp_fs(&cc, k), cc.v[k].fs_len,
				  cc.v[k].has_fs);
		/* result[len(prefix)] = (new.split('/')[-1], clean[strip][1]) */
		last = strrchr(new, '/');
		last = last ? last + 1 : new;
		if (nprefix < c->nr && strip < cc.nr) {
			struct comps t = { BUF_INIT, NULL, 0, 0 };
			for (k = 0; k < c->nr; k++) {
				if (k == nprefix)
					comps_add(&t, last, strlen(last),
						  comp_fs(&cc, strip),
						  cc.v[strip].fs_len,
						  cc.v[strip].has_fs);
				else
					comps_add(&t, comp_name(c, k),
						  c->v[k].name_len,
						  comp_fs(c, k),
						  c->v[k].fs_len,
						  c->v[k].has_fs);
			}
			comps_reset(c);
			/* --graft ...=/ drops the first component */
			for (k = !strcmp(new, "/"); k < t.nr; k++)
				comps_add(c, comp_name(&t, k),
					  t.v[k].name_len, comp_fs(&t, k),
					  t.v[k].fs_len, t.v[k].has_fs);
			buf_release(&t.store);
			free(t.v);
		}
		goto out;
	}
	path_components(c, clean.data);
out:
	buf_release(&clean);
	buf_release(&grafted);
	buf_release(&cc.store);
	free(cc.v);
}

/* ---- the directory stack (bup.tree.StackDir) ------------------------ */

struct sitem {
	size_t name_ofs, name_len;    /* in level->names, NUL-terminated */
	unsigned mode, gitmode;       /* fs mode (040000 for subtrees) */
	struct oid oid;
	size_t meta_ofs, meta_len;    /* encoding in level->metas */
};

struct slevel {
	struct buf name;
	struct meta meta;             /* the directory's own metadata */
	struct buf names;
	struct buf metas;
	struct sitem *items;
	size_t nr, alloc;
};

struct sortent {
	const char *name;
	size_t len, idx;
	unsigned mode;
};

struct save {
	/* options */
	int verbose, progress, strip, tree_out, commit_out;
	long long smaller;
	char **strip_prefixes;
	size_t nr_strip_prefixes;
	struct graft *grafts;
	size_t nr_grafts;
	const char **sources;
	int nr_sources;

	/* repository and index */
	struct packwriter *pw;          /* local, or */
	struct client *cli;             /* -r / reverse mode, with */
	struct client_writer *cw;
	struct objsink *sink;
	struct bindex ix;
	const unsigned char *metamap;
	size_t metalen;
	struct hlink_db *hl;

	/* the stack; levels beyond depth keep their allocations */
	struct slevel *stack;
	size_t depth, nlevels, alloc;
	struct comps dirp;
	struct buf dirp_key;     /* dir the cached dirp was made for */
	int have_dirp;
	struct buf first_root_name, first_root_fs;
	int have_first_root, first_root_has_fs, root_collision;
	struct buf lastskip;
	int have_lastskip;
	struct buf lastdir;

	/* scratch, reused */
	struct meta fmeta;
	struct tree_builder tb;
	struct buf bupm, mangled, msg;
	struct sortent *sorted;
	size_t sorted_alloc;
	unsigned char *dup;
	size_t dup_alloc;
	struct hsplit h;
	int h_ready;

	/* already_saved() of the entry wantrecurse last saw */
	size_t as_ofs;
	int as_valid, as_result;

	/* progress (save.py's _nonlocal and friends) */
	uint64_t count, subcount, total;
	uint64_t fcount, ftotal;
	double lastremain, tstart;
};

static double now_secs(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void progress_report(struct save *s, uint64_t n)
{
	uint64_t cc;
	double pct, elapsed, remain, kpsf, frac;
	long long kps, hours, mins, secs;
	char remainstr[64] = "", kpsstr[64] = "";

	s->subcount += n;
	cc = s->count + s->subcount;
	pct = s->total ? cc * 100.0 / (double)s->total : 0;
	elapsed = now_secs() - s->tstart;
	kps = elapsed != 0 ? (long long)(cc / 1024. / elapsed) : 0;
	/* kps_frac = 10 ** int(math.log(kps+1, 10) - 1) */
	frac = pow(10, (double)(long long)(log((double)kps + 1) / log(10.0)
					   - 1));
	kpsf = (double)(long long)((double)kps / frac) * frac;
	remain = cc ? elapsed / (double)cc * (double)(s->total - cc) : 0.0;
	if (s->lastremain != 0 && remain > s->lastremain &&
	    (remain - s->lastremain) / s->lastremain < 0.05)
		remain = s->lastremain;
	else
		s->lastremain = remain;
	hours = (long long)(remain / 60 / 60);
	mins = (long long)(remain / 60 - (double)hours * 60);
	secs = (long long)(remain - (double)hours * 60 * 60 -
			   (double)mins * 60);
	if (elapsed >= 30) {
		snprintf(kpsstr, sizeof(kpsstr), "%lldk/s", (long long)kpsf);
		if (hours)
			snprintf(remainstr, sizeof(remainstr), "%lldh%lldm",
				 hours, mins);
		else if (mins)
			snprintf(remainstr, sizeof(remainstr), "%lldm%lld",
				 mins, secs);
		else
			snprintf(remainstr, sizeof(remainstr), "%llds", secs);
	}
	cli_progress("Saving: %.2f%% (%llu/%lluk, %llu/%llu files) %s %s\r",
		     pct, (unsigned long long)(cc / 1024),
		     (unsigned long long)(s->total / 1024),
		     (unsigned long long)s->fcount,
		     (unsigned long long)s->ftotal, remainstr, kpsstr);
}

static struct slevel *push_level(struct save *s, const char *name,
				 size_t len)
{
	struct slevel *l;

	if (s->depth == s->nlevels) {
		ALLOC_GROW(s->stack, s->nlevels + 1, s->alloc);
		l = &s->stack[s->nlevels++];
		memset(l, 0, sizeof(*l));
		buf_init(&l->name, 0);
		buf_init(&l->names, 0);
		buf_init(&l->metas, 0);
		meta_init(&l->meta);
	}
	l = &s->stack[s->depth++];
	buf_reset(&l->name);
	buf_add(&l->name, name, len);
	buf_reset(&l->names);
	buf_reset(&l->metas);
	l->nr = 0;
	return l;
}

/* StackDir.append(); meta_enc NULL for subtrees. */
static void level_append(struct slevel *l, const char *name, size_t len,
			 unsigned mode, unsigned gitmode,
			 const struct oid *oid, const struct meta *meta)
{
	struct sitem *it;

	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	it = &l->items[l->nr++];
	it->name_ofs = l->names.len;
	it->name_len = len;
	buf_add(&l->names, name, len);
	buf_addch(&l->names, '\0');
	it->mode = mode;
	it->gitmode = gitmode;
	it->oid = *oid;
	it->meta_ofs = l->metas.len;
	if (meta)
		meta_encode(&l->metas, meta, 0);
	it->meta_len = l->metas.len - it->meta_ofs;
}

static int split_mem(struct save *s, const void *data, size_t len,
		     struct oid *oid, unsigned *mode);

/* Plain byte order of the names, ties by position (a stable sort). */
static int sortent_cmp(const void *va, const void *vb)
{
	const struct sortent *a = va, *b = vb;
	int c = bytes_cmp(a->name, a->len, b->name, b->len);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* git.shalist_item_sort_key order (name + '/' for directories). */
static int sortent_git_cmp(const void *va, const void *vb)
{
	const struct sortent *a = va, *b = vb;
	int c = tree_name_cmp(a->name, a->len, S_ISDIR(a->mode) ? 040000 : 0,
			      b->name, b->len, S_ISDIR(b->mode) ? 040000 : 0);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * _pop(): close the innermost directory.  With force_tree its recorded
 * tree is used as is; otherwise duplicate names are dropped with bup's
 * error, the `.bupm` (own metadata, or empty metadata when empty_meta,
 * then the non-directory entries by unmangled name: FORMAT.md 5.7) is
 * split like a file, and the tree of mangled names is written.  The
 * tree is appended to the parent, if any.
 */
static int pop_level(struct save *s, const struct oid *force_tree,
		     int empty_meta, struct oid *out)
{
	struct slevel *l = &s->stack[--s->depth];
	struct oid tree, bupm;
	unsigned bupm_mode;
	size_t n = l->nr, nmeta = 0;
	int ret, need_git_sort = 0;

	if (force_tree) {
		tree = *force_tree;
		goto append;
	}

	ALLOC_GROW(s->sorted, n, s->sorted_alloc);
	ALLOC_GROW(s->dup, n, s->dup_alloc);
	for (size_t i = 0; i < n; i++) {
		s->sorted[i].name = l->names.data + l->items[i].name_ofs;
		s->sorted[i].len = l->items[i].name_len;
		s->sorted[i].idx = i;
		s->sorted[i].mode = l->items[i].mode;
		s->dup[i] = 0;
	}
	if (n > 1)
		qsort(s->sorted, n, sizeof(*s->sorted), sortent_cmp);
	for (size_t i = 1; i < n; i++)
		if (!bytes_cmp(s->sorted[i].name, s->sorted[i].len,
			       s->sorted[i - 1].name, s->sorted[i - 1].len))
			s->dup[s->sorted[i].idx] = 1;
	for (size_t i = 0; i < n; i++) {
		struct buf parent = BUF_INIT, a = BUF_INIT, b = BUF_INIT;

		if (!s->dup[i])
			continue;
		/* bup joins the *remaining* stack: the parent's path */
		for (size_t k = 0; k < s->depth; k++) {
			if (k)
				buf_addch(&parent, '/');
			buf_add(&parent, s->stack[k].name.data,
				s->stack[k].name.len);
		}
		buf_addch(&parent, '/');
		cli_path_msg(&a, l->names.data + l->items[i].name_ofs);
		cli_path_msg(&b, parent.data);
		cli_add_error("error: ignoring duplicate path %s in %s",
			      a.data, b.data);
		buf_release(&parent);
		buf_release(&a);
		buf_release(&b);
	}

	/* The metadata stream: directory first, then non-trees. */
	buf_reset(&s->bupm);
	if (empty_meta)
		buf_addch(&s->bupm, 0);
	else
		meta_encode(&s->bupm, &l->meta, 0);
	for (size_t i = 0; i < n; i++) {
		struct sortent *e = &s->sorted[i];
		if (s->dup[e->idx] || l->items[e->idx].mode == TREE_MODE_TREE)
			continue;
		if (S_ISDIR(e->mode))
			need_git_sort = 1;
		s->sorted[nmeta++] = *e;
	}
	/*
	 * bup sorts by shalist_item_sort_key of the fs mode: only an
	 * index entry claiming a directory mode for a file name would
	 * make that differ from plain name order.
	 */
	if (need_git_sort && nmeta > 1)
		qsort(s->sorted, nmeta, sizeof(*s->sorted), sortent_git_cmp);
	for (size_t i = 0; i < nmeta; i++) {
		const struct sitem *it = &l->items[s->sorted[i].idx];
		buf_add(&s->bupm, l->metas.data + it->meta_ofs, it->meta_len);
	}
	if ((ret = split_mem(s, s->bupm.data, s->bupm.len, &bupm,
			     &bupm_mode)))
		return ret;

	tree_builder_add(&s->tb, bupm_mode, ".bupm", 5, &bupm);
	for (size_t i = 0; i < n; i++) {
		const struct sitem *it = &l->items[i];
		if (s->dup[i])
			continue;
		buf_reset(&s->mangled);
		tree_mangle_name(&s->mangled, l->names.data + it->name_ofs,
				 it->name_len, it->mode, it->gitmode);
		tree_builder_add(&s->tb, it->gitmode, s->mangled.data,
				 s->mangled.len, &it->oid);
	}
	if ((ret = tree_builder_write(&s->tb, s->sink, &tree)))
		return ret;

append:
	if (s->depth)
		level_append(&s->stack[s->depth - 1], l->name.data,
			     l->name.len, TREE_MODE_TREE, TREE_MODE_TREE,
			     &tree, NULL);
	l->nr = 0;
	if (out)
		*out = tree;
	return 0;
}

/* ---- per-entry work ------------------------------------------------- */

static void meta_warn(void *ctx, const char *msg)
{
	(void)ctx;
	cli_add_error("%s", msg);
}

/*
 * already_saved(): valid in the index and its object is in the repo
 * (remote: in the index cache of the server's idx files, or sent in
 * this session, as bup's PackWriter_Remote.exists).
 */
static int already_saved(struct save *s, const struct bindex_iter *it)
{
	struct oid oid;

	if (!bindex_ent_is_valid(&it->e))
		return 0;
	if (s->as_valid && s->as_ofs == it->ent_ofs)
		return s->as_result;
	memcpy(oid.hash, it->e.sha, OID_RAWSZ);
	if (s->pw)
		return packwriter_exists(s->pw, &oid) > 0;
	return s->sink->exists(s->sink, &oid) > 0;
}

static int want_pre(struct bindex_iter *it, void *data)
{
	struct save *s = data;

	s->as_valid = 0;
	return !already_saved(s, it);
}

static int sha_missing(const struct bindex_ent *e)
{
	return (e->flags & BINDEX_SHAMISSING) ||
	       !(e->flags & BINDEX_HASHVALID);
}

static int want_during(struct bindex_iter *it, void *data)
{
	struct save *s = data;
	int r;

	s->as_valid = 0;
	r = already_saved(s, it);
	/* A file is yielded right after this call: remember the answer. */
	s->as_ofs = it->ent_ofs;
	s->as_result = r;
	s->as_valid = bindex_ent_is_valid(&it->e);
	return !r || sha_missing(&it->e);
}

/* find_hardlink_target(): the first path bup index listed for the inode. */
static const char *hardlink_target(struct save *s, const struct bindex_ent *e)
{
	const char *const *paths;

	if (S_ISDIR(e->mode) || e->nlink <= 1)
		return NULL;
	if (!hlink_node_paths(s->hl, e->dev, e->ino, &paths))
		return NULL;
	return paths[0];
}

struct file_split {
	struct save *s;
	struct fantree tree;
};

static int emit_file_chunk(void *ctx, const unsigned char *data, size_t len,
			   int level, const struct oid *id)
{
	struct file_split *fs = ctx;
	struct oid oid;
	int ret = id ? objsink_write_known(fs->s->sink, OBJ_BLOB, data, len,
					   id, &oid)
		     : objsink_write(fs->s->sink, OBJ_BLOB, data, len, &oid);

	if (ret)
		return ret;
	if ((ret = fantree_add(&fs->tree, &oid, len, level)))
		return ret;
	if (fs->s->progress)
		progress_report(fs->s, len);
	return 0;
}

/*
 * split_to_blob_or_tree() of a `.bupm` stream: the same 8 MiB "reads" a
 * file of these bytes would give, and (as bup's global progress
 * callback does) each blob counts in the progress line.
 */
static int split_mem(struct save *s, const void *data, size_t len,
		     struct oid *oid, unsigned *mode)
{
	struct file_split fs = { s, { 0 } };
	const unsigned char *p = data;
	int ret = 0;

	fantree_init(&fs.tree, s->sink);
	if (s->h_ready)
		hsplit_reset(&s->h, emit_file_chunk, &fs);
	else {
		hsplit_init(&s->h, SAVE_FANBITS, emit_file_chunk, &fs);
		/* Large reads are scanned on two threads (hashsplit.c). */
		hsplit_set_threads(&s->h, cli_threads());
	}
	s->h_ready = 1;
	while (len && !ret) {
		size_t n = MIN(len, (size_t)HSPLIT_READ_SIZE);
		ret = hsplit_feed(&s->h, p, n);
		p += n;
		len -= n;
	}
	if (!ret)
		ret = hsplit_finish(&s->h);
	if (!ret)
		ret = fantree_finish(&fs.tree, oid, mode);
	fantree_release(&fs.tree);
	return ret;
}

/*
 * Hashsplit one regular file (split_to_blob_or_tree).  Returns 0, 1 for
 * an error already reported (the entry is skipped), <0 for a fatal one.
 */
static int split_file(struct save *s, const char *path, int fd,
		      struct oid *oid, unsigned *mode, uint64_t *size)
{
	struct file_split fs = { s, { 0 } };
	int ret = 0, e = 0;

	/* bup's open_noatime(): O_NOATIME unless we may not (EPERM). */
	if (fd < 0)
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		goto report_named;
	}
	fantree_init(&fs.tree, s->sink);
	if (s->h_ready)
		hsplit_reset(&s->h, emit_file_chunk, &fs);
	else {
		hsplit_init(&s->h, SAVE_FANBITS, emit_file_chunk, &fs);
		/* Large reads are scanned on two threads (hashsplit.c). */
		hsplit_set_threads(&s->h, cli_threads());
	}
	s->h_ready = 1;
	*size = 0;
	for (;;) {
		unsigned char *p = hsplit_buffer(&s->h, HSPLIT_READ_SIZE);
		long long n = read_full(fd, p, HSPLIT_READ_SIZE);

		if (n < 0) {
			e = errno;
			break;
		}
		if (n && (ret = hsplit_feed_buffer(&s->h, (size_t)n)))
			break;
		*size += (uint64_t)n;
		/* read_full is short only at EOF */
		if ((size_t)n < HSPLIT_READ_SIZE)
			break;
		/*
		 * A file of more than one read: ask for more readahead.  Not
		 * before the first read, where it costs most files (small
		 * ones) a system call for nothing.
		 */
		if (*size == HSPLIT_READ_SIZE)
			posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	if (!ret && !e)
		ret = hsplit_finish(&s->h);
	if (!ret && !e)
		ret = fantree_finish(&fs.tree, oid, mode);
	fantree_release(&fs.tree);
	/* leave the buffer for the next file */
	close(fd);
	if (ret)
		return ret;
	if (e) {
		struct buf b = BUF_INIT;
		/* '%s: %s' % (ent.name, e) of a read error */
		cli_bytes_repr(&b, path);
		buf_addstr(&b, ": ");
		cli_add_oserror(b.data, e, NULL, 0);
		buf_release(&b);
		return 1;
	}
	return 0;

report_named:
	{
		struct buf b = BUF_INIT;
		cli_bytes_repr(&b, path);
		buf_addstr(&b, ": ");
		cli_add_oserror(b.data, e, path, 0);
		buf_release(&b);
	}
	return 1;
}

static void set_lastskip(struct save *s, const char *name, size_t len)
{
	buf_reset(&s->lastskip);
	buf_add(&s->lastskip, name, len);
	s->have_lastskip = 1;
}

/* The archive path of directory `dir` as (name, fs path) components. */
static void compute_dirp(struct save *s, const char *dir, size_t dirlen)
{
	if (s->have_dirp && s->dirp_key.len == dirlen &&
	    !memcmp(s->dirp_key.data, dir, dirlen))
		return;
	buf_reset(&s->dirp_key);
	buf_add(&s->dirp_key, dir, dirlen);
	if (s->strip || s->nr_strip_prefixes)
		stripped_path_components(&s->dirp, s->dirp_key.data,
					 s->strip_prefixes,
					 s->nr_strip_prefixes);
	else if (s->nr_grafts)
		grafted_path_components(&s->dirp, s->grafts, s->nr_grafts,
					s->dirp_key.data);
	else
		path_components(&s->dirp, s->dirp_key.data);
	s->have_dirp = 1;
}

/* [x.name for x in stack] > [x[0] for x in dirp], Python's list order. */
static int stack_after_dirp(struct save *s)
{
	const struct comps *c = &s->dirp;
	size_t n = MIN(s->depth, c->nr);

	for (size_t i = 0; i < n; i++) {
		int r = bytes_cmp(s->stack[i].name.data, s->stack[i].name.len,
				  comp_name(c, i), c->v[i].name_len);
		if (r)
			return r > 0;
	}
	return s->depth > c->nr;
}

static int meta_from_index(struct save *s, struct meta *m,
			   const struct bindex_iter *it)
{
	const struct bindex_ent *e = &it->e;
	const char *hl;
	size_t used;
	int64_t ns;
	int ret;

	if (e->meta_ofs >= s->metalen)
		return err_set(ERR_CORRUPT, "%s: no metadata at offset %llu",
			       it->name.data,
			       (unsigned long long)e->meta_ofs);
	ret = meta_decode(m, s->metamap + e->meta_ofs,
			  s->metalen - e->meta_ofs, &used);
	if (ret)
		return err_set(ret, "bupindex.meta at offset %llu: %s",
			       (unsigned long long)e->meta_ofs, err_last());
	buf_reset(&m->hardlink_target);
	if ((hl = hardlink_target(s, e)))
		buf_addstr(&m->hardlink_target, hl);
	/* Restore the times that bup index stored as 0 (FORMAT.md 5.5). */
#define SET_TIME(field, s_, n_) do {					\
		int64_t ts_;						\
		uint64_t tn_;						\
		ns = bindex_ts_ns(e->s_, e->n_);			\
		bindex_ns_ts(ns, &ts_, &tn_);				\
		m->field.sec = ts_;					\
		m->field.nsec = (int32_t)tn_;				\
	} while (0)
	SET_TIME(atime, atime_s, atime_ns);
	SET_TIME(mtime, mtime_s, mtime_ns);
	SET_TIME(ctime, ctime_s, ctime_ns);
#undef SET_TIME
	return 0;
}

/* One pass of the main loop of save_tree(). */
static int save_entry(struct save *s, struct bindex_iter *it)
{
	struct bindex_ent *e = &it->e;
	const char *name = it->name.data;
	size_t namelen = it->name.len, dirlen, fileofs;
	const char *file;
	int exists, hashvalid, wasmissing, ret;
	uint64_t oldsize = e->size;
	struct oid oid;

	pypath_split(name, namelen, &dirlen, &fileofs);
	file = name + fileofs;
	exists = !!(e->flags & BINDEX_EXISTS);
	hashvalid = already_saved(s, it);
	s->as_valid = 0;
	wasmissing = sha_missing(e);

	if (s->verbose) {
		char status = !exists ? 'D' : !hashvalid
			? (bindex_ent_sha_is_empty(e) ? 'A' : 'M') : ' ';
		struct buf p = BUF_INIT;

		if (s->verbose >= 2) {
			cli_path_msg(&p, name);
			cli_log("%c %-70s\n", status, p.data);
		} else if (!S_ISDIR(e->mode) &&
			   bytes_cmp(s->lastdir.data, s->lastdir.len,
				     name, dirlen)) {
			if (!has_prefix(s->lastdir.data, s->lastdir.len,
					name, dirlen)) {
				struct buf d = BUF_INIT;
				buf_add(&d, name, dirlen);
				if (!dirlen || d.data[dirlen - 1] != '/')
					buf_addch(&d, '/');
				cli_path_msg(&p, d.data);
				cli_log("%c %-70s\n", status, p.data);
				buf_release(&d);
			}
			buf_reset(&s->lastdir);
			buf_add(&s->lastdir, name, dirlen);
		}
		buf_release(&p);
	}

	if (s->progress)
		progress_report(s, 0);
	s->fcount++;

	if (!exists)
		return 0;
	if (s->smaller && e->size >= (uint64_t)s->smaller) {
		if (!hashvalid) {
			if (s->verbose) {
				struct buf p = BUF_INIT;
				cli_path_msg(&p, name);
				cli_log("skipping large file \"%s\"\n", p.data);
				buf_release(&p);
			}
			set_lastskip(s, name, namelen);
		}
		return 0;
	}

	compute_dirp(s, name, dirlen);
	{
		const struct comps *c = &s->dirp;
		const char *fs0 = comp_fs(c, 0);

		if (!s->have_first_root) {
			buf_reset(&s->first_root_name);
			buf_add(&s->first_root_name, comp_name(c, 0),
				c->v[0].name_len);
			buf_reset(&s->first_root_fs);
			if (fs0)
				buf_add(&s->first_root_fs, fs0,
					c->v[0].fs_len);
			s->first_root_has_fs = !!fs0;
			s->have_first_root = 1;
		} else if (bytes_cmp(s->first_root_name.data,
				     s->first_root_name.len, comp_name(c, 0),
				     c->v[0].name_len) ||
			   s->first_root_has_fs != !!fs0 ||
			   (fs0 && bytes_cmp(s->first_root_fs.data,
					     s->first_root_fs.len, fs0,
					     c->v[0].fs_len))) {
			s->root_collision = 1;
		}
	}

	/* Leave the sub-trees we are done with ... */
	while (s->depth && stack_after_dirp(s))
		if ((ret = pop_level(s, NULL, 0, NULL)))
			return ret;
	/* ... and open the missing ones, with their metadata. */
	for (size_t i = s->depth; i < s->dirp.nr; i++) {
		const char *fs = comp_fs(&s->dirp, i);
		struct slevel *l = push_level(s, comp_name(&s->dirp, i),
					      s->dirp.v[i].name_len);

		if (!fs) {
			meta_reset(&l->meta);
		} else if (meta_from_path(&l->meta, fs, NULL, META_NORMALIZE,
					  meta_warn, NULL)) {
			cli_add_oserror(NULL, errno, fs, 0);
			/* sic: bup records the component name here */
			set_lastskip(s, l->name.data, l->name.len);
			meta_reset(&l->meta);
		}
	}

	if (!*file) {
		/* A directory entry: finish its tree. */
		int old;

		if (s->depth == 1)
			return 0;   /* the top level: keep the root open */
		old = already_saved(s, it);
		if (old) {
			memcpy(oid.hash, e->sha, OID_RAWSZ);
			if ((ret = pop_level(s, &oid, 0, NULL)))
				return ret;
			if (exists && wasmissing)
				s->count += oldsize;
			return 0;
		}
		if ((ret = pop_level(s, NULL, 0, &oid)))
			return ret;
		if (s->have_lastskip &&
		    has_prefix(s->lastskip.data, s->lastskip.len, name,
			       namelen)) {
			e->flags &= ~BINDEX_HASHVALID;
		} else {
			e->gitmode = TREE_MODE_TREE;
			memcpy(e->sha, oid.hash, OID_RAWSZ);
			e->flags |= BINDEX_HASHVALID | BINDEX_EXISTS;
		}
		if ((ret = bindex_iter_repack(it)))
			return ret;
		if (exists && wasmissing)
			s->count += oldsize;
		return 0;
	}

	if (hashvalid) {
		struct meta *m = &s->fmeta;

		if ((ret = meta_from_index(s, m, it)))
			return ret;
		memcpy(oid.hash, e->sha, OID_RAWSZ);
		level_append(&s->stack[s->depth - 1], file,
			     namelen - fileofs, e->mode, e->gitmode, &oid, m);
	} else {
		struct meta *m = &s->fmeta;
		const char *hl = hardlink_target(s, e);
		unsigned gitmode;
		int fd = -1;

		/*
		 * A file's one open, for its attr flags and its content.
		 * O_NONBLOCK: what is there now may be a fifo (the type is
		 * checked below); read() of a regular file ignores it.  On
		 * failure meta_from_path and split_file open and report as
		 * bup does.
		 */
		if (S_ISREG(e->mode)) {
			fd = open(name, O_RDONLY | O_NOFOLLOW | O_NOATIME |
				  O_NONBLOCK | O_CLOEXEC);
			if (fd < 0 && errno == EPERM)
				fd = open(name, O_RDONLY | O_NOFOLLOW |
					  O_NONBLOCK | O_CLOEXEC);
		}
		if (meta_from_path_fd(m, name, fd, NULL, META_NORMALIZE,
				      meta_warn, NULL)) {
			cli_add_oserror(NULL, errno, name, 0);
			if (fd >= 0)
				close(fd);
			set_lastskip(s, name, namelen);
			return 0;
		}
		if (hl)
			buf_addstr(&m->hardlink_target, hl);
		if ((e->mode & S_IFMT) != ((unsigned)m->mode & S_IFMT)) {
			struct buf p = BUF_INIT;
			/*
			 * The type changed since indexing: reading a fifo
			 * or recording a stale type would be wrong.
			 */
			cli_path_msg(&p, name);
			cli_add_error("%s: mode changed since indexing, "
				      "skipping.", p.data);
			buf_release(&p);
			if (fd >= 0)
				close(fd);
			set_lastskip(s, name, namelen);
			return 0;
		}
		if (S_ISREG(e->mode)) {
			uint64_t size;

			/* split_file closes fd */
			ret = split_file(s, name, fd, &oid, &gitmode, &size);
			if (ret < 0)
				return ret;
			if (ret > 0) {
				set_lastskip(s, name, namelen);
				goto count;
			}
			/* the bytes actually read (FORMAT.md 5.4) */
			m->size = (int64_t)size;
		} else if (S_ISLNK(e->mode)) {
			gitmode = TREE_MODE_LINK;
			if ((ret = objsink_write(s->sink, OBJ_BLOB,
						 m->symlink_target.data,
						 m->symlink_target.len, &oid)))
				return ret;
		} else {
			/* fully described by its metadata: an empty blob */
			gitmode = TREE_MODE_BLOB;
			if ((ret = objsink_write(s->sink, OBJ_BLOB, "", 0,
						 &oid)))
				return ret;
		}
		e->gitmode = gitmode;
		memcpy(e->sha, oid.hash, OID_RAWSZ);
		e->flags |= BINDEX_HASHVALID | BINDEX_EXISTS;
		if ((ret = bindex_iter_repack(it)))
			return ret;
		level_append(&s->stack[s->depth - 1], file,
			     namelen - fileofs, e->mode, gitmode, &oid, m);
	}
count:
	/* progress accounting only */
	if (exists && wasmissing) {
		s->count += oldsize;
		s->subcount = 0;
	}
	return 0;
}

/* ---- Reader.filter() over reduce_paths() ---------------------------- */

static int cmp_str_desc(const void *a, const void *b)
{
	return -strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * reduce_paths(): resolved sources, "/" appended to directories,
 * sources inside an earlier one dropped, in reverse order.  Errors are
 * bup's add_error()s (once per call, as bup runs it once per filter).
 */
static size_t reduce_paths(struct save *s, char ***out)
{
	char **v = xcalloc((size_t)s->nr_sources + 1, sizeof(*v));
	size_t n = 0, k = 0;
	struct buf b = BUF_INIT;

	for (int i = 0; i < s->nr_sources; i++) {
		struct stat st;

		buf_reset(&b);
		pypath_resolve_parent(&b, s->sources[i]);
		if (lstat(b.data, &st) < 0) {
			cli_add_oserror("reduce_paths: ", errno, b.data, 1);
			continue;
		}
		if (S_ISDIR(st.st_mode) &&
		    (!b.len || b.data[b.len - 1] != '/'))
			buf_addch(&b, '/');
		v[n++] = xstrdup(b.data);
	}
	buf_release(&b);
	/* ascending, drop those under (or equal to) the previous kept one */
	qsort(v, n, sizeof(*v), cmp_str_desc);
	for (size_t i = 0; i < n / 2; i++) {
		char *t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	for (size_t i = 0; i < n; i++) {
		const char *prev = k ? v[k - 1] : NULL;
		size_t pl = prev ? strlen(prev) : 0;

		if (prev && (!strcmp(prev, v[i]) ||
			     (pl && prev[pl - 1] == '/' &&
			      !strncmp(v[i], prev, pl)))) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	qsort(v, k, sizeof(*v), cmp_str_desc);
	*out = v;
	return k;
}

typedef int (*entry_fn)(struct save *s, struct bindex_iter *it);

static int filter_run(struct save *s,
		      int (*want)(struct bindex_iter *, void *),
		      entry_fn fn)
{
	char **rps;
	size_t n = reduce_paths(s, &rps);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		struct bindex_iter it;
		int any = 0, r;

		bindex_iter_init(&it, &s->ix, rps[i]);
		it.wantrecurse = want;
		it.wantrecurse_data = s;
		while ((r = bindex_iter_next(&it)) > 0) {
			any = 1;
			if ((ret = fn(s, &it)))
				break;
		}
		bindex_iter_release(&it);
		if (ret)
			break;
		if (r < 0) {
			ret = r;
			break;
		}
		if (any)
			continue;
		/* Always return at least the top of each prefix. */
		s->as_valid = 0;
		r = bindex_find(&it, &s->ix, rps[i]);
		if (r > 0) {
			ret = fn(s, &it);
		} else if (r == 0) {
			struct buf b = BUF_INIT;
			cli_bytes_repr(&b, rps[i]);
			ret = err_set(ERR_NOTFOUND, "cannot find %s", b.data);
			buf_release(&b);
		} else {
			ret = r;
		}
		bindex_iter_release(&it);
	}
	for (size_t i = 0; i < n; i++)
		free(rps[i]);
	free(rps);
	return ret;
}

/* The progress pre-scan: totals, and IX_SHAMISSING brought up to date. */
static int prescan_entry(struct save *s, struct bindex_iter *it)
{
	struct bindex_ent *e = &it->e;
	int exists, hashvalid, want, old;

	if (!(s->ftotal % 10024))
		cli_progress("Reading index: %llu\r",
			     (unsigned long long)s->ftotal);
	exists = !!(e->flags & BINDEX_EXISTS);
	hashvalid = already_saved(s, it);
	s->as_valid = 0;
	/* ExistingEntry.set_sha_missing(not hashvalid) */
	want = !hashvalid;
	old = sha_missing(e);
	if (want != old) {
		int ret;
		e->flags = (uint16_t)((e->flags & ~BINDEX_SHAMISSING) |
				      (want ? BINDEX_SHAMISSING : 0));
		if ((ret = bindex_iter_repack(it)))
			return ret;
	}
	if (!s->smaller || e->size < (uint64_t)s->smaller)
		if (exists && !hashvalid)
			s->total += e->size;
	s->ftotal++;
	return 0;
}

static int save_tree(struct save *s, struct oid *tree)
{
	int ret;

	if (s->progress) {
		if ((ret = filter_run(s, want_pre, prescan_entry)))
			return ret;
		cli_progress_done("Reading index: %llu, done.\n",
				  (unsigned long long)s->ftotal);
	}
	s->tstart = now_secs();
	if ((ret = filter_run(s, want_during, save_entry)))
		return ret;
	if (s->progress) {
		double pct = s->total ? s->count * 100.0 / (double)s->total
				      : 0;
		/* `total and x or 100`: a 0.0 percentage shows as 100 */
		if (pct == 0)
			pct = 100;
		cli_progress_done("Saving: %.2f%% (%llu/%lluk, %llu/%llu "
				  "files), done.    \n", pct,
				  (unsigned long long)(s->count / 1024),
				  (unsigned long long)(s->total / 1024),
				  (unsigned long long)s->fcount,
				  (unsigned long long)s->ftotal);
	}
	if (!s->depth)
		return err_set(ERR_NOTFOUND, "nothing to save");
	while (s->depth > 1)
		if ((ret = pop_level(s, NULL, 0, NULL)))
			return ret;
	/* Root collisions get empty metadata for the root. */
	return pop_level(s, NULL, s->root_collision, tree);
}

/* ---- the command ---------------------------------------------------- */

static long long num_opt(struct opts *o, const char *flag)
{
	long long v = 0;
	const char *str = opt_str(o, flag);

	if (!opt_count(o, flag) || !str || !*str)
		return 0;
	if (opt_parse_num(str, &v) < 0)
		cli_usage_fatal(o, "invalid number for --%s: '%s'", flag, str);
	return v;
}

static int cmp_len_desc(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	size_t lx = strlen(*x), ly = strlen(*y);

	return lx > ly ? -1 : lx < ly;
}

/* Map bupindex.meta read-only; a missing file is bup's "no index". */
static int map_metastore(struct save *s, const char *path, int *missing)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *m;

	*missing = 0;
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		return err_errno("cannot open '%s'", path);
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_errno("cannot stat '%s'", path);
	}
	if (st.st_size > 0) {
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			 fd, 0);
		if (m == MAP_FAILED) {
			close(fd);
			return err_errno("cannot map '%s'", path);
		}
		s->metamap = m;
		s->metalen = (size_t)st.st_size;
	}
	close(fd);
	return 0;
}

/*
 * Index.Reader(): a file with a wrong header is warned about and read
 * as empty, as bup does; anything else wrong with it is an error.
 */
static int open_index(struct save *s, const char *path)
{
	unsigned char hdr[BINDEX_HDRLEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long long n;

	memset(&s->ix, 0, sizeof(s->ix));
	s->ix.fd = -1;
	if (fd < 0)
		return errno == ENOENT ? 0 : err_errno("cannot open '%s'",
						       path);
	n = read_full(fd, hdr, sizeof(hdr));
	close(fd);
	if (n != (long long)sizeof(hdr) ||
	    memcmp(hdr, BINDEX_HDR, BINDEX_HDRLEN)) {
		struct buf got = BUF_INIT, name = BUF_INIT;
		/* bup: %r of the bytes it read, "%s" of the bytes name */
		pypath_bytes_repr(&got, hdr, n > 0 ? (size_t)n : 0);
		buf_reset(&name);
		cli_bytes_repr(&name, path);
		cli_log("warning: %s: header: expected "
			"b'BUPI\\x00\\x00\\x00\\x07', got %s\n", name.data,
			got.data);
		buf_release(&name);
		buf_release(&got);
		return 0;
	}
	return bindex_open(&s->ix, path, BINDEX_RDWR);
}

static void save_release(struct save *s)
{
	for (size_t i = 0; i < s->nlevels; i++) {
		struct slevel *l = &s->stack[i];
		buf_release(&l->name);
		buf_release(&l->names);
		buf_release(&l->metas);
		meta_release(&l->meta);
		free(l->items);
	}
	free(s->stack);
	buf_release(&s->dirp.store);
	free(s->dirp.v);
	buf_release(&s->dirp_key);
	buf_release(&s->first_root_name);
	buf_release(&s->first_root_fs);
	buf_release(&s->lastskip);
	buf_release(&s->lastdir);
	meta_release(&s->fmeta);
	tree_builder_release(&s->tb);
	buf_release(&s->bupm);
	buf_release(&s->mangled);
	buf_release(&s->msg);
	free(s->sorted);
	free(s->dup);
	if (s->h_ready)
		hsplit_release(&s->h);
	for (size_t i = 0; i < s->nr_strip_prefixes; i++)
		free(s->strip_prefixes[i]);
	free(s->strip_prefixes);
	for (size_t i = 0; i < s->nr_grafts; i++) {
		free(s->grafts[i].old_path);
		free(s->grafts[i].new_path);
	}
	free(s->grafts);
	if (s->metamap)
		munmap((void *)s->metamap, s->metalen);
	if (s->hl)
		hlink_free(s->hl);
	bindex_close(&s->ix);
}

int cmd_save(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct save s;
	const char *name = NULL, *str, *strip_path = NULL;
	struct repo *repo = NULL;
	char *refname = NULL, *indexfile = NULL, *path = NULL;
	struct oid oldref, tree, commit;
	int have_old = 0, code = 0, ret = 0, missing, cmd_level = -1;
	const char *remote = NULL;
	int reverse;
	double date;

	memset(&s, 0, sizeof(s));
	s.ix.fd = -1;
	buf_init(&s.dirp.store, 0);
	buf_init(&s.dirp_key, 0);
	buf_init(&s.first_root_name, 0);
	buf_init(&s.first_root_fs, 0);
	buf_init(&s.lastskip, 0);
	buf_init(&s.lastdir, 0);
	buf_init(&s.bupm, 0);
	buf_init(&s.mangled, 0);
	buf_init(&s.msg, 0);
	meta_init(&s.fmeta);
	tree_builder_init(&s.tb);

	cli_parse_opts(&o, optspec, argc, argv);
	s.tree_out = opt_count(&o, "t") > 0;
	s.commit_out = opt_count(&o, "c") > 0;
	if (opt_count(&o, "n") && (str = opt_str(&o, "n")) && *str)
		name = str;
	if (!(s.tree_out || s.commit_out || name))
		cli_usage_fatal(&o, "use one or more of -t, -c, -n");
	if (!o.argc)
		cli_usage_fatal(&o, "no filenames given");
	if (opt_count(&o, "d") && (str = opt_str(&o, "d")) && *str) {
		date = cli_parse_date(&o, str);
	} else {
		date = now_secs();
	}
	s.verbose = opt_count(&o, "v");
	s.progress = cli_stderr_is_tty() && !opt_count(&o, "q");
	s.smaller = num_opt(&o, "smaller");
	(void)num_opt(&o, "bwlimit");   /* only matters for -r */
	s.strip = opt_count(&o, "strip") > 0;
	if (opt_count(&o, "strip-path") && (str = opt_str(&o, "strip-path")) &&
	    *str)
		strip_path = str;
	if (s.strip && strip_path)
		cli_usage_fatal(&o, "--strip is incompatible with --strip-path");
	s.sources = o.argv;
	s.nr_sources = o.argc;

	if (opt_count(&o, "graft") && (str = opt_str(&o, "graft")) && *str) {
		if (s.strip)
			cli_usage_fatal(&o, "--strip is incompatible with "
					"--graft");
		if (strip_path)
			cli_usage_fatal(&o, "--strip-path is incompatible "
					"with --graft");
		for (size_t i = 0; i < o.nr_flags; i++) {
			const char *v = o.flags[i].value, *eq;
			struct buf a = BUF_INIT, b = BUF_INIT, t = BUF_INIT;
			char *old_p, *new_p;

			if (strcmp(o.flags[i].flag, "graft"))
				continue;
			eq = strchr(v, '=');
			if (!eq || strchr(eq + 1, '='))
				cli_usage_fatal(&o, "a graft point must be of "
						"the form old_path=new_path");
			if (eq == v || !eq[1])
				cli_usage_fatal(&o, "a graft point cannot be "
						"empty");
			old_p = xstrndup(v, (size_t)(eq - v));
			new_p = xstrdup(eq + 1);
			buf_reset(&t);
			pypath_resolve_parent(&t, old_p);
			pypath_normpath(&a, t.data);
			buf_reset(&t);
			pypath_resolve_parent(&t, new_p);
			pypath_normpath(&b, t.data);
			s.grafts = xrealloc(s.grafts, (s.nr_grafts + 1) *
					    sizeof(*s.grafts));
			s.grafts[s.nr_grafts].old_path = buf_detach(&a, NULL);
			s.grafts[s.nr_grafts].new_path = buf_detach(&b, NULL);
			s.nr_grafts++;
			free(old_p);
			free(new_p);
			buf_release(&t);
		}
	}
	reverse = getenv("BUP_SERVER_REVERSE") &&
		  *getenv("BUP_SERVER_REVERSE");
	if (opt_count(&o, "r") && (str = opt_str(&o, "r")) && *str)
		remote = str;
	if (reverse && opt_count(&o, "r"))
		cli_usage_fatal(&o, "don't use -r in reverse mode; it's "
				"automatic");
	if (name && !refs_valid_save_name(name)) {
		struct buf m = BUF_INIT;
		cli_path_msg(&m, name);
		cli_usage_fatal(&o, "'%s' is not a valid branch name", m.data);
	}

	/* --strip: the sources as given, abspath()ed, longest first. */
	if (s.strip || strip_path) {
		size_t n = s.strip ? (size_t)o.argc : 1;
		struct buf b = BUF_INIT;

		s.strip_prefixes = xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			buf_reset(&b);
			pypath_abspath(&b, s.strip ? o.argv[i] : strip_path);
			if (!strcmp(b.data, "/"))
				continue;   /* a prefix of "/" is ignored */
			s.strip_prefixes[s.nr_strip_prefixes++] =
				xstrdup(b.data);
		}
		buf_release(&b);
		/* sorted(key=len, reverse=True) keeps equal lengths in order */
		for (size_t i = 1; i < s.nr_strip_prefixes; i++)
			for (size_t k = i; k > 0 &&
			     cmp_len_desc(&s.strip_prefixes[k - 1],
					  &s.strip_prefixes[k]) > 0; k--) {
				char *t = s.strip_prefixes[k];
				s.strip_prefixes[k] = s.strip_prefixes[k - 1];
				s.strip_prefixes[k - 1] = t;
			}
		/* --strip with only "/" sources: nothing to strip */
		if (!s.nr_strip_prefixes)
			s.strip = 0;
	}

	repo = cli_open_repo();
	if (!remote && !reverse)
		cli_lock_writer(repo);
	/* a usage error exits: before any connection or thread exists */
	/* given at all: -0 is level 0 (opt_count() is its truth) */
	if (opt_get(&o, "#")->count) {
		long long lvl;
		if (opt_int(&o, "#", &lvl, 0) < 0)
			cli_usage_fatal(&o, "invalid compression level");
		cmd_level = (int)lvl;
	}
	/* bup: Client(opt.remote); a ClientError is "error: %s", exit 1 */
	if ((remote || reverse) &&
	    (ret = cli_client_open(&s.cli, remote, repo->path, 0)) < 0)
		goto fail;
	/*
	 * The branch is read and checked before any writer starts its
	 * worker threads: nothing may exit() while they run, and a ref
	 * that cannot get a commit on top is refused before any work.
	 */
	if (name) {
		refname = xstrfmt("refs/heads/%s", name);
		ret = cli_read_branch(repo, s.cli, refname, &oldref,
				      &have_old);
		if (ret)
			goto fail;
	}
	{
		struct packwriter_opts po = { 0 };
		int64_t limit;

		repo_compression(repo, cmd_level, &po.impl, &po.level);
		po.max_size = PACKWRITER_DEFAULT_MAX_SIZE;
		if (!repo_config_get_int(repo, "pack.packSizeLimit", &limit) &&
		    limit > 0)
			po.max_size = (uint64_t)limit;
		po.max_objects = MAX(1, po.max_size / 5000);
		po.threads = cli_threads();
		po.progress = cli_upkeep_progress;
		if (s.cli) {
			struct client_writer_opts co;
			client_writer_opts_from(&co, &po);
			if ((ret = client_writer_new(&s.cw, s.cli, &co)))
				goto fail;
			s.sink = client_writer_sink(s.cw);
		} else {
			if ((ret = packwriter_new(&s.pw, repo->objdir,
						  cli_odb(repo), &po)))
				goto fail;
			s.sink = packwriter_sink(s.pw);
		}
	}

	str = opt_str(&o, "f");
	indexfile = (opt_count(&o, "f") && str && *str)
		? xstrdup(str) : xstrfmt("%s/bupindex", repo->path);
	path = xstrfmt("%s.meta", indexfile);
	if ((ret = map_metastore(&s, path, &missing)))
		goto fail;
	if (missing) {
		struct buf m = BUF_INIT;
		cli_path_msg(&m, indexfile);
		/* bup's log() of this message has no newline */
		cli_log("error: cannot access '%s'; have you run bup index?",
			m.data);
		buf_release(&m);
		code = 1;
		/* bup's `with` blocks close the writer and the client */
		if (s.cw) {
			client_writer_close(s.cw);
			s.cw = NULL;
		}
		if (s.cli) {
			client_close(s.cli);
			s.cli = NULL;
		}
		goto out;
	}
	free(path);
	path = xstrfmt("%s.hlink", indexfile);
	if ((ret = hlink_load(&s.hl, path)))
		goto fail;
	if ((ret = open_index(&s, indexfile)))
		goto fail;

	ret = save_tree(&s, &tree);
	/* the index keeps what was validated even if we stop here */
	if (bindex_sync(&s.ix) && !ret)
		ret = -1;
	if (ret)
		goto fail;
	/* the read buffer (8 MiB) is not needed past the last file: give
	 * it back before the pack's upkeep allocates its own */
	if (s.h_ready) {
		hsplit_release(&s.h);
		s.h_ready = 0;
	}

	if (s.tree_out)
		printf("%s\n", oid_hex(&tree));
	if (s.commit_out || name) {
		struct buf ident = BUF_INIT, text = BUF_INIT;
		int64_t secs = (int64_t)date;   /* "%d" % float truncates */

		buf_addstr(&s.msg, "bup save\n\nGenerated by command:\n");
		commit_argv_repr(&s.msg, argc, argv, 0);
		buf_addch(&s.msg, '\n');
		commit_default_ident(&ident);
		commit_format(&text, &tree, have_old ? &oldref : NULL,
			      ident.data, secs,
			      commit_local_tz((int64_t)floor(date)),
			      s.msg.data, s.msg.len);
		ret = objsink_write(s.sink, OBJ_COMMIT, text.data, text.len,
				    &commit);
		buf_release(&ident);
		buf_release(&text);
		if (ret)
			goto fail;
		if (s.commit_out)
			printf("%s\n", oid_hex(&commit));
	}

	/* The pack must be complete before the ref may point into it. */
	if (s.pw) {
		ret = packwriter_close(s.pw);
		s.pw = NULL;
	} else {
		ret = client_writer_close(s.cw);
		s.cw = NULL;
	}
	if (ret)
		goto fail;
	if (refname) {
		ret = s.cli ? client_update_ref(s.cli, refname, &commit,
						have_old ? &oldref : NULL)
			    : refs_update(repo, refname, &commit,
					  have_old ? &oldref : NULL, 0, NULL);
		if (ret)
			goto fail;
	}
	if (s.cli) {
		ret = client_close(s.cli);
		s.cli = NULL;
		if (ret)
			goto fail;
	}
	if (cli_errors()) {
		fflush(stdout);
		cli_log("WARNING: %d errors encountered while saving.\n",
			cli_errors());
		code = 1;
	}
	goto out;

fail:
	fflush(stdout);
	error("%s", err_last());
	code = 1;
out:
	if (s.pw)
		packwriter_abort(s.pw);
	/* hanging up mid-transfer: the server keeps nothing of it */
	client_writer_abort(s.cw);
	client_abort(s.cli);
	save_release(&s);
	free(refname);
	free(indexfile);
	free(path);
	if (repo)
		repo_free(repo);
	opt_release(&o);
	return code;
}
