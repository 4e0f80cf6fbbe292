/*
 * bup's .midx v4 files (FORMAT.md 2.5): one sorted table of the ids of
 * several idx files.  Reader (mmap, validated) and writer (byte-identical
 * to bup's for the same inputs in the same order).
 */
#ifndef CBUP_MIDX_H
#define CBUP_MIDX_H

#include <stddef.h>
#include <stdint.h>

#include "oid.h"

struct midx_file {
	char *path;
	const unsigned char *map;
	size_t map_len;
	uint32_t bits;
	uint32_t nr;
	const unsigned char *fanout;   /* 2^bits x u32be */
	const unsigned char *shas;     /* nr x 20 */
	const unsigned char *which;    /* nr x u32be */
	char **idxnames;               /* basenames */
	size_t nr_idxnames;
};

int midx_parse(struct midx_file *m, const char *name, const void *buf,
	       size_t len);
int midx_open(struct midx_file **out, const char *path);
void midx_close(struct midx_file *m);
/* Position of oid or -1; *which_name gets the idx basename if non-NULL. */
int64_t midx_find(const struct midx_file *m, const struct oid *oid,
		  const char **which_name);

/*
 * Write a midx covering the idx files `paths` (in that order) into
 * dir, atomically; *out_path gets the new file's path (caller frees).
 */
int midx_write(const char *dir, const char *const *paths, size_t nr,
	       char **out_path);

/*
 * bup midx --auto policy after packs were added (FORMAT.md 2.5); `force`
 * merges everything into one midx (bup midx -f).  Deletes redundant midx
 * files.  Messages for the user go to `log` if non-NULL.
 */
int midx_auto(const char *packdir, int force, int max_files,
	      void (*log)(const char *msg));

#endif
