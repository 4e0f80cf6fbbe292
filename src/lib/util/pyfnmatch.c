/*
 * Python's fnmatch (see pyfnmatch.h).  Python translates the pattern to
 * a regular expression; the sets here follow its translate() of 3.11:
 * the set text is cut at each "-" into chunks, ranges whose ends are out
 * of order are dropped (merging their neighbours), and the rest reads
 * as a regular expression class.
 */
#include <string.h>

#include "util/pyfnmatch.h"
#include "util/util.h"

struct set {
	unsigned char in[256];
	int never;      /* Python's "(?!)": an empty set */
};

/*
 * Fill s from the set text p[0..n) (after "[", before "]"), as Python's
 * translate() builds and the regular expression reads it.
 */
static void build_set(struct set *s, const char *p, size_t n)
{
	/* the chunks, as (start, len) into a copy that can be merged */
	char chunk[64][256];
	size_t clen[64], nr = 0, i = 0, k;
	int negate = 0;

	memset(s, 0, sizeof(*s));
	k = (n && p[0] == '!') ? 2 : 1;
	for (;;) {
		const char *d = k < n ? memchr(p + k, '-', n - k) : NULL;
		if (!d || nr == ARRAY_SIZE(chunk) - 1)
			break;
		k = (size_t)(d - p);
		clen[nr] = MIN(k - i, sizeof(chunk[0]));
		memcpy(chunk[nr], p + i, clen[nr]);
		nr++;
		i = k + 1;
		k = k + 3;
	}
	if (i < n) {
		clen[nr] = MIN(n - i, sizeof(chunk[0]));
		memcpy(chunk[nr], p + i, clen[nr]);
		nr++;
	} else if (nr && clen[nr - 1] < sizeof(chunk[0])) {
		chunk[nr - 1][clen[nr - 1]++] = '-';
	}
	/* Python: remove empty ranges, invalid in a regular expression */
	for (size_t j = nr ? nr - 1 : 0; j > 0; j--) {
		if (!clen[j - 1] || !clen[j])
			continue;
		if ((unsigned char)chunk[j - 1][clen[j - 1] - 1] >
		    (unsigned char)chunk[j][0]) {
			size_t a = clen[j - 1] - 1, b = clen[j] - 1;
			memmove(chunk[j - 1] + a, chunk[j] + 1, MIN(b,
				sizeof(chunk[0]) - a));
			clen[j - 1] = MIN(a + b, sizeof(chunk[0]));
			memmove(&chunk[j], &chunk[j + 1],
				(nr - j - 1) * sizeof(chunk[0]));
			memmove(&clen[j], &clen[j + 1],
				(nr - j - 1) * sizeof(clen[0]));
			nr--;
		}
	}
	if (!nr || (nr == 1 && !clen[0])) {
		s->never = 1;
		return;
	}
	if (nr == 1 && clen[0] == 1 && chunk[0][0] == '!') {
		/* Python: a negated empty set matches any byte */
		memset(s->in, 1, sizeof(s->in));
		return;
	}
	if (clen[0] && chunk[0][0] == '!') {
		negate = 1;
		memmove(chunk[0], chunk[0] + 1, --clen[0]);
	}
	for (size_t j = 0; j < nr; j++) {
		for (size_t c = 0; c < clen[j]; c++)
			s->in[(unsigned char)chunk[j][c]] = 1;
		/* the "-" between two chunks is a range */
		if (j + 1 < nr && clen[j] && clen[j + 1]) {
			unsigned lo = (unsigned char)chunk[j][clen[j] - 1];
			unsigned hi = (unsigned char)chunk[j + 1][0];
			for (unsigned c = lo; c <= hi; c++)
				s->in[c] = 1;
		}
	}
	if (negate)
		for (size_t c = 0; c < 256; c++)
			s->in[c] = !s->in[c];
}

/* The end of the set that starts at p ("[" + 1), or NULL: literal "[". */
static const char *set_end(const char *p)
{
	const char *j = p;

	if (*j == '!')
		j++;
	if (*j == ']')
		j++;
	while (*j && *j != ']')
		j++;
	return *j ? j : NULL;
}

static int match(const char *name, const char *pat)
{
	while (*pat) {
		if (*pat == '*') {
			while (*pat == '*')
				pat++;
			for (const char *n = name;; n++) {
				if (match(n, pat))
					return 1;
				if (!*n)
					return 0;
			}
		}
		if (!*name)
			return 0;
		if (*pat == '?') {
			pat++;
			name++;
			continue;
		}
		if (*pat == '[') {
			const char *end = set_end(pat + 1);
			if (end) {
				struct set s;
				build_set(&s, pat + 1, (size_t)(end - pat - 1));
				if (s.never || !s.in[(unsigned char)*name])
					return 0;
				pat = end + 1;
				name++;
				continue;
			}
		}
		if (*pat != *name)
			return 0;
		pat++;
		name++;
	}
	return !*name;
}

int pyfnmatch_match(const char *name, const char *pattern)
{
	return match(name, pattern);
}
