/*
 * A set of object ids: open addressing with linear probing, kept at most
 * half full.  Ids are SHA-1 digests, uniformly random already, so their
 * first bytes are the hash.  About 42 bytes per id at the worst load.
 * Used for what must be exact (gc's live trees and commits, a writer's
 * "written this session", the server's already-sent ids).  Not
 * thread-safe.
 */
#ifndef CBUP_OIDSET_H
#define CBUP_OIDSET_H

#include <stddef.h>

#include "util/oid.h"

struct oidset {
	struct oid *slots;
	unsigned char *used;
	size_t nr, cap;
};

#define OIDSET_INIT { NULL, NULL, 0, 0 }

int oidset_has(const struct oidset *s, const struct oid *oid);
/* 1 if added, 0 if it was there. */
int oidset_add(struct oidset *s, const struct oid *oid);
void oidset_clear(struct oidset *s);

#endif
