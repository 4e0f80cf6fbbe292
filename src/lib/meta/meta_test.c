/*
 * Tests for meta.c: the encodings of t/vectors/README.md 4 and 5 (every
 * record of every .bupm of tv-save.txt decoded and re-encoded byte for
 * byte, acl-example.txt), hostile input, and from_path()/apply()
 * compared with real bup (python3 + /usr/lib/bup) on files made here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "meta/meta.h"
#include "util/vint.h"
#include "platform/acl.h"

#define BUP_PYTHON "/usr/bin/python3"
#define BUP_LIB "/usr/lib/bup"

static void unhex_buf(struct buf *out, const char *hex)
{
	buf_reset(out);
	while (hex[0] && hex[1]) {
		unsigned v;
		if (sscanf(hex, "%2x", &v) != 1)
			break;
		buf_addch(out, (char)v);
		hex += 2;
	}
}

static void hex_buf(struct buf *out, const void *p, size_t n)
{
	const unsigned char *b = p;
	buf_reset(out);
	for (size_t i = 0; i < n; i++)
		buf_addf(out, "%02x", b[i]);
}

UNIT_TEST(meta, common_record_example)
{
	/* t/vectors/README.md 4. */
	static const char want_hex[] =
		"0a2da48604a80f05616c696365a80f0575736572730080c49fd50c959a"
		"ef3a80c49fd50c959aef3a81c49fd50c050d";
	struct meta m, back;
	struct buf want = BUF_INIT, got = BUF_INIT;
	size_t used = 0;

	meta_init(&m);
	meta_init(&back);
	m.mode = 0100644;
	m.uid = 1000;
	buf_addstr(&m.user, "alice");
	m.gid = 1000;
	buf_addstr(&m.group, "users");
	m.atime.sec = m.mtime.sec = 1700000000;
	m.atime.nsec = m.mtime.nsec = 123456789;
	m.ctime.sec = 1700000001;
	m.ctime.nsec = 5;
	m.size = 13;
	meta_encode(&got, &m, 1);
	unhex_buf(&want, want_hex);
	buf_addch(&want, 0);   /* end record */
	CHECK(got.len == want.len);
	CHECK_MEM(got.data, want.data, want.len);

	CHECK(!meta_decode(&back, want.data, want.len, &used));
	CHECK(used == want.len);
	CHECK(back.mode == 0100644 && back.uid == 1000 && back.gid == 1000);
	CHECK(!strcmp(back.user.data, "alice"));
	CHECK(!strcmp(back.group.data, "users"));
	CHECK(back.atime.sec == 1700000000 && back.atime.nsec == 123456789);
	CHECK(back.ctime.sec == 1700000001 && back.ctime.nsec == 5);
	CHECK(back.size == 13 && back.rdev == 0);
	CHECK(meta_same_file(&m, &back));

	/* Empty metadata is the single byte 00, both ways. */
	meta_reset(&m);
	CHECK(meta_is_empty(&m));
	buf_reset(&got);
	meta_encode(&got, &m, 1);
	CHECK(got.len == 1 && got.data[0] == 0);
	CHECK(!meta_decode(&back, got.data, 1, &used) && used == 1);
	CHECK(meta_is_empty(&back));

	meta_release(&m);
	meta_release(&back);
	buf_release(&want);
	buf_release(&got);
}

/* Pull "'key': NUMBER" (or '0o...' octal) out of a decoded dict line. */
static int dict_num(const char *line, const char *key, long long *out)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "'%s': ", key);
	p = strstr(line, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	if (!strncmp(p, "'0o", 3)) {
		*out = strtoll(p + 3, NULL, 8);
		return 0;
	}
	*out = strtoll(p, NULL, 10);
	return 0;
}

/* Check one "('common_v3', {...})" line against a decoded object. */
static void check_common_line(const char *line, const struct meta *m)
{
	static const char *keys[] = {
		"mode", "uid", "gid", "rdev", "atime_s", "atime_ns",
		"mtime_s", "mtime_ns", "ctime_s", "ctime_ns", "size",
	};
	long long have[ARRAY_SIZE(keys)] = {
		m->mode, m->uid, m->gid, m->rdev, m->atime.sec, m->atime.nsec,
		m->mtime.sec, m->mtime.nsec, m->ctime.sec, m->ctime.nsec,
		m->size,
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		long long want = 0;
		CHECK(!dict_num(line, keys[i], &want));
		if (have[i] != want)
			unit_fail(__FILE__, __LINE__, "%s: got %lld want %lld",
				  keys[i], have[i], want);
	}
	CHECK(strstr(line, "'user': b'root'") && !strcmp(m->user.data, "root"));
}

/*
 * Walk a text file of "hex: " stream lines followed by "record N @off
 * len L: hex" lines and decoded tuples; decode every stream, compare
 * each record's bytes, re-encode the whole stream byte-identically and
 * check the decoded fields.  Returns the number of objects seen.
 */
static int check_stream_file(const char *rel, struct meta *all, int max_all)
{
	FILE *f = fopen(unit_vector(rel), "r");
	struct buf stream = BUF_INIT, rec = BUF_INIT, re = BUF_INIT;
	struct meta_reader rd;
	struct meta m;
	char *line = NULL;
	size_t cap = 0;
	int objects = 0, streams = 0, have_stream = 0, nall = 0;

	CHECK(f != NULL);
	if (!f)
		return 0;
	meta_init(&m);
	while (getline(&line, &cap, f) > 0) {
		char *p;

		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "hex: ", 5)) {
			/* Close the previous stream: everything consumed? */
			if (have_stream)
				CHECK(meta_reader_next(&rd, &m) == 0);
			unhex_buf(&stream, line + 5);
			meta_reader_init(&rd, stream.data, stream.len);
			have_stream = 1;
			streams++;

			/* The whole stream re-encodes to itself. */
			{
				struct meta_reader r2;
				buf_reset(&re);
				meta_reader_init(&r2, stream.data, stream.len);
				while (meta_reader_next(&r2, &m) == 1)
					meta_encode(&re, &m, 0);
				CHECK(r2.off == stream.len);
				CHECK(re.len == stream.len);
				CHECK_MEM(re.data, stream.data, stream.len);
			}
		} else if ((p = strstr(line, "record ")) && strstr(line, " @") &&
			   have_stream) {
			size_t off = rd.off;
			long long want_off = strtoll(strchr(line, '@') + 1,
						     NULL, 10);

			CHECK(meta_reader_next(&rd, &m) == 1);
			CHECK((long long)off == want_off);
			unhex_buf(&rec, strstr(line, ": ") + 2);
			CHECK(rd.off - off == rec.len);
			CHECK_MEM(stream.data + off, rec.data, rec.len);
			buf_reset(&re);
			meta_encode(&re, &m, 0);
			CHECK(re.len == rec.len);
			CHECK_MEM(re.data, rec.data, rec.len);
			if (all && nall < max_all)
				meta_copy(&all[nall++], &m);
			objects++;
		} else if (strstr(line, "('common_v3', {") && objects) {
			check_common_line(line, &m);
		} else if (strstr(line, "('linux_attr', '0x")) {
			CHECK(m.linux_attr ==
			      strtoull(strstr(line, "0x") + 2, NULL, 16));
		} else if ((p = strstr(line, "('symlink_target', b'"))) {
			p += strlen("('symlink_target', b'");
			CHECK(m.symlink_target.len == strcspn(p, "'"));
			CHECK(!strncmp(m.symlink_target.data, p,
				       m.symlink_target.len));
		} else if ((p = strstr(line, "('hardlink_target', b'"))) {
			p += strlen("('hardlink_target', b'");
			CHECK(m.hardlink_target.len == strcspn(p, "'"));
			CHECK(!strncmp(m.hardlink_target.data, p,
				       m.hardlink_target.len));
		} else if ((p = strstr(line, "('posix1e_acl_v2', [b'"))) {
			/* Four b'...' strings separated by ", ". */
			p += strlen("('posix1e_acl_v2', [");
			CHECK(m.has_acl);
			for (int i = 0; i < 4 && p; i++) {
				size_t n;
				CHECK(p[0] == 'b' && p[1] == '\'');
				p += 2;
				n = strcspn(p, "'");
				CHECK(m.acl[i].len == n);
				CHECK(!strncmp(m.acl[i].data, p, n));
				p = strstr(p + n, ", b'");
				if (p)
					p += 2;
			}
		} else if ((p = strstr(line, "('linux_xattr', [(b'"))) {
			/* Names only: values may hold escapes. */
			size_t i = 0;
			while ((p = strstr(p, "(b'"))) {
				size_t n;
				p += 3;
				n = strcspn(p, "'");
				CHECK(i < m.nr_xattrs);
				if (i < m.nr_xattrs) {
					CHECK(m.xattrs[i].name.len == n);
					CHECK(!strncmp(m.xattrs[i].name.data,
						       p, n));
				}
				i++;
			}
			CHECK(i == m.nr_xattrs);
		}
	}
	if (have_stream)
		CHECK(meta_reader_next(&rd, &m) == 0);
	CHECK(streams > 0);
	free(line);
	fclose(f);
	meta_release(&m);
	buf_release(&stream);
	buf_release(&rec);
	buf_release(&re);
	return objects;
}

UNIT_TEST(meta, tv_save_bupm_round_trip)
{
	/* 6 .bupm files: 1 + 1 + 18 (/tv/data) + 2 + 2 + 1 objects. */
	CHECK(check_stream_file("save/tv-save.txt", NULL, 0) == 25);
}

UNIT_TEST(meta, acl_example_round_trip)
{
	CHECK(check_stream_file("metadata/acl-example.txt", NULL, 0) == 3);
}

UNIT_TEST(meta, bupm_build_orders_by_unmangled_name)
{
	/*
	 * The /tv/data .bupm: rebuild it from its decoded objects given
	 * in git (mangled) order; the builder must sort them back.
	 */
	static const char *names[] = {
		"big", "big-x", "big.txt", "chardev", "empty", "exe.sh",
		"fifo", "foo-bar", "foo.txt", "h1", "h2", "hello.txt",
		"link", "sock", "x.bupl", "y.bup", "z.bup",
	};
	/* Tree order: .bupm big-x big.bup big.txt chardev ... z.bup.bup */
	static const int git_order[] = {
		1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};
	struct meta all[64];
	struct meta_bupm_entry e[ARRAY_SIZE(names)];
	FILE *f = fopen(unit_vector("save/tv-save.txt"), "r");
	struct buf want = BUF_INIT, got = BUF_INIT;
	char *line = NULL;
	size_t cap = 0;
	int n, dir_at = -1;

	for (int i = 0; i < 64; i++)
		meta_init(&all[i]);
	n = check_stream_file("save/tv-save.txt", all, 64);
	/* Find the stream of /tv/data/ and its first object's index. */
	CHECK(f != NULL);
	if (!f)
		goto out;
	{
		int idx = 0, in_data = 0;
		while (getline(&line, &cap, f) > 0) {
			if (strstr(line, "## .bupm of /tv/data/  ")) {
				in_data = 1;
				continue;
			}
			if (!strncmp(line, "## ", 3))
				in_data = 0;
			if (in_data && !strncmp(line, "hex: ", 5)) {
				line[strcspn(line, "\n")] = '\0';
				unhex_buf(&want, line + 5);
				dir_at = idx;
			}
			if (strstr(line, "    record ") && strstr(line, " @"))
				idx++;
		}
		fclose(f);
	}
	CHECK(dir_at >= 0 && dir_at + 18 <= n);
	if (dir_at < 0 || dir_at + 18 > n)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int k = git_order[i];
		e[i].name = names[k];
		e[i].meta = &all[dir_at + 1 + k];
	}
	meta_bupm_build(&got, &all[dir_at], e, ARRAY_SIZE(e));
	CHECK(got.len == want.len);
	CHECK_MEM(got.data, want.data, want.len);
	CHECK(!strcmp(e[0].name, "big") && !strcmp(e[1].name, "big-x"));

	/* A synthetic directory: empty object first. */
	buf_reset(&got);
	meta_bupm_build(&got, NULL, NULL, 0);
	CHECK(got.len == 1 && got.data[0] == 0);
out:
	free(line);
	for (int i = 0; i < 64; i++)
		meta_release(&all[i]);
	buf_release(&want);
	buf_release(&got);
}

/* Appends one record: its tag, then its payload as a bvec. */
static void put_rec(struct buf *b, unsigned tag, const struct buf *payload)
{
	vint_put_vuint(b, tag);
	vint_put_bvec(b, payload->data, payload->len);
}

/* Appends a v1 ACL record (tag 4) with an empty default pair. */
static void put_acl_v1(struct buf *b, const char *text, const char *numeric)
{
	struct buf p = BUF_INIT;

	vint_put_bvec(&p, text, strlen(text));
	vint_put_bvec(&p, numeric, strlen(numeric));
	vint_put_bvec(&p, "", 0);
	vint_put_bvec(&p, "", 0);
	put_rec(b, META_TAG_POSIX1E_ACL_V1, &p);
	buf_release(&p);
}

UNIT_TEST(meta, legacy_and_unknown_records)
{
	struct buf b = BUF_INIT, p = BUF_INIT, re = BUF_INIT;
	struct meta m;
	size_t used;

	meta_init(&m);
	/* Unknown tag 42 and NFSv4 tag 5 are skipped. */
	vint_put_vuint(&b, 42);
	vint_put_bvec(&b, "junk", 4);
	vint_put_vuint(&b, 5);
	vint_put_bvec(&b, "", 0);
	/* common v1: VVsVsVvVvVvV */
	vint_put_vuint(&p, 0100600);
	vint_put_vuint(&p, 7);
	vint_put_bvec(&p, "u", 1);
	vint_put_vuint(&p, 8);
	vint_put_bvec(&p, "g", 1);
	vint_put_vint(&p, 0);
	vint_put_vint(&p, -2);
	vint_put_vuint(&p, 500000000);
	vint_put_vint(&p, 10);
	vint_put_vuint(&p, 1500000000);  /* folded: 11.5 s */
	vint_put_vint(&p, 12);
	vint_put_vuint(&p, 0);
	put_rec(&b, META_TAG_COMMON_V1, &p);
	/* ACL v1 with newline separators. */
	put_acl_v1(&b, "u::rw-\ng::r--\no::r--", "u::rw-\ng::r--\no::r--");
	vint_put_vuint(&b, 0);

	CHECK(!meta_decode(&m, b.data, b.len, &used));
	CHECK(used == b.len);
	CHECK(m.mode == 0100600 && m.uid == 7 && m.gid == 8);
	CHECK(m.atime.sec == -2 && m.atime.nsec == 500000000);
	CHECK(m.mtime.sec == 11 && m.mtime.nsec == 500000000);
	CHECK(m.size == -1);   /* v1 has no size */
	CHECK(m.has_acl && !strcmp(m.acl[0].data, "u::rw-,g::r--,o::r--"));

	/* Re-encoding writes the current record versions. */
	meta_encode(&re, &m, 0);
	CHECK(re.data[0] == META_TAG_COMMON_V3);
	CHECK(!meta_decode(&m, re.data, re.len, &used) && used == re.len);
	CHECK(m.mtime.sec == 11 && m.has_acl);

	/* A v1 ACL that already holds a comma is dropped, as bup does. */
	buf_reset(&b);
	put_acl_v1(&b, "u::rw-,g::r--", "x");
	vint_put_vuint(&b, 0);
	CHECK(!meta_decode(&m, b.data, b.len, &used));
	CHECK(!m.has_acl);

	meta_release(&m);
	buf_release(&b);
	buf_release(&p);
	buf_release(&re);
}

UNIT_TEST(meta, rejects_malformed)
{
	struct buf b = BUF_INIT, p = BUF_INIT;
	struct meta m;
	size_t used;

	meta_init(&m);
	/* Every proper prefix of a real record is truncated. */
	unhex_buf(&b, "0a2cbf87050004726f6f740004726f6f7400a49dafb00db3953780c4"
		      "9fd50c80cab5ee01a39dafb00de6d8db1e09030968656c6c6f2e7478"
		      "7400");
	CHECK(!meta_decode(&m, b.data, b.len, &used) && used == b.len);
	CHECK(!strcmp(m.symlink_target.data, "hello.txt") && m.size == 9);
	for (size_t k = 0; k < b.len; k++)
		CHECK(meta_decode(&m, b.data, k, &used) == ERR_CORRUPT);

	/* Symlink target length contradicting the size: bup asserts. */
	b.data[b.len - 2] = 'X';  /* still 9 bytes: fine */
	CHECK(!meta_decode(&m, b.data, b.len, &used));
	buf_setlen(&b, b.len - 12);  /* cut after the common record */
	vint_put_vuint(&b, META_TAG_SYMLINK_TARGET);
	vint_put_bvec(&b, "abc", 3);
	vint_put_vuint(&b, 0);
	CHECK(meta_decode(&m, b.data, b.len, &used) == ERR_CORRUPT);

	/* A common record missing its last field. */
	buf_reset(&b);
	vint_put_vuint(&p, 0100644);
	put_rec(&b, META_TAG_COMMON_V3, &p);
	vint_put_vuint(&b, 0);
	CHECK(meta_decode(&m, b.data, b.len, &used) == ERR_CORRUPT);

	/* An xattr count larger than the record can hold. */
	buf_reset(&b);
	buf_reset(&p);
	vint_put_vuint(&p, 1000000);
	vint_put_bvec(&p, "a", 1);
	vint_put_bvec(&p, "b", 1);
	put_rec(&b, META_TAG_LINUX_XATTR, &p);
	vint_put_vuint(&b, 0);
	CHECK(meta_decode(&m, b.data, b.len, &used) == ERR_CORRUPT);

	/* A record length beyond the buffer. */
	buf_reset(&b);
	buf_addstr(&b, "\x06\x7f\x01");
	CHECK(meta_decode(&m, b.data, b.len, &used) == ERR_CORRUPT);
	CHECK(meta_decode(&m, b.data, 0, &used) == ERR_CORRUPT);

	meta_release(&m);
	buf_release(&b);
	buf_release(&p);
}

/* ------------------------------------------------------------------ */
/* Against real bup                                                    */

static int have_bup(void)
{
	static int have = -1;

	if (have < 0)
		have = !access(BUP_PYTHON, X_OK) &&
		       !access(BUP_LIB "/bup/metadata.py", R_OK) &&
		       !system(BUP_PYTHON " -c 'import sys; sys.path.insert(0, "
			       "\"" BUP_LIB "\"); from bup import metadata' "
			       ">/dev/null 2>&1");
	return have;
}

/*
 * Run bup's from_path (mode "save": normalized; "index": not
 * normalized, times zeroed) or create_path + apply_to_path (mode
 * "apply", src dst) and return its output (hex, one line per path).
 */
static int run_bup(struct buf *out, const char *dir, const char *mode,
		   const char *args)
{
	static const char script[] =
		"import sys, os\n"
		"sys.path.insert(0, '" BUP_LIB "')\n"
		"from bup import metadata\n"
		"mode = sys.argv[1]\n"
		"args = [os.fsencode(a) for a in sys.argv[2:]]\n"
		"if mode == 'apply':\n"
		"    m = metadata.from_path(args[0])\n"
		"    m.create_path(args[1])\n"
		"    m.apply_to_path(args[1])\n"
		"    sys.exit(0)\n"
		"for p in args:\n"
		"    if mode == 'save':\n"
		"        m = metadata.from_path(p, normalized=True)\n"
		"    else:\n"
		"        m = metadata.from_path(p)\n"
		"        m.atime = m.mtime = m.ctime = 0\n"
		"    print(m.encode(include_path=False).hex())\n";
	char *spath = xstrfmt("%s/oracle.py", dir);
	char *cmd;
	FILE *f;
	int rc;

	f = fopen(spath, "w");
	if (!f) {
		free(spath);
		return -1;
	}
	fputs(script, f);
	fclose(f);
	cmd = xstrfmt("cd '%s' && " BUP_PYTHON " '%s' %s %s", dir, spath,
		      mode, args);
	f = popen(cmd, "r");
	buf_reset(out);
	if (f) {
		char tmp[4096];
		size_t n;
		while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
			buf_add(out, tmp, n);
		rc = pclose(f);
	} else {
		rc = -1;
	}
	free(cmd);
	free(spath);
	return rc;
}

struct made {
	int acl, xattr, dev;
};

/* Build the sample tree in dir; report what the filesystem allowed. */
static void make_samples(const char *dir, struct made *ok)
{
	char p[4096];
	struct timespec old[2] = { { -12346, 750000000 }, { -2, 500000000 } };
	struct timespec ns[2] = { { 1700000000, 123456789 },
				  { 1700000000, 5 } };
	struct sockaddr_un sa;
	int fd;

	memset(ok, 0, sizeof(*ok));
#define P(name) (snprintf(p, sizeof(p), "%s/%s", dir, name), p)
	fd = open(P("f"), O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "hello\n", 6) == 6);
	close(fd);
	if (!lsetxattr(P("f"), "user.foo", "bar", 3, 0) &&
	    !lsetxattr(P("f"), "user.abc", "x\0y", 3, 0))
		ok->xattr = 1;
	else
		printf("# user xattrs unsupported under %s: %s\n", dir,
		       strerror(errno));
	fd = open(P("exe"), O_CREAT | O_WRONLY, 0755);
	close(fd);
	CHECK(!chmod(P("exe"), 04755));
	CHECK(!utimensat(AT_FDCWD, P("exe"), ns, 0));
	fd = open(P("old"), O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK(!utimensat(AT_FDCWD, P("old"), old, 0));
	CHECK(!mkdir(P("d"), 0750));
	CHECK(!symlink("f", P("l")));
	CHECK(!symlink("/nonexistent/long/target/name", P("dangling")));
	CHECK(!utimensat(AT_FDCWD, P("l"), ns, AT_SYMLINK_NOFOLLOW));
	CHECK(!mkfifo(P("fifo"), 0640));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	P("sock");
	CHECK(strlen(p) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, p, MIN(strlen(p), sizeof(sa.sun_path) - 1));
	CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	close(fd);
	fd = open(P("nobody"), O_CREAT | O_WRONLY, 0600);
	close(fd);
	if (geteuid() == 0) {
		CHECK(!lchown(P("nobody"), 12345, 54321));
		if (!mknod(P("chr"), S_IFCHR | 0644, makedev(1, 3)) &&
		    !mknod(P("blk"), S_IFBLK | 0600, makedev(7, 200)))
			ok->dev = 1;
	}
	fd = open(P("facl"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK(!mkdir(P("dacl"), 0755));
	if (!plat_acl_apply(P("facl"), "u::rw-,u:nobody:r--,g::r--,m::r--,"
			    "o::r--", NULL)) {
		ok->acl = 1;
		CHECK(!plat_acl_apply(P("dacl"), "u::rwx,u:nobody:rwx,g::r-x,"
				      "m::rwx,o::r-x", "u::rwx,u:nobody:r-x,"
				      "g::r-x,m::r-x,o::r-x"));
	} else {
		printf("# POSIX ACLs unsupported under %s: %s\n", dir,
		       strerror(errno));
	}
#undef P
}

/*
 * readlink() updates a symlink's atime once (relatime), so whichever of
 * cbup and bup reads a fresh link first would record an older atime
 * than the other; read every link once before comparing.
 */
static void warm_up_links(const char *dir);

static const char *sample_names[] = {
	"f", "exe", "old", "d", "l", "dangling", "fifo", "sock", "nobody",
	"chr", "blk", "facl", "dacl", ".",
};

static void warm_up_links(const char *dir)
{
	char p[4096], t[4096];
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	/*
	 * Twice, 20 ms apart: timestamps are jiffy-coarse, so after one
	 * read the atime may still equal the ctime, which relatime
	 * treats as stale.  After the second it is strictly newer.
	 */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < ARRAY_SIZE(sample_names); i++) {
			snprintf(p, sizeof(p), "%s/%s", dir, sample_names[i]);
			if (readlink(p, t, sizeof(t)) < 0 &&
			    errno != EINVAL && errno != ENOENT)
				unit_fail(__FILE__, __LINE__, "readlink %s",
					  p);
		}
		nanosleep(&pause, NULL);
	}
}

static int sample_present(const char *dir, const char *name)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return !lstat(p, &st);
}

static void compare_with_bup(unsigned flags, const char *mode)
{
	const char *dir = unit_tmpdir();
	struct buf args = BUF_INIT, out = BUF_INIT, mine = BUF_INIT,
		   hex = BUF_INIT;
	struct meta m;
	struct made ok;
	const char *line;
	size_t i, nr = 0;

	if (!have_bup()) {
		unit_skip(1, "no bup at " BUP_LIB);
		return;
	}
	meta_init(&m);
	make_samples(dir, &ok);
	warm_up_links(dir);
	for (i = 0; i < ARRAY_SIZE(sample_names); i++)
		if (sample_present(dir, sample_names[i]))
			buf_addf(&args, " '%s'", sample_names[i]);
	CHECK(!run_bup(&out, dir, mode, args.data));
	line = out.data;
	for (i = 0; i < ARRAY_SIZE(sample_names); i++) {
		char p[4096];
		size_t n;

		if (!sample_present(dir, sample_names[i]))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, sample_names[i]);
		CHECK(!meta_from_path(&m, p, NULL, flags, NULL, NULL));
		buf_reset(&mine);
		meta_encode(&mine, &m, 0);
		hex_buf(&hex, mine.data, mine.len);
		n = strcspn(line, "\n");
		if (n != hex.len || memcmp(line, hex.data, n))
			unit_fail(__FILE__, __LINE__,
				  "%s: cbup %s\n#   bup  %.*s", sample_names[i],
				  hex.data, (int)n, line);
		line += n + (line[n] == '\n');
		nr++;
	}
	CHECK(nr >= 10);
	if (ok.acl) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/dacl", dir);
		CHECK(!meta_from_path(&m, p, NULL, flags, NULL, NULL));
		CHECK(m.has_acl);
		CHECK(!strcmp(m.acl[META_ACL_DEF_TEXT].data,
			      "u::rwx,u:nobody:r-x,g::r-x,m::r-x,o::r-x"));
	}
	meta_release(&m);
	buf_release(&args);
	buf_release(&out);
	buf_release(&mine);
	buf_release(&hex);
}

UNIT_TEST(meta, from_path_matches_bup_save)
{
	compare_with_bup(META_NORMALIZE, "save");
}

UNIT_TEST(meta, from_path_matches_bup_index)
{
	compare_with_bup(META_ZERO_TIMES, "index");
}

static void collect_warning(void *ctx, const char *msg)
{
	struct buf *b = ctx;
	buf_addstr(b, msg);
	buf_addch(b, '\n');
}

/*
 * Create and apply each sample's metadata at a new path with cbup and
 * with bup; the two results must be indistinguishable (ctime aside).
 */
UNIT_TEST(meta, apply_matches_bup)
{
	const char *dir;
	char src[4096], a[4096], b[4096];
	struct buf out = BUF_INIT, ea = BUF_INIT, eb = BUF_INIT,
		   warns = BUF_INIT, arg = BUF_INIT;
	struct meta m, ma, mb;
	struct made ok;

	if (!have_bup()) {
		unit_skip(1, "no bup at " BUP_LIB);
		return;
	}
	dir = unit_tmpdir();
	meta_init(&m);
	meta_init(&ma);
	meta_init(&mb);
	make_samples(dir, &ok);
	warm_up_links(dir);
	snprintf(a, sizeof(a), "%s/out-cbup", dir);
	snprintf(b, sizeof(b), "%s/out-bup", dir);
	CHECK(!mkdir(a, 0755) && !mkdir(b, 0755));
	for (size_t i = 0; i < ARRAY_SIZE(sample_names) - 1; i++) {
		const char *name = sample_names[i];

		if (!sample_present(dir, name))
			continue;
		snprintf(src, sizeof(src), "%s/%s", dir, name);
		snprintf(a, sizeof(a), "%s/out-cbup/%s", dir, name);
		snprintf(b, sizeof(b), "out-bup/%s", name);
		CHECK(!meta_from_path(&m, src, NULL, 0, NULL, NULL));
		if (meta_create(&m, a, 0, collect_warning, &warns) ||
		    meta_apply(&m, a, 0, collect_warning, &warns))
			unit_fail(__FILE__, __LINE__, "%s: %s", name,
				  err_last());
		buf_reset(&arg);
		buf_addf(&arg, "'%s' '%s'", name, b);
		CHECK(!run_bup(&out, dir, "apply", arg.data));
		snprintf(b, sizeof(b), "%s/out-bup/%s", dir, name);

		CHECK(!meta_from_path(&ma, a, NULL, 0, NULL, NULL));
		CHECK(!meta_from_path(&mb, b, NULL, 0, NULL, NULL));
		/* Same as the source where the source can be matched. */
		CHECK(ma.mode == m.mode && ma.uid == m.uid && ma.gid == m.gid);
		CHECK(ma.rdev == m.rdev);
		CHECK(ma.mtime.sec == m.mtime.sec &&
		      ma.mtime.nsec == m.mtime.nsec);
		CHECK(ma.has_acl == m.has_acl);
		CHECK(ma.nr_xattrs == m.nr_xattrs);
		ma.ctime.sec = mb.ctime.sec = 0;
		ma.ctime.nsec = mb.ctime.nsec = 0;
		if (S_ISDIR(m.mode)) {
			/* The directory atime moves when bup lists it. */
			ma.atime = mb.atime;
		}
		buf_reset(&ea);
		buf_reset(&eb);
		meta_encode(&ea, &ma, 0);
		meta_encode(&eb, &mb, 0);
		if (ea.len != eb.len || memcmp(ea.data, eb.data, ea.len)) {
			struct buf h1 = BUF_INIT, h2 = BUF_INIT;
			hex_buf(&h1, ea.data, ea.len);
			hex_buf(&h2, eb.data, eb.len);
			unit_fail(__FILE__, __LINE__, "%s: cbup %s\n#  bup  %s",
				  name, h1.data, h2.data);
			buf_release(&h1);
			buf_release(&h2);
		}
	}
	CHECK(warns.len == 0);
	if (warns.len)
		printf("# warnings: %s", warns.data);

	/* A non-empty directory in the way is refused. */
	snprintf(a, sizeof(a), "%s/out-cbup", dir);
	CHECK(!meta_from_path(&m, src, NULL, 0, NULL, NULL));
	m.mode = S_IFDIR | 0755;
	CHECK(meta_create(&m, a, 0, NULL, NULL) == ERR_EXISTS);

	meta_release(&m);
	meta_release(&ma);
	meta_release(&mb);
	buf_release(&out);
	buf_release(&ea);
	buf_release(&eb);
	buf_release(&warns);
	buf_release(&arg);
}

UNIT_TEST(meta, display_helpers)
{
	struct buf b = BUF_INIT;
	struct meta_time t;
	char s[11];

	meta_mode_str(s, 0100644);
	CHECK(!strcmp(s, "-rw-r--r--"));
	meta_mode_str(s, 040755);
	CHECK(!strcmp(s, "drwxr-xr-x"));
	meta_mode_str(s, 0140777);
	CHECK(!strcmp(s, "srwxrwxrwx"));
	meta_mode_str(s, 0120777);
	CHECK(!strcmp(s, "lrwxrwxrwx"));
	t.sec = 1700000000;
	t.nsec = 5;
	meta_time_str(&b, &t);
	CHECK(!strcmp(b.data, "1700000000.000000005"));
	buf_reset(&b);
	t.sec = -2;
	t.nsec = 500000000;   /* -1.5 s; bup prints -1.500000000 */
	meta_time_str(&b, &t);
	CHECK(!strcmp(b.data, "-1.500000000"));
	buf_reset(&b);
	t.sec = -7;
	t.nsec = 0;
	meta_time_str(&b, &t);
	CHECK(!strcmp(b.data, "-6"));
	buf_release(&b);
}
