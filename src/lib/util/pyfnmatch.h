/*
 * Python's fnmatch.fnmatch() on bytes (POSIX: fnmatchcase), as bup's ftp
 * mget matches names: "*" any run of bytes ('/' and a leading '.'
 * included), "?" one byte, "[...]" / "[!...]" a set with ranges, no
 * backslash escapes, an unclosed "[" literal.  Unlike fnmatch(3) it never
 * looks at the locale.  Pure; thread-safe.
 */
#ifndef CBUP_PYFNMATCH_H
#define CBUP_PYFNMATCH_H

/* 1 if name matches pattern, else 0. */
int pyfnmatch_match(const char *name, const char *pattern);

#endif
