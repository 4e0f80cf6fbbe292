/*
 * bup.bloom v2 (FORMAT.md 2.6): a bloom filter of all object ids, used
 * as a "definitely absent" test before the idx lookups.
 */
#ifndef CBUP_BLOOM_H
#define CBUP_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

struct bloom_file {
	char *path;
	unsigned char *map;
	size_t map_len;
	int writable;
	uint32_t bits;   /* log2 of the table size in bytes */
	uint32_t k;      /* 4 or 5 */
	uint32_t entries;
	unsigned char *table;    /* NULL: probed with pread on fd */
	int fd;                  /* -1 unless probed */
	char **idxnames;
	size_t nr_idxnames;
};

int bloom_parse(struct bloom_file *b, const char *name, const void *buf,
		size_t len);
/*
 * For lookups: a table larger than 8 MiB is not mapped but probed with
 * pread, so that random probes do not make it all resident.
 */
int bloom_open(struct bloom_file **out, const char *path);
/* The whole table mapped, for checking every id of an idx. */
int bloom_open_mapped(struct bloom_file **out, const char *path);
void bloom_close(struct bloom_file *b);
/* Frees what bloom_parse allocated (path, idxnames); not the buffer. */
void bloom_release(struct bloom_file *b);
/* 1 if the id may be present, 0 if it is definitely absent. */
int bloom_may_contain(const struct bloom_file *b, const struct oid *oid);
/*
 * bloom_may_contain(), also giving the probes it took in *steps: the
 * first one that found its bit clear, or k (bup's bloom_contains()
 * steps, which bup memtest reports).
 */
int bloom_may_contain_steps(const struct bloom_file *b,
			    const struct oid *oid, unsigned *steps);

/*
 * bup bloom: bring packdir/bup.bloom up to date with the idx files in
 * packdir (add in place or rebuild, as bup's policy).  `ruin`, `force`,
 * `check` as bup bloom's options; k = 0 chooses the default.
 */
int bloom_update(const char *packdir, const char *output, int k, int force,
		 void (*log)(const char *msg));
/*
 * Check every id of every idx the bloom at `path` names (found in the
 * bloom's directory) against it: ERR_CORRUPT if one is missing (each
 * missing id is reported through log as bup does) or the bloom is
 * invalid, ERR_NOTFOUND if an idx it names is gone.
 */
int bloom_check(const char *path, void (*log)(const char *msg));
/* Number of ids of the idx at idxpath that the bloom lacks (>= 0), or
 * a negative error; each missing id is logged as bup's bloom -c does. */
long long bloom_check_idx(const struct bloom_file *b, const char *idxpath,
			  void (*log)(const char *msg));
/* 1 if the bloom lists idx basename `name`. */
int bloom_has_idxname(const struct bloom_file *b, const char *name);
/*
 * Create a bloom for the idx files `paths` (names recorded in that
 * order) at `path`, atomically, sized as bup's create(); k = 0: default.
 */
int bloom_write(const char *path, const char *const *paths, size_t nr,
		int k);
/* bup bloom --ruin: clear the table of the bloom file at path in place. */
int bloom_ruin(const char *path);
/*
 * A filter in memory only, sized as bup's bloom.create(expected=N)
 * sizes a file (2^bits bytes, about 4 per object, k = 5 or 4): bup's
 * gc and validate-ref-links count live blobs with such a filter, and
 * its false positives are part of what they print.  Free it with
 * bloom_mem_free().
 */
struct bloom_file *bloom_mem_new(uint64_t expected);
void bloom_mem_free(struct bloom_file *b);
/* Add oid to a filter from bloom_mem_new(). */
void bloom_mem_add(struct bloom_file *b, const struct oid *oid);
/* bup's false-positive rule: 1 if adding `add` ids keeps it <= 1 %. */
int bloom_fp_ok(uint32_t bits, uint32_t k, uint64_t entries, uint64_t add);
/*
 * Extended bloom_update: `debug` gets bup's debug1 lines, `progress` the
 * lines bup's do_bloom prints on a terminal (either may be NULL):
 * "bloom: counting: N\r" per idx, "bloom: creating from|adding ...\r",
 * then "bloom: writing ...\r" before each idx is added.  rate_limited
 * is 1 for the last kind, where bup calls qprogress() (at most one line
 * per 0.1 s), 0 where it calls progress(); the terminal test and the
 * clock are the caller's.
 */
int bloom_update_ex(const char *packdir, const char *output, int k,
		    int force, void (*log)(const char *msg),
		    void (*debug)(const char *msg),
		    void (*progress)(int rate_limited, const char *line));

#endif
