/*
 * bup restore [-C outdir] [--sparse] [--numeric-ids] [--exclude-rx RX]
 *             [--map-user/group/uid/gid OLD=NEW] [-v] [-q] PATH...
 *
 * Options, then the restorer (pipelines/restore.h: the walk over the
 * VFS, local or with -r the server's, and its safe, fd-relative file
 * creation), whose messages and -v lines this prints as bup does.
 */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "pipelines/restore.h"
#include "remote/client.h"
#include "store/repo.h"
#include "util/buf.h"
#include "util/err.h"
#include "vfs/vfs.h"

static const char optspec[] =
	"bup restore [-r host:path] [-C outdir] </branch/revision/path/to/dir ...>\n"
	"--\n"
	"r,remote=   remote repository path\n"
	"C,outdir=   change to given outdir before extracting files\n"
	"numeric-ids restore numeric IDs (user, group, etc.) rather than names\n"
	"exclude-rx= skip paths matching the unanchored regex (may be repeated)\n"
	"exclude-rx-from= skip --exclude-rx patterns in file (may be repeated)\n"
	"sparse      create sparse files\n"
	"v,verbose   increase log output (can be used more than once)\n"
	"map-user=   given OLD=NEW, restore OLD user as NEW user\n"
	"map-group=  given OLD=NEW, restore OLD group as NEW group\n"
	"map-uid=    given OLD=NEW, restore OLD uid as NEW uid\n"
	"map-gid=    given OLD=NEW, restore OLD gid as NEW gid\n"
	"q,quiet     don't show progress meter\n";


struct excludes {
	regex_t *rx;
	size_t nr, alloc;
};

static void add_rx(struct excludes *x, struct opts *o, const char *rx)
{
	ALLOC_GROW(x->rx, x->nr + 1, x->alloc);
	if (regcomp(&x->rx[x->nr], rx, REG_EXTENDED | REG_NOSUB))
		cli_usage_fatal(o, "invalid --exclude-rx pattern (%s)", rx);
	x->nr++;
}

static void parse_excludes(struct excludes *x, struct opts *o)
{
	const struct opt_value *v = opt_get(o, "exclude-rx");

	for (size_t i = 0; v && i < v->nr_values; i++)
		add_rx(x, o, v->values[i]);
	v = opt_get(o, "exclude-rx-from");
	for (size_t i = 0; v && i < v->nr_values; i++) {
		struct buf b = BUF_INIT;
		char *line, *save = NULL;
		if (buf_read_file(&b, v->values[i]) < 0)
			die("cannot read '%s': %s", v->values[i],
			    strerror(errno));
		for (line = strtok_r(b.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			if (*line)
				add_rx(x, o, line);
		buf_release(&b);
	}
}

static void parse_map(struct restore_map *m, struct opts *o,
		      const char *flag, int numeric)
{
	const struct opt_value *v = opt_get(o, flag);

	for (size_t i = 0; v && i < v->nr_values; i++) {
		const char *s = v->values[i], *eq = strchr(s, '=');
		int ok = eq && eq != s && !strchr(eq + 1, '=');
		char *old;
		if (ok && numeric) {
			char *end;
			strtoll(s, &end, 10);
			ok = end == eq;
			strtoll(eq + 1, &end, 10);
			ok = ok && eq[1] && !*end;
		}
		if (!ok) {
			struct buf r = BUF_INIT;
			cli_bytes_repr(&r, s);
			cli_usage_fatal(o, "couldn't parse %s as %s mapping",
					r.data, flag + 4);
		}
		old = xstrndup(s, (size_t)(eq - s));
		restore_map_add(m, old, eq + 1);
		free(old);
	}
}

static void on_error(void *data, const char *msg)
{
	(void)data;
	cli_add_error("%s", msg);
}

static void on_output(void *data, const char *line)
{
	(void)data;
	printf("%s\n", line);
}

static void on_progress(void *data, unsigned long total)
{
	(void)data;
	cli_progress("Restoring: %lu\r", total);
}

int cmd_restore(int argc, const char **argv);
int cmd_restore(int argc, const char **argv)
{
	struct restore_opts ro;
	struct excludes x = { 0 };
	struct opts o;
	struct repo *repo;
	struct client *cli = NULL;
	struct vfs *vfs = NULL;
	const char *outdir, *remote;
	unsigned long total = 0;
	char cwd[PATH_MAX];
	int ret;

	restore_opts_init(&ro);
	cli_parse_opts(&o, optspec, argc, argv);
	ro.verbosity = opt_count(&o, "quiet") ? -1 : opt_count(&o, "verbose");
	ro.sparse = opt_count(&o, "sparse") > 0;
	ro.numeric_ids = opt_count(&o, "numeric-ids") > 0;
	ro.threads = cli_threads();
	remote = opt_str(&o, "remote");
	repo = cli_open_repo();
	if (!o.argc)
		cli_usage_fatal(&o, "must specify at least one filename to restore");
	parse_excludes(&x, &o);
	ro.exclude = x.rx;
	ro.nr_exclude = x.nr;
	parse_map(&ro.maps[RESTORE_MAP_USER], &o, "map-user", 0);
	parse_map(&ro.maps[RESTORE_MAP_GROUP], &o, "map-group", 0);
	parse_map(&ro.maps[RESTORE_MAP_UID], &o, "map-uid", 1);
	parse_map(&ro.maps[RESTORE_MAP_GID], &o, "map-gid", 1);
	ro.error = on_error;
	ro.output = on_output;
	ro.progress = on_progress;

	outdir = opt_str(&o, "outdir");
	if (outdir) {
		struct buf p = BUF_INIT;
		/* mkdirp: create every missing component */
		for (const char *s = outdir; *s; s++) {
			buf_addch(&p, *s);
			if ((s[1] == '/' || !s[1]) && p.len &&
			    mkdir(p.data, 0777) < 0 && errno != EEXIST)
				die("cannot create '%s': %s", p.data,
				    strerror(errno));
		}
		buf_release(&p);
		if (chdir(outdir) < 0)
			die("cannot enter '%s': %s", outdir, strerror(errno));
	}
	if (!getcwd(cwd, sizeof(cwd)))
		die("cannot get the current directory: %s", strerror(errno));
	ro.target = ".";
	ro.target_msg = cwd;
	/* bup: RemoteRepo(opt.remote), after the chdir to outdir */
	if (remote && *remote) {
		if (cli_client_open(&cli, remote, repo->path, 0) < 0) {
			error("%s", err_last());
			ret = 1;
			goto out;
		}
		ret = client_vfs_new(&vfs, cli);
	} else {
		ret = vfs_new(&vfs, repo);
	}
	if (ret < 0)
		die("%s", err_last());
	if (restore_run(vfs, &ro, (const char *const *)o.argv,
			(size_t)o.argc, &total) < 0)
		die("%s", err_last());
	fflush(stdout);
	if (ro.verbosity >= 0)
		cli_progress_done("Restoring: %lu, done.\n", total);
	vfs_free(vfs);
	vfs = NULL;
	if (cli && client_close(cli) < 0)
		cli_add_error("%s", err_last());
	ret = 0;
	if (cli_errors()) {
		cli_log("warning: %d errors encountered\n", cli_errors());
		ret = 1;
	}
out:
	vfs_free(vfs);
	for (size_t i = 0; i < x.nr; i++)
		regfree(&x.rx[i]);
	free(x.rx);
	restore_opts_release(&ro);
	repo_free(repo);
	opt_release(&o);
	return ret;
}
