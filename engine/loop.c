// SPDX-License-Identifier: MIT
/*
 * loop.c - loop creation (ring setup with fallbacks), the run loop, the
 * task queue, cross-thread posts and the loop's counters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define KNOWN_FLAGS                                                      \
	(TIDE_LOOP_SQPOLL | TIDE_LOOP_NO_FAST_FLAGS |                    \
	 TIDE_LOOP_NO_DEFER_TASKRUN | TIDE_LOOP_DEBUG)

uint64_t tide_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tide__warn(struct tide_loop *loop, const char *fmt, ...)
{
	va_list ap;

	if (!loop->debug)
		return;
	fputs("tide: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- task queue ---- */

int tide__taskq_push(struct tide__taskq *q, tide_post_fn *fn, void *arg)
{
	if (q->tail - q->head == (q->v ? q->mask + 1 : 0)) {
		uint32_t cap = q->v ? (q->mask + 1) * 2 : 256;
		struct tide__task *n = malloc((size_t)cap * sizeof(*n));
		uint32_t len = q->tail - q->head;

		if (!n)
			return -ENOMEM;
		for (uint32_t i = 0; i < len; i++)
			n[i] = q->v[(q->head + i) & q->mask];
		free(q->v);
		q->v = n;
		q->head = 0;
		q->tail = len;
		q->mask = cap - 1;
	}
	q->v[q->tail++ & q->mask] = (struct tide__task){ fn, arg };
	return 0;
}

int tide__defer(struct tide_loop *loop, tide_post_fn *fn, void *arg)
{
	return tide__taskq_push(&loop->ready, fn, arg);
}

/* Run the tasks queued before this call; later ones wait a turn so IO is
 * not starved by a continuation that keeps re-queueing itself. */
static uint32_t run_ready(struct tide_loop *loop)
{
	struct tide__taskq *q = &loop->ready;
	uint32_t n = tide__taskq_len(q);

	for (uint32_t i = 0; i < n && !loop->stop; i++) {
		struct tide__task t = q->v[q->head++ & q->mask];

		/* tasks are user code (call_soon); the dispatcher's own
		 * continuation task lowers defer again for its duration */
		loop->in_user++;
		t.fn(t.arg);
		loop->in_user--;
	}
	return n;
}

/* ---- cross-thread posts ---- */

static int arm_wake(struct tide_loop *loop)
{
	struct io_uring_sqe *sqe = tide__sqe(loop);

	if (!sqe)
		return -ENOMEM;
	io_uring_prep_read(sqe, loop->wake_fd, &loop->wake_buf,
			   sizeof(loop->wake_buf), 0);
	tide__sqe_bind(loop, sqe, &loop->wake_op);
	loop->wake_armed = true;
	return 0;
}

static uint32_t drain_posts(struct tide_loop *loop)
{
	struct tide__task *v;
	uint32_t n;

	/* unlocked peek: a post racing with it wrote the eventfd, so the
	 * wake-up read completes and a later iteration picks it up */
	if (!__atomic_load_n(&loop->posts_n, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&loop->post_lock);
	v = loop->posts;
	n = loop->posts_n;
	/* swap in the spare vector so posters never wait on us running */
	loop->posts = loop->posts_spare;
	loop->posts_spare = v;
	uint32_t cap = loop->posts_cap;
	loop->posts_cap = loop->spare_cap;
	loop->spare_cap = cap;
	__atomic_store_n(&loop->posts_n, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&loop->post_lock);

	loop->in_user++;
	for (uint32_t i = 0; i < n; i++)
		v[i].fn(v[i].arg);
	loop->in_user--;
	loop->stats.posts += n;
	return n;
}

static void wake_done(struct tide_loop *loop, struct tide__op *op,
		      int32_t res, uint32_t cflags)
{
	(void)op;
	(void)res;
	(void)cflags;
	loop->wake_armed = false;
	if (!loop->closing && arm_wake(loop))
		tide__warn(loop, "cannot re-arm the wake-up read");
}

int tide_loop_post(struct tide_loop *loop, tide_post_fn *fn, void *arg)
{
	bool was_empty;

	if (!loop || !fn)
		return -EINVAL;
	pthread_mutex_lock(&loop->post_lock);
	if (loop->posts_n == loop->posts_cap) {
		uint32_t cap = loop->posts_cap ? loop->posts_cap * 2 : 64;
		struct tide__task *n = realloc(loop->posts, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&loop->post_lock);
			return -ENOMEM;
		}
		loop->posts = n;
		loop->posts_cap = cap;
	}
	was_empty = loop->posts_n == 0;
	loop->posts[loop->posts_n] = (struct tide__task){ fn, arg };
	__atomic_store_n(&loop->posts_n, loop->posts_n + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&loop->post_lock);
	/* one wake-up per batch: later posters find the queue non-empty */
	if (was_empty) {
		uint64_t one = 1;
		ssize_t w;

		do
			w = write(loop->wake_fd, &one, sizeof(one));
		while (w < 0 && errno == EINTR);
	}
	return 0;
}

/* ---- creation ---- */

static int check_opts(const struct tide_loop_options *o)
{
	if (o->flags & ~(uint32_t)KNOWN_FLAGS)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
		if (o->reserved[i])
			return -EINVAL;
	if (o->entries > 32768 || (o->cq_entries && o->cq_entries < o->entries))
		return -EINVAL;
	if (o->cq_entries > 65536)
		return -EINVAL;
	return 0;
}

/* Try the fast setups first, keep the first the kernel accepts. */
static int setup_ring(struct tide_loop *loop, const struct tide_loop_options *o)
{
	static const struct {
		unsigned flags;
		uint32_t tide;
	} tries[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			  IORING_SETUP_TASKRUN_FLAG,
		  TIDE_SETUP_DEFER_TASKRUN },
		{ IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		  TIDE_SETUP_COOP_TASKRUN },
		{ 0, 0 },
	};
	unsigned entries = o->entries ? o->entries : 256;
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;

		if (tries[i].flags && (o->flags & TIDE_LOOP_NO_FAST_FLAGS))
			continue;
		if ((tries[i].flags & IORING_SETUP_DEFER_TASKRUN) &&
		    (o->flags & (TIDE_LOOP_NO_DEFER_TASKRUN | TIDE_LOOP_SQPOLL)))
			continue;
		for (int submit_all = 1; submit_all >= 0; submit_all--) {
			memset(&p, 0, sizeof(p));
			p.flags = tries[i].flags;
			if (submit_all)
				p.flags |= IORING_SETUP_SUBMIT_ALL;
			if (o->cq_entries) {
				p.flags |= IORING_SETUP_CQSIZE;
				p.cq_entries = o->cq_entries;
			}
			if (o->flags & TIDE_LOOP_SQPOLL) {
				p.flags |= IORING_SETUP_SQPOLL;
				p.sq_thread_idle = o->sqpoll_idle_ms ?
					o->sqpoll_idle_ms : 1000;
			}
			ret = tide__sys_setup(entries, &loop->ring, &p);
			if (ret == 0) {
				loop->setup_flags = p.flags;
				loop->tide_setup = tries[i].tide;
				if (submit_all)
					loop->tide_setup |= TIDE_SETUP_SUBMIT_ALL;
				if (p.flags & IORING_SETUP_SQPOLL)
					loop->tide_setup |= TIDE_SETUP_SQPOLL;
				return 0;
			}
			/* only "this combination is unsupported" falls back */
			if (ret != -EINVAL)
				return ret;
		}
	}
	return ret;
}

/*
 * valgrind 3.19 does not treat io_uring_enter(2) as a blocking system call,
 * so a thread waiting in it keeps valgrind's global lock and other threads
 * (posters, pool workers) never run: under valgrind, waits are capped.
 */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return (p && strstr(p, "vgpreload")) || getenv("TIDE_VALGRIND");
}

static bool env_debug(void)
{
	const char *e = getenv("TIDE_DEBUG");

	return e && *e && strcmp(e, "0") != 0;
}

int tide_loop_new(struct tide_loop **out, const struct tide_loop_options *opts)
{
	static const struct tide_loop_options defaults;
	struct tide_loop *loop;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!opts)
		opts = &defaults;
	ret = check_opts(opts);
	if (ret)
		return ret;
	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->opts_flags = opts->flags;
	loop->debug = (opts->flags & TIDE_LOOP_DEBUG) || env_debug();
	/* outside dispatch; debug mode always queues, so it can time them */
	loop->in_user = 1 + loop->debug;
	loop->slow_ns = opts->slow_callback_ns ? opts->slow_callback_ns :
						 100000000u;
	if (under_valgrind())
		loop->wait_cap_ns = 10000000u;
	ret = setup_ring(loop, opts);
	if (ret)
		goto err_free;
	loop->probe = io_uring_get_probe_ring(&loop->ring);
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		ret = -errno;
		goto err_ring;
	}
	ret = pthread_mutex_init(&loop->post_lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_fd;
	}
	loop->wake_op.done = wake_done;
	loop->wake_op.eflags = TIDE__OP_INTERNAL;
	ret = arm_wake(loop);
	if (ret)
		goto err_mutex;
	*out = loop;
	return 0;

err_mutex:
	pthread_mutex_destroy(&loop->post_lock);
err_fd:
	close(loop->wake_fd);
err_ring:
	if (loop->probe)
		io_uring_free_probe(loop->probe);
	io_uring_queue_exit(&loop->ring);
err_free:
	free(loop);
	return ret;
}

static bool has_work(struct tide_loop *loop)
{
	return loop->ops_pending || loop->wake_armed ||
	       tide__taskq_len(&loop->ready) ||
	       __atomic_load_n(&loop->posts_n, __ATOMIC_RELAXED);
}

/* Cancel everything in flight and reap until the kernel has let go of
 * every buffer, so freeing the loop never leaves the kernel writing into
 * freed memory.  Queued tasks and posts still run (they may own memory);
 * operations they start are refused with -ECANCELED (see tide__sqe_bind). */
static void quiesce(struct tide_loop *loop)
{
	uint64_t deadline = tide_now_ns() + 5000000000ull;

	loop->closing = true;
	loop->stop = false;
	loop->running = true; /* continuations may run inline */
	loop->in_user--;
	while (has_work(loop)) {
		struct io_uring_sqe *sqe;

		drain_posts(loop);
		while (tide__taskq_len(&loop->ready))
			run_ready(loop);
		if (!loop->ops_pending && !loop->wake_armed)
			continue;
		if (tide_now_ns() > deadline) {
			fprintf(stderr, "tide: %llu operations did not finish "
				"while freeing the loop\n",
				(unsigned long long)loop->ops_pending);
			break;
		}
		tide__backlog_flush(loop);
		sqe = io_uring_get_sqe(&loop->ring);
		if (sqe) {
			io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			io_uring_sqe_set_data(sqe, NULL);
		}
		if (tide__submit(loop, 1) < 0)
			break;
		tide__reap(loop);
	}
	loop->running = false;
	loop->in_user++;
}

void tide_loop_free(struct tide_loop *loop)
{
	if (!loop)
		return;
	quiesce(loop);
	if (loop->tasks_free)
		loop->tasks_free(loop);
	if (loop->debug && loop->slab.live)
		tide__warn(loop, "%llu futures or their argument copies were "
			   "never released",
			   (unsigned long long)loop->slab.live);
	close(loop->wake_fd);
	if (loop->probe)
		io_uring_free_probe(loop->probe);
	io_uring_queue_exit(&loop->ring);
	tide__fixfd_free(loop);
	pthread_mutex_destroy(&loop->post_lock);
	tide__slab_destroy(loop);
	free(loop->ready.v);
	free(loop->posts);
	free(loop->posts_spare);
	free(loop->bl);
	free(loop);
}

/* ---- running ---- */

uint64_t tide_loop_pending(const struct tide_loop *loop)
{
	return loop->ops_pending + loop->holds + tide__taskq_len(&loop->ready);
}

int tide__iterate(struct tide_loop *loop, int wait)
{
	int ret, n;

	if (loop->running)
		return -EBUSY; /* called from inside a continuation */
	loop->running = true;
	loop->in_user--;
	loop->stats.iterations++;
	n = (int)drain_posts(loop);
	n += (int)run_ready(loop);
	tide__backlog_flush(loop);
	wait = wait && !loop->stop && !tide__taskq_len(&loop->ready) &&
	       n == 0 && tide_loop_pending(loop) > 0 &&
	       loop->bl_head == loop->bl_count;
	ret = tide__submit(loop, wait);
	if (ret == 0)
		n += tide__reap(loop);
	loop->running = false;
	loop->in_user++;
	return ret < 0 ? ret : n;
}

int tide_loop_run_once(struct tide_loop *loop, int wait)
{
	if (!loop)
		return -EINVAL;
	if (!loop->running)
		loop->stop = false; /* a stop ends a run, not the next call */
	return tide__iterate(loop, wait);
}

int tide_loop_run(struct tide_loop *loop)
{
	if (!loop)
		return -EINVAL;
	if (loop->running)
		return -EBUSY;
	loop->stop = false;
	while (!loop->stop && tide_loop_pending(loop) > 0) {
		int ret = tide__iterate(loop, 1);

		if (ret < 0)
			return ret;
	}
	/* posts that arrived while idle still run before we return */
	if (!loop->stop)
		drain_posts(loop);
	return 0;
}

void tide_loop_stop(struct tide_loop *loop)
{
	if (loop)
		loop->stop = true;
}

void tide_loop_config(const struct tide_loop *loop, struct tide_loop_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->setup = loop->tide_setup;
	cfg->sq_entries = loop->ring.sq.ring_entries;
	cfg->cq_entries = loop->ring.cq.ring_entries;
	cfg->features = loop->ring.features;
	cfg->wake = 0;
}

void tide_loop_stats(const struct tide_loop *loop, struct tide_loop_stats *st)
{
	*st = loop->stats;
}
