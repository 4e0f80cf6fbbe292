/*
 * cbup damage: bup damage (lib/bup/cmd/damage.py in 0.33.7), for
 * testing fsck and recovery.  The blocks, their sizes, offsets and
 * contents are bup's for the same --seed (lib/damage.h); messages go to
 * stderr as bup's log() writes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "pipelines/damage.h"
#include "util/err.h"

int cmd_damage(int argc, const char **argv);

static const char damage_optspec[] =
	"bup damage [-n count] [-s maxsize] [-S seed] <filenames...>\n"
	"--\n"
	"   WARNING: THIS COMMAND IS EXTREMELY DANGEROUS\n"
	"n,num=   number of blocks to damage\n"
	"s,size=  maximum size of each damaged block\n"
	"percent= maximum size of each damaged block (as a percent of entire "
	"file)\n"
	"equal    spread damage evenly throughout the file\n"
	"S,seed=  random number seed (for repeatable tests)\n";

static void damage_report(void *ctx, uint64_t size, uint64_t ofs)
{
	(void)ctx;
	cli_log("  %6llu bytes at %llu\n", (unsigned long long)size,
		(unsigned long long)ofs);
}

/*
 * An integer option into *out (0 when absent).  Returns -1 for a value
 * bup cannot use: its options keep a value as a string unless
 * str(int(v)) == v ("007" and "-0" stay strings), and damage.py then
 * fails on the string once it has opened the first file.
 */
static int damage_int_opt(struct opts *o, const char *flag, long long *out)
{
	const char *s = opt_str(o, flag), *p;

	*out = 0;
	if (!s)
		return 0;
	p = s + (*s == '-');
	if (!*p || (*p == '0' && (p[1] || p != s)) ||
	    strspn(p, "0123456789") != strlen(p) ||
	    opt_int(o, flag, out, 0) < 0)
		return -1;
	return 0;
}

int cmd_damage(int argc, const char **argv)
{
	struct opts o;
	struct damage_opts d;
	struct damage_rng rng;
	const char *bad = NULL;
	int ret = 0;

	memset(&o, 0, sizeof(o));
	memset(&d, 0, sizeof(d));
	cli_parse_opts(&o, damage_optspec, argc, argv);
	if (!o.argc)
		cli_usage_fatal(&o, "filenames expected");
	if (damage_int_opt(&o, "num", &d.num) < 0)
		bad = "num";
	else if (damage_int_opt(&o, "size", &d.size) < 0)
		bad = "size";
	d.percent = opt_str(&o, "percent");
	d.equal = opt_count(&o, "equal") > 0;
	if (opt_str(&o, "seed"))
		damage_rng_seed_arg(&rng, opt_str(&o, "seed"));
	else if (damage_rng_seed_random(&rng) < 0)
		die("%s", err_last());
	for (int i = 0; i < o.argc; i++) {
		struct buf name = BUF_INIT;

		cli_path_msg(&name, o.argv[i]);
		cli_log("Damaging \"%s\"...\n", name.data);
		buf_release(&name);
		if (bad) {
			int fd = open(o.argv[i], O_RDWR | O_CLOEXEC);
			if (fd < 0) {
				ret = error("cannot open '%s': %s", o.argv[i],
					    strerror(errno));
				break;
			}
			close(fd);
			die("invalid --%s '%s'", bad, opt_str(&o, bad));
		}
		if (damage_file(&rng, o.argv[i], &d, damage_report, NULL)) {
			/* bup stops at the first file it cannot damage */
			ret = error("%s", err_last());
			break;
		}
	}
	opt_release(&o);
	return ret ? 1 : 0;
}
