/*
 * The vfs source over a local repository (vfs.h): objects from the
 * repository's odb, refs from refs.c.  It provides only the required
 * operations, so that the vfs walks commits and fanout trees itself,
 * as bup's LocalRepo does.
 */
#include <stdlib.h>

#include "util/err.h"
#include "store/odb.h"
#include "store/refs.h"
#include "store/repo.h"
#include "vfs/vfs.h"

struct local_source {
	struct vfs_source src;   /* first: the vfs hands us &src */
	struct repo *repo;
	struct odb *odb;
};

static struct local_source *local_of(struct vfs_source *s)
{
	return (struct local_source *)s;
}

/*
 * Blobs are checked by the CRC of their packed bytes rather than
 * hashed again (odb.h): what the vfs reads most is file contents.
 */
static int local_cat(struct vfs_source *s, const struct oid *oid,
		     enum obj_type *type, struct buf *out)
{
	return odb_read_flags(local_of(s)->odb, oid, type, out,
			      ODB_READ_CRC_BLOBS);
}

static int local_refs(struct vfs_source *s, const char *prefix,
		      vfs_ref_fn fn, void *ctx)
{
	return refs_for_each(local_of(s)->repo, prefix, fn, ctx);
}

static int local_read_ref(struct vfs_source *s, const char *refname,
			  struct oid *out)
{
	return refs_read(local_of(s)->repo, refname, out);
}

static void local_free(struct vfs_source *s)
{
	free(local_of(s));
}

static const struct vfs_source_ops local_ops = {
	.cat = local_cat,
	.refs = local_refs,
	.read_ref = local_read_ref,
	.free = local_free,
};

int vfs_source_local_new(struct vfs_source **out, struct repo *repo)
{
	struct odb *odb = repo_odb(repo);
	struct local_source *l;

	if (!odb)
		return err_last_code() ? err_last_code() : ERR_GENERIC;
	l = xcalloc(1, sizeof(*l));
	l->src.ops = &local_ops;
	l->repo = repo;
	l->odb = odb;
	*out = &l->src;
	return 0;
}

int vfs_new(struct vfs **out, struct repo *repo)
{
	struct vfs_source *src;
	int ret = vfs_source_local_new(&src, repo);

	if (ret < 0)
		return ret;
	return vfs_new_source(out, src);
}
