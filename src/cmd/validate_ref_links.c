/*
 * cbup validate-ref-links: bup validate-ref-links
 * (lib/bup/cmd/validate_ref_links.py and gc.find_live_objects in
 * 0.33.7).  Walks what every ref (or each VFS path given) reaches and
 * logs "missing REF:PATH" for each object that is not there
 * (lib/validate.h).  Exit 0 when nothing is missing, 1 when something
 * is, 2 on any other failure.
 *
 * Without arguments the refs are git show-ref's: every ref, sorted; as
 * there, a ref naming an object the repository lacks stops the listing
 * ("fatal: git show-ref: bad ref ..."), and bup then checks no ref at
 * all (exit 0) when it is the first one, and fails (exit 2) otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/refs.h"
#include "store/repo.h"
#include "pipelines/validate.h"
#include "vfs/vfs.h"

int cmd_validate_ref_links(int argc, const char **argv);

static const char vrl_optspec[] =
	"bup validate-ref-links [ref...]\n"
	"--\n"
	"v,verbose       increase log output (can be used more than once)\n";

struct vrl_ctx {
	struct refs_list refs;
	const char *refname;   /* the ref being walked */
	int verbosity;
	uint64_t existing;
	long long missing;
};

/* git show-ref's test: the object is in a pack or loose. */
static int vrl_have(struct repo *r, struct odb *odb, const struct oid *oid)
{
	char hex[OID_HEXSZ + 1];
	char *p;
	int have;

	if (odb_exists(odb, oid))
		return 1;
	oid_to_hex(oid, hex);
	p = xstrfmt("%s/%.2s/%s", r->objdir, hex, hex + 2);
	have = !access(p, F_OK);
	free(p);
	return have;
}

static int vrl_item(void *vctx, const struct validate_item *it,
		    uint64_t live)
{
	struct vrl_ctx *c = vctx;

	if (it->missing) {
		cli_report_missing(c->refname, it);
		c->missing++;
	} else if (c->verbosity) {
		cli_report_live_item(c->refname, it, live, c->existing,
				     c->verbosity);
	}
	return 0;
}

/*
 * bup's vfs.try_resolve(): follow symlinks unless the last dangles.
 * Returns 0 with the item (VFS_MISSING when there is none), or a
 * negative error.  bup's VFS finds nothing in a branch whose head
 * commit is missing, and fails (git rev-list does) on a path inside a
 * branch whose history lacks a commit.
 */
static int vrl_resolve(struct repo *r, struct odb *odb, struct vfs *v,
		       const char *path, struct vfs_item *out)
{
	struct vfs_list res;
	int err_no = 0, ret;

	vfs_list_init(&res);
	ret = vfs_resolve(v, path, NULL, 0, 1, &res, &err_no);
	if (!ret && res.nr && res.e[res.nr - 1].item.kind == VFS_MISSING) {
		vfs_list_release(&res);
		vfs_list_init(&res);
		ret = vfs_resolve(v, path, NULL, 0, 0, &res, &err_no);
	}
	if (!ret && res.nr >= 2 && res.e[1].item.kind == VFS_REVLIST) {
		const struct oid *head = &res.e[1].item.oid;
		struct oid gone;

		if (!vrl_have(r, odb, head)) {
			out->kind = VFS_MISSING;
			goto done;
		}
		if (res.nr > 2) {
			ret = validate_history_complete(odb, head, &gone);
			if (!ret)
				ret = err_set(ERR_NOTFOUND, "Could not read %s",
					      oid_hex(&gone));
			else if (ret > 0)
				ret = 0;
		}
	} else if (ret == ERR_NOTFOUND && res.nr >= 2 &&
		   res.e[1].item.kind == VFS_REVLIST &&
		   !vrl_have(r, odb, &res.e[1].item.oid)) {
		out->kind = VFS_MISSING;
		ret = 0;
		goto done;
	}
	if (!ret)
		vfs_item_copy(out, &res.e[res.nr - 1].item);
done:
	vfs_list_release(&res);
	return ret;
}

static const char *vrl_kind_class(enum vfs_kind k)
{
	switch (k) {
	case VFS_ROOT: return "Root";
	case VFS_TAGS: return "Tags";
	case VFS_FAKELINK: return "FakeLink";
	default: return "Item";
	}
}

int cmd_validate_ref_links(int argc, const char **argv)
{
	struct opts o;
	struct repo *r;
	struct odb *odb;
	struct vfs *v = NULL;
	struct validate_walk *w = NULL;
	struct vrl_ctx c;
	long long ref_missing = 0;
	int ret = 0;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	cli_parse_opts(&o, vrl_optspec, argc, argv);
	c.verbosity = opt_count(&o, "verbose");
	r = cli_open_repo();
	odb = cli_odb(r);

	if (o.argc && vfs_new(&v, r) < 0) {
		ret = error("%s", err_last());
		goto out;
	}
	for (int i = 0; i < o.argc; i++) {
		struct vfs_item it;

		vfs_item_init(&it);
		if (vrl_resolve(r, odb, v, o.argv[i], &it) < 0) {
			ret = error("%s", err_last());
			vfs_item_release(&it);
			goto out;
		}
		switch (it.kind) {
		case VFS_MISSING: {
			struct buf pm = BUF_INIT;
			/* bup 0.33.7 logs this without a newline */
			cli_path_msg(&pm, o.argv[i]);
			cli_log("missing %s", pm.data);
			buf_release(&pm);
			ref_missing++;
			break;
		}
		case VFS_ITEM:
		case VFS_CHUNKY:
		case VFS_REVLIST:
		case VFS_COMMIT:
			refs_collect(&c.refs, o.argv[i],
				     it.kind == VFS_COMMIT ? &it.coid : &it.oid);
			break;
		default: {
			struct buf pm = BUF_INIT;
			const char *cls = vrl_kind_class(it.kind);
			cli_path_msg(&pm, o.argv[i]);
			vfs_item_release(&it);
			cli_usage_fatal(&o, "can't currently handle VFS "
					"<class 'bup.vfs.%s'> for %s",
					cls, pm.data);
		}
		}
		vfs_item_release(&it);
	}

	if (!o.argc || c.refs.nr) {
		if (validate_count_objects(&c.existing, r->packdir, NULL, NULL) < 0) {
			ret = error("%s", err_last());
			goto out;
		}
		if (c.verbosity)
			cli_log("found %llu objects\n",
				(unsigned long long)c.existing);
	}
	if (c.existing && !o.argc) {
		if (refs_for_each(r, "refs/", refs_collect, &c.refs) < 0) {
			ret = error("%s", err_last());
			goto out;
		}
		for (size_t i = 0; i < c.refs.nr; i++) {
			const struct refs_item *ref = &c.refs.items[i];

			if (vrl_have(r, odb, &ref->oid))
				continue;
			cli_log("fatal: git show-ref: bad ref %s (%s)\n",
				ref->name, oid_hex(&ref->oid));
			if (i) {
				/* bup asserts that the failed listing is empty */
				ret = error("git show-ref failed after "
					    "listing refs");
				goto out;
			}
			/* nothing listed, nothing checked */
			refs_list_release(&c.refs);
			break;
		}
	}
	if (c.existing) {
		w = validate_walk_new(odb, c.existing, c.verbosity > 0);
		for (size_t i = 0; i < c.refs.nr; i++) {
			c.refname = c.refs.items[i].name;
			if (validate_walk_ref(w, &c.refs.items[i].oid,
					      vrl_item, &c) < 0) {
				ret = error("%s", err_last());
				goto out;
			}
		}
	}
out:
	validate_walk_free(w);
	refs_list_release(&c.refs);
	if (v)
		vfs_free(v);
	repo_free(r);
	opt_release(&o);
	if (ret)
		return 2;  /* bup's EXIT_FAILURE */
	return ref_missing + c.missing ? 1 : 0;
}
