/*
 * bup 0.33.7's shquote.py, byte for byte: the word splitting of its ftp
 * command lines (quotesplit), and what its tab completion needs to know
 * and add (unfinished_word, quotify, what_to_add).  Not sh: only words
 * that *start* with a quote are dequoted, a closing quote ends the word,
 * and inside single quotes a backslash quotes only a single quote.
 *
 * Pure functions on (buf, len) input; results go into caller-owned
 * structs (shquote_words_release frees a split).  Thread-safe.
 */
#ifndef CBUP_SHQUOTE_H
#define CBUP_SHQUOTE_H

#include <stddef.h>

#include "util/buf.h"

struct shquote_word {
	size_t start;   /* offset in the line: the opening quote, if any */
	char *word;     /* dequoted, NUL-terminated (a NUL byte ends it) */
	size_t len;     /* bytes in word, NULs included */
};

struct shquote_words {
	struct shquote_word *w;
	size_t nr, alloc;
};

#define SHQUOTE_WORDS_INIT { NULL, 0, 0 }

void shquote_words_release(struct shquote_words *ws);

/*
 * bup's quotesplit(): the words of line[0..len) appended to out.  An
 * unfinished line (open quote, trailing backslash) keeps the words
 * found so far, the partial last one included, as bup's does.  Returns
 * 1 for such a line, else 0.
 */
int shquote_split(struct shquote_words *out, const char *line, size_t len);

/*
 * bup's unfinished_word(): the partial word at the end of line into
 * word, and its quote character ('\'' or '"', else 0) as the return
 * value.  bup takes both from the last word its splitter yielded, so
 * `ls "` gives (0, "ls"); a line that ends in an open quote before any
 * word raises in bup: -1 here, word left empty.
 */
int shquote_unfinished_word(struct buf *word, const char *line, size_t len);

/* bup's quotify(qtype, word, terminate), appended to out. */
void shquote_quotify(struct buf *out, int qtype, const char *word, size_t len,
		     int terminate);

/*
 * bup's what_to_add(): the bytes to append to origword (as typed, with
 * quote type qtype) to make it newword, quoted; nothing if newword does
 * not start with origword.
 */
void shquote_what_to_add(struct buf *out, int qtype, const char *origword,
			 size_t origlen, const char *newword, size_t newlen,
			 int terminate);

#endif
