/*
 * String arrays (strv.h).
 */
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
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

void strv_columnate(struct buf *out, const char *const *v, size_t nr,
		    const char *prefix, long width)
{
	size_t clen = 0, ncols, rows, total;
	long w;

	if (!nr)
		return;
	for (size_t i = 0; i < nr; i++)
		clen = MAX(clen, strlen(v[i]));
	w = width - (long)strlen(prefix);
	/* Python's // floors; a negative width gives <= 1 column. */
	ncols = w <= 0 ? 1 : (size_t)w / (clen + 2);
	if (ncols <= 1) {
		ncols = 1;
		clen = 0;
	}
	total = (nr + ncols - 1) / ncols * ncols;
	rows = total / ncols;
	for (size_t r = 0; r < rows; r++) {
		buf_addstr(out, prefix);
		for (size_t c = 0; c < ncols; c++) {
			size_t i = c * rows + r;
			buf_addf(out, "%-*s", (int)(clen + 2),
				 i < nr ? v[i] : "");
		}
		buf_addch(out, '\n');
	}
}
