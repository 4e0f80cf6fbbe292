/*
 * bup tick: sleep until the start of the next second (bup's tests use
 * it so that mtimes differ).
 */
#include <errno.h>
#include <time.h>

#include "cli.h"

static const char optspec[] = "bup tick\n";

int cmd_tick(int argc, const char **argv);
int cmd_tick(int argc, const char **argv)
{
	struct opts o;
	struct timespec now, left;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no arguments expected");
	opt_release(&o);
	clock_gettime(CLOCK_REALTIME, &now);
	left.tv_sec = 0;
	left.tv_nsec = 1000000000L - now.tv_nsec;
	while (nanosleep(&left, &left) && errno == EINTR)
		;
	return 0;
}
