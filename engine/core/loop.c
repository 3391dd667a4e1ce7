// SPDX-License-Identifier: MIT
/*
 * loop.c - the backend-neutral loop core: creation (choosing the backend),
 * the run loop, the ready queue, deferred completions, cross-thread posts,
 * freeing, and the loop's counters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "loop_impl.h"

#define KNOWN_FLAGS                                                       \
	(TIDE_LOOP_SQPOLL | TIDE_LOOP_NO_FAST_FLAGS |                     \
	 TIDE_LOOP_NO_DEFER_TASKRUN | TIDE_LOOP_DEBUG | TIDE_LOOP_EPOLL | \
	 TIDE_LOOP_REQUIRE_URING)

uint64_t tide_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tide__warn(struct tide_loop *loop, const char *fmt, ...)
{
	va_list ap;

	if (!loop->core.debug)
		return;
	fputs("tide: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- task queue ---- */

/* Room for one more in q; the memory on loop's behalf when loop is given
 * (tide__defer()), else plain. */
static int taskq_room(struct tide__taskq *q, struct tide_loop *loop)
{
	uint32_t cap, len = q->tail - q->head;
	struct tide__task *n;

	if (len != (q->v ? q->mask + 1 : 0))
		return 0;
	cap = q->v ? (q->mask + 1) * 2 : 256;
	n = loop ? tide__malloc(loop, (size_t)cap * sizeof(*n)) :
		   malloc((size_t)cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (uint32_t i = 0; i < len; i++)
		n[i] = q->v[(q->head + i) & q->mask];
	free(q->v);
	q->v = n;
	q->head = 0;
	q->tail = len;
	q->mask = cap - 1;
	return 0;
}

static int taskq_push_for(struct tide__taskq *q, struct tide_loop *loop,
			  tide_post_fn *fn, void *arg)
{
	if (taskq_room(q, loop))
		return -ENOMEM;
	q->v[q->tail++ & q->mask] = (struct tide__task){ fn, arg };
	return 0;
}

int tide__taskq_push(struct tide__taskq *q, tide_post_fn *fn, void *arg)
{
	return taskq_push_for(q, NULL, fn, arg);
}

int tide__defer(struct tide_loop *loop, tide_post_fn *fn, void *arg)
{
	return taskq_push_for(&loop->core.ready, loop, fn, arg);
}

/* ---- deferred completions ---- */

/*
 * Every entry of the later queue is the completion of an operation in
 * flight (counted in ops_pending), queued at most once while in flight, or
 * of the one being started.  So with room for later_n + ops_pending + 1
 * entries, made before an operation starts (when its caller can still be
 * told -ENOMEM), no push until the next start can find the queue full: a
 * result got by a system call already made (a receive done inline, a
 * socket created) is never dropped for want of memory, nor is a cancel.
 */
int tide__later_reserve(struct tide_loop *loop)
{
	uint64_t need = (uint64_t)loop->later_n + loop->core.ops_pending + 1;
	struct tide__later *n;
	uint64_t cap;

	if (__builtin_expect(need <= loop->later_cap, 1))
		return 0;
	cap = loop->later_cap ? loop->later_cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > UINT32_MAX)
		return -ENOMEM;
	n = tide__realloc(loop, loop->later, (size_t)cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	loop->later = n;
	loop->later_cap = (uint32_t)cap;
	return 0;
}

int tide__complete_later(struct tide_loop *loop, struct tide__op *op,
			 int32_t res, uint32_t cflags)
{
	return tide__later_push(loop, op, res, cflags, 0);
}

/* Deliver the completions queued so far whose turn has come; ones queued
 * meanwhile (and ones still waiting their turns) stay, in order. */
static uint32_t run_later(struct tide_loop *loop)
{
	uint32_t n = loop->later_n, kept = 0, ran = 0;

	if (!n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		struct tide__later l = loop->later[i];

		if (l.turns) {
			l.turns--;
			loop->later[kept++] = l; /* kept <= i: nothing lost */
			continue;
		}
		tide__complete(loop, l.op, l.res, l.cflags);
		ran++;
	}
	/* callbacks may have queued more behind n: slide them down */
	if (loop->later_n > n)
		memmove(loop->later + kept, loop->later + n,
			(loop->later_n - n) * sizeof(*loop->later));
	loop->later_n = kept + (loop->later_n - n);
	return ran;
}

/* Run the tasks queued before this call; later ones wait a turn so IO is
 * not starved by a continuation that keeps re-queueing itself. */
static uint32_t run_ready(struct tide_loop *loop)
{
	struct tide__taskq *q = &loop->core.ready;
	uint32_t n = tide__taskq_len(q);

	for (uint32_t i = 0; i < n && !loop->core.stop; i++) {
		struct tide__task t = q->v[q->head++ & q->mask];

		/* tasks are user code (call_soon); the dispatcher's own
		 * continuation task lowers defer again for its duration */
		loop->core.in_user++;
		t.fn(t.arg);
		loop->core.in_user--;
	}
	return n;
}

/* ---- cross-thread posts ---- */

/* The allocation-free posts, oldest first. */
static uint32_t drain_nodes(struct tide_loop *loop)
{
	struct tide__post *n, *fifo = NULL;
	uint32_t count = 0;

	n = __atomic_exchange_n(&loop->nodes, NULL, __ATOMIC_ACQUIRE);
	while (n) {
		struct tide__post *next = n->next;

		n->next = fifo;
		fifo = n;
		n = next;
	}
	while (fifo) {
		n = fifo;
		fifo = n->next; /* n may be freed by its fn */
		n->fn(n->arg);
		count++;
	}
	return count;
}

static __attribute__((noinline)) uint32_t
drain_posts_some(struct tide_loop *loop)
{
	struct tide__task *v;
	uint32_t n = 0;

	loop->core.in_user++;
	if (__atomic_load_n(&loop->nodes, __ATOMIC_RELAXED))
		n = drain_nodes(loop);
	loop->core.in_user--;
	/* unlocked peek: a post racing with it wrote the eventfd, so the
	 * wake-up read completes and a later iteration picks it up */
	if (!__atomic_load_n(&loop->posts_n, __ATOMIC_RELAXED)) {
		loop->stats.posts += n;
		return n;
	}
	pthread_mutex_lock(&loop->post_lock);
	v = loop->posts;
	uint32_t nv = loop->posts_n;
	/* swap in the spare vector so posters never wait on us running */
	loop->posts = loop->posts_spare;
	loop->posts_spare = v;
	uint32_t cap = loop->posts_cap;
	loop->posts_cap = loop->spare_cap;
	loop->spare_cap = cap;
	__atomic_store_n(&loop->posts_n, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&loop->post_lock);

	loop->core.in_user++;
	for (uint32_t i = 0; i < nv; i++)
		v[i].fn(v[i].arg);
	loop->core.in_user--;
	n += nv;
	loop->stats.posts += n;
	return n;
}

/* Once per loop turn: nothing posted costs one test of each queue. */
static inline uint32_t drain_posts(struct tide_loop *loop)
{
	if (__builtin_expect(!__atomic_load_n(&loop->nodes, __ATOMIC_RELAXED) &&
				     !__atomic_load_n(&loop->posts_n,
						      __ATOMIC_RELAXED),
			     1))
		return 0;
	return drain_posts_some(loop);
}

static void wake(struct tide_loop *loop)
{
	uint64_t one = 1;
	ssize_t w;

	do
		w = write(loop->wake_fd, &one, sizeof(one));
	while (w < 0 && errno == EINTR);
}

/* The registry of live loops (live.c) keeps the loop alive for the whole post: a
 * post racing tide_loop_free() runs or fails, never touches freed memory. */
int tide_loop_post(struct tide_loop *loop, tide_post_fn *fn, void *arg)
{
	bool was_empty;
	int ret = 0;

	if (!loop || !fn)
		return -EINVAL;
	if (!tide__live_enter(loop, 0))
		return -ESHUTDOWN;
	pthread_mutex_lock(&loop->post_lock);
	if (loop->posts_n == loop->posts_cap) {
		uint32_t cap = loop->posts_cap ? loop->posts_cap * 2 : 64;
		struct tide__task *n =
			tide__fault_nomem_post(loop) ?
				NULL :
				realloc(loop->posts, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&loop->post_lock);
			ret = -ENOMEM;
			goto out;
		}
		loop->posts = n;
		loop->posts_cap = cap;
	}
	was_empty = loop->posts_n == 0;
	loop->posts[loop->posts_n] = (struct tide__task){ fn, arg };
	__atomic_store_n(&loop->posts_n, loop->posts_n + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&loop->post_lock);
	/* one wake-up per batch: later posters find the queue non-empty */
	if (was_empty)
		wake(loop);
out:
	tide__live_leave(loop);
	return ret;
}

int tide__loop_post_node(struct tide_loop *loop, uint64_t id,
			 struct tide__post *node)
{
	struct tide__post *head;

	if (!tide__live_enter(loop, id))
		return -ESHUTDOWN;
	head = __atomic_load_n(&loop->nodes, __ATOMIC_RELAXED);
	do
		node->next = head;
	while (!__atomic_compare_exchange_n(&loop->nodes, &head, node, true,
					    __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
	if (!head)
		wake(loop);
	tide__live_leave(loop);
	return 0;
}

uint64_t tide__loop_id(const struct tide_loop *loop)
{
	return loop->live_id;
}

/* ---- creation ---- */

static int check_opts(const struct tide_loop_options *o)
{
	if (o->flags & ~(uint32_t)KNOWN_FLAGS)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]);
	     i++)
		if (o->reserved[i])
			return -EINVAL;
	if (o->entries > 32768 || (o->cq_entries && o->cq_entries < o->entries))
		return -EINVAL;
	if (o->cq_entries > 65536)
		return -EINVAL;
	return 0;
}

static bool env_debug(void)
{
	const char *e = getenv("TIDE_DEBUG");

	return TIDE_DEBUG || (e && *e && strcmp(e, "0") != 0);
}

/* Should io_uring's failure send the loop to epoll?  The reasons a
 * container, a sysctl or an old kernel give; anything else is an error. */
static bool falls_back(int err)
{
	return err == -ENOSYS || err == -EPERM || err == -ENOMEM ||
	       err == -EOPNOTSUPP || err == -EACCES;
}

/* Which backends to try, from the options and TIDE_BACKEND. */
static int choose(struct tide_loop *loop, const struct tide_loop_options *o,
		  bool *try_uring, bool *may_fall)
{
	const char *e = getenv("TIDE_BACKEND");

	*try_uring = true;
	*may_fall = !(o->flags & TIDE_LOOP_REQUIRE_URING);
	if (o->flags & TIDE_LOOP_EPOLL) {
		if (o->flags & TIDE_LOOP_REQUIRE_URING)
			return -EINVAL;
		*try_uring = false;
		loop->backend_why = TIDE_BACKEND_WHY_OPTION;
	} else if (e && *e && !(o->flags & TIDE_LOOP_REQUIRE_URING)) {
		if (strcmp(e, "epoll") == 0)
			*try_uring = false;
		else if (strcmp(e, "uring") == 0 || strcmp(e, "io_uring") == 0)
			*may_fall = false;
		else
			return -EINVAL;
		loop->backend_why = TIDE_BACKEND_WHY_ENV;
	}
	return 0;
}

static int setup_backend(struct tide_loop *loop,
			 const struct tide_loop_options *o)
{
	bool try_uring, may_fall;
	int ret = choose(loop, o, &try_uring, &may_fall);

	if (ret)
		return ret;
	if (try_uring) {
		loop->be = &tide__uring_backend;
		loop->uring = true;
		ret = loop->be->init(loop, o);
		if (ret == 0 || !may_fall || !falls_back(ret))
			return ret;
		loop->uring_err = ret;
		loop->backend_why = ret == -EOPNOTSUPP ?
					    TIDE_BACKEND_WHY_OLD_KERNEL :
					    TIDE_BACKEND_WHY_NO_URING;
	}
	loop->be = &tide__epoll_backend;
	loop->uring = false;
	tide__slow_set(loop, TIDE__SLOW_EPOLL);
	return loop->be->init(loop, o);
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
	loop->core.debug = (opts->flags & TIDE_LOOP_DEBUG) || env_debug();
	/* outside dispatch; debug mode always queues, so it can time them */
	loop->core.in_user = 1 + loop->core.debug;
	loop->core.slow_ns = opts->slow_callback_ns ? opts->slow_callback_ns :
						      100000000u;
	/* valgrind 3.19 does not treat io_uring_enter(2) as a blocking system
	 * call, so a thread waiting in it keeps valgrind's global lock and
	 * other threads (posters, pool workers) never run: under valgrind
	 * (asked once, here), waits are capped. */
	if (TIDE__UNDER_MEMCHECK())
		loop->wait_cap_ns = 10000000u;
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = pthread_mutex_init(&loop->post_lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_fd;
	}
	ret = tide__fault_init(loop);
	if (ret)
		goto err_mutex;
	ret = setup_backend(loop, opts);
	if (ret)
		goto err_mutex;
	tide__live_add(loop);
	*out = loop;
	return 0;

err_mutex:
	pthread_mutex_destroy(&loop->post_lock);
err_fd:
	close(loop->wake_fd);
err_free:
	free(loop);
	return ret;
}

static bool has_work(struct tide_loop *loop)
{
	return loop->core.ops_pending || loop->later_n ||
	       tide__taskq_len(&loop->core.ready) ||
	       __atomic_load_n(&loop->posts_n, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&loop->nodes, __ATOMIC_RELAXED);
}

/*
 * Cancel everything in flight and wait until no thread and no kernel object
 * can touch a buffer, so freeing the loop never leaves anyone writing into
 * freed memory.  Queued tasks and posts still run (they may own memory);
 * operations they start are refused with -ECANCELED.  Finishes by
 * construction: every operation ends once cancelled, so there is no
 * deadline and no giving up.
 */
static void quiesce(struct tide_loop *loop)
{
	loop->core.closing = true;
	tide__slow_set(loop, TIDE__SLOW_CHECK);
	loop->core.stop = false;
	loop->core.running = true; /* continuations may run inline */
	loop->core.in_user--;
	while (has_work(loop)) {
		drain_posts(loop);
		while (tide__taskq_len(&loop->core.ready))
			run_ready(loop);
		run_later(loop);
		if (!loop->core.ops_pending)
			continue;
		loop->be->cancel_all(loop);
		if (loop->be->poll(loop, 1) < 0)
			loop->be->poll(loop, 0); /* a signal: go round again */
	}
	loop->core.running = false;
	loop->core.in_user++;
}

void tide_loop_free(struct tide_loop *loop)
{
	uint64_t live;

	if (!loop)
		return;
	/* posts from now on fail with -ESHUTDOWN (the poster keeps what it
	 * posted); those that got in run below.  First, so that posters
	 * cannot keep quiesce() busy for ever. */
	tide__live_del(loop);
	quiesce(loop);
	if (loop->core.tasks_free)
		loop->core.tasks_free(loop);
	if (loop->core.debug && (live = tide__slab_live(loop)))
		tide__warn(loop,
			   "%llu futures or their argument copies were "
			   "never released",
			   (unsigned long long)live);
	loop->be->fini(loop);
	tide__fault_report(loop);
	close(loop->wake_fd);
	pthread_mutex_destroy(&loop->post_lock);
	tide__slab_destroy(loop);
	free(loop->core.ready.v);
	free(loop->later);
	free(loop->posts);
	free(loop->posts_spare);
	free(loop);
}

/* ---- running ---- */

uint64_t tide_loop_pending(const struct tide_loop *loop)
{
	return loop->core.ops_pending + loop->core.holds +
	       tide__taskq_len(&loop->core.ready);
}

int tide__iterate(struct tide_loop *loop, int wait)
{
	int ret, n;

	if (loop->core.running)
		return -EBUSY; /* called from inside a continuation */
	loop->core.running = true;
	loop->core.in_user--;
	loop->stats.iterations++;
	if (__builtin_expect(loop->fault.alloc_pct != 0, 0))
		tide__fault_turn(loop);
	n = (int)drain_posts(loop);
	if (tide__taskq_len(&loop->core.ready))
		n += (int)run_ready(loop);
	if (loop->later_n)
		n += (int)run_later(loop);
	wait = wait && !loop->core.stop &&
	       !tide__taskq_len(&loop->core.ready) && !loop->later_n &&
	       n == 0 && tide_loop_pending(loop) > 0;
	ret = loop->be->poll(loop, wait);
	if (ret > 0)
		n += ret;
	loop->core.running = false;
	loop->core.in_user++;
	return ret < 0 ? ret : n;
}

int tide_loop_run_once(struct tide_loop *loop, int wait)
{
	if (!loop)
		return -EINVAL;
	if (!loop->core.running)
		loop->core.stop =
			false; /* a stop ends a run, not the next call */
	return tide__iterate(loop, wait);
}

int tide_loop_run(struct tide_loop *loop)
{
	if (!loop)
		return -EINVAL;
	if (loop->core.running)
		return -EBUSY;
	loop->core.stop = false;
	while (!loop->core.stop && tide_loop_pending(loop) > 0) {
		int ret = tide__iterate(loop, 1);

		if (ret < 0)
			return ret;
	}
	/* posts that arrived while idle still run before we return */
	if (!loop->core.stop)
		drain_posts(loop);
	return 0;
}

void tide_loop_stop(struct tide_loop *loop)
{
	if (loop)
		loop->core.stop = true;
}

void tide_loop_config(const struct tide_loop *loop,
		      struct tide_loop_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->backend = loop->uring ? TIDE_BACKEND_URING : TIDE_BACKEND_EPOLL;
	cfg->backend_why = loop->backend_why;
	cfg->uring_error = loop->uring_err;
	loop->be->config(loop, cfg);
}

void tide_loop_stats(const struct tide_loop *loop, struct tide_loop_stats *st)
{
	*st = loop->stats;
}

void tide__count_timer(struct tide_loop *loop)
{
	loop->stats.timers++;
}
