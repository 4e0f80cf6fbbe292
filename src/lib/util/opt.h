/*
 * Command-line options the way bup's options.py does them: each command
 * declares an "optspec" string (synopsis lines, "--", then one option per
 * line: "n,name=   description [default]"), from which both the parser
 * and the usage text (byte-identical to bup's, wrapped to the terminal
 * width or BUP_TTY_WIDTH, default 70) are derived.  GNU getopt
 * semantics: options and arguments may be mixed, "--" ends options, long
 * options may be abbreviated to a unique prefix, "--no-X" negates X, and
 * an option named "#" accepts -0 .. -9.
 *
 * No printing here: opt_parse() returns OPT_USAGE or OPT_ERROR and leaves
 * the text to print in opts->usage / opts->error.
 */
#ifndef CBUP_OPT_H
#define CBUP_OPT_H

#include "util/buf.h"

enum opt_result {
	OPT_OK = 0,
	OPT_USAGE = 1,   /* -h/--help/--usage: print usage, exit 97 */
	OPT_ERROR = 2,   /* bad option: print usage + "\nerror: MSG\n", 97 */
};

struct opt_value {
	const char *name;     /* main (first) flag name, e.g. "name" */
	/*
	 * Flags: bup's integer value, i.e. times given, restarting after
	 * a --no-X (which sets 0); 1 by default for a flag declared as
	 * "no-X" (bup's default True).  Options with a value: times given.
	 */
	int count;
	int negated;          /* last occurrence was --no-X */
	const char *value;    /* last value given, or the [default] */
	const char **values;  /* every value given, in order */
	size_t nr_values;
	int has_arg;          /* declared as "name=" */
};

/* One option as given on the command line (bup's `flags` list). */
struct opt_flag {
	const char *flag;     /* "n", "name" or "no-name", as getopt saw it */
	const char *value;    /* "" for options without a value */
};

struct opts {
	struct opt_value *v;
	size_t nr;
	int argc;             /* positional arguments left */
	const char **argv;
	struct opt_flag *flags; /* every option given, in order */
	size_t nr_flags;
	struct buf usage;
	struct buf error;
	void *priv;
};

/*
 * Parse argv[1..argc-1] (argv[0] is the command name, skipped as bup's
 * parse(argv[1:])).  Always fills o->usage; on OPT_ERROR o->error holds
 * getopt's message ("option --foo not recognized").  Strings in o point
 * into argv or into o itself.  Call opt_release() in every case.
 */
int opt_parse(struct opts *o, const char *optspec, int argc,
	      const char **argv);
void opt_release(struct opts *o);

/* Lookup by any of the option's flags ("n" or "name").  BUG if unknown. */
const struct opt_value *opt_get(const struct opts *o, const char *flag);
/*
 * bup's truthiness/int of opt.FLAG: a flag's count, or for an option
 * with a value 1 if its value is set and not "0"/"".  "no-X" as the
 * flag name inverts (0 or 1), as bup's opt.no_X.
 */
int opt_count(const struct opts *o, const char *flag);
/* Last value or default, NULL if none. */
const char *opt_str(const struct opts *o, const char *flag);
/*
 * Integer value (bup's _intify plus k/m/g/t suffixes when `suffixes`):
 * 0 on success, -1 if absent or not a number.
 */
int opt_int(const struct opts *o, const char *flag, long long *out,
	    int suffixes);

/*
 * bup's options._tty_width(): BUP_TTY_WIDTH if set, else the width of
 * the terminal on stderr, else 70.
 */
int opt_tty_width(void);

/*
 * Python's textwrap.fill(text, width, initial_indent=indent1,
 * subsequent_indent=indent2), appended to out (for commands such as
 * get whose usage text is not an optspec).
 */
void opt_textwrap(struct buf *out, const char *text, long width,
		  const char *indent1, const char *indent2);

/* Parse "123", "4k", "1M"... (powers of 1024, as bup's parse_num). */
int opt_parse_num(const char *s, long long *out);

/*
 * Python's float() of a str: ASCII whitespace around ("\t\n\v\f\r "),
 * an optional sign, then "inf", "infinity" or "nan" in any
 * case, or decimal digits with at most one '.' and an optional
 * exponent; '_' only between two digits; out of range is +-inf or 0 as
 * in Python.  Returns 0, or ERR_USAGE with Python's message ("could
 * not convert string to float: 'x'").  NEEDSWORK: Python also takes
 * non-ASCII digits and whitespace.
 */
int opt_parse_float(const char *s, double *out);

#endif
