/*
 * bup.bloom v2 (FORMAT.md 2.6): a bloom filter of all object ids, used
 * as a "definitely absent" test before the idx lookups.
 */
#ifndef CBUP_BLOOM_H
#define CBUP_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "oid.h"

struct bloom_file {
	char *path;
	unsigned char *map;
	size_t map_len;
	int writable;
	uint32_t bits;   /* log2 of the table size in bytes */
	uint32_t k;      /* 4 or 5 */
	uint32_t entries;
	unsigned char *table;
	char **idxnames;
	size_t nr_idxnames;
};

int bloom_parse(struct bloom_file *b, const char *name, const void *buf,
		size_t len);
int bloom_open(struct bloom_file **out, const char *path);
void bloom_close(struct bloom_file *b);
/* 1 if the id may be present, 0 if it is definitely absent. */
int bloom_may_contain(const struct bloom_file *b, const struct oid *oid);

/*
 * bup bloom: bring packdir/bup.bloom up to date with the idx files in
 * packdir (add in place or rebuild, as bup's policy).  `ruin`, `force`,
 * `check` as bup bloom's options; k = 0 chooses the default.
 */
int bloom_update(const char *packdir, const char *output, int k, int force,
		 void (*log)(const char *msg));
/* bup bloom --check: ERR_CORRUPT if an id of an idx is missing. */
int bloom_check(const char *path, void (*log)(const char *msg));

#endif
