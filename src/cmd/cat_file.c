/*
 * cbup cat-file: bup cat-file (lib/bup/cmd/cat_file.py in 0.33.7):
 * write the contents of /BRANCH/REVISION/PATH (a plain file, chunked or
 * not) to stdout, resolved through the VFS without following a final
 * symlink.
 *
 * NEEDSWORK: --meta (the item's metadata re-encoded) and --bupm (the
 * directory's .bupm blob) are parsed and checked as bup does, but not
 * produced yet; they fail with an error.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/repo.h"
#include "lib/vfs.h"

static const char cat_file_optspec[] =
	"bup cat-file [--meta|--bupm] /branch/revision/[path]\n"
	"--\n"
	"meta        print the target's metadata entry (decoded then reencoded) to stdout\n"
	"bupm        print the target directory's .bupm file directly to stdout\n";

int cmd_cat_file(int argc, const char **argv);

/* Python's repr() of bytes, as bup's %r shows paths. */
static void py_repr(struct buf *out, const char *s)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';

	buf_addch(out, 'b');
	buf_addch(out, q);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == (unsigned char)q)
			buf_addf(out, "\\%c", *p);
		else if (*p == '\t')
			buf_addstr(out, "\\t");
		else if (*p == '\n')
			buf_addstr(out, "\\n");
		else if (*p == '\r')
			buf_addstr(out, "\\r");
		else if (*p < 0x20 || *p >= 0x7f)
			buf_addf(out, "\\x%02x", *p);
		else
			buf_addch(out, (char)*p);
	}
	buf_addch(out, q);
}

/* bup: re.match of "slashes, name, slash, name" on the target */
static int has_branch_and_rev(const char *t)
{
	while (*t == '/')
		t++;
	if (!*t)
		return 0;
	t += strcspn(t, "/");
	if (*t != '/')
		return 0;
	return t[1] && t[1] != '/';
}

int cmd_cat_file(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct repo *repo;
	struct vfs *v = NULL;
	struct vfs_list res;
	struct vfs_file *f = NULL;
	struct buf msg = BUF_INIT, r1 = BUF_INIT, r2 = BUF_INIT;
	const struct vfs_item *leaf;
	const char *target;
	int err_no = 0, ret = 1;

	cli_parse_opts(&o, cat_file_optspec, argc, argv);
	repo = cli_open_repo();
	if (!o.argc)
		cli_usage_fatal(&o, "must specify a target");
	if (o.argc > 1)
		cli_usage_fatal(&o, "only one target file allowed");
	if (opt_count(&o, "bupm") && opt_count(&o, "meta"))
		cli_usage_fatal(&o, "--meta and --bupm are incompatible");
	target = o.argv[0];
	if (!has_branch_and_rev(target)) {
		py_repr(&r1, target);
		cli_usage_fatal(&o, "path %s doesn't include a branch and "
				"revision", r1.data);
	}

	vfs_list_init(&res);
	if (vfs_new(&v, repo) < 0) {
		error("%s", err_last());
		goto out;
	}
	if (vfs_resolve(v, target, NULL, 0, 0, &res, &err_no) < 0) {
		error("%s", err_last());
		goto out;
	}
	leaf = res.nr ? &res.e[res.nr - 1].item : NULL;
	if (!leaf || leaf->kind == VFS_MISSING) {
		for (size_t i = 0; i < res.nr; i++) {
			if (i)
				buf_addch(&msg, '/');
			buf_addstr(&msg, res.e[i].name);
		}
		py_repr(&r1, msg.data);
		py_repr(&r2, target);
		cli_log("error: cannot access %s in %s\n", r1.data, r2.data);
		goto out;
	}
	if (opt_count(&o, "bupm") || opt_count(&o, "meta")) {
		/* NEEDSWORK: --meta and --bupm output. */
		error("--meta and --bupm are not implemented yet");
		goto out;
	}
	if (!S_ISREG(leaf->mode)) {
		py_repr(&r1, target);
		cli_usage_fatal(&o, "%s is not a plain file", r1.data);
	}
	fflush(stdout);
	if (vfs_file_open(v, &leaf->oid, &f) < 0) {
		error("%s", err_last());
		goto out;
	}
	for (;;) {
		const unsigned char *data;
		long long n = vfs_file_next(f, &data);
		if (n < 0) {
			error("%s", err_last());
			goto out;
		}
		if (!n)
			break;
		if (fwrite(data, 1, (size_t)n, stdout) != (size_t)n)
			goto out;
	}
	ret = 0;
out:
	if (f)
		vfs_file_close(f);
	vfs_list_release(&res);
	vfs_free(v);
	repo_free(repo);
	buf_release(&msg);
	buf_release(&r1);
	buf_release(&r2);
	opt_release(&o);
	return ret;
}
