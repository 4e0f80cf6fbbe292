/*
 * bup's reduce_paths() and the resolving it shares with
 * unique_resolved_paths() (toppath.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "index/toppath.h"
#include "util/buf.h"
#include "util/pypath.h"
#include "util/util.h"

char *toppath_resolve(const char *p, const char *caller,
		      toppath_error_fn error, void *ctx)
{
	struct buf b = BUF_INIT;
	struct stat st;

	pypath_resolve_parent(&b, p);
	if (lstat(b.data, &st) < 0) {
		int e = errno;

		if (error) {
			struct buf m = BUF_INIT;
			buf_addf(&m, "%s: ", caller);
			pypath_oserror(&m, e, b.data, 1);
			error(ctx, m.data);
			buf_release(&m);
		}
		buf_release(&b);
		return NULL;
	}
	if (S_ISDIR(st.st_mode) && (!b.len || b.data[b.len - 1] != '/'))
		buf_addch(&b, '/');
	return buf_detach(&b, NULL);
}

void toppath_free(struct toppath *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].rp);
		free(t[i].path);
	}
	free(t);
}

static int top_cmp(const void *a, const void *b)
{
	const struct toppath *x = a, *y = b;
	int c = strcmp(x->rp, y->rp);
	return c ? c : strcmp(x->path, y->path);
}

static int top_cmp_rev(const void *a, const void *b)
{
	return top_cmp(b, a);
}

/* strcmp() compares as unsigned char: byte order, as bup's sort. */
size_t toppath_reduce(struct toppath **out, const char *const *paths,
		      size_t n, toppath_error_fn error, void *ctx)
{
	struct toppath *x = NULL;
	size_t nr = 0, alloc = 0, kept = 0;
	const char *prev = NULL;

	for (size_t i = 0; i < n; i++) {
		char *rp = toppath_resolve(paths[i], "reduce_paths", error,
					   ctx);
		size_t pl = strlen(paths[i]);
		if (!rp)
			continue;
		ALLOC_GROW(x, nr + 1, alloc);
		x[nr].rp = rp;
		/* bup's slashappend() leaves "" alone. */
		if (rp[strlen(rp) - 1] == '/' && pl && paths[i][pl - 1] != '/')
			x[nr].path = xstrfmt("%s/", paths[i]);
		else
			x[nr].path = xstrdup(paths[i]);
		nr++;
	}
	if (nr)
		qsort(x, nr, sizeof(*x), top_cmp);
	for (size_t i = 0; i < nr; i++) {
		const char *rp = x[i].rp;
		size_t pl = prev ? strlen(prev) : 0;

		if (prev && (!strcmp(prev, rp) ||
			     (pl && prev[pl - 1] == '/' &&
			      !strncmp(rp, prev, pl)))) {
			free(x[i].rp);
			free(x[i].path);
			continue;
		}
		x[kept++] = x[i];
		prev = x[kept - 1].rp;
	}
	if (kept)
		qsort(x, kept, sizeof(*x), top_cmp_rev);
	*out = x;
	return kept;
}
