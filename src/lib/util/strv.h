/*
 * Arrays of malloc'd strings with a separate count (char **v, size_t
 * nr), as directory listings and request lines come: adding to them,
 * freeing them and sorting them in byte order (strcmp, the C locale,
 * Python's sort of bytes).
 */
#ifndef CBUP_STRV_H
#define CBUP_STRV_H

#include <stddef.h>

/* Append a copy of s to *v, one longer: *nr counts the strings. */
void strv_push(char ***v, size_t *nr, const char *s);
/* Free v[0..nr) and v itself; NULL v is fine. */
void strv_free(char **v, size_t nr);
/* qsort() comparator for an array of char * in strcmp order. */
int strv_cmp(const void *a, const void *b);
void strv_sort(char **v, size_t nr);

#endif
