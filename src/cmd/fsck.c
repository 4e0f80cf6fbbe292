/*
 * cbup fsck: check packs, and generate or use par2 recovery data beside
 * them, with bup 0.33.7's options, messages, output and exit codes
 * (lib/bup/cmd/fsck.py).  The work is src/lib/pipelines/fsck.c.
 *
 * Where cbup differs: without --quick the packs are verified in process
 * (what `git verify-pack` checks, with cbup's messages instead of
 * git's); the packs are checked on several threads (-j N, default one
 * per CPU, CBUP_THREADS) but reported in the order given, as bup's
 * sequential run reports them, so output never depends on timing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "pipelines/fsck.h"
#include "store/repo.h"

int cmd_fsck(int argc, const char **argv);

/* bup's EXIT_FAILURE (helpers.py), for bad recovery files */
#define FSCK_EXIT_FAILURE 2

static const char optspec[] =
	"bup fsck [options...] [filenames...]\n"
	"--\n"
	"r,repair    attempt to repair errors using par2 (dangerous!)\n"
	"g,generate  generate auto-repair information using par2\n"
	"v,verbose   increase verbosity (can be used more than once)\n"
	"quick       just check pack sha1sum, don't use git verify-pack\n"
	"j,jobs=     run 'n' jobs in parallel\n"
	"par2-ok     immediately return 0 if par2 is ok, 1 if not\n"
	"disable-par2  ignore par2 even if it is available\n";

struct fsck_cmd {
	struct fsck_opts o;
	int jobs;               /* -j given: bup forks, each child probes */
	size_t nr_names;        /* bup's len(extra), for the progress line */
	size_t count;
	int code;
	int probed;             /* the probe's output was shown */
	struct buf probe_out, probe_err;
};

/* bup's error lines for a pack's bad recovery files. */
static void report_par2_status(const char *stem, unsigned empty,
			       unsigned missing)
{
	for (int pass = 0; pass < 2; pass++) {
		unsigned mask = pass ? missing : empty;

		if (pass && empty)
			break;
		for (int i = 0; i < FSCK_PAR2_NR; i++) {
			struct buf pm = BUF_INIT;
			char *path;

			if (!(mask & (1u << i)))
				continue;
			path = xstrfmt("%s%s", stem, fsck_par2_suffix[i]);
			cli_path_msg(&pm, path);
			cli_log("error: %s par2 file - %s\n",
				pass ? "missing" : "empty", pm.data);
			buf_release(&pm);
			free(path);
		}
	}
}

static const char *base_name(const char *stem)
{
	const char *s = strrchr(stem, '/');

	return s ? s + 1 : stem;
}

/* What bup's is_par2_parallel() shows, once per process that runs par2. */
static void show_probe(struct fsck_cmd *c)
{
	if (c->probe_out.len) {
		fflush(stdout);
		write_full(1, c->probe_out.data, c->probe_out.len);
	}
	if (!c->o.verbose)
		return;
	if (c->probe_err.len &&
	    strcmp(c->probe_err.data, "Invalid option specified: -t1\n")) {
		struct buf r = BUF_INIT;

		cli_bytes_repr(&r, c->probe_err.data);
		cli_log("Unexpected par2 error output\n%s\n", r.data);
		buf_release(&r);
	}
	cli_log("Assuming par2 %s parallel processing\n",
		c->o.par2_parallel ? "supports" : "does not support");
}

static void pack_done(void *ctx, struct fsck_result *r)
{
	struct fsck_cmd *c = ctx;
	const char *base = base_name(r->stem);
	struct buf last = BUF_INIT;

	cli_bytes_repr(&last, base);
	if (r->par2 == FSCK_PAR2_BAD) {
		report_par2_status(r->stem, r->empty, r->missing);
		if (!c->code)
			c->code = FSCK_EXIT_FAILURE;
		goto out;
	}
	if (c->o.verbose > 1)
		cli_log("fsck: checking %s (%s)\n", last.data,
			c->o.par2_ok && r->par2 == FSCK_PAR2_OK ? "par2" :
								   "git");
	if (!c->o.verbose && cli_stderr_is_tty())
		cli_log("fsck (%zu/%zu)\r", c->count, c->nr_names);
	if (r->used_par2 && (c->jobs || !c->probed)) {
		show_probe(c);
		c->probed = 1;
	}
	if (r->error)
		cli_log("error: %s\n", r->error);
	if (r->output.len) {
		fflush(stderr);
		write_full(2, r->output.data, r->output.len);
	}
	for (size_t i = 0; i < r->nr_unexpected; i++) {
		struct buf pm = BUF_INIT;

		cli_path_msg(&pm, r->unexpected[i]);
		cli_log("Unexpected par2 file (please report) %s\n", pm.data);
		buf_release(&pm);
	}
	if (r->step && r->code == FSCK_REPAIRED)
		cli_log("%s %s: succeeded (0)\n", last.data, r->step);
	else if (r->step)
		cli_log("%s %s: failed (%d)\n", last.data, r->step, r->code);
	if (c->o.verbose) {
		printf("%s %s\n", base, r->action);
		fflush(stdout);
	}
	/* bup: the first non-zero code wins (fsck.py's FIXME) */
	if (!c->code)
		c->code = r->code;
	c->count++;
out:
	buf_release(&last);
}

/* bup: glob() of objects/pack for "*.pack", in directory order. */
static void list_packs(struct fsck_result **res, size_t *nr, size_t *alloc)
{
	struct repo *r = cli_open_repo();
	DIR *d = opendir(r->packdir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *stem;

		if (de->d_name[0] == '.' || n < 5 ||
		    strcmp(de->d_name + n - 5, ".pack"))
			continue;
		stem = xstrfmt("%s/%.*s", r->packdir, (int)(n - 5),
			       de->d_name);
		ALLOC_GROW(*res, *nr + 1, *alloc);
		fsck_result_init(&(*res)[(*nr)++], stem);
		free(stem);
	}
	if (d)
		closedir(d);
	repo_free(r);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* bup's classification of the names given; NULL if not a pack. */
static char *name_to_stem(const char *name)
{
	static const char *const suffixes[] = { ".pack", ".idx", ".par2" };
	struct stat st;
	char *p;
	int exists;

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (ends_with(name, suffixes[i]))
			return xstrndup(name,
					strlen(name) - strlen(suffixes[i]));
	p = xstrfmt("%s.pack", name);
	exists = !stat(p, &st);
	free(p);
	return exists ? xstrdup(name) : NULL;
}

/* Could any pack run par2?  Then bup probes it first (is_par2_parallel). */
static int par2_needed(const struct fsck_opts *o, struct fsck_result *res,
		       size_t nr)
{
	if (!o->par2_ok)
		return 0;
	for (size_t i = 0; i < nr; i++) {
		unsigned e, m;
		enum fsck_par2_status s = fsck_par2_status(res[i].stem, &e, &m);

		if (s == FSCK_PAR2_OK && (o->repair || !o->generate))
			return 1;
		if (s == FSCK_PAR2_NONE && o->generate)
			return 1;
	}
	return 0;
}

int cmd_fsck(int argc, const char **argv)
{
	struct opts o;
	struct fsck_cmd c;
	struct fsck_result *res = NULL;
	size_t nr = 0, alloc = 0;
	long long jobs = 0;
	int found;

	memset(&c, 0, sizeof(c));
	buf_init(&c.probe_out, 0);
	buf_init(&c.probe_err, 0);
	cli_parse_opts(&o, optspec, argc, argv);
	if (opt_str(&o, "jobs") && opt_int(&o, "jobs", &jobs, 0) < 0)
		cli_usage_fatal(&o, "invalid --jobs value");
	c.o.repair = opt_count(&o, "repair") > 0;
	c.o.generate = opt_count(&o, "generate") > 0;
	c.o.quick = opt_count(&o, "quick") > 0;
	c.o.verbose = opt_count(&o, "verbose");
	c.o.stderr_tty = cli_stderr_is_tty();

	found = fsck_par2_found();
	if (!found)
		cli_log("fsck: warning: par2 not found; disabling recovery "
			"features.\n");
	if (opt_count(&o, "par2-ok")) {
		opt_release(&o);
		return found ? 0 : 1;
	}
	c.o.par2_ok = found && !opt_count(&o, "disable-par2");

	if (!o.argc) {
		if (c.o.verbose > 1)
			cli_log("fsck: No filenames given: checking all "
				"packs.\n");
		list_packs(&res, &nr, &alloc);
	}
	for (int i = 0; i < o.argc; i++) {
		char *stem = name_to_stem(o.argv[i]);

		if (!stem) {
			struct buf rp = BUF_INIT;

			cli_bytes_repr(&rp, o.argv[i]);
			/* bup raises Exception('%r is not a pack file!') */
			cli_log("Exception: %s is not a pack file!\n", rp.data);
			buf_release(&rp);
			c.code = 1;
			goto out;
		}
		ALLOC_GROW(res, nr + 1, alloc);
		fsck_result_init(&res[nr++], stem);
		free(stem);
	}
	c.nr_names = nr;
	c.jobs = jobs > 0;
	c.o.threads = jobs > 0 ? (int)MIN(jobs, 1024) : cli_threads();
	if (c.o.threads < 1)
		c.o.threads = 1;

	fflush(stdout);
	if (par2_needed(&c.o, res, nr) &&
	    fsck_par2_probe(&c.o.par2_parallel, &c.probe_out,
			    &c.probe_err) < 0)
		warning("%s", err_last());
	fsck_run(&c.o, res, nr, pack_done, &c);
	if (c.jobs && !c.o.verbose && cli_stderr_is_tty())
		cli_log("fsck (%zu/%zu)\r", c.count, c.nr_names);
	if (c.o.verbose > 1 && cli_stderr_is_tty())
		cli_log("fsck done.           \n");

	/* bup: check again (a generate that went wrong) */
	for (size_t i = 0; i < nr; i++) {
		unsigned e, m;

		if (fsck_par2_status(res[i].stem, &e, &m) == FSCK_PAR2_BAD) {
			report_par2_status(res[i].stem, e, m);
			if (!c.code)
				c.code = FSCK_EXIT_FAILURE;
		}
	}
out:
	for (size_t i = 0; i < nr; i++)
		fsck_result_release(&res[i]);
	free(res);
	buf_release(&c.probe_out);
	buf_release(&c.probe_err);
	opt_release(&o);
	return cli_finish_stdout(c.code);
}
