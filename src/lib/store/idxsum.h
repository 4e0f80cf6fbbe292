/*
 * What the two files that sum up a pack directory's idx files share:
 * the midx (FORMAT.md 2.5) and the bloom (FORMAT.md 2.6).  Each is
 * mapped whole by its reader, closes with the base names of the idx
 * files it covers (joined by NULs, no trailing NUL) and finds them
 * beside itself.  Here: opening and mapping such a file, reading and
 * writing its name list, and the path of an idx it names.  The format
 * itself (header, table, lookups) is midx.c's and bloom.c's.
 *
 * `kind` ("midx", "bloom") words the messages.  Errors are returned as
 * negative codes with the message set (util/err.h), naming the file.
 * Nothing is kept between calls: thread-safe.
 */
#ifndef CBUP_IDXSUM_H
#define CBUP_IDXSUM_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/*
 * Open the `kind` file at path read-only or, if `writable`, read-write:
 * returns the fd, with the file's size in *size.  ERR_NOTFOUND "KIND
 * 'PATH' does not exist" when there is no such file, ERR_IO naming it
 * for any other failure.
 */
int idxsum_open(const char *path, const char *kind, int writable,
		uint64_t *size);
/*
 * Map the first `len` bytes of fd, private and read-only or (if
 * `writable`) shared and writable, and close fd, whatever happens: 0
 * with *map, or ERR_IO "cannot map 'PATH'".
 */
int idxsum_map(void **map, int fd, size_t len, int writable,
	       const char *path);
/*
 * The name list of the `kind` file `name`: idx_parse_names() of the
 * `len` bytes at buf.  0 with *list (free(*list) frees it all) and *nr,
 * or ERR_CORRUPT naming the file and the bad entry (outputs untouched).
 */
int idxsum_parse_names(char ***list, size_t *nr, const void *buf,
		       size_t len, const char *name, const char *kind);
/* Append the base name of the idx at path to a name list being built. */
void idxsum_add_name(struct buf *names, const char *path);
/* The path of the idx `name` that the file at path lists (caller frees). */
char *idxsum_idx_path(const char *path, const char *name);

#endif
