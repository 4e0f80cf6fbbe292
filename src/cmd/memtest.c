/*
 * bup memtest [-n elements] [-c cycles]: time random existence lookups
 * in the repository's indexes (bloom, midx, idx through the odb) and
 * print bup's table of memory and CPU use per cycle.
 *
 * NEEDSWORK: --existing (cycling through the objects the indexes hold)
 * and --ignore-midx need odb entry points that do not exist yet (an
 * object iterator, opening without midx files), and the closing
 * "bloom/midx/idx: N objects searched in M steps" lines need search
 * step counters in the odb; until then cbup rejects the two options
 * and prints only the total time.
 */
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "lib/err.h"
#include "lib/odb.h"
#include "lib/repo.h"

static const char optspec[] =
	"bup memtest [-n elements] [-c cycles]\n"
	"--\n"
	"n,number=  number of objects per cycle [10000]\n"
	"c,cycles=  number of cycles to run [100]\n"
	"ignore-midx  ignore .midx files, use only .idx files\n"
	"existing   test with existing objects instead of fake ones\n";

struct memtest {
	double last, last_u, last_s, start;
};

static double tv_sec(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bup memtest's report(): '%9s  ' then five '%10s ' columns. */
static void report(struct memtest *m, long long count)
{
	struct rusage ru;
	double now = wall();

	getrusage(RUSAGE_SELF, &ru);
	if (count >= 0) {
		printf("%9lld  %10ld %10ld %10d %10d %10d \n", count,
		       ru.ru_maxrss / 1024, ru.ru_majflt,
		       (int)((tv_sec(&ru.ru_utime) - m->last_u) * 1000),
		       (int)((tv_sec(&ru.ru_stime) - m->last_s) * 1000),
		       (int)((now - m->last) * 1000));
	} else {
		m->start = now;
		printf("%9s  %10s %10s %10s %10s %10s \n", "", "RSS",
		       "MajFlt", "user", "sys", "ms");
	}
	fflush(stdout);
	getrusage(RUSAGE_SELF, &ru);
	m->last_u = tv_sec(&ru.ru_utime);
	m->last_s = tv_sec(&ru.ru_stime);
	m->last = wall();
}

int cmd_memtest(int argc, const char **argv);
int cmd_memtest(int argc, const char **argv)
{
	struct memtest m = { 0, 0, 0, 0 };
	struct opts o;
	struct repo *r;
	struct odb *odb;
	long long number, cycles;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no arguments expected");
	if (opt_int(&o, "number", &number, 0) ||
	    opt_int(&o, "cycles", &cycles, 0)) {
		opt_release(&o);
		return error("-n and -c must be integers");
	}
	if (opt_count(&o, "existing") || opt_count(&o, "ignore-midx")) {
		opt_release(&o);
		return error("--existing and --ignore-midx are not "
			     "supported yet");
	}
	opt_release(&o);
	r = cli_open_repo();
	report(&m, -1);
	srandom((unsigned)time(NULL));
	report(&m, 0);
	odb = repo_odb(r);
	if (!odb) {
		error("%s", err_last());
		repo_free(r);
		return 1;
	}
	for (long long c = 0; c < cycles; c++) {
		for (long long n = 0; n < number; n++) {
			struct oid id;
			uint32_t w[5];

			/* bup's random_sha(): five random() words */
			for (int i = 0; i < 5; i++)
				w[i] = (uint32_t)random();
			memcpy(&id, w, sizeof(w));
			/* a random id existing is a SHA-1 collision */
			if (odb_exists(odb, &id))
				BUG("random object id found in the repository");
		}
		report(&m, (c + 1) * number);
	}
	printf("Total time: %.3fs\n", wall() - m.start);
	repo_free(r);
	return 0;
}
