/*
 * splitter: bup split's pipeline on inputs of t/vectors/split (made by
 * real bup): the -t tree, the -b blob list, the -n "data" tree (checked
 * with git mktree), --keep-boundaries across two files, and the
 * progress calls bup's readfile_iter makes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipelines/splitter.h"
#include "store/objsink.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/util.h"

struct seen {
	struct buf blobs;       /* hex ids, one a line */
	int progress_calls;
	uint64_t last_nread;
};

static int on_blob(void *ctx, const struct oid *oid)
{
	buf_addf(&((struct seen *)ctx)->blobs, "%s\n", oid_hex(oid));
	return 0;
}

static void on_progress(void *ctx, int nfile, uint64_t nread)
{
	struct seen *s = ctx;

	(void)nfile;
	s->progress_calls++;
	s->last_nread = nread;
}

/* The rest of the vector's header line after `key`. */
static void header(const char *name, const char *key, char *out, size_t n)
{
	char *path = xstrfmt("split/%s.txt", name), line[512];
	FILE *f = fopen(unit_vector(path), "r");
	const char *p;

	out[0] = '\0';
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f))
		if (line[0] == '#' && (p = strstr(line, key))) {
			snprintf(out, n, "%s", p + strlen(key));
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	free(path);
}

/* The chunk lines' blob ids, one a line, as the -b output. */
static void vector_blobs(const char *name, struct buf *out)
{
	char *path = xstrfmt("split/%s.txt", name), line[512];
	FILE *f = fopen(unit_vector(path), "r");

	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		char hex[41];

		if (line[0] >= '0' && line[0] <= '9' &&
		    sscanf(line, "%*s %*s %*s %*s %40s", hex) == 1)
			buf_addf(out, "%s\n", hex);
	}
	if (f)
		fclose(f);
	free(path);
}

static char *write_input(const char *dir, const char *name, const void *data,
			 size_t len)
{
	char *p = xstrfmt("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0 && write_full(fd, data, len) == 0);
	close(fd);
	return p;
}

static unsigned char *lcg(size_t len, uint32_t seed)
{
	unsigned char *d = xmalloc(len);

	st_lcg_fill(d, len, seed);
	return d;
}

/* Split the files, in order, with opts; *tree gets the tree id. */
static int split_files(struct splitter_opts *o, char **files, int n,
		       struct oid *tree)
{
	struct splitter s;
	int ret = 0;

	splitter_init(&s, o);
	for (int i = 0; i < n && !ret; i++) {
		int fd = open(files[i], O_RDONLY);

		CHECK(fd >= 0);
		ret = splitter_fd(&s, fd, i);
		close(fd);
	}
	if (!ret)
		ret = splitter_finish(&s, tree);
	splitter_release(&s);
	return ret;
}

UNIT_TEST(splitter, vectors)
{
	static const char *const names[] = {
		"lcg-seed1-1MiB", "zeros-100000", "lcg-seed2-100000",
	};
	const char *dir = unit_tmpdir();
	struct objsink hash;

	objsink_hash_only_init(&hash);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		size_t len = strstr(names[i], "1MiB") ? 1048576 : 100000;
		unsigned char *d = strstr(names[i], "zeros") ?
			xcalloc(1, len) :
			lcg(len, strstr(names[i], "seed1") ? 1 : 2);
		char *file = write_input(dir, names[i], d, len);
		struct seen seen = { BUF_INIT, 0, 0 };
		struct buf want = BUF_INIT, got = BUF_INIT, out = BUF_INIT;
		struct splitter_opts o = { 0 };
		char treehex[64], save[128], savemode[16], saveid[64];
		struct oid tree;

		header(names[i], "tree id:  ", save, sizeof(save));
		CHECK(sscanf(save, "%40s", treehex) == 1);
		header(names[i], "tree): mode ", save, sizeof(save));
		CHECK(sscanf(save, "%15s id %63s", savemode, saveid) == 2);
		/* -t */
		o.sink = &hash;
		o.tree = SPLITTER_TREE;
		o.threads = 2;
		o.progress = on_progress;
		o.ctx = &seen;
		CHECK(split_files(&o, &file, 1, &tree) == 0);
		CHECK_OID(&tree, treehex);
		/* a call before each read, the last one after all of it */
		CHECK(seen.progress_calls >= 2 && seen.last_nread == len);
		/* -b */
		o.tree = SPLITTER_NO_TREE;
		o.blobs = 1;
		o.on_blob = on_blob;
		CHECK(split_files(&o, &file, 1, &tree) == 0);
		vector_blobs(names[i], &want);
		CHECK(want.len && !strcmp(seen.blobs.data, want.data));
		/* -n: "data" (a blob) or "data.bup" (a tree) in one tree */
		o.blobs = 0;
		o.on_blob = NULL;
		o.tree = SPLITTER_DATA_TREE;
		CHECK(split_files(&o, &file, 1, &tree) == 0);
		CHECK(st_sh_out(&out, "printf '%s %s %s\\tdata%s\\n' | "
				"git mktree --missing",
				strcmp(savemode, "40000") ? savemode : "040000",
				strcmp(savemode, "40000") ? "blob" : "tree",
				saveid, strcmp(savemode, "40000") ? "" : ".bup")
		      == 0);
		buf_addstr(&got, oid_hex(&tree));
		buf_addch(&got, '\n');
		CHECK(!strcmp(out.data, got.data));
		buf_release(&want);
		buf_release(&got);
		buf_release(&out);
		buf_release(&seen.blobs);
		free(file);
		free(d);
	}
}

UNIT_TEST(splitter, keep_boundaries)
{
	const char *dir = unit_tmpdir();
	char *files[2] = { write_input(dir, "a1", "abc", 3),
			   write_input(dir, "a2", "abc", 3) };
	struct seen seen = { BUF_INIT, 0, 0 };
	struct splitter_opts o = { 0 };
	struct objsink hash;
	struct oid tree;

	objsink_hash_only_init(&hash);
	o.sink = &hash;
	o.blobs = 1;
	o.on_blob = on_blob;
	o.ctx = &seen;
	/* one chunk "abcabc" */
	CHECK(split_files(&o, files, 2, &tree) == 0);
	CHECK(!strcmp(seen.blobs.data,
		      "59619e616cc74386001e319ebf07f04bb21f60f9\n"));
	/* a chunk per file, each the blob of "abc" */
	buf_reset(&seen.blobs);
	o.keep_boundaries = 1;
	CHECK(split_files(&o, files, 2, &tree) == 0);
	CHECK(!strcmp(seen.blobs.data,
		      "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f\n"
		      "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f\n"));
	buf_release(&seen.blobs);
	free(files[0]);
	free(files[1]);
}
