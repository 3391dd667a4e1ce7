/* SPDX-License-Identifier: MIT */
/*
 * future_impl.h - the future record, private to api/.
 *
 * One 64-byte slab object holds a future together with its operation record
 * and its continuation, so an in-flight operation with a continuation costs
 * exactly one object (tide_future_then() adds the derived future: a second).
 */
#ifndef TIDE_FUTURE_IMPL_H
#define TIDE_FUTURE_IMPL_H

#include <string.h>

#include "ops.h"

struct tide_future {
	struct tide__op op; /* engine record; kind/cont/fflags/aux are ours */
	union {
		struct {
			int64_t result;
			void *payload;
		};
		/* timers keep their timespec here until the backend read it */
		struct __kernel_timespec ts;
	};
	void *fn; /* continuation */
	void *arg;
	struct tide_future *next; /* derived future, or forward target */
	void *ext;		  /* kind specific: source, state, copies */
};

_Static_assert(sizeof(struct tide_future) == TIDE__SLAB_OBJ,
	       "a future is one slab object");

enum fut_kind {
	TIDE__FK_OP = 1, /* an engine operation; ext = copied arguments */
	TIDE__FK_TIMER, /* tide__op_timeout(); ext = call_later callback or NULL */
	TIDE__FK_PROMISE, /* ext = cancel handler (slab) or NULL */
	TIDE__FK_DERIVED, /* then/forward result; ext = the future it waits on */
	TIDE__FK_SHIELD,  /* ext = the shielded future */
	TIDE__FK_COMBO,	  /* all/any/timeout result; ext = combinator state */
	TIDE__FK_READY,
};

enum fut_cont {
	TIDE__FC_NONE = 0,
	TIDE__FC_THEN,	   /* fn: tide_then_fn, success only; next = derived */
	TIDE__FC_WRAPPED,  /* fn: tide_then_fn, any outcome; next = derived */
	TIDE__FC_DONE,	   /* fn: tide_done_fn */
	TIDE__FC_FORWARD,  /* resolve next with our outcome */
	TIDE__FC_INTERNAL, /* fn: fut_internal_fn, aux = index */
	TIDE__FC_DISCARD,  /* nobody wants the outcome */
};

enum fut_flags {
	TIDE__FF_RESOLVED = 1u << 0,
	TIDE__FF_CONSUMED = 1u << 1, /* continuation attached or released */
	TIDE__FF_RELEASED = 1u << 2,
	TIDE__FF_CANCEL = 1u << 3,   /* cancellation requested */
	TIDE__FF_READ = 1u << 4,     /* result was observed */
	TIDE__FF_EXT_SLAB = 1u << 5, /* ext is a slab object to free */
	TIDE__FF_EXT_MALLOC = 1u << 6,
	TIDE__FF_FILLS = 1u << 7, /* the kernel writes res bytes at payload (or
			       * into the iovecs at ext) */
};

/* Internal continuation: combinators see each input's outcome. */
typedef void fut_internal_fn(void *state, uint32_t index, int64_t result,
			     void *payload);

/* Cancel hook at the start of every combinator state. */
struct combo {
	void (*cancel)(struct combo *c);
};

/* A promise's cancel handler: a slab object (tide_promise_on_cancel()), or
 * one its owner keeps (tide__promise_cancel_at()). */
struct tide__cancel {
	tide_post_fn *fn;
	void *arg;
};

/* Give pending promise p the cancel handler h, which the caller keeps
 * alive while p is pending: no allocation, for an owner with one such
 * promise at a time (a stream's read). */
static inline void tide__promise_cancel_at(struct tide_future *p,
					   struct tide__cancel *h)
{
	p->ext = h;
}

void tide__future_free(struct tide_future *f);
void tide__future_resolve(struct tide_future *f, int64_t res, void *payload);
/* Attach an internal continuation; consumes f.  f == NULL resolves the
 * input as -ENOMEM on the next dispatch. */
int tide__future_watch(struct tide_loop *loop, struct tide_future *f,
		       fut_internal_fn *fn, void *state, uint32_t index);
/* Done hook for plain operation futures. */
void tide__op_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		   uint32_t cflags);

_Static_assert(offsetof(struct tide__op, eflags) == 8 &&
		       offsetof(struct tide__op, kind) == 9 &&
		       sizeof(struct tide__op) == 16 &&
		       __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the flag bytes are read and written as one word");

/* Attach an on_done callback to a pending future whose flag bytes (the
 * eight from op.eflags) the caller read as w and found neither consumed
 * nor resolved.  The bytes are written back as that one word: a byte store
 * into the word tide__future_new_done() just stored, and a byte load from
 * it, may wait for the store to reach the cache instead of being
 * forwarded. */
static inline void tide__future_attach_word(struct tide_future *f,
					    tide_done_fn *fn, void *arg,
					    uint64_t w)
{
	w = (w & ~((uint64_t)0xff << 16)) | (uint64_t)TIDE__FC_DONE << 16 |
	    (uint64_t)(TIDE__FF_CONSUMED | TIDE__FF_READ) << 24;
	f->fn = (void *)fn;
	f->arg = arg;
	memcpy(&f->op.eflags, &w, sizeof(w));
}

/* Attach an on_done callback to a fresh pending future (not consumed, not
 * resolved: the caller checked): tide_future_on_done()'s fast path, inline
 * so that callers on a hot path (tide_await) make no call. */
static inline void tide__future_on_done_fresh(struct tide_future *f,
					      tide_done_fn *fn, void *arg)
{
	uint64_t w;

	memcpy(&w, &f->op.eflags, sizeof(w));
	tide__future_attach_word(f, fn, arg, w);
}

static inline bool fut_resolved(const struct tide_future *f)
{
	return f->op.fflags & TIDE__FF_RESOLVED;
}

#define TIDE__MAX_NEST 8

/* Debug mode (api/task.c): a future created while a task runs is noted
 * (ra: the creating call's return address), and forgotten when it is
 * freed, so a task that finishes with futures nobody consumed is
 * reported with its name, exactly. */
void tide__task_future_born(struct tide_loop *loop, struct tide_future *f,
			    void *ra);
void tide__task_future_gone(struct tide_loop *loop, struct tide_future *f);

/* A new future of kind whose record completes through done. */
static inline struct tide_future *
tide__future_new_done(struct tide_loop *loop, int kind, tide__op_fn *done)
{
	struct tide_future *f = (struct tide_future *)tide__slab_alloc(loop);

	if (__builtin_expect(!f, 0))
		return NULL;
	/* fn/arg/next are written when a continuation is attached and only
	 * read when op.cont says so; result is written at resolution.  The
	 * record as two 8-byte stores: the flag bytes are read back at once
	 * (tide_future_on_done()), and a load from inside one 16-byte vector
	 * store, what `= (struct tide__op){...}` compiles to, is not
	 * forwarded on every core. */
	uint64_t w = (uint64_t)(uint8_t)kind << 8; /* all flags 0, aux 0 */

	f->op.done = done;
	memcpy(&f->op.eflags, &w, sizeof(w));
	f->payload = NULL;
	f->ext = NULL;
	if (kind == TIDE__FK_PROMISE)
		tide__hold(loop);
	if (__builtin_expect(tide__core(loop)->debug, 0))
		tide__task_future_born(loop, f, __builtin_return_address(0));
	return f;
}

static inline struct tide_future *tide__future_new(struct tide_loop *loop,
						   int kind)
{
	return tide__future_new_done(loop, kind, NULL);
}

/*
 * Resolve an operation future from its completion hook.  The common case,
 * an on_done callback that may run now, is handled here without queueing
 * (same rule as the dispatcher: not inside user code, bounded nesting).
 */
static inline void tide__op_resolve(struct tide_loop *loop,
				    struct tide_future *f, int64_t res,
				    void *payload)
{
	struct tide__core *c = tide__core(loop);

	if (f->op.cont == TIDE__FC_DONE &&
	    tide__may_dispatch(c, TIDE__MAX_NEST) &&
	    !(f->op.fflags & (TIDE__FF_EXT_SLAB | TIDE__FF_EXT_MALLOC))) {
		tide_done_fn *fn = (tide_done_fn *)f->fn;
		void *arg = f->arg;

		if (__builtin_expect(c->debug, 0))
			tide__task_future_gone(loop, f);
		tide__slab_free(loop, f);
		c->in_user++;
		fn(arg, res, payload);
		c->in_user--;
		return;
	}
	tide__future_resolve(f, res, payload);
}

/*
 * Resolve pending promise p from library code called directly for a
 * completion, with no user code below it (in_user is the one bracket
 * around that call; a stream's receive callback), as that code's last
 * step: an on_done continuation runs now, as tide__op_resolve() runs one,
 * anything else as tide_promise_resolve().
 */
static inline void tide__promise_resolve_direct(struct tide_loop *loop,
						struct tide_future *p,
						int64_t res, void *payload)
{
	struct tide__core *c = tide__core(loop);

	if (p->op.cont == TIDE__FC_DONE &&
	    tide__may_dispatch_at(c, 1, TIDE__MAX_NEST) && !c->debug &&
	    !(p->op.fflags & (TIDE__FF_EXT_SLAB | TIDE__FF_EXT_MALLOC))) {
		tide_done_fn *fn = (tide_done_fn *)p->fn;
		void *arg = p->arg;

		tide__unhold(loop);
		tide__slab_free(loop, p);
		c->cb_nest++;
		fn(arg, res, payload);
		c->cb_nest--;
		return;
	}
	tide__future_resolve(p, res, payload);
}

/* The kernel's largest single read or write; longer requests are clamped
 * and complete short, as the man pages say. */
#define TIDE__MAX_RW 0x7ffff000u

static inline unsigned tide__clamp_len(size_t len)
{
	return len > TIDE__MAX_RW ? TIDE__MAX_RW : (unsigned)len;
}

/* A new operation future completing through done (NULL: the plain
 * tide__op_done); start its operation, then pass the result of the
 * tide__op_*() call to tide__op_started(). */
static inline struct tide_future *tide__op_new(struct tide_loop *loop,
					       tide__op_fn *done)
{
	return tide__future_new_done(loop, TIDE__FK_OP,
				     done ? done : tide__op_done);
}

/* f; when its operation could not start, f is freed and the caller gets
 * NULL for -ENOMEM (no future exists) or a future failed with the error
 * (-EOPNOTSUPP: the backend cannot do it). */
__attribute__((cold, noinline)) struct tide_future *
tide__op_not_started(struct tide_future *f, int ret);

static inline struct tide_future *tide__op_started(struct tide_future *f,
						   int ret)
{
	if (__builtin_expect(ret != 0, 0))
		return tide__op_not_started(f, ret);
	return f;
}

#endif /* TIDE_FUTURE_IMPL_H */
