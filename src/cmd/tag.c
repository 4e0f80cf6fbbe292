/*
 * bup tag                         list tags
 * bup tag [-f] NAME COMMIT        create (or with -f replace) a tag
 * bup tag [-f] -d NAME            delete a tag
 *
 * Tags are refs/tags/NAME (FORMAT.md 1.4).  Behaviour, messages and exit
 * codes are bup 0.33.7's cmd/tag.py:
 * - the listing groups tags by the object they name, in the order each
 *   object first appears in refname order (bup builds a dict
 *   {oid: [names]} from `git show-ref --tags` and flattens it);
 * - COMMIT is what bup's git.rev_parse() accepts: a branch named as
 *   `git show-ref --heads` patterns match (NAME, heads/NAME,
 *   refs/heads/NAME), else a 40-digit id of an object present in a pack
 *   (so trees and blobs can be tagged too); nothing else (no ~N, ^{}).
 * - bup crashes with a Python traceback (exit 1) on a 40-character
 *   COMMIT that is not hex; cbup prints an error and exits 1 as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/refs.h"
#include "store/repo.h"

static const char optspec[] =
	"bup tag\n"
	"bup tag [-f] <tag name> <commit>\n"
	"bup tag [-f] -d <tag name>\n"
	"--\n"
	"d,delete=   Delete a tag\n"
	"f,force     Overwrite existing tag, or ignore missing tag when deleting\n";

struct tag {
	char *name;
	struct oid oid;
};

struct tag_list {
	struct tag *t;
	size_t nr, alloc;
};

static int collect(void *ctx, const char *refname, const struct oid *oid)
{
	struct tag_list *l = ctx;

	ALLOC_GROW(l->t, l->nr + 1, l->alloc);
	l->t[l->nr].name = xstrdup(refname + strlen("refs/tags/"));
	l->t[l->nr].oid = *oid;
	l->nr++;
	return 0;
}

static int have_tag(const struct tag_list *l, const char *name)
{
	for (size_t i = 0; i < l->nr; i++)
		if (!strcmp(l->t[i].name, name))
			return 1;
	return 0;
}

/* The dict {oid: [names]} flattened, as bup prints it. */
static void print_tags(const struct tag_list *l)
{
	char *done = xcalloc(l->nr ? l->nr : 1, 1);

	for (size_t i = 0; i < l->nr; i++) {
		if (done[i])
			continue;
		for (size_t k = i; k < l->nr; k++) {
			if (done[k] || !oid_eq(&l->t[k].oid, &l->t[i].oid))
				continue;
			done[k] = 1;
			fputs(l->t[k].name, stdout);
			putchar('\n');
		}
	}
	free(done);
}

struct head_match {
	const char *pattern;
	struct oid oid;
	int found;
};

/* git show-ref's pattern rule: the refname ends in /PATTERN or is it. */
static int match_head(void *ctx, const char *refname, const struct oid *oid)
{
	struct head_match *m = ctx;
	size_t rl = strlen(refname), pl = strlen(m->pattern);

	if (m->found || pl > rl)
		return 0;
	if (!strcmp(refname, m->pattern) ||
	    (rl > pl && refname[rl - pl - 1] == '/' &&
	     !strcmp(refname + rl - pl, m->pattern))) {
		m->oid = *oid;
		m->found = 1;
	}
	return 0;
}

/*
 * bup's git.rev_parse(): 1 and the id, 0 if not found, -1 (message
 * printed) when bup would crash.
 */
static int rev_parse(struct repo *repo, const char *spec, struct oid *out)
{
	struct head_match m = { spec, { { 0 } }, 0 };
	struct odb *odb;

	if (refs_for_each(repo, "refs/heads/", match_head, &m) < 0)
		die("%s", err_last());
	if (m.found) {
		*out = m.oid;
		return 1;
	}
	if (strlen(spec) != OID_HEXSZ)
		return 0;
	if (oid_from_hex(out, spec) < 0) {
		cli_log("error: Non-hexadecimal digit found\n");
		return -1;
	}
	odb = repo_odb(repo);
	if (!odb)
		die("%s", err_last());
	return odb_exists(odb, out);
}

int cmd_tag(int argc, const char **argv);
int cmd_tag(int argc, const char **argv)
{
	struct tag_list tags = { NULL, 0, 0 };
	struct opts o;
	struct repo *repo;
	const char *del, *name, *commit;
	char *ref = NULL;
	struct oid oid;
	int force, ret = 0;

	cli_parse_opts(&o, optspec, argc, argv);
	repo = cli_open_repo();
	cli_lock_writer(repo);
	if (refs_for_each(repo, "refs/tags/", collect, &tags) < 0)
		die("%s", err_last());
	force = opt_count(&o, "force") > 0;
	del = opt_str(&o, "delete");

	if (del && *del) {
		if (!force && !have_tag(&tags, del)) {
			struct buf m = BUF_INIT;
			cli_path_msg(&m, del);
			cli_log("error: tag '%s' doesn't exist\n", m.data);
			buf_release(&m);
			ret = 1;
			goto out;
		}
		ref = xstrfmt("refs/tags/%s", del);
		/* git update-ref -d is silent about a missing ref */
		ret = refs_delete(repo, ref, NULL);
		if (ret < 0 && ret != ERR_NOTFOUND)
			die("%s", err_last());
		ret = 0;
		goto out;
	}

	if (!o.argc) {
		print_tags(&tags);
		goto out;
	}
	if (o.argc != 2)
		cli_usage_fatal(&o, "expected commit ref and hash");
	name = o.argv[0];
	commit = o.argv[1];
	if (!*name)
		cli_usage_fatal(&o, "tag name must not be empty.");
	if (cli_debug >= 1) {
		struct buf m = BUF_INIT;
		cli_path_msg(&m, name);
		cli_log("args: tag name = %s; commit = %s\n", m.data, commit);
		buf_release(&m);
	}
	if (have_tag(&tags, name) && !force) {
		struct buf m = BUF_INIT;
		cli_path_msg(&m, name);
		cli_log("bup: error: tag '%s' already exists\n", m.data);
		buf_release(&m);
		ret = 1;
		goto out;
	}
	if (name[0] == '.') {
		struct buf m = BUF_INIT;
		cli_path_msg(&m, name);
		cli_usage_fatal(&o, "'%s' is not a valid tag name.", m.data);
	}
	ret = rev_parse(repo, commit, &oid);
	if (ret < 0) {
		ret = 1;
		goto out;
	}
	if (!ret) {
		cli_log("bup: error: commit %s not found.\n", commit);
		ret = 2;
		goto out;
	}
	ref = xstrfmt("refs/tags/%s", name);
	if (refs_update(repo, ref, &oid, NULL, 1, NULL) < 0)
		die("%s", err_last());
	ret = 0;
out:
	for (size_t i = 0; i < tags.nr; i++)
		free(tags.t[i].name);
	free(tags.t);
	free(ref);
	repo_free(repo);
	opt_release(&o);
	return ret;
}
