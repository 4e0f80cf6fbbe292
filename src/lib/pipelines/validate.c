/*
 * Link checks of a repository (validate.h): bup's walk_object order and
 * its validate-object-links pack scan.  Objects and packs as FORMAT.md
 * 2.1-2.4; names demangled as 4.3.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/bloom.h"
#include "store/commit.h"
#include "util/err.h"
#include "util/file.h"
#include "store/idx.h"
#include "store/odb.h"
#include "store/pack.h"
#include "util/oidset.h"
#include "store/tree.h"
#include "util/util.h"
#include "pipelines/validate.h"
#include "util/strv.h"

/* A pending walk step: an id to visit, or an item to hand out. */
struct pend {
	int is_item;
	struct validate_item it;  /* oid, mode, paths; type and missing */
	enum obj_type exp;        /* expected type, OBJ_NONE if unknown */
	char *path, *chunk;       /* owned */
};

struct validate_walk {
	struct odb *odb;
	struct oidset seen;       /* trees and commits walked */
	int count_live;
	struct bloom_file *bloom; /* blobs seen, when counting */
	uint64_t live;
	struct pend *stack;
	size_t nr, alloc;
	struct buf data;
};

struct validate_walk *validate_walk_new(struct odb *odb, uint64_t existing,
					int count_live)
{
	struct validate_walk *w = xcalloc(1, sizeof(*w));

	w->odb = odb;
	w->count_live = count_live;
	if (count_live) {
		/* bup's filter, whose false positives bup's counts show */
		w->bloom = bloom_mem_new(existing);
	}
	buf_init(&w->data, 0);
	return w;
}

static void pend_release(struct pend *p)
{
	free(p->path);
	free(p->chunk);
}

void validate_walk_free(struct validate_walk *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nr; i++)
		pend_release(&w->stack[i]);
	free(w->stack);
	oidset_clear(&w->seen);
	bloom_mem_free(w->bloom);
	buf_release(&w->data);
	free(w);
}

int validate_walk_seen(const struct validate_walk *w, const struct oid *oid)
{
	return oidset_has(&w->seen, oid);
}

static struct pend *push(struct validate_walk *w, const struct oid *oid,
			 enum obj_type exp, unsigned mode)
{
	struct pend *p;

	ALLOC_GROW(w->stack, w->nr + 1, w->alloc);
	p = &w->stack[w->nr++];
	memset(p, 0, sizeof(*p));
	p->it.oid = *oid;
	p->it.mode = mode;
	p->exp = exp;
	return p;
}

/* Point the item at its owned strings (after the stack may move). */
static void fix_item(struct pend *p)
{
	p->it.path = p->path ? p->path : "";
	p->it.chunk = p->chunk ? p->chunk : "";
}

size_t validate_item_demangled_len(const struct validate_item *it)
{
	enum tree_bup_kind kind;

	if (!it->npath)
		return 0;
	return tree_demangle_name(it->path + it->last_off,
				  strlen(it->path + it->last_off), it->mode,
				  &kind);
}

void validate_item_path(struct buf *out, const struct validate_item *it,
			int demangle_last)
{
	if (it->nchunk) {
		buf_addstr(out, it->path);
		buf_addch(out, '/');
		buf_addstr(out, it->chunk);
	} else if (it->npath && demangle_last) {
		buf_add(out, it->path, it->last_off);
		buf_add(out, it->path + it->last_off,
			validate_item_demangled_len(it));
	} else {
		buf_addstr(out, it->path);
	}
}

/* Join parent + "/" + name (or just name) into a new string. */
static char *join(const char *parent, size_t nparent, const char *name,
		  size_t len)
{
	struct buf b = BUF_INIT;

	if (nparent) {
		buf_addstr(&b, parent);
		buf_addch(&b, '/');
	}
	buf_add(&b, name, len);
	return buf_detach(&b, NULL);
}

static int emit(struct validate_walk *w, struct pend *p,
		validate_item_fn fn, void *ctx)
{
	uint64_t before = w->live;
	int ret;

	fix_item(p);
	ret = fn(ctx, &p->it, before);
	if (p->it.type != OBJ_BLOB) {
		if (oidset_add(&w->seen, &p->it.oid) && w->count_live)
			w->live++;
	} else if (w->count_live) {
		if (!bloom_may_contain(w->bloom, &p->it.oid))
			w->live++;
		bloom_mem_add(w->bloom, &p->it.oid);
	}
	return ret;
}

/* Push a tree's entries as bup's walk_object does. */
static int push_tree(struct validate_walk *w, size_t parent_i)
{
	struct tree_iter ti;
	struct tree_entry e;
	int ret;

	tree_iter_init(&ti, w->data.data, w->data.len);
	while ((ret = tree_iter_next(&ti, &e)) > 0) {
		const struct pend *par = &w->stack[parent_i];
		struct pend *c;
		enum tree_bup_kind kind;
		char *path = NULL, *chunk = NULL;
		size_t npath = par->it.npath, nchunk = par->it.nchunk,
		       last_off = par->it.last_off;

		tree_demangle_name(e.name, e.namelen, e.mode, &kind);
		if (par->it.nchunk) {
			path = xstrdup(par->path ? par->path : "");
			chunk = join(par->chunk ? par->chunk : "", nchunk,
				     e.name, e.namelen);
			nchunk++;
		} else {
			last_off = npath ? strlen(par->path) + 1 : 0;
			path = join(par->path ? par->path : "", npath, e.name,
				    e.namelen);
			npath++;
			if (kind == TREE_BUP_CHUNKED) {
				chunk = xstrdup("");
				nchunk = 1;
			}
		}
		c = push(w, &e.oid, (e.mode & 0170000) == 040000 ? OBJ_TREE :
			 OBJ_BLOB, e.mode);
		c->path = path;
		c->chunk = chunk;
		c->it.npath = npath;
		c->it.nchunk = nchunk;
		c->it.last_off = last_off;
	}
	return ret;
}

int validate_walk_ref(struct validate_walk *w, const struct oid *oid,
		      validate_item_fn fn, void *ctx)
{
	int ret = 0;

	push(w, oid, OBJ_NONE, 0);
	while (w->nr) {
		struct pend cur = w->stack[--w->nr];
		enum obj_type type;
		size_t self;

		if (cur.is_item) {
			ret = emit(w, &cur, fn, ctx);
			pend_release(&cur);
			if (ret)
				goto out;
			continue;
		}
		if (oidset_has(&w->seen, &cur.it.oid)) {
			pend_release(&cur);
			continue;
		}
		if (cur.it.mode && cur.exp == OBJ_BLOB) {
			/* a file's blob: only its existence */
			cur.it.type = OBJ_BLOB;
			cur.it.missing = !odb_exists(w->odb, &cur.it.oid);
			ret = emit(w, &cur, fn, ctx);
			pend_release(&cur);
			if (ret)
				goto out;
			continue;
		}
		buf_setlen(&w->data, 0);  /* odb_read appends */
		ret = odb_read(w->odb, &cur.it.oid, &type, &w->data);
		if (ret == ERR_NOTFOUND) {
			cur.it.type = cur.exp;
			cur.it.missing = 1;
			ret = emit(w, &cur, fn, ctx);
			pend_release(&cur);
			if (ret)
				goto out;
			continue;
		}
		if (ret < 0) {
			pend_release(&cur);
			goto out;
		}
		if (type != OBJ_BLOB && type != OBJ_TREE &&
		    type != OBJ_COMMIT) {
			ret = err_set(ERR_CORRUPT, "unexpected repository "
				      "object type %s of %s",
				      obj_type_name(type),
				      oid_hex(&cur.it.oid));
			pend_release(&cur);
			goto out;
		}
		if (cur.exp != OBJ_NONE && type != cur.exp) {
			ret = err_set(ERR_CORRUPT, "%s object type %s != %s",
				      oid_hex(&cur.it.oid),
				      obj_type_name(type),
				      obj_type_name(cur.exp));
			pend_release(&cur);
			goto out;
		}
		cur.it.type = type;
		cur.is_item = 1;
		if (type == OBJ_BLOB) {
			ret = emit(w, &cur, fn, ctx);
			pend_release(&cur);
			if (ret)
				goto out;
			continue;
		}
		/* the item goes back on the stack, below what it names */
		ALLOC_GROW(w->stack, w->nr + 1, w->alloc);
		self = w->nr;
		w->stack[w->nr++] = cur;
		if (type == OBJ_COMMIT) {
			struct commit_info ci;
			struct pend *t;
			char hex[OID_HEXSZ + 1];

			ret = commit_parse(&ci, w->data.data, w->data.len);
			if (ret < 0)
				goto out;
			/* bup: parents keep the commit's own mode */
			for (size_t i = 0; i < ci.nr_parents; i++)
				push(w, &ci.parents[i], OBJ_COMMIT,
				     w->stack[self].it.mode);
			t = push(w, &ci.tree, OBJ_TREE, TREE_MODE_TREE);
			oid_to_hex(&w->stack[self].it.oid, hex);
			t->path = xstrdup(hex);
			t->it.npath = 1;
			commit_release(&ci);
		} else {
			ret = push_tree(w, self);
			if (ret < 0)
				goto out;
		}
	}
out:
	for (size_t i = 0; i < w->nr; i++)
		pend_release(&w->stack[i]);
	w->nr = 0;
	return ret;
}

int validate_history_complete(struct odb *odb, const struct oid *head,
			      struct oid *missing)
{
	struct oidset seen = { NULL, NULL, 0, 0 };
	struct oid *todo = NULL;
	size_t nr = 0, alloc = 0;
	struct buf data = BUF_INIT;
	int ret = 1;

	ALLOC_GROW(todo, nr + 1, alloc);
	todo[nr++] = *head;
	while (nr && ret == 1) {
		struct oid cur = todo[--nr];
		struct commit_info ci;
		enum obj_type type;

		if (!oidset_add(&seen, &cur))
			continue;
		buf_setlen(&data, 0);
		ret = odb_read(odb, &cur, &type, &data);
		if (ret == ERR_NOTFOUND) {
			*missing = cur;
			ret = 0;
			break;
		}
		if (ret < 0)
			break;
		if (type != OBJ_COMMIT) {
			ret = err_set(ERR_CORRUPT, "%s is a %s, not a commit",
				      oid_hex(&cur), obj_type_name(type));
			break;
		}
		ret = commit_parse(&ci, data.data, data.len);
		if (ret < 0)
			break;
		for (size_t i = 0; i < ci.nr_parents; i++) {
			ALLOC_GROW(todo, nr + 1, alloc);
			todo[nr++] = ci.parents[i];
		}
		commit_release(&ci);
		ret = 1;
	}
	free(todo);
	oidset_clear(&seen);
	buf_release(&data);
	return ret;
}

int validate_count_objects(uint64_t *out, const char *packdir,
			   validate_count_fn each, void *ctx)
{
	char **names;
	size_t nr;
	int ret = file_glob_suffix(packdir, ".idx", &names, &nr);

	*out = 0;
	for (size_t i = 0; !ret && i < nr; i++) {
		struct idx_file *ix;

		if (each)
			each(ctx, names[i], i, nr, *out);
		ret = idx_open(&ix, names[i]);
		if (!ret) {
			*out += ix->nr;
			idx_close(ix);
		}
	}
	strv_free(names, nr);
	return ret;
}

static long long check_links(struct odb *odb, const struct oid *from,
			     enum obj_type type, const struct buf *data,
			     const struct validate_links_cb *cb, void *ctx)
{
	long long broken = 0;
	int ret;

	if (type == OBJ_TREE) {
		struct tree_iter ti;
		struct tree_entry e;

		tree_iter_init(&ti, data->data, data->len);
		while ((ret = tree_iter_next(&ti, &e)) > 0) {
			if (odb_exists(odb, &e.oid))
				continue;
			broken++;
			if (cb->missing && (ret = cb->missing(ctx, &e.oid,
							      from)))
				return ret;
		}
		return ret < 0 ? ret : broken;
	} else {
		struct commit_info ci;

		ret = commit_parse(&ci, data->data, data->len);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i <= ci.nr_parents; i++) {
			const struct oid *o = i < ci.nr_parents ?
				&ci.parents[i] : &ci.tree;
			if (odb_exists(odb, o))
				continue;
			broken++;
			if (cb->missing && (ret = cb->missing(ctx, o, from))) {
				commit_release(&ci);
				return ret;
			}
		}
		commit_release(&ci);
		return broken;
	}
}

/* Check the trees and commits of one pack. */
static long long scan_pack(struct odb *odb, struct idx_file *ix,
			   const struct validate_links_cb *cb, void *ctx)
{
	struct idx_pos *ents = NULL;
	struct pack_file *p = NULL;
	struct buf data = BUF_INIT;
	char *packpath = NULL;
	long long broken = 0, ret = 0;
	size_t plen = strlen(ix->path);

	packpath = xstrfmt("%.*spack", (int)(plen - 3), ix->path);
	ret = pack_open(&p, packpath);
	if (ret < 0)
		goto out;
	ret = idx_pack_order(ix, &ents);
	if (ret < 0)
		goto out;
	for (uint32_t i = 0; i < ix->nr; i++) {
		unsigned char hdr[PACK_HDR_MAX];
		enum obj_type type;
		uint64_t size;
		struct oid oid;
		ssize_t n;
		size_t want = sizeof(hdr);

		if (ents[i].offset >= p->size) {
			ret = err_set(ERR_CORRUPT, "%s: object offset %llu "
				      "beyond the end", p->path,
				      (unsigned long long)ents[i].offset);
			goto out;
		}
		if (p->size - ents[i].offset < want)
			want = (size_t)(p->size - ents[i].offset);
		n = pread(p->fd, hdr, want, (off_t)ents[i].offset);
		if (n < 0) {
			ret = err_errno("cannot read '%s'", p->path);
			goto out;
		}
		if (!pack_decode_header(hdr, (size_t)n, &type, &size)) {
			ret = err_set(ERR_CORRUPT, "Invalid object type %u in "
				      "%s at %u", (hdr[0] >> 4) & 7u, ix->name,
				      ents[i].n);
			goto out;
		}
		if (type == OBJ_BLOB)
			continue;
		idx_nth_oid(ix, ents[i].n, &oid);
		buf_setlen(&data, 0);  /* odb_read appends */
		ret = odb_read(odb, &oid, &type, &data);
		if (ret < 0)
			goto out;
		if (type == OBJ_BLOB)
			continue;
		if (type == OBJ_TAG) {
			if (cb->tag && (ret = cb->tag(ctx, &oid)))
				goto out;
			continue;
		}
		ret = check_links(odb, &oid, type, &data, cb, ctx);
		if (ret < 0)
			goto out;
		broken += ret;
		ret = 0;
	}
out:
	free(ents);
	free(packpath);
	if (p)
		pack_close(p);
	buf_release(&data);
	return ret ? ret : broken;
}

long long validate_object_links(struct odb *odb, const char *packdir,
				const struct validate_links_cb *cb,
				void *ctx)
{
	char **names;
	size_t nr;
	uint64_t total = 0, done = 0;
	long long broken = 0;
	int ret = file_glob_suffix(packdir, ".idx", &names, &nr);

	for (size_t i = 0; !ret && i < nr; i++) {
		struct idx_file *ix;
		ret = idx_open(&ix, names[i]);
		if (!ret) {
			total += ix->nr;
			idx_close(ix);
		}
	}
	for (size_t i = 0; !ret && i < nr; i++) {
		struct idx_file *ix;
		long long r;

		ret = idx_open(&ix, names[i]);
		if (ret)
			break;
		r = scan_pack(odb, ix, cb, ctx);
		done += ix->nr;
		idx_close(ix);
		if (r < 0) {
			ret = (int)r;
			break;
		}
		broken += r;
		if (cb->progress)
			cb->progress(ctx, done, total);
	}
	strv_free(names, nr);
	return ret ? ret : broken;
}
