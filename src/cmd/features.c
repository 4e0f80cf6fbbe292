/*
 * bup features: what this build supports, in bup 0.33.7's layout
 * (cmd/features.py):
 *
 *   bup 0.33.7
 *   Source COMMIT DATE
 *       Python: 3.11.2
 *       Command line editing (e.g. bup ftp): yes
 *       Saving and restoring POSIX ACLs: yes
 *       Saving and restoring extended attributes (xattrs): yes
 *
 * Choices, so that scripts reading these lines get true answers:
 * - the first two lines are what `bup version` reports (cbup answers as
 *   bup 0.33.7, whose formats and command line it implements; see
 *   version.c), with the Debian package's empty commit and full date;
 * - cbup has no Python; the line in that place names the C compiler
 *   that built it instead ("    C compiler: gcc 12.2.0");
 * - line editing: yes, ftp reads a terminal through GNU readline;
 * - POSIX ACLs: yes, always built with libacl (src/platform/acl.c);
 * - xattrs: yes, always built with the Linux xattr calls
 *   (src/platform/xattr.c).
 */
#include <stdio.h>

#include "cli.h"

static const char optspec[] = "bup features\n";

static void show_support(int yes, const char *what)
{
	printf("    %s: %s\n", what, yes ? "yes" : "no");
}

int cmd_features(int argc, const char **argv);
int cmd_features(int argc, const char **argv)
{
	struct opts o;

	cli_parse_opts(&o, optspec, argc, argv);
	/* extra arguments are ignored, as bup does */
	puts("bup 0.33.7");
	puts("Source  2025-02-02 02:59:10 +0000");
#if defined(__clang__)
	printf("    C compiler: clang %d.%d.%d\n", __clang_major__,
	       __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
	printf("    C compiler: gcc %d.%d.%d\n", __GNUC__, __GNUC_MINOR__,
	       __GNUC_PATCHLEVEL__);
#else
	puts("    C compiler: unknown");
#endif
	show_support(1, "Command line editing (e.g. bup ftp)");
	show_support(1, "Saving and restoring POSIX ACLs");
	show_support(1, "Saving and restoring extended attributes (xattrs)");
	opt_release(&o);
	return 0;
}
