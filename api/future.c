// SPDX-License-Identifier: MIT
/*
 * future.c - future lifecycle, continuations, promises, cancellation and
 * running until a future resolves.
 *
 * Dispatch rule: a continuation runs inline only when the resolution comes
 * from the loop's own dispatch (a CQE or a queued task), outside any user
 * callback, and fewer than MAX_NEST resolutions deep; otherwise it is
 * queued.  So user code never sees a continuation run inside a call it
 * made, and chains of any length use a bounded stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "future_impl.h"

#define MAX_NEST TIDE__MAX_NEST

static void free_ext(struct tide_loop *loop, struct tide_future *f)
{
	if (f->op.fflags & TIDE__FF_EXT_SLAB)
		tide__slab_free(loop, f->ext);
	else if (f->op.fflags & TIDE__FF_EXT_MALLOC)
		free(f->ext);
	f->op.fflags &= (uint8_t) ~(TIDE__FF_EXT_SLAB | TIDE__FF_EXT_MALLOC);
	f->ext = NULL;
}

void tide__future_free(struct tide_future *f)
{
	struct tide_loop *loop = tide__slab_loop(f);

	if (f->op.kind == TIDE__FK_PROMISE && !fut_resolved(f))
		tide__unhold(loop);
	free_ext(loop, f);
	if (__builtin_expect(tide__core(loop)->debug, 0))
		tide__task_future_gone(loop, f);
	tide__slab_free(loop, f);
}

static void run_cont(struct tide_future *f);

static void run_cont_task(void *arg)
{
	struct tide_loop *loop = tide__slab_loop(arg);

	/* the dispatcher's own task: not user code (see run_ready()) */
	tide__user_leave(loop);
	run_cont(arg);
	tide__user_enter(loop);
}

static void schedule(struct tide_loop *loop, struct tide_future *f)
{
	const struct tide__core *c = tide__core(loop);

	if (tide__may_dispatch(c, MAX_NEST)) {
		run_cont(f);
		return;
	}
	if (tide__defer(loop, run_cont_task, f)) {
		/* no memory to queue: running now is the only way forward */
		tide__warn(loop,
			   "task queue full; running continuation inline");
		run_cont(f);
	}
}

void tide__future_resolve(struct tide_future *f, int64_t res, void *payload)
{
	struct tide_loop *loop = tide__slab_loop(f);

	if (f->op.kind == TIDE__FK_PROMISE)
		tide__unhold(loop);
	f->result = res;
	f->payload = payload;
	f->op.fflags |= TIDE__FF_RESOLVED;
	if (f->op.cont != TIDE__FC_NONE)
		schedule(loop, f);
	else if (f->op.fflags & TIDE__FF_RELEASED)
		tide__future_free(f);
}

/* Call a user continuation with debug-mode timing. */
static struct tide_future *call_then(struct tide_loop *loop, tide_then_fn *fn,
				     void *arg, int64_t res, void *payload)
{
	struct tide_future *g;
	const struct tide__core *c = tide__core(loop);
	uint64_t t0 = c->debug ? tide_now_ns() : 0;

	tide__user_enter(loop);
	g = fn(loop, arg, res, payload);
	tide__user_leave(loop);
	if (c->debug && tide_now_ns() - t0 > c->slow_ns)
		tide__warn(loop, "continuation %p took %.3f ms", (void *)fn,
			   (double)(tide_now_ns() - t0) / 1e6);
	return g;
}

static void call_done(struct tide_loop *loop, tide_done_fn *fn, void *arg,
		      int64_t res, void *payload)
{
	const struct tide__core *c = tide__core(loop);
	uint64_t t0 = c->debug ? tide_now_ns() : 0;

	tide__user_enter(loop);
	fn(arg, res, payload);
	tide__user_leave(loop);
	if (c->debug && tide_now_ns() - t0 > c->slow_ns)
		tide__warn(loop, "callback %p took %.3f ms", (void *)fn,
			   (double)(tide_now_ns() - t0) / 1e6);
}

/* d now waits for g (chain flattening). */
static void chain(struct tide_loop *loop, struct tide_future *d,
		  struct tide_future *g)
{
	if (!g) {
		tide__future_resolve(d, -ENOMEM, NULL);
		return;
	}
	if (g->op.fflags & TIDE__FF_CONSUMED) {
		tide__warn(loop, "continuation returned a consumed future");
		tide__future_resolve(d, -EINVAL, NULL);
		return;
	}
	g->op.cont = TIDE__FC_FORWARD;
	g->op.fflags |= TIDE__FF_CONSUMED;
	g->next = d;
	d->ext = g;
	if (fut_resolved(g))
		schedule(loop, g);
	else if (d->op.fflags & TIDE__FF_CANCEL)
		tide_future_cancel(g);
}

static void run_cont(struct tide_future *f)
{
	struct tide_loop *loop = tide__slab_loop(f);
	struct tide_future *d = f->next;
	int64_t res = f->result;
	void *payload = f->payload, *fn = f->fn, *arg = f->arg;
	uint8_t cont = f->op.cont;
	uint32_t aux = f->op.aux;

	tide__core(loop)->cb_nest++;
	tide__future_free(f);
	switch (cont) {
	case TIDE__FC_DONE:
		call_done(loop, (tide_done_fn *)fn, arg, res, payload);
		break;
	case TIDE__FC_INTERNAL:
		((fut_internal_fn *)fn)(arg, aux, res, payload);
		break;
	case TIDE__FC_FORWARD:
		d->ext = NULL;
		tide__future_resolve(d, res, payload);
		break;
	case TIDE__FC_THEN:
	case TIDE__FC_WRAPPED:
		d->ext = NULL;
		/* a cancel that arrived after the source resolved does not
		 * discard its outcome (an fd must reach the continuation);
		 * chain() passes the cancel on to the future fn returns */
		if (cont == TIDE__FC_THEN && res < 0)
			tide__future_resolve(d, res, payload);
		else
			chain(loop, d, call_then(loop, fn, arg, res, payload));
		break;
	default: /* TIDE__FC_DISCARD */
		break;
	}
	tide__core(loop)->cb_nest--;
}

/* Give f a continuation; returns with f consumed.  Never runs it inline. */
static void attach(struct tide_future *f, uint8_t cont, void *fn, void *arg,
		   struct tide_future *d)
{
	struct tide_loop *loop = tide__slab_loop(f);

	f->fn = fn;
	f->arg = arg;
	f->next = d;
	f->op.cont = cont;
	f->op.fflags |= TIDE__FF_CONSUMED | TIDE__FF_READ;
	if (d)
		d->ext = f;
	if (fut_resolved(f) && tide__defer(loop, run_cont_task, f)) {
		/* out of memory for the queue: running it now is the only way
		 * not to lose the outcome (the one exception to deferral) */
		tide__warn(loop,
			   "task queue full; running continuation inline");
		run_cont(f);
	}
}

static bool consumable(struct tide_future *f)
{
	TIDE__ASSERT(!tide__slab_freed(f),
		     "future %p used after it was freed "
		     "(consumed or released twice?)",
		     (void *)f);
	TIDE__ASSERT(!(f->op.fflags & TIDE__FF_CONSUMED),
		     "future %p consumed twice", (void *)f);
	if (!(f->op.fflags & TIDE__FF_CONSUMED))
		return true;
	tide__warn(tide__slab_loop(f), "future %p consumed twice", (void *)f);
	return false;
}

static struct tide_future *derive(struct tide_future *f, uint8_t cont,
				  tide_then_fn *fn, void *arg, int kind)
{
	struct tide_loop *loop;
	struct tide_future *d;

	if (!f)
		return NULL;
	loop = tide__slab_loop(f);
	if (!consumable(f))
		return tide_future_fail(loop, -EINVAL);
	d = tide__future_new(loop, kind);
	if (!d) {
		tide_future_release(f);
		return NULL;
	}
	attach(f, cont, (void *)fn, arg, d);
	return d;
}

struct tide_future *tide_future_then(struct tide_future *f, tide_then_fn *fn,
				     void *arg)
{
	if (!fn) {
		tide_future_release(f);
		return f ? tide_future_fail(tide__slab_loop(f), -EINVAL) : NULL;
	}
	return derive(f, TIDE__FC_THEN, fn, arg, TIDE__FK_DERIVED);
}

struct tide_future *tide_future_then_wrapped(struct tide_future *f,
					     tide_then_fn *fn, void *arg)
{
	if (!fn) {
		tide_future_release(f);
		return f ? tide_future_fail(tide__slab_loop(f), -EINVAL) : NULL;
	}
	return derive(f, TIDE__FC_WRAPPED, fn, arg, TIDE__FK_DERIVED);
}

struct tide_future *tide_future_shield(struct tide_future *f)
{
	return derive(f, TIDE__FC_FORWARD, NULL, NULL, TIDE__FK_SHIELD);
}

/* tide_future_on_done() for all but a fresh pending future: out of line,
 * so the fast path saves no registers. */
static __attribute__((noinline, cold)) int
on_done_slow(struct tide_future *f, tide_done_fn *fn, void *arg)
{
	if (!f)
		return -EINVAL;
	if (!fn) {
		tide_future_release(f);
		return -EINVAL;
	}
	if (!consumable(f))
		return -EINVAL;
	attach(f, TIDE__FC_DONE, (void *)fn, arg, NULL);
	return 0;
}

int tide_future_on_done(struct tide_future *f, tide_done_fn *fn, void *arg)
{
	uint64_t w;

	if (__builtin_expect(!f || !fn, 0))
		return on_done_slow(f, fn, arg);
	/* fast path: a fresh pending future gets its callback in place, its
	 * flag bytes read as one word (tide__future_attach_word()) */
	memcpy(&w, &f->op.eflags, sizeof(w));
	if (__builtin_expect(!((w >> 24) &
			       (TIDE__FF_CONSUMED | TIDE__FF_RESOLVED)),
			     1)) {
		tide__future_attach_word(f, fn, arg, w);
		return 0;
	}
	return on_done_slow(f, fn, arg);
}

int tide__future_watch(struct tide_loop *loop, struct tide_future *f,
		       fut_internal_fn *fn, void *state, uint32_t index)
{
	if (!f)
		f = tide_future_fail(loop, -ENOMEM);
	if (!f)
		return -ENOMEM;
	if (!consumable(f))
		return -EINVAL;
	f->op.aux = index;
	attach(f, TIDE__FC_INTERNAL, (void *)fn, state, NULL);
	return 0;
}

void tide_future_release(struct tide_future *f)
{
	if (!f || !consumable(f))
		return;
	if (fut_resolved(f)) {
		if (f->result < 0 && !(f->op.fflags & TIDE__FF_READ))
			tide__warn(
				tide__slab_loop(f),
				"future failed (%s) and its result was never "
				"read",
				tide_strerror((int)f->result));
		tide__future_free(f);
		return;
	}
	f->op.fflags |= TIDE__FF_CONSUMED | TIDE__FF_RELEASED;
}

int tide_future_done(const struct tide_future *f)
{
	return !f || fut_resolved(f);
}

int64_t tide_future_result(struct tide_future *f)
{
	if (!f)
		return -ENOMEM;
	if (!fut_resolved(f))
		return -EAGAIN;
	f->op.fflags |= TIDE__FF_READ;
	return f->result;
}

void *tide_future_payload(const struct tide_future *f)
{
	return f && fut_resolved(f) ? f->payload : NULL;
}

/* ---- cancellation ---- */

static int cancel_leaf(struct tide_loop *loop, struct tide_future *f)
{
	struct tide__cancel *h;
	int ret;

	switch (f->op.kind) {
	case TIDE__FK_OP:
	case TIDE__FK_TIMER:
		if (f->op.fflags & TIDE__FF_CANCEL)
			return 0;
		ret = tide__op_cancel(loop, &f->op);
		if (ret == 0)
			f->op.fflags |= TIDE__FF_CANCEL;
		return ret;
	case TIDE__FK_PROMISE:
		f->op.fflags |= TIDE__FF_CANCEL;
		h = f->ext;
		if (!h) {
			tide__future_resolve(f, -ECANCELED, NULL);
			return 0;
		}
		tide__user_enter(loop);
		h->fn(h->arg);
		tide__user_leave(loop);
		return 0;
	case TIDE__FK_SHIELD:
		if (f->ext) {
			struct tide_future *src = f->ext;

			src->op.cont = TIDE__FC_DISCARD;
			f->ext = NULL;
		}
		tide__future_resolve(f, -ECANCELED, NULL);
		return 0;
	case TIDE__FK_COMBO:
		f->op.fflags |= TIDE__FF_CANCEL;
		if (f->ext)
			((struct combo *)f->ext)->cancel(f->ext);
		return 0;
	default:
		return -EALREADY;
	}
}

int tide_future_cancel(struct tide_future *f)
{
	if (!f)
		return -EINVAL;
	/* walk down a chain of derived futures iteratively */
	while (!fut_resolved(f) && f->op.kind == TIDE__FK_DERIVED) {
		struct tide_future *src = f->ext;

		f->op.fflags |= TIDE__FF_CANCEL;
		if (!src || fut_resolved(src))
			return 0; /* chain() cancels what fn returns */
		f = src;
	}
	if (fut_resolved(f))
		return -EALREADY;
	return cancel_leaf(tide__slab_loop(f), f);
}

/* ---- ready futures and promises ---- */

struct tide_future *tide_future_ready(struct tide_loop *loop, int64_t value,
				      void *payload)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__future_new(loop, TIDE__FK_READY);
	if (!f)
		return NULL;
	if (value < 0)
		value = -EINVAL;
	f->result = value;
	f->payload = payload;
	f->op.fflags = TIDE__FF_RESOLVED;
	return f;
}

struct tide_future *tide_future_fail(struct tide_loop *loop, int err)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__future_new(loop, TIDE__FK_READY);
	if (!f)
		return NULL;
	f->result = err < 0 ? err : -EINVAL;
	f->op.fflags = TIDE__FF_RESOLVED;
	return f;
}

struct tide_future *tide_promise_new(struct tide_loop *loop)
{
	return loop ? tide__future_new(loop, TIDE__FK_PROMISE) : NULL;
}

int tide_promise_resolve(struct tide_future *p, int64_t result, void *payload)
{
	if (!p || p->op.kind != TIDE__FK_PROMISE)
		return -EINVAL;
	if (fut_resolved(p))
		return -EALREADY;
	tide__future_resolve(p, result, payload);
	return 0;
}

int tide_promise_on_cancel(struct tide_future *p, tide_post_fn *fn, void *arg)
{
	struct tide_loop *loop;
	struct tide__cancel *h;

	if (!p || p->op.kind != TIDE__FK_PROMISE || !fn)
		return -EINVAL;
	if (fut_resolved(p))
		return -EALREADY;
	/* a handler the library keeps in its own record (a stream's read):
	 * that future's cancellation is the library's, not the caller's */
	if (p->ext && !(p->op.fflags & TIDE__FF_EXT_SLAB))
		return -EINVAL;
	loop = tide__slab_loop(p);
	h = p->ext;
	if (!h) {
		h = tide__slab_alloc(loop);
		if (!h)
			return -ENOMEM;
		p->ext = h;
		p->op.fflags |= TIDE__FF_EXT_SLAB;
	}
	h->fn = fn;
	h->arg = arg;
	return 0;
}

/* ---- running ---- */

int tide_loop_run_until(struct tide_loop *loop, struct tide_future *f)
{
	struct tide__core *c;

	if (!loop || !f)
		return -EINVAL;
	c = tide__core(loop);
	if (c->running)
		return -EBUSY;
	c->stop = false;
	while (!fut_resolved(f)) {
		int ret;

		if (c->stop)
			return -EINTR;
		if (tide_loop_pending(loop) == 0)
			return -EDEADLK;
		ret = tide__iterate(loop, 1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int tide_call_soon(struct tide_loop *loop, tide_post_fn *fn, void *arg)
{
	if (!loop || !fn)
		return -EINVAL;
	return tide__defer(loop, fn, arg);
}
