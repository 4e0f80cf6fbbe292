/*
 * bup's .midx v4 files (FORMAT.md 2.5): one sorted table of the ids of
 * several idx files.  Reader (mmap, validated) and writer (byte-identical
 * to bup's for the same inputs in the same order).
 */
#ifndef CBUP_MIDX_H
#define CBUP_MIDX_H

#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

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
/* Frees what midx_parse allocated (path, idxnames); not the buffer. */
void midx_release(struct midx_file *m);
/*
 * Full O(nr) consistency check (midx --check, fuzzing): ids sorted and
 * in their fanout bucket, every `which` < nr_idxnames.  midx_parse only
 * checks what is O(2^bits) so that opening stays cheap; midx_find checks
 * each `which` it uses.  0 or ERR_CORRUPT.
 */
int midx_verify(const struct midx_file *m);
/*
 * Position of oid or -1; *which_name gets the idx basename if non-NULL
 * (then ERR_CORRUPT if the entry's `which` is out of range).
 */
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
 * files.  Messages for the user go to `log` if non-NULL, progress lines
 * to `progress` (as midx_opts.progress) if non-NULL.
 */
int midx_auto(const char *packdir, int force, int max_files,
	      void (*log)(const char *msg),
	      void (*progress)(int rate_limited, const char *line));

/* Everything bup midx's options can ask for (midx_write/midx_auto wrap it). */
struct midx_opts {
	const char *outfile;    /* -o: exact output path, or NULL for auto */
	int auto_mode;          /* -a */
	int force;              /* -f */
	int max_files;          /* <= 0: from RLIMIT_NOFILE like bup */
	void (*log)(const char *msg);    /* warnings bup prints, or NULL */
	void (*debug)(const char *msg);  /* bup's debug1 lines, or NULL */
	/*
	 * bup's "midx: writing %.2f%% (%d/%d)\r" lines while a midx is
	 * merged, or NULL.  rate_limited is always 0 here: bup prints one
	 * every 102424 objects whatever the time.  Whether to show them
	 * (bup: only if stderr is a terminal) is the caller's business.
	 */
	void (*progress)(int rate_limited, const char *line);
};
/*
 * bup midx FILES...: merge the given .idx/.midx files (in that order).
 * Returns 1 if a midx was written (*out_path set if non-NULL), 0 if
 * bup's rules say there is nothing to do, or a negative error.
 */
int midx_write_opts(const char *dir, const char *const *paths, size_t nr,
		    const struct midx_opts *o, char **out_path);
/* bup midx -a / -f on a directory. */
int midx_dir(const char *packdir, const struct midx_opts *o);
/* bup's table size rule: bits for a midx of `total` ids. */
uint32_t midx_bits_for(uint64_t total);
/* bup's max_files(): min(RLIMIT_NOFILE soft, hard) minus a margin. */
int midx_max_files(void);

#endif
