/*
 * The system's <zlib.h>.  Our own module header is also called zlib.h and
 * src/lib is on the include path, so a plain #include <zlib.h> would find
 * ours; #include_next from a header continues the search after src/lib.
 * Include this as <zlib_sys.h> (angle brackets, so it is found through
 * the -I chain and include_next has a place to continue from).
 */
#ifndef CBUP_ZLIB_SYS_H
#define CBUP_ZLIB_SYS_H
#include_next <zlib.h>
#endif
