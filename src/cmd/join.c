/*
 * cbup join: write the concatenated contents of every blob reachable
 * from each ref, depth first in tree order; a commit stands for its tree
 * (FORMAT.md 3.5, bup's git.CatPipe.join).  Refs come from the command
 * line or, one per line, from stdin.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "remote/client.h"
#include "store/commit.h"
#include "util/err.h"
#include "store/odb.h"
#include "util/pypath.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/tree.h"

int cmd_join(int argc, const char **argv);

static const char optspec[] =
	"bup join [-r host:path] [refs or hashes...]\n"
	"--\n"
	"r,remote=  remote repository path\n"
	"o=         output filename\n";

/*
 * The path bup reports for a missing object: a Python list of tree
 * entry names (bytes), "commit:b'<id>'" strings, and the repr of the
 * missing id.
 */
struct join_path {
	struct buf repr;   /* items so far, ", "-joined */
};

static void path_push(struct buf *p, const struct buf *item)
{
	if (p->len)
		buf_addstr(p, ", ");
	buf_add(p, item->data, item->len);
}

static int join_oid(struct odb *odb, int fd, const struct oid *oid,
		    const char *shown, struct buf *path)
{
	struct buf b = BUF_INIT, item = BUF_INIT, t = BUF_INIT;
	enum obj_type type;
	size_t saved = path->len;
	int ret = odb_read_flags(odb, oid, &type, &b, ODB_READ_CRC_BLOBS);

	if (ret == ERR_NOTFOUND) {
		cli_bytes_repr(&t, shown);
		pypath_str_repr(&item, t.data);
		path_push(path, &item);
		ret = err_set(ERR_NOTFOUND, "missing ref at [%s]", path->data);
		goto out;
	}
	if (ret)
		goto out;
	if (type == OBJ_BLOB) {
		if (write_full(fd, b.data, b.len) < 0)
			ret = err_errno("write error");
	} else if (type == OBJ_TREE) {
		struct tree_iter it;
		struct tree_entry e;
		int r;

		tree_iter_init(&it, b.data, b.len);
		while (!ret && (r = tree_iter_next(&it, &e)) == 1) {
			char hex[OID_HEXSZ + 1];
			char *nm = xstrndup(e.name, e.namelen);

			buf_reset(&item);
			cli_bytes_repr(&item, nm);
			free(nm);
			path_push(path, &item);
			ret = join_oid(odb, fd, &e.oid, oid_to_hex(&e.oid, hex),
				       path);
			buf_setlen(path, saved);
		}
		if (!ret && r < 0)
			ret = r;
	} else if (type == OBJ_COMMIT) {
		struct commit_info ci;
		char hex[OID_HEXSZ + 1];

		if ((ret = commit_parse(&ci, b.data, b.len)))
			goto out;
		cli_bytes_repr(&t, shown);
		buf_addstr(&item, "commit:");
		buf_add(&item, t.data, t.len);
		buf_reset(&t);
		pypath_str_repr(&t, item.data);
		path_push(path, &t);
		ret = join_oid(odb, fd, &ci.tree, oid_to_hex(&ci.tree, hex),
			       path);
		buf_setlen(path, saved);
		commit_release(&ci);
	} else {
		ret = err_set(ERR_CORRUPT, "ref %s type %s is not "
			      "blob/tree/commit", shown, obj_type_name(type));
	}
out:
	buf_release(&b);
	buf_release(&item);
	buf_release(&t);
	return ret;
}

static int join_ref(struct repo *repo, int fd, const char *ref)
{
	struct buf path = BUF_INIT;
	struct oid oid;
	int ret;

	if (refs_resolve(repo, ref, &oid)) {
		struct buf t = BUF_INIT, item = BUF_INIT;
		cli_bytes_repr(&t, ref);
		pypath_str_repr(&item, t.data);
		ret = err_set(ERR_NOTFOUND, "missing ref at [%s]", item.data);
		buf_release(&t);
		buf_release(&item);
		return ret;
	}
	ret = join_oid(cli_odb(repo), fd, &oid, ref, &path);
	buf_release(&path);
	return ret;
}

static int write_piece(void *ctx, const void *data, size_t len)
{
	if (write_full(*(int *)ctx, data, len) < 0)
		return err_errno("write error");
	return 0;
}

/* -r: the server joins (FORMAT.md 7.3 cat/join). */
static int join_remote(struct client *cli, int fd, const char *ref)
{
	int ret = client_join(cli, ref, write_piece, &fd);

	if (ret == ERR_NOTFOUND)
		return error("%s", err_last());
	if (ret < 0)
		die("%s", err_last());
	return 0;
}

int cmd_join(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct repo *repo;
	struct client *cli = NULL;
	struct buf line = BUF_INIT;
	int fd = 1, code = 0;
	const char *out = NULL;

	cli_parse_opts(&o, optspec, argc, argv);
	/* bup checks the local repository even for -r */
	repo = cli_open_repo();
	if (opt_count(&o, "r") && opt_str(&o, "r") && *opt_str(&o, "r") &&
	    cli_client_open(&cli, opt_str(&o, "r"), repo->path, 0) < 0)
		die("%s", err_last());
	if (opt_count(&o, "o") && opt_str(&o, "o") && *opt_str(&o, "o"))
		out = opt_str(&o, "o");
	if (out) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd < 0) {
			error("cannot open '%s': %s", out, strerror(errno));
			code = 1;
			goto done;
		}
	} else {
		fflush(stdout);
	}
	if (o.argc) {
		for (int i = 0; i < o.argc; i++)
			if (cli) {
				if (join_remote(cli, fd, o.argv[i]))
					code = 1;
			} else if (join_ref(repo, fd, o.argv[i])) {
				error("%s", err_last());
				code = 1;
			}
	} else {
		int ch;
		for (;;) {
			buf_reset(&line);
			while ((ch = getc(stdin)) != EOF && ch != '\n')
				buf_addch(&line, ch);
			if (ch == EOF && !line.len)
				break;
			if (cli) {
				if (join_remote(cli, fd, line.data))
					code = 1;
			} else if (join_ref(repo, fd, line.data)) {
				error("%s", err_last());
				code = 1;
			}
			if (ch == EOF)
				break;
		}
	}
	if (out && close(fd) < 0) {
		error("cannot write '%s': %s", out, strerror(errno));
		code = 1;
	}
done:
	if (cli && client_close(cli) < 0) {
		error("%s", err_last());
		code = 1;
	}
	buf_release(&line);
	repo_free(repo);
	opt_release(&o);
	return code;
}
