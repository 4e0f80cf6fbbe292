/*
 * Fuzz whole server sessions (remote/server.h): the input is what a
 * client sends, answered into /dev/null by server_run() on a real
 * repository made once per process in a temporary directory, which is
 * also the session's root, so that set-dir and init-dir cannot reach
 * anything else.  Objects received and refs updated stay for the next
 * inputs, as they would on a server that lives long.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "remote/server.h"
#include "store/repo.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *root, *repo_path;

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* make check gives every script its own TMPDIR: stay inside it */
static int setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (repo_path)
		return 0;
	root = xstrfmt("%s/cbup-fuzz-server.XXXXXX",
		       tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		return -1;
	atexit(cleanup);
	repo_path = xstrfmt("%s/repo", root);
	return repo_init(repo_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_opts o = { 0 };
	int in, out;

	if (setup() < 0)
		abort();
	in = memfd_create("fuzz", MFD_CLOEXEC);
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (in < 0 || out < 0 || write_full(in, data, size) < 0 ||
	    lseek(in, 0, SEEK_SET) < 0)
		abort();
	o.in_fd = in;
	o.out_fd = out;
	o.default_repo = repo_path;
	o.root = root;
	o.threads = 1;
	server_run(&o);
	close(in);
	close(out);
	return 0;
}
