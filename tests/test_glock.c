// SPDX-License-Identifier: MIT
/*
 * test_glock.c - the global-lock emulation: options, mutual exclusion,
 * drop requests at check points, forced switching, FIFO order, statistics.
 * Assertions are about semantics and counts; time bounds are generous.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct tide_glock *new_lock(uint32_t mode, uint32_t flags,
				   uint64_t interval_ns)
{
	struct tide_glock_options o = { 0 };
	struct tide_glock *g = NULL;

	o.mode = mode;
	o.flags = flags;
	o.interval_ns = interval_ns;
	assert_int_equal(tide_glock_new(&g, &o), 0);
	assert_non_null(g);
	return g;
}

static void test_tide_glock_new_bad_options(void **state)
{
	struct tide_glock_options o = { 0 };
	struct tide_glock *g = (void *)1;

	(void)state;
	assert_int_equal(tide_glock_new(NULL, NULL), -EINVAL);
	o.mode = 7;
	assert_int_equal(tide_glock_new(&g, &o), -EINVAL);
	assert_null(g);
	o.mode = 0;
	o.flags = 1u << 9;
	assert_int_equal(tide_glock_new(&g, &o), -EINVAL);
	o.flags = 0;
	o.interval_ns = 999;
	assert_int_equal(tide_glock_new(&g, &o), -EINVAL);
	o.interval_ns = 0;
	o.reserved[3] = 1;
	assert_int_equal(tide_glock_new(&g, &o), -EINVAL);
	o.reserved[3] = 0;
	o.max_threads = 100000;
	assert_int_equal(tide_glock_new(&g, &o), -EINVAL);
	tide_glock_free(NULL);
}

static void test_tide_glock_new_defaults(void **state)
{
	struct tide_glock *g = NULL;

	(void)state;
	assert_int_equal(tide_glock_new(&g, NULL), 0);
	assert_int_equal(tide_glock_interval(g),
			 TIDE_GLOCK_DEFAULT_INTERVAL_NS);
	assert_int_equal(tide_glock_set_interval(g, 999), -EINVAL);
	assert_int_equal(tide_glock_set_interval(NULL, 5000), -EINVAL);
	assert_int_equal(tide_glock_set_interval(g, 2000000), 0);
	assert_int_equal(tide_glock_interval(g), 2000000);
	tide_glock_free(g);
}

static void test_tide_glock_misuse(void **state)
{
	struct tide_glock *g = new_lock(TIDE_GLOCK_GIL, 0, 0);

	(void)state;
	assert_int_equal(tide_glock_release(g), -EPERM);
	assert_int_equal(tide_glock_blocking_begin(g), -EPERM);
	assert_int_equal(tide_glock_check(g), 0); /* nothing requested */
	assert_int_equal(tide_glock_acquire(g), 0);
	assert_int_equal(tide_glock_acquire(g), -EDEADLK);
	assert_int_equal(tide_glock_blocking_end(g), -EDEADLK);
	assert_int_equal(tide_glock_check(g), 0);
	assert_int_equal(tide_glock_release(g), 0);
	assert_int_equal(tide_glock_release(g), -EPERM);
	assert_int_equal(tide_glock_acquire(NULL), -EINVAL);
	assert_int_equal(tide_glock_release(NULL), -EINVAL);
	assert_int_equal(tide_glock_check(NULL), -EINVAL);
	assert_int_equal(tide_glock_thread_stats(NULL, NULL, 0), -EINVAL);
	tide_glock_free(g);
}

/* ---- mutual exclusion ------------------------------------------------- */

#define MX_THREADS 8
#define MX_ROUNDS 200
#define MX_INCS 500

struct mx {
	struct tide_glock *g;
	uint64_t counter; /* plain: only the lock protects it */
	atomic_int inside;
	atomic_int overlap;
};

static void *mx_thread(void *p)
{
	struct mx *m = p;
	int r, i;

	for (r = 0; r < MX_ROUNDS; r++) {
		tide_glock_acquire(m->g);
		for (i = 0; i < MX_INCS; i++) {
			if (atomic_fetch_add(&m->inside, 1) != 0)
				atomic_store(&m->overlap, 1);
			m->counter++;
			atomic_fetch_sub(&m->inside, 1);
			tide_glock_check(m->g);
		}
		if (r % 3 == 0) {
			tide_glock_blocking_begin(m->g);
			tide_glock_blocking_end(m->g);
		}
		tide_glock_release(m->g);
	}
	return NULL;
}

static void mutual_exclusion(uint32_t mode, uint32_t flags)
{
	struct tide_glock_thread_stats ts[MX_THREADS + 1];
	struct tide_glock_stats st;
	pthread_t t[MX_THREADS];
	struct mx m = { 0 };
	uint64_t acq = 0;
	double share = 0;
	int i, n;

	m.g = new_lock(mode, flags, 1000); /* 1 us: many switches */
	for (i = 0; i < MX_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, mx_thread, &m), 0);
	for (i = 0; i < MX_THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(m.counter, (uint64_t)MX_THREADS * MX_ROUNDS * MX_INCS);
	assert_int_equal(atomic_load(&m.overlap), 0);

	tide_glock_stats(m.g, &st);
	assert_int_equal(st.acquisitions, st.releases);
	assert_true(st.acquisitions >=
		    (uint64_t)MX_THREADS * MX_ROUNDS * 4 / 3);
	assert_int_equal(st.wait_ns.count, st.acquisitions);
	assert_int_equal(st.hold_ns.count, st.releases);
	assert_true(st.handoffs <= st.acquisitions);
	assert_true(st.check_drops <= st.acquisitions);
	assert_int_equal(st.blocking,
			 (uint64_t)MX_THREADS * ((MX_ROUNDS + 2) / 3));
	assert_int_equal(st.threads, MX_THREADS);
	assert_int_equal(st.waiters, 0);
	assert_true(st.held_ns <= st.wall_ns);
	assert_true(st.held_fraction >= 0 && st.held_fraction <= 1.0);
	assert_true(st.jain_index > 0 && st.jain_index <= 1.0 + 1e-9);
	assert_true(st.hold_ns.p50 <= st.hold_ns.p99);
	assert_true(st.hold_ns.p99 <= st.hold_ns.max);
	assert_true(st.wait_ns.p50 <= st.wait_ns.max);

	n = tide_glock_thread_stats(m.g, ts, MX_THREADS + 1);
	assert_int_equal(n, MX_THREADS);
	for (i = 0; i < n; i++) {
		assert_true(ts[i].tid > 0);
		acq += ts[i].acquisitions;
		share += ts[i].share;
	}
	assert_int_equal(acq, st.acquisitions);
	assert_true(share > 0.999 && share < 1.001);
	tide_glock_free(m.g);
}

static void test_tide_glock_mutual_exclusion_gil(void **state)
{
	(void)state;
	mutual_exclusion(TIDE_GLOCK_GIL, 0);
}

static void test_tide_glock_mutual_exclusion_no_force(void **state)
{
	(void)state;
	mutual_exclusion(TIDE_GLOCK_GIL, TIDE_GLOCK_NO_FORCE_SWITCH);
}

static void test_tide_glock_mutual_exclusion_fifo(void **state)
{
	(void)state;
	mutual_exclusion(TIDE_GLOCK_FIFO, 0);
}

/* ---- drop requests and forced switching ------------------------------ */

struct waiter {
	struct tide_glock *g;
	atomic_int started;
	atomic_int got;
};

static void *waiter_thread(void *p)
{
	struct waiter *w = p;

	atomic_store(&w->started, 1);
	tide_glock_acquire(w->g);
	atomic_store(&w->got, 1);
	sleep_ms(5);
	tide_glock_release(w->g);
	return NULL;
}

/*
 * The holder spins calling tide_glock_check(); a waiter asks for the lock.
 * The holder must give it up at a check point (bounded: the request is seen
 * at the first check after it is set), and with forced switching the waiter
 * must own the lock before the holder gets it back.
 */
static void drop_on_request(uint32_t mode, uint32_t flags)
{
	struct tide_glock_stats st;
	struct waiter w = { 0 };
	uint64_t checks = 0, t0;
	pthread_t t;
	int r = 0;

	w.g = new_lock(mode, flags, 1000000); /* 1 ms */
	assert_int_equal(tide_glock_acquire(w.g), 0);
	assert_int_equal(pthread_create(&t, NULL, waiter_thread, &w), 0);
	t0 = tide_now_ns();
	/* spin for at most 10 s: far beyond one interval */
	while (tide_now_ns() - t0 < 10000000000ull) {
		checks++;
		r = tide_glock_check(w.g);
		if (r)
			break;
	}
	assert_int_equal(r, 1);
	if (!(flags & TIDE_GLOCK_NO_FORCE_SWITCH))
		assert_int_equal(atomic_load(&w.got), 1); /* it went first */
	assert_int_equal(tide_glock_release(w.g), 0);
	pthread_join(t, NULL);

	tide_glock_stats(w.g, &st);
	assert_true(st.drop_requests >= 1);
	assert_true(st.check_drops >= 1);
	assert_int_equal(st.acquisitions, st.releases);
	if (mode == TIDE_GLOCK_GIL && !(flags & TIDE_GLOCK_NO_FORCE_SWITCH))
		assert_true(st.forced_drops >= 1 &&
			    st.forced_drops <= st.drop_requests);
	else
		assert_int_equal(st.forced_drops, 0);
	/* the waiter waited at least one interval before asking */
	assert_true(st.wait_ns.max >= 1000000 * 9 / 10);
	assert_true(checks > 0);
	tide_glock_free(w.g);
}

static void test_tide_glock_check_forced_switch(void **state)
{
	(void)state;
	drop_on_request(TIDE_GLOCK_GIL, 0);
}

static void test_tide_glock_check_no_force(void **state)
{
	(void)state;
	drop_on_request(TIDE_GLOCK_GIL, TIDE_GLOCK_NO_FORCE_SWITCH);
}

static void test_tide_glock_check_fifo(void **state)
{
	(void)state;
	drop_on_request(TIDE_GLOCK_FIFO, 0);
}

/* A release with no waiter: nothing is requested, nobody waits. */
static void test_tide_glock_blocking_uncontended(void **state)
{
	struct tide_glock *g = new_lock(TIDE_GLOCK_GIL, 0, 0);
	struct tide_glock_stats st;

	(void)state;
	assert_int_equal(tide_glock_acquire(g), 0);
	assert_int_equal(tide_glock_blocking_begin(g), 0);
	assert_int_equal(tide_glock_blocking_end(g), 0);
	assert_int_equal(tide_glock_release(g), 0);
	tide_glock_stats(g, &st);
	assert_int_equal(st.acquisitions, 2);
	assert_int_equal(st.releases, 2);
	assert_int_equal(st.blocking, 1);
	assert_int_equal(st.handoffs, 0);
	assert_int_equal(st.drop_requests, 0);
	assert_int_equal(st.forced_drops, 0);
	assert_int_equal(st.threads, 1);
	assert_true(st.jain_index > 0.999);
	tide_glock_free(g);
}

/* ---- FIFO order --------------------------------------------------------- */

struct order {
	struct tide_glock *g;
	atomic_int seq;
	int pos[2];
	int idx;
};

struct order_arg {
	struct order *o;
	int idx;
};

static void *order_thread(void *p)
{
	struct order_arg *a = p;

	tide_glock_acquire(a->o->g);
	a->o->pos[a->idx] = atomic_fetch_add(&a->o->seq, 1);
	tide_glock_release(a->o->g);
	return NULL;
}

static void wait_waiters(struct tide_glock *g, uint32_t n)
{
	struct tide_glock_stats st;
	int i;

	for (i = 0; i < 10000; i++) {
		tide_glock_stats(g, &st);
		if (st.waiters >= n)
			return;
		sleep_ms(1);
	}
	fail_msg("waiters never reached %u", n);
}

static void test_tide_glock_fifo_order(void **state)
{
	struct order o = { 0 };
	struct order_arg a[2] = { { &o, 0 }, { &o, 1 } };
	pthread_t t[2];

	(void)state;
	/* long interval: no drop request interferes */
	o.g = new_lock(TIDE_GLOCK_FIFO, 0, 10000000000ull);
	assert_int_equal(tide_glock_acquire(o.g), 0);
	assert_int_equal(pthread_create(&t[0], NULL, order_thread, &a[0]), 0);
	wait_waiters(o.g, 1);
	assert_int_equal(pthread_create(&t[1], NULL, order_thread, &a[1]), 0);
	wait_waiters(o.g, 2);
	assert_int_equal(tide_glock_release(o.g), 0);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	assert_int_equal(o.pos[0], 0);
	assert_int_equal(o.pos[1], 1);
	tide_glock_free(o.g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_glock_new_bad_options),
		cmocka_unit_test(test_tide_glock_new_defaults),
		cmocka_unit_test(test_tide_glock_misuse),
		cmocka_unit_test(test_tide_glock_blocking_uncontended),
		cmocka_unit_test(test_tide_glock_mutual_exclusion_gil),
		cmocka_unit_test(test_tide_glock_mutual_exclusion_no_force),
		cmocka_unit_test(test_tide_glock_mutual_exclusion_fifo),
		cmocka_unit_test(test_tide_glock_check_forced_switch),
		cmocka_unit_test(test_tide_glock_check_no_force),
		cmocka_unit_test(test_tide_glock_check_fifo),
		cmocka_unit_test(test_tide_glock_fifo_order),
	};

	return cmocka_run_group_tests_name("glock", tests, NULL, NULL);
}
