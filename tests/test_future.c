// SPDX-License-Identifier: MIT
/*
 * test_future.c - futures, continuations, promises, combinators, timers,
 * cancellation in every state, cross-thread resolution, memory flatness.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#include "future_impl.h"
#include "loop_impl.h"

/* ---- chains ---- */

static struct tide_future *add_one(struct tide_loop *loop, void *arg,
				   int64_t res, void *payload)
{
	(void)arg;
	(void)payload;
	return tide_future_ready(loop, res + 1, NULL);
}

static void run_chain(long n)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f = tide_future_ready(loop, 0, NULL);

	for (long i = 0; i < n; i++)
		f = tide_future_then(f, add_one, NULL);
	assert_int_equal(t_wait(loop, f), n);
	tide_future_release(f);
	assert_int_equal(tide__core(loop)->slab.live, 0);
	tide_loop_free(loop);
}

static void test_tide_future_then_chain_1(void **state)
{
	(void)state;
	run_chain(1);
}

static void test_tide_future_then_chain_100000(void **state)
{
	(void)state;
	run_chain(100000);
}

static struct tide_future *to_nop(struct tide_loop *loop, void *arg,
				  int64_t res, void *payload)
{
	(void)payload;
	(*(int64_t *)arg) += res + 1;
	return tide_nop(loop);
}

static void test_tide_future_then_chain_of_ops(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f = tide_nop(loop);
	int64_t steps = 0;

	(void)state;
	for (int i = 0; i < 1000; i++)
		f = tide_future_then(f, to_nop, &steps);
	assert_int_equal(t_wait(loop, f), 0);
	assert_int_equal(steps, 1000);
	tide_future_release(f);
	tide_loop_free(loop);
}

/* errors skip success continuations and reach the wrapped handler */
static int skipped_ran;

static struct tide_future *must_not_run(struct tide_loop *loop, void *arg,
					int64_t res, void *payload)
{
	(void)arg;
	(void)res;
	(void)payload;
	skipped_ran++;
	return tide_future_ready(loop, 0, NULL);
}

static struct tide_future *handler(struct tide_loop *loop, void *arg,
				   int64_t res, void *payload)
{
	(void)payload;
	*(int64_t *)arg = res;
	return tide_future_ready(loop, 7, NULL); /* recovered */
}

static void test_tide_future_then_error_propagates(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f = tide_read(loop, -1, (void *)&state, 1, 0);
	int64_t seen = 0;

	skipped_ran = 0;
	for (int i = 0; i < 100000; i++)
		f = tide_future_then(f, must_not_run, NULL);
	f = tide_future_then_wrapped(f, handler, &seen);
	f = tide_future_then(f, add_one, NULL);
	assert_int_equal(t_wait(loop, f), 8);
	assert_int_equal(seen, -EBADF);
	assert_int_equal(skipped_ran, 0);
	tide_future_release(f);
	tide_loop_free(loop);
}

static struct tide_future *ret_null(struct tide_loop *loop, void *arg,
				    int64_t res, void *payload)
{
	(void)loop;
	(void)arg;
	(void)res;
	(void)payload;
	return NULL;
}

static void test_tide_future_then_bad_arguments(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f;

	(void)state;
	assert_null(tide_future_then(NULL, add_one, NULL));
	assert_null(tide_future_then_wrapped(NULL, add_one, NULL));
	f = tide_future_then(tide_nop(loop), NULL, NULL);
	assert_int_equal(t_wait(loop, f), -EINVAL);
	tide_future_release(f);
	/* a continuation returning NULL fails the chain with -ENOMEM */
	f = tide_future_then(tide_nop(loop), ret_null, NULL);
	assert_int_equal(t_wait(loop, f), -ENOMEM);
	tide_future_release(f);
	assert_int_equal(tide_future_on_done(NULL, NULL, NULL), -EINVAL);
	assert_int_equal(tide_future_on_done(tide_nop(loop), NULL, NULL),
			 -EINVAL);
	assert_int_equal(tide_future_result(NULL), -ENOMEM);
	assert_true(tide_future_done(NULL));
	assert_null(tide_future_payload(NULL));
	assert_int_equal(tide_loop_run_until(loop, NULL), -EINVAL);
	assert_int_equal(tide_loop_run(loop), 0);
	tide_loop_free(loop);
}

/* a continuation attached to a resolved future is deferred, not inline */
static int ran_flag;

static void set_flag(void *arg, int64_t res, void *payload)
{
	(void)payload;
	*(int *)arg = (int)res;
}

static void test_tide_future_on_done_deferred(void **state)
{
	struct tide_loop *loop = t_loop();

	(void)state;
	ran_flag = 0;
	assert_int_equal(tide_future_on_done(tide_future_ready(loop, 5, NULL),
					     set_flag, &ran_flag),
			 0);
	assert_int_equal(ran_flag, 0); /* not inline */
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(ran_flag, 5);
	tide_loop_free(loop);
}

static void test_tide_future_result_pending(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *p = tide_promise_new(loop);

	(void)state;
	assert_false(tide_future_done(p));
	assert_int_equal(tide_future_result(p), -EAGAIN);
	assert_null(tide_future_payload(p));
	assert_int_equal(tide_promise_resolve(p, 3, &ran_flag), 0);
	assert_int_equal(tide_promise_resolve(p, 4, NULL), -EALREADY);
	assert_true(tide_future_done(p));
	assert_int_equal(tide_future_result(p), 3);
	assert_ptr_equal(tide_future_payload(p), &ran_flag);
	tide_future_release(p);
	assert_int_equal(tide_promise_resolve(NULL, 0, NULL), -EINVAL);
	p = tide_nop(loop);
	assert_int_equal(tide_promise_resolve(p, 0, NULL), -EINVAL);
	tide_future_release(p);
	tide_loop_free(loop);
}

/* ---- combinators ---- */

static void test_tide_all_mixed(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_outcome out[4];
	struct tide_future *in[4], *f;

	(void)state;
	in[0] = tide_nop(loop);
	in[1] = tide_read(loop, -1, out, 1, 0); /* -EBADF */
	in[2] = tide_sleep(loop, 60ull * 1000000000);
	in[3] = tide_future_ready(loop, 9, &out[3]);
	tide_future_cancel(in[2]); /* cancellation is an outcome too */
	f = tide_all(loop, in, 4, out);
	assert_int_equal(t_wait(loop, f), -EBADF);
	assert_int_equal(out[0].result, 0);
	assert_int_equal(out[1].result, -EBADF);
	assert_int_equal(out[2].result, -ECANCELED);
	assert_int_equal(out[3].result, 9);
	assert_ptr_equal(out[3].payload, &out[3]);
	tide_future_release(f);
	f = tide_all(loop, NULL, 0, NULL);
	assert_int_equal(t_wait(loop, f), 0);
	tide_future_release(f);
	f = tide_all(loop, NULL, 3, NULL);
	assert_int_equal(t_wait(loop, f), -EINVAL);
	tide_future_release(f);
	tide_loop_free(loop);
}

static void test_tide_any_cancels_rest(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_outcome out[3];
	struct tide_future *in[3], *f;
	int p[2];
	char buf[8] = "xxxxxxx";

	(void)state;
	assert_int_equal(pipe(p), 0);
	in[0] = tide_read(loop, p[0], buf, sizeof(buf), TIDE_OFF_CUR);
	in[1] = tide_sleep(loop, 1000000); /* wins */
	in[2] = tide_sleep(loop, 60ull * 1000000000);
	f = tide_any(loop, in, 3, TIDE_ANY_CANCEL, out);
	assert_int_equal(t_wait(loop, f), 1);
	assert_int_equal(out[1].result, 0);
	assert_int_equal(out[0].result, -ECANCELED);
	assert_int_equal(out[2].result, -ECANCELED);
	tide_future_release(f);
	/* the pipe read was cancelled in the kernel: data goes nowhere */
	assert_int_equal(write(p[1], "hello", 5), 5);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_string_equal(buf, "xxxxxxx");
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

static void test_tide_any_leave(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *in[2], *f;
	char c;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	in[0] = tide_read(loop, p[0], &c, 1, TIDE_OFF_CUR); /* cannot win */
	in[1] = tide_nop(loop);
	f = tide_any(loop, in, 2, TIDE_ANY_LEAVE, NULL);
	assert_int_equal(t_wait(loop, f), 1);
	assert_int_equal(tide_loop_pending(loop), 1); /* the read runs on */
	tide_future_release(f);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(tide_loop_run(loop), 0);
	close(p[0]);
	close(p[1]);
	f = tide_any(loop, NULL, 0, TIDE_ANY_CANCEL, NULL);
	assert_int_equal(t_wait(loop, f), -EINVAL);
	tide_future_release(f);
	in[0] = tide_nop(loop);
	f = tide_any(loop, in, 1, 99, NULL);
	assert_int_equal(t_wait(loop, f), -EINVAL);
	tide_future_release(f);
	tide_loop_free(loop);
}

static void test_tide_future_timeout_pipe(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f;
	char buf[16];
	int p[2];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(pipe(p), 0);
	f = tide_future_timeout(tide_read(loop, p[0], buf, sizeof(buf),
					  TIDE_OFF_CUR),
				10000000);
	assert_int_equal(t_wait(loop, f), -ETIMEDOUT);
	tide_future_release(f);
	/* also through the generic (non-linked) path: a derived future */
	f = tide_future_timeout(tide_future_then(tide_read(loop, p[0], buf,
							   sizeof(buf),
							   TIDE_OFF_CUR),
						 add_one, NULL),
				10000000);
	assert_int_equal(t_wait(loop, f), -ETIMEDOUT);
	tide_future_release(f);
	/* after the timeouts resolved, data must not land in buf */
	assert_int_equal(write(p[1], "late", 4), 4);
	assert_int_equal(tide_loop_run(loop), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'x');
	/* a future that finishes in time keeps its result */
	f = tide_future_timeout(tide_read(loop, p[0], buf, 4, TIDE_OFF_CUR),
				1000000000);
	assert_int_equal(t_wait(loop, f), 4);
	tide_future_release(f);
	assert_null(tide_future_timeout(NULL, 1));
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

static void test_tide_future_shield(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *s;

	(void)state;
	s = tide_future_shield(
		tide_future_then(tide_sleep(loop, 5000000), add_one, NULL));
	assert_int_equal(tide_future_cancel(s), 0);
	assert_int_equal(t_wait(loop, s), -ECANCELED);
	tide_future_release(s);
	/* the shielded work runs on to its end */
	assert_int_equal(tide_loop_pending(loop), 1);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(tide__core(loop)->slab.live, 0);
	tide_loop_free(loop);
}

/* ---- cancellation in every state ---- */

static void test_tide_future_cancel_states(void **state)
{
	struct tide_loop_options o = t_opts;
	struct tide_loop *loop;
	struct tide_future *f[20];
	char buf[4];
	int p[2];

	(void)state;
	o.entries = 8;
	if (tide_loop_new(&loop, &o))
		skip();
	assert_int_equal(pipe(p), 0);
	/* 20 reads on an 8-entry ring: the last ones wait in the backlog */
	for (int i = 0; i < 20; i++)
		f[i] = tide_read(loop, p[0], buf, sizeof(buf), TIDE_OFF_CUR);
	if (!t_loop_epoll(loop)) /* epoll: all 20 wait for readiness */
		assert_true(loop->u.bl_count > loop->u.bl_head);
	assert_int_equal(tide_future_cancel(f[19]), 0); /* backlog */
	assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	assert_int_equal(tide_future_cancel(f[0]), 0); /* in flight */
	assert_int_equal(tide_future_cancel(f[0]), 0); /* twice is fine */
	for (int i = 1; i < 19; i++)
		assert_int_equal(tide_future_cancel(f[i]), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(t_wait(loop, f[i]), -ECANCELED);
		/* resolved */
		assert_int_equal(tide_future_cancel(f[i]), -EALREADY);
		tide_future_release(f[i]);
	}
	assert_int_equal(tide_future_cancel(NULL), -EINVAL);
	/* a promise without handler resolves -ECANCELED at once */
	f[0] = tide_promise_new(loop);
	assert_int_equal(tide_future_cancel(f[0]), 0);
	assert_int_equal(tide_future_result(f[0]), -ECANCELED);
	tide_future_release(f[0]);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

static void on_cancel(void *arg)
{
	tide_promise_resolve(arg, -ECANCELED, NULL);
}

static void test_tide_promise_on_cancel(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *p = tide_promise_new(loop), *d;

	(void)state;
	assert_int_equal(tide_promise_on_cancel(p, on_cancel, p), 0);
	d = tide_future_then(p, add_one, NULL);
	assert_int_equal(tide_future_cancel(d), 0);
	assert_int_equal(t_wait(loop, d), -ECANCELED);
	tide_future_release(d);
	assert_int_equal(tide_promise_on_cancel(NULL, on_cancel, NULL),
			 -EINVAL);
	p = tide_future_ready(loop, 0, NULL);
	assert_int_equal(tide_promise_on_cancel(p, on_cancel, NULL), -EINVAL);
	tide_future_release(p);
	p = tide_promise_new(loop);
	tide_promise_resolve(p, 1, NULL);
	assert_int_equal(tide_promise_on_cancel(p, on_cancel, NULL), -EALREADY);
	tide_future_release(p);
	tide_loop_free(loop);
}

/* ---- threads ---- */

struct remote {
	struct tide_loop *loop;
	struct tide_future *p;
};

static void resolve_on_loop(void *arg)
{
	struct remote *r = arg;

	tide_promise_resolve(r->p, 42, NULL);
}

static void *remote_thread(void *arg)
{
	struct remote *r = arg;

	usleep(2000);
	tide_loop_post(r->loop, resolve_on_loop, r);
	return NULL;
}

static void test_tide_promise_resolve_from_thread(void **state)
{
	struct remote r;
	pthread_t th;

	(void)state;
	r.loop = t_loop();
	r.p = tide_promise_new(r.loop);
	assert_int_equal(pthread_create(&th, NULL, remote_thread, &r), 0);
	assert_int_equal(t_wait(r.loop, r.p), 42);
	pthread_join(th, NULL);
	tide_future_release(r.p);
	tide_loop_free(r.loop);
}

/* ---- running and timers ---- */

static void stop_cb(void *arg, int64_t res, void *payload)
{
	(void)res;
	(void)payload;
	tide_loop_stop(arg);
}

static void test_tide_loop_run_until_stopped(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *slow = tide_sleep(loop, 60ull * 1000000000);
	struct tide_future *f;

	(void)state;
	tide_future_on_done(tide_nop(loop), stop_cb, loop);
	assert_int_equal(tide_loop_run_until(loop, slow), -EINTR);
	tide_future_cancel(slow);
	assert_int_equal(t_wait(loop, slow), -ECANCELED);
	tide_future_release(slow);
	/* a future whose source is already gone and nothing pending */
	f = tide__future_new(loop, TIDE__FK_DERIVED);
	assert_int_equal(tide_loop_run_until(loop, f), -EDEADLK);
	tide__future_free(f);
	tide_loop_free(loop);
}

static int soon_order[4], soon_n;

static void soon(void *arg)
{
	soon_order[soon_n++] = (int)(intptr_t)arg;
}

static void test_tide_call_soon_later_at(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *c, *later;

	(void)state;
	soon_n = 0;
	later = tide_call_later(loop, 20000000, soon, (void *)3);
	tide_future_release(
		tide_call_at(loop, tide_now_ns() + 5000000, soon, (void *)2));
	assert_int_equal(tide_call_soon(loop, soon, (void *)1), 0);
	c = tide_call_later(loop, 1000000, soon, (void *)99);
	assert_int_equal(tide_future_cancel(c), 0);
	assert_int_equal(t_wait(loop, later), 0);
	assert_int_equal(t_wait(loop, c), -ECANCELED);
	assert_int_equal(soon_n, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(soon_order[i], i + 1);
	tide_future_release(c);
	tide_future_release(later);
	assert_int_equal(tide_call_soon(loop, NULL, NULL), -EINVAL);
	c = tide_call_later(loop, 1, NULL, NULL);
	assert_int_equal(t_wait(loop, c), -EINVAL);
	tide_future_release(c);
	tide_loop_free(loop);
}

static void test_tide_sleep_until(void **state)
{
	struct tide_loop *loop = t_loop();
	uint64_t t0 = tide_now_ns();
	struct tide_future *f = tide_sleep_until(loop, t0 + 15000000);

	(void)state;
	assert_int_equal(t_wait(loop, f), 0);
	assert_true(tide_now_ns() >= t0 + 15000000);
	tide_future_release(f);
	/* a time in the past fires at once */
	f = tide_sleep_until(loop, 1);
	assert_int_equal(t_wait(loop, f), 0);
	tide_future_release(f);
	assert_null(tide_sleep(NULL, 1));
	tide_loop_free(loop);
}

/* ---- memory ---- */

static void test_million_futures_flat(void **state)
{
	struct tide_loop *loop = t_loop();
	uint64_t chunks_after_warmup = 0;

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		struct tide_future *f =
			i % 2 ? tide_future_ready(loop, i, NULL) :
				tide_promise_new(loop);

		if (!(i % 2))
			tide_promise_resolve(f, 1, NULL);
		tide_future_release(f);
		if (i == 1000)
			chunks_after_warmup = tide__core(loop)->slab.chunks_n;
	}
	assert_int_equal(tide__core(loop)->slab.live, 0);
	assert_int_equal(tide__core(loop)->slab.chunks_n, chunks_after_warmup);
	assert_true(tide__core(loop)->slab.chunks_n <= 1);
	tide_loop_free(loop);
}

static void test_debug_warns_unread_failure(void **state)
{
	struct tide_loop_options o = t_opts;
	struct tide_loop *loop;
	struct tide_future *f;
	char line[512] = "";
	int err[2], saved;
	ssize_t n;

	(void)state;
	o.flags |= TIDE_LOOP_DEBUG;
	if (tide_loop_new(&loop, &o))
		skip();
	assert_int_equal(pipe(err), 0);
	saved = dup(2);
	dup2(err[1], 2);
	f = tide_read(loop, -1, line, 1, 0);
	tide_loop_run_until(loop, f);
	tide_future_release(f); /* failed, never read */
	dup2(saved, 2);
	close(saved);
	close(err[1]);
	n = read(err[0], line, sizeof(line) - 1);
	close(err[0]);
	assert_true(n > 0);
	line[n] = 0;
	assert_non_null(strstr(line, "never read"));
	tide_loop_free(loop);
}

/* regressions found in review */

static void test_tide_loop_free_after_stop(void **state)
{
	struct tide_loop *loop = t_loop();

	(void)state;
	soon_n = 0;
	tide_future_on_done(tide_nop(loop), stop_cb, loop);
	tide_call_soon(loop, soon, (void *)1);
	tide_call_soon(loop, soon, (void *)2);
	assert_int_equal(tide_loop_run(loop), 0);
	tide_call_soon(loop, soon, (void *)3);
	tide_loop_free(loop); /* must run the queued tasks, not hang */
	assert_true(soon_n >= 2);
}

static void test_tide_future_timeout_read_full(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f;
	char buf[64];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "ab", 2), 2); /* a short first read */
	f = tide_future_timeout(tide_read_full(loop, p[0], buf, sizeof(buf),
					       TIDE_OFF_CUR),
				20000000);
	assert_int_equal(t_wait(loop, f), -ETIMEDOUT);
	tide_future_release(f);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

static void test_tide_any_leave_out_untouched(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_outcome out[2] = { { 111, NULL }, { 111, NULL } };
	struct tide_future *in[2], *f;
	char c;
	int p[2];

	(void)state;
	/* the loser is a read that cannot finish before we write: no race
	 * with a timer on a loaded machine */
	assert_int_equal(pipe(p), 0);
	in[0] = tide_nop(loop);
	in[1] = tide_read(loop, p[0], &c, 1, TIDE_OFF_CUR);
	f = tide_any(loop, in, 2, TIDE_ANY_LEAVE, out);
	assert_int_equal(t_wait(loop, f), 0);
	tide_future_release(f);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(out[0].result, 0);
	assert_int_equal(out[1].result, 111); /* finished after: not written */
	tide_loop_free(loop);
	close(p[0]);
	close(p[1]);
}

static int cont_saw;

static struct tide_future *see(struct tide_loop *loop, void *arg, int64_t res,
			       void *payload)
{
	(void)arg;
	(void)payload;
	cont_saw = (int)res;
	return tide_sleep(loop, 60ull * 1000000000);
}

static void test_tide_future_cancel_after_source_resolved(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *d;

	(void)state;
	cont_saw = -1;
	d = tide_future_then(tide_future_ready(loop, 5, NULL), see, NULL);
	assert_int_equal(tide_future_cancel(d), 0);
	/* the continuation saw the real outcome; its sleep was cancelled */
	assert_int_equal(t_wait(loop, d), -ECANCELED);
	assert_int_equal(cont_saw, 5);
	tide_future_release(d);
	tide_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_future_then_chain_1),
		cmocka_unit_test(test_tide_future_then_chain_100000),
		cmocka_unit_test(test_tide_future_then_chain_of_ops),
		cmocka_unit_test(test_tide_future_then_error_propagates),
		cmocka_unit_test(test_tide_future_then_bad_arguments),
		cmocka_unit_test(test_tide_future_on_done_deferred),
		cmocka_unit_test(test_tide_future_result_pending),
		cmocka_unit_test(test_tide_all_mixed),
		cmocka_unit_test(test_tide_any_cancels_rest),
		cmocka_unit_test(test_tide_any_leave),
		cmocka_unit_test(test_tide_future_timeout_pipe),
		cmocka_unit_test(test_tide_future_shield),
		cmocka_unit_test(test_tide_future_cancel_states),
		cmocka_unit_test(test_tide_promise_on_cancel),
		cmocka_unit_test(test_tide_promise_resolve_from_thread),
		cmocka_unit_test(test_tide_loop_run_until_stopped),
		cmocka_unit_test(test_tide_call_soon_later_at),
		cmocka_unit_test(test_tide_sleep_until),
		cmocka_unit_test(test_million_futures_flat),
		cmocka_unit_test(test_debug_warns_unread_failure),
		cmocka_unit_test(test_tide_loop_free_after_stop),
		cmocka_unit_test(test_tide_future_timeout_read_full),
		cmocka_unit_test(test_tide_any_leave_out_untouched),
		cmocka_unit_test(test_tide_future_cancel_after_source_resolved),
	};

	return T_RUN("future", tests);
}
