/* SPDX-License-Identifier: MIT */
/*
 * core.h - what api/ may know of the loop: the operation record, the slab,
 * the dispatcher's counters and the completion path shared by the backends.
 *
 * struct tide_loop itself is private to engine/ (engine/loop_impl.h); it
 * begins with a struct tide__core, which api/ reaches through tide__core().
 */
#ifndef TIDE_ENGINE_CORE_H
#define TIDE_ENGINE_CORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "debug.h"
#include "tide.h"
#include "compat.h"

struct tide__op;
struct tide_bufring;

/* ---- completion flags (the cflags of a completion) ---- */
#define TIDE__CQ_BUFFER (1u << 0) /* data is in ring buffer tide__cq_bid() */
#define TIDE__CQ_MORE (1u << 1)	  /* more completions follow for this op */
#define TIDE__CQ_NOTIF (1u << 3)  /* zero-copy notification: buffer free */
#define TIDE__CQ_BID_SHIFT 16

static inline unsigned tide__cq_bid(uint32_t cflags)
{
	return cflags >> TIDE__CQ_BID_SHIFT;
}

/* Called once per completion of op; cflags holds TIDE__CQ_*. */
typedef void tide__op_fn(struct tide_loop *loop, struct tide__op *op,
			 int32_t res, uint32_t cflags);

/*
 * An operation record: 16 bytes, embedded first in whatever owns the
 * operation (a future).  The engine owns eflags; kind/cont/fflags/aux belong
 * to the owner.
 */
struct tide__op {
	tide__op_fn *done;
	uint8_t eflags; /* TIDE__OP_* */
	uint8_t kind;	/* owner's */
	uint8_t cont;	/* owner's */
	uint8_t fflags; /* owner's */
	uint32_t aux;	/* owner's */
};

enum {
	TIDE__OP_CANCELLED_EARLY = 1u << 0, /* refused before it started */
	TIDE__OP_DEADLINE = 1u << 1,	    /* has a deadline (ops.h) */
	TIDE__OP_INTERNAL = 1u
			    << 2,   /* backend submits it itself: not counted */
	TIDE__OP_BACKEND = 1u << 3, /* the backend's own mark */
	TIDE__OP_FAULT_LATE = 1u << 4,	/* fault injection: deliver late */
	TIDE__OP_INFLIGHT = 1u << 5,	/* debug builds: counted, not done */
	TIDE__OP_FAULT_MULTI = 1u << 6, /* fault injection: may end early */
};

/* A queued callback: continuation dispatch and call_soon share it. */
struct tide__task {
	tide_post_fn *fn;
	void *arg;
};

struct tide__taskq {
	struct tide__task *v;
	uint32_t head, tail, mask; /* head/tail free-running; mask = cap - 1 */
};

#define TIDE__SLAB_OBJ 64u
#define TIDE__SLAB_CHUNK (64u * 1024u)

struct tide__slab {
	void *free;   /* singly linked free objects */
	void *chunks; /* chunk list (first word of each chunk's header) */
	uint64_t chunks_n;
	uint64_t live; /* debug builds only: tide__slab_live() counts */
};

/* The part of the loop the future layer works with. */
struct tide__core {
	struct tide__slab slab;
	uint32_t cb_nest; /* nesting of inline dispatch */
	/* >0 forbids running continuations inline: counts user callbacks on
	 * the stack, +1 outside dispatch, +1 in debug mode */
	uint32_t in_user;
	bool debug;
	bool stop;
	bool running;
	bool closing;
	uint64_t ops_pending; /* user ops awaiting their final completion */
	uint64_t holds;	      /* promises and other external work */
	uint64_t slow_ns; /* debug: a callback slower than this is reported */
	struct tide__taskq ready;
	/* api/task.c's per-loop state (stack pool, live tasks), released by
	 * tasks_free after quiesce, before the slab goes */
	void *tasks;
	void (*tasks_free)(struct tide_loop *loop);
};

static inline struct tide__core *tide__core(struct tide_loop *loop)
{
	return (struct tide__core *)(void *)loop;
}

static inline const struct tide__core *
tide__core_c(const struct tide_loop *loop)
{
	return (const struct tide__core *)(const void *)loop;
}

/* May a continuation run inline now: no user code on the stack and inline
 * dispatch nested less than max deep?  Two loads, each the size of the
 * counter's own stores: one 8-byte load over both (a single compare) was
 * tried, but it cannot be forwarded from the 4-byte in_user++/-- just
 * before it and waits for that store to reach the cache -- tide_nop()'s
 * completion spent 3.9% of a NOP benchmark's time on that one load.
 * tide__may_dispatch_at(): the same test from inside exactly in_user
 * brackets of user code. */
static inline bool tide__may_dispatch_at(const struct tide__core *c,
					 uint32_t in_user, uint32_t max)
{
	return c->in_user == in_user && c->cb_nest < max;
}
static inline bool tide__may_dispatch(const struct tide__core *c, uint32_t max)
{
	return tide__may_dispatch_at(c, 0, max);
}

/* ---- slab (engine/core/slab.c) ---- */
void *tide__slab_grow(struct tide_loop *loop);
void tide__slab_destroy(struct tide_loop *loop);
/* Objects allocated and not freed (walks the free list: for reports). */
uint64_t tide__slab_live(struct tide_loop *loop);

/* Debug builds mark a freed object's second word, so a second free or a
 * use after free is caught (a live object holding this exact value there
 * is not a concern for a debug aid). */
#define TIDE__SLAB_FREED 0xf5eeded5deadf5eeull

static inline bool tide__slab_freed(const void *p)
{
	return TIDE_DEBUG && ((const uint64_t *)p)[1] == TIDE__SLAB_FREED;
}

static inline void *tide__slab_alloc(struct tide_loop *loop)
{
	struct tide__slab *s = &tide__core(loop)->slab;
	void **o = (void **)s->free;

	if (__builtin_expect(!o, 0))
		return tide__slab_grow(loop);
	s->free = *o;
	if (TIDE_DEBUG) {
		s->live++;
		((uint64_t *)o)[1] = 0;
	}
	return o;
}

static inline void tide__slab_free(struct tide_loop *loop, void *p)
{
	struct tide__slab *s = &tide__core(loop)->slab;
	void **o = (void **)p;

	TIDE__ASSERT(!tide__slab_freed(p), "slab object %p freed twice", p);
	TIDE__ASSERT(s->live > 0,
		     "slab of loop %p: more frees than "
		     "allocations",
		     (void *)loop);
	if (TIDE_DEBUG)
		((uint64_t *)o)[1] = TIDE__SLAB_FREED;
	*o = s->free;
	s->free = o;
	if (TIDE_DEBUG)
		s->live--;
}

/* The loop that owns a slab object (chunks are aligned to their size). */
static inline struct tide_loop *tide__slab_loop(const void *p)
{
	uintptr_t c = (uintptr_t)p & ~(uintptr_t)(TIDE__SLAB_CHUNK - 1);
	return *(struct tide_loop **)c;
}

/* Fault injection's alloc (engine/core/fault.c): should this allocation
 * of the library's own (a stream, a server, a process record) fail as if
 * memory had run out?  false at once when the kind is off. */
bool tide__fault_nomem(struct tide_loop *loop);
/* The library's allocations on a loop's behalf (loop thread only): malloc,
 * calloc and realloc, except that under fault injection's alloc they fail
 * as the real ones do when memory runs out (NULL; realloc leaves p as it
 * was).  engine/core/fault.c. */
void *tide__malloc(struct tide_loop *loop, size_t n);
void *tide__calloc(struct tide_loop *loop, size_t k, size_t n);
void *tide__realloc(struct tide_loop *loop, void *p, size_t n);

/* ---- completions (both backends deliver through this) ---- */
/* Debug builds: op is counted in ops_pending until its final completion. */
static inline void tide__op_inflight(struct tide__op *op)
{
	if (TIDE_DEBUG)
		op->eflags |= TIDE__OP_INFLIGHT;
}

/* The rare completions: refused before they started, held back by fault
 * injection (engine/core/fault.c), or the engine's own (not counted). */
void tide__complete_odd(struct tide_loop *loop, struct tide__op *op,
			int32_t res, uint32_t cflags);

/* A counted op's final completion: it no longer counts as pending. */
static inline void tide__op_uncount(struct tide_loop *loop, struct tide__op *op,
				    uint32_t cflags)
{
	if (!(cflags & TIDE__CQ_MORE)) {
		TIDE__ASSERT(tide__core(loop)->ops_pending > 0,
			     "ops_pending would go negative (record %p)",
			     (void *)op);
		if (TIDE_DEBUG)
			op->eflags &= (uint8_t)~TIDE__OP_INFLIGHT;
		tide__core(loop)->ops_pending--;
	}
}

/* An op's final completion, the engine's own (not counted) included. */
static inline void tide__op_retire(struct tide_loop *loop, struct tide__op *op,
				   uint32_t cflags)
{
	if (!(op->eflags & TIDE__OP_INTERNAL))
		tide__op_uncount(loop, op, cflags);
}

static inline void tide__complete_in(struct tide_loop *loop,
				     struct tide__op *op, int32_t res,
				     uint32_t cflags, uint32_t in_user)
{
	TIDE__ASSERT(op->done && ((op->eflags & TIDE__OP_INTERNAL) ||
				  (op->eflags & TIDE__OP_INFLIGHT)),
		     "completion (res %d) for record %p, which is not in "
		     "flight",
		     res, (void *)op);
	/* the engine's own records (not counted) take the odd road too:
	 * one test on the common path */
	if (__builtin_expect(op->eflags &
				     (TIDE__OP_CANCELLED_EARLY |
				      TIDE__OP_FAULT_LATE |
				      TIDE__OP_FAULT_MULTI | TIDE__OP_INTERNAL),
			     0)) {
		tide__complete_odd(loop, op, res, cflags); /* calls the hook */
	} else {
		tide__op_uncount(loop, op, cflags);
		op->done(loop, op, res, cflags);
	}
	/* a hook whose last step is a call into user code leaves that
	 * bracket's end to us, so the call can be a tail call
	 * (tide__op_done()) */
	tide__core(loop)->in_user = in_user;
}

/* Deliver a completion to op's hook (loop thread, from the dispatcher). */
static inline void tide__complete(struct tide_loop *loop, struct tide__op *op,
				  int32_t res, uint32_t cflags)
{
	tide__complete_in(loop, op, res, cflags, tide__core(loop)->in_user);
}

/*
 * An -ECANCELED its owner did not ask for (asked: it cancelled the
 * operation itself): the kernel cancelled the operation before it ran, as
 * io-wq does when the thread that submitted it exits, and TIDE_FAULT's
 * cancel does.  It moved nothing, so an owner that issued the operation
 * on its own behalf (a stream's receive, a process wait) issues it again,
 * as after EINTR.  Not while the loop is being freed: there every
 * operation completes -ECANCELED and starting again would never end.
 */
static inline bool tide__cancel_unasked(struct tide_loop *loop, int64_t res,
					bool asked)
{
	return __builtin_expect(res == -ECANCELED, 0) && !asked &&
	       !tide__core(loop)->closing;
}

/* Deliver a completion on the next dispatch instead of now (results known
 * at submission, refusals while closing, per-op fallbacks).  0 or -ENOMEM;
 * op must already be counted (it is, inside a tide__op_*() call). */
int tide__complete_later(struct tide_loop *loop, struct tide__op *op,
			 int32_t res, uint32_t cflags);

/* ---- posts that need no memory (engine/core/loop.c) ---- */
/* Embedded in whatever it delivers. */
struct tide__post {
	struct tide__post *next;
	tide_post_fn *fn;
	void *arg;
};

/*
 * Post node->fn(node->arg) to the loop whose pointer and id
 * (tide__loop_id()) are given, from any thread.  Cannot fail for memory:
 * 0, or -ESHUTDOWN when that loop has been freed or is being freed;
 * then the node is untouched and the caller still owns it.  Safe to call with a pointer to a freed loop.
 */
int tide__loop_post_node(struct tide_loop *loop, uint64_t id,
			 struct tide__post *node);
/* The loop's id: never reused within the process. */
uint64_t tide__loop_id(const struct tide_loop *loop);

/* ---- user callbacks and the dispatcher (engine/core/loop.c) ---- */
int tide__taskq_push(struct tide__taskq *q, tide_post_fn *fn, void *arg);
static inline uint32_t tide__taskq_len(const struct tide__taskq *q)
{
	return q->tail - q->head;
}
/* Queue fn(arg) for this loop's dispatch (loop thread only). */
int tide__defer(struct tide_loop *loop, tide_post_fn *fn, void *arg);
/* Print a warning (debug mode only). */
void tide__warn(struct tide_loop *loop, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void tide__hold(struct tide_loop *loop)
{
	tide__core(loop)->holds++;
}
static inline void tide__unhold(struct tide_loop *loop)
{
	tide__core(loop)->holds--;
}
/* Bracket a call into user code: continuations it triggers are queued,
 * not run on top of it. */
static inline void tide__user_enter(struct tide_loop *loop)
{
	tide__core(loop)->in_user++;
}
static inline void tide__user_leave(struct tide_loop *loop)
{
	tide__core(loop)->in_user--;
}
/* One loop iteration (tide_loop_run_once() without resetting stop). */
int tide__iterate(struct tide_loop *loop, int wait);
/* Count a timer armed (tide_loop_stats). */
void tide__count_timer(struct tide_loop *loop);

#endif /* TIDE_ENGINE_CORE_H */
