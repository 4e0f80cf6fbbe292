/* Object ids, hex, and SHA-1 through OpenSSL EVP (oid.h). */
#include "util/oid.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"

const struct oid oid_empty_blob = { {
	0xe6, 0x9d, 0xe2, 0x9b, 0xb2, 0xd1, 0xd6, 0x43, 0x4b, 0x8b,
	0x29, 0xae, 0x77, 0x5a, 0xd8, 0xc2, 0xe4, 0x8c, 0x53, 0x91 } };
const struct oid oid_empty_tree = { {
	0x4b, 0x82, 0x5d, 0xc6, 0x42, 0xcb, 0x6e, 0xb9, 0xa0, 0x60,
	0xe5, 0x4b, 0xf8, 0xd6, 0x92, 0x88, 0xfb, 0xee, 0x49, 0x04 } };
const struct oid oid_zero;

static const EVP_MD *sha1_md(void)
{
	/*
	 * EVP_sha1() returns a static table and is thread-safe; caching it
	 * in a static of our own would be a data race between threads'
	 * first calls (ThreadSanitizer reports it), for no gain.
	 */
	return EVP_sha1();
}

char *oid_to_hex(const struct oid *oid, char out[OID_HEXSZ + 1])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < OID_RAWSZ; i++) {
		out[2 * i] = hex[oid->hash[i] >> 4];
		out[2 * i + 1] = hex[oid->hash[i] & 15];
	}
	out[OID_HEXSZ] = '\0';
	return out;
}

const char *oid_hex(const struct oid *oid)
{
	static _Thread_local char bufs[4][OID_HEXSZ + 1];
	static _Thread_local unsigned which;
	return oid_to_hex(oid, bufs[which++ & 3]);
}

int oid_from_hex(struct oid *oid, const char *hex)
{
	for (int i = 0; i < OID_RAWSZ; i++) {
		int hi = util_hexval((unsigned char)hex[2 * i]);
		int lo = hi < 0 ? -1 : util_hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		oid->hash[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int oid_is_hex(const char *s)
{
	for (int i = 0; i < OID_HEXSZ; i++)
		if (util_hexval((unsigned char)s[i]) < 0)
			return 0;
	return s[OID_HEXSZ] == '\0';
}

static const char *const type_names[] = {
	[OBJ_COMMIT] = "commit", [OBJ_TREE] = "tree",
	[OBJ_BLOB] = "blob", [OBJ_TAG] = "tag",
};

const char *obj_type_name(enum obj_type t)
{
	if ((unsigned)t >= ARRAY_SIZE(type_names))
		return NULL;
	return type_names[t];
}

enum obj_type obj_type_from_name(const char *name, size_t len)
{
	for (unsigned i = 0; i < ARRAY_SIZE(type_names); i++)
		if (type_names[i] && strlen(type_names[i]) == len &&
		    !memcmp(type_names[i], name, len))
			return (enum obj_type)i;
	return OBJ_NONE;
}

void sha1_init(struct sha1_ctx *c)
{
	if (!c->evp) {
		c->evp = EVP_MD_CTX_new();
		if (!c->evp)
			BUG("EVP_MD_CTX_new failed");
	}
	if (!EVP_DigestInit_ex(c->evp, sha1_md(), NULL))
		BUG("EVP_DigestInit_ex failed");
}

void sha1_update(struct sha1_ctx *c, const void *data, size_t len)
{
	if (len && !EVP_DigestUpdate(c->evp, data, len))
		BUG("EVP_DigestUpdate failed");
}

void sha1_final(struct sha1_ctx *c, unsigned char out[OID_RAWSZ])
{
	unsigned int n = 0;
	if (!EVP_DigestFinal_ex(c->evp, out, &n) || n != OID_RAWSZ)
		BUG("EVP_DigestFinal_ex failed");
}

void sha1_release(struct sha1_ctx *c)
{
	EVP_MD_CTX_free(c->evp);
	c->evp = NULL;
}

void sha1_buf(unsigned char out[OID_RAWSZ], const void *data, size_t len)
{
	unsigned int n = 0;
	if (!EVP_Digest(data, len, out, &n, sha1_md(), NULL))
		BUG("EVP_Digest failed");
}

void oid_hash_object_ctx(struct sha1_ctx *c, struct oid *out,
			 enum obj_type type, const void *data, size_t len)
{
	char hdr[32];
	int n = snprintf(hdr, sizeof(hdr), "%s %zu", obj_type_name(type), len);

	sha1_init(c);
	sha1_update(c, hdr, (size_t)n + 1); /* include the NUL */
	sha1_update(c, data, len);
	sha1_final(c, out->hash);
}

/*
 * One context per thread, freed when the thread ends: threads come and
 * go in a long-lived process (libfuse's workers in fuse), and a
 * _Thread_local context would leak each one's OpenSSL state.
 */
static pthread_key_t hash_key;
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void hash_ctx_free(void *p)
{
	sha1_release(p);
	free(p);
}

static void hash_key_init(void)
{
	if (pthread_key_create(&hash_key, hash_ctx_free))
		BUG("pthread_key_create failed");
}

void oid_hash_object(struct oid *out, enum obj_type type,
		     const void *data, size_t len)
{
	struct sha1_ctx *c;

	pthread_once(&hash_once, hash_key_init);
	c = pthread_getspecific(hash_key);
	if (!c) {
		c = xcalloc(1, sizeof(*c));
		if (pthread_setspecific(hash_key, c))
			BUG("pthread_setspecific failed");
	}
	oid_hash_object_ctx(c, out, type, data, len);
}

void oid_thread_release(void)
{
	struct sha1_ctx *c;

	pthread_once(&hash_once, hash_key_init);
	c = pthread_getspecific(hash_key);
	if (c) {
		hash_ctx_free(c);
		pthread_setspecific(hash_key, NULL);
	}
}
