/*
 * Locating, creating and opening a repository (FORMAT.md 1.1, 1.2, 10),
 * and the small part of git's config format bup relies on.
 *
 * repo_init() writes what `git --bare init` followed by bup's two
 * `git config` calls writes (FORMAT.md 1.2) without running git: the
 * template files (hooks/, info/exclude, description, branches/) are
 * copied from git's template directory, HEAD names the initial branch
 * (init.defaultBranch, default master), and config is written in the
 * exact text git produces.  That keeps `cbup init` a few system calls.
 *
 * The config reader follows git-config(1) syntax: [section],
 * [section "subsection"] (case-sensitive subsection, \" and \\ escapes),
 * legacy [section.subsection] (lower-cased), `name = value` with
 * quoting, escapes (\n \t \b \\ \"), comments (; #) and line
 * continuations; a bare `name` is boolean true.  Section and name are
 * case-insensitive.  Values come from the system, global and
 * repository files in that order, the last one winning, as
 * `git --git-dir=R config --get` does for bup.  NEEDSWORK: include.path
 * and includeIf are not followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "store/odb.h"
#include "util/pypath.h"
#include "store/repo.h"

/* ---- locating ---------------------------------------------------- */

/*
 * The one environment read that stays in the library by design: bup
 * resolves the default repository from BUP_DIR (else ~/.bup) at this
 * level too (git.py's guess_repo()), for every caller, server included.
 */
char *repo_default_path(void)
{
	const char *d = getenv("BUP_DIR");
	const char *home;

	if (d && *d)
		return xstrdup(d);
	/* os.path.expanduser('~/.bup'): $HOME, else the passwd entry */
	home = getenv("HOME");
	if (!home || !*home)
		home = "/";
	if (!strcmp(home, "/"))
		return xstrdup("/.bup");
	return xstrfmt("%s%s.bup", home,
		       home[strlen(home) - 1] == '/' ? "" : "/");
}

static int path_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static char *join(const char *dir, const char *sub)
{
	size_t n = strlen(dir);
	if (n && dir[n - 1] == '/')
		return xstrfmt("%s%s", dir, sub);
	return xstrfmt("%s/%s", dir, sub);
}

char *repo_effective_path(const char *dir)
{
	char *gd = join(dir, ".git");

	if (path_exists(gd))
		return gd;
	free(gd);
	return xstrdup(dir);
}

int repo_real_path(char **out, const char *path, int may_create)
{
	char *eff = repo_effective_path(path), *real, *p;
	const char **missing = NULL;
	size_t nr = 0, alloc = 0;
	struct buf b = BUF_INIT;
	int ret = 0;

	*out = NULL;
	real = realpath(eff, NULL);
	if (real || !may_create || (errno != ENOENT && errno != ENOTDIR)) {
		if (!real)
			ret = err_errno("cannot resolve '%s'", eff);
		free(eff);
		*out = real;
		return ret;
	}
	/*
	 * Strip components from the end until what is left exists.  Each
	 * stripped one stays a string of its own in eff (its '/' becomes
	 * the NUL that ends the part before it).
	 */
	p = eff;
	while (!real) {
		size_t len = strlen(p);
		char *slash;
		const char *comp, *base = p;

		while (len > 1 && p[len - 1] == '/')
			p[--len] = '\0';
		slash = strrchr(p, '/');
		comp = slash ? slash + 1 : p;
		if (!strcmp(comp, "..")) {
			ret = err_set(ERR_USAGE, "cannot resolve '%s': '..' "
				      "after a directory that does not exist",
				      path);
			goto out;
		}
		if (*comp && strcmp(comp, ".")) {
			ALLOC_GROW(missing, nr + 1, alloc);
			missing[nr++] = comp;
		}
		if (!slash)
			base = ".";
		else if (slash == p)
			base = "/";
		else
			*slash = '\0';
		real = realpath(base, NULL);
		if (!real && (base != p || (errno != ENOENT &&
					    errno != ENOTDIR))) {
			ret = err_errno("cannot resolve '%s'", base);
			goto out;
		}
	}
	buf_addstr(&b, real);
	while (nr--) {
		if (b.len && b.data[b.len - 1] != '/')
			buf_addch(&b, '/');
		buf_addstr(&b, missing[nr]);
	}
	*out = buf_detach(&b, NULL);
out:
	free(real);
	free(missing);
	free(eff);
	buf_release(&b);
	return ret;
}

int repo_open(struct repo **out, const char *path)
{
	char *top = repo_effective_path(path);
	char *pack = join(top, "objects/pack");
	struct stat st;
	struct repo *r;

	*out = NULL;
	if (stat(pack, &st) || !S_ISDIR(st.st_mode)) {
		int missing = stat(pack, &st) != 0 && stat(top, &st) != 0;
		free(pack);
		if (missing) {
			err_set(ERR_NOTFOUND,
				"repository '%s' does not exist", top);
			free(top);
			return ERR_NOTFOUND;
		}
		err_set(ERR_CORRUPT, "%s is not a repository", top);
		free(top);
		return ERR_CORRUPT;
	}
	/*
	 * Anchored to the working directory now: restore -C and others
	 * change directory before they read objects.
	 */
	if (top[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd))) {
			char *abs = join(cwd, top);
			free(top);
			free(pack);
			top = abs;
			pack = join(top, "objects/pack");
		}
	}
	r = xcalloc(1, sizeof(*r));
	r->path = top;
	r->objdir = join(top, "objects");
	r->packdir = pack;
	*out = r;
	return 0;
}

void repo_free(struct repo *r)
{
	if (!r)
		return;
	if (r->odb)
		odb_free(r->odb);
	if (r->lock_fd > 0)
		close(r->lock_fd);  /* drops the gc lock (repolock.h) */
	if (r->gate_fd > 0)
		close(r->gate_fd);
	free(r->path);
	free(r->objdir);
	free(r->packdir);
	free(r);
}

struct odb *repo_odb(struct repo *r)
{
	if (!r->odb && odb_open(&r->odb, r->objdir))
		r->odb = NULL;
	return r->odb;
}

/* ---- config: parsing --------------------------------------------- */

struct cfg_entry {
	char *key;     /* "section.Subsection.name", section/name lower */
	char *value;   /* NULL for a bare boolean `name` */
};

struct cfg {
	struct cfg_entry *e;
	size_t nr, alloc;
};

static void cfg_release(struct cfg *c)
{
	for (size_t i = 0; i < c->nr; i++) {
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c->e);
	memset(c, 0, sizeof(*c));
}

static int is_keychar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

struct cfg_parser {
	const char *p, *end, *path;
	int line;
};

static int cfg_corrupt(struct cfg_parser *cp)
{
	return err_set(ERR_CORRUPT, "bad config line %d in file %s",
		       cp->line, cp->path);
}

static int cp_peek(struct cfg_parser *cp)
{
	return cp->p < cp->end ? (unsigned char)*cp->p : -1;
}

static int cp_get(struct cfg_parser *cp)
{
	int c = cp_peek(cp);
	if (c >= 0) {
		cp->p++;
		if (c == '\n')
			cp->line++;
	}
	return c;
}

/* "[section]", "[section "sub"]" or "[section.sub]"; after the '['. */
static int parse_section(struct cfg_parser *cp, struct buf *sec)
{
	int c;

	buf_reset(sec);
	for (;;) {
		c = cp_get(cp);
		if (c == ']')
			break;
		if (c == ' ' || c == '\t') {
			while ((c = cp_get(cp)) == ' ' || c == '\t')
				;
			if (c != '"')
				return -1;
			buf_addch(sec, '.');
			for (;;) {
				c = cp_get(cp);
				if (c < 0 || c == '\n')
					return -1;
				if (c == '"')
					break;
				if (c == '\\') {
					c = cp_get(cp);
					if (c < 0 || c == '\n')
						return -1;
				}
				buf_addch(sec, c);
			}
			return cp_get(cp) == ']' ? 0 : -1;
		}
		if (c == '.') {
			buf_addch(sec, '.');
			continue;
		}
		if (c < 0 || !is_keychar(c))
			return -1;
		buf_addch(sec, lower(c));
	}
	return sec->len ? 0 : -1;
}

/* The value after '=', up to the end of the (continued) line. */
static int parse_value(struct cfg_parser *cp, struct buf *v)
{
	int quote = 0, space = 0, c;

	buf_reset(v);
	/* leading whitespace is skipped */
	while ((c = cp_peek(cp)) == ' ' || c == '\t')
		cp_get(cp);
	for (;;) {
		c = cp_get(cp);
		if (c < 0 || c == '\n') {
			if (quote)
				return -1;
			break;
		}
		if (!quote && (c == ';' || c == '#')) {
			while ((c = cp_get(cp)) >= 0 && c != '\n')
				;
			break;
		}
		if (!quote && (c == ' ' || c == '\t')) {
			space++;
			continue;
		}
		if (c == '\r' && cp_peek(cp) == '\n')
			continue;
		if (space) {
			/* internal whitespace is kept, trailing is not */
			if (v->len)
				while (space--)
					buf_addch(v, ' ');
			space = 0;
		}
		if (c == '\\') {
			c = cp_get(cp);
			switch (c) {
			case '\n':
				continue;
			case 't':
				c = '\t';
				break;
			case 'b':
				c = '\b';
				break;
			case 'n':
				c = '\n';
				break;
			case '\\':
			case '"':
				break;
			default:
				return -1;
			}
			buf_addch(v, c);
			continue;
		}
		if (c == '"') {
			quote = !quote;
			continue;
		}
		buf_addch(v, c);
	}
	return 0;
}

static int cfg_parse(struct cfg *c, const char *path, const char *text,
		     size_t len)
{
	struct cfg_parser cp = { text, text + len, path, 1 };
	struct buf sec = BUF_INIT, name = BUF_INIT, val = BUF_INIT;
	int ret = 0, ch;

	/* a UTF-8 BOM is skipped, as git does */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		cp.p += 3;
	while ((ch = cp_get(&cp)) >= 0) {
		int has_value = 0;

		if (ch == '\n' || ch == ' ' || ch == '\t' || ch == '\r')
			continue;
		if (ch == '#' || ch == ';') {
			while ((ch = cp_get(&cp)) >= 0 && ch != '\n')
				;
			continue;
		}
		if (ch == '[') {
			if (parse_section(&cp, &sec)) {
				ret = cfg_corrupt(&cp);
				goto out;
			}
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) ||
		    !sec.len) {
			ret = cfg_corrupt(&cp);
			goto out;
		}
		buf_reset(&name);
		buf_addch(&name, lower(ch));
		while ((ch = cp_peek(&cp)) >= 0 && is_keychar(ch)) {
			buf_addch(&name, lower(ch));
			cp_get(&cp);
		}
		while ((ch = cp_peek(&cp)) == ' ' || ch == '\t')
			cp_get(&cp);
		if (ch == '=') {
			cp_get(&cp);
			has_value = 1;
			if (parse_value(&cp, &val)) {
				ret = cfg_corrupt(&cp);
				goto out;
			}
		} else if (ch == '\n' || ch < 0 || ch == '#' || ch == ';' ||
			   ch == '\r') {
			while ((ch = cp_get(&cp)) >= 0 && ch != '\n')
				;
		} else {
			ret = cfg_corrupt(&cp);
			goto out;
		}
		ALLOC_GROW(c->e, c->nr + 1, c->alloc);
		c->e[c->nr].key = xstrfmt("%s.%s", sec.data, name.data);
		c->e[c->nr].value = has_value ? xstrdup(val.data) : NULL;
		c->nr++;
	}
out:
	buf_release(&sec);
	buf_release(&name);
	buf_release(&val);
	return ret;
}

static int cfg_read_file(struct cfg *c, const char *path)
{
	struct buf b = BUF_INIT;
	int ret;

	if (buf_read_file(&b, path)) {
		buf_release(&b);
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return err_errno("cannot read '%s'", path);
	}
	ret = cfg_parse(c, path, b.data, b.len);
	buf_release(&b);
	return ret;
}

/*
 * "Section.Sub.Name" to the canonical form: section and name lower
 * case, the subsection (between the first and last dot) as is.
 */
static char *canon_key(const char *key)
{
	const char *first = strchr(key, '.'), *last = strrchr(key, '.');
	char *k;

	if (!first || first == key || !last[1])
		return NULL;
	k = xstrdup(key);
	for (char *p = k; p <= k + (first - key); p++)
		*p = (char)lower((unsigned char)*p);
	for (char *p = k + (last - key); *p; p++)
		*p = (char)lower((unsigned char)*p);
	return k;
}

/* The files `git --git-dir=R config --get` reads, lowest first. */
static int cfg_load_all(struct cfg *c, const char *repo_path)
{
	const char *e;
	char *p;
	int ret;

	if (!getenv("GIT_CONFIG_NOSYSTEM") ||
	    !strcmp(getenv("GIT_CONFIG_NOSYSTEM"), "0") ||
	    !strcmp(getenv("GIT_CONFIG_NOSYSTEM"), "false")) {
		e = getenv("GIT_CONFIG_SYSTEM");
		if ((ret = cfg_read_file(c, e ? e : "/etc/gitconfig")))
			return ret;
	}
	if ((e = getenv("GIT_CONFIG_GLOBAL"))) {
		if ((ret = cfg_read_file(c, e)))
			return ret;
	} else {
		const char *home = getenv("HOME");
		const char *xdg = getenv("XDG_CONFIG_HOME");

		if (xdg && *xdg)
			p = xstrfmt("%s/git/config", xdg);
		else if (home)
			p = xstrfmt("%s/.config/git/config", home);
		else
			p = NULL;
		if (p) {
			ret = cfg_read_file(c, p);
			free(p);
			if (ret)
				return ret;
		}
		if (home) {
			p = xstrfmt("%s/.gitconfig", home);
			ret = cfg_read_file(c, p);
			free(p);
			if (ret)
				return ret;
		}
	}
	if (repo_path) {
		p = join(repo_path, "config");
		ret = cfg_read_file(c, p);
		free(p);
		if (ret)
			return ret;
	}
	return 0;
}

static int cfg_lookup(const char *repo_path, const char *key, char **value)
{
	struct cfg c = { 0 };
	char *k = canon_key(key);
	int ret, found = 0;

	*value = NULL;
	if (!k)
		return err_set(ERR_USAGE, "invalid config key '%s'", key);
	ret = cfg_load_all(&c, repo_path);
	if (!ret) {
		for (size_t i = 0; i < c.nr; i++) {
			if (strcmp(c.e[i].key, k))
				continue;
			free(*value);
			/* a bare `name` reads back as "true" */
			*value = xstrdup(c.e[i].value ? c.e[i].value : "true");
			found = 1;
		}
		if (!found)
			ret = err_set(ERR_NOTFOUND, "config key '%s' not set",
				      key);
	}
	free(k);
	cfg_release(&c);
	return ret;
}

int repo_config_get(struct repo *r, const char *key, char **value)
{
	return cfg_lookup(r ? r->path : NULL, key, value);
}

/* git_parse_signed(): decimal with an optional k/m/g suffix (x1024). */
static int parse_git_int(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mult = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno)
		return -1;
	if (*end) {
		switch (lower((unsigned char)*end)) {
		case 'k':
			mult = 1024;
			break;
		case 'm':
			mult = 1024 * 1024;
			break;
		case 'g':
			mult = 1024 * 1024 * 1024;
			break;
		default:
			return -1;
		}
		if (end[1])
			return -1;
	}
	if (v > INT64_MAX / mult || v < INT64_MIN / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int repo_config_get_int(struct repo *r, const char *key, int64_t *value)
{
	char *v;
	int ret = repo_config_get(r, key, &v);

	if (ret)
		return ret;
	if (parse_git_int(v, value))
		ret = err_set(ERR_CORRUPT, "bad numeric config value '%s' "
			      "for '%s'", v, key);
	free(v);
	return ret;
}

/* ---- config: writing -------------------------------------------- */

/* git's write_pair() quoting of a value. */
static void quote_value(struct buf *b, const char *v)
{
	int q = 0;

	if (*v == ' ' || (*v && v[strlen(v) - 1] == ' '))
		q = 1;
	for (const char *p = v; *p && !q; p++)
		if (*p == ';' || *p == '#')
			q = 1;
	if (q)
		buf_addch(b, '"');
	for (const char *p = v; *p; p++) {
		switch (*p) {
		case '\n':
			buf_addstr(b, "\\n");
			break;
		case '\t':
			buf_addstr(b, "\\t");
			break;
		case '"':
		case '\\':
			buf_addch(b, '\\');
			/* fall through */
		default:
			buf_addch(b, *p);
		}
	}
	if (q)
		buf_addch(b, '"');
}

/* Write path through path.lock (O_EXCL), fsync, rename. */
static int write_locked(const char *path, const void *data, size_t len,
			mode_t mode)
{
	char *lock = xstrfmt("%s.lock", path);
	int fd, ret = 0;

	fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			ret = err_set(ERR_LOCKED, "could not lock config file "
				      "%s: File exists", path);
		else
			ret = err_errno("could not lock config file %s", path);
		free(lock);
		return ret;
	}
	if (write_full(fd, data, len) || fsync(fd)) {
		ret = err_errno("cannot write '%s'", lock);
		close(fd);
		unlink(lock);
	} else if (close(fd) || rename(lock, path)) {
		ret = err_errno("cannot write '%s'", path);
		unlink(lock);
	}
	free(lock);
	return ret;
}

/*
 * Set key in the config file at path (git config --file path key value):
 * replace the last existing assignment, else append to the last
 * matching section, else add the section at the end.
 */
static int cfg_set_file(const char *path, const char *key,
			const char *value)
{
	struct buf in = BUF_INIT, out = BUF_INIT, line = BUF_INIT;
	char *k = canon_key(key);
	const char *dot1, *dot2;
	struct cfg c = { 0 };
	size_t last_var_end = SIZE_MAX, sec_end = SIZE_MAX;
	struct buf sec = BUF_INIT;
	int ret = 0;

	if (!k)
		return err_set(ERR_USAGE, "invalid config key '%s'", key);
	if (buf_read_file(&in, path) && errno != ENOENT) {
		ret = err_errno("cannot read '%s'", path);
		goto out;
	}
	/* Validate the whole file first: never rewrite a broken one. */
	if ((ret = cfg_parse(&c, path, in.data, in.len)))
		goto out;
	/*
	 * Walk the file line by line tracking the current section (a
	 * simple scan is enough for the files git and cbup write; lines
	 * continued with '\' are treated as part of the variable line).
	 */
	{
		const char *p = in.data, *end = in.data + in.len;
		struct buf cur = BUF_INIT;
		char *ksec = xstrndup(k, (size_t)(strrchr(k, '.') - k));
		const char *kname = strrchr(k, '.') + 1;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl + 1 : end;
			const char *s = p;

			while (s < le && (*s == ' ' || *s == '\t'))
				s++;
			if (s < le && *s == '[') {
				struct cfg_parser cp = { s + 1, le, path, 0 };
				if (!parse_section(&cp, &cur) &&
				    !strcmp(cur.data, ksec))
					sec_end = (size_t)(le - in.data);
			} else if (cur.len && !strcmp(cur.data, ksec)) {
				size_t n = 0;
				while (s + n < le && is_keychar(
					       (unsigned char)s[n]))
					n++;
				if (n == strlen(kname) &&
				    !strncasecmp(s, kname, n) &&
				    (s + n == le || !is_keychar(
					    (unsigned char)s[n]))) {
					/* replace this line */
					last_var_end = (size_t)(le - in.data);
					buf_reset(&line);
					buf_add(&line, in.data,
						(size_t)(p - in.data));
				}
				if (s < le && *s != '#' && *s != ';' &&
				    *s != '\n')
					sec_end = (size_t)(le - in.data);
			}
			p = le;
		}
		buf_release(&cur);
		free(ksec);
	}
	dot1 = strchr(key, '.');
	dot2 = strrchr(key, '.');
	if (last_var_end != SIZE_MAX) {
		/* line holds everything before the replaced line */
		buf_add(&out, line.data, line.len);
		buf_addf(&out, "\t%s = ", dot2 + 1);
		quote_value(&out, value);
		buf_addch(&out, '\n');
		buf_add(&out, in.data + last_var_end, in.len - last_var_end);
	} else if (sec_end != SIZE_MAX) {
		buf_add(&out, in.data, sec_end);
		if (sec_end && in.data[sec_end - 1] != '\n')
			buf_addch(&out, '\n');
		buf_addf(&out, "\t%s = ", dot2 + 1);
		quote_value(&out, value);
		buf_addch(&out, '\n');
		buf_add(&out, in.data + sec_end, in.len - sec_end);
	} else {
		buf_add(&out, in.data, in.len);
		if (in.len && in.data[in.len - 1] != '\n')
			buf_addch(&out, '\n');
		buf_addch(&out, '[');
		for (const char *p = key; p < dot1; p++)
			buf_addch(&out, lower((unsigned char)*p));
		if (dot1 != dot2) {
			buf_addstr(&out, " \"");
			for (const char *p = dot1 + 1; p < dot2; p++) {
				if (*p == '"' || *p == '\\')
					buf_addch(&out, '\\');
				buf_addch(&out, *p);
			}
			buf_addch(&out, '"');
		}
		buf_addf(&out, "]\n\t%s = ", dot2 + 1);
		quote_value(&out, value);
		buf_addch(&out, '\n');
	}
	ret = write_locked(path, out.data, out.len, 0666);
out:
	free(k);
	cfg_release(&c);
	buf_release(&in);
	buf_release(&out);
	buf_release(&line);
	buf_release(&sec);
	return ret;
}

int repo_config_set(struct repo *r, const char *key, const char *value)
{
	char *path = join(r->path, "config");
	int ret = cfg_set_file(path, key, value);
	free(path);
	return ret;
}

void repo_compression(struct repo *r, int cmdline_level,
		      enum zlib_impl *impl, int *level)
{
	char *v = NULL;
	int64_t n;

	*impl = ZLIB_IMPL_LIBDEFLATE;
	if (!repo_config_get(r, "cbup.compressor", &v) && v &&
	    !strcasecmp(v, "zlib"))
		*impl = ZLIB_IMPL_ZLIB;
	free(v);
	if (cmdline_level >= 0) {
		*level = cmdline_level;
		return;
	}
	*level = 1;
	if (!repo_config_get_int(r, "pack.compression", &n) ||
	    !repo_config_get_int(r, "core.compression", &n)) {
		/* git: -1 is zlib's default level */
		if (n == -1)
			*level = 6;
		else if (n >= 0 && n <= 9)
			*level = (int)n;
	}
	err_clear();
}

/* ---- init -------------------------------------------------------- */

/* Copy the template tree src into dst, never overwriting (git's
 * copy_templates_1). */
static int copy_templates(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return 0;   /* no templates: git warns only if asked */
	while (!ret && (de = readdir(d))) {
		char *s, *t;
		struct stat st, tst;

		if (de->d_name[0] == '.')
			continue;  /* git skips dotfiles in templates */
		s = join(src, de->d_name);
		t = join(dst, de->d_name);
		if (lstat(s, &st)) {
			/* vanished: ignore */
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdir(t, 0777) && errno != EEXIST)
				ret = err_errno("cannot mkdir '%s'", t);
			else
				ret = copy_templates(s, t);
		} else if (!lstat(t, &tst)) {
			/* exists: keep it */
		} else if (S_ISLNK(st.st_mode)) {
			char l[PATH_MAX];
			ssize_t n = readlink(s, l, sizeof(l) - 1);
			if (n >= 0) {
				l[n] = '\0';
				if (symlink(l, t))
					ret = err_errno("cannot create '%s'", t);
			}
		} else if (S_ISREG(st.st_mode)) {
			struct buf b = BUF_INIT;
			int fd;
			if (buf_read_file(&b, s)) {
				ret = err_errno("cannot read '%s'", s);
			} else if ((fd = open(t, O_WRONLY | O_CREAT | O_EXCL,
					      st.st_mode & 0777)) < 0) {
				ret = err_errno("cannot create '%s'", t);
			} else {
				if (write_full(fd, b.data, b.len))
					ret = err_errno("cannot write '%s'", t);
				if (close(fd) && !ret)
					ret = err_errno("cannot write '%s'", t);
			}
			buf_release(&b);
		}
		free(s);
		free(t);
	}
	closedir(d);
	return ret;
}

static int mkdir_p1(const char *dir, const char *sub)
{
	char *p = join(dir, sub);
	int ret = 0;

	if (mkdir(p, 0777) && errno != EEXIST)
		ret = err_errno("cannot mkdir '%s'", p);
	free(p);
	return ret;
}

static int write_new_file(const char *dir, const char *name,
			  const char *text)
{
	char *p = join(dir, name);
	int fd, ret = 0;

	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (fd < 0) {
		if (errno != EEXIST)
			ret = err_errno("cannot create '%s'", p);
	} else {
		if (write_full(fd, text, strlen(text)))
			ret = err_errno("cannot write '%s'", p);
		if (close(fd) && !ret)
			ret = err_errno("cannot write '%s'", p);
	}
	free(p);
	return ret;
}

/* Python's os.path.dirname(): the head of pypath_split(). */
static char *py_dirname(const char *p)
{
	size_t head, tail;

	pypath_split(p, strlen(p), &head, &tail);
	return xstrndup(p, head);
}

/* git's probe: does chmod +x stick on this filesystem? */
static int probe_filemode(const char *path)
{
	struct stat st1, st2;
	int ok;

	if (lstat(path, &st1))
		return 1;
	if (chmod(path, (st1.st_mode ^ S_IXUSR) & 07777))
		return 0;
	ok = !lstat(path, &st2) && st1.st_mode != st2.st_mode;
	chmod(path, st1.st_mode & 07777);
	return ok;
}

int repo_init_ex(const char *path, struct repo_init_info *info)
{
	char *d = repo_effective_path(path);
	char *tdir = NULL, *branch = NULL, *cfgpath = NULL, *head = NULL;
	struct stat st;
	int ret = 0;

	memset(info, 0, sizeof(*info));
	{
		/* bup: os.path.dirname(os.path.dirname(repo() + '/')) */
		char *parent = py_dirname(d);
		int missing = *parent && !path_exists(parent);
		if (missing)
			ret = err_set(ERR_NOTFOUND, "parent directory \"%s\" "
				      "does not exist", parent);
		free(parent);
		if (missing)
			goto out;
	}
	if (!stat(d, &st) && !S_ISDIR(st.st_mode)) {
		ret = err_set(ERR_EXISTS, "\"%s/\" exists but is not a "
			      "directory", d);
		goto out;
	}
	/* bup checks that the parent exists; git then makes only d. */
	if (mkdir(d, 0777) && errno != EEXIST) {
		ret = err_errno("cannot mkdir '%s'", d);
		goto out;
	}
	head = join(d, "HEAD");
	info->reinit = path_exists(head);

	/*
	 * Templates: $GIT_TEMPLATE_DIR, init.templateDir, git's default.
	 * bup leaves this to the `git init` it runs, which reads its own
	 * environment: this code stands in for that git, so it does too.
	 */
	if (getenv("GIT_TEMPLATE_DIR"))
		tdir = xstrdup(getenv("GIT_TEMPLATE_DIR"));
	else if (cfg_lookup(NULL, "init.templateDir", &tdir))
		tdir = xstrdup("/usr/share/git-core/templates");
	if (*tdir && (ret = copy_templates(tdir, d)))
		goto out;

	if ((ret = mkdir_p1(d, "refs")) || (ret = mkdir_p1(d, "refs/heads")) ||
	    (ret = mkdir_p1(d, "refs/tags")) ||
	    (ret = mkdir_p1(d, "objects")) ||
	    (ret = mkdir_p1(d, "objects/info")) ||
	    (ret = mkdir_p1(d, "objects/pack")))
		goto out;

	if (!info->reinit) {
		char *h;
		if (cfg_lookup(NULL, "init.defaultBranch", &branch)) {
			char *adv = NULL;
			branch = xstrdup("master");
			info->advise_branch = 1;
			if (!cfg_lookup(NULL, "advice.defaultBranchName",
					&adv) &&
			    (!strcasecmp(adv, "false") ||
			     !strcasecmp(adv, "no") ||
			     !strcasecmp(adv, "off") || !strcmp(adv, "0")))
				info->advise_branch = 0;
			free(adv);
		}
		h = xstrfmt("ref: refs/heads/%s\n", branch);
		ret = write_new_file(d, "HEAD", h);
		free(h);
		if (ret)
			goto out;
	}

	cfgpath = join(d, "config");
	if (!path_exists(cfgpath)) {
		/*
		 * What git --bare init writes, then bup's
		 * `git config pack.indexVersion 2` (a new section) and
		 * `git config core.logAllRefUpdates true` (appended to
		 * [core]): FORMAT.md 1.2.
		 */
		struct buf b = BUF_INIT;
		buf_addstr(&b, "[core]\n\trepositoryformatversion = 0\n");
		if ((ret = write_new_file(d, "config", b.data)))
			goto out;
		buf_addf(&b, "\tfilemode = %s\n",
			 probe_filemode(cfgpath) ? "true" : "false");
		buf_addstr(&b, "\tbare = true\n\tlogAllRefUpdates = true\n"
			   "[pack]\n\tindexVersion = 2\n");
		ret = write_locked(cfgpath, b.data, b.len, 0666);
		if (ret) {
			unlink(cfgpath);
			buf_release(&b);
			goto out;
		}
		buf_release(&b);
	} else {
		/* Re-init: git keeps the file, bup's two keys are set. */
		if ((ret = cfg_set_file(cfgpath, "pack.indexVersion", "2")) ||
		    (ret = cfg_set_file(cfgpath, "core.logAllRefUpdates",
					"true")))
			goto out;
	}
	{
		char *real = realpath(d, NULL);
		if (!real)
			real = xstrdup(d);
		info->git_dir = xstrfmt("%s%s", real,
					real[strlen(real) - 1] == '/' ? "" : "/");
		free(real);
	}
out:
	free(d);
	free(tdir);
	free(branch);
	free(cfgpath);
	free(head);
	return ret;
}

int repo_init(const char *path)
{
	struct repo_init_info info;
	int ret = repo_init_ex(path, &info);
	free(info.git_dir);
	return ret;
}
