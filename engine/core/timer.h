/* SPDX-License-Identifier: MIT */
/*
 * timer.h - a min-heap of deadlines (CLOCK_MONOTONIC nanoseconds), backend
 * neutral.  A timer is embedded in whatever owns it; the heap holds
 * pointers, and each timer knows its slot so removal is O(log n).
 *
 * The epoll backend waits in epoll_pwait2() until the earliest deadline,
 * so arming or cancelling a timer costs no system call (a timerfd would
 * cost a timerfd_settime() each time the earliest deadline changes).
 */
#ifndef TIDE_CORE_TIMER_H
#define TIDE_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define TIDE__TIMER_IDLE UINT32_MAX

struct tide__timer {
	uint64_t when; /* tide_now_ns() clock */
	uint32_t slot; /* index in the heap, TIDE__TIMER_IDLE when not in it */
};

struct tide__timer_heap {
	struct tide__timer **v;
	uint32_t n, cap;
};

static inline void tide__timer_init(struct tide__timer *t)
{
	t->when = 0;
	t->slot = TIDE__TIMER_IDLE;
}

static inline bool tide__timer_armed(const struct tide__timer *t)
{
	return t->slot != TIDE__TIMER_IDLE;
}

struct tide_loop;
/* Room for one more timer (the memory on loop's behalf): 0 or -ENOMEM.
 * Made before whatever will insert one can no longer be refused. */
int tide__timer_reserve(struct tide_loop *loop, struct tide__timer_heap *h);
/* Insert t (not armed) at when; allocates only when no room was reserved.
 * 0 or -ENOMEM (nothing changed then). */
int tide__timer_add(struct tide__timer_heap *h, struct tide__timer *t,
		    uint64_t when);
/* Remove t if it is armed. */
void tide__timer_del(struct tide__timer_heap *h, struct tide__timer *t);
/* The earliest timer, NULL when the heap is empty. */
static inline struct tide__timer *
tide__timer_first(const struct tide__timer_heap *h)
{
	return h->n ? h->v[0] : NULL;
}
/* Remove and return the earliest timer due at now, or NULL. */
struct tide__timer *tide__timer_pop_due(struct tide__timer_heap *h,
					uint64_t now);
void tide__timer_heap_free(struct tide__timer_heap *h);

#endif /* TIDE_CORE_TIMER_H */
