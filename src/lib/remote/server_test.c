/*
 * server: whole sessions through server_run() on a real repository,
 * the client's bytes in a memfd and the replies read back from another:
 * help, a receive-objects-v2 whose object becomes visible and whose ref
 * update follows, an update-ref to an object the repository lacks,
 * join of a blob, a session that ends inside a transfer (no pack left,
 * the pending writer reported and cleared), and set-dir outside the
 * root refused with the session ended.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "remote/server.h"
#include "store/odb.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/oid.h"
#include "util/util.h"

struct session {
	struct buf out;         /* everything the server answered */
	struct buf log;         /* its log lines */
	int pending_calls;
	void *last_pending;
	int code;
};

static void on_log(void *ctx, const char *line)
{
	buf_addstr(&((struct session *)ctx)->log, line);
}

static void on_pending(void *ctx, struct packwriter *w)
{
	struct session *s = ctx;

	s->pending_calls++;
	s->last_pending = w;
}

/* Run one session on repo (root: confine to it) with input in[0..n). */
static void run(struct session *s, const char *repo, const char *root,
		const void *in, size_t n)
{
	struct server_opts o = { 0 };
	int ifd = memfd_create("in", 0), ofd = memfd_create("out", 0);

	memset(s, 0, sizeof(*s));
	buf_init(&s->out, 0);
	buf_init(&s->log, 0);
	CHECK(ifd >= 0 && ofd >= 0);
	CHECK(write_full(ifd, in, n) == 0 && lseek(ifd, 0, SEEK_SET) == 0);
	o.in_fd = ifd;
	o.out_fd = ofd;
	o.default_repo = repo;
	o.root = root;
	o.threads = 1;
	o.log = on_log;
	o.pending = on_pending;
	o.ctx = s;
	s->code = server_run(&o);
	CHECK(lseek(ofd, 0, SEEK_SET) == 0);
	for (;;) {
		char tmp[4096];
		ssize_t r = read(ofd, tmp, sizeof(tmp));

		if (r <= 0)
			break;
		buf_add(&s->out, tmp, (size_t)r);
	}
	close(ifd);
	close(ofd);
}

static void session_release(struct session *s)
{
	buf_release(&s->out);
	buf_release(&s->log);
}

static void add_be32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = { v >> 24, v >> 16, v >> 8, v };

	buf_add(b, p, 4);
}

/*
 * A receive-objects-v2 frame holding blob `body` (FORMAT.md 7): its
 * id, the CRC-32 of the pack object, and the pack object (type and size
 * header, then the zlib stream); *oid gets the id.
 */
static void blob_frame(struct buf *b, const char *body, struct oid *oid)
{
	unsigned char obj[300], *p = obj;
	uLongf zlen = 256;
	size_t n = strlen(body), left = n >> 4;

	oid_hash_object(oid, OBJ_BLOB, body, n);
	*p++ = (unsigned char)((left ? 0x80 : 0) | (3 << 4) | (n & 15));
	while (left) {
		*p = left & 0x7f;
		left >>= 7;
		*p++ |= left ? 0x80 : 0;
	}
	CHECK(compress2(p, &zlen, (const Bytef *)body, n, 1) == Z_OK);
	p += zlen;
	add_be32(b, (uint32_t)(OID_RAWSZ + 4 + (size_t)(p - obj)));
	buf_add(b, oid->hash, OID_RAWSZ);
	add_be32(b, (uint32_t)crc32(0, obj, (uInt)(p - obj)));
	buf_add(b, obj, (size_t)(p - obj));
}

static int count_packs(const char *repo)
{
	char *dir = xstrfmt("%s/objects/pack", repo);
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, "pack-", 5) ||
		     !strncmp(de->d_name, "tmp", 3);
	if (d)
		closedir(d);
	free(dir);
	return n;
}

/* (unit_tmpdir() makes a new directory each call: once per test) */
static char *new_repo(const char *dir, const char *name)
{
	char *p = xstrfmt("%s/%s", dir, name);

	CHECK(repo_init(p) == 0);
	return p;
}

UNIT_TEST(server, help)
{
	char *repo = new_repo(unit_tmpdir(), "help");
	struct session s;
	static const char in[] = "help\nquit\n";

	run(&s, repo, NULL, in, strlen(in));
	CHECK(s.code == 0);
	CHECK(!strncmp(s.out.data, "Commands:\n", 10));
	CHECK(strstr(s.out.data, "    receive-objects-v2\n") != NULL);
	CHECK(s.out.len >= 4 &&
	      !memcmp(s.out.data + s.out.len - 4, "\nok\n", 4));
	CHECK(s.pending_calls == 0);
	session_release(&s);
	free(repo);
}

UNIT_TEST(server, receive_then_update_ref)
{
	char *repo = new_repo(unit_tmpdir(), "recv");
	struct session s;
	struct buf in = BUF_INIT;
	struct oid oid, got;
	struct repo *r;

	buf_addstr(&in, "receive-objects-v2\n");
	blob_frame(&in, "hello\n", &oid);
	add_be32(&in, 0);
	buf_addf(&in, "update-ref refs/heads/b\n%s\n\nquit\n", oid_hex(&oid));
	run(&s, repo, NULL, in.data, in.len);
	CHECK(s.code == 0);
	/* the idx name of the new pack, then ok; then update-ref's ok */
	CHECK(!strncmp(s.out.data, "pack-", 5));
	CHECK(strstr(s.out.data, ".idx\n\nok\n\nok\n") != NULL);
	/* pending while the objects came, cleared at the end marker */
	CHECK(s.pending_calls == 2 && s.last_pending == NULL);
	CHECK(repo_open(&r, repo) == 0);
	CHECK(odb_exists(repo_odb(r), &oid));
	CHECK(refs_resolve(r, "refs/heads/b", &got) == 0);
	CHECK(oid_eq(&got, &oid));
	repo_free(r);
	CHECK(count_packs(repo) == 2);  /* pack and idx */
	session_release(&s);
	buf_release(&in);
	free(repo);
}

UNIT_TEST(server, update_ref_to_missing_object)
{
	char *repo = new_repo(unit_tmpdir(), "missing");
	struct session s;
	static const char in[] = "update-ref refs/heads/b\n"
		"1111111111111111111111111111111111111111\n\nquit\n";

	run(&s, repo, NULL, in, strlen(in));
	CHECK(s.code == SERVER_FAILED);
	CHECK(strstr(s.out.data, "\nerror ") != NULL);
	CHECK(strstr(s.out.data, "is not in the repository") != NULL);
	CHECK(strstr(s.log.data, "is not in the repository") != NULL);
	session_release(&s);
	free(repo);
}

UNIT_TEST(server, join_blob)
{
	char *repo = new_repo(unit_tmpdir(), "join");
	struct session s;
	struct buf in = BUF_INIT;
	struct oid oid;

	buf_addstr(&in, "receive-objects-v2\n");
	blob_frame(&in, "joined\n", &oid);
	add_be32(&in, 0);
	buf_addf(&in, "update-ref refs/heads/j\n%s\n\njoin j\nquit\n",
		 oid_hex(&oid));
	run(&s, repo, NULL, in.data, in.len);
	CHECK(s.code == 0);
	/* length 7, "joined\n", the 0 end marker, ok */
	CHECK(strstr(s.out.data, "ok\n") != NULL);
	CHECK(s.out.len > 19 &&
	      !memcmp(s.out.data + s.out.len - 19,
		      "\0\0\0\7joined\n\0\0\0\0\nok\n", 19));
	session_release(&s);
	buf_release(&in);
	free(repo);
}

UNIT_TEST(server, eof_inside_transfer_leaves_no_pack)
{
	char *repo = new_repo(unit_tmpdir(), "eof");
	struct session s;
	struct buf in = BUF_INIT;
	struct oid oid;

	buf_addstr(&in, "receive-objects-v2\n");
	blob_frame(&in, "lost\n", &oid);
	/* no end marker: the client is gone */
	run(&s, repo, NULL, in.data, in.len);
	CHECK(s.code == SERVER_FAILED);
	CHECK(s.pending_calls == 2 && s.last_pending == NULL);
	CHECK(count_packs(repo) == 0);
	session_release(&s);
	buf_release(&in);
	free(repo);
}

UNIT_TEST(server, set_dir_outside_root)
{
	const char *dir = unit_tmpdir();
	char *root = xstrfmt("%s/root", dir);
	char *repo = xstrfmt("%s/repo", root);
	char *outside = new_repo(dir, "outside");
	struct session s;
	struct buf in = BUF_INIT;

	CHECK(st_sh("mkdir -p '%s'", root) == 0);
	CHECK(repo_init(repo) == 0);
	buf_addf(&in, "set-dir %s\nquit\n", outside);
	run(&s, repo, root, in.data, in.len);
	CHECK(s.code == SERVER_FAILED);
	CHECK(strstr(s.out.data, "outside CBUP_DAEMON_ROOT") != NULL);
	session_release(&s);
	/* inside the root it is served */
	buf_reset(&in);
	buf_addf(&in, "set-dir %s\nquit\n", repo);
	run(&s, repo, root, in.data, in.len);
	CHECK(s.code == 0 && !strcmp(s.out.data, "\nok\n"));
	session_release(&s);
	buf_release(&in);
	free(outside);
	free(repo);
	free(root);
}
