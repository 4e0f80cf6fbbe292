/*
 * Python's path and text helpers, byte for byte: bup prints paths and
 * builds them with posixpath and repr(), and cbup must show the same
 * bytes.  One implementation each, checked against vectors Python
 * itself wrote (t/vectors/python/pypath.txt, t/vectors/gen-pypath).
 *
 * Every function appends to `out` (never resets it), allocates only
 * through struct buf, and is thread-safe (no shared state; realpath
 * and abspath read the file system and the working directory).
 */
#ifndef CBUP_PYPATH_H
#define CBUP_PYPATH_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/*
 * posixpath.normpath(): "//" and "." collapsed, ".." applied lexically,
 * no trailing '/'; exactly two leading slashes are kept (POSIX lets
 * them mean something else), "" and "a/.." give ".".
 */
void pypath_normpath(struct buf *out, const char *path);

/*
 * posixpath.abspath(): normpath(join(getcwd(), path)).  Returns 0, or
 * ERR_IO when the working directory cannot be read; `out` then holds
 * the result for a working directory of "/" so that callers that
 * carry on still have a path.
 */
int pypath_abspath(struct buf *out, const char *path);

/*
 * posixpath.realpath(path, strict=False) of Python 3.11: symlinks
 * resolved component by component, ".." applied after resolving what
 * precedes it, components that do not exist kept as written, a symlink
 * loop left unresolved from the looping link on; then abspath().
 * Returns what pypath_abspath() returns.
 */
int pypath_realpath(struct buf *out, const char *path);

/*
 * bup.helpers.resolve_parent(): realpath(path), except that a final
 * symlink is not followed (join(realpath(head), tail) then).  Returns
 * what pypath_abspath() returns.
 */
int pypath_resolve_parent(struct buf *out, const char *path);

/*
 * posixpath.split(): `*head_len` bytes of head (trailing slashes
 * dropped unless the head is all slashes) and the tail from offset
 * `*tail_ofs` of path.
 */
void pypath_split(const char *path, size_t len, size_t *head_len,
		  size_t *tail_ofs);

/*
 * repr() of a bytes object: b'...', or b"..." when the bytes hold a '
 * and no "; \\ and the quote escaped, \t \n \r, and \xNN for every byte
 * outside 0x20..0x7e.
 */
void pypath_bytes_repr(struct buf *out, const void *data, size_t len);

/*
 * Python's strict UTF-8 decoder at data (avail >= 0 bytes): the length
 * (1..4) of the valid sequence there with its code point in *cp, or 0
 * when the first byte starts none (overlong forms, surrogates, code
 * points above U+10FFFF and cut sequences are invalid).  An invalid
 * byte is one error: surrogateescape makes it U+DC80..U+DCFF,
 * backslashreplace "\xNN", and decoding goes on at the next byte.
 */
size_t pypath_utf8_decode(const void *data, size_t avail, uint32_t *cp);

/*
 * bup's path_msg(): bytes.decode('utf-8', errors='backslashreplace'),
 * valid UTF-8 as is, every byte of an invalid sequence as \xNN.
 */
void pypath_path_msg(struct buf *out, const char *s);

/*
 * repr() of the str os.fsdecode() makes of the NUL-terminated bytes s
 * (UTF-8, invalid bytes as the surrogates U+DC80..U+DCFF): quoted as
 * above, ASCII controls and 0x7f as \xNN, the non-printable Latin-1
 * code points U+0080..U+00A0 and U+00AD as \xNN, surrogates as \udcNN,
 * other code points as their UTF-8.  NEEDSWORK: the non-printable code
 * points above U+00FF (U+2028, unassigned ones ...) are copied, where
 * Python writes \uNNNN.
 */
void pypath_str_repr(struct buf *out, const char *s);

/*
 * str(OSError(err, strerror(err), path)): "[Errno N] <strerror>", then
 * ": " and repr(path) when path is not NULL, the bytes repr when
 * `bytes` is set (the call was given bytes), the str repr otherwise.
 */
void pypath_oserror(struct buf *out, int err, const char *path, int bytes);

/*
 * Python's int(s) for a str, as far as a signed 64-bit value goes:
 * surrounding whitespace, a sign, decimal digits with single '_'
 * between them.  0 with *out set, or ERR_USAGE (not an integer, or out
 * of range).
 */
int pypath_parse_int(const char *s, int64_t *out);

#endif
