// SPDX-License-Identifier: MIT
/*
 * test_pool.c - the thread pool: results delivered to the right futures,
 * failing jobs, a full queue, cancellation of queued and running jobs,
 * drain and abort shutdown, fire-and-forget posts, statistics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

/*
 * Linked with -Wl,--wrap=realloc (tests/test_pool.ldflags): while
 * fail_realloc is set, realloc fails on every thread but the test's own,
 * so pool workers handing results back find no memory.
 */
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static atomic_int fail_realloc;
static pthread_t test_thread;

void *__wrap_realloc(void *p, size_t n)
{
	if (atomic_load(&fail_realloc) &&
	    !pthread_equal(pthread_self(), test_thread))
		return NULL;
	return __real_realloc(p, n);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct tide_pool *new_pool(uint32_t threads, uint32_t cap)
{
	struct tide_pool_options o = { 0 };
	struct tide_pool *p = NULL;

	o.threads = threads;
	o.queue_capacity = cap;
	assert_int_equal(tide_pool_new(&p, &o), 0);
	assert_non_null(p);
	return p;
}

/* Wait (bounded) until the pool runs n jobs at once. */
static void wait_running(struct tide_pool *p, uint64_t n)
{
	struct tide_pool_stats st;
	int i;

	for (i = 0; i < 10000; i++) {
		tide_pool_stats(p, &st);
		if (st.running >= n)
			return;
		sleep_ms(1);
	}
	fail_msg("pool never ran %llu jobs", (unsigned long long)n);
}

static int64_t job_triple(void *arg)
{
	return (int64_t)(uintptr_t)arg * 3;
}

static int64_t job_fail(void *arg)
{
	(void)arg;
	return -EIO;
}

static atomic_int gate;

/* Runs until the gate opens (at most 10 s); returns 7. */
static int64_t job_gate(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 10000 && !atomic_load(&gate); i++)
		sleep_ms(1);
	return 7;
}

static atomic_int ran;

static int64_t job_count(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return 0;
}

static void test_tide_pool_new_bad_options(void **state)
{
	struct tide_pool_options o = { 0 };
	struct tide_pool *p = (void *)1;

	(void)state;
	assert_int_equal(tide_pool_new(NULL, NULL), -EINVAL);
	o.threads = 5000;
	assert_int_equal(tide_pool_new(&p, &o), -EINVAL);
	assert_null(p);
	o.threads = 0;
	o.flags = 1;
	assert_int_equal(tide_pool_new(&p, &o), -EINVAL);
	o.flags = 0;
	o.reserved[0] = 1;
	assert_int_equal(tide_pool_new(&p, &o), -EINVAL);
	tide_pool_free(NULL);
	/* defaults */
	assert_int_equal(tide_pool_new(&p, NULL), 0);
	tide_pool_free(p);
}

#define MANY 100000

/* Under valgrind (make check-valgrind) a tenth: it serialises the threads. */
static uintptr_t many(void)
{
	const char *pre = getenv("LD_PRELOAD");

	return pre && strstr(pre, "vgpreload") ? MANY / 10 : MANY;
}

struct many {
	uint64_t delivered;
	uint64_t wrong;
};

static void many_done(void *arg, int64_t result, void *payload)
{
	struct many *m = arg;

	m->delivered++;
	if (result != (int64_t)(uintptr_t)payload * 3)
		m->wrong++;
}

static void test_tide_pool_submit_many(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(2, MANY);
	struct tide_pool_stats st;
	struct many m = { 0 };
	uintptr_t i, n = many();

	(void)state;
	for (i = 0; i < n; i++) {
		struct tide_future *f =
			tide_pool_submit(p, loop, job_triple, (void *)i);

		assert_int_equal(tide_future_on_done(f, many_done, &m), 0);
	}
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(m.delivered, n);
	assert_int_equal(m.wrong, 0);
	tide_pool_stats(p, &st);
	assert_int_equal(st.submitted, n);
	assert_int_equal(st.completed, n);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.threads, 2);
	assert_true(st.queue_wait_ns_max <= st.queue_wait_ns_total);
	tide_pool_free(p);
	tide_loop_free(loop);
}

static void test_tide_pool_submit_failing_job(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(1, 0);
	struct tide_pool_stats st;
	struct tide_future *f;

	(void)state;
	f = tide_pool_submit(p, loop, job_fail, &st);
	assert_int_equal(t_wait(loop, f), -EIO);
	assert_ptr_equal(tide_future_payload(f), &st);
	tide_future_release(f);
	tide_pool_stats(p, &st);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.failed, 1);
	tide_pool_free(p);
	tide_loop_free(loop);
}

static void test_tide_pool_submit_bad_args(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(1, 0);
	struct tide_future *f;

	(void)state;
	assert_null(tide_pool_submit(p, NULL, job_fail, NULL));
	f = tide_pool_submit(NULL, loop, job_fail, NULL);
	assert_int_equal(t_wait(loop, f), -EINVAL);
	tide_future_release(f);
	f = tide_pool_submit(p, loop, NULL, NULL);
	assert_int_equal(t_wait(loop, f), -EINVAL);
	tide_future_release(f);
	assert_int_equal(tide_pool_post(NULL, job_count, NULL), -EINVAL);
	assert_int_equal(tide_pool_post(p, NULL, NULL), -EINVAL);
	tide_pool_free(p);
	tide_loop_free(loop);
}

/* One worker busy, a queue of two: the third queued job is refused. */
static void test_tide_pool_submit_queue_full(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(1, 2);
	struct tide_future *f[4];
	struct tide_pool_stats st;
	int i;

	(void)state;
	atomic_store(&gate, 0);
	f[0] = tide_pool_submit(p, loop, job_gate, NULL);
	wait_running(p, 1);
	f[1] = tide_pool_submit(p, loop, job_triple, (void *)1);
	f[2] = tide_pool_submit(p, loop, job_triple, (void *)2);
	f[3] = tide_pool_submit(p, loop, job_triple, (void *)3);
	assert_int_equal(tide_pool_post(p, job_count, NULL), -EAGAIN);
	atomic_store(&gate, 1);
	assert_int_equal(t_wait(loop, f[3]), -EAGAIN);
	assert_int_equal(t_wait(loop, f[0]), 7);
	assert_int_equal(t_wait(loop, f[1]), 3);
	assert_int_equal(t_wait(loop, f[2]), 6);
	for (i = 0; i < 4; i++)
		tide_future_release(f[i]);
	tide_pool_stats(p, &st);
	assert_int_equal(st.rejected, 2);
	assert_int_equal(st.completed, 3);
	tide_pool_free(p);
	tide_loop_free(loop);
}

/* Cancel removes a queued job (never runs); a running job completes. */
static void test_tide_pool_submit_cancel(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(1, 0);
	struct tide_pool_stats st;
	struct tide_future *a, *b;

	(void)state;
	atomic_store(&gate, 0);
	atomic_store(&ran, 0);
	a = tide_pool_submit(p, loop, job_gate, NULL);
	wait_running(p, 1);
	b = tide_pool_submit(p, loop, job_count, NULL);
	assert_int_equal(tide_future_cancel(b), 0);
	assert_int_equal(tide_future_cancel(a), 0);
	assert_int_equal(t_wait(loop, b), -ECANCELED);
	atomic_store(&gate, 1);
	assert_int_equal(t_wait(loop, a), 7);
	assert_int_equal(tide_future_cancel(a), -EALREADY);
	tide_future_release(a);
	tide_future_release(b);
	tide_pool_stats(p, &st);
	assert_int_equal(st.cancelled, 1);
	assert_int_equal(st.completed, 1);
	tide_pool_free(p);
	assert_int_equal(atomic_load(&ran), 0);
	tide_loop_free(loop);
}

struct tally {
	int ok, cancelled, other;
};

static void tally_done(void *arg, int64_t result, void *payload)
{
	struct tally *t = arg;

	(void)payload;
	if (result == -ECANCELED)
		t->cancelled++;
	else if (result >= 0)
		t->ok++;
	else
		t->other++;
}

/* Opens the gate once the queue is empty (after the abort took it). */
static void *opener(void *arg)
{
	struct tide_pool_stats st;
	int i;

	for (i = 0; i < 10000; i++) {
		tide_pool_stats(arg, &st);
		if (st.queued == 0)
			break;
		sleep_ms(1);
	}
	atomic_store(&gate, 1);
	return NULL;
}

static void shutdown_with_queue(int mode)
{
	pthread_t opener_t;
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(1, 0);
	struct tide_pool_stats st;
	struct tally t = { 0 };
	struct tide_future *f;
	int i;

	atomic_store(&gate, 0);
	atomic_store(&ran, 0);
	f = tide_pool_submit(p, loop, job_gate, NULL);
	assert_int_equal(tide_future_on_done(f, tally_done, &t), 0);
	wait_running(p, 1);
	for (i = 0; i < 4; i++) {
		f = tide_pool_submit(p, loop, job_count, NULL);
		assert_int_equal(tide_future_on_done(f, tally_done, &t), 0);
	}
	if (mode == TIDE_POOL_ABORT)
		assert_int_equal(pthread_create(&opener_t, NULL, opener, p), 0);
	else
		atomic_store(&gate, 1);
	assert_int_equal(tide_pool_shutdown(p, mode), 0);
	if (mode == TIDE_POOL_ABORT)
		pthread_join(opener_t, NULL);
	assert_int_equal(tide_pool_shutdown(p, mode), -EALREADY);
	assert_int_equal(tide_pool_post(p, job_count, NULL), -ESHUTDOWN);
	f = tide_pool_submit(p, loop, job_count, NULL);
	assert_int_equal(t_wait(loop, f), -ESHUTDOWN);
	tide_future_release(f);
	assert_int_equal(tide_loop_run(loop), 0);
	tide_pool_stats(p, &st);
	if (mode == TIDE_POOL_ABORT) {
		assert_int_equal(t.ok, 1);
		assert_int_equal(t.cancelled, 4);
		assert_int_equal(atomic_load(&ran), 0);
		assert_int_equal(st.cancelled, 4);
		assert_int_equal(st.completed, 1);
	} else {
		assert_int_equal(t.ok, 5);
		assert_int_equal(t.cancelled, 0);
		assert_int_equal(atomic_load(&ran), 4);
		assert_int_equal(st.completed, 5);
	}
	assert_int_equal(t.other, 0);
	assert_int_equal(st.queued, 0);
	tide_pool_free(p);
	tide_loop_free(loop);
}

static void test_tide_pool_shutdown_abort(void **state)
{
	(void)state;
	shutdown_with_queue(TIDE_POOL_ABORT);
}

static void test_tide_pool_shutdown_drain(void **state)
{
	(void)state;
	shutdown_with_queue(TIDE_POOL_DRAIN);
}

static int64_t job_shutdown_self(void *arg)
{
	return tide_pool_shutdown(arg, TIDE_POOL_DRAIN);
}

static void test_tide_pool_shutdown_errors(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(2, 0);
	struct tide_future *f;

	(void)state;
	assert_int_equal(tide_pool_shutdown(NULL, TIDE_POOL_DRAIN), -EINVAL);
	assert_int_equal(tide_pool_shutdown(p, 9), -EINVAL);
	f = tide_pool_submit(p, loop, job_shutdown_self, p);
	assert_int_equal(t_wait(loop, f), -EDEADLK);
	tide_future_release(f);
	tide_pool_free(p);
	tide_loop_free(loop);
}

static void test_tide_pool_post(void **state)
{
	struct tide_pool *p = new_pool(3, 0);
	struct tide_pool_stats st;
	int i;

	(void)state;
	atomic_store(&ran, 0);
	for (i = 0; i < 500; i++) {
		int err;

		while ((err = tide_pool_post(p, job_count, NULL)) == -EAGAIN)
			sleep_ms(1);
		assert_int_equal(err, 0);
	}
	tide_pool_free(p); /* drains */
	assert_int_equal(atomic_load(&ran), 500);
	(void)st;
}

/* Workers deliver results even when no memory can be had: a result is
 * delivered or its loop is gone, never given up on. */
static void test_tide_pool_submit_no_memory(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(2, 0);
	struct tide_future *f[64];
	uintptr_t i;

	(void)state;
	test_thread = pthread_self();
	atomic_store(&fail_realloc, 1);
	for (i = 0; i < 64; i++)
		f[i] = tide_pool_submit(p, loop, job_triple, (void *)i);
	for (i = 0; i < 64; i++)
		assert_int_equal(t_wait(loop, f[i]), (int64_t)i * 3);
	atomic_store(&fail_realloc, 0);
	for (i = 0; i < 64; i++)
		tide_future_release(f[i]);
	tide_pool_free(p);
	tide_loop_free(loop);
}

/* A job still running when its loop is freed finishes into the void: no
 * use of the freed loop, no leak, and the pool still drains. */
static void test_tide_pool_job_outlives_loop(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_pool *p = new_pool(1, 0);
	struct tide_future *f;

	(void)state;
	atomic_store(&gate, 0);
	f = tide_pool_submit(p, loop, job_gate, NULL);
	assert_non_null(f);
	wait_running(p, 1);
	tide_future_release(f);
	tide_loop_free(loop);
	atomic_store(&gate, 1);
	tide_pool_free(p); /* waits for the job, whose loop is gone */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_pool_new_bad_options),
		cmocka_unit_test(test_tide_pool_submit_many),
		cmocka_unit_test(test_tide_pool_submit_failing_job),
		cmocka_unit_test(test_tide_pool_submit_bad_args),
		cmocka_unit_test(test_tide_pool_submit_queue_full),
		cmocka_unit_test(test_tide_pool_submit_cancel),
		cmocka_unit_test(test_tide_pool_shutdown_abort),
		cmocka_unit_test(test_tide_pool_shutdown_drain),
		cmocka_unit_test(test_tide_pool_shutdown_errors),
		cmocka_unit_test(test_tide_pool_post),
		cmocka_unit_test(test_tide_pool_submit_no_memory),
		cmocka_unit_test(test_tide_pool_job_outlives_loop),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
