/* SPDX-License-Identifier: MIT */
/*
 * loop_impl.h - struct tide_loop, private to engine/.  api/ sees only its
 * first member, the core (core.h).
 */
#ifndef TIDE_ENGINE_LOOP_IMPL_H
#define TIDE_ENGINE_LOOP_IMPL_H

#include <pthread.h>
#include <stddef.h>

#include "backend.h"
#include "uring/state.h"

struct tide__ep;

/* A completion waiting for the next dispatch (tide__complete_later()). */
struct tide__later {
	struct tide__op *op;
	int32_t res;
	uint32_t cflags;
	uint32_t turns; /* dispatches to wait first (fault injection) */
};

/* Fault injection (engine/core/fault.c), from TIDE_FAULT at creation. */
struct tide__fault {
	uint64_t rng;	     /* xorshift state; 0 = off */
	uint32_t short_pct;  /* socket/pipe transfers cut short, percent */
	uint32_t late_pct;   /* completions delivered 1-4 dispatches late */
	uint32_t eagain_pct; /* epoll: a try-first call says EAGAIN */
	uint32_t eintr_pct;  /* epoll: a try-first call says EINTR */
	uint32_t nomore_pct; /* a multishot ends early after a completion */
	uint32_t nomem_pct;  /* io_uring: the SQ is full (backlog path) */
	uint32_t cancel_pct; /* an operation cancelled before it ran */
	uint32_t alloc_pct;  /* an allocation of new memory fails */
	bool errno_last;  /* the last call faked an errno: the next is real */
	bool report;	  /* report=1: print the counts at free */
	bool ending_user; /* ending_op was cancelled by its owner too */
	bool ending_recv; /* ending_op is a receive (else an accept) */
	struct tide__op *ending_op; /* the multishot being ended early */
	/* alloc: slab objects "given back to the system" (engine/core/
	 * slab.c takes them again, unless the allocation is to fail) */
	void *spare;
	/* alloc for tide_loop_post() (any thread): its own generator and
	 * count, under the loop's post_lock */
	uint64_t post_rng, post_nomem;
	uint64_t shortened, delayed, again, intr, ended, sq_full, cancelled,
		nomem;
};

/* Why operations leave the io_uring fast path (tide_loop.slow). */
enum {
	TIDE__SLOW_EPOLL = 1u << 0, /* the loop runs on epoll */
	/* closing (operations are refused) or fault injection: every
	 * operation is looked at first (engine/uring/ops.c's slow_path()) */
	TIDE__SLOW_CHECK = 1u << 1,
};

struct tide_loop {
	struct tide__core core; /* first: see tide__core() */
	const struct tide__backend *be;
	bool uring;	      /* be is the io_uring backend (fast path) */
	uint32_t backend_why; /* TIDE_BACKEND_WHY_* */
	int uring_err;	      /* io_uring_setup's -errno when it fell back */
	uint32_t opts_flags;
	/* TIDE__SLOW_*: operations leave the io_uring fast path (set by
	 * tide__slow_set() only) */
	uint8_t slow;
	struct tide__fault fault;
	uint64_t wait_cap_ns; /* 0, or the longest single blocking wait */

	/* completions to deliver on the next dispatch */
	struct tide__later *later;
	uint32_t later_n, later_cap;

	/* cross-thread posts */
	pthread_mutex_t post_lock;
	struct tide__task *posts, *posts_spare;
	uint32_t posts_n, posts_cap, spare_cap;
	int wake_fd;
	struct tide__post *nodes; /* tide__loop_post_node(), newest first */
	/* the registry of live loops (engine/core/live.c) */
	uint64_t live_id;
	struct tide_loop *live_next;

	struct tide_loop_stats stats;

	struct tide__uring u; /* the io_uring backend's state */
	struct tide__ep *ep;  /* the epoll backend's state */
};

/* Operations leave the io_uring fast path from now on, for why
 * (TIDE__SLOW_*).  That path's one test is the SQ room's (engine/uring/
 * ops.c), so the room is closed here, and tide__sqe_slow() keeps it
 * closed while loop->slow is set: each operation then takes its SQE there,
 * after its route was looked at. */
static inline void tide__slow_set(struct tide_loop *loop, uint8_t why)
{
	loop->slow |= why;
	loop->u.sq_limit = loop->u.ring.sq.sqe_tail;
}

/* ---- live loops (engine/core/live.c) ---- */
void tide__live_add(struct tide_loop *loop);
void tide__live_del(struct tide_loop *loop);
/* true: loop (with that id, unless id is 0) is live, and stays so until
 * tide__live_leave(); false: it is not (no lock held).  Never dereferences
 * a loop that is not live. */
bool tide__live_enter(const struct tide_loop *loop, uint64_t id);
void tide__live_leave(const struct tide_loop *loop);

/* Room in the later queue for every completion that may be queued until
 * the next operation starts (loop.c); 0 or -ENOMEM.  Called before an
 * operation does anything, so that it can still be refused. */
int tide__later_reserve(struct tide_loop *loop);
/* Queue a completion to deliver after turns more dispatches (0: the next
 * one).  0 or -ENOMEM (never after tide__later_reserve()).  Inline: an
 * epoll operation whose result is known at once comes this way. */
static inline int tide__later_push(struct tide_loop *loop, struct tide__op *op,
				   int32_t res, uint32_t cflags, uint32_t turns)
{
	/* reserved before op started, unless the caller can take -ENOMEM
	 * (an operation refused before it started, a fault's delay) */
	if (__builtin_expect(loop->later_n == loop->later_cap, 0) &&
	    tide__later_reserve(loop))
		return -ENOMEM;
	loop->later[loop->later_n++] =
		(struct tide__later){ op, res, cflags, turns };
	return 0;
}
/* alloc for a cross-thread post's queue (post_lock held). */
bool tide__fault_nomem_post(struct tide_loop *loop);
/* Fault injection: read TIDE_FAULT (0, or -EINVAL for a bad value). */
int tide__fault_init(struct tide_loop *loop);
/* Freeing: with report=1, what was injected, on stderr. */
void tide__fault_report(const struct tide_loop *loop);
/* What tide__fault_op() is given. */
enum {
	TIDE__FAULT_IN,	   /* bytes come in (or none move) */
	TIDE__FAULT_OUT,   /* bytes go out */
	TIDE__FAULT_MULTI, /* a multishot receive or accept */
	TIDE__FAULT_TIME,  /* a timeout (never cancelled by "the kernel") */
};
/* Fault injection for an operation being started on fd: may shorten *len
 * (len may be NULL), mark op to complete late, and mark a multishot to be
 * ended early at one of its completions. */
void tide__fault_op(struct tide_loop *loop, struct tide__op *op, int fd,
		    unsigned *len, unsigned how);
/* io_uring: should this submission find the SQ full (nomem)? */
bool tide__fault_sq_full(struct tide_loop *loop);
/* Should op, being started, be cancelled by "the kernel" before it runs? */
bool tide__fault_refuse(struct tide_loop *loop, unsigned how);
/* The owner of op asked to cancel it (tide__op_cancel()). */
static inline void tide__fault_owner_cancel(struct tide_loop *loop,
					    struct tide__op *op)
{
	if (__builtin_expect(loop->fault.ending_op == op, 0))
		loop->fault.ending_user = true;
}
/* alloc, at the start of each loop turn: the slab's free objects go
 * back to "the system", so that this turn's allocations reuse only what
 * it freed and every other one takes new memory, which may fail. */
void tide__fault_turn(struct tide_loop *loop);
/* alloc, from tide__slab_grow() (the free list is empty): -ENOMEM for an
 * allocation that is to fail; 1 when a spare object was put on the free
 * list; 0 when there is none (a chunk must be taken). */
int tide__fault_slab(struct tide_loop *loop);
bool tide__fault_errno_slow(struct tide_loop *loop);
/* The epoll backend, before each non-blocking system call it tries: true
 * when the call is to be skipped and look as if it failed with errno
 * (EAGAIN or EINTR, set).  Never twice in a row, so every call progresses. */
static inline bool tide__fault_errno(struct tide_loop *loop)
{
	if (__builtin_expect(!loop->fault.rng, 1))
		return false;
	return tide__fault_errno_slow(loop);
}

_Static_assert(offsetof(struct tide_loop, core) == 0,
	       "tide__core() relies on the core coming first");

#endif /* TIDE_ENGINE_LOOP_IMPL_H */
