/*
 * The vfs source over a server (vfs.h; bup's RemoteRepo, FORMAT.md
 * 7.3): objects from cat-batch, refs from `refs`, a branch's commits
 * from one `rev-list`, whole files and .bupm from `join` (one streamed
 * request instead of a round trip per chunk), and resolution by the
 * server's `resolve`, as bup's vfs.resolve redirects for a remote
 * repository.  This is the only place where the client meets the vfs,
 * and it does so through the vfs's interface alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "remote/client.h"
#include "store/refs.h"
#include "util/err.h"
#include "vfs/vfs.h"

struct remote_source {
	struct vfs_source src;   /* first: the vfs hands us &src */
	struct client *client;
};

static struct client *client_of(struct vfs_source *s)
{
	return ((struct remote_source *)s)->client;
}

/*
 * The id is checked as odb_read checks a pack's: a server cannot pass
 * off other bytes as an object.  client_cat replaces its buffer, so a
 * non-empty out gets the object through a second one.
 */
static int remote_cat(struct vfs_source *s, const struct oid *oid,
		      enum obj_type *type, struct buf *out)
{
	struct buf tmp = BUF_INIT;
	struct buf *dst = out->len ? &tmp : out;
	char hex[OID_HEXSZ + 1];
	struct oid got;
	int ret;

	ret = client_cat(client_of(s), oid_to_hex(oid, hex), &got, type, dst);
	if (ret >= 0) {
		oid_hash_object(&got, *type, dst->data, dst->len);
		if (!oid_eq(&got, oid))
			ret = err_set(ERR_CORRUPT, "server sent object %s with "
				      "content hashing to %s", oid_hex(oid),
				      oid_hex(&got));
	}
	if (ret < 0)
		buf_reset(dst);
	else if (dst == &tmp)
		buf_add(out, tmp.data, tmp.len);
	buf_release(&tmp);
	return ret;
}

/*
 * The list is read whole first (bup's tuple(repo.refs(...))), since fn
 * may ask the server for objects and that reply must not be
 * interleaved with this one.
 */
static int remote_refs(struct vfs_source *s, const char *prefix,
		       vfs_ref_fn fn, void *ctx)
{
	struct refs_list l = REFS_LIST_INIT;
	int tags = !strcmp(prefix, "refs/tags/"), ret;

	ret = client_refs(client_of(s), NULL, 0, !tags, tags, refs_collect,
			  &l);
	for (size_t i = 0; ret >= 0 && i < l.nr; i++)
		if (!strncmp(l.items[i].name, prefix, strlen(prefix)))
			ret = fn(ctx, l.items[i].name, &l.items[i].oid);
	refs_list_release(&l);
	return ret < 0 ? ret : 0;
}

/*
 * One `rev-list` with bup's format "%T %at", answered by git as
 * "commit <id>" and "<tree> <author time>" lines per commit.
 */
static int remote_rev_list(struct vfs_source *s, const struct oid *head,
			   struct vfs_rev **out, size_t *nr_out)
{
	char hex[OID_HEXSZ + 1];
	const char *refs[1] = { oid_to_hex(head, hex) };
	struct buf text = BUF_INIT;
	struct vfs_rev *revs = NULL;
	size_t nr = 0, alloc = 0;
	char *p, *end;
	int ret;

	ret = client_rev_list(client_of(s), refs, 1, "%T %at", &text);
	if (ret < 0)
		goto out;
	p = text.data;
	end = text.data + text.len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *nl2, *e;
		struct vfs_rev *r;
		long long t;

		if (!nl || nl - p != 7 + OID_HEXSZ || memcmp(p, "commit ", 7))
			goto bad;
		*nl = '\0';
		ALLOC_GROW(revs, nr + 1, alloc);
		r = &revs[nr++];
		memset(r, 0, sizeof(*r));
		if (oid_from_hex(&r->coid, p + 7) < 0)
			goto bad;
		p = nl + 1;
		nl2 = memchr(p, '\n', (size_t)(end - p));
		if (!nl2 || nl2 - p < OID_HEXSZ + 2 || p[OID_HEXSZ] != ' ')
			goto bad;
		*nl2 = '\0';
		p[OID_HEXSZ] = '\0';
		errno = 0;
		t = strtoll(p + OID_HEXSZ + 1, &e, 10);
		if (oid_from_hex(&r->tree, p) < 0 || *e || errno)
			goto bad;
		r->author_time = t;
		p = nl2 + 1;
	}
	*out = revs;
	*nr_out = nr;
	revs = NULL;
	goto out;
bad:
	ret = err_set(ERR_CORRUPT, "unexpected rev-list output from the "
		      "server for %s", hex);
out:
	free(revs);
	buf_release(&text);
	return ret < 0 ? ret : 0;
}

static int remote_join(struct vfs_source *s, const struct oid *oid,
		       vfs_data_fn fn, void *ctx)
{
	char hex[OID_HEXSZ + 1];

	return client_join(client_of(s), oid_to_hex(oid, hex), fn, ctx);
}

static int remote_resolve(struct vfs_source *s, const char *path,
			  const struct vfs_list *parent, int want_meta,
			  int follow, struct vfs_list *out, int *err_no,
			  struct buf *msg)
{
	struct client *c = client_of(s);
	int ret = client_resolve(c, path, parent, want_meta, follow, out,
				 err_no);

	if (ret < 0 && *err_no)
		buf_addstr(msg, client_resolve_error(c));
	return ret;
}

static void remote_free(struct vfs_source *s)
{
	free(s);
}

static const struct vfs_source_ops remote_ops = {
	.cat = remote_cat,
	.refs = remote_refs,
	.rev_list = remote_rev_list,
	.join = remote_join,
	.resolve = remote_resolve,
	.free = remote_free,
};

int client_vfs_new(struct vfs **out, struct client *c)
{
	struct remote_source *r = xcalloc(1, sizeof(*r));

	r->src.ops = &remote_ops;
	r->client = c;
	return vfs_new_source(out, &r->src);
}
