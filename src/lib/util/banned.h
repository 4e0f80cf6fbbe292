/*
 * Functions cbup code must not call (git's banned.h): each use becomes a
 * compile error naming the banned function.  Included at the end of
 * util.h.  It first includes the system headers that declare the banned
 * functions, so a later #include <stdio.h> (a no-op by then, thanks to
 * the include guard) cannot trip over the macros.
 *
 *   strcpy, strcat, sprintf, vsprintf   no bound on the destination: use
 *                                       struct buf, xstrfmt or snprintf
 *   strtok                              hidden static state: strtok_r or
 *                                       memchr/strchr loops
 *   atoi                                no error report: strtol/strtoull
 *                                       with an end pointer and errno
 *   gets                                unbounded by design
 *   localtime, gmtime, ctime            static result, not thread-safe:
 *                                       localtime_r, gmtime_r, strftime
 *
 * The macro expands to an undeclared identifier, so the error message
 * reads "sorry_strcpy_is_a_banned_function undeclared" at the call.
 */
#ifndef CBUP_BANNED_H
#define CBUP_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)

#undef sprintf
#undef vsprintf
#define sprintf(...) BANNED(sprintf)
#define vsprintf(...) BANNED(vsprintf)

#undef strtok
#define strtok(x, y) BANNED(strtok)

#undef atoi
#define atoi(x) BANNED(atoi)

#undef gets
#define gets(x) BANNED(gets)

#undef localtime
#define localtime(t) BANNED(localtime)
#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef ctime
#define ctime(t) BANNED(ctime)

#endif
