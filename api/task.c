// SPDX-License-Identifier: MIT
/*
 * task.c - tasks: spawn, await, yield, sleep, cancellation, tide_run.
 *
 * A task's future is a promise with a cancel handler.  tide_await(f) gives f
 * an on_done callback that resumes the task with f's outcome and switches
 * back to whoever runs the loop; the callback runs in the loop's dispatch
 * like any continuation, so an await costs one continuation and two
 * context switches.  Resuming saves the resumer's context in the task, so
 * a task resumed from anywhere returns there when it suspends again.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_impl.h"

#if TIDE__ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* ---- per-loop state ---- */

/* The name, made now if it is the default one. */
static const char *task_name(struct tide_task *t)
{
	if (!t->name[0])
		snprintf(t->name, sizeof(t->name), "task-%llu",
			 (unsigned long long)t->id);
	return t->name;
}

/* ---- debug: futures a task never consumed ----
 *
 * In debug mode every future created while a task runs is noted in the
 * task's list and in a table by address; freeing a future forgets it (a
 * future is freed only once consumed, so the address cannot be taken by
 * another object while noted).  When the task returns, the noted futures
 * that were consumed (awaited, given to then/on_done/all/any/timeout/
 * shield, released) are forgotten, and so is one whose address the task
 * returned (handed on as its result).  The others are orphans: maybe
 * leaked, maybe handed to another owner who consumes them later.  Whatever
 * is still an unconsumed orphan when the loop is freed was leaked for
 * sure, and is reported with the task's name; nothing is ever guessed.
 */
struct fut_rec {
	struct tide_future *f;
	void *ra;		       /* return address of the creating call */
	struct fut_rec *hnext;	       /* table chain */
	struct fut_rec *next, *prev;   /* the task's list, or the orphans */
	struct tide_task *task;	       /* NULL once an orphan */
	char name[TIDE_TASK_NAME_MAX]; /* the task's, once an orphan */
};

struct fut_track {
	struct fut_rec **bucket;
	size_t mask; /* buckets - 1 */
	size_t n;
	struct fut_rec *orphans;
	uint64_t orphans_n;
};

static size_t track_hash(const struct fut_track *tr,
			 const struct tide_future *f)
{
	uintptr_t a = (uintptr_t)f >> 6; /* slab objects are 64 bytes */

	return (size_t)((a * 0x9e3779b97f4a7c15ull) >> 17) & tr->mask;
}

static struct fut_track *track_get(struct task_loop *tl)
{
	struct fut_track *tr = tl->track;

	if (tr)
		return tr;
	tr = tide__calloc(tl->loop, 1, sizeof(*tr));
	if (!tr)
		return NULL;
	tr->mask = 255;
	tr->bucket = tide__calloc(tl->loop, tr->mask + 1, sizeof(*tr->bucket));
	if (!tr->bucket) {
		free(tr);
		return NULL;
	}
	tl->track = tr;
	return tr;
}

/* Twice the buckets once the table is full (best effort: a failed
 * allocation keeps the longer chains). */
static void track_grow(struct fut_track *tr)
{
	size_t nb = (tr->mask + 1) * 2;
	struct fut_rec **b = calloc(nb, sizeof(*b));
	struct fut_track nt = { .bucket = b, .mask = nb - 1 };

	if (!b)
		return;
	for (size_t i = 0; i <= tr->mask; i++)
		for (struct fut_rec *r = tr->bucket[i], *nx; r; r = nx) {
			size_t h = track_hash(&nt, r->f);

			nx = r->hnext;
			r->hnext = b[h];
			b[h] = r;
		}
	free(tr->bucket);
	tr->bucket = b;
	tr->mask = nb - 1;
}

static void list_add(struct fut_rec **head, struct fut_rec *r)
{
	r->prev = NULL;
	r->next = *head;
	if (*head)
		(*head)->prev = r;
	*head = r;
}

static void list_del(struct fut_rec **head, struct fut_rec *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		*head = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

/* Unlink r from the table and from its list, and free it. */
static void track_forget(struct fut_track *tr, struct fut_rec *r)
{
	struct fut_rec **pp = &tr->bucket[track_hash(tr, r->f)];

	while (*pp != r)
		pp = &(*pp)->hnext;
	*pp = r->hnext;
	if (r->task) {
		list_del(&r->task->futs, r);
	} else {
		list_del(&tr->orphans, r);
		tr->orphans_n--;
	}
	tr->n--;
	free(r);
}

void tide__task_future_born(struct tide_loop *loop, struct tide_future *f,
			    void *ra)
{
	struct tide_task *t = tide__task_cur;
	struct fut_track *tr;
	struct fut_rec *r;
	size_t h;

	if (!t || t->loop != loop || (t->flags & T_DONE))
		return;
	tr = track_get(t->tl);
	r = tr ? tide__malloc(loop, sizeof(*r)) : NULL;
	if (!r)
		return; /* a debug aid: not noted, so never reported */
	if (tr->n > tr->mask)
		track_grow(tr);
	r->f = f;
	r->ra = ra;
	r->task = t;
	r->name[0] = 0;
	h = track_hash(tr, f);
	r->hnext = tr->bucket[h];
	tr->bucket[h] = r;
	tr->n++;
	list_add(&t->futs, r);
}

void tide__task_future_gone(struct tide_loop *loop, struct tide_future *f)
{
	struct task_loop *tl = tide__core(loop)->tasks;
	struct fut_track *tr = tl ? tl->track : NULL;

	if (!tr || !tr->n)
		return;
	for (struct fut_rec *r = tr->bucket[track_hash(tr, f)]; r; r = r->hnext)
		if (r->f == f) {
			track_forget(tr, r);
			return;
		}
}

static bool fut_consumed(const struct tide_future *f)
{
	return f->op.fflags & TIDE__FF_CONSUMED;
}

/* t returned res: forget what it consumed or handed on as its result,
 * keep the rest as orphans. */
static void track_task_done(struct tide_task *t, int64_t res)
{
	struct fut_track *tr = t->tl->track;

	while (t->futs) {
		struct fut_rec *r = t->futs;

		if (fut_consumed(r->f) ||
		    (uintptr_t)r->f == (uintptr_t)(uint64_t)res) {
			track_forget(tr, r);
			continue;
		}
		list_del(&t->futs, r);
		r->task = NULL;
		memcpy(r->name, task_name(t), sizeof(r->name));
		list_add(&tr->orphans, r);
		tr->orphans_n++;
	}
}

static const char *kind_name(int kind)
{
	switch (kind) {
	case TIDE__FK_OP:
		return "an operation's future";
	case TIDE__FK_TIMER:
		return "a timer's future";
	case TIDE__FK_PROMISE:
		return "a promise (a task's or a tide_promise_new() one)";
	case TIDE__FK_DERIVED:
		return "a then()/timeout() result";
	case TIDE__FK_SHIELD:
		return "a shield()";
	case TIDE__FK_COMBO:
		return "an all()/any()/timeout() result";
	default:
		return "a ready or failed future";
	}
}

/* tide_loop_free(): an orphan nobody consumed by now was leaked. */
static void track_free(struct tide_loop *loop, struct task_loop *tl)
{
	struct fut_track *tr = tl->track;

	if (!tr)
		return;
	for (struct fut_rec *r = tr->orphans; r; r = r->next) {
		Dl_info di;
		const char *where = "?";
		uintptr_t off = (uintptr_t)r->ra;

		if (fut_consumed(r->f))
			continue;
		if (dladdr(r->ra, &di) && di.dli_fname) {
			where = di.dli_fname[0] ? di.dli_fname : "program";
			off -= (uintptr_t)di.dli_fbase;
		}
		tide__warn(loop,
			   "task %s finished with a future it never awaited "
			   "or released: %s made by the call returning to "
			   "%s+0x%llx",
			   r->name, kind_name(r->f->op.kind), where,
			   (unsigned long long)off);
	}
	for (size_t i = 0; i <= tr->mask; i++)
		for (struct fut_rec *r = tr->bucket[i], *nx; r; r = nx) {
			nx = r->hnext;
			free(r);
		}
	free(tr->bucket);
	free(tr);
	tl->track = NULL;
}

/* tide_loop_free(), after quiesce: what is left is suspended for good. */
static void tasks_free(struct tide_loop *loop)
{
	struct task_loop *tl = tide__core(loop)->tasks;

	tl->freeing = true;
	for (struct tide_task *t = tl->live; t; t = t->next)
		tide__warn(loop,
			   "task %s is still suspended as its loop is "
			   "freed (its stack is freed without unwinding)",
			   task_name(t));
	track_free(loop, tl);
	tide__core(loop)->tasks = NULL;
	tide__core(loop)->tasks_free = NULL;
	tide__stack_pool_free(tl);
}

static struct task_loop *task_loop(struct tide_loop *loop)
{
	struct task_loop *tl = tide__core(loop)->tasks;

	if (__builtin_expect(tl != NULL, 1))
		return tl;
	tl = tide__stack_pool_new(loop);
	if (!tl)
		return NULL;
	tide__stack_overflow_init();
	tide__core(loop)->tasks = tl;
	tide__core(loop)->tasks_free = tasks_free;
	return tl;
}

static void live_add(struct task_loop *tl, struct tide_task *t)
{
	t->prev = NULL;
	t->next = tl->live;
	if (tl->live)
		tl->live->prev = t;
	tl->live = t;
	tl->live_n++;
}

static void live_del(struct task_loop *tl, struct tide_task *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		tl->live = t->next;
	if (t->next)
		t->next->prev = t->prev;
	tl->live_n--;
}

/* ---- switching ---- */

/*
 * Every return through a frame that was live when a context was switched
 * out costs a mispredicted return (the return-stack predictor holds the
 * other context's calls), so there are as few as can be.  The switch into
 * a task is the last thing its resumer does, and the resumer does the
 * await's bookkeeping before it: the result travels through the switch
 * (tide__ctx_swap()'s val) and the switch out of an await is a tail call,
 * so in optimised builds without ASan the task continues straight in the
 * function that called tide_await(), with no return at all.
 */

/* The slot of a finished task goes back to the pool (not on its stack). */
static void bury(struct task_loop *tl)
{
	struct tide_task *z = tl->zombie;

	tl->zombie = NULL;
	tide__stack_put(tl, z);
}

/* The switch into t; val is what its suspended switch returns. */
static inline void task_enter(struct tide_task *t, int64_t val)
{
#if TIDE__ASAN
	void *fake = NULL;
#endif

	t->prev_cur = tide__task_cur;
	tide__task_cur = t;
#if TIDE__ASAN
	__sanitizer_start_switch_fiber(&fake, t->lo,
				       (size_t)((char *)t - t->lo));
	(void)tide__ctx_swap_in(&t->caller, &t->ctx, val);
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
	(void)tide__ctx_swap_in(&t->caller, &t->ctx, val);
#endif
}

/* task_resume() with a slot to bury or in debug mode. */
static __attribute__((noinline)) void task_resume_slow(struct tide_task *t,
						       int64_t val)
{
	if (t->tl->zombie)
		bury(t->tl);
	if (tide__core(t->loop)->debug)
		t->resumed_ns = tide_now_ns();
	task_enter(t, val);
}

/* Switch into t; val is what its suspended switch returns.  The common
 * case needs no stack frame: the switch is a plain jump. */
static inline void task_resume(struct tide_task *t, int64_t val)
{
	if (__builtin_expect(
		    t->tl->zombie != NULL || tide__core(t->loop)->debug, 0)) {
		task_resume_slow(t, val);
		return;
	}
	task_enter(t, val);
}

/* Debug mode: report a task that ran too long without awaiting. */
static __attribute__((noinline, cold)) void task_check_slow(struct tide_task *t)
{
	struct tide_loop *loop = t->loop;
	uint64_t ran = tide_now_ns() - t->resumed_ns;

	if (ran > tide__core(loop)->slow_ns)
		tide__warn(loop, "task %s ran %.3f ms without awaiting",
			   task_name(t), (double)ran / 1e6);
}

/* On the task's side, before it gives the thread back. */
static inline void task_leave(struct tide_task *t)
{
	tide__task_cur = t->prev_cur;
	if (__builtin_expect(tide__core(t->loop)->debug, 0))
		task_check_slow(t);
}

/* Give the thread back to whoever resumed t; returns the val of the
 * switch that resumes it. */
static inline int64_t task_suspend(struct tide_task *t)
{
	task_leave(t);
#if TIDE__ASAN
	int64_t v;

	__sanitizer_start_switch_fiber(&t->fake, t->caller_bottom,
				       t->caller_size);
	v = tide__ctx_swap(&t->ctx, &t->caller, 0);
	__sanitizer_finish_switch_fiber(t->fake, &t->caller_bottom,
					&t->caller_size);
	return v;
#else
	return tide__ctx_swap(&t->ctx, &t->caller, 0);
#endif
}

static void task_entry(void *arg)
{
	struct tide_task *t = arg;
	int64_t r;

#if TIDE__ASAN
	__sanitizer_finish_switch_fiber(NULL, &t->caller_bottom,
					&t->caller_size);
#endif
	t->flags |= T_STARTED;
	r = t->fn(t->arg);
	if (__builtin_expect(t->futs != NULL, 0))
		track_task_done(t, r);
	t->flags |= T_DONE;
	t->flags &= ~(uint32_t)T_CANCEL;
	tide_promise_resolve(t->promise, r, NULL);
	t->promise = NULL;
	live_del(t->tl, t);
	task_leave(t);
	/* still on this stack: the slot is put back after the switch */
	t->tl->zombie = t;
#if TIDE__ASAN
	/* NULL: this fiber is gone, ASan frees its fake stack */
	__sanitizer_start_switch_fiber(NULL, t->caller_bottom, t->caller_size);
#endif
	(void)tide__ctx_swap(&t->ctx, &t->caller, 0);
	__builtin_unreachable();
}

/* Queued wake-ups: first start and tide_task_yield(), whose result is
 * -ECANCELED for a task cancelled while runnable. */
static void task_run_queued(void *arg)
{
	struct tide_task *t = arg;
	int64_t val = 0;

	t->flags &= ~(uint32_t)T_QUEUED;
	if ((t->flags & (T_STARTED | T_CANCEL)) == (T_STARTED | T_CANCEL)) {
		t->flags &= ~(uint32_t)T_CANCEL; /* delivered */
		val = -ECANCELED;
	}
	task_resume(t, val);
}

/* ---- cancellation ---- */

static void task_cancel(void *arg)
{
	struct tide_task *t = arg;

	if (t->flags & T_DONE)
		return;
	t->flags |= T_CANCEL;
	/* an unresolved awaited future: cancel it; the await returns when
	 * it resolves, i.e. once the kernel has let go */
	if (t->awaiting)
		tide_future_cancel(t->awaiting);
}

/* ---- spawn ---- */

static int check_opts(const struct tide_task_options *o, size_t *size)
{
	size_t ps = 4096, s;

	for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]);
	     i++)
		if (o->reserved[i])
			return -EINVAL;
	s = o->stack_size ? o->stack_size : TIDE_TASK_STACK_DEFAULT;
	if (s < TIDE_TASK_STACK_MIN || s > TIDE_TASK_STACK_MAX)
		return -EINVAL;
	*size = (s + ps - 1) & ~(ps - 1);
	return 0;
}

struct tide_future *tide_task_spawn(struct tide_loop *loop, tide_task_fn *fn,
				    void *arg,
				    const struct tide_task_options *opts)
{
	struct tide_task *t;

	return tide__task_spawn(loop, fn, arg, opts, &t);
}

struct tide_future *tide__task_spawn(struct tide_loop *loop, tide_task_fn *fn,
				     void *arg,
				     const struct tide_task_options *opts,
				     struct tide_task **out)
{
	static const struct tide_task_options defaults;
	struct task_loop *tl;
	struct tide_task *t;
	struct tide_future *p;
	size_t size;
	int ret;

	*out = NULL;
	if (!loop)
		return NULL;
	if (!opts)
		opts = &defaults;
	ret = check_opts(opts, &size);
	if (ret || !fn)
		return tide_future_fail(loop, -EINVAL);
	if (tide__core(loop)->closing) /* tide_loop_free() is running */
		return tide_future_fail(loop, -ECANCELED);
	tl = task_loop(loop);
	if (!tl)
		return NULL;
	if (tl->zombie)
		bury(tl);
	t = tide__stack_get(tl, size);
	if (!t)
		return NULL;
	p = tide_promise_new(loop);
	if (!p)
		goto err_stack;
	if (tide_promise_on_cancel(p, task_cancel, t))
		goto err_promise;
	if (tide__defer(loop, task_run_queued, t))
		goto err_promise;
	t->loop = loop;
	t->tl = tl;
	t->promise = p;
	t->fn = fn;
	t->arg = arg;
	t->id = ++tl->next_id;
	t->flags = T_QUEUED;
	/* the default name is made when someone asks (snprintf costs as
	 * much as the rest of a spawn) */
	if (opts->name) {
		size_t n = strnlen(opts->name, sizeof(t->name) - 1);

		memcpy(t->name, opts->name, n);
		t->name[n] = 0;
	}
	tide__ctx_make(&t->ctx, t->lo, t, task_entry, t);
	live_add(tl, t);
	*out = t;
	return p;

err_promise:
	/* a pending promise would hold the loop for ever */
	tide_promise_resolve(p, -ENOMEM, NULL);
	tide_future_release(p);
err_stack:
	tide__stack_put(tl, t);
	return NULL;
}

/* ---- await ---- */

/* The awaited future resolved: finish the await on the task's behalf
 * and switch into it with the result. */
static void task_wake(void *arg, int64_t res, void *payload)
{
	struct tide_task *t = arg;
	uint32_t fl = t->flags & ~(uint32_t)T_AWAITING;

	if (res == -ECANCELED)
		fl &= ~(uint32_t)T_CANCEL; /* delivered */
	t->flags = fl;
	t->awaiting = NULL;
	if (t->payload_out)
		*t->payload_out = res < 0 ? NULL : payload;
	task_resume(t, res);
}

static int64_t await_outside(struct tide_future *f, void **payload)
{
	struct tide_loop *loop;
	int64_t r;
	int ret;

	if (!f)
		return -ENOMEM;
	loop = tide__slab_loop(f);
	if (tide__core(loop)->running) {
		/* a continuation cannot block: say so, keep ownership rules */
		tide_future_release(f);
		return -EBUSY;
	}
	ret = tide_loop_run_until(loop, f);
	if (ret < 0) {
		tide_future_release(f);
		return ret;
	}
	r = tide_future_result(f);
	if (payload)
		*payload = tide_future_payload(f);
	tide_future_release(f);
	return r;
}

/* t awaits f, whose continuation is task_wake(). */
static inline int64_t await_park(struct tide_task *t, struct tide_future *f,
				 void **payload)
{
	t->awaiting = f; /* valid until task_wake() runs */
	t->payload_out = payload;
	t->flags |= T_AWAITING;
	return task_suspend(t);
}

/* Suspend t until f resolves; task_wake() does the rest of the await
 * and passes its result. */
static inline int64_t await_suspend(struct tide_task *t, struct tide_future *f,
				    void **payload)
{
	int ret = tide_future_on_done(f, task_wake, t);

	if (__builtin_expect(ret != 0, 0))
		return ret;
	return await_park(t, f, payload);
}

/* Everything but a task awaiting a pending future with no cancellation
 * to pass on. */
static __attribute__((noinline)) int64_t
await_slow(struct tide_task *t, struct tide_future *f, void **payload)
{
	int64_t r;
	void *p;

	if (!t)
		return await_outside(f, payload);
	if (!f)
		return -ENOMEM;
	if (tide__slab_loop(f) != t->loop)
		return -EXDEV;
	if (fut_resolved(f) && !(f->op.fflags & TIDE__FF_CONSUMED)) {
		/* resolved already: no suspension, as asyncio awaits a done
		 * future (a pending cancellation stays pending) */
		r = tide_future_result(f);
		p = tide_future_payload(f);
		tide_future_release(f);
		if (r == -ECANCELED)
			t->flags &= ~(uint32_t)T_CANCEL; /* delivered */
		if (payload)
			*payload = r < 0 ? NULL : p;
		return r;
	}
	if (t->flags & T_CANCEL)
		tide_future_cancel(f);
	return await_suspend(t, f, payload);
}

/* Both awaits: payload is a constant NULL in tide_await(), so its copy
 * has no payload test or store. */
static inline __attribute__((always_inline)) int64_t
await_common(struct tide_future *f, void **payload)
{
	struct tide_task *t = tide__task_cur;

	if (payload)
		*payload = NULL;
	/* the common case: a fresh pending future of this task's loop */
	if (__builtin_expect(!t || !f ||
				     (f->op.fflags & (TIDE__FF_RESOLVED |
						      TIDE__FF_CONSUMED)) ||
				     (t->flags & T_CANCEL) ||
				     tide__slab_loop(f) != t->loop,
			     0))
		return await_slow(t, f, payload);
	/* inline, so this function makes no call, needs no stack frame and
	 * the switch is a plain jump */
	tide__future_on_done_fresh(f, task_wake, t);
	return await_park(t, f, payload);
}

int64_t tide_await_payload(struct tide_future *f, void **payload)
{
	return await_common(f, payload);
}

int64_t tide_await(struct tide_future *f)
{
	return await_common(f, NULL);
}

int tide_task_yield(void)
{
	struct tide_task *t = tide__task_cur;

	if (!t)
		return -EPERM;
	/* while the loop is freed, a task that yields in a loop must not
	 * keep tide_loop_free() from finishing */
	if ((t->flags & T_CANCEL) || tide__core(t->loop)->closing) {
		t->flags &= ~(uint32_t)T_CANCEL;
		return -ECANCELED;
	}
	if (tide__defer(t->loop, task_run_queued, t))
		return -ENOMEM;
	t->flags |= T_QUEUED;
	/* 0, or -ECANCELED if cancelled while runnable (task_run_queued()) */
	return (int)task_suspend(t);
}

int tide_task_sleep(uint64_t ns)
{
	struct tide_task *t = tide__task_cur;

	if (!t)
		return -EPERM;
	return (int)tide_await(tide_sleep(t->loop, ns));
}

struct tide_task *tide_task_current(void)
{
	return tide__task_cur;
}

const char *tide_task_name(const struct tide_task *t)
{
	if (!t)
		t = tide__task_cur;
	return t ? task_name((struct tide_task *)t) : NULL;
}

struct tide_loop *tide_task_loop(const struct tide_task *t)
{
	if (!t)
		t = tide__task_cur;
	return t ? t->loop : NULL;
}

/* ---- run ---- */

int64_t tide_run(struct tide_loop *loop, tide_task_fn *fn, void *arg)
{
	struct tide_future *f;
	bool own = false;
	int64_t r;

	if (tide__task_cur || (loop && tide__core(loop)->running))
		return -EBUSY;
	if (!loop) {
		int ret = tide_loop_new(&loop, NULL);

		if (ret)
			return ret;
		own = true;
	}
	f = tide_task_spawn(loop, fn, arg, NULL);
	r = tide_await(f);
	if (own) {
		struct task_loop *tl = tide__core(loop)->tasks;

		/* asyncio.run: cancel what is left and let it finish */
		if (tl) {
			for (struct tide_task *t = tl->live; t; t = t->next)
				task_cancel(t);
			while (tl->live_n && tide_loop_pending(loop) &&
			       tide_loop_run_once(loop, 1) >= 0)
				;
		}
		tide_loop_free(loop);
	}
	return r;
}
