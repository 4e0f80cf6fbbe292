/*
 * Ids of many objects at once (FORMAT.md 2.1), three messages at a time.
 *
 * One SHA-1 stream is bound by the latency of its round instructions
 * (SHA-NI: about 1.8 GB/s per core), not by their throughput, so
 * independent messages hashed in the same loop overlap in the core: on
 * bup-sized chunks, two lanes give 3.2 GB/s and three 3.8 GB/s
 * (`test-tool sha1-speed`); a fourth would not fit in the registers.  The
 * chunks of a read are such messages: the chunker lists them, hashes
 * them here, and hands the ids on with the bytes.
 */
#ifndef CBUP_SHA1BATCH_H
#define CBUP_SHA1BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

struct sha1batch_job {
	const void *data;
	size_t len;
	struct oid *out;
	enum obj_type type;    /* sha1batch_hash_typed(): this job's */
};

/*
 * out = oid_hash_object(type, data, len) for each job.  Three lanes on
 * CPUs with SHA-NI; one message at a time through OpenSSL otherwise.
 * Reentrant: no state is shared between calls.
 */
void sha1batch_hash(enum obj_type type, const struct sha1batch_job *jobs,
		    size_t n);
/* The same with each job's own type (objects of a pack, in pack order). */
void sha1batch_hash_typed(const struct sha1batch_job *jobs, size_t n);

/*
 * Tests: 0 forces the one-at-a-time path, 1 the lanes where the CPU has
 * SHA-NI.  Returns whether the lanes were in use.
 */
int sha1batch_set_simd(int on);
/* Whether the lanes are available and on. */
int sha1batch_simd(void);

/*
 * Long messages side by side (fsck --quick hashes whole packs): each
 * stream takes its bytes in order, whole 64-byte blocks through
 * sha1batch_stream_blocks(), which advances up to three streams in one
 * loop as above, and its last bytes through sha1batch_stream_final().
 * Without SHA-NI each stream is an OpenSSL context of its own.
 */
struct sha1batch_stream {
	uint32_t st[5];
	uint64_t len;            /* bytes hashed so far */
	int simd;                /* the lanes, or ctx */
	struct sha1_ctx ctx;
};

void sha1batch_stream_init(struct sha1batch_stream *s);
/* Each of s[0..n) (n at most 3) takes blocks * 64 bytes from its p[]. */
void sha1batch_stream_blocks(struct sha1batch_stream *const s[],
			     const unsigned char *const p[], int n,
			     size_t blocks);
/* The stream's last len bytes (any length), and its digest. */
void sha1batch_stream_final(struct sha1batch_stream *s, const void *data,
			    size_t len, unsigned char out[OID_RAWSZ]);
/* Free what s holds, finished or not (again: nothing). */
void sha1batch_stream_release(struct sha1batch_stream *s);

#endif
