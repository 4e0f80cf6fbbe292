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

#include "util/oid.h"

struct sha1batch_job {
	const void *data;
	size_t len;
	struct oid *out;
};

/*
 * out = oid_hash_object(type, data, len) for each job.  Three lanes on
 * CPUs with SHA-NI; one message at a time through OpenSSL otherwise.
 * Reentrant: no state is shared between calls.
 */
void sha1batch_hash(enum obj_type type, const struct sha1batch_job *jobs,
		    size_t n);

/*
 * Tests: 0 forces the one-at-a-time path, 1 the lanes where the CPU has
 * SHA-NI.  Returns whether the lanes were in use.
 */
int sha1batch_set_simd(int on);
/* Whether the lanes are available and on. */
int sha1batch_simd(void);

#endif
