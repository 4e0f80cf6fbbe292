/*
 * bup rm --unsafe [-#] [-v] </BRANCH | /BRANCH/SAVE>...
 *
 * bup 0.33.7's lib/bup/rm.py: /BRANCH deletes the branch ref; /BRANCH/SAVE
 * rewrites the branch without the named saves.  Commits older than the
 * oldest removed one are kept as they are; every later commit that
 * survives is written again (same tree, author, committer, dates and
 * message, FORMAT.md 6.1) on top of the new parent, into a new pack.
 * Refs change only at the very end, each against its old value, so a
 * failure before leaves the repository as it was.  Nothing is deleted
 * from the packs: `bup gc` reclaims the space later.
 *
 * Every path is checked first; any error stops the run before anything
 * is written ("not proceeding with any removals").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/buf.h"
#include "lib/commit.h"
#include "lib/err.h"
#include "lib/odb.h"
#include "lib/packwriter.h"
#include "lib/refs.h"
#include "lib/repo.h"
#include "lib/vfs.h"

static const char optspec[] =
	"bup rm <branch|save...>\n"
	"--\n"
	"#,compress=  set compression level to # (0-9, 9 is highest) [6]\n"
	"v,verbose    increase verbosity (can be specified multiple times)\n"
	"unsafe       use the command even though it may be DANGEROUS\n";

/* One branch to delete, or to rewrite without some of its commits. */
struct dead {
	char *name;
	struct oid head;
	struct oid *saves;   /* commits to drop; none: drop the branch */
	size_t nr, alloc;
};

struct dead_list {
	struct dead *d;
	size_t nr, alloc;
};

static struct dead *dead_find(struct dead_list *l, const char *name)
{
	for (size_t i = 0; i < l->nr; i++)
		if (!strcmp(l->d[i].name, name))
			return &l->d[i];
	return NULL;
}

static struct dead *dead_add(struct dead_list *l, const char *name,
			     const struct oid *head)
{
	struct dead *d = dead_find(l, name);

	if (d)
		return d;
	ALLOC_GROW(l->d, l->nr + 1, l->alloc);
	d = &l->d[l->nr++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->head = *head;
	return d;
}

static void dead_remove(struct dead_list *l, const char *name)
{
	struct dead *d = dead_find(l, name);
	size_t i;

	if (!d)
		return;
	i = (size_t)(d - l->d);
	free(d->name);
	free(d->saves);
	memmove(&l->d[i], &l->d[i + 1], (l->nr - i - 1) * sizeof(*d));
	l->nr--;
}

static void dead_release(struct dead_list *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->d[i].name);
		free(l->d[i].saves);
	}
	free(l->d);
}

/* bup's dead_items(): classify the paths, reporting errors. */
static void dead_items(struct vfs *vfs, int argc, const char **argv,
		       struct dead_list *branches, struct dead_list *saves)
{
	for (int i = 0; i < argc; i++) {
		const char *path = argv[i];
		struct vfs_list res;
		struct vfs_entry *leaf;
		int err_no, ret;

		vfs_list_init(&res);
		ret = vfs_resolve(vfs, path, NULL, 1, 0, &res, &err_no);
		if (ret < 0) {
			cli_add_error("%s", err_no ? vfs_resolve_error(vfs) :
				      err_last());
			goto next;
		}
		leaf = &res.e[res.nr - 1];
		if (leaf->item.kind == VFS_MISSING) {
			struct buf j = BUF_INIT, p = BUF_INIT;
			for (size_t k = 0; k < res.nr; k++) {
				if (k)
					buf_addch(&j, '/');
				buf_addstr(&j, res.e[k].name);
			}
			cli_path_msg(&p, j.data);
			buf_reset(&j);
			cli_path_msg(&j, path);
			cli_add_error("error: cannot access %s in %s", p.data,
				      j.data);
			buf_release(&j);
			buf_release(&p);
		} else if (leaf->item.kind == VFS_REVLIST) {   /* rm /foo */
			dead_add(branches, leaf->name, &leaf->item.oid);
			dead_remove(saves, leaf->name);
		} else if (leaf->item.kind == VFS_COMMIT && res.nr >= 2 &&
			   res.e[res.nr - 2].item.kind == VFS_REVLIST) {
			/* rm /foo/bar */
			const struct vfs_entry *br = &res.e[res.nr - 2];
			if (!strcmp(leaf->name, "latest")) {
				cli_add_error("error: cannot delete 'latest' symlink");
			} else if (!dead_find(branches, br->name)) {
				struct dead *d = dead_add(saves, br->name,
							  &br->item.oid);
				ALLOC_GROW(d->saves, d->nr + 1, d->alloc);
				d->saves[d->nr++] = leaf->item.coid;
			}
		} else {
			/*
			 * Also /.tag/COMMIT, where bup 0.33.7 fails an
			 * assertion instead.
			 */
			struct buf p = BUF_INIT;
			cli_path_msg(&p, path);
			cli_add_error("don't know how to remove %s yet", p.data);
			buf_release(&p);
		}
next:
		vfs_list_release(&res);
	}
}

static int excluded(const struct dead *d, const struct oid *oid)
{
	for (size_t i = 0; i < d->nr; i++)
		if (oid_eq(&d->saves[i], oid))
			return 1;
	return 0;
}

struct rev {
	struct oid oid;
	int64_t date;
};

static int read_commit(struct odb *odb, const struct oid *oid,
		       struct commit_info *ci)
{
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret = odb_read(odb, oid, &type, &b);

	if (!ret && type != OBJ_COMMIT)
		ret = err_set(ERR_CORRUPT, "expected 'commit', saw '%s' for %s",
			      obj_type_name(type), oid_hex(oid));
	if (!ret)
		ret = commit_parse(ci, b.data, b.len);
	buf_release(&b);
	return ret;
}

/*
 * `git rev-list TIP`: newest committer date first, ties in the order
 * commits were reached.  *out is newest first.
 */
static int rev_list(struct odb *odb, const struct oid *tip, struct oid **out,
		    size_t *nr_out)
{
	struct rev *queue = NULL;
	struct oid *seen = NULL, *list = NULL;
	size_t qnr = 0, qalloc = 0, nseen = 0, aseen = 0, nr = 0, alloc = 0;
	struct commit_info ci;
	int ret = 0;

	if ((ret = read_commit(odb, tip, &ci)))
		return ret;
	ALLOC_GROW(queue, 1, qalloc);
	queue[qnr].oid = *tip;
	queue[qnr++].date = ci.committer_time;
	commit_release(&ci);
	ALLOC_GROW(seen, 1, aseen);
	seen[nseen++] = *tip;
	while (qnr) {
		size_t best = 0;
		struct rev r;

		for (size_t i = 1; i < qnr; i++)
			if (queue[i].date > queue[best].date)
				best = i;
		r = queue[best];
		memmove(&queue[best], &queue[best + 1],
			(qnr - best - 1) * sizeof(*queue));
		qnr--;
		ALLOC_GROW(list, nr + 1, alloc);
		list[nr++] = r.oid;
		if ((ret = read_commit(odb, &r.oid, &ci)))
			break;
		for (size_t p = 0; p < ci.nr_parents && !ret; p++) {
			struct commit_info pci;
			size_t k;
			for (k = 0; k < nseen; k++)
				if (oid_eq(&seen[k], &ci.parents[p]))
					break;
			if (k < nseen)
				continue;
			ALLOC_GROW(seen, nseen + 1, aseen);
			seen[nseen++] = ci.parents[p];
			if ((ret = read_commit(odb, &ci.parents[p], &pci)))
				break;
			ALLOC_GROW(queue, qnr + 1, qalloc);
			queue[qnr].oid = ci.parents[p];
			queue[qnr++].date = pci.committer_time;
			commit_release(&pci);
		}
		commit_release(&ci);
		if (ret)
			break;
	}
	free(queue);
	free(seen);
	if (ret) {
		free(list);
		return ret;
	}
	*out = list;
	*nr_out = nr;
	return 0;
}

/* bup's _git_date_str(): "SECS +HHMM" from an offset in minutes. */
static void add_date(struct buf *b, int64_t secs, int tz)
{
	int a = tz < 0 ? -tz : tz;
	buf_addf(b, "%lld %c%02d%02d", (long long)secs, tz >= 0 ? '+' : '-',
		 a / 60, a % 60);
}

/* bup's append_commit(): the same commit on a new parent. */
static int append_commit(struct odb *odb, struct packwriter *w,
			 const struct oid *oid, const struct oid *parent,
			 struct oid *out)
{
	struct commit_info ci;
	struct buf b = BUF_INIT;
	int ret = read_commit(odb, oid, &ci);

	if (ret)
		return ret;
	buf_addf(&b, "tree %s\n", oid_hex(&ci.tree));
	if (parent)
		buf_addf(&b, "parent %s\n", oid_hex(parent));
	buf_addf(&b, "author %s ", ci.author);
	add_date(&b, ci.author_time, ci.author_tz);
	buf_addf(&b, "\ncommitter %s ", ci.committer);
	add_date(&b, ci.committer_time, ci.committer_tz);
	buf_addstr(&b, "\n\n");
	buf_add(&b, ci.message, ci.message_len);
	ret = packwriter_write(w, OBJ_COMMIT, b.data, b.len, out);
	buf_release(&b);
	commit_release(&ci);
	return ret;
}

/*
 * bup's filter_branch(): the new tip, *have_tip = 0 when every commit
 * was removed.
 */
static int filter_branch(struct odb *odb, struct packwriter *w,
			 const struct dead *d, struct oid *tip, int *have_tip)
{
	struct oid *commits = NULL, last = { { 0 } };
	size_t nr = 0, first = 0;
	int have_last = 0, ret;

	if ((ret = rev_list(odb, &d->head, &commits, &nr)))
		return ret;
	/* commits[] is newest first; walk it oldest first */
	while (first < nr && !excluded(d, &commits[nr - 1 - first]))
		first++;
	if (first == nr) {
		/* bup lets StopIteration escape; vfs only gives real saves */
		free(commits);
		return err_set(ERR_GENERIC, "no save to remove on %s", d->name);
	}
	if (first) {
		last = commits[nr - first];
		have_last = 1;
	}
	for (size_t i = first; i < nr; i++) {
		const struct oid *c = &commits[nr - 1 - i];
		struct oid n;
		if (excluded(d, c))
			continue;
		ret = append_commit(odb, w, c, have_last ? &last : NULL, &n);
		if (ret)
			break;
		last = n;
		have_last = 1;
	}
	free(commits);
	*tip = last;
	*have_tip = have_last;
	return ret;
}

struct ref_update {
	char *ref;
	struct oid old, new;
	int delete;
};

int cmd_rm(int argc, const char **argv);
int cmd_rm(int argc, const char **argv)
{
	struct dead_list branches = { NULL, 0, 0 }, saves = { NULL, 0, 0 };
	struct ref_update *up = NULL;
	size_t nup = 0;
	struct packwriter *w = NULL;
	struct vfs *vfs = NULL;
	struct repo *repo;
	struct opts o;
	long long level = 6;
	int verbose, ret;

	cli_parse_opts(&o, optspec, argc, argv);
	if (!opt_count(&o, "unsafe"))
		cli_usage_fatal(&o, "refusing to run dangerous, experimental "
				"command without --unsafe");
	if (!o.argc)
		cli_usage_fatal(&o, "no paths specified");
	if (opt_int(&o, "#", &level, 0) < 0 || level < 0 || level > 9)
		cli_usage_fatal(&o, "invalid compression level");
	verbose = opt_count(&o, "verbose");
	repo = cli_open_repo();
	cli_lock_writer(repo);
	if (vfs_new(&vfs, repo) < 0)
		die("%s", err_last());

	dead_items(vfs, o.argc, o.argv, &branches, &saves);
	if (cli_errors()) {
		cli_log("not proceeding with any removals\n");
		ret = 1;
		goto out;
	}

	up = xcalloc(branches.nr + saves.nr + 1, sizeof(*up));
	for (size_t i = 0; i < branches.nr; i++, nup++) {
		up[nup].ref = xstrfmt("refs/heads/%s", branches.d[i].name);
		up[nup].old = branches.d[i].head;
		up[nup].delete = 1;
	}
	if (saves.nr) {
		struct packwriter_opts po = { 0 };
		struct odb *odb = cli_odb(repo);

		repo_compression(repo, (int)level, &po.impl, &po.level);
		po.max_size = PACKWRITER_DEFAULT_MAX_SIZE;
		po.max_objects = MAX(1, po.max_size / 5000);
		if (packwriter_new(&w, repo->objdir, odb, &po) < 0)
			die("%s", err_last());
		for (size_t i = 0; i < saves.nr; i++, nup++) {
			int have_tip = 0;
			up[nup].ref = xstrfmt("refs/heads/%s", saves.d[i].name);
			up[nup].old = saves.d[i].head;
			if (filter_branch(odb, w, &saves.d[i], &up[nup].new,
					  &have_tip) < 0) {
				packwriter_abort(w);
				die("%s", err_last());
			}
			up[nup].delete = !have_tip;
		}
		ret = packwriter_close(w);
		w = NULL;
		if (ret < 0)
			die("%s", err_last());
	}

	/*
	 * Only now touch the refs, each against the value we started from,
	 * so anything above failing leaves them as they were.
	 */
	for (size_t i = 0; i < nup; i++) {
		char old[OID_HEXSZ + 1];
		struct buf r = BUF_INIT;

		oid_to_hex(&up[i].old, old);
		if (up[i].delete) {
			if (refs_delete(repo, up[i].ref, &up[i].old) < 0) {
				cli_bytes_repr(&r, up[i].ref);
				cli_add_error("while trying to delete %s (%s): %s",
					      r.data, old, err_last());
			}
		} else if (refs_update(repo, up[i].ref, &up[i].new,
				       &up[i].old, 0, NULL) < 0) {
			cli_path_msg(&r, up[i].ref);
			cli_add_error("while trying to update %s (%s -> %s): %s",
				      r.data, old, oid_hex(&up[i].new),
				      err_last());
		} else if (verbose) {
			cli_path_msg(&r, up[i].ref);
			cli_log("updated %s (%s -> %s)\n", r.data, old,
				oid_hex(&up[i].new));
		}
		buf_release(&r);
	}
	ret = 0;
	if (cli_errors()) {
		cli_log("warning: %d errors encountered\n", cli_errors());
		ret = 1;
	}
out:
	for (size_t i = 0; i < nup; i++)
		free(up[i].ref);
	free(up);
	dead_release(&branches);
	dead_release(&saves);
	vfs_free(vfs);
	repo_free(repo);
	opt_release(&o);
	return ret;
}
