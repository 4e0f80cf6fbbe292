/*
 * `bupindex.hlink` (FORMAT.md 8.4): bup's hard-link database, a Python
 * pickle (protocol 2) of dict["dev:ino" bytes] -> list[path bytes].
 * The reader accepts the opcodes Python writes for it (and a few more:
 * BINBYTES, protocol 4 framing/memoize, EMPTY_TUPLE/TUPLE/TUPLE1 and
 * `bytes()` for empty bytes); the writer reproduces CPython's C pickler
 * byte for byte, including its batching of SETITEMS/APPENDS by 1000 and
 * the memo opcodes past index 255.  The operations mirror hlinkdb.py,
 * quirks included (dict insertion order, add_path replacing the list
 * when the path is already in it).
 *
 * Nothing here prints or exits; errors are negative err_codes.
 */
#ifndef CBUP_HLINK_H
#define CBUP_HLINK_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct hlink_db;

struct hlink_db *hlink_new(void);
/* Parse a pickle.  ERR_CORRUPT on anything malformed. */
int hlink_parse(struct hlink_db **out, const void *buf, size_t len);
/* Load `path`; a missing file gives an empty database. */
int hlink_load(struct hlink_db **out, const char *path);
void hlink_free(struct hlink_db *db);

/* hlinkdb.add_path / del_path. */
void hlink_add_path(struct hlink_db *db, const char *path, uint64_t dev,
		    uint64_t ino);
void hlink_del_path(struct hlink_db *db, const char *path);
/*
 * Paths linked to (dev, ino): returns the count and sets *paths to an
 * array of NUL-terminated strings owned by the db (valid until the next
 * change), or 0.
 */
size_t hlink_node_paths(struct hlink_db *db, uint64_t dev, uint64_t ino,
			const char *const **paths);
/* Number of nodes (dict entries). */
size_t hlink_count(const struct hlink_db *db);

/* The pickle bup's Python would write for this database. */
void hlink_encode(const struct hlink_db *db, struct buf *out);
/*
 * hlinkdb's prepare_save + commit_save: write `path` atomically, or
 * delete it when there are no hard links.
 */
int hlink_save(const struct hlink_db *db, const char *path);

#endif
