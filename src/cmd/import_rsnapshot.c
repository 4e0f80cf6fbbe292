/*
 * cbup import-rsnapshot: bup 0.33.7's lib/cmd/bup-import-rsnapshot (a
 * shell script) in C.  Each directory SNAPSHOT/BRANCH of the snapshot
 * root becomes a save on BRANCH dated by the directory's ctime, through
 * `bup index -ux -f bupindex.BRANCH.tmp` and `bup save --strip`, run in
 * the snapshot root.  Snapshots and branches are taken in the C
 * locale's glob order; messages, usage and exit codes are the script's.
 *
 * Where cbup differs: with -n the script still runs its `rm` of the
 * temporary index, which then does not exist, and stops with rm's
 * error after the first branch; cbup prints the commands of every
 * branch.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util/util.h"
#include "util/strv.h"

int cmd_import_rsnapshot(int argc, const char **argv);

static int usage(void)
{
	printf("Usage: bup import-rsnapshot [-n] <path to snapshot_root> "
	       "[<backuptarget>]\n"
	       "-n,--dry-run: just print what would be done\n");
	return 1;
}

static int is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* The shell's `*`: names not starting with '.', sorted (C locale). */
static char **glob_star(const char *dir, size_t *nr)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t alloc = 0;

	*nr = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		ALLOC_GROW(v, *nr + 1, alloc);
		v[(*nr)++] = xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
	if (*nr > 1)
		qsort(v, *nr, sizeof(*v), strv_cmp);
	return v;
}

static int import_branch(int dry_run, const char *snapshot,
			 const char *branch)
{
	char *path = xstrfmt("%s/%s/", snapshot, branch);
	char *tmpidx = xstrfmt("bupindex.%s.tmp", branch);
	char *date = NULL;
	struct stat st;
	int rc;

	fprintf(stderr, "snapshot='%s' branch='%s'\n", snapshot, branch);
	/* the script asks perl for stat()[10], the ctime */
	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s%s: %s\n", snapshot, branch,
			strerror(errno));
		rc = 3;
		goto out;
	}
	date = xstrfmt("--date=%lld", (long long)st.st_ctime);
	rc = cli_import_save(dry_run, tmpidx, path, date, branch);
	if (!rc && !dry_run && unlink(tmpidx) < 0) {
		fprintf(stderr, "rm: cannot remove '%s': %s\n", tmpidx,
			strerror(errno));
		rc = 1;
	}
out:
	free(path);
	free(tmpidx);
	free(date);
	return rc;
}

int cmd_import_rsnapshot(int argc, const char **argv)
{
	const char *root, *target;
	char **snaps;
	size_t nr_snaps;
	int dry_run, i = cli_import_flags(argc, argv, &dry_run), rc = 0;

	root = i < argc ? argv[i] : "";
	target = i + 1 < argc ? argv[i + 1] : "";
	if (!*root || argc - i > 2)
		return usage();
	if (!cli_import_root_ok(root))
		return 1;
	if (chdir(root) < 0)
		return 2;

	snaps = glob_star(".", &nr_snaps);
	for (size_t s = 0; !rc && s < nr_snaps; s++) {
		char **branches;
		size_t nr_branches;

		if (!is_dir(snaps[s]))
			continue;
		fprintf(stderr, "snapshot='%s'\n", snaps[s]);
		branches = glob_star(snaps[s], &nr_branches);
		for (size_t b = 0; !rc && b < nr_branches; b++) {
			char *p = xstrfmt("%s/%s", snaps[s], branches[b]);
			int dir = is_dir(p);

			free(p);
			if (!dir || (*target && strcmp(target, branches[b])))
				continue;
			rc = import_branch(dry_run, snaps[s], branches[b]);
		}
		strv_free(branches, nr_branches);
	}
	strv_free(snaps, nr_snaps);
	return rc;
}
