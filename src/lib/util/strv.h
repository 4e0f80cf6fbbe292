/*
 * Arrays of malloc'd strings with a separate count (char **v, size_t
 * nr), as directory listings and request lines come: adding to them,
 * freeing them, sorting them in byte order (strcmp, the C locale,
 * Python's sort of bytes), and laying them out in columns as bup does.
 */
#ifndef CBUP_STRV_H
#define CBUP_STRV_H

#include <stddef.h>

struct buf;

/* Append a copy of s to *v, one longer: *nr counts the strings. */
void strv_push(char ***v, size_t *nr, const char *s);
/* Free v[0..nr) and v itself; NULL v is fine. */
void strv_free(char **v, size_t nr);
/* qsort() comparator for an array of char * in strcmp order. */
int strv_cmp(const void *a, const void *b);
void strv_sort(char **v, size_t nr);
/*
 * bup's helpers.columnate(v, prefix): appends v to out in as many
 * columns as fit in width (the terminal's) after prefix, filled down
 * then across, each as wide as the longest string and 2; one column
 * when no more fit.  Nothing for nr == 0.
 */
void strv_columnate(struct buf *out, const char *const *v, size_t nr,
		    const char *prefix, long width);

#endif
