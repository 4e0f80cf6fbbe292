/*
 * bup random [-S seed] <numbytes>: pseudo-random test data.  The bytes
 * are bup's exactly: bup's C helper write_random() calls srandom(seed)
 * and stores each random() result as a native (little-endian) uint32,
 * 256 of them per 1 KiB block; a final partial block is a fresh set of
 * 256 values of which only the needed bytes are written.  cbup uses the
 * same glibc generator, filling 64 KiB per write(2) instead of 1 KiB.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

static const char optspec[] =
	"bup random [-S seed] <numbytes>\n"
	"--\n"
	"S,seed=   optional random number seed [1]\n"
	"f,force   print random data to stdout even if it's a tty\n"
	"v,verbose print byte counter to stderr\n";

#define BLOCK 1024
#define BLOCKS_PER_WRITE 64

int cmd_random(int argc, const char **argv);
int cmd_random(int argc, const char **argv)
{
	static uint32_t buf[BLOCKS_PER_WRITE * BLOCK / 4];
	struct opts o;
	long long total, seed, kbytes = 0, nblocks;
	int verbose;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc != 1)
		cli_usage_fatal(&o, "exactly one argument expected");
	if (opt_parse_num(o.argv[0], &total)) {
		/* bup dies with a ValueError traceback here */
		error("can't parse '%s' as a number", o.argv[0]);
		opt_release(&o);
		return 1;
	}
	if (opt_int(&o, "seed", &seed, 0) || seed < INT_MIN ||
	    seed > INT_MAX) {
		/* bup: TypeError/OverflowError traceback */
		error("seed must be an integer: '%s'", opt_str(&o, "seed"));
		opt_release(&o);
		return 1;
	}
	verbose = opt_count(&o, "verbose") > 0;
	if (!opt_count(&o, "force") && cli_stdout_is_tty()) {
		cli_log("error: not writing binary data to a terminal. "
			"Use -f to force.\n");
		opt_release(&o);
		return 1;
	}
	opt_release(&o);

	srandom((unsigned)(int)seed);
	nblocks = total > 0 ? total / BLOCK : 0;
	while (kbytes < nblocks) {
		long long n = MIN(nblocks - kbytes, BLOCKS_PER_WRITE);
		size_t words = (size_t)n * (BLOCK / 4);
		ssize_t w;
		int stop = 0;

		for (size_t i = 0; i < words; i++)
			buf[i] = (uint32_t)random();
		w = write(1, buf, (size_t)n * BLOCK);
		if (w < 0)
			w = 0;
		if (w < n * BLOCK) {
			/* bup stops at the first short write */
			n = w / BLOCK;
			stop = 1;
		}
		for (long long k = kbytes; k < kbytes + n; k++)
			if (verbose && k / 1024 > 0 && !(k % 1024))
				fprintf(stderr, "Random: %lld Mbytes\r",
					k / 1024);
		kbytes += n;
		if (stop)
			break;
	}
	if (total > 0 && total % BLOCK) {
		for (size_t i = 0; i < BLOCK / 4; i++)
			buf[i] = (uint32_t)random();
		/* bup ignores a failure of this last write too */
		(void)write_full(1, buf, (size_t)(total % BLOCK));
	}
	if (kbytes / 1024 > 0)
		fprintf(stderr, "Random: %lld Mbytes, done.\n", kbytes / 1024);
	return 0;
}
