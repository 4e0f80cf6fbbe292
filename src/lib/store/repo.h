/*
 * Locating, creating and opening a repository (FORMAT.md 1.1-1.2, 10).
 */
#ifndef CBUP_REPO_H
#define CBUP_REPO_H

#include <stdint.h>

#include "util/zlib.h"

struct odb;

struct repo {
	char *path;      /* effective dir (DIR/.git if that exists) */
	char *objdir;    /* path/objects */
	char *packdir;   /* path/objects/pack */
	struct odb *odb; /* opened on first repo_odb() */
	int lock_fd;     /* repolock.h: objects/ locked, 0 if not open */
	int gate_fd;     /* repolock.h: objects/pack, gc's turnstile */
	int lock_mode;   /* enum repolock_mode held */
};

/*
 * The repository directory named by BUP_DIR, or ~/.bup (caller frees).
 */
char *repo_default_path(void);

/*
 * bup's git.repo() rule: DIR/.git if that exists, else DIR (caller
 * frees).
 */
char *repo_effective_path(const char *dir);

/*
 * The repository `path` names (repo_effective_path) with every symlink,
 * "." and ".." resolved (realpath), into *out (caller frees), so that a
 * caller can check where it really is before it opens or creates
 * anything there.  With may_create (init), a path that does not exist
 * yet resolves as its nearest existing ancestor plus the missing
 * components, which may not contain ".." (ERR_USAGE: where that leads
 * depends on directories that do not exist).  Returns 0, or ERR_IO
 * naming the path when it cannot be resolved (missing, a loop, no
 * permission); *out is then NULL.
 */
int repo_real_path(char **out, const char *path, int may_create);

/*
 * Open the repository at path.  Returns 0; ERR_NOTFOUND when the
 * directory does not exist (bup exits 15: "repository 'P' does not
 * exist (see \"bup help init\")"); ERR_CORRUPT when it exists but is
 * not a repository (bup exits 14: "P is not a repository").
 */
int repo_open(struct repo **out, const char *path);
void repo_free(struct repo *r);
/* The repository's odb, opened on first use; NULL (err_last()) on error. */
struct odb *repo_odb(struct repo *r);

/*
 * Create the layout `git --bare init` + bup's two config keys give
 * (FORMAT.md 1.2); harmless on an existing repository.
 */
int repo_init(const char *path);

struct repo_init_info {
	char *git_dir;      /* absolute real path with '/', caller frees */
	int reinit;         /* the repository already existed */
	int advise_branch;  /* git would print its init.defaultBranch hint */
};
/*
 * repo_init() telling what happened, for `init`'s messages.  Fails
 * with ERR_NOTFOUND ("parent directory \"P\" does not exist") or
 * ERR_EXISTS when the path is not a directory.  info->git_dir is set
 * on success only.
 */
int repo_init_ex(const char *path, struct repo_init_info *info);

/*
 * Read a git config value (core.compression, pack.packSizeLimit,
 * cbup.compressor...).  Keys are case-insensitive in section and name.
 * Returns 0 and the value, ERR_NOTFOUND, or ERR_CORRUPT for a bad file.
 */
int repo_config_get(struct repo *r, const char *key, char **value);
int repo_config_get_int(struct repo *r, const char *key, int64_t *value);
int repo_config_set(struct repo *r, const char *key, const char *value);

/*
 * The compressor and level for new packs: `cbup.compressor` (libdeflate,
 * the default, or zlib for packs byte-identical to bup's), and the level
 * from the command line if given (>= 0), else pack.compression, else
 * core.compression, else 1.
 */
void repo_compression(struct repo *r, int cmdline_level,
		      enum zlib_impl *impl, int *level);

#endif
