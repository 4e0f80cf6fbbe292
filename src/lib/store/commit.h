/*
 * Commit objects (FORMAT.md 6.1): parsing (fuzzable, from bytes) and the
 * exact text bup writes.
 */
#ifndef CBUP_COMMIT_H
#define CBUP_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/oid.h"

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

/* An author or committer line: "Name <mail>", time and zone. */
struct commit_sig {
	const char *ident;
	int64_t secs;
	int tz_minutes;        /* east of UTC */
	/*
	 * bup formats the local zone with "%+03d%02d" (helpers'
	 * utc_offset_str: -00:30 is "+0030") and a zone taken from a
	 * commit as git does ("-0030"): set for the former.
	 */
	int tz_local;
};

/*
 * bup's commit text (git.create_commit_blob): tree, optional parent,
 * author, committer, blank line, msg.
 */
void commit_format_sigs(struct buf *out, const struct oid *tree,
			const struct oid *parent,
			const struct commit_sig *author,
			const struct commit_sig *committer, const char *msg,
			size_t msg_len);
/*
 * commit_format_sigs() with `ident` at (secs, tz_minutes, local zone)
 * as both author and committer: what save, split and get write.
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
