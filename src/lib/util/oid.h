/*
 * Object ids and git object hashing (FORMAT.md 2.1): id = SHA-1 of
 * "<type> <decimal length>\0" + content.  SHA-1 goes through OpenSSL's
 * EVP interface (SHA-NI where the CPU has it); a context is made once
 * and reused, because most bup objects are small.
 */
#ifndef CBUP_OID_H
#define CBUP_OID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OID_RAWSZ 20
#define OID_HEXSZ 40

struct oid {
	unsigned char hash[OID_RAWSZ];
};

/* Git object types, numbered as in pack headers (FORMAT.md 2.2). */
enum obj_type {
	OBJ_NONE = 0,
	OBJ_COMMIT = 1,
	OBJ_TREE = 2,
	OBJ_BLOB = 3,
	OBJ_TAG = 4,
	OBJ_OFS_DELTA = 6,
	OBJ_REF_DELTA = 7,
};

extern const struct oid oid_empty_blob;  /* e69de29b... */
extern const struct oid oid_empty_tree;  /* 4b825dc6... */
extern const struct oid oid_zero;

static inline int oid_cmp(const struct oid *a, const struct oid *b)
{
	return memcmp(a->hash, b->hash, OID_RAWSZ);
}
static inline int oid_eq(const struct oid *a, const struct oid *b)
{
	return !memcmp(a->hash, b->hash, OID_RAWSZ);
}
static inline int oid_is_zero(const struct oid *a)
{
	return oid_eq(a, &oid_zero);
}

/* Writes 40 lowercase hex digits and a NUL into out; returns out. */
char *oid_to_hex(const struct oid *oid, char out[OID_HEXSZ + 1]);
/* Convenience for messages: a rotating set of static buffers. */
const char *oid_hex(const struct oid *oid);
/* Parses exactly 40 hex digits (either case).  0 or -1. */
int oid_from_hex(struct oid *oid, const char *hex);
/* 1 if s is exactly 40 hex digits followed by NUL. */
int oid_is_hex(const char *s);

const char *obj_type_name(enum obj_type t);  /* "blob", ...; NULL if none */
enum obj_type obj_type_from_name(const char *name, size_t len);

/* A reusable SHA-1 context (not shared between threads). */
struct sha1_ctx {
	void *evp;
};
void sha1_init(struct sha1_ctx *c);
void sha1_update(struct sha1_ctx *c, const void *data, size_t len);
void sha1_final(struct sha1_ctx *c, unsigned char out[OID_RAWSZ]);
void sha1_release(struct sha1_ctx *c);
/* One-shot SHA-1. */
void sha1_buf(unsigned char out[OID_RAWSZ], const void *data, size_t len);

/* Git object id of (type, data); reuses a thread-local context. */
void oid_hash_object(struct oid *out, enum obj_type type,
		     const void *data, size_t len);
/* The same with a caller-owned context (hot paths, worker threads). */
void oid_hash_object_ctx(struct sha1_ctx *c, struct oid *out,
			 enum obj_type type, const void *data, size_t len);
/*
 * Free this thread's oid_hash_object() context now (it is freed anyway
 * when the thread ends; the main thread's is not freed at exit).
 */
void oid_thread_release(void);

#endif
