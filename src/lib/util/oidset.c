/* Sets of object ids (oidset.h). */
#include "util/oidset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static size_t slot_of(const struct oidset *s, const struct oid *oid)
{
	uint64_t h;

	memcpy(&h, oid->hash, sizeof(h));  /* ids are uniform already */
	return (size_t)h & (s->cap - 1);
}

/* The slot holding oid, or the empty slot where it would go. */
static size_t find_slot(const struct oidset *s, const struct oid *oid)
{
	size_t i = slot_of(s, oid);

	while (s->used[i] && !oid_eq(&s->slots[i], oid))
		i = (i + 1) & (s->cap - 1);
	return i;
}

int oidset_has(const struct oidset *s, const struct oid *oid)
{
	return s->cap && s->used[find_slot(s, oid)];
}

static void grow(struct oidset *s)
{
	struct oidset n = OIDSET_INIT;

	n.cap = s->cap ? st_mult(s->cap, 2) : 1024;
	n.slots = xmalloc(st_mult(n.cap, sizeof(*n.slots)));
	n.used = xcalloc(n.cap, 1);
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->used[i])
			continue;
		j = find_slot(&n, &s->slots[i]);
		n.used[j] = 1;
		n.slots[j] = s->slots[i];
		n.nr++;
	}
	free(s->slots);
	free(s->used);
	*s = n;
}

int oidset_add(struct oidset *s, const struct oid *oid)
{
	size_t i;

	if ((s->nr + 1) * 2 > s->cap)
		grow(s);
	i = find_slot(s, oid);
	if (s->used[i])
		return 0;
	s->used[i] = 1;
	s->slots[i] = *oid;
	s->nr++;
	return 1;
}

void oidset_clear(struct oidset *s)
{
	free(s->slots);
	free(s->used);
	memset(s, 0, sizeof(*s));
}
