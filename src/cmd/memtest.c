/* Placeholder until the real command lands. */
#include "cli.h"

int cmd_memtest(int argc, const char **argv);
int cmd_memtest(int argc, const char **argv)
{
	(void)argc;
	(void)argv;
	return error("not implemented yet");
}
