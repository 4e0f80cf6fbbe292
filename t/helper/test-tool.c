/*
 * test-tool: small helpers the shell tests need and that must be fast
 * (git's t/helper/test-tool).  Subcommands:
 *   lcg SEED N         write N bytes of the LCG stream (TEST-VECTORS.md 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_lcg(int argc, char **argv)
{
	static unsigned char out[1 << 16];
	uint32_t x;
	unsigned long long n;

	if (argc != 3) {
		fprintf(stderr, "usage: test-tool lcg SEED N\n");
		return 2;
	}
	x = (uint32_t)strtoul(argv[1], NULL, 10);
	n = strtoull(argv[2], NULL, 10);
	while (n) {
		size_t k = n < sizeof(out) ? (size_t)n : sizeof(out);
		for (size_t i = 0; i < k; i++) {
			x = x * 1103515245u + 12345u;
			out[i] = (unsigned char)(x >> 16);
		}
		if (fwrite(out, 1, k, stdout) != k)
			return 1;
		n -= k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "lcg"))
		return cmd_lcg(argc - 1, argv + 1);
	fprintf(stderr, "usage: test-tool lcg SEED N\n");
	return 2;
}
