/* SPDX-License-Identifier: MIT */
/*
 * tide/future.h - futures, continuations, promises and combinators.
 * Include <tide.h> rather than this file.
 *
 * Ownership, in one paragraph (tide(7) has the long form):
 *  - Every function that returns a struct tide_future * gives the caller one
 *    future to *consume*.  A future is consumed by exactly one of:
 *    tide_future_then(), tide_future_then_wrapped(), tide_future_on_done(),
 *    tide_future_timeout(), tide_future_shield(), tide_all(), tide_any(),
 *    tide_future_release().  After that call the pointer is no longer the
 *    caller's.  tide_loop_run_until() and the accessors do not consume.
 *  - NULL is a valid future argument everywhere: it stands for a future that
 *    failed with -ENOMEM (the only way creating a future can fail), so
 *    chains need no NULL checks; tide_future_then(NULL, ...) returns NULL.
 *  - A buffer handed to an operation belongs to the kernel until that
 *    operation's future has resolved, cancellation and timeouts included.
 *  - Continuations run on the loop thread, exactly once, never inline in the
 *    call that attached them: one attached to an already-resolved future is
 *    queued and runs in the loop's next dispatch (asyncio's call_soon rule).
 *    Resolutions inside continuations are queued too, so a chain of any
 *    length runs iteratively with a constant stack.
 *  - A future released while pending is detached: the operation runs to its
 *    end and the future is freed then.  With TIDE_DEBUG=1 a future that failed
 *    and is released without its result ever being read prints a warning.
 */
#ifndef TIDE_FUTURE_H
#define TIDE_FUTURE_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A result: value >= 0, or -errno; payload is operation specific. */
struct tide_outcome {
	int64_t result;
	void *payload;
};

/*
 * Continuation that returns the next future (chain flattening): return an
 * operation's future, tide_future_ready()/tide_future_fail(), or NULL for
 * -ENOMEM.  The future returned becomes the derived future's result source.
 */
typedef struct tide_future *tide_then_fn(struct tide_loop *loop, void *arg,
					 int64_t result, void *payload);

/* Terminal callback (asyncio's add_done_callback): sees every outcome. */
typedef void tide_done_fn(void *arg, int64_t result, void *payload);

/* ---- continuations ---------------------------------------------------- */

/*
 * When f succeeds (result >= 0) call fn and resolve the returned future
 * with the outcome of the future fn returns.  When f fails, fn is skipped
 * and the returned future fails with f's error.  Consumes f.
 */
TIDE_API struct tide_future *tide_future_then(struct tide_future *f,
					      tide_then_fn *fn, void *arg);

/* As tide_future_then(), but fn runs for every outcome, errors included. */
TIDE_API struct tide_future *
tide_future_then_wrapped(struct tide_future *f, tide_then_fn *fn, void *arg);

/*
 * Call fn once f resolves, with its outcome; nothing is derived.  Consumes f
 * (also on error).  Returns 0, or -EINVAL when f is NULL (fn then runs
 * never: the caller handles -ENOMEM itself).
 */
TIDE_API int tide_future_on_done(struct tide_future *f, tide_done_fn *fn,
				 void *arg);

/* Give up f: a pending operation runs on and is freed when it ends. */
TIDE_API void tide_future_release(struct tide_future *f);

/* 1 when f has resolved (NULL counts as resolved with -ENOMEM). */
TIDE_API int tide_future_done(const struct tide_future *f);

/* Result of a resolved future (-EAGAIN while pending, -ENOMEM for NULL). */
TIDE_API int64_t tide_future_result(struct tide_future *f);

/* Payload of a resolved future, or NULL. */
TIDE_API void *tide_future_payload(const struct tide_future *f);

/*
 * Request cancellation (asyncio's Task.cancel).  The future resolves with
 * -ECANCELED once the kernel has let go of the operation's buffers; if the
 * operation completed first it keeps its real result.  A derived future
 * cancels whatever it is waiting on; if that has already resolved, the
 * continuation still runs with the real outcome (so an fd is never lost)
 * and the future it returns is cancelled instead.  Returns 0 when cancellation was
 * requested, -EALREADY when f has resolved, -EINVAL for NULL.  Does not
 * consume f.
 */
TIDE_API int tide_future_cancel(struct tide_future *f);

/*
 * A future that resolves with f's outcome but whose cancellation does not
 * reach f (asyncio's shield): cancelling it resolves it with -ECANCELED at
 * once while f runs on, detached.  Consumes f.
 */
TIDE_API struct tide_future *tide_future_shield(struct tide_future *f);

/*
 * Resolve with f's outcome, or with -ETIMEDOUT if f has not resolved after
 * timeout_ns.  On timeout f is cancelled in the kernel and the result comes
 * only after the kernel let go of f's buffers; if f completed in the race,
 * its real result wins (no data is lost).  Consumes f.
 */
TIDE_API struct tide_future *tide_future_timeout(struct tide_future *f,
						 uint64_t timeout_ns);

/* ---- ready futures and promises -------------------------------------- */

/* A future already resolved with value (>= 0) and payload. */
TIDE_API struct tide_future *tide_future_ready(struct tide_loop *loop,
					       int64_t value, void *payload);

/* A future already failed with err (a negative errno; else -EINVAL). */
TIDE_API struct tide_future *tide_future_fail(struct tide_loop *loop, int err);

/*
 * A pending future that user code resolves with tide_promise_resolve().
 * Loop thread only; from another thread, tide_loop_post() a function that
 * resolves it.  Cancelling a promise resolves it with -ECANCELED.
 */
TIDE_API struct tide_future *tide_promise_new(struct tide_loop *loop);

/*
 * Resolve a promise with result (>= 0 success, < 0 -errno) and payload.
 * The promise must still be held by the caller or have been consumed by
 * a continuation/combinator (it stays valid until it resolves).
 * Returns 0, -EALREADY if it had resolved, -EINVAL if p is no promise.
 */
TIDE_API int tide_promise_resolve(struct tide_future *p, int64_t result,
				  void *payload);

/*
 * Let the owner of promise p decide what cancellation means: with a handler
 * set, tide_future_cancel() on p (or on a future derived from it) calls
 * fn(arg) on the loop thread instead of resolving p, and the owner resolves
 * p (typically with -ECANCELED) once it is safe.  Without one, cancel
 * resolves p with -ECANCELED at once.  Returns 0, -EALREADY if p resolved,
 * -EINVAL if p is no promise.
 */
TIDE_API int tide_promise_on_cancel(struct tide_future *p, tide_post_fn *fn,
				    void *arg);

/* ---- combinators ------------------------------------------------------ */

/*
 * asyncio's gather: resolve when all n futures have resolved.  out[i]
 * receives each outcome; out must live until the result future resolves.
 * Resolves with 0 when every future succeeded, else with the error of the
 * failed future of lowest index.  Consumes every futs[i]; n == 0 resolves
 * with 0 at once.
 */
TIDE_API struct tide_future *tide_all(struct tide_loop *loop,
				      struct tide_future **futs, size_t n,
				      struct tide_outcome *out);

enum {
	TIDE_ANY_CANCEL = 0, /* cancel the others; resolve once all let go */
	TIDE_ANY_LEAVE = 1,  /* resolve at once; the others run on, detached */
};

/*
 * Resolve with the index of the first of n futures to resolve (any
 * outcome).  out[i], if out is not NULL, receives each outcome known when
 * the result resolves.  With TIDE_ANY_CANCEL the others are cancelled and
 * the result resolves only when every future has resolved, so all buffers
 * are free again.  With TIDE_ANY_LEAVE it resolves at once, out[] is not
 * written after that, and the others' buffers must live until the loop is
 * idle.  Consumes every futs[i].  n == 0
 * or an unknown mode resolves with -EINVAL.
 */
TIDE_API struct tide_future *tide_any(struct tide_loop *loop,
				      struct tide_future **futs, size_t n,
				      int mode, struct tide_outcome *out);

/* ---- time ------------------------------------------------------------- */

/* Resolve with 0 after ns nanoseconds. */
TIDE_API struct tide_future *tide_sleep(struct tide_loop *loop, uint64_t ns);

/* Resolve with 0 at the CLOCK_MONOTONIC time abs_ns (see tide_now_ns()). */
TIDE_API struct tide_future *tide_sleep_until(struct tide_loop *loop,
					      uint64_t abs_ns);

/* ---- running ---------------------------------------------------------- */

/*
 * asyncio's run_until_complete: run the loop until f resolves.  Does not
 * consume f: read it with tide_future_result() and release it.  Returns 0
 * when f resolved, -EDEADLK when the loop went idle with f still pending
 * (nothing could resolve it), -EINTR after tide_loop_stop(), -EINVAL for
 * NULL, or a ring error.
 */
TIDE_API int tide_loop_run_until(struct tide_loop *loop, struct tide_future *f);

/* Run fn(arg) in the loop's next dispatch.  Loop thread.  0 or -ENOMEM. */
TIDE_API int tide_call_soon(struct tide_loop *loop, tide_post_fn *fn,
			    void *arg);

/*
 * Run fn(arg) after ns nanoseconds; the returned future resolves with 0
 * after fn ran.  Cancel it to keep fn from running (-ECANCELED).
 */
TIDE_API struct tide_future *tide_call_later(struct tide_loop *loop,
					     uint64_t ns, tide_post_fn *fn,
					     void *arg);

/* As tide_call_later() at the CLOCK_MONOTONIC time abs_ns. */
TIDE_API struct tide_future *tide_call_at(struct tide_loop *loop,
					  uint64_t abs_ns, tide_post_fn *fn,
					  void *arg);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_FUTURE_H */
