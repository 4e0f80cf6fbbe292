/*
 * The hash-only object sink (objsink.h): computes ids and stores nothing,
 * for bup split --noop and anything else that only wants the ids.
 */
#include "store/objsink.h"

static int hash_only_write(struct objsink *s, enum obj_type type,
			   const void *data, size_t len, struct oid *out)
{
	(void)s;
	oid_hash_object(out, type, data, len);
	return 0;
}

static int hash_only_write_known(struct objsink *s, enum obj_type type,
				 const void *data, size_t len,
				 const struct oid *id)
{
	(void)s, (void)type, (void)data, (void)len, (void)id;
	return 0;
}

void objsink_hash_only_init(struct objsink *s)
{
	s->write = hash_only_write;
	s->exists = NULL;
	s->write_known = hash_only_write_known;
}
