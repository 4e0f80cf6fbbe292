/*
 * Refs (FORMAT.md 1.4): reading loose refs and packed-refs, and updating
 * them the way `git update-ref` does, so that bup, git and cbup can share
 * a repository:
 *
 *   1. create "<ref>.lock" exclusively (a second writer gets ERR_LOCKED
 *      with git's "Unable to create ...: File exists."; see "Ref locks"
 *      below for how one left by a killed cbup is recovered);
 *   2. compare the current value with the expected old one;
 *   3. write "<hex>\n", fsync;
 *   4. append the reflog line "<old> <new> <ident> <secs> <tz>[\t<msg>]\n"
 *      when git would (core.logAllRefUpdates, which bup init sets);
 *   5. rename the lock over the ref and fsync the directory.
 *
 * This is the last step of the durability order written down in
 * packwriter.c: a ref is updated only after the packs it reaches are
 * durable, and it is durable itself only once its directory is synced
 * (and, for a directory created for it, that directory's parent).
 *
 * The reflog ident is git's committer ident (GIT_COMMITTER_NAME/EMAIL,
 * committer.* / user.* config, else passwd and the host name with git's
 * ".(none)" fallback), not bup's commit ident, read with repo.c's
 * config reader.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "store/commit.h"
#include "util/err.h"
#include "util/file.h"
#include "store/odb.h"
#include "store/refs.h"
#include "store/repo.h"
#include "util/tmpfile.h"

#define MAX_SYMREF_DEPTH 5

/* ---- reading ---- */

static int parse_hex_line(const char *s, size_t len, struct oid *out)
{
	char hex[OID_HEXSZ + 1];

	if (len < OID_HEXSZ || (len > OID_HEXSZ && s[OID_HEXSZ] != '\n' &&
				s[OID_HEXSZ] != ' '))
		return -1;
	memcpy(hex, s, OID_HEXSZ);
	hex[OID_HEXSZ] = '\0';
	return oid_from_hex(out, hex);
}

/*
 * The next ref line of packed-refs text, from *pos up to end: 1 with the
 * line (no newline) in *line and *len, long enough to hold an id, a
 * space and a name; 0 at the end.  Comments ('#') and peeled ids ('^')
 * are skipped.
 */
static int packed_next(const char **pos, const char *end, const char **line,
		       size_t *len)
{
	while (*pos < end) {
		const char *p = *pos;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		*pos = p + n + 1;
		if (n > OID_HEXSZ + 1 && p[0] != '#' && p[0] != '^') {
			*line = p;
			*len = n;
			return 1;
		}
	}
	return 0;
}

/* Looks refname up in packed-refs: 0, ERR_NOTFOUND or ERR_CORRUPT. */
static int packed_read(struct repo *r, const char *refname, struct oid *out)
{
	struct buf b = BUF_INIT;
	char *path = xstrfmt("%s/packed-refs", r->path);
	size_t rlen = strlen(refname);
	int ret = ERR_NOTFOUND;
	const char *p, *line;
	size_t n;

	if (buf_read_file(&b, path) < 0) {
		ret = errno == ENOENT ? ERR_NOTFOUND
				      : err_errno("cannot read '%s'", path);
		goto out;
	}
	p = b.data;
	while (packed_next(&p, b.data + b.len, &line, &n)) {
		if (n - OID_HEXSZ - 1 != rlen ||
		    memcmp(line + OID_HEXSZ + 1, refname, rlen))
			continue;
		if (parse_hex_line(line, n, out) < 0)
			ret = err_set(ERR_CORRUPT, "corrupt packed-refs '%s'",
				      path);
		else
			ret = 0;
		break;
	}
out:
	buf_release(&b);
	free(path);
	return ret;
}

static int loose_read(struct repo *r, const char *refname, struct oid *out,
		      int depth)
{
	struct buf b = BUF_INIT;
	char *path = xstrfmt("%s/%s", r->path, refname);
	struct stat st;
	int ret;

	if (stat(path, &st) < 0 || S_ISDIR(st.st_mode)) {
		ret = ERR_NOTFOUND;
		goto out;
	}
	if (buf_read_file(&b, path) < 0) {
		ret = err_errno("cannot read '%s'", path);
		goto out;
	}
	if (b.len > 5 && !memcmp(b.data, "ref: ", 5)) {
		char *target = xstrndup(b.data + 5, strcspn(b.data + 5,
							    "\n"));
		if (depth >= MAX_SYMREF_DEPTH)
			ret = err_set(ERR_CORRUPT, "symref loop at '%s'",
				      refname);
		else if ((ret = loose_read(r, target, out, depth + 1)) ==
			 ERR_NOTFOUND)
			ret = packed_read(r, target, out);
		free(target);
		goto out;
	}
	ret = parse_hex_line(b.data, b.len, out) < 0
		      ? err_set(ERR_CORRUPT, "corrupt ref '%s'", path)
		      : 0;
out:
	buf_release(&b);
	free(path);
	return ret;
}

int refs_read(struct repo *r, const char *refname, struct oid *out)
{
	int ret = loose_read(r, refname, out, 0);

	if (ret == ERR_NOTFOUND)
		ret = packed_read(r, refname, out);
	if (ret == ERR_NOTFOUND)
		err_set(ERR_NOTFOUND, "ref '%s' not found", refname);
	return ret;
}

/* ---- git's committer ident, for reflog lines ---- */

struct ident_cfg {
	char *user_name, *user_email, *committer_name, *committer_email;
	int log_all;   /* -1 unset, 0 false, 1 true, 2 always */
};

/*
 * One key, NULL when unset.  An unreadable or malformed config file
 * counts as unset here: a ref update does not fail over a reflog's
 * ident.
 */
static char *cfg_get(struct repo *r, const char *key)
{
	char *v = NULL;

	if (repo_config_get(r, key, &v)) {
		free(v);
		return NULL;
	}
	return v;
}

/* The keys the reflog needs, from git's files (repo_config_get()). */
static void cfg_load(struct ident_cfg *c, struct repo *r)
{
	char *v;

	memset(c, 0, sizeof(*c));
	c->user_name = cfg_get(r, "user.name");
	c->user_email = cfg_get(r, "user.email");
	c->committer_name = cfg_get(r, "committer.name");
	c->committer_email = cfg_get(r, "committer.email");
	c->log_all = -1;
	if ((v = cfg_get(r, "core.logAllRefUpdates"))) {
		if (!strcasecmp(v, "always"))
			c->log_all = 2;
		else
			c->log_all = !strcasecmp(v, "true") ||
				     !strcasecmp(v, "yes") ||
				     !strcasecmp(v, "on") || !strcmp(v, "1");
		free(v);
	}
}

static void cfg_release(struct ident_cfg *c)
{
	free(c->user_name);
	free(c->user_email);
	free(c->committer_name);
	free(c->committer_email);
}

/* git's "crud": characters stripped from both ends of a name/email. */
static int is_crud(unsigned char c)
{
	return c <= 32 || c == '.' || c == ',' || c == ':' || c == ';' ||
	       c == '<' || c == '>' || c == '"' || c == '\\' || c == '\'';
}

static void add_cleaned(struct buf *out, const char *s)
{
	size_t n = strlen(s);

	while (n && is_crud((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && is_crud((unsigned char)s[n - 1]))
		n--;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '<' && s[i] != '>' && s[i] != '\n')
			buf_addch(out, s[i]);
}

static void default_email(struct buf *out, const char *user)
{
	char host[256 + 1];
	struct addrinfo hints, *ai = NULL;

	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	buf_addf(out, "%s@", user);
	if (strchr(host, '.')) {
		buf_addstr(out, host);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	if (!getaddrinfo(host, NULL, &hints, &ai) && ai && ai->ai_canonname &&
	    strchr(ai->ai_canonname, '.')) {
		buf_addstr(out, ai->ai_canonname);
	} else {
		buf_addf(out, "%s.(none)", host);
	}
	if (ai)
		freeaddrinfo(ai);
}

/*
 * git's ident (ident.c): bup leaves reflog lines to the git it runs
 * (update-ref), which reads GIT_COMMITTER_* and EMAIL itself; this code
 * stands in for that git, so it reads them here, as git does, rather
 * than from every command that moves a ref.
 */
static void git_committer_ident(struct buf *out, struct ident_cfg *c)
{
	const char *name = getenv("GIT_COMMITTER_NAME");
	const char *email = getenv("GIT_COMMITTER_EMAIL");
	struct passwd pw, *res = NULL;
	char pwbuf[16384];
	struct buf tmp = BUF_INIT;
	const char *user = "";

	if (!getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) && res)
		user = pw.pw_name;
	if (!name)
		name = c->committer_name ? c->committer_name : c->user_name;
	if (!name && res) {
		/* gecos up to ',', '&' standing for the capitalised login */
		for (const char *g = pw.pw_gecos ? pw.pw_gecos : "";
		     *g && *g != ','; g++) {
			if (*g == '&') {
				buf_addch(&tmp, (char)(user[0] >= 'a' &&
						       user[0] <= 'z'
							       ? user[0] - 32
							       : user[0]));
				if (user[0])
					buf_addstr(&tmp, user + 1);
			} else {
				buf_addch(&tmp, *g);
			}
		}
		name = tmp.len ? tmp.data : user;
	}
	add_cleaned(out, name ? name : "");
	buf_addstr(out, " <");
	if (!email)
		email = c->committer_email ? c->committer_email
					   : c->user_email;
	if (!email)
		email = getenv("EMAIL");
	if (email)
		add_cleaned(out, email);
	else
		default_email(out, user);
	buf_addch(out, '>');
	buf_release(&tmp);
}

/* ---- updating ---- */

static int mkdirs_for(const char *path)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (!mkdir(p, 0777)) {
			/* the new entry is durable once its parent is */
			if ((ret = file_fsync_parent(p)))
				break;
		} else if (errno != EEXIST) {
			ret = err_errno("cannot create directory '%s'", p);
			break;
		}
		*s = '/';
	}
	free(p);
	return ret;
}

static int should_log(struct ident_cfg *c, const char *logpath,
		      const char *refname)
{
	if (!access(logpath, F_OK))
		return 1;
	if (c->log_all == 2)
		return 1;
	if (c->log_all == 1)
		return !strncmp(refname, "refs/heads/", 11) ||
		       !strncmp(refname, "refs/remotes/", 13) ||
		       !strncmp(refname, "refs/notes/", 11) ||
		       !strcmp(refname, "HEAD");
	return 0;
}

static void add_git_tz(struct buf *out, int64_t t)
{
	int tz = commit_local_tz(t), a = tz < 0 ? -tz : tz;

	buf_addf(out, "%c%02d%02d", tz < 0 ? '-' : '+', a / 60, a % 60);
}

static int64_t committer_time(void)
{
	const char *d = getenv("GIT_COMMITTER_DATE");
	char *end;
	long long v;

	/* NEEDSWORK: only git's "@SECS" and "SECS [+-ZZZZ]" forms. */
	if (d) {
		v = strtoll(d + (*d == '@'), &end, 10);
		if (end != d + (*d == '@'))
			return v;
	}
	return (int64_t)time(NULL);
}

static int write_reflog(struct repo *r, const char *refname,
			const struct oid *old, const struct oid *new_oid,
			const char *msg)
{
	struct ident_cfg c;
	char *path = xstrfmt("%s/logs/%s", r->path, refname);
	struct buf line = BUF_INIT;
	int64_t t;
	int fd = -1, ret = 0;

	cfg_load(&c, r);
	if (!should_log(&c, path, refname))
		goto out;
	if ((ret = mkdirs_for(path)))
		goto out;
	t = committer_time();
	buf_addf(&line, "%s ", oid_hex(old ? old : &oid_zero));
	buf_addf(&line, "%s ", oid_hex(new_oid));
	git_committer_ident(&line, &c);
	buf_addf(&line, " %lld ", (long long)t);
	add_git_tz(&line, t);
	if (msg && *msg) {
		/* git's copy_reflog_msg: whitespace runs become one space */
		size_t start = line.len;
		int space = 0;

		buf_addch(&line, '\t');
		start = line.len;
		for (const char *m = msg; *m; m++) {
			if ((unsigned char)*m <= ' ') {
				space = 1;
				continue;
			}
			if (space && line.len > start)
				buf_addch(&line, ' ');
			space = 0;
			buf_addch(&line, *m);
		}
	}
	buf_addch(&line, '\n');
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
	if (fd < 0 || write_full(fd, line.data, line.len) < 0)
		ret = err_errno("cannot append to reflog '%s'", path);
out:
	if (fd >= 0)
		close(fd);
	buf_release(&line);
	cfg_release(&c);
	free(path);
	return ret;
}

/*
 * Ref locks that a kill cannot leave for ever.  git's protocol is kept:
 * "<ref>.lock" is created exclusively, holds the new value, and is
 * renamed over the ref; git, bup and cbup exclude each other through
 * it.  But cbup first creates an owner file
 * "<ref>.lock~cbup@HOST-PID-XXXXXX.lock" (tmpfile.h: locked with flock
 * while this process lives) and makes the lock a second name of it with
 * link(), which fails if the lock exists, as O_EXCL does.  So a lock
 * file that is found:
 *
 *  - whose flock is held: a live cbup's (the owner took the flock
 *    before the lock existed and keeps it until the lock is gone);
 *  - whose flock is free and which is the same file as an owner file of
 *    this host: left by a cbup that died holding it.  Removed (with its
 *    owner file) while we hold its flock, so no other cbup can be
 *    deciding the same thing, and git never removes a lock it does not
 *    hold;
 *  - with no owner file (git's, bup's: they take no flock), or the
 *    owner on another host (an flock may be local to a host): whether
 *    its writer still runs cannot be known.  The error says what to do,
 *    as git's does.
 *
 * The owner file goes last: after the rename, or after the lock is
 * removed on failure.  An owner file left by a kill after that point
 * names the ref's own file or nothing: removing it removes a name, never
 * data (ref_lock_take() sweeps those of dead owners).  Where hard links
 * do not work, the lock is a plain O_EXCL file, as git's; where flock
 * does not, a lock found is reported, never removed.
 * Names ending in ".lock" are skipped by git's and our ref listings;
 * '~' is in no ref name, so no ref's lock is ever an owner file.
 */
struct ref_lock {
	int fd;        /* the lock, opened by its name to be written; -1 */
	int owner_fd;  /* the owner file, holding the flock; -1: none */
	char *lock;    /* "<ref>.lock" */
	char *owner;   /* the owner file, or NULL for a plain lock */
};

#define REF_LOCK_OWNER_SUFFIX ".lock"

/* "<ref>.lock~" : owner files are this, tmpfile's tag, the suffix */
static char *owner_prefix(const char *lockpath)
{
	return xstrfmt("%s~", lockpath);
}

/*
 * The owner file in lockpath's directory that is the same file as fd,
 * or NULL (caller frees).
 */
static char *find_owner(const char *lockpath, int fd)
{
	char *prefix = owner_prefix(lockpath);
	const char *base = strrchr(prefix, '/') ? strrchr(prefix, '/') + 1
						 : prefix;
	char *dir = xstrndup(prefix, (size_t)(base - prefix));
	size_t blen = strlen(base), slen = strlen(REF_LOCK_OWNER_SUFFIX);
	struct stat held, st;
	char *found = NULL;
	DIR *d;
	struct dirent *de;

	if (fstat(fd, &held) < 0 || !(d = opendir(*dir ? dir : ".")))
		goto out;
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *full;

		if (n <= blen + slen || strncmp(de->d_name, base, blen) ||
		    strcmp(de->d_name + n - slen, REF_LOCK_OWNER_SUFFIX))
			continue;
		full = xstrfmt("%s%s", dir, de->d_name);
		if (!lstat(full, &st) && st.st_dev == held.st_dev &&
		    st.st_ino == held.st_ino)
			found = full;
		else
			free(full);
	}
	closedir(d);
out:
	free(dir);
	free(prefix);
	return found;
}

/*
 * lockpath exists.  1 when it was a dead cbup's and is now removed (try
 * again), 0 when it vanished meanwhile (try again), else ERR_LOCKED with
 * what to do.
 */
static int ref_lock_examine(const char *lockpath)
{
	int fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *owner = NULL;
	int ret, held;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd >= 0) {
		held = tmpfile_try_lock(fd);
		if (held == 1 && !tmpfile_still_named(fd, lockpath)) {
			close(fd);
			return 0;
		}
		owner = find_owner(lockpath, fd);
	} else {
		held = -1;
	}
	if (held == 0) {
		ret = err_set(ERR_LOCKED, "Unable to create '%s': File exists."
			      "\n\nAnother cbup process is updating the ref "
			      "(its lock's owner file is '%s'): try again when "
			      "it has finished.", lockpath,
			      owner ? owner : "not found");
	} else if (held == 1 && owner &&
		   tmpfile_is_ours(strrchr(owner, '/') ? strrchr(owner, '/') + 1
						       : owner,
				   REF_LOCK_OWNER_SUFFIX)) {
		/* a dead cbup's: we hold its flock, nobody else decides */
		if (unlink(lockpath) < 0 && errno != ENOENT)
			ret = err_errno("cannot remove the stale lock '%s'",
					lockpath);
		else
			ret = 1;
		unlink(owner);
	} else if (owner) {
		ret = err_set(ERR_LOCKED, "Unable to create '%s': File exists."
			      "\n\nIts owner file '%s' names a cbup process "
			      "this one cannot check (on another host, or "
			      "without file locks here).\nIf no process is "
			      "running on this repository, remove both files "
			      "and try again.", lockpath, owner);
	} else {
		ret = err_set(ERR_LOCKED, "Unable to create '%s': File exists."
			      "\n\nAnother process (git, bup or cbup) may be "
			      "updating the ref, or one was killed while it "
			      "did.\nIf no other process is running on this "
			      "repository, remove '%s' and try again.",
			      lockpath, lockpath);
	}
	free(owner);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* A plain lock (no hard links here): git's O_EXCL file. */
static int ref_lock_plain(struct ref_lock *lk)
{
	for (int tries = 0; tries < 10; tries++) {
		int ret;

		lk->fd = open(lk->lock, O_WRONLY | O_CREAT | O_EXCL |
					O_CLOEXEC, 0666);
		if (lk->fd >= 0)
			return 0;
		if (errno != EEXIST)
			return err_errno("cannot create '%s'", lk->lock);
		if ((ret = ref_lock_examine(lk->lock)) < 0)
			return ret;
	}
	return err_set(ERR_LOCKED, "Unable to create '%s': File exists.",
		       lk->lock);
}

/*
 * Remove the owner files "<prefix>cbup@HOST-...lock" of dead cbups of
 * this host (called holding the lock: each names the ref's file or
 * nothing any more).
 */
static void sweep_owners(const char *prefix)
{
	const char *slash = strrchr(prefix, '/');
	char *dir = slash ? xstrndup(prefix, (size_t)(slash - prefix))
			  : xstrdup(".");

	tmpfile_sweep(dir, slash ? slash + 1 : prefix, REF_LOCK_OWNER_SUFFIX);
	free(dir);
}

static int ref_lock_take(struct ref_lock *lk, const char *lockpath)
{
	char *prefix;
	int ret = 0;

	lk->fd = lk->owner_fd = -1;
	lk->lock = xstrdup(lockpath);
	lk->owner = NULL;
	if (mkdirs_for(lockpath))
		return err_last_code();
	prefix = owner_prefix(lockpath);
	for (int tries = 0; tries < 10; tries++) {
		char *owner;
		int fd = tmpfile_create(prefix, REF_LOCK_OWNER_SUFFIX, 0666,
					&owner);

		if (fd < 0) {
			ret = fd;
			goto out;
		}
		if (!link(owner, lockpath)) {
			lk->owner_fd = fd;
			lk->owner = owner;
			/* written through its own name, as git writes it */
			lk->fd = open(lockpath, O_WRONLY | O_CLOEXEC);
			if (lk->fd < 0) {
				ret = err_errno("cannot open '%s'", lockpath);
				goto out;
			}
			ret = 0;
			/* owner files of dead cbups for this ref: names only */
			sweep_owners(prefix);
			goto out;
		}
		ret = errno;
		unlink(owner);
		close(fd);
		free(owner);
		if (ret != EEXIST) {
			/* no hard links here (EPERM, ENOTSUP...): git's way */
			ret = ref_lock_plain(lk);
			goto out;
		}
		ret = ref_lock_examine(lockpath);
		if (ret < 0)
			goto out;
	}
	ret = err_set(ERR_LOCKED, "Unable to create '%s': File exists.",
		      lockpath);
out:
	free(prefix);
	return ret;
}

/*
 * On failure: remove the lock (if taken), then its owner file, then
 * give up the flock.  A no-op once done.
 */
static void ref_lock_drop(struct ref_lock *lk)
{
	if (lk->fd >= 0 || lk->owner_fd >= 0)
		unlink(lk->lock);
	if (lk->owner)
		unlink(lk->owner);
	if (lk->fd >= 0)
		close(lk->fd);
	if (lk->owner_fd >= 0)
		close(lk->owner_fd);
	lk->fd = lk->owner_fd = -1;
	free(lk->lock);
	free(lk->owner);
	lk->lock = lk->owner = NULL;
}

/* The lock becomes path; then its owner file goes, then the flock. */
static int ref_lock_commit(struct ref_lock *lk, const char *path)
{
	int ret;

	if (rename(lk->lock, path) < 0) {
		ret = err_errno("cannot rename '%s' to '%s'", lk->lock, path);
		ref_lock_drop(lk);
		return ret;
	}
	close(lk->fd);
	lk->fd = -1;
	if (lk->owner)
		unlink(lk->owner);
	free(lk->owner);
	lk->owner = NULL;
	if (lk->owner_fd >= 0)
		close(lk->owner_fd);
	lk->owner_fd = -1;
	ref_lock_drop(lk);
	return 0;
}

static int check_old(struct repo *r, const char *refname,
		     const struct oid *old_oid, int any, struct oid *cur,
		     int *have_cur)
{
	int ret = refs_read(r, refname, cur);

	if (ret && ret != ERR_NOTFOUND)
		return ret;
	*have_cur = !ret;
	if (any)
		return 0;
	if (!old_oid && *have_cur)
		return err_set(ERR_EXISTS, "cannot lock ref '%s': reference "
			       "already exists", refname);
	if (old_oid && !*have_cur)
		return err_set(ERR_EXISTS, "cannot lock ref '%s': unable to "
			       "resolve reference '%s'", refname, refname);
	if (old_oid && !oid_eq(old_oid, cur)) {
		char hex[OID_HEXSZ + 1];
		return err_set(ERR_EXISTS, "cannot lock ref '%s': is at %s "
			       "but expected %s", refname,
			       oid_to_hex(cur, hex), oid_hex(old_oid));
	}
	return 0;
}

int refs_update(struct repo *r, const char *refname,
		const struct oid *new_oid, const struct oid *old_oid,
		int any, const char *msg)
{
	char *path = xstrfmt("%s/%s", r->path, refname);
	char *lock = xstrfmt("%s.lock", path);
	char line[OID_HEXSZ + 2];
	struct ref_lock lk;
	struct oid cur;
	int have_cur = 0, ret;

	if ((ret = ref_lock_take(&lk, lock)))
		goto out;
	if ((ret = check_old(r, refname, old_oid, any, &cur, &have_cur)))
		goto out;
	oid_to_hex(new_oid, line);
	line[OID_HEXSZ] = '\n';
	if (write_full(lk.fd, line, OID_HEXSZ + 1) < 0 || fsync(lk.fd) < 0) {
		ret = err_errno("cannot write '%s'", lock);
		goto out;
	}
	if ((ret = write_reflog(r, refname, have_cur ? &cur : NULL, new_oid,
				msg)))
		goto out;
	if ((ret = ref_lock_commit(&lk, path)))
		goto out;
	/* the ref is in place but not known durable: an error all the same */
	ret = file_fsync_parent(path);
out:
	ref_lock_drop(&lk);
	free(lock);
	free(path);
	return ret;
}

/* Rewrite packed-refs without refname (under packed-refs.lock). */
static int packed_remove(struct repo *r, const char *refname)
{
	char *path = xstrfmt("%s/packed-refs", r->path);
	char *lock = xstrfmt("%s.lock", path);
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct ref_lock lk = { -1, -1, NULL, NULL };
	size_t rlen = strlen(refname);
	int ret = 0, skipping = 0, found = 0;
	const char *p, *end;

	if (buf_read_file(&in, path) < 0)
		goto done;   /* no packed-refs: nothing to do */
	p = in.data;
	end = in.data + in.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (p[0] == '^') {
			if (!skipping)
				buf_add(&out, p, n);
		} else {
			skipping = p[0] != '#' && n > OID_HEXSZ + 1 &&
				   (n - OID_HEXSZ - 1 == rlen ||
				    (n - OID_HEXSZ - 2 == rlen && nl)) &&
				   !memcmp(p + OID_HEXSZ + 1, refname, rlen);
			found |= skipping;
			if (!skipping)
				buf_add(&out, p, n);
		}
		p += n;
	}
	if (!found)
		goto done;
	if ((ret = ref_lock_take(&lk, lock)))
		goto done;
	if (write_full(lk.fd, out.data, out.len) < 0 || fsync(lk.fd) < 0)
		ret = err_errno("cannot rewrite '%s'", path);
	else if (!(ret = ref_lock_commit(&lk, path)))
		ret = file_fsync_parent(path);
done:
	ref_lock_drop(&lk);
	buf_release(&in);
	buf_release(&out);
	free(lock);
	free(path);
	return ret;
}

int refs_delete(struct repo *r, const char *refname,
		const struct oid *old_oid)
{
	char *path = xstrfmt("%s/%s", r->path, refname);
	char *lock = xstrfmt("%s.lock", path);
	char *log = xstrfmt("%s/logs/%s", r->path, refname);
	struct ref_lock lk;
	struct oid cur;
	int have_cur = 0, ret;

	if ((ret = ref_lock_take(&lk, lock)))
		goto out;
	if ((ret = check_old(r, refname, old_oid, !old_oid, &cur,
			     &have_cur)))
		goto out;
	if (!have_cur) {
		ret = err_set(ERR_NOTFOUND, "ref '%s' not found", refname);
		goto out;
	}
	if ((ret = packed_remove(r, refname)))
		goto out;
	if (unlink(path) < 0 && errno != ENOENT) {
		ret = err_errno("cannot remove '%s'", path);
		goto out;
	}
	unlink(log);
out:
	ref_lock_drop(&lk);
	free(log);
	free(lock);
	free(path);
	return ret;
}

/* ---- listing ---- */

int refs_collect(void *ctx, const char *refname, const struct oid *oid)
{
	struct refs_list *l = ctx;

	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	l->items[l->nr].name = xstrdup(refname);
	l->items[l->nr].oid = *oid;
	l->nr++;
	return 0;
}

void refs_list_release(struct refs_list *l)
{
	while (l->nr)
		free(l->items[--l->nr].name);
	free(l->items);
	l->items = NULL;
	l->alloc = 0;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct refs_item *)a)->name,
		      ((const struct refs_item *)b)->name);
}

/* Every loose ref under rel, unsorted (a directory holds a name once). */
static void walk_dir(struct repo *r, struct refs_list *l, const char *rel)
{
	char *dir = xstrfmt("%s/%s", r->path, rel);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *sub, *full;
		struct stat st;
		struct oid oid;

		if (de->d_name[0] == '.' ||
		    (n >= 5 && !strcmp(de->d_name + n - 5, ".lock")))
			continue;
		sub = xstrfmt("%s/%s", rel, de->d_name);
		full = xstrfmt("%s/%s", r->path, sub);
		if (!stat(full, &st)) {
			if (S_ISDIR(st.st_mode))
				walk_dir(r, l, sub);
			else if (!loose_read(r, sub, &oid, 0))
				refs_collect(l, sub, &oid);
		}
		free(full);
		free(sub);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* Whether l's first nr items (sorted) hold name. */
static int sorted_has(const struct refs_list *l, size_t nr, const char *name)
{
	struct refs_item key = { (char *)name, { { 0 } } };

	return nr && bsearch(&key, l->items, nr, sizeof(*l->items), item_cmp);
}

/*
 * The packed refs under prefix that no loose ref hides (a loose ref is
 * the newer: git writes it over a packed one).  The first nloose items
 * of l are the loose refs, sorted.
 */
static void walk_packed(struct repo *r, struct refs_list *l, size_t nloose,
			const char *prefix)
{
	struct buf b = BUF_INIT;
	char *path = xstrfmt("%s/packed-refs", r->path);
	size_t plen = strlen(prefix), n;
	const char *p, *line;

	if (buf_read_file(&b, path) < 0)
		goto out;
	p = b.data;
	while (packed_next(&p, b.data + b.len, &line, &n)) {
		struct oid oid;
		char *name;

		if (parse_hex_line(line, n, &oid) ||
		    n - OID_HEXSZ - 1 < plen ||
		    memcmp(line + OID_HEXSZ + 1, prefix, plen))
			continue;
		name = xstrndup(line + OID_HEXSZ + 1, n - OID_HEXSZ - 1);
		if (!sorted_has(l, nloose, name))
			refs_collect(l, name, &oid);
		free(name);
	}
out:
	buf_release(&b);
	free(path);
}

int refs_for_each(struct repo *r, const char *prefix, refs_each_fn fn,
		  void *ctx)
{
	struct refs_list l = REFS_LIST_INIT;
	const char *slash = strrchr(prefix, '/');
	size_t n = slash ? (size_t)(slash - prefix) : 0, plen = strlen(prefix);
	char *base = xstrndup(prefix, n);
	size_t nloose;
	int ret = 0;

	/*
	 * walk the directory part of the prefix ("refs/heads/" and
	 * "refs/heads/a" -> "refs/heads")
	 */
	while (n && base[n - 1] == '/')
		base[--n] = '\0';
	if (n)
		walk_dir(r, &l, base);
	if (l.nr)
		qsort(l.items, l.nr, sizeof(*l.items), item_cmp);
	nloose = l.nr;
	walk_packed(r, &l, nloose, prefix);
	if (l.nr > nloose)
		qsort(l.items, l.nr, sizeof(*l.items), item_cmp);
	for (size_t i = 0; !ret && i < l.nr; i++) {
		/* a name packed-refs holds twice (git refuses such a file) */
		if (i && !strcmp(l.items[i].name, l.items[i - 1].name))
			continue;
		if (!strncmp(l.items[i].name, prefix, plen))
			ret = fn(ctx, l.items[i].name, &l.items[i].oid);
	}
	refs_list_release(&l);
	free(base);
	return ret;
}

/* ---- resolving what the user typed ---- */

static int read_typed(struct odb *odb, const struct oid *oid,
		      enum obj_type want, struct commit_info *ci,
		      struct oid *tree)
{
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret = odb_read(odb, oid, &type, &b);

	if (ret)
		goto out;
	if (type != OBJ_COMMIT) {
		if (want == OBJ_TREE && type == OBJ_TREE) {
			*tree = *oid;
			goto out;
		}
		ret = err_set(ERR_NOTFOUND, "%s is a %s, not a commit",
			      oid_hex(oid), obj_type_name(type));
		goto out;
	}
	ret = commit_parse(ci, b.data, b.len);
	if (!ret && tree)
		*tree = ci->tree;
out:
	buf_release(&b);
	return ret;
}

static int apply_suffixes(struct repo *r, const char *s, struct oid *oid)
{
	struct odb *odb = r->odb;
	int ret = 0, own = 0;

	while (*s && !ret) {
		struct commit_info ci;
		char *end;
		unsigned long n = 1;

		if (!odb) {
			if ((ret = odb_open(&odb, r->objdir)))
				break;
			own = 1;
		}
		if (!strncmp(s, "^{tree}", 7)) {
			struct oid t;
			memset(&ci, 0, sizeof(ci));
			ret = read_typed(odb, oid, OBJ_TREE, &ci, &t);
			commit_release(&ci);
			if (!ret)
				*oid = t;
			s += 7;
		} else if (!strncmp(s, "^{commit}", 9) ||
			   !strncmp(s, "^{}", 3)) {
			memset(&ci, 0, sizeof(ci));
			ret = read_typed(odb, oid, OBJ_COMMIT, &ci, NULL);
			commit_release(&ci);
			s += s[2] == '}' ? 3 : 9;
		} else if (*s == '^' || *s == '~') {
			int tilde = *s == '~';
			s++;
			if (*s >= '0' && *s <= '9') {
				n = strtoul(s, &end, 10);
				s = end;
			}
			if (!tilde && n == 0) {
				memset(&ci, 0, sizeof(ci));
				ret = read_typed(odb, oid, OBJ_COMMIT, &ci,
						 NULL);
				commit_release(&ci);
				continue;
			}
			for (unsigned long i = 0; i < (tilde ? n : 1) && !ret;
			     i++) {
				size_t want = tilde ? 0 : n - 1;
				memset(&ci, 0, sizeof(ci));
				ret = read_typed(odb, oid, OBJ_COMMIT, &ci,
						 NULL);
				if (!ret && ci.nr_parents <= want)
					ret = err_set(ERR_NOTFOUND,
						      "%s has no parent %zu",
						      oid_hex(oid), want + 1);
				if (!ret)
					*oid = ci.parents[want];
				commit_release(&ci);
			}
		} else {
			ret = err_set(ERR_NOTFOUND, "bad revision suffix '%s'",
				      s);
		}
	}
	if (own)
		odb_free(odb);
	return ret;
}

int refs_resolve(struct repo *r, const char *spec, struct oid *out)
{
	static const char *const rules[] = {
		"%.*s", "refs/%.*s", "refs/tags/%.*s", "refs/heads/%.*s",
		"refs/remotes/%.*s", "refs/remotes/%.*s/HEAD",
	};
	size_t n = strcspn(spec, "^~");
	int ret = ERR_NOTFOUND;

	if (n == OID_HEXSZ) {
		char hex[OID_HEXSZ + 1];
		memcpy(hex, spec, OID_HEXSZ);
		hex[OID_HEXSZ] = '\0';
		if (!oid_from_hex(out, hex))
			ret = 0;
	}
	for (size_t i = 0; ret == ERR_NOTFOUND && n && i < ARRAY_SIZE(rules);
	     i++) {
		char *name = xstrfmt(rules[i], (int)n, spec);
		if (i || !strncmp(name, "refs/", 5) || !strcmp(name, "HEAD"))
			ret = refs_read(r, name, out);
		free(name);
	}
	if (ret == ERR_NOTFOUND)
		return err_set(ERR_NOTFOUND, "unknown revision '%s'", spec);
	if (ret)
		return ret;
	return apply_suffixes(r, spec + n, out);
}

/* ---- bup's valid_save_name (FORMAT.md 1.4) ---- */

int refs_valid_save_name(const char *name)
{
	size_t len = strlen(name);
	const char *p;

	if (!strcmp(name, "@") || !len || name[0] == '/' ||
	    name[len - 1] == '/' || name[len - 1] == '.')
		return 0;
	if (strpbrk(name, "[ ~^:?*\\") || strstr(name, "..") ||
	    strstr(name, "//") || strstr(name, "@{"))
		return 0;
	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			return 0;
	for (p = name; p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if ((n && p[0] == '.') ||
		    (n >= 5 && !memcmp(p + n - 5, ".lock", 5)))
			return 0;
		p = slash ? slash + 1 : NULL;
	}
	return 1;
}
