/*
 * Commit objects (FORMAT.md 6.1): parsing (fuzzable, from bytes) and the
 * exact text bup writes.
 */
#ifndef CBUP_COMMIT_H
#define CBUP_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "oid.h"

struct commit_info {
	struct oid tree;
	struct oid *parents;
	size_t nr_parents;
	char *author;          /* "Name <mail>" */
	int64_t author_time;
	int author_tz;         /* minutes east of UTC */
	char *committer;
	int64_t committer_time;
	int committer_tz;
	char *message;         /* after the blank line */
	size_t message_len;
};

int commit_parse(struct commit_info *c, const void *buf, size_t len);
void commit_release(struct commit_info *c);

/*
 * bup's commit text: tree, optional parent, author and committer
 * `ident` at (secs, tz), blank line, msg.
 */
void commit_format(struct buf *out, const struct oid *tree,
		   const struct oid *parent, const char *ident, int64_t secs,
		   int tz_minutes, const char *msg, size_t msg_len);
/* "NAME <USER@HOST>" as bup builds it from passwd and gethostname. */
void commit_default_ident(struct buf *out);
/* Local UTC offset in minutes at time t (localtime_r tm_gmtoff). */
int commit_local_tz(int64_t t);
/*
 * Python bytes repr of each argv item, joined as a list: bup save's
 * message uses no "b" prefix, bup split's does (FORMAT.md 3.5, 6.1).
 */
void commit_argv_repr(struct buf *out, int argc, const char *const *argv,
		      int b_prefix);

#endif
