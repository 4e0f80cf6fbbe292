/*
 * The `resolve` command's wire encoding (proto.h; FORMAT.md 7.3): bup's
 * vfs.py write_item/read_item, write_resolution/read_resolution and
 * write_ioerror/read_ioerror over a struct proto_conn.  Metadata is the
 * record stream of FORMAT.md 5.2 without the path record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "meta/meta.h"
#include "remote/proto.h"
#include "vfs/vfs.h"
#include "util/vint.h"

/* A name, a kind, a target: short.  Metadata: xattrs may be large. */
#define MAX_NAME 65536
#define MAX_RECORD (16U << 20)
#define MAX_META (64U << 20)

static const char *kind_name(enum vfs_kind k)
{
	switch (k) {
	case VFS_ITEM: return "Item";
	case VFS_CHUNKY: return "Chunky";
	case VFS_REVLIST: return "RevList";
	case VFS_ROOT: return "Root";
	case VFS_TAGS: return "Tags";
	case VFS_COMMIT: return "Commit";
	case VFS_FAKELINK: return "FakeLink";
	default: return NULL;
	}
}

static int write_item(struct proto_conn *c, const struct vfs_item *it)
{
	const char *kind = kind_name(it->kind);
	int ret;

	if (!kind)
		return err_set(ERR_USAGE, "cannot encode VFS item kind %d",
			       (int)it->kind);
	if ((ret = proto_write_bvec(c, kind, strlen(kind))) < 0 ||
	    (ret = proto_write_vuint(c, it->has_meta ? 1 : 0)) < 0)
		return ret;
	switch (it->kind) {
	case VFS_ITEM:
	case VFS_CHUNKY:
	case VFS_REVLIST:
		ret = proto_write_bvec(c, it->oid.hash, OID_RAWSZ);
		break;
	case VFS_COMMIT:
		if ((ret = proto_write_bvec(c, it->oid.hash, OID_RAWSZ)) >= 0)
			ret = proto_write_bvec(c, it->coid.hash, OID_RAWSZ);
		break;
	case VFS_FAKELINK:
		ret = proto_write_bvec(c, it->target ? it->target : "",
				       it->target ? strlen(it->target) : 0);
		break;
	default:
		break;
	}
	if (ret < 0)
		return ret;
	if (it->has_meta) {
		struct buf m = BUF_INIT;
		meta_encode(&m, &it->meta, 0);
		ret = proto_write(c, m.data, m.len);
		buf_release(&m);
		return ret;
	}
	return proto_write_vuint(c, it->mode);
}

int proto_write_resolution(struct proto_conn *c, const struct vfs_list *res)
{
	int ret = proto_write_vuint(c, res->nr);

	for (size_t i = 0; ret >= 0 && i < res->nr; i++) {
		const struct vfs_entry *e = &res->e[i];
		int missing = e->item.kind == VFS_MISSING;

		if ((ret = proto_write_bvec(c, e->name, strlen(e->name))) < 0 ||
		    (ret = proto_write(c, missing ? "\0" : "\1", 1)) < 0)
			break;
		if (!missing)
			ret = write_item(c, &e->item);
	}
	return ret;
}

/* A metadata object from the stream, re-encoded and decoded. */
static int read_meta(struct proto_conn *c, struct meta *m)
{
	struct buf enc = BUF_INIT, rec = BUF_INIT;
	size_t used;
	int ret;

	for (;;) {
		uint64_t tag;

		if ((ret = proto_read_vuint(c, &tag)) < 0)
			goto out;
		vint_put_vuint(&enc, tag);
		if (!tag)
			break;
		if ((ret = proto_read_bvec(c, &rec, MAX_RECORD)) < 0)
			goto out;
		vint_put_bvec(&enc, rec.data, rec.len);
		if (enc.len > MAX_META) {
			ret = err_set(ERR_CORRUPT, "metadata on the connection "
				      "exceeds %u bytes", MAX_META);
			goto out;
		}
	}
	ret = meta_decode(m, enc.data, enc.len, &used);
out:
	buf_release(&enc);
	buf_release(&rec);
	return ret;
}

static int read_oid(struct proto_conn *c, struct buf *tmp, struct oid *oid)
{
	int ret = proto_read_bvec(c, tmp, OID_RAWSZ);

	if (ret < 0)
		return ret;
	if (tmp->len != OID_RAWSZ)
		return err_set(ERR_CORRUPT, "bad object id length %zu in VFS "
			       "item", tmp->len);
	memcpy(oid->hash, tmp->data, OID_RAWSZ);
	return 0;
}

static int read_item(struct proto_conn *c, struct vfs_item *it)
{
	struct buf kind = BUF_INIT, tmp = BUF_INIT;
	uint64_t has_meta, mode;
	int ret;

	if ((ret = proto_read_bvec(c, &kind, 16)) < 0 ||
	    (ret = proto_read_vuint(c, &has_meta)) < 0)
		goto out;
	if (!strcmp(kind.data, "Item") || !strcmp(kind.data, "Chunky") ||
	    !strcmp(kind.data, "RevList")) {
		it->kind = kind.data[0] == 'I' ? VFS_ITEM :
			   kind.data[0] == 'C' ? VFS_CHUNKY : VFS_REVLIST;
		ret = read_oid(c, &tmp, &it->oid);
	} else if (!strcmp(kind.data, "Root")) {
		it->kind = VFS_ROOT;
	} else if (!strcmp(kind.data, "Tags")) {
		it->kind = VFS_TAGS;
	} else if (!strcmp(kind.data, "Commit")) {
		it->kind = VFS_COMMIT;
		if ((ret = read_oid(c, &tmp, &it->oid)) >= 0)
			ret = read_oid(c, &tmp, &it->coid);
	} else if (!strcmp(kind.data, "FakeLink")) {
		it->kind = VFS_FAKELINK;
		if ((ret = proto_read_bvec(c, &tmp, MAX_NAME)) >= 0) {
			if (memchr(tmp.data, '\0', tmp.len))
				ret = err_set(ERR_CORRUPT, "NUL in link target");
			else
				it->target = xstrdup(tmp.data);
		}
	} else {
		ret = err_set(ERR_CORRUPT, "unknown VFS item kind '%.16s'",
			      kind.data);
	}
	if (ret < 0)
		goto out;
	if (has_meta > 1) {
		ret = err_set(ERR_CORRUPT, "bad has_meta %llu in VFS item",
			      (unsigned long long)has_meta);
		goto out;
	}
	if (has_meta) {
		if ((ret = read_meta(c, &it->meta)) < 0)
			goto out;
		it->has_meta = 1;
		it->mode = (unsigned)it->meta.mode;
	} else {
		if ((ret = proto_read_vuint(c, &mode)) < 0)
			goto out;
		it->mode = (unsigned)mode;
	}
	if (it->kind == VFS_ITEM || it->kind == VFS_CHUNKY)
		it->git_mode = S_ISDIR(it->mode) ? 040000 :
			       S_ISLNK(it->mode) ? 0120000 : 0100644;
out:
	buf_release(&kind);
	buf_release(&tmp);
	return ret;
}

int proto_read_resolution(struct proto_conn *c, struct vfs_list *out)
{
	struct buf name = BUF_INIT;
	uint64_t n;
	int ret = proto_read_vuint(c, &n);

	if (ret < 0)
		return ret;
	if (n > PROTO_MAX_RESOLUTION)
		return err_set(ERR_CORRUPT, "resolution of %llu elements on "
			       "the connection", (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++) {
		unsigned char have;
		struct vfs_entry *e;

		if ((ret = proto_read_bvec(c, &name, MAX_NAME)) < 0 ||
		    (ret = proto_read(c, &have, 1)) < 0)
			break;
		if (have > 1 || memchr(name.data, '\0', name.len)) {
			ret = err_set(ERR_CORRUPT, "malformed resolution "
				      "element on the connection");
			break;
		}
		ALLOC_GROW(out->e, out->nr + 1, out->alloc);
		e = &out->e[out->nr++];
		e->name = xstrdup(name.data);
		vfs_item_init(&e->item);
		if (have && (ret = read_item(c, &e->item)) < 0)
			break;
	}
	buf_release(&name);
	return ret < 0 ? ret : 0;
}

int proto_write_ioerror(struct proto_conn *c, int err_no, const char *msg,
			const struct vfs_list *terminus)
{
	unsigned char v[VINT_MAX];
	unsigned mask = (err_no ? 1 : 0) | (msg ? 2 : 0) | (terminus ? 4 : 0);
	int ret = proto_write_vuint(c, mask);

	if (ret >= 0 && err_no)
		ret = proto_write(c, v, vint_encode_vint(v, err_no));
	if (ret >= 0 && msg)
		ret = proto_write_bvec(c, msg, strlen(msg));
	if (ret >= 0 && terminus)
		ret = proto_write_resolution(c, terminus);
	return ret;
}

int proto_read_ioerror(struct proto_conn *c, int *err_no, struct buf *msg,
		       struct vfs_list *terminus, int *has_terminus)
{
	uint64_t mask;
	int64_t no = 0;
	int ret = proto_read_vuint(c, &mask);

	*err_no = 0;
	*has_terminus = 0;
	buf_reset(msg);
	if (ret < 0)
		return ret;
	if ((mask & 1) && (ret = proto_read_vint(c, &no)) < 0)
		return ret;
	if (no < 0 || no > 4095)
		return err_set(ERR_CORRUPT, "bad errno in VFS error");
	*err_no = (int)no;
	if ((mask & 2) && (ret = proto_read_bvec(c, msg, MAX_NAME)) < 0)
		return ret;
	if (mask & 4) {
		*has_terminus = 1;
		ret = proto_read_resolution(c, terminus);
	}
	return ret < 0 ? ret : 0;
}
