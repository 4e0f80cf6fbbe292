/*
 * bup's options.py in C (opt.h): an "optspec" string gives both the
 * parser and the usage text.  Parsing follows Python's
 * getopt.gnu_getopt (options and arguments mixed unless POSIXLY_CORRECT
 * is set, "--" ends options, unique-prefix long options, its exact
 * error texts), then options.py's OptDict rules (aliases, "no-"
 * negation, counting flags, "#" digits, [default] values, _intify).
 * The usage text is options.py's _gen_usage() with Python's
 * textwrap.wrap() reproduced exactly (chunking regex, hyphen breaks,
 * long-word breaking), so `cbup CMD -h` is byte-identical to bup's.
 *
 * Text is processed as code points, as Python does after bup's
 * surrogateescape decoding: invalid UTF-8 bytes become U+DC80..U+DCFF
 * and turn back into the same bytes on output.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "util/opt.h"
#include "util/err.h"
#include "util/pypath.h"

/* ---- code points ------------------------------------------------- */

struct ustr {
	uint32_t *c;
	size_t len;
};

/* Decode UTF-8 (surrogateescape for invalid bytes); caller frees. */
static struct ustr u_decode(const char *s, size_t n)
{
	struct ustr u;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	u.c = xmalloc(st_mult(n + 1, sizeof(*u.c)));
	u.len = 0;
	while (i < n) {
		uint32_t cp;
		size_t k = pypath_utf8_decode(p + i, n - i, &cp);

		if (!k) {
			/* surrogateescape */
			u.c[u.len++] = 0xdc00 + p[i];
			k = 1;
		} else {
			u.c[u.len++] = cp;
		}
		i += k;
	}
	return u;
}

static void u_encode(struct buf *b, const uint32_t *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = c[i];
		char t[4];

		if (cp < 0x80) {
			buf_addch(b, (int)cp);
		} else if (cp >= 0xdc80 && cp <= 0xdcff) {
			buf_addch(b, (int)(cp - 0xdc00));
		} else if (cp < 0x800) {
			t[0] = (char)(0xc0 | cp >> 6);
			t[1] = (char)(0x80 | (cp & 0x3f));
			buf_add(b, t, 2);
		} else if (cp < 0x10000) {
			t[0] = (char)(0xe0 | cp >> 12);
			t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			t[2] = (char)(0x80 | (cp & 0x3f));
			buf_add(b, t, 3);
		} else {
			t[0] = (char)(0xf0 | cp >> 18);
			t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			t[3] = (char)(0x80 | (cp & 0x3f));
			buf_add(b, t, 4);
		}
	}
}

/* Number of code points in a UTF-8 string (Python's len()). */
static size_t u_strlen(const char *s)
{
	struct ustr u = u_decode(s, strlen(s));
	size_t n = u.len;
	free(u.c);
	return n;
}

/* ---- textwrap ---------------------------------------------------- */

/* textwrap's _whitespace: '\t\n\x0b\x0c\r ' */
static int tw_ws(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * \w and [^\d\W] of Python's re on str.  NEEDSWORK: non-ASCII code
 * points are all taken as letters (Python asks Unicode; bup's option
 * descriptions are ASCII).
 */
static int tw_word(uint32_t c)
{
	if (c >= 0x80)
		return c < 0xdc80 || c > 0xdcff;
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '_';
}

static int tw_letter(uint32_t c)
{
	return tw_word(c) && !(c >= '0' && c <= '9');
}

/* word_punct = [\w!"'&.,?] */
static int tw_wp(uint32_t c)
{
	return tw_word(c) || c == '!' || c == '"' || c == '\'' || c == '&' ||
	       c == '.' || c == ',' || c == '?';
}

/* At i: a run of two or more '-' followed by \w?  Returns its length. */
static size_t tw_emdash(const struct ustr *t, size_t i)
{
	size_t j = i;

	while (j < t->len && t->c[j] == '-')
		j++;
	if (j - i >= 2 && j < t->len && tw_word(t->c[j]))
		return j - i;
	return 0;
}

struct tw_chunk {
	size_t start, len;
};

/*
 * TextWrapper._split(): wordsep_re with break_on_hyphens.  Every chunk
 * is either all whitespace or a (possibly hyphen-ended) word.
 */
static size_t tw_split(const struct ustr *t, struct tw_chunk **out)
{
	struct tw_chunk *ch = NULL;
	size_t nr = 0, alloc = 0, i = 0;

	while (i < t->len) {
		size_t end;

		if (tw_ws(t->c[i])) {
			end = i;
			while (end < t->len && tw_ws(t->c[end]))
				end++;
		} else if (i > 0 && tw_wp(t->c[i - 1]) && tw_emdash(t, i)) {
			end = i + tw_emdash(t, i);
		} else {
			/* nws+? then the first alternative that matches */
			size_t j = i + 1;
			for (;; j++) {
				const uint32_t *c = t->c;
				if (j < t->len && c[j] == '-' &&
				    ((j >= 2 && tw_letter(c[j - 2]) &&
				      tw_letter(c[j - 1])) ||
				     (j >= 3 && tw_letter(c[j - 3]) &&
				      c[j - 2] == '-' && tw_letter(c[j - 1]))) &&
				    j + 1 < t->len && tw_letter(c[j + 1]) &&
				    ((j + 2 < t->len && tw_letter(c[j + 2])) ||
				     (j + 3 < t->len && c[j + 2] == '-' &&
				      tw_letter(c[j + 3])))) {
					end = j + 1;
					break;
				}
				if (j == t->len || tw_ws(c[j])) {
					end = j;
					break;
				}
				if (tw_wp(c[j - 1]) && tw_emdash(t, j)) {
					end = j;
					break;
				}
				/* c[j] is not whitespace: extend the word */
			}
		}
		ALLOC_GROW(ch, nr + 1, alloc);
		ch[nr].start = i;
		ch[nr].len = end - i;
		nr++;
		i = end;
	}
	*out = ch;
	return nr;
}

static int tw_chunk_is_ws(const struct ustr *t, const struct tw_chunk *c)
{
	for (size_t i = 0; i < c->len; i++)
		if (!tw_ws(t->c[c->start + i]))
			return 0;
	return 1;
}

/*
 * textwrap.wrap(text, width, initial_indent=, subsequent_indent=)
 * joined with '\n', appended to out (nothing for an empty text).
 */
static void tw_wrap(struct buf *out, const char *text, long width,
		    const char *indent1, const char *indent2)
{
	struct ustr raw = u_decode(text, strlen(text));
	struct ustr t;
	struct tw_chunk *ch = NULL, *line = NULL;
	size_t nch, nline, alloc_line = 0, col = 0, next;
	long ilen1 = (long)u_strlen(indent1), ilen2 = (long)u_strlen(indent2);
	int nlines = 0;

	/* _munge_whitespace: expandtabs(8), then whitespace to ' ' */
	t.c = NULL;
	t.len = 0;
	{
		size_t alloc = 0;
		for (size_t i = 0; i < raw.len; i++) {
			uint32_t c = raw.c[i];
			if (c == '\t') {
				size_t sp = 8 - col % 8;
				ALLOC_GROW(t.c, t.len + sp, alloc);
				for (size_t k = 0; k < sp; k++)
					t.c[t.len++] = ' ';
				col += sp;
				continue;
			}
			col = (c == '\n' || c == '\r') ? 0 : col + 1;
			ALLOC_GROW(t.c, t.len + 1, alloc);
			t.c[t.len++] = tw_ws(c) ? ' ' : c;
		}
	}
	free(raw.c);

	nch = tw_split(&t, &ch);
	/* Python pops from the end of the reversed list: walk forwards. */
	next = 0;
	while (next < nch) {
		long cur_len = 0, w;
		const char *indent = nlines ? indent2 : indent1;

		w = width - (nlines ? ilen2 : ilen1);
		nline = 0;
		if (nlines && tw_chunk_is_ws(&t, &ch[next]))
			next++;
		while (next < nch) {
			long l = (long)ch[next].len;
			if (cur_len + l <= w) {
				ALLOC_GROW(line, nline + 1, alloc_line);
				line[nline++] = ch[next++];
				cur_len += l;
			} else {
				break;
			}
		}
		if (next < nch && (long)ch[next].len > w) {
			/* _handle_long_word, break_long_words=True */
			struct tw_chunk *c = &ch[next];
			long space_left = w < 1 ? 1 : w - cur_len;
			size_t end = (size_t)space_left;

			if ((long)c->len > space_left) {
				/* chunk.rfind('-', 0, space_left) */
				long hy = -1;
				for (long k = space_left - 1; k >= 0; k--) {
					if ((size_t)k < c->len &&
					    t.c[c->start + (size_t)k] == '-') {
						hy = k;
						break;
					}
				}
				if (hy > 0) {
					int nonhy = 0;
					for (long k = 0; k < hy; k++)
						if (t.c[c->start + (size_t)k] !=
						    '-')
							nonhy = 1;
					if (nonhy)
						end = (size_t)hy + 1;
				}
			}
			if (end > c->len)
				end = c->len;
			ALLOC_GROW(line, nline + 1, alloc_line);
			line[nline].start = c->start;
			line[nline].len = end;
			nline++;
			c->start += end;
			c->len -= end;
			cur_len = 0;
			for (size_t k = 0; k < nline; k++)
				cur_len += (long)line[k].len;
		}
		if (nline && tw_chunk_is_ws(&t, &line[nline - 1])) {
			cur_len -= (long)line[nline - 1].len;
			nline--;
		}
		if (nline) {
			if (nlines)
				buf_addch(out, '\n');
			buf_addstr(out, indent);
			for (size_t k = 0; k < nline; k++)
				u_encode(out, t.c + line[k].start,
					 line[k].len);
			nlines++;
		}
	}
	free(line);
	free(ch);
	free(t.c);
}

void opt_textwrap(struct buf *out, const char *text, long width,
		  const char *indent1, const char *indent2)
{
	tw_wrap(out, text, width, indent1, indent2);
}

/* ---- tty width --------------------------------------------------- */

int opt_tty_width(void)
{
	const char *forced = getenv("BUP_TTY_WIDTH");
	struct winsize ws;

	if (forced && *forced) {
		char *end;
		long v;
		errno = 0;
		v = strtol(forced, &end, 10);
		/*
		 * Python's int() would raise on junk and textwrap on a
		 * width <= 0; cbup falls back to 70 instead of crashing.
		 */
		if (!errno && end != forced && v > 0 && v < 100000)
			return (int)v;
		return 70;
	}
	if (ioctl(2, TIOCGWINSZ, &ws) < 0 || !ws.ws_col)
		return 70;
	return ws.ws_col;
}

/* ---- optspec ----------------------------------------------------- */

/* One flag name that reaches an option (options.py's _aliases). */
struct opt_alias {
	char *name;        /* without "no-" */
	size_t main;       /* index into opts->v */
	int invert;        /* invert_main ^ invert */
	int has_parm;
};

struct opt_long {
	char *name;        /* "name" or "no-name" */
	int has_arg;
};

struct opt_state {
	struct opt_alias *aliases;
	size_t nr_aliases, alloc_aliases;
	struct opt_long *longs;
	size_t nr_longs, alloc_longs;
	struct buf shorts;        /* "h?" + "x:" ... */
	char **strs;              /* owned strings (defaults, names) */
	size_t nr_strs, alloc_strs;
	size_t alloc_v;
	int has_hash;
};

static char *own(struct opt_state *st, char *s)
{
	ALLOC_GROW(st->strs, st->nr_strs + 1, st->alloc_strs);
	st->strs[st->nr_strs++] = s;
	return s;
}

/* _remove_negative_kv: strip "no-"/"no_", return whether stripped. */
static int strip_no(const char *k, const char **rest)
{
	if (!strncmp(k, "no-", 3) || !strncmp(k, "no_", 3)) {
		*rest = k + 3;
		return 1;
	}
	*rest = k;
	return 0;
}

static struct opt_alias *find_alias(struct opt_state *st, const char *name)
{
	/* Later definitions win, as with a Python dict. */
	for (size_t i = st->nr_aliases; i-- > 0;)
		if (!strcmp(st->aliases[i].name, name))
			return &st->aliases[i];
	return NULL;
}

static void add_alias(struct opt_state *st, const char *name, size_t main,
		      int invert, int has_parm)
{
	struct opt_alias *a;

	ALLOC_GROW(st->aliases, st->nr_aliases + 1, st->alloc_aliases);
	a = &st->aliases[st->nr_aliases++];
	a->name = own(st, xstrdup(name));
	a->main = main;
	a->invert = invert;
	a->has_parm = has_parm;
}

static void add_long(struct opt_state *st, const char *name, int has_arg)
{
	ALLOC_GROW(st->longs, st->nr_longs + 1, st->alloc_longs);
	st->longs[st->nr_longs].name = own(st, xstrdup(name));
	st->longs[st->nr_longs].has_arg = has_arg;
	st->nr_longs++;
}

/* options.py's _intify: is s exactly str(int(s))? */
static int is_canonical_int(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (!*p)
		return 0;
	if (p[0] == '0')
		return !p[1] && p == s;   /* "0" yes, "-0" and "01" no */
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/* Python truthiness of a stored value, as bup's flags count from it. */
static int value_count(const char *v)
{
	if (!v)
		return 0;
	if (is_canonical_int(v)) {
		long long n = strtoll(v, NULL, 10);
		return n > INT32_MAX ? INT32_MAX :
		       n < INT32_MIN ? INT32_MIN : (int)n;
	}
	return *v ? 1 : 0;
}

static size_t find_or_add_main(struct opts *o, struct opt_state *st,
			       const char *name)
{
	for (size_t i = 0; i < o->nr; i++)
		if (!strcmp(o->v[i].name, name))
			return i;
	ALLOC_GROW(o->v, o->nr + 1, st->alloc_v);
	memset(&o->v[o->nr], 0, sizeof(o->v[0]));
	o->v[o->nr].name = own(st, xstrdup(name));
	return o->nr++;
}

/* Python's str.strip() for the ASCII whitespace an optspec holds. */
static void strip_span(const char **s, size_t *n)
{
	while (*n && tw_ws((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && tw_ws((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* One option line: flags and description (options.py _gen_usage). */
static void spec_option(struct opts *o, struct opt_state *st,
			const char *l, size_t n)
{
	const char *sp = memchr(l, ' ', n);
	size_t flen = sp ? (size_t)(sp - l) : n;
	char *flags = xstrndup(l, flen);
	const char *ex = sp ? sp + 1 : l + n;
	size_t exlen = sp ? n - flen - 1 : 0;
	char *extra, *defval = NULL, *f, *save = NULL;
	struct buf nice = BUF_INIT, prefix = BUF_INIT;
	const char *main_name;
	int has_parm = 0, invert_main, first = 1;
	size_t main;

	strip_span(&ex, &exlen);
	extra = xstrndup(ex, exlen);
	if (flen && flags[flen - 1] == '=') {
		flags[--flen] = '\0';
		has_parm = 1;
	}
	/* re.search(r'\[([^\]]*)\]$', extra) */
	if (exlen && extra[exlen - 1] == ']') {
		char *open = NULL;
		for (size_t i = exlen - 1; i-- > 0;) {
			if (extra[i] == ']')
				break;
			if (extra[i] == '[') {
				open = extra + i;
				break;
			}
		}
		if (open)
			defval = xstrndup(open + 1,
					  (size_t)(extra + exlen - 1 - open - 1));
	}

	invert_main = strip_no(flags, &main_name);
	{
		/* main_name ends at the first ',' */
		size_t ml = strcspn(main_name, ",");
		char *m = xstrndup(main_name, ml);
		main = find_or_add_main(o, st, m);
		free(m);
	}
	{
		struct opt_value *v = &o->v[main];
		v->has_arg = has_parm;
		/* self._defaults[flag_main] = _invert(defval, invert_main) */
		if (invert_main) {
			v->value = NULL;
			v->count = value_count(defval) ? 0 : 1;
		} else {
			v->value = defval ? own(st, defval) : NULL;
			v->count = has_parm ? 0 : value_count(defval);
			defval = NULL;
		}
		v->negated = 0;
	}
	free(defval);

	for (f = strtok_r(flags, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		const char *fn;
		int inv = strip_no(f, &fn);

		add_alias(st, fn, main, invert_main ^ inv, has_parm);
		if (!first)
			buf_addstr(&nice, ", ");
		first = 0;
		if (!strcmp(fn, "#")) {
			st->has_hash = 1;
			buf_addstr(&st->shorts, "0123456789");
			buf_addstr(&nice, "-#");
		} else if (u_strlen(fn) == 1) {
			buf_addstr(&st->shorts, fn);
			if (has_parm)
				buf_addch(&st->shorts, ':');
			buf_addf(&nice, "-%s", fn);
		} else {
			/* f_nice = re.sub(r'\W', '_', f) */
			char *fnice = xstrdup(fn), *nm;
			for (char *p = fnice; *p; p++)
				if (!tw_word((unsigned char)*p) &&
				    !((unsigned char)*p & 0x80))
					*p = '_';
			add_alias(st, fnice, main, invert_main ^ inv,
				  has_parm);
			free(fnice);
			add_long(st, fn, has_parm);
			nm = xstrfmt("no-%s", fn);
			add_long(st, nm, 0);
			free(nm);
			buf_addf(&nice, "--%s", f);
		}
	}
	/* strtok_r above skipped empty names; Python keeps them, harmless */
	if (has_parm)
		buf_addstr(&nice, " ...");
	{
		/* '    %-20s  ' pads by characters */
		size_t cl = u_strlen(nice.data);
		buf_addstr(&prefix, "    ");
		buf_addstr(&prefix, nice.data);
		for (; cl < 20; cl++)
			buf_addch(&prefix, ' ');
		buf_addstr(&prefix, "  ");
	}
	tw_wrap(&o->usage, extra, opt_tty_width(), prefix.data,
		"                            ");
	buf_addch(&o->usage, '\n');
	buf_release(&nice);
	buf_release(&prefix);
	free(flags);
	free(extra);
}

static void parse_spec(struct opts *o, struct opt_state *st,
		       const char *spec)
{
	const char *p = spec, *end = spec + strlen(spec);
	int first_syn = 1, last_was_option = 0, in_syn = 1;
	size_t n;

	buf_addstr(&st->shorts, "h?");
	add_long(st, "help", 0);
	add_long(st, "usage", 0);

	/* optspec.strip().split('\n') */
	n = (size_t)(end - p);
	strip_span(&p, &n);
	end = p + n;
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t ll = (size_t)(le - p);

		if (in_syn) {
			if (ll == 2 && !memcmp(p, "--", 2)) {
				in_syn = 0;
				buf_addch(&o->usage, '\n');
			} else {
				buf_addstr(&o->usage,
					   first_syn ? "usage: " : "   or: ");
				buf_add(&o->usage, p, ll);
				buf_addch(&o->usage, '\n');
				first_syn = 0;
			}
		} else if (ll && p[0] == ' ') {
			const char *q = p;
			size_t ql = ll;
			while (ql && tw_ws((unsigned char)*q)) {
				q++;
				ql--;
			}
			if (last_was_option)
				buf_addch(&o->usage, '\n');
			buf_add(&o->usage, q, ql);
			buf_addch(&o->usage, '\n');
			last_was_option = 0;
		} else if (ll) {
			spec_option(o, st, p, ll);
			last_was_option = 1;
		} else {
			buf_addch(&o->usage, '\n');
			last_was_option = 0;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	/* Without a "--" line the synopsis never got its blank line. */
	if (in_syn)
		buf_addch(&o->usage, '\n');
	/* ''.join(out).rstrip() + '\n' */
	while (o->usage.len && tw_ws((unsigned char)o->usage.data[o->usage.len - 1]))
		o->usage.len--;
	buf_setlen(&o->usage, o->usage.len);
	buf_addch(&o->usage, '\n');
}

/* ---- getopt ------------------------------------------------------ */

struct raw_flag {
	const char *key;   /* option name as getopt reports it, owned */
	const char *val;   /* "" for flags */
};

/* Length of the UTF-8 sequence starting at s (1 for invalid bytes). */
static size_t u8len(const char *s)
{
	struct ustr u;
	size_t n = 1;
	unsigned c = (unsigned char)*s;

	if (c < 0xc2 || c > 0xf4)
		return 1;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (strnlen(s, n) < n)
		return 1;
	u = u_decode(s, n);
	if (u.len != 1)
		n = 1;
	free(u.c);
	return n;
}

static int do_long(struct opts *o, struct opt_state *st, const char *arg,
		   int argc, const char **argv, int *i, struct raw_flag *rf)
{
	const char *eq = strchr(arg, '=');
	size_t olen = eq ? (size_t)(eq - arg) : strlen(arg);
	const char *optval = eq ? eq + 1 : NULL;
	char *opt = xstrndup(arg, olen);
	size_t nposs = 0, last = 0;
	int exact = 0, exact_arg = 0, has_arg;

	for (size_t k = 0; k < st->nr_longs; k++) {
		const struct opt_long *l = &st->longs[k];
		if (strncmp(l->name, opt, olen))
			continue;
		/* o.startswith(opt) on "name" or "name=" */
		nposs++;
		last = k;
		if (!l->has_arg && !strcmp(l->name, opt))
			exact = 1;
		if (l->has_arg && !strcmp(l->name, opt))
			exact_arg = 1;
	}
	/*
	 * A has-arg long option is "name=" in Python's list, so a bare
	 * opt that is a prefix of it always matches; an opt that equals
	 * "name=" cannot occur (it was split at '=').
	 */
	if (!nposs) {
		buf_addf(&o->error, "option --%s not recognized", opt);
		goto fail;
	}
	if (exact) {
		has_arg = 0;
	} else if (exact_arg) {
		has_arg = 1;
	} else if (nposs > 1) {
		buf_addf(&o->error, "option --%s not a unique prefix", opt);
		goto fail;
	} else {
		free(opt);
		opt = xstrdup(st->longs[last].name);
		has_arg = st->longs[last].has_arg;
	}
	if (has_arg) {
		if (!optval) {
			if (*i + 1 >= argc) {
				buf_addf(&o->error,
					 "option --%s requires argument", opt);
				goto fail;
			}
			optval = argv[++*i];
		}
	} else if (optval) {
		buf_addf(&o->error, "option --%s must not have an argument",
			 opt);
		goto fail;
	}
	rf->key = own(st, opt);
	rf->val = optval ? optval : "";
	return 0;
fail:
	free(opt);
	return -1;
}

/* short_has_arg(): 1 takes an argument, 0 not, -1 unknown. */
static int short_has_arg(struct opt_state *st, const char *c, size_t n)
{
	const char *s = st->shorts.data;
	size_t len = st->shorts.len;

	for (size_t k = 0; k + n <= len; k++) {
		if (!memcmp(s + k, c, n) && !(n == 1 && *c == ':'))
			return k + n < len && s[k + n] == ':';
	}
	return -1;
}

static int run_getopt(struct opts *o, struct opt_state *st, int argc,
		      const char **argv, struct raw_flag **flags,
		      size_t *nr_flags)
{
	size_t alloc_f = 0, alloc_a = 0;
	int options_first = getenv("POSIXLY_CORRECT") &&
			    *getenv("POSIXLY_CORRECT");
	int i;

	*flags = NULL;
	*nr_flags = 0;
	o->argv = NULL;
	o->argc = 0;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strncmp(a, "--", 2)) {
			ALLOC_GROW(*flags, *nr_flags + 1, alloc_f);
			if (do_long(o, st, a + 2, argc, argv, &i,
				    &(*flags)[*nr_flags]))
				return -1;
			(*nr_flags)++;
		} else if (a[0] == '-' && a[1]) {
			const char *p = a + 1;
			while (*p) {
				size_t n = u8len(p);
				int h = short_has_arg(st, p, n);
				char *key = xstrndup(p, n);
				const char *val = "";

				p += n;
				if (h < 0) {
					buf_addf(&o->error,
						 "option -%s not recognized",
						 key);
					free(key);
					return -1;
				}
				if (h) {
					if (!*p) {
						if (i + 1 >= argc) {
							buf_addf(&o->error,
								 "option -%s requires argument",
								 key);
							free(key);
							return -1;
						}
						p = argv[++i];
					}
					val = p;
					p += strlen(p);
				}
				ALLOC_GROW(*flags, *nr_flags + 1, alloc_f);
				(*flags)[*nr_flags].key = own(st, key);
				(*flags)[*nr_flags].val = val;
				(*nr_flags)++;
			}
		} else if (options_first) {
			break;
		} else {
			ALLOC_GROW(o->argv, (size_t)o->argc + 2, alloc_a);
			o->argv[o->argc++] = a;
		}
	}
	for (; i < argc; i++) {
		ALLOC_GROW(o->argv, (size_t)o->argc + 2, alloc_a);
		o->argv[o->argc++] = argv[i];
	}
	ALLOC_GROW(o->argv, (size_t)o->argc + 1, alloc_a);
	o->argv[o->argc] = NULL;
	return 0;
}

/* ---- parse ------------------------------------------------------- */

static const struct opt_alias *unalias(struct opt_state *st,
				       const char *k, int *invert)
{
	const char *rest;
	int re = strip_no(k, &rest);
	struct opt_alias *a = find_alias(st, rest);

	if (!a)
		return NULL;
	*invert = a->invert ^ re;
	return a;
}

static void add_value(struct opt_value *v, const char *val)
{
	v->values = xrealloc(v->values,
			     st_mult(v->nr_values + 1, sizeof(*v->values)));
	v->values[v->nr_values++] = val;
}

int opt_parse(struct opts *o, const char *optspec, int argc,
	      const char **argv)
{
	struct opt_state *st = xcalloc(1, sizeof(*st));
	struct raw_flag *flags = NULL;
	size_t nr_flags = 0;
	int ret = OPT_OK;

	memset(o, 0, sizeof(*o));
	buf_init(&o->usage, 0);
	buf_init(&o->error, 0);
	buf_init(&st->shorts, 0);
	o->priv = st;
	/* argv[0] is the command name, as bup's parse(argv[1:]) */
	if (argc > 0) {
		argc--;
		argv++;
	}
	parse_spec(o, st, optspec);
	if (run_getopt(o, st, argc, argv, &flags, &nr_flags)) {
		ret = OPT_ERROR;
		goto out;
	}
	o->flags = xcalloc(nr_flags + 1, sizeof(*o->flags));
	o->nr_flags = nr_flags;
	for (size_t i = 0; i < nr_flags; i++) {
		const char *k = flags[i].key, *val = flags[i].val;
		const struct opt_alias *a;
		struct opt_value *v;
		int invert;

		o->flags[i].flag = k;
		o->flags[i].value = val;
		if (!strcmp(k, "h") || !strcmp(k, "?") ||
		    !strcmp(k, "help") || !strcmp(k, "usage")) {
			ret = OPT_USAGE;
			goto out;
		}
		if (st->has_hash && k[0] >= '0' && k[0] <= '9' && !k[1]) {
			a = find_alias(st, "#");
			v = &o->v[a->main];
			v->value = k;   /* "0".."9", int(k) in Python */
			v->count++;
			v->negated = 0;
			add_value(v, k);
			continue;
		}
		a = unalias(st, k, &invert);
		if (!a)
			BUG("getopt returned unknown option %s", k);
		v = &o->v[a->main];
		if (!v->has_arg) {
			/* v = (opt._opts.get(k) or 0) + 1, maybe negated */
			if (invert) {
				v->count = 0;
				v->negated = 1;
			} else {
				v->count = (v->count > 0 ? v->count : 0) + 1;
				v->negated = 0;
			}
		} else if (invert) {
			/*
			 * NEEDSWORK: Python stores `not ''` (True) for
			 * --no-X of an option taking a value; cbup
			 * records it as negated with no value.
			 */
			v->value = NULL;
			v->count = 0;
			v->negated = 1;
		} else {
			v->value = val;
			v->count++;
			v->negated = 0;
			add_value(v, val);
		}
	}
out:
	free(flags);
	return ret;
}

void opt_release(struct opts *o)
{
	struct opt_state *st = o->priv;

	for (size_t i = 0; i < o->nr; i++)
		free(o->v[i].values);
	free(o->v);
	free(o->argv);
	free(o->flags);
	buf_release(&o->usage);
	buf_release(&o->error);
	if (st) {
		for (size_t i = 0; i < st->nr_strs; i++)
			free(st->strs[i]);
		free(st->strs);
		free(st->aliases);
		free(st->longs);
		buf_release(&st->shorts);
		free(st);
	}
	memset(o, 0, sizeof(*o));
}

/* ---- lookups ----------------------------------------------------- */

static const struct opt_value *lookup(const struct opts *o,
				      const char *flag, int *invert)
{
	struct opt_state *st = o->priv;
	const struct opt_alias *a = unalias(st, flag, invert);

	if (!a)
		BUG("unknown option '%s'", flag);
	return &o->v[a->main];
}

const struct opt_value *opt_get(const struct opts *o, const char *flag)
{
	int invert;
	return lookup(o, flag, &invert);
}

int opt_count(const struct opts *o, const char *flag)
{
	int invert;
	const struct opt_value *v = lookup(o, flag, &invert);
	int n = v->has_arg ? (value_count(v->value) != 0) : v->count;

	if (v->has_arg && v->negated)
		n = 1;  /* Python: not '' */
	if (invert)
		return n ? 0 : 1;
	return n < 0 ? 0 : n;
}

const char *opt_str(const struct opts *o, const char *flag)
{
	int invert;
	return lookup(o, flag, &invert)->value;
}

int opt_int(const struct opts *o, const char *flag, long long *out,
	    int suffixes)
{
	const char *s = opt_str(o, flag);
	char *end;

	if (!s)
		return -1;
	if (suffixes)
		return opt_parse_num(s, out);
	if (!is_canonical_int(s))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno ? -1 : 0;
}

/*
 * bup's helpers.parse_num(): re.match(r'([-+\d.e]+)\s*(\w*)'), float()
 * of the number, a unit of '', b, k[b], m[b], g[b] or t[b] (any case,
 * powers of 1024), truncated to an integer.  Text after the unit is
 * ignored, as re.match only anchors the start.
 */
/* Python's whitespace for float(): Py_ISSPACE (not 0x1c..0x1f). */
static int float_ws(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Whether s is one of Python's float() words: inf, infinity, nan. */
static int float_word(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	return !strcasecmp(s, "inf") || !strcasecmp(s, "infinity") ||
	       !strcasecmp(s, "nan");
}

/* [+-] digits [. digits] [e [+-] digits], one digit at least before e. */
static int float_decimal(const char *s)
{
	int digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	while (is_digit(*s)) {
		s++;
		digits++;
	}
	if (*s == '.')
		for (s++; is_digit(*s); s++)
			digits++;
	if (!digits)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!is_digit(*s))
			return 0;
		while (is_digit(*s))
			s++;
	}
	return !*s;
}

int opt_parse_float(const char *s, double *out)
{
	const char *p = s, *end = s + strlen(s);
	struct buf clean = BUF_INIT;
	int ret = 0;

	while (p < end && float_ws((unsigned char)*p))
		p++;
	while (end > p && float_ws((unsigned char)end[-1]))
		end--;
	for (const char *q = p; q < end; q++) {
		/* '_' groups digits: only between two of them */
		if (*q != '_')
			buf_addch(&clean, *q);
		else if (q == p || q + 1 == end || !is_digit(q[-1]) ||
			 !is_digit(q[1]))
			goto bad;
	}
	/*
	 * The grammar is checked first: strtod() would also take hex
	 * floats, "nan(...)" and a prefix.  It rounds as Python does
	 * (correctly), and overflows to inf as float() does.
	 */
	if (!float_word(clean.data) && !float_decimal(clean.data))
		goto bad;
	*out = strtod(clean.data, NULL);
	goto out;
bad:
	{
		struct buf m = BUF_INIT;
		pypath_str_repr(&m, s);
		ret = err_set(ERR_USAGE, "could not convert string to "
			      "float: %s", m.data);
		buf_release(&m);
	}
out:
	buf_release(&clean);
	return ret;
}

int opt_parse_num(const char *s, long long *out)
{
	const char *p = s, *u;
	char *num, *end;
	double d, mult;
	size_t ul;

	while (*p && strchr("+-0123456789.e", *p))
		p++;
	if (p == s)
		return -1;
	num = xstrndup(s, (size_t)(p - s));
	errno = 0;
	d = strtod(num, &end);
	if (*end || end == num) {
		free(num);
		return -1;
	}
	free(num);
	while (tw_ws((unsigned char)*p))
		p++;
	u = p;
	while (tw_word((unsigned char)*p) && !((unsigned char)*p & 0x80))
		p++;
	ul = (size_t)(p - u);
	if (!ul || (ul == 1 && (*u == 'b' || *u == 'B')))
		mult = 1;
	else if ((ul == 1 || (ul == 2 && (u[1] == 'b' || u[1] == 'B'))) &&
		 strchr("kKmMgGtT", *u))
		mult = (*u == 'k' || *u == 'K') ? 1024.0 :
		       (*u == 'm' || *u == 'M') ? 1048576.0 :
		       (*u == 'g' || *u == 'G') ? 1073741824.0 :
						  1099511627776.0;
	else
		return -1;
	d *= mult;
	if (!isfinite(d) || d >= 9.2233720368547758e18 ||
	    d <= -9.2233720368547758e18)
		return -1;
	*out = (long long)d;
	return 0;
}
