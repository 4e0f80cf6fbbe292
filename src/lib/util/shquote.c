/*
 * bup's shquote.py (see shquote.h); the unit tests hold vectors made by
 * running bup's own module.
 */
#include <string.h>

#include "util/shquote.h"
#include "util/util.h"

void shquote_words_release(struct shquote_words *ws)
{
	for (size_t i = 0; i < ws->nr; i++)
		free(ws->w[i].word);
	free(ws->w);
	ws->w = NULL;
	ws->nr = ws->alloc = 0;
}

static void push_word(struct shquote_words *ws, size_t start, struct buf *w)
{
	struct shquote_word *sw;

	ALLOC_GROW(ws->w, ws->nr + 1, ws->alloc);
	sw = &ws->w[ws->nr++];
	sw->start = start;
	sw->word = buf_detach(w, &sw->len);
}

static int is_sep(int c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/*
 * bup's _quotesplit() generator: every word it yields goes into ws;
 * returns 1 where it raises QuoteError at the end.  The partial last
 * word is yielded before the error, as bup does.
 */
static int quotesplit(struct shquote_words *ws, const char *line, size_t len)
{
	int inquote = 0, inescape = 0;
	size_t wordstart = 0;
	struct buf word = BUF_INIT;
	int ret;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)line[i];
		if (inescape) {
			/* single-quoted backslashes quote only single quotes */
			if (inquote == '\'' && c != '\'')
				buf_addch(&word, '\\');
			buf_addch(&word, c);
			inescape = 0;
		} else if (c == '\\') {
			inescape = 1;
		} else if (inquote && c == inquote) {
			/* bup: the closing quote ends the word (un-sh-like) */
			inquote = 0;
			push_word(ws, wordstart, &word);
			wordstart = i + 1;
		} else if (!inquote && !word.len && (c == '\'' || c == '"')) {
			inquote = c;
			wordstart = i;
		} else if (!inquote && is_sep(c)) {
			if (word.len)
				push_word(ws, wordstart, &word);
			buf_reset(&word);
			wordstart = i + 1;
		} else {
			buf_addch(&word, c);
		}
	}
	ret = inquote || inescape || word.len;
	if (word.len)
		push_word(ws, wordstart, &word);
	buf_release(&word);
	return ret;
}

int shquote_split(struct shquote_words *out, const char *line, size_t len)
{
	return quotesplit(out, line, len);
}

int shquote_unfinished_word(struct buf *word, const char *line, size_t len)
{
	struct shquote_words ws = SHQUOTE_WORDS_INIT;
	int ret = 0;

	if (!quotesplit(&ws, line, len))
		goto out;
	if (!ws.nr) {
		/* bup: its loop variables were never bound (a NameError) */
		ret = -1;
		goto out;
	}
	/* bup: the last word yielded, whatever made the line unfinished */
	buf_add(word, ws.w[ws.nr - 1].word, ws.w[ws.nr - 1].len);
	if (line[ws.w[ws.nr - 1].start] == '\'' ||
	    line[ws.w[ws.nr - 1].start] == '"')
		ret = line[ws.w[ws.nr - 1].start];
out:
	shquote_words_release(&ws);
	return ret;
}

void shquote_quotify(struct buf *out, int qtype, const char *word, size_t len,
		     int terminate)
{
	if (qtype == '"' || qtype == '\'') {
		buf_addch(out, qtype);
		for (size_t i = 0; i < len; i++) {
			if (word[i] == qtype)
				buf_addch(out, '\\');
			buf_addch(out, word[i]);
		}
		if (terminate)
			buf_addch(out, qtype);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (strchr("\"' \t\n\r", word[i]) && word[i])
			buf_addch(out, '\\');
		buf_addch(out, word[i]);
	}
}

void shquote_what_to_add(struct buf *out, int qtype, const char *origword,
			 size_t origlen, const char *newword, size_t newlen,
			 int terminate)
{
	struct buf qold = BUF_INIT, qnew = BUF_INIT;

	if (newlen < origlen || memcmp(newword, origword, origlen))
		return;
	shquote_quotify(&qold, qtype, origword, origlen, 0);
	shquote_quotify(&qnew, qtype, newword, newlen, terminate);
	/* bup slices the new quoting at the old one's length */
	if (qnew.len > qold.len)
		buf_add(out, qnew.data + qold.len, qnew.len - qold.len);
	buf_release(&qold);
	buf_release(&qnew);
}
