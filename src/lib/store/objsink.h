/*
 * An object sink: where new git objects go.  The pack writer is one; a
 * hash-only sink (for --noop) is another; the remote client will be a
 * third.  write() must return the object's id before it returns, and must
 * be done with `data` by then (it may copy it for later compression).
 */
#ifndef CBUP_OBJSINK_H
#define CBUP_OBJSINK_H

#include <stddef.h>

#include "util/oid.h"

struct objsink {
	int (*write)(struct objsink *s, enum obj_type type, const void *data,
		     size_t len, struct oid *out);
	/*
	 * Optional: 1 if the object already exists in the destination.
	 * NULL means "never", and every object is written.
	 */
	int (*exists)(struct objsink *s, const struct oid *oid);
	/*
	 * Optional: write() of an object whose id the caller has already
	 * computed (the chunker hashes chunks on two threads), so that it
	 * is not hashed twice.  NULL: write() hashes it again.
	 */
	int (*write_known)(struct objsink *s, enum obj_type type,
			   const void *data, size_t len,
			   const struct oid *id);
};

static inline int objsink_write(struct objsink *s, enum obj_type type,
				const void *data, size_t len, struct oid *out)
{
	return s->write(s, type, data, len, out);
}

/* write() of an object whose id is `id` (which must be its id). */
static inline int objsink_write_known(struct objsink *s, enum obj_type type,
				      const void *data, size_t len,
				      const struct oid *id, struct oid *out)
{
	if (!s->write_known)
		return s->write(s, type, data, len, out);
	*out = *id;
	return s->write_known(s, type, data, len, id);
}

/* A sink that only hashes (bup split --noop). */
void objsink_hash_only_init(struct objsink *s);

#endif
