/*
 * String arrays (strv.h).
 */
#include <stdlib.h>
#include <string.h>

#include "util/strv.h"
#include "util/util.h"

void strv_push(char ***v, size_t *nr, const char *s)
{
	*v = xrealloc(*v, st_mult(st_add(*nr, 1), sizeof(**v)));
	(*v)[(*nr)++] = xstrdup(s);
}

void strv_free(char **v, size_t nr)
{
	for (size_t i = 0; v && i < nr; i++)
		free(v[i]);
	free(v);
}

int strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(char **v, size_t nr)
{
	if (nr > 1)
		qsort(v, nr, sizeof(*v), strv_cmp);
}
