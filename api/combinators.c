// SPDX-License-Identifier: MIT
/*
 * combinators.c - timers (sleep, call_later) and the all / any / timeout
 * combinators.  Combinator state is malloc'd: these are not per-operation
 * hot paths, and their size depends on the number of inputs.
 */
#include <errno.h>
#include <stdlib.h>

#include "future_impl.h"

/* ---- timers ---- */

struct later {
	tide_post_fn *fn;
	void *arg;
};

static void timer_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		       uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	struct later *l = f->ext;

	(void)cflags;
	if (res == -ETIME)
		res = 0; /* expired: the normal way for a timer to end */
	if (res == 0 && l) {
		tide__user_enter(loop);
		l->fn(l->arg);
		tide__user_leave(loop);
	}
	if (l) {
		tide__slab_free(loop, l);
		f->ext = NULL;
		op->fflags &= (uint8_t)~TIDE__FF_EXT_SLAB;
	}
	tide__future_resolve(f, res, NULL);
}

static struct tide_future *timer(struct tide_loop *loop, uint64_t ns, int abs,
				 tide_post_fn *fn, void *arg)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__future_new(loop, TIDE__FK_TIMER);
	if (!f)
		return NULL;
	f->op.done = timer_done;
	if (fn) {
		struct later *l = tide__slab_alloc(loop);

		if (!l)
			goto err;
		l->fn = fn;
		l->arg = arg;
		f->ext = l;
		f->op.fflags |= TIDE__FF_EXT_SLAB;
	}
	f->ts.tv_sec = (int64_t)(ns / 1000000000u);
	f->ts.tv_nsec = (long long)(ns % 1000000000u);
	if (tide__op_timeout(loop, &f->op, &f->ts, abs ? TIDE__TIMEOUT_ABS : 0))
		goto err;
	return f;
err:
	tide__future_free(f);
	return NULL;
}

struct tide_future *tide_sleep(struct tide_loop *loop, uint64_t ns)
{
	return timer(loop, ns, 0, NULL, NULL);
}

struct tide_future *tide_sleep_until(struct tide_loop *loop, uint64_t abs_ns)
{
	return timer(loop, abs_ns, 1, NULL, NULL);
}

struct tide_future *tide_call_later(struct tide_loop *loop, uint64_t ns,
				    tide_post_fn *fn, void *arg)
{
	if (loop && !fn)
		return tide_future_fail(loop, -EINVAL);
	return timer(loop, ns, 0, fn, arg);
}

struct tide_future *tide_call_at(struct tide_loop *loop, uint64_t abs_ns,
				 tide_post_fn *fn, void *arg)
{
	if (loop && !fn)
		return tide_future_fail(loop, -EINVAL);
	return timer(loop, abs_ns, 1, fn, arg);
}

/* ---- all / any ---- */

struct group {
	struct combo c;
	struct tide_future *d; /* result; NULL once resolved */
	struct tide_outcome *out;
	size_t n, remaining;
	int64_t first_err;
	size_t first_err_idx;
	int64_t winner;
	int mode;		  /* -1 = all */
	struct tide_future *in[]; /* inputs still pending, for cancel */
};

static void group_cancel_rest(struct group *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->in[i])
			tide_future_cancel(g->in[i]);
}

static void group_cancel(struct combo *c)
{
	group_cancel_rest((struct group *)c);
}

static void group_resolve(struct group *g, int64_t res)
{
	struct tide_future *d = g->d;

	g->d = NULL;
	d->ext = NULL;
	tide__future_resolve(d, res, NULL);
}

static void group_one(void *state, uint32_t i, int64_t res, void *payload)
{
	struct group *g = state;

	g->in[i] = NULL;
	g->remaining--;
	if (g->out) {
		g->out[i].result = res;
		g->out[i].payload = payload;
	}
	if (g->mode < 0) {
		if (res < 0 && i < g->first_err_idx) {
			g->first_err = res;
			g->first_err_idx = i;
		}
		if (g->remaining == 0)
			group_resolve(g, g->first_err);
	} else {
		if (g->winner < 0) {
			g->winner = i;
			if (g->mode == TIDE_ANY_LEAVE) {
				group_resolve(g, i);
				/* the caller's array may be gone from now on */
				g->out = NULL;
			} else
				group_cancel_rest(g);
		}
		if (g->remaining == 0 && g->d)
			group_resolve(g, g->winner);
	}
	if (g->remaining == 0)
		free(g);
}

static struct tide_future *group(struct tide_loop *loop,
				 struct tide_future **futs, size_t n, int mode,
				 struct tide_outcome *out)
{
	struct tide_future *d;
	struct group *g;

	if (!loop) {
		for (size_t i = 0; futs && i < n; i++)
			tide_future_release(futs[i]);
		return NULL;
	}
	if ((!futs && n) || (mode >= 0 && n == 0) ||
	    (mode >= 0 && mode != TIDE_ANY_CANCEL && mode != TIDE_ANY_LEAVE)) {
		for (size_t i = 0; futs && i < n; i++)
			tide_future_release(futs[i]);
		return tide_future_fail(loop, -EINVAL);
	}
	if (n == 0)
		return tide_future_ready(loop, 0, NULL);
	g = tide__calloc(loop, 1, sizeof(*g) + n * sizeof(g->in[0]));
	d = g ? tide__future_new(loop, TIDE__FK_COMBO) : NULL;
	if (!d) {
		free(g);
		for (size_t i = 0; i < n; i++)
			tide_future_release(futs[i]);
		return NULL;
	}
	g->c.cancel = group_cancel;
	g->d = d;
	g->out = out;
	g->n = g->remaining = n;
	g->first_err_idx = n;
	g->winner = -1;
	g->mode = mode;
	d->ext = g;
	for (size_t i = 0; i < n; i++) {
		/* NULL inputs become -ENOMEM outcomes */
		struct tide_future *f =
			futs[i] ? futs[i] : tide_future_fail(loop, -ENOMEM);

		g->in[i] = f;
		if (!f)
			group_one(g, (uint32_t)i, -ENOMEM, NULL);
		else if (tide__future_watch(loop, f, group_one, g, (uint32_t)i))
			group_one(g, (uint32_t)i, -EINVAL, NULL);
	}
	return d;
}

struct tide_future *tide_all(struct tide_loop *loop, struct tide_future **futs,
			     size_t n, struct tide_outcome *out)
{
	return group(loop, futs, n, -1, out);
}

struct tide_future *tide_any(struct tide_loop *loop, struct tide_future **futs,
			     size_t n, int mode, struct tide_outcome *out)
{
	if (mode < 0)
		mode = 2; /* rejected by group() */
	return group(loop, futs, n, mode, out);
}

/* ---- timeout ---- */

struct tmo {
	struct combo c;
	struct tide_future *d, *src, *timer;
	int refs;
	bool fired;
};

static void tmo_cancel(struct combo *c)
{
	struct tmo *t = (struct tmo *)c;

	if (t->src)
		tide_future_cancel(t->src);
}

static void tmo_put(struct tmo *t)
{
	if (--t->refs == 0)
		free(t);
}

static void tmo_src(void *state, uint32_t i, int64_t res, void *payload)
{
	struct tmo *t = state;
	struct tide_future *d = t->d;

	(void)i;
	t->src = NULL;
	if (t->timer)
		tide_future_cancel(t->timer);
	if (t->fired && res == -ECANCELED && !(d->op.fflags & TIDE__FF_CANCEL))
		res = -ETIMEDOUT;
	d->ext = NULL;
	tide__future_resolve(d, res, payload);
	tmo_put(t);
}

static void tmo_timer(void *state, uint32_t i, int64_t res, void *payload)
{
	struct tmo *t = state;

	(void)i;
	(void)payload;
	t->timer = NULL;
	if (res == 0 && t->src) {
		t->fired = true;
		tide_future_cancel(t->src);
	}
	tmo_put(t);
}

/* Kernel-linked deadline: possible while f's SQE is the last one queued. */
static struct tide_future *timeout_linked(struct tide_loop *loop,
					  struct tide_future *f, uint64_t ns)
{
	struct tide_future *d;

	/* only single-shot ops: read_full resubmits, which a link cannot follow */
	if (f->op.kind != TIDE__FK_OP || f->op.done != tide__op_done ||
	    fut_resolved(f) || (f->op.fflags & TIDE__FF_CONSUMED) ||
	    (f->op.eflags & TIDE__OP_DEADLINE))
		return NULL;
	d = tide__future_new(loop, TIDE__FK_DERIVED);
	if (!d)
		return NULL;
	d->ts.tv_sec = (int64_t)(ns / 1000000000u);
	d->ts.tv_nsec = (long long)(ns % 1000000000u);
	if (tide__op_deadline(loop, &f->op, &d->ts)) {
		tide__future_free(d);
		return NULL;
	}
	f->op.cont = TIDE__FC_FORWARD;
	f->op.fflags |= TIDE__FF_CONSUMED | TIDE__FF_READ;
	f->next = d;
	d->ext = f;
	return d;
}

struct tide_future *tide_future_timeout(struct tide_future *f,
					uint64_t timeout_ns)
{
	struct tide_loop *loop;
	struct tide_future *d;
	struct tmo *t;

	if (!f)
		return NULL;
	loop = tide__slab_loop(f);
	if (f->op.fflags & TIDE__FF_CONSUMED) {
		tide__warn(loop, "future %p consumed twice", (void *)f);
		return tide_future_fail(loop, -EINVAL);
	}
	/* already resolved (a read served from buffered input): no deadline
	 * can change the outcome, so none is armed: no SQE, no allocation */
	if (fut_resolved(f))
		return f;
	d = timeout_linked(loop, f, timeout_ns);
	if (d)
		return d;
	t = tide__calloc(loop, 1, sizeof(*t));
	d = t ? tide__future_new(loop, TIDE__FK_COMBO) : NULL;
	if (d)
		t->timer = tide_sleep(loop, timeout_ns);
	if (!t || !d || !t->timer) {
		if (d)
			tide__future_free(d);
		free(t);
		tide_future_release(f);
		return NULL;
	}
	t->c.cancel = tmo_cancel;
	t->d = d;
	t->src = f;
	t->refs = 2;
	d->ext = t;
	tide__future_watch(loop, f, tmo_src, t, 0);
	tide__future_watch(loop, t->timer, tmo_timer, t, 0);
	return d;
}
