// SPDX-License-Identifier: MIT
/*
 * timer.c - binary min-heap of deadlines (see timer.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "core.h"
#include "timer.h"

static void place(struct tide__timer_heap *h, uint32_t i, struct tide__timer *t)
{
	h->v[i] = t;
	t->slot = i;
}

static void sift_up(struct tide__timer_heap *h, uint32_t i)
{
	struct tide__timer *t = h->v[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (h->v[p]->when <= t->when)
			break;
		place(h, i, h->v[p]);
		i = p;
	}
	place(h, i, t);
}

static void sift_down(struct tide__timer_heap *h, uint32_t i)
{
	struct tide__timer *t = h->v[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
			c++;
		if (t->when <= h->v[c]->when)
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, t);
}

/* Room for one more; the memory on loop's behalf (plain without one). */
static int room(struct tide_loop *loop, struct tide__timer_heap *h)
{
	uint32_t cap;
	struct tide__timer **v;

	if (h->n < h->cap)
		return 0;
	if (h->cap > UINT32_MAX / 2)
		return -ENOMEM;
	cap = h->cap ? h->cap * 2 : 64;
	v = loop ? tide__realloc(loop, h->v, (size_t)cap * sizeof(*v)) :
		   realloc(h->v, (size_t)cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	h->cap = cap;
	return 0;
}

int tide__timer_reserve(struct tide_loop *loop, struct tide__timer_heap *h)
{
	return room(loop, h);
}

int tide__timer_add(struct tide__timer_heap *h, struct tide__timer *t,
		    uint64_t when)
{
	/* the engine reserved the room (a heap without a loop, as in the
	 * unit tests, grows here) */
	if (room(NULL, h))
		return -ENOMEM;
	t->when = when;
	place(h, h->n++, t);
	sift_up(h, t->slot);
	return 0;
}

void tide__timer_del(struct tide__timer_heap *h, struct tide__timer *t)
{
	uint32_t i = t->slot;

	if (i == TIDE__TIMER_IDLE)
		return;
	t->slot = TIDE__TIMER_IDLE;
	if (--h->n == i)
		return;
	/* the last timer fills the hole, then moves whichever way it must */
	place(h, i, h->v[h->n]);
	if (i > 0 && h->v[(i - 1) / 2]->when > h->v[i]->when)
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct tide__timer *tide__timer_pop_due(struct tide__timer_heap *h,
					uint64_t now)
{
	struct tide__timer *t = tide__timer_first(h);

	if (!t || t->when > now)
		return NULL;
	tide__timer_del(h, t);
	return t;
}

void tide__timer_heap_free(struct tide__timer_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
