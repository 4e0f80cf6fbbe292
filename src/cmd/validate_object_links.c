/*
 * cbup validate-object-links: bup validate-object-links
 * (lib/bup/cmd/validate_object_links.py in 0.33.7).  Every tree and
 * commit of every pack is read and each id it names that no pack holds
 * is printed as "no MISSING for PARENT" (lib/validate.h).  Exit 0 when
 * all links hold, 1 when one is broken, 2 on any other failure.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/repo.h"
#include "pipelines/validate.h"

int cmd_validate_object_links(int argc, const char **argv);

static const char vol_optspec[] =
	"bup validate-object-links\n"
	"--\n";

static int vol_missing(void *ctx, const struct oid *missing,
		       const struct oid *from)
{
	char a[OID_HEXSZ + 1], b[OID_HEXSZ + 1];

	(void)ctx;
	printf("no %s for %s\n", oid_to_hex(missing, a), oid_to_hex(from, b));
	return 0;
}

static int vol_tag(void *ctx, const struct oid *oid)
{
	(void)ctx;
	fflush(stdout);
	cli_log("warning: skipping tag object %s\n", oid_hex(oid));
	return 0;
}

static void vol_progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)ctx;
	cli_progress("scanned %llu/%llu %.2f%%\r", (unsigned long long)done,
		     (unsigned long long)total,
		     total ? (double)done * 100.0 / (double)total : 0.0);
}

int cmd_validate_object_links(int argc, const char **argv)
{
	static const struct validate_links_cb cb = {
		vol_missing, vol_tag, vol_progress
	};
	struct opts o;
	struct repo *r;
	struct odb *odb;
	long long broken;
	int ret;

	memset(&o, 0, sizeof(o));
	cli_parse_opts(&o, vol_optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no arguments expected");
	r = cli_open_repo();
	odb = cli_odb(r);
	fflush(stdout);
	broken = validate_object_links(odb, r->packdir, &cb, NULL);
	if (broken < 0) {
		fflush(stdout);
		error("%s", err_last());
		ret = 2;  /* bup's EXIT_FAILURE */
	} else {
		ret = broken ? 1 : 0;
	}
	repo_free(r);
	opt_release(&o);
	return cli_finish_stdout(ret);
}
