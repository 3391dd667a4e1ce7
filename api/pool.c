// SPDX-License-Identifier: MIT
/*
 * pool.c - a fixed-size thread pool with a bounded FIFO queue whose results
 * come back to a loop as futures (asyncio's run_in_executor).
 *
 * A job's life: submit (loop thread) creates a promise and queues the job;
 * a worker takes it (QUEUED -> RUNNING), runs fn, marks it DONE and posts
 * deliver() to the job's loop, which resolves the promise there and frees
 * the job.  Cancelling the promise calls on_cancel() on the loop thread: a
 * job still QUEUED is unlinked and resolved with -ECANCELED; a RUNNING one
 * runs to its end.  After a job has been posted the pool never touches it
 * again, so the pool may be freed while deliveries wait in a loop.
 *
 * The hand-back cannot fail for memory: the job carries its own post node
 * (tide__loop_post_node()).  It fails only when the job's loop has been
 * freed, and then the promise went with the loop and the job is freed here.
 *
 * Jobs are malloc'd: one allocation costs far less than the two thread
 * hand-offs every job pays anyway.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#define POOL_MAX_THREADS 1024u
#define POOL_DEFAULT_QUEUE 1024u

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct pool_job {
	struct pool_job *prev, *next;
	struct tide_pool *pool;
	tide_pool_fn *fn;
	void *arg;
	struct tide_loop *loop; /* NULL for tide_pool_post() */
	uint64_t loop_id;	/* tide__loop_id(loop) */
	struct tide__post node; /* the hand-back to loop */
	struct tide_future *promise;
	uint64_t t_submit;
	int64_t result;
	atomic_int state; /* JOB_*; written under pool->mu */
};

struct tide_pool {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct pool_job *head, *tail; /* the queue, oldest first */
	uint32_t nthreads, cap;
	int stopping;
	int joined;
	pthread_t *threads;
	struct tide_pool_stats st; /* queued/running kept live here */
};

static _Thread_local struct tide_pool *tls_pool; /* set in workers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the queue (pool->mu held) ---------------------------------------- */

static void q_push(struct tide_pool *p, struct pool_job *j)
{
	j->next = NULL;
	j->prev = p->tail;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->st.queued++;
}

static void q_unlink(struct tide_pool *p, struct pool_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		p->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		p->tail = j->prev;
	j->prev = j->next = NULL;
	p->st.queued--;
}

/* ---- delivery ---------------------------------------------------------- */

/* On the job's loop thread. */
static void deliver(void *arg)
{
	struct pool_job *j = arg;

	tide_promise_resolve(j->promise, j->result, j->arg);
	free(j);
}

/* Hand a finished (or cancelled) job to its loop, or drop it when the loop
 * is gone (its promise was freed with it).  Never fails otherwise. */
static void finish(struct pool_job *j, int64_t result)
{
	if (!j->loop) {
		free(j);
		return;
	}
	j->result = result;
	j->node.fn = deliver;
	j->node.arg = j;
	if (tide__loop_post_node(j->loop, j->loop_id, &j->node))
		free(j);
}

/* Cancellation hook of a job's promise; on the loop thread. */
static void on_cancel(void *arg)
{
	struct pool_job *j = arg;
	struct tide_pool *p;

	if (atomic_load(&j->state) != JOB_QUEUED)
		return; /* running: it completes; done: delivery is on its way */
	p = j->pool;
	pthread_mutex_lock(&p->mu);
	if (atomic_load(&j->state) != JOB_QUEUED) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	q_unlink(p, j);
	atomic_store(&j->state, JOB_DONE);
	p->st.cancelled++;
	pthread_mutex_unlock(&p->mu);
	tide_promise_resolve(j->promise, -ECANCELED, j->arg);
	free(j);
}

/* ---- workers ----------------------------------------------------------- */

static void *worker(void *arg)
{
	struct tide_pool *p = arg;
	struct pool_job *j;
	uint64_t t0, t1, wait;
	int64_t r;

	tls_pool = p;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->work, &p->mu);
		j = p->head;
		if (!j)
			break; /* stopping and nothing left */
		q_unlink(p, j);
		atomic_store(&j->state, JOB_RUNNING);
		p->st.running++;
		t0 = now_ns();
		wait = t0 - j->t_submit;
		p->st.queue_wait_ns_total += wait;
		if (wait > p->st.queue_wait_ns_max)
			p->st.queue_wait_ns_max = wait;
		pthread_mutex_unlock(&p->mu);

		r = j->fn(j->arg);
		t1 = now_ns();

		pthread_mutex_lock(&p->mu);
		atomic_store(&j->state, JOB_DONE);
		p->st.running--;
		p->st.completed++;
		if (r < 0)
			p->st.failed++;
		p->st.run_ns_total += t1 - t0;
		pthread_mutex_unlock(&p->mu);
		finish(j, r);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int valid_options(const struct tide_pool_options *o)
{
	unsigned i;

	if (o->threads > POOL_MAX_THREADS || o->flags || o->reserved32)
		return 0;
	for (i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
		if (o->reserved[i])
			return 0;
	return 1;
}

static uint32_t default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > (long)POOL_MAX_THREADS ? POOL_MAX_THREADS : (uint32_t)n;
}

static void stop_and_join(struct tide_pool *p, uint32_t n)
{
	uint32_t i;

	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
	p->joined = 1;
}

/* Workers block every signal: signals belong to the application's threads. */
static int start_workers(struct tide_pool *p)
{
	sigset_t all, old;
	uint32_t i;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < p->nthreads; i++) {
		err = pthread_create(&p->threads[i], NULL, worker, p);
		if (err)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		stop_and_join(p, i);
		return -err;
	}
	return 0;
}

TIDE_API int tide_pool_new(struct tide_pool **out,
			   const struct tide_pool_options *opts)
{
	struct tide_pool_options o = { 0 };
	struct tide_pool *p;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts)
		o = *opts;
	if (!valid_options(&o))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->nthreads = o.threads ? o.threads : default_threads();
	p->cap = o.queue_capacity ? o.queue_capacity : POOL_DEFAULT_QUEUE;
	p->st.threads = p->nthreads;
	p->st.queue_capacity = p->cap;
	p->threads = calloc(p->nthreads, sizeof(*p->threads));
	if (!p->threads) {
		err = -ENOMEM;
		goto err_free;
	}
	err = -pthread_mutex_init(&p->mu, NULL);
	if (err)
		goto err_threads;
	err = -pthread_cond_init(&p->work, NULL);
	if (err)
		goto err_mu;
	err = start_workers(p);
	if (err)
		goto err_cond;
	*out = p;
	return 0;

err_cond:
	pthread_cond_destroy(&p->work);
err_mu:
	pthread_mutex_destroy(&p->mu);
err_threads:
	free(p->threads);
err_free:
	free(p);
	return err;
}

/* Queue j; 0, -EAGAIN (full) or -ESHUTDOWN. */
static int enqueue(struct tide_pool *p, struct pool_job *j)
{
	int err = 0;

	pthread_mutex_lock(&p->mu);
	if (p->stopping)
		err = -ESHUTDOWN;
	else if (p->st.queued >= p->cap)
		err = -EAGAIN;
	if (err) {
		p->st.rejected++;
	} else {
		j->t_submit = now_ns();
		atomic_store(&j->state, JOB_QUEUED);
		q_push(p, j);
		p->st.submitted++;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->mu);
	return err;
}

/* loop: whose memory (tide__calloc()), NULL for tide_pool_post(), which
 * has no loop (and so no fault injection) */
static struct pool_job *job_new(struct tide_pool *p, struct tide_loop *loop,
				tide_pool_fn *fn, void *arg)
{
	struct pool_job *j = loop ? tide__calloc(loop, 1, sizeof(*j)) :
				    calloc(1, sizeof(*j));

	if (j) {
		j->pool = p;
		j->fn = fn;
		j->arg = arg;
	}
	return j;
}

TIDE_API struct tide_future *tide_pool_submit(struct tide_pool *pool,
					      struct tide_loop *loop,
					      tide_pool_fn *fn, void *arg)
{
	struct tide_future *f;
	struct pool_job *j;
	int err;

	if (!loop)
		return NULL;
	if (!pool || !fn)
		return tide_future_fail(loop, -EINVAL);
	j = job_new(pool, loop, fn, arg);
	if (!j)
		return NULL;
	f = tide_promise_new(loop);
	if (!f) {
		free(j);
		return NULL;
	}
	j->loop = loop;
	j->loop_id = tide__loop_id(loop);
	j->promise = f;
	/* Nothing can resolve f before we return: delivery runs on this
	 * thread.  So the hook may be set first and the job queued after.
	 * Without the hook (no memory for it) a cancel would resolve f at
	 * once and the job's delivery a second time: no job then. */
	if (tide_promise_on_cancel(f, on_cancel, j)) {
		tide_promise_resolve(f, -ENOMEM, NULL); /* else it holds */
		tide_future_release(f);
		free(j);
		return NULL;
	}
	err = enqueue(pool, j);
	if (err) {
		tide_promise_resolve(f, err, arg);
		free(j);
	}
	return f;
}

TIDE_API int tide_pool_post(struct tide_pool *pool, tide_pool_fn *fn, void *arg)
{
	struct pool_job *j;
	int err;

	if (!pool || !fn)
		return -EINVAL;
	j = job_new(pool, NULL, fn, arg);
	if (!j)
		return -ENOMEM;
	err = enqueue(pool, j);
	if (err)
		free(j);
	return err;
}

TIDE_API int tide_pool_shutdown(struct tide_pool *pool, int mode)
{
	struct pool_job *list = NULL, *j, *next;

	if (!pool || (mode != TIDE_POOL_DRAIN && mode != TIDE_POOL_ABORT))
		return -EINVAL;
	if (tls_pool == pool)
		return -EDEADLK;
	pthread_mutex_lock(&pool->mu);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->mu);
		return -EALREADY;
	}
	pool->stopping = 1;
	if (mode == TIDE_POOL_ABORT) {
		list = pool->head;
		for (j = list; j; j = j->next) {
			atomic_store(&j->state, JOB_DONE);
			pool->st.cancelled++;
		}
		pool->head = pool->tail = NULL;
		pool->st.queued = 0;
	}
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->mu);

	for (j = list; j; j = next) {
		next = j->next;
		finish(j, -ECANCELED);
	}
	stop_and_join(pool, pool->nthreads);
	return 0;
}

TIDE_API void tide_pool_free(struct tide_pool *pool)
{
	if (!pool || tls_pool == pool)
		return;
	if (!pool->joined)
		tide_pool_shutdown(pool, TIDE_POOL_DRAIN);
	pthread_cond_destroy(&pool->work);
	pthread_mutex_destroy(&pool->mu);
	free(pool->threads);
	free(pool);
}

TIDE_API void tide_pool_stats(struct tide_pool *pool,
			      struct tide_pool_stats *st)
{
	if (!pool || !st)
		return;
	pthread_mutex_lock(&pool->mu);
	*st = pool->st;
	pthread_mutex_unlock(&pool->mu);
}
