/*
 * Commit objects (FORMAT.md 6.1): a validating parser for untrusted
 * commit bytes, and the exact text bup save/split write: headers, the
 * author/committer ident bup builds from passwd and gethostname(), the
 * local UTC offset with bup's formatting, and the Python bytes repr of
 * argv that goes into the message.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/commit.h"
#include "util/err.h"
#include "util/pypath.h"

static int corrupt(const char *what)
{
	return err_set(ERR_CORRUPT, "corrupt commit: %s", what);
}

/* "<hex>\n" at p (len bytes available); advances *p. */
static int parse_oid_line(const char **p, const char *end, struct oid *out)
{
	char hex[OID_HEXSZ + 1];

	if (end - *p < OID_HEXSZ + 1 || (*p)[OID_HEXSZ] != '\n')
		return -1;
	memcpy(hex, *p, OID_HEXSZ);
	hex[OID_HEXSZ] = '\0';
	if (oid_from_hex(out, hex) < 0)
		return -1;
	*p += OID_HEXSZ + 1;
	return 0;
}

/*
 * "Name <mail> 1234567890 +0100" (line without its newline): the ident
 * part up to and including '>', the time and the zone in minutes.
 */
static int parse_ident(const char *s, size_t len, char **ident,
		       int64_t *t, int *tz)
{
	const char *gt = NULL, *p, *end = s + len;
	int64_t v = 0;
	int sign, hh, mm;

	for (p = s; p < end; p++)
		if (*p == '>')
			gt = p;
	if (!gt || !memchr(s, '<', (size_t)(gt - s)))
		return -1;
	p = gt + 1;
	if (p >= end || *p++ != ' ')
		return -1;
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9') {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	if (end - p != 6 || p[0] != ' ' || (p[1] != '+' && p[1] != '-'))
		return -1;
	for (int i = 2; i < 6; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	sign = p[1] == '-' ? -1 : 1;
	hh = (p[2] - '0') * 10 + (p[3] - '0');
	mm = (p[4] - '0') * 10 + (p[5] - '0');
	*ident = xstrndup(s, (size_t)(gt + 1 - s));
	*t = v;
	*tz = sign * (hh * 60 + mm);
	return 0;
}

int commit_parse(struct commit_info *c, const void *buf, size_t len)
{
	const char *p = buf, *end = p + len;
	size_t alloc = 0;
	int have_tree = 0;

	memset(c, 0, sizeof(*c));
	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (!nl)
			goto bad_header;
		n = (size_t)(nl - p);
		if (n > 5 && !memcmp(p, "tree ", 5)) {
			const char *q = p + 5;
			if (have_tree || c->nr_parents || c->author ||
			    parse_oid_line(&q, end, &c->tree) < 0)
				goto bad_tree;
			have_tree = 1;
		} else if (n > 7 && !memcmp(p, "parent ", 7)) {
			const char *q = p + 7;
			if (!have_tree || c->author)
				goto bad_parent;
			ALLOC_GROW(c->parents, c->nr_parents + 1, alloc);
			if (parse_oid_line(&q, end,
					   &c->parents[c->nr_parents]) < 0)
				goto bad_parent;
			c->nr_parents++;
		} else if (n > 7 && !memcmp(p, "author ", 7)) {
			if (!have_tree || c->author ||
			    parse_ident(p + 7, n - 7, &c->author,
					&c->author_time, &c->author_tz) < 0)
				goto bad_author;
		} else if (n > 10 && !memcmp(p, "committer ", 10)) {
			if (!c->author || c->committer ||
			    parse_ident(p + 10, n - 10, &c->committer,
					&c->committer_time,
					&c->committer_tz) < 0)
				goto bad_committer;
		} else if (!c->committer) {
			goto bad_header;
		}
		/* other headers (encoding, gpgsig + continuations): skip */
		p = nl + 1;
	}
	if (!have_tree)
		goto bad_tree;
	if (!c->author)
		goto bad_author;
	if (!c->committer)
		goto bad_committer;
	if (p < end)
		p++;   /* the blank line; a commit may end without one */
	c->message_len = (size_t)(end - p);
	c->message = xmemdup(p, c->message_len);
	return 0;

bad_tree:
	commit_release(c);
	return corrupt("bad tree line");
bad_parent:
	commit_release(c);
	return corrupt("bad parent line");
bad_author:
	commit_release(c);
	return corrupt("bad author line");
bad_committer:
	commit_release(c);
	return corrupt("bad committer line");
bad_header:
	commit_release(c);
	return corrupt("bad header");
}

void commit_release(struct commit_info *c)
{
	free(c->parents);
	free(c->author);
	free(c->committer);
	free(c->message);
	memset(c, 0, sizeof(*c));
}

/*
 * bup's utc_offset_str: "%+03d%02d" % (-h if off < 0 else h, m), so an
 * offset between -1h and 0 (h == 0) is printed with a '+' (bup quirk).
 */
static void add_tz(struct buf *out, int tz, int local)
{
	int a = tz < 0 ? -tz : tz;
	int h = a / 60, m = a % 60;

	/* bup: "%+03d" of -0 hours is "+00" in utc_offset_str() only */
	buf_addf(out, "%c%02d%02d", tz < 0 && (h || !local) ? '-' : '+', h,
		 m);
}

static void add_sig(struct buf *out, const char *what,
		    const struct commit_sig *s)
{
	buf_addf(out, "%s %s %lld ", what, s->ident, (long long)s->secs);
	add_tz(out, s->tz_minutes, s->tz_local);
	buf_addch(out, '\n');
}

void commit_format_sigs(struct buf *out, const struct oid *tree,
			const struct oid *parent,
			const struct commit_sig *author,
			const struct commit_sig *committer, const char *msg,
			size_t msg_len)
{
	buf_addf(out, "tree %s\n", oid_hex(tree));
	if (parent)
		buf_addf(out, "parent %s\n", oid_hex(parent));
	add_sig(out, "author", author);
	add_sig(out, "committer", committer);
	buf_addch(out, '\n');
	buf_add(out, msg, msg_len);
}

void commit_format(struct buf *out, const struct oid *tree,
		   const struct oid *parent, const char *ident, int64_t secs,
		   int tz_minutes, const char *msg, size_t msg_len)
{
	struct commit_sig sig = { ident, secs, tz_minutes, 1 };

	commit_format_sigs(out, tree, parent, &sig, &sig, msg, msg_len);
}

void commit_default_ident(struct buf *out)
{
	uid_t uid = getuid();
	struct passwd pw, *res = NULL;
	char pwbuf[16384], host[256 + 1];
	char *user = NULL, *full = NULL;

	if (!getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) && res) {
		size_t n = strcspn(pw.pw_gecos ? pw.pw_gecos : "", ",");
		if (pw.pw_name && *pw.pw_name)
			user = xstrdup(pw.pw_name);
		if (n)
			full = xstrndup(pw.pw_gecos, n);
		else if (user)
			full = xstrdup(user);
	}
	if (!user)
		user = xstrfmt("user%u", (unsigned)uid);
	if (!full)
		full = xstrfmt("user%u", (unsigned)uid);
	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	buf_addf(out, "%s <%s@%s>", full, user, host);
	free(user);
	free(full);
}

int commit_local_tz(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm))
		return 0;
	/* minutes, truncated toward zero as bup's abs(off) // 60 */
	return (int)(tm.tm_gmtoff / 60);
}

void commit_argv_repr(struct buf *out, int argc, const char *const *argv,
		      int b_prefix)
{
	buf_addch(out, '[');
	for (int i = 0; i < argc; i++) {
		size_t at;

		if (i)
			buf_addstr(out, ", ");
		at = out->len;
		pypath_bytes_repr(out, argv[i], strlen(argv[i]));
		if (!b_prefix)
			buf_remove(out, at, 1);
	}
	buf_addch(out, ']');
}
