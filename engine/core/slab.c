// SPDX-License-Identifier: MIT
/*
 * slab.c - per-loop fixed-size object cache for futures and op records.
 *
 * Objects are 64 bytes, carved from 64 KiB chunks aligned to their size, so
 * the owning loop is found from any object's address (the chunk's first
 * object holds the loop pointer and the chunk list link).  Freed objects go
 * on a LIFO free list and are reused hot; chunks return to the system only
 * when the loop is freed, so a steady state allocates nothing.
 */
#include <stdlib.h>

#include "loop_impl.h"

struct chunk_head {
	struct tide_loop *loop;
	void *next;
};

_Static_assert(sizeof(struct chunk_head) <= TIDE__SLAB_OBJ, "chunk head");

void *tide__slab_grow(struct tide_loop *loop)
{
	char *c = aligned_alloc(TIDE__SLAB_CHUNK, TIDE__SLAB_CHUNK);
	struct chunk_head *h = (struct chunk_head *)c;

	if (!c)
		return NULL;
	h->loop = loop;
	h->next = loop->core.slab.chunks;
	loop->core.slab.chunks = c;
	loop->core.slab.chunks_n++;
	/* push in reverse so allocation walks the chunk upwards */
	for (size_t off = TIDE__SLAB_CHUNK - TIDE__SLAB_OBJ; off > 0;
	     off -= TIDE__SLAB_OBJ) {
		void **o = (void **)(c + off);
		*o = loop->core.slab.free;
		loop->core.slab.free = o;
	}
	return tide__slab_alloc(loop);
}

uint64_t tide__slab_live(struct tide_loop *loop)
{
	/* every object of every chunk but its header, less the free ones */
	uint64_t n = loop->core.slab.chunks_n *
		     (TIDE__SLAB_CHUNK / TIDE__SLAB_OBJ - 1);

	for (void **o = loop->core.slab.free; o; o = (void **)*o)
		n--;
	TIDE__ASSERT(
		!TIDE_DEBUG || n == loop->core.slab.live,
		"slab of loop %p: %llu live by the free list, %llu counted",
		(void *)loop, (unsigned long long)n,
		(unsigned long long)loop->core.slab.live);
	return n;
}

void tide__slab_destroy(struct tide_loop *loop)
{
	void *c = loop->core.slab.chunks;

	while (c) {
		void *next = ((struct chunk_head *)c)->next;
		free(c);
		c = next;
	}
	loop->core.slab.chunks = NULL;
	loop->core.slab.free = NULL;
	loop->core.slab.chunks_n = 0;
}
