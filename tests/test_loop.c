// SPDX-License-Identifier: MIT
/*
 * test_loop.c - the engine: loop creation and its failure modes, run modes,
 * SQ backlog, CQ overflow, cross-thread posts, timers, statistics.
 *
 * This binary defines tide__sys_setup() itself: linked statically, it
 * replaces engine/sys.c's wrapper, so creation failures can be injected.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#include "uring/uring.h"

static int inject_err;	     /* returned for every setup attempt */
static unsigned reject_mask; /* IORING_SETUP_* bits answered with -EINVAL */

int tide__sys_setup(unsigned entries, struct io_uring *ring,
		    struct io_uring_params *p)
{
	if (inject_err)
		return inject_err;
	if (p->flags & reject_mask)
		return -EINVAL;
	return io_uring_queue_init_params(entries, ring, p);
}

static void test_tide_loop_new_bad_options(void **state)
{
	struct tide_loop_options o = { 0 };
	struct tide_loop *loop = (void *)1;

	(void)state;
	assert_int_equal(tide_loop_new(NULL, NULL), -EINVAL);
	o.flags = 1u << 30;
	assert_int_equal(tide_loop_new(&loop, &o), -EINVAL);
	assert_null(loop);
	o.flags = 0;
	o.reserved[2] = 1;
	assert_int_equal(tide_loop_new(&loop, &o), -EINVAL);
	o.reserved[2] = 0;
	o.entries = 64;
	o.cq_entries = 32;
	assert_int_equal(tide_loop_new(&loop, &o), -EINVAL);
	tide_loop_free(NULL); /* accepted */
}

static void check_fails_with(int err, const char *word)
{
	struct tide_loop_options o = { .flags = TIDE_LOOP_REQUIRE_URING };
	struct tide_loop *loop = (void *)1;

	inject_err = err;
	assert_int_equal(tide_loop_new(&loop, &o), err);
	inject_err = 0;
	assert_null(loop);
	assert_non_null(strstr(tide_strerror(err), word));
}

static void test_tide_loop_new_unusable(void **state)
{
	(void)state;
	check_fails_with(-ENOSYS, "CONFIG_IO_URING");
	check_fails_with(-EPERM, "io_uring_disabled");
	check_fails_with(-EPERM, "seccomp");
	check_fails_with(-ENOMEM, "RLIMIT_MEMLOCK");
	/* any errno gets some sentence */
	assert_non_null(tide_strerror(-EXDEV));
	assert_non_null(tide_strerror(0));
}

/* Without TIDE_LOOP_REQUIRE_URING, io_uring's failures that a container,
 * the sysctl or an old kernel give send the loop to epoll, and it says why;
 * TIDE_BACKEND and the options choose, or refuse nonsense. */
static void test_tide_loop_new_falls_back(void **state)
{
	static const int errs[] = { -EPERM, -ENOSYS, -ENOMEM };
	struct tide_loop_options o = { .flags = TIDE_LOOP_REQUIRE_URING };
	struct tide_loop_config cfg;
	struct tide_loop *loop;
	/* under t_fallback's filter io_uring itself is denied */
	bool uring_ok = tide_loop_new(&loop, &o) == 0;

	(void)state;
	if (uring_ok)
		tide_loop_free(loop);
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		inject_err = errs[i];
		assert_int_equal(tide_loop_new(&loop, NULL), 0);
		inject_err = 0;
		tide_loop_config(loop, &cfg);
		assert_int_equal(cfg.backend, TIDE_BACKEND_EPOLL);
		assert_int_equal(cfg.backend_why, TIDE_BACKEND_WHY_NO_URING);
		assert_int_equal(cfg.uring_error, errs[i]);
		assert_int_equal(cfg.sq_entries, 0);
		assert_int_equal(t_wait(loop, tide_nop(loop)), 0);
		tide_loop_free(loop);
	}
	/* an error that is not "io_uring is unusable here" is an error */
	inject_err = -EFAULT;
	assert_int_equal(tide_loop_new(&loop, NULL), -EFAULT);
	inject_err = 0;
	/* the environment forces one; the options win over it */
	setenv("TIDE_BACKEND", "epoll", 1);
	assert_int_equal(tide_loop_new(&loop, NULL), 0);
	tide_loop_config(loop, &cfg);
	assert_int_equal(cfg.backend, TIDE_BACKEND_EPOLL);
	assert_int_equal(cfg.backend_why, TIDE_BACKEND_WHY_ENV);
	tide_loop_free(loop);
	if (uring_ok) {
		assert_int_equal(tide_loop_new(&loop, &o), 0);
		tide_loop_config(loop, &cfg);
		assert_int_equal(cfg.backend, TIDE_BACKEND_URING);
		tide_loop_free(loop);
	}
	setenv("TIDE_BACKEND", "uring", 1);
	inject_err = -EPERM;
	assert_int_equal(tide_loop_new(&loop, NULL), -EPERM); /* no fallback */
	inject_err = 0;
	setenv("TIDE_BACKEND", "kqueue", 1);
	assert_int_equal(tide_loop_new(&loop, NULL), -EINVAL);
	unsetenv("TIDE_BACKEND");
	o.flags = TIDE_LOOP_EPOLL | TIDE_LOOP_REQUIRE_URING;
	assert_int_equal(tide_loop_new(&loop, &o), -EINVAL);
	o.flags = 0;
	assert_int_equal(tide_loop_new(&loop, &o), 0);
	tide_loop_config(loop, &cfg);
	if (uring_ok) {
		assert_int_equal(cfg.backend, TIDE_BACKEND_URING);
		assert_int_equal(cfg.backend_why, TIDE_BACKEND_WHY_DEFAULT);
	} else {
		assert_int_equal(cfg.backend_why, TIDE_BACKEND_WHY_NO_URING);
		assert_int_equal(cfg.uring_error, -EPERM);
	}
	tide_loop_free(loop);
}

static void test_tide_loop_new_fallback(void **state)
{
	struct tide_loop_config cfg;
	struct tide_loop *loop;

	(void)state;
	reject_mask = IORING_SETUP_DEFER_TASKRUN;
	loop = t_loop();
	tide_loop_config(loop, &cfg);
	if (t_loop_epoll(loop)) { /* no ring, no setup flags to fall back */
		reject_mask = 0;
		assert_int_equal(cfg.setup, 0);
		assert_int_equal(t_wait(loop, tide_nop(loop)), 0);
		tide_loop_free(loop);
		return;
	}
	assert_false(cfg.setup & TIDE_SETUP_DEFER_TASKRUN);
	assert_true(cfg.setup & TIDE_SETUP_COOP_TASKRUN);
	tide_loop_free(loop);

	reject_mask = IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
		      IORING_SETUP_SUBMIT_ALL;
	loop = t_loop();
	tide_loop_config(loop, &cfg);
	assert_int_equal(cfg.setup, 0);
	/* the plain ring still works */
	assert_int_equal(t_wait(loop, tide_nop(loop)), 0);
	reject_mask = 0;
	tide_loop_free(loop);
}

static void count_done(void *arg, int64_t res, void *payload)
{
	(void)payload;
	assert_true(res >= 0);
	(*(uint64_t *)arg)++;
}

static void test_backlog_tiny_ring(void **state)
{
	struct tide_loop_options o = t_opts;
	struct tide_loop_stats st;
	struct tide_loop *loop;
	uint64_t done = 0;
	int ret;

	(void)state;
	o.entries = 8;
	ret = tide_loop_new(&loop, &o);
	if (ret == -ENOSYS || ret == -EPERM)
		skip();
	assert_int_equal(ret, 0);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(tide_future_on_done(tide_nop(loop), count_done,
						     &done),
				 0);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(done, 10000);
	tide_loop_stats(loop, &st);
	if (!(t_opts.flags & TIDE_LOOP_EPOLL)) /* an SQ of 8 overflowed */
		assert_true(st.backlog_peak >= 10000 - 8);
	assert_true(st.submitted >= 10000);
	assert_true(st.completed >= 10000);
	assert_int_equal(tide_loop_pending(loop), 0);
	tide_loop_free(loop);
}

static void test_cq_overflow_survived(void **state)
{
	struct tide_loop_options o = t_opts;
	struct tide_loop_stats st;
	struct tide_loop *loop;
	uint64_t done = 0;
	int ret;

	(void)state;
	if (t_opts.flags & TIDE_LOOP_EPOLL)
		skip(); /* the io_uring completion queue's own case */
	o.entries = 8;
	o.cq_entries = 16;
	ret = tide_loop_new(&loop, &o);
	if (ret == -ENOSYS || ret == -EPERM)
		skip();
	assert_int_equal(ret, 0);
	/* submit 50 rounds of 8 without reaping: far more than the CQ holds */
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 8; i++)
			assert_int_equal(tide_future_on_done(tide_nop(loop),
							     count_done, &done),
					 0);
		if (t_loop_epoll(loop))
			continue; /* no CQ: the 400 just complete below */
		tide__backlog_flush(loop);
		assert_int_equal(tide__submit(loop, 0), 0);
	}
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(done, 400);
	tide_loop_stats(loop, &st);
	/* with SQPOLL the kernel thread submits at its own pace, so the CQ
	 * need not overflow; nothing may be lost either way */
	if (!(t_opts.flags & TIDE_LOOP_SQPOLL) && !t_loop_epoll(loop))
		assert_true(st.cq_overflows >= 1);
	tide_loop_free(loop);
}

struct poster {
	struct tide_loop *loop;
	atomic_uint_fast64_t *count;
	struct tide_future *done;
	int n;
};

static atomic_uint_fast64_t posted_runs;
static struct tide_future *all_posted;

static void on_post(void *arg)
{
	(void)arg;
	if (++posted_runs == 4 * 25000)
		tide_promise_resolve(all_posted, 0, NULL);
}

static void *post_thread(void *arg)
{
	struct poster *p = arg;

	for (int i = 0; i < p->n; i++)
		while (tide_loop_post(p->loop, on_post, NULL) != 0)
			;
	return NULL;
}

static void test_tide_loop_post_threads(void **state)
{
	struct tide_loop *loop = t_loop();
	struct poster p;
	pthread_t th[4];

	(void)state;
	posted_runs = 0;
	all_posted = tide_promise_new(loop);
	p = (struct poster){ .loop = loop, .n = 25000 };
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, post_thread, &p),
				 0);
	assert_int_equal(t_wait(loop, all_posted), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(posted_runs, 100000);
	tide_future_release(all_posted);
	assert_int_equal(tide_loop_post(NULL, on_post, NULL), -EINVAL);
	assert_int_equal(tide_loop_post(loop, NULL, NULL), -EINVAL);
	tide_loop_free(loop);
}

static int post_hits;

static void hit(void *arg)
{
	(void)arg;
	post_hits++;
}

static void test_tide_loop_post_runs_at_free(void **state)
{
	struct tide_loop *loop = t_loop();

	(void)state;
	post_hits = 0;
	assert_int_equal(tide_loop_post(loop, hit, NULL), 0);
	assert_int_equal(tide_call_soon(loop, hit, NULL), 0);
	tide_loop_free(loop);
	assert_int_equal(post_hits, 2);
}

/* Posters keep posting while the loop thread frees the loop: every post
 * either runs (before or inside tide_loop_free()) or fails with
 * -ESHUTDOWN; none touches the freed loop (ASan checks that). */
struct racer {
	struct tide_loop *loop;
	atomic_uint_fast64_t *runs;
	atomic_int *started;
	uint64_t accepted;
	int last;
};

static void race_run(void *arg)
{
	atomic_uint_fast64_t *runs = arg;

	(*runs)++;
}

static void *race_thread(void *arg)
{
	struct racer *r = arg;

	uint64_t t0 = tide_now_ns();

	r->last = 0;
	/* bounded: a post that wrongly keeps succeeding ends the thread */
	for (int i = 0;
	     r->last == 0 && (i & 1023 || tide_now_ns() - t0 < 60000000000ull);
	     i++) {
		r->last = tide_loop_post(r->loop, race_run, r->runs);
		if (r->last == 0 && r->accepted++ == 64)
			(*r->started)++;
	}
	return NULL;
}

static void test_tide_loop_post_races_free(void **state)
{
	(void)state;
	for (int round = 0; round < 20; round++) {
		struct tide_loop *loop = t_loop();
		atomic_uint_fast64_t runs = 0;
		atomic_int started = 0;
		struct racer r[4];
		pthread_t th[4];
		uint64_t accepted = 0;

		for (int i = 0; i < 4; i++) {
			r[i] = (struct racer){ .loop = loop,
					       .runs = &runs,
					       .started = &started };
			assert_int_equal(pthread_create(&th[i], NULL,
							race_thread, &r[i]),
					 0);
		}
		/* free while every poster is in full flow */
		while (started < 4)
			tide_loop_run_once(loop, 0);
		tide_loop_free(loop);
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(r[i].last, -ESHUTDOWN);
			accepted += r[i].accepted;
		}
		assert_int_equal(runs, accepted);
	}
}

static int order[8], order_n;

static void record(void *arg, int64_t res, void *payload)
{
	(void)payload;
	assert_int_equal(res, 0);
	order[order_n++] = (int)(intptr_t)arg;
}

static void test_timers_fire_in_order(void **state)
{
	static const int ms[] = { 50, 10, 40, 20, 30 };
	struct tide_loop *loop = t_loop();
	struct tide_loop_stats st;
	uint64_t t0 = tide_now_ns();

	(void)state;
	order_n = 0;
	for (int i = 0; i < 5; i++)
		tide_future_on_done(tide_sleep(loop, (uint64_t)ms[i] * 1000000),
				    record, (void *)(intptr_t)ms[i]);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(order_n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(order[i], 10 * (i + 1));
	assert_true(tide_now_ns() - t0 >= 50000000u);
	tide_loop_stats(loop, &st);
	assert_int_equal(st.timers, 5);
	tide_loop_free(loop);
}

static void stop_it(void *arg, int64_t res, void *payload)
{
	(void)res;
	(void)payload;
	tide_loop_stop(arg);
}

static void test_tide_loop_stop_from_continuation(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *slow = tide_sleep(loop, 10ull * 1000000000);

	(void)state;
	tide_future_on_done(tide_nop(loop), stop_it, loop);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_false(tide_future_done(slow));
	assert_true(tide_loop_pending(loop) >= 1);
	assert_int_equal(tide_future_cancel(slow), 0);
	assert_int_equal(t_wait(loop, slow), -ECANCELED);
	tide_future_release(slow);
	tide_loop_free(loop);
}

static void test_tide_loop_run_once_modes(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f;
	int n = 0;

	(void)state;
	/* nothing pending: neither form blocks */
	assert_int_equal(tide_loop_run_once(loop, 0), 0);
	assert_int_equal(tide_loop_run_once(loop, 1), 0);
	f = tide_nop(loop);
	while (!tide_future_done(f))
		assert_true((n = tide_loop_run_once(loop, 1)) >= 0);
	assert_int_equal(tide_future_result(f), 0);
	tide_future_release(f);
	assert_int_equal(tide_loop_run_once(NULL, 0), -EINVAL);
	assert_int_equal(tide_loop_run(NULL), -EINVAL);
	tide_loop_free(loop);
}

static struct tide_loop *nest_loop;
static int nest_ret;

static void nested_run(void *arg, int64_t res, void *payload)
{
	(void)arg;
	(void)res;
	(void)payload;
	nest_ret = tide_loop_run(nest_loop);
}

static void test_tide_loop_run_nested_is_busy(void **state)
{
	struct tide_loop *loop = t_loop();

	(void)state;
	nest_loop = loop;
	nest_ret = 1;
	tide_future_on_done(tide_nop(loop), nested_run, NULL);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(nest_ret, -EBUSY);
	tide_loop_free(loop);
}

static void test_stats_count_enters(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_loop_stats st;
	uint64_t done = 0;

	(void)state;
	for (int i = 0; i < 32; i++)
		tide_future_on_done(tide_nop(loop), count_done, &done);
	assert_int_equal(tide_loop_run(loop), 0);
	tide_loop_stats(loop, &st);
	assert_int_equal(done, 32);
	/* one batch: a handful of enters, not one per operation */
	if (!(t_opts.flags & TIDE_LOOP_SQPOLL))
		assert_true(st.enter_calls <= 4);
	assert_true(st.iterations >= 1);
	tide_loop_free(loop);
}

/* Every read's callback has run, with -ECANCELED, when free returns. */
static void count_cancelled(void *arg, int64_t res, void *payload)
{
	(void)payload;
	assert_int_equal(res, -ECANCELED);
	(*(uint64_t *)arg)++;
}

/*
 * More reads on an idle pipe than the SQ holds, one non-waiting turn, then
 * free: the backlog filled the SQ, so a cancel found no SQE and free used
 * to wait forever for a completion that never came.  alarm() turns a hang
 * into a failure.
 */
static void test_tide_loop_free_backlog_idle_pipe(void **state)
{
	struct tide_loop_options o = t_opts;
	struct tide_loop *loop;
	uint64_t done = 0;
	char buf[16][8];
	int p[2];

	(void)state;
	o.entries = 8;
	assert_int_equal(tide_loop_new(&loop, &o), 0);
	assert_int_equal(pipe(p), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(tide_future_on_done(tide_read(loop, p[0],
							       buf[i],
							       sizeof(buf[i]),
							       TIDE_OFF_CUR),
						     count_cancelled, &done),
				 0);
	assert_true(tide_loop_run_once(loop, 0) >= 0);
	alarm(20);
	tide_loop_free(loop);
	alarm(0);
	assert_int_equal(done, 16);
	close(p[0]);
	close(p[1]);
}

/*
 * Operations started while the loop is being freed are refused, however
 * much room the SQ has: a read on an idle pipe, cancelled by free, starts
 * another read on that pipe from its callback (three times over).  Had one
 * reached the kernel after free's cancel-all it would never complete and
 * free would wait for ever (alarm() makes that a failure).
 */
struct restart {
	struct tide_loop *loop;
	int fd;
	int left;
	uint64_t done;
	char buf[8];
};

static void restart_read(void *arg, int64_t res, void *payload)
{
	struct restart *r = arg;

	(void)payload;
	assert_int_equal(res, -ECANCELED);
	r->done++;
	if (r->left-- > 0)
		assert_int_equal(tide_future_on_done(tide_read(r->loop, r->fd,
							       r->buf,
							       sizeof(r->buf),
							       TIDE_OFF_CUR),
						     restart_read, r),
				 0);
}

static void test_tide_loop_free_refuses_new_ops(void **state)
{
	struct restart r = { .left = 3 };
	int p[2];

	(void)state;
	r.loop = t_loop();
	assert_int_equal(pipe(p), 0);
	r.fd = p[0];
	assert_int_equal(tide_future_on_done(tide_read(r.loop, p[0], r.buf,
						       sizeof(r.buf),
						       TIDE_OFF_CUR),
					     restart_read, &r),
			 0);
	assert_true(tide_loop_run_once(r.loop, 0) >= 0);
	alarm(20);
	tide_loop_free(r.loop);
	alarm(0);
	assert_int_equal(r.done, 4);
	close(p[0]);
	close(p[1]);
}

/*
 * A completion on the engine's odd road (here a read cancelled while
 * still in the backlog of a 4-entry ring, on io_uring; a plain cancel on
 * epoll) leaves the loop's count of user code on the stack as it was: a
 * NOP's on_done callback afterwards still runs in the turn that reaps it,
 * not a turn later.
 */
static void note_res(void *arg, int64_t res, void *payload)
{
	int64_t *r = arg;

	(void)payload;
	r[0] = res;
	r[1]++;
}

static void test_odd_completion_keeps_dispatch_inline(void **state)
{
	struct tide_loop_options o = t_opts;
	struct tide_loop *loop;
	struct tide_future *f[5];
	int64_t r[5][2] = { { 0 } }, nop[2] = { 0 };
	char buf[5][8];
	uint32_t base;
	int p[2];

	(void)state;
	o.entries = 4;
	assert_int_equal(tide_loop_new(&loop, &o), 0);
	base = loop->core.in_user;
	assert_int_equal(pipe(p), 0);
	for (int i = 0; i < 5; i++)
		assert_non_null(f[i] = tide_read(loop, p[0], buf[i],
						 sizeof(buf[i]), TIDE_OFF_CUR));
	if (loop->uring)
		assert_true(loop->u.bl_count > loop->u.bl_head);
	assert_int_equal(tide_future_cancel(f[4]), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(tide_future_on_done(f[i], note_res, r[i]), 0);
	/* bounded: SQPOLL's thread takes the SQ (and so the backlog's turn)
	 * in its own time */
	for (uint64_t t0 = tide_now_ns();
	     r[4][1] == 0 && tide_now_ns() - t0 < 10000000000ull;)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(r[4][0], -ECANCELED);
	assert_int_equal(loop->core.in_user, base);
	assert_int_equal(tide_future_on_done(tide_nop(loop), note_res, nop), 0);
	assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(nop[1], 1);
	assert_int_equal(loop->core.in_user, base);
	tide_loop_free(loop);
	close(p[0]);
	close(p[1]);
}

/*
 * 10 000 reads with deadlines pending: free cancels them all promptly (one
 * cancel-all, not a pass per operation), runs every callback and frees
 * every deadline's state (ASan's leak check would see it otherwise).
 */
static void test_tide_loop_free_many_pending(void **state)
{
	enum { N = 10000 };
	struct tide_loop_options o = t_opts;
	struct tide_loop *loop;
	uint64_t done = 0, t0;
	static char buf[N][4];
	int p[2];

	(void)state;
	o.cq_entries = 4096;
	o.entries = 1024;
	assert_int_equal(tide_loop_new(&loop, &o), 0);
	assert_int_equal(pipe(p), 0);
	for (int i = 0; i < N; i++) {
		struct tide_future *f = tide_read(loop, p[0], buf[i],
						  sizeof(buf[i]), TIDE_OFF_CUR);

		f = tide_future_timeout(f, 60ull * 1000000000u);
		assert_int_equal(tide_future_on_done(f, count_cancelled, &done),
				 0);
	}
	assert_true(tide_loop_run_once(loop, 0) >= 0);
	t0 = tide_now_ns();
	alarm(60);
	tide_loop_free(loop);
	alarm(0);
	printf("[ INFO     ] freeing with %d reads pending took %.3f s\n", N,
	       (double)(tide_now_ns() - t0) / 1e9);
	assert_int_equal(done, N);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest once[] = {
		cmocka_unit_test(test_tide_loop_new_bad_options),
		cmocka_unit_test(test_tide_loop_new_unusable),
		cmocka_unit_test(test_tide_loop_new_fallback),
		cmocka_unit_test(test_tide_loop_new_falls_back),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backlog_tiny_ring),
		cmocka_unit_test(test_cq_overflow_survived),
		cmocka_unit_test(test_tide_loop_post_threads),
		cmocka_unit_test(test_tide_loop_post_runs_at_free),
		cmocka_unit_test(test_tide_loop_post_races_free),
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_tide_loop_stop_from_continuation),
		cmocka_unit_test(test_tide_loop_run_once_modes),
		cmocka_unit_test(test_tide_loop_run_nested_is_busy),
		cmocka_unit_test(test_stats_count_enters),
		cmocka_unit_test(test_tide_loop_free_backlog_idle_pipe),
		cmocka_unit_test(test_tide_loop_free_refuses_new_ops),
		cmocka_unit_test(test_odd_completion_keeps_dispatch_inline),
		cmocka_unit_test(test_tide_loop_free_many_pending),
	};
	int fails = cmocka_run_group_tests_name("loop", once, NULL, NULL);

	return fails + T_RUN("loop", tests);
}
