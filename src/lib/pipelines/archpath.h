/*
 * Where a saved path goes in the archive: bup 0.33.7's
 * helpers.path_components(), stripped_path_components() and
 * grafted_path_components() behind save's --strip, --strip-path and
 * --graft (FORMAT.md 6.1).  A path becomes a list of components, each
 * an archive name and the file system path whose metadata the archive
 * directory gets (none for directories a graft makes up).
 *
 * bup's rules are followed to the letter, bugs included: the prefixes
 * are string prefixes (--strip-path=/a strips "/ab" to "b"), the first
 * matching graft wins, "--graft X=/" drops the root component.  Pure
 * functions of their arguments and the working directory (abspath);
 * thread-safe on distinct structs.
 */
#ifndef CBUP_ARCHPATH_H
#define CBUP_ARCHPATH_H

#include <stddef.h>

#include "util/buf.h"

struct archpath_comp {
	size_t name_ofs, name_len;   /* in store, NUL-terminated */
	size_t fs_ofs, fs_len;
	int has_fs;
};

struct archpath_comps {
	struct buf store;
	struct archpath_comp *v;
	size_t nr, alloc;
};

#define ARCHPATH_COMPS_INIT { BUF_INIT, NULL, 0, 0 }

void archpath_comps_release(struct archpath_comps *c);

/* Component i's archive name, and its file system path or NULL. */
static inline const char *archpath_name(const struct archpath_comps *c,
					size_t i)
{
	return c->store.data + c->v[i].name_ofs;
}

static inline const char *archpath_fs(const struct archpath_comps *c,
				      size_t i)
{
	return c->v[i].has_fs ? c->store.data + c->v[i].fs_ofs : NULL;
}

struct archpath_graft {
	char *old_path, *new_path;   /* resolve_parent()ed, normpath()ed */
};

/* The mapping rules of one save; none: the path as it is. */
struct archpath_rules {
	char **strip;                /* abspath()ed, longest first */
	size_t nr_strip, alloc_strip;
	struct archpath_graft *graft;
	size_t nr_graft, alloc_graft;
};

#define ARCHPATH_RULES_INIT { NULL, 0, 0, NULL, 0, 0 }

void archpath_rules_release(struct archpath_rules *r);

/*
 * A --strip source or the --strip-path: abspath()ed and kept longest
 * first (equal lengths in the order given, as Python's stable sort);
 * "/" strips nothing and is left out, as bup.
 */
void archpath_add_strip(struct archpath_rules *r, const char *path);

/*
 * A --graft OLD=NEW.  ERR_USAGE with bup's message when it is not of
 * that form or a side is empty.
 */
int archpath_add_graft(struct archpath_rules *r, const char *spec);

/* path_components(): "/home/foo" -> ("", "/"), ("home", "/home"), ... */
void archpath_components(struct archpath_comps *c, const char *path);

/* The components of path under the rules (replacing c's contents). */
void archpath_map(struct archpath_comps *c, const struct archpath_rules *r,
		  const char *path);

#endif
